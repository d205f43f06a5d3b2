"""Settings: defaults in code, then an optional TOML file, then ``HERITAGE_*`` environment variables."""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from config.errors import ConfigError

SEARCH_BACKENDS = ("whoosh", "elasticsearch")
#: Tesseract models the product knows how to use; "auto" picks per page (see ingest.ocr).
OCR_LANGUAGE_CHOICES = ("auto", "chi_tra", "chi_sim", "chi_tra_vert", "chi_sim_vert", "eng")
EMAIL_RE = re.compile(r"\S+@(\S+\.)+\S+")  # the pattern OAI-PMH.xsd gives adminEmail
LOCALES = ("zh_Hant", "zh_Hans", "en")


@dataclass(frozen=True)
class Settings:
    """Every setting of the product. Environment name: ``HERITAGE_`` + the upper-cased field name."""

    data_dir: Path = Path("heritage-data")
    database_url: str = ""  # default: sqlite:///<data_dir>/heritage.db
    search: str = "whoosh"
    elasticsearch_url: str = "http://127.0.0.1:9200"
    elasticsearch_index: str = "heritage"
    ocr_languages: str = "auto"  # "auto" or a "+"-joined list of OCR_LANGUAGE_CHOICES
    max_upload_bytes: int = 4 * 1024**3
    max_image_pixels: int = 500_000_000  # a 20 000 x 20 000 newspaper scan is 4e8
    secret_key: str = ""  # default: generated once and kept in <data_dir>/secret_key
    base_url: str = ""  # public URL prefix for IIIF ids; default: taken from each request
    worker_processes: int = 0  # parallel pages per job; 0 = number of cores
    job_stale_seconds: int = 120  # a running job without heartbeat this long is taken over
    secure_cookies: bool = False  # set true behind HTTPS
    default_locale: str = "zh_Hant"
    tile_cache_bytes: int = 512 * 1024**2
    institution_name: str = "嶺南文獻庫"
    admin_email: str = "heritage-admin@example.invalid"  # shown to harvesters (OAI-PMH Identify); set it
    config_file: Path | None = field(default=None, compare=False)

    # ---- derived values -------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'heritage.db').resolve()}"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def whoosh_dir(self) -> Path:
        return self.data_dir / "whoosh"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def workers(self) -> int:
        return self.worker_processes or (os.cpu_count() or 1)

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some settings changed (validated again)."""
        return _validate(dataclasses.replace(self, **changes))


def _coerce(name: str, raw: Any, typ: Any) -> Any:
    """Turn a TOML or environment value into the field's type, or say which setting is wrong."""
    env = f"HERITAGE_{name.upper()}"
    try:
        if typ in (Path, "Path", "Path | None"):
            return None if raw in (None, "") and typ != Path else Path(str(raw)).expanduser()
        if typ in (bool, "bool"):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"expected true or false, got {raw!r}")
        if typ in (int, "int"):
            if isinstance(raw, bool):
                raise ValueError(f"expected a whole number, got {raw!r}")
            try:
                value = int(str(raw).replace("_", ""))
            except ValueError:
                raise ValueError(f"expected a whole number, got {raw!r}") from None
            if value < 0:
                raise ValueError(f"must not be negative, got {value}")
            return value
        return str(raw)
    except ValueError as exc:
        raise ConfigError(f"{env}: {exc}") from None


def _validate(s: Settings) -> Settings:
    if s.search not in SEARCH_BACKENDS:
        raise ConfigError(
            f"HERITAGE_SEARCH: must be one of {', '.join(SEARCH_BACKENDS)}, got {s.search!r}"
        )
    langs = s.ocr_languages.split("+")
    bad = [lang for lang in langs if lang not in OCR_LANGUAGE_CHOICES]
    if bad or ("auto" in langs and len(langs) > 1):
        raise ConfigError(
            f"HERITAGE_OCR_LANGUAGES: use 'auto' or a '+'-joined list of "
            f"{', '.join(OCR_LANGUAGE_CHOICES[1:])}; got {s.ocr_languages!r}"
        )
    if s.default_locale not in LOCALES:
        raise ConfigError(f"HERITAGE_DEFAULT_LOCALE: must be one of {', '.join(LOCALES)}, got {s.default_locale!r}")
    if s.max_upload_bytes < 1024:
        raise ConfigError("HERITAGE_MAX_UPLOAD_BYTES: must be at least 1024")
    if s.max_image_pixels < 1_000_000:
        raise ConfigError("HERITAGE_MAX_IMAGE_PIXELS: must be at least 1000000")
    if s.database_url:
        from sqlalchemy.engine import make_url  # local import keeps config importable alone
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(s.database_url)
        except (ArgumentError, ValueError) as exc:
            raise ConfigError(f"HERITAGE_DATABASE_URL: not a database URL ({exc})") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"HERITAGE_DATABASE_URL: only sqlite:// and postgresql:// are supported, got {url.drivername!r}"
            )
    if not EMAIL_RE.fullmatch(s.admin_email):
        # the OAI-PMH schema's own pattern for adminEmail: harvesters reject anything else
        raise ConfigError(f"HERITAGE_ADMIN_EMAIL: must be an e-mail address like name@library.org, got {s.admin_email!r}")
    for name in ("elasticsearch_url", "base_url"):
        value = getattr(s, name)
        if value and not value.startswith(("http://", "https://")):
            raise ConfigError(f"HERITAGE_{name.upper()}: must start with http:// or https://, got {value!r}")
    return s


def load_settings(env: Mapping[str, str] | None = None, config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, a TOML file and the environment.

    The TOML file is ``config_file``, else ``$HERITAGE_CONFIG``, else ``<data_dir>/heritage.toml``
    if it exists. Keys are the field names (``search = "whoosh"``). ``overrides`` win over all.
    """
    env = os.environ if env is None else env
    types = {f.name: f.type for f in fields(Settings) if f.name != "config_file"}
    values: dict[str, Any] = {}

    env_values = {
        name: env[f"HERITAGE_{name.upper()}"] for name in types if f"HERITAGE_{name.upper()}" in env
    }
    data_dir = Path(env_values.get("data_dir") or overrides.get("data_dir") or Settings.data_dir)
    path = config_file or env.get("HERITAGE_CONFIG")
    if path is None and (data_dir / "heritage.toml").is_file():
        path = data_dir / "heritage.toml"
    if path is not None:
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                file_values = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"HERITAGE_CONFIG: file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"HERITAGE_CONFIG: {path} is not valid TOML ({exc})") from None
        unknown = sorted(set(file_values) - set(types))
        if unknown:
            raise ConfigError(f"HERITAGE_CONFIG: unknown setting {unknown[0]!r} in {path}")
        values.update(file_values)
    values.update(env_values)
    values.update({k: v for k, v in overrides.items() if v is not None})
    for name in list(values):
        if name not in types:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _coerce(name, values[name], types[name])
    return _validate(Settings(config_file=Path(path) if path else None, **values))
