#!/usr/bin/env bash
# A real Elasticsearch 8.x for development and tests:  scripts/elasticsearch.sh start|stop|status|url
#
# Which distribution and why: Maven Central's org.elasticsearch.distribution.integ-test-zip
# (the newest 8.x that resolves). It is the real server with a minimal module set
# (transport-netty4, x-pack-core/-security; no analysis-common), which is why the project does its
# Chinese analysis on the Python side (search/analysis.py) and sends ready-made tokens. Only if no
# 8.x integ-test-zip resolves would org.codelibs:elasticsearch-cluster-runner:8.14.1.0 be needed;
# this script does not implement that fallback because the integ-test-zip resolves (it says so
# and fails if it cannot fetch one).
#
# It is fetched once with `mvn dependency:copy`, unpacked once into the cache dir, and run as a
# non-root user (a system user `heritage-es` is created when this runs as root) bound to
# 127.0.0.1, discovery.type=single-node, security off (loopback only), Java 17, heap 512 MB.
#
# Environment:
#   PORT               HTTP port (default 9200). Each port is its own node with its own data,
#                      so a second node (e.g. for an outage test) can run beside the first.
#   ES_VERSION         force a version (default: newest 8.x on Maven Central, else newest cached)
#   HERITAGE_ES_CACHE  cache dir (default ~/.cache/heritage/elasticsearch; /var/cache/heritage/
#                      elasticsearch when run as root, because /root is not readable by the
#                      non-root user that runs the node)
#   ES_JAVA_HOME       Java for the node (default: the machine's Java 17)
#   FORCE=1            `stop` even if other users started the same node
set -euo pipefail

PORT="${PORT:-9200}"
if [ "$(id -u)" = 0 ]; then
  CACHE="${HERITAGE_ES_CACHE:-/var/cache/heritage/elasticsearch}"
  RUN_USER="heritage-es"
else
  CACHE="${HERITAGE_ES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/heritage/elasticsearch}"
  RUN_USER="$(id -un)"
fi
NODE="$CACHE/node-$PORT"
URL="http://127.0.0.1:$PORT"
GROUP="org.elasticsearch.distribution.integ-test-zip"
METADATA="https://repo.maven.apache.org/maven2/org/elasticsearch/distribution/integ-test-zip/elasticsearch/maven-metadata.xml"

find_java17() {
  if [ -n "${ES_JAVA_HOME:-}" ]; then echo "$ES_JAVA_HOME"; return; fi
  for d in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64 /usr/lib/jvm/java-17-openjdk /usr/lib/jvm/openjdk-17; do
    if [ -x "$d/bin/java" ]; then echo "$d"; return; fi
  done
  echo "elasticsearch.sh: Java 17 not found; set ES_JAVA_HOME" >&2
  exit 1
}

healthy() { curl -fsS --max-time 3 "$URL/_cluster/health" >/dev/null 2>&1; }

candidate_versions() {
  if [ -n "${ES_VERSION:-}" ]; then echo "$ES_VERSION"; return; fi
  curl -fsS --max-time 30 "$METADATA" 2>/dev/null | grep -o '<version>8\.[0-9]*\.[0-9]*</version>' \
    | sed 's/<[^>]*>//g' | sort -rV | head -n 5 || true
}

# Fetch (once) and unpack (once); prints the ES home directory.
install_dist() {
  mkdir -p "$CACHE"
  local home
  home="$(ls -d "$CACHE"/elasticsearch-8.* 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "${ES_VERSION:-}" ]; then home="$CACHE/elasticsearch-$ES_VERSION"; [ -d "$home" ] || home=""; fi
  if [ -n "$home" ] && [ -x "$home/bin/elasticsearch" ]; then echo "$home"; return; fi
  local v zip
  for v in $(candidate_versions); do
    echo "elasticsearch.sh: fetching $GROUP:elasticsearch:$v:zip from Maven Central" >&2
    if (cd "$CACHE" && mvn -B -q dependency:copy "-Dartifact=$GROUP:elasticsearch:$v:zip" \
          "-DoutputDirectory=$CACHE/dist" >&2); then
      zip="$CACHE/dist/elasticsearch-$v.zip"
      rm -rf "$CACHE/elasticsearch-$v.tmp" && mkdir -p "$CACHE/elasticsearch-$v.tmp"
      unzip -q "$zip" -d "$CACHE/elasticsearch-$v.tmp"
      mv "$CACHE/elasticsearch-$v.tmp/elasticsearch-$v" "$CACHE/elasticsearch-$v"
      rm -rf "$CACHE/elasticsearch-$v.tmp" "$zip"
      echo "$CACHE/elasticsearch-$v"; return
    fi
    echo "elasticsearch.sh: $v did not resolve, trying an older 8.x" >&2
  done
  echo "elasticsearch.sh: no 8.x integ-test-zip could be fetched from Maven Central (offline?);" \
       "org.codelibs:elasticsearch-cluster-runner:8.14.1.0 would be the fallback" >&2
  exit 1
}

