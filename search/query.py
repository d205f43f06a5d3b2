"""The search query language, parsed into a small tree both backends compile.

    廣州 香港            space = AND (Chinese users rarely type operators)
    廣州 OR 香港         OR, AND, NOT (upper case), a leading ``-`` means NOT, parentheses group
    "廣州 商會"          a phrase
    title:廣州 creator:"Lee Wai"   field prefixes: title, creator, subject, place
    1920-1949            items whose date range overlaps those years
    gwong2 zau1 / gwong zau        Latin words also match the Jyutping reading of Han text
                                   (several such words: their syllables side by side, in order)

Errors (unclosed quote or parenthesis, a dangling operator, an unknown field, a reversed year range,
nothing searchable) raise :class:`config.InvalidInput` with a message a person can act on.
Why by hand: Whoosh's and Elasticsearch's own query languages differ from each other and from
this one; the tree below is compiled to each so both give the same result sets.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

from config import InvalidInput
from search import analysis

FIELDS = ("title", "creator", "subject", "place")
MAX_QUERY_LENGTH = 500
MAX_TERMS = 40
YEAR_RANGE = re.compile(r"^(\d{3,4})\s*[-–~〜至到]\s*(\d{3,4})$")


@dataclass(frozen=True)
class Node:
    """Base of the query tree."""


@dataclass(frozen=True)
class MatchAll(Node):
    """Every document (an empty query: browse by facets)."""


@dataclass(frozen=True)
class Text(Node):
    """A word or phrase. ``alternatives``: (index field, terms) pairs, any of which may match;
    one term is a term query, several are an exact phrase (consecutive positions)."""

    raw: str
    field: str | None
    alternatives: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class YearRange(Node):
    start: int
    end: int


@dataclass(frozen=True)
class And(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    child: Node


@dataclass
class ParsedQuery:
    """The tree plus what highlighting needs (the positive words and phrases)."""

    root: Node
    text: str
    positive: list[Text] = field(default_factory=list)

    @property
    def highlight_query(self) -> str:
        """The positive words/phrases as a plain query for :func:`analysis.find_matches`."""
        return " ".join(f'"{t.raw}"' for t in self.positive)

    @cached_property
    def matcher(self) -> analysis.Matcher:
        """Finds the positive words and phrases in a text exactly as the query matches them
        (a Jyutping phrase only where its syllables stand together)."""
        parts = []
        for t in self.positive:
            phrase = t.raw if any(f != "jp" for f, _ in t.alternatives) else None
            syllables = next((terms for f, terms in t.alternatives if f == "jp"), None)
            parts.append((phrase, syllables))
        return analysis.Matcher(parts)


def text_node(raw: str, fieldname: str | None) -> Text | None:
    """Analyse one word or phrase into index-field alternatives (None when nothing is searchable)."""
    base = fieldname or "all"
    # Chinese is written without spaces: "廣州 商會" in quotes means the characters side by side
    raw = re.sub(r"(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])",
                 lambda m: "" if _han_around(raw, m) else m.group(0), raw)
    bigrams = tuple(analysis.terms(raw, "bigram"))
    if not bigrams:
        return None
    alts: list[tuple[str, tuple[str, ...]]] = []
    if len(bigrams) == 1 and len(bigrams[0]) == 1 and analysis.is_han(bigrams[0]):
        alts.append((base + "_u", bigrams))  # one Han character: the unigram field
    else:
        alts.append((base, bigrams))
    if fieldname is None and not any(analysis.is_han(c) for c in raw):
        words = [t for t in bigrams]
        syllables: list[str] = []
        for w in words:
            s = analysis.jyutping_query(w)
            if s is None:
                syllables = []
                break
            syllables.extend(s)
        if syllables:
            alts.append(("jp", tuple(syllables)))
    return Text(raw, fieldname, tuple(dict.fromkeys(alts)))


def _han_around(raw: str, m: re.Match) -> bool:
    return analysis.is_han(raw[m.start() - 1]) and analysis.is_han(raw[m.end()])


# ---- lexer ----------------------------------------------------------------------------------
_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<field>[A-Za-z]+):(?=\S)|(?P<quote>")|(?P<word>[^\s()"]+))')


def _lex(q: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(q):
        if q[i].isspace():
            i += 1
            continue
        if q[i] == '"':
            j = q.find('"', i + 1)
            if j < 0:
                raise InvalidInput('a quotation mark is not closed: add the closing " or remove it', field="q")
            out.append(("phrase", q[i + 1:j]))
            i = j + 1
            continue
        m = _TOKEN.match(q, i)
        assert m is not None
        if m.group("lp"):
            out.append(("(", "("))
        elif m.group("rp"):
            out.append((")", ")"))
        elif m.group("field"):
            name = m.group("field").lower()
            if name not in FIELDS:
                raise InvalidInput(f"unknown field {m.group('field')!r}: use title:, creator:, subject: or place:",
                                   field="q")
            out.append(("field", name))
        elif m.group("word"):
            w = m.group("word")
            if re.fullmatch(r"[A-Za-z]+:", w):
                raise InvalidInput(f"{w} needs a word or a quoted phrase right after it (no space)", field="q")
            if w in ("AND", "OR", "NOT", "&&", "||"):
                out.append(({"&&": "AND", "||": "OR"}.get(w, w), w))
            elif w.startswith("-") and len(w) > 1:
                out.append(("NOT", "-"))
                out.append(("word", w[1:]))
            else:
                out.append(("word", w))
        i = m.end()
    return out


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]):
        self.toks = toks
        self.i = 0
        self.positive: list[Text] = []
        self.count = 0
        self._bare_jyutping: set[int] = set()  # id() of Text nodes from an unquoted word that reads as Jyutping

    def peek(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node | None:
        node = self.or_expr(negated=False)
        if self.peek() == ")":
            raise InvalidInput("a closing parenthesis has no opening one", field="q")
        return node

    def or_expr(self, negated: bool) -> Node | None:
        parts = [self.and_expr(negated)]
        while self.peek() == "OR":
            self.take()
            if self.peek() in (None, ")", "OR", "AND"):
                raise InvalidInput("OR needs something to search for on both sides", field="q")
            parts.append(self.and_expr(negated))
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self, negated: bool) -> Node | None:
        if self.peek() in ("AND", "OR"):
            raise InvalidInput(f"{self.take()[1]} needs something to search for on both sides", field="q")
        parts: list[Node] = []
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
                if self.peek() in (None, ")", "OR", "AND"):
                    raise InvalidInput("AND needs something to search for on both sides", field="q")
                continue
            node = self.unary(negated)
            if node is not None:
                parts.append(node)
        if not parts:
            return None
        parts = self._jyutping_phrases(parts)
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _jyutping_phrases(self, parts: list[Node]) -> list[Node]:
        """Consecutive unquoted words that read as Jyutping (``gwong zau``, ``gwong2 zau1``) match
        Han text as one phrase — their syllables adjacent and in order — or, as Latin words, each
        anywhere (``canton fair``): Or(And(words), jp-phrase)."""
        out: list[Node] = []
        run: list[Text] = []

        def flush() -> None:
            if len(run) < 2:
                out.extend(run)
            else:
                words = [Text(t.raw, None, tuple(a for a in t.alternatives if a[0] != "jp")) for t in run]
                syllables = tuple(s for t in run for f, terms in t.alternatives if f == "jp" for s in terms)
                phrase = Text(" ".join(t.raw for t in run), None, (("jp", syllables),))
                out.append(Or((And(tuple(words)), phrase)))
                ids = {id(t) for t in run}
                at = [k for k, p in enumerate(self.positive) if id(p) in ids]
                if at:  # the run's words were positive: highlight the words and the phrase instead
                    self.positive[at[0]:at[-1] + 1] = words + [phrase]
            run.clear()

        for p in parts:
            if isinstance(p, Text) and id(p) in self._bare_jyutping:
                run.append(p)
            else:
                flush()
                out.append(p)
        flush()
        return out

    def unary(self, negated: bool) -> Node | None:
        if self.peek() == "NOT":
            self.take()
            if self.peek() in (None, ")", "OR", "AND", "NOT"):
                raise InvalidInput("NOT needs a word or phrase after it", field="q")
            child = self.unary(not negated)
            return Not(child) if child is not None else None
        return self.primary(negated)

    def primary(self, negated: bool) -> Node | None:
        kind, value = self.take()
        if kind == "(":
            node = self.or_expr(negated)
            if self.peek() != ")":
                raise InvalidInput("a parenthesis is not closed: add the closing ) or remove it", field="q")
            self.take()
            return node
        if kind == ")":
            raise InvalidInput("a closing parenthesis has no opening one", field="q")
        fieldname = None
        if kind == "field":
            fieldname = value
            if self.peek() not in ("word", "phrase"):
                raise InvalidInput(f"{value}: needs a word or a quoted phrase after it", field="q")
            kind, value = self.take()
        if kind == "word" and fieldname is None:
            m = YEAR_RANGE.match(value)
            if m:
                a, b = int(m.group(1)), int(m.group(2))
                if a > b:
                    raise InvalidInput(f"the year range {value} ends before it starts; write {b}-{a}", field="q")
                return YearRange(a, b)
        if kind in ("AND", "OR", "NOT"):
            raise InvalidInput(f"{value} needs something to search for on both sides", field="q")
        node = text_node(value, fieldname)
        if node is None:
            return None
        self.count += 1
        if self.count > MAX_TERMS:
            raise InvalidInput(f"the query has more than {MAX_TERMS} words or phrases; shorten it", field="q")
        if not negated:
            self.positive.append(node)
        if kind == "word" and fieldname is None and any(f == "jp" for f, _ in node.alternatives):
            self._bare_jyutping.add(id(node))
        return node


def positive_text(node: Node) -> list[Text]:
    """The Text nodes not under a NOT (what locates pages and segments)."""
    if isinstance(node, Text):
        return [node]
    if isinstance(node, (And, Or)):
        return [t for c in node.children for t in positive_text(c)]
    return []


def parse(q: str | None) -> ParsedQuery:
    """Parse a user query; an empty one means "everything" (to browse by facets)."""
    text = unicodedata.normalize("NFKC", q or "").strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"the query is longer than {MAX_QUERY_LENGTH} characters; shorten it", field="q")
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        raise InvalidInput("the query contains control characters", field="q")
    if not text:
        return ParsedQuery(MatchAll(), "")
    parser = _Parser(_lex(text))
    root = parser.parse()
    if root is None:
        raise InvalidInput("the query has no words to search for (only punctuation or symbols)", field="q")
    if isinstance(root, Not) or (isinstance(root, And) and all(isinstance(c, Not) for c in root.children)):
        root = And((MatchAll(),) + (root.children if isinstance(root, And) else (root,)))
    return ParsedQuery(root, text, parser.positive)