ensure_user() {
  [ "$(id -u)" = 0 ] || return 0
  id -u "$RUN_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
}

as_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$RUN_USER" -- "$@"; else "$@"; fi
}

# Several users may share one node (parallel test runs, scripts/test.sh, a developer): `start` on a
# running node counts one more user and `stop` only stops the node when the last one leaves
# (FORCE=1 stops it regardless).
refs() { cat "$NODE/refs" 2>/dev/null || echo 0; }

start() {
  mkdir -p "$NODE"
  if healthy; then
    echo $(( $(refs) + 1 )) >"$NODE/refs"
    echo "elasticsearch.sh: already running at $URL ($(refs) users)" >&2
    return 0
  fi
  local home java
  home="$(install_dist)"
  java="$(find_java17)"
  ensure_user
  # the JVM's temporary directory inside the node's folder (by default each start leaves a
  # /tmp/elasticsearch-<random> behind); emptied at every start
  rm -rf "$NODE/tmp"
  mkdir -p "$NODE/data" "$NODE/logs" "$NODE/config" "$NODE/tmp"
  cp -n "$home"/config/* "$NODE/config/" 2>/dev/null || true
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$(dirname "$CACHE")" && chmod 755 "$(dirname "$CACHE")" "$CACHE"
    chown -R "$RUN_USER" "$NODE" "$home"
  fi
  rm -f "$NODE/pid"
  as_user env ES_JAVA_HOME="$java" ES_PATH_CONF="$NODE/config" ES_TMPDIR="$NODE/tmp" ES_JAVA_OPTS="-Xms512m -Xmx512m" \
    "$home/bin/elasticsearch" -d -p "$NODE/pid" \
    -E cluster.name="heritage-$PORT" -E node.name="heritage-$PORT" \
    -E discovery.type=single-node -E network.host=127.0.0.1 \
    -E http.port="$PORT" -E transport.port="$((PORT + 100))" \
    -E path.data="$NODE/data" -E path.logs="$NODE/logs" \
    -E xpack.security.enabled=false \
    -E cluster.routing.allocation.disk.threshold_enabled=false \
    -E action.destructive_requires_name=false \
    >"$NODE/logs/stdout.log" 2>&1 9>&- || { tail -n 20 "$NODE/logs/stdout.log" >&2; exit 1; }
  for _ in $(seq 1 180); do
    if curl -fsS --max-time 5 "$URL/_cluster/health?wait_for_status=green&timeout=1s" 2>/dev/null | grep -q '"status":"green"'; then
      echo 1 >"$NODE/refs"
      echo "elasticsearch.sh: $(basename "$home") green at $URL (runs as $RUN_USER)" >&2
      return 0
    fi
    sleep 1
  done
  echo "elasticsearch.sh: node did not become green within 180 s; see $NODE/logs" >&2
  exit 1
}

stop() {
  [ -f "$NODE/pid" ] || { echo "elasticsearch.sh: not running on port $PORT" >&2; return 0; }
  if [ "$(refs)" -gt 1 ] && [ "${FORCE:-0}" != 1 ]; then
    echo $(( $(refs) - 1 )) >"$NODE/refs"
    echo "elasticsearch.sh: still used by $(refs) other user(s); left running (FORCE=1 to stop)" >&2
    return 0
  fi
  local pid; pid="$(cat "$NODE/pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$NODE/pid"; echo 0 >"$NODE/refs"; echo "elasticsearch.sh: stopped ($URL)" >&2; return 0; }
    sleep 1
  done
  echo "elasticsearch.sh: node $pid did not stop within 60 s" >&2
  exit 1
}

status() {
  if healthy; then curl -fsS "$URL/_cluster/health?pretty"; else echo "not running at $URL"; return 1; fi
}

cmd="${1:-}"
case "$cmd" in
  start|stop)
    mkdir -p "$CACHE"
    # one start/stop at a time per port (parallel test processes may both ask)
    exec 9>"$CACHE/.lock-$PORT"; flock 9
    "$cmd" ;;
  status) status ;;
  url) echo "$URL" ;;
  *) echo "usage: scripts/elasticsearch.sh start|stop|status|url   (PORT=$PORT)" >&2; exit 2 ;;
esac
