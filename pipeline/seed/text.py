"""Reading a seed article: plain text, HTML, or a saved web page, into sentences.

``read_seed(path)`` returns a ``SeedArticle`` (headline, date, paragraphs) or raises
``UserError`` for input it cannot use: an empty file, a binary file, a page with no
article text, or an article with (almost) no Latin-script text, since the entity
heuristics rely on capitalisation.

Plain text: the first line may be ``date YYYY-MM-DD Headline`` or ``YYYY-MM-DD Headline``;
otherwise a short first line is taken as the headline. HTML: ``<title>``/``<h1>`` give the
headline, ``<p>`` (and headings) inside ``<article>`` give the text (all ``<p>`` of the page
when there is no ``<article>``); scripts, styles, navigation, headers and footers are
skipped. A saved page may also be MHTML (``multipart/related``), whose HTML part is used.

>>> a = parse_seed_text("date 2024-10-25 Musk met Putin\\nThe Kremlin said so. Musk did not.")
>>> a.headline, a.date, a.paragraphs
('Musk met Putin', '2024-10-25', ('The Kremlin said so. Musk did not.',))
>>> split_sentences("Mr. Musk met U.S. officials. They said no.")
['Mr. Musk met U.S. officials.', 'They said no.']
"""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from pipeline.errors import UserError

MIN_WORDS = 8
MIN_LATIN_SHARE = 0.5

_DATE_LINE = re.compile(r"^\s*(?:date\s+)?(\d{4}-\d{2}-\d{2})\b[\s:|,-]*(.*)$", re.IGNORECASE)
_HTML_SNIFF = re.compile(
    r"<\s*(?:!doctype\s+html|html|head|body|article|p|h1|title|div)\b", re.IGNORECASE
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# Abbreviations whose full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sen rep gov gen col lt sgt capt st jr sr inc corp ltd co
vs etc fig jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.u d.c""".split()
)


@dataclass(frozen=True, slots=True)
class SeedArticle:
    """A seed article as text: headline, ISO date (or ""), and body paragraphs."""

    path: str
    headline: str
    date: str
    paragraphs: tuple[str, ...]
    source_kind: str  # "text", "html" or "mhtml"

    @property
    def text(self) -> str:
        return (
            "\n".join((self.headline, *self.paragraphs))
            if self.headline
            else "\n".join(self.paragraphs)
        )

    def sentences(self) -> list[str]:
        """Headline first (as its own sentence), then every sentence of the body; the
        dateline that opens a paragraph ("ROTTERDAM (Reuters) -") is left out."""
        out = [self.headline] if self.headline else []
        for paragraph in self.paragraphs:
            out += split_sentences(strip_dateline(paragraph))
        return out


# An upper-case place (and optional agency in brackets) then a dash: "FRANKFURT (dpa-AFX) - ",
# "SANTIAGO (AP) — ", "ROTTERDAM, Jan 7 (Reuters) - ".
_DATELINE = re.compile(
    r"^\s*[A-ZÀ-ÖØ-Þ][A-ZÀ-ÖØ-Þ .'/-]{1,40}(?:,[^()\n]{1,30})?\s*(?:\([^()\n]{1,40}\))?\s*[-–—]+\s+"
)


def strip_dateline(paragraph: str) -> str:
    """A paragraph without its opening dateline; unchanged when it has none.

    >>> strip_dateline("FRANKFURT (dpa-AFX) - Der Streik hat begonnen.")
    'Der Streik hat begonnen.'
    >>> strip_dateline("NASA - the agency - said so.")
    'NASA - the agency - said so.'
    """
    m = _DATELINE.match(paragraph)
    if (
        m is None
        or not re.search(r"[A-ZÀ-ÖØ-Þ]{3}", m.group(0))
        or not re.search(r"[(,]", m.group(0))
    ):
        return paragraph
    head = m.group(0).split("(")[0].split(",")[0].strip(" -–—")
    if not head.isupper():
        return paragraph
    return paragraph[m.end() :]


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences at ``. ! ?`` (and closing quotes) before a capital.

    Abbreviations (Mr., U.S., Jan.) and initials (J. R.) do not end a sentence.
    """
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return []
    out, start = [], 0
    for m in re.finditer(r"[.!?]+['\"’”)]*\s+(?=['\"‘“(]?[A-Z0-9])", text):
        before = text[start : m.start() + 1]
        last = re.search(r"([A-Za-z.]+)\.$", before.rstrip("'\"’”)"))
        if last and text[m.start()] == ".":
            word = last.group(1).lower().rstrip(".")
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        out.append(text[start : m.end()].strip())
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def parse_seed_text(text: str, path: str = "<text>") -> SeedArticle:
    """A plain-text article; the first line may carry a date and the headline."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    headline, date = "", ""
    if lines:
        m = _DATE_LINE.match(lines[0])
        if m:
            date, headline = m.group(1), m.group(2).strip()
            lines = lines[1:]
        elif len(lines) > 1 and len(lines[0]) <= 200 and not re.search(r"[.!?]['\"’”]?$", lines[0]):
            headline, lines = lines[0], lines[1:]
    return SeedArticle(path, headline, date, tuple(lines), "text")


class _ArticleHTML(HTMLParser):
    """Collects the title, the first h1, meta dates, and block text (inside <article> if any)."""

    SKIP = frozenset(
        {
            "script",
            "style",
            "noscript",
            "nav",
            "header",
            "footer",
            "aside",
            "form",
            "svg",
            "button",
            "select",
            "template",
            "iframe",
            "figcaption",
        }
    )
    BLOCKS = frozenset({"p", "h1", "h2", "h3", "li", "blockquote"})
    BREAKS = BLOCKS | frozenset({"div", "section", "br", "tr", "h4", "h5", "h6", "figure"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title, self.h1, self.date = "", "", ""
        self.blocks: list[tuple[bool, str, str]] = []  # (inside article, tag, text)
        self._skip = 0
        self._article = 0
        self._in_title = False
        self._block: tuple[str, list[str]] | None = None
        self.saw_article = False
        self.article_text: list[str] = []  # all text inside <article>, for pages without <p>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "article":
            self._article += 1
            self.saw_article = True
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            a = {k.lower(): (v or "") for k, v in attrs}
            key = (a.get("property") or a.get("name") or a.get("itemprop") or "").lower()
            if (
                key in ("article:published_time", "datepublished", "date", "pubdate")
                and not self.date
            ):
                m = re.match(r"\d{4}-\d{2}-\d{2}", a.get("content", ""))
                self.date = m.group(0) if m else ""
            elif key == "og:title" and not self.h1:
                self.h1 = a.get("content", "").strip()
        elif tag == "time" and not self.date:
            m = re.match(r"\d{4}-\d{2}-\d{2}", dict(attrs).get("datetime") or "")
            self.date = m.group(0) if m else ""
        elif tag in self.BLOCKS and not self._skip:
            self._close_block()
            self._block = (tag, [])
        elif tag == "br" and self._block:
            self._block[1].append(" ")
        if tag in self.BREAKS and self._article:
            self.article_text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BREAKS and self._article:
            self.article_text.append("\n")
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "article":
            self._close_block()
            self._article = max(0, self._article - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in self.BLOCKS:
            self._close_block()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._block is not None and not self._skip:
            self._block[1].append(data)
        if self._article and not self._skip:
            self.article_text.append(data)

    def _close_block(self) -> None:
        if self._block is None:
            return
        tag, parts = self._block
        text = re.sub(r"\s+", " ", "".join(parts)).strip()
        if text:
            if tag == "h1" and not self.h1:
                self.h1 = text
            self.blocks.append((self._article > 0, tag, text))
        self._block = None

    def close(self) -> None:
        super().close()
        self._close_block()


def parse_seed_html(text: str, path: str = "<html>", source_kind: str = "html") -> SeedArticle:
    """An HTML page: headline from <h1>/og:title/<title>, paragraphs from <article> or <p>."""
    parser = _ArticleHTML()
    parser.feed(text)
    parser.close()
    blocks = [b for b in parser.blocks if b[0]] if parser.saw_article else parser.blocks
    if parser.saw_article and not blocks:
        blocks = parser.blocks
    headline = parser.h1 or re.sub(r"\s+", " ", parser.title).strip()
    paragraphs = [text for _, tag, text in blocks if tag != "h1" and text != headline]
    if parser.saw_article and not paragraphs:  # an <article> written with <div>s, not <p>s
        lines = (
            re.sub(r"\s+", " ", line).strip() for line in "".join(parser.article_text).split("\n")
        )
        paragraphs = [line for line in lines if line and line != headline]
    return SeedArticle(path, headline, parser.date, tuple(paragraphs), source_kind)


def _decode(data: bytes, path: Path) -> str:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(
            f"{path}: this looks like a binary file (it contains NUL bytes), not an article; "
            "save the article as plain text (.txt) or HTML"
        )
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        m = _META_CHARSET.search(data[:4096])
        try:
            text = data.decode(m.group(1).decode("ascii")) if m else data.decode("cp1252")
        except (LookupError, UnicodeDecodeError):
            text = data.decode("latin-1")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if controls > max(3, len(text) // 100):
        raise UserError(
            f"{path}: this looks like a binary file ({controls} control characters), not an "
            "article; save the article as plain text (.txt) or HTML"
        )
    return text


def _mhtml_html(text: str) -> str | None:
    """The HTML part of an MHTML ("web archive") saved page, or None."""
    head = text[:2000].lower()
    if "multipart/related" not in head or "mime-version" not in head:
        return None
    message = email.message_from_string(text, policy=email.policy.default)
    for part in message.walk():
        if part.get_content_type() == "text/html":
            try:
                return part.get_content()
            except (LookupError, ValueError):
                return None
    return None


def script_profile(text: str) -> dict[str, int]:
    """Letters counted by Unicode script (first word of the character name: LATIN, CYRILLIC, CJK...)."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "UNKNOWN UNKNOWN").split()[0]
            counts[name] = counts.get(name, 0) + 1
    return counts


def read_seed(path: Path | str) -> SeedArticle:
    """Read and check a seed article file; raise UserError (exit 2) if it is unusable."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory; pass one article file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read file: {exc.strerror}") from None
    if not data.strip():
        raise UserError(
            f"{path}: the file is empty; save the article text (or its HTML page) into it"
        )
    text = _decode(data, path)
    if (html := _mhtml_html(text)) is not None:
        article = parse_seed_html(html, str(path), "mhtml")
    elif _HTML_SNIFF.search(text[:4096]):
        article = parse_seed_html(text, str(path))
    else:
        article = parse_seed_text(text, str(path))
    scripts = script_profile(article.text)
    letters = sum(scripts.values())
    latin = scripts.get("LATIN", 0)
    if letters and latin / letters < MIN_LATIN_SHARE:
        main = max(scripts, key=scripts.get)
        main = {"CJK": "Han", "HIRAGANA": "Japanese kana", "KATAKANA": "Japanese kana"}.get(
            main, main.title()
        )
        raise UserError(
            f"{path}: the article is mostly in {main} script ({latin} of {letters} letters "
            "are Latin); storywatch seed finds names by capitalisation and needs a Latin-script "
            "article (for example an English translation)"
        )
    body = " ".join(article.paragraphs)
    words = re.findall(r"\w+", article.text)
    if not body.strip() or len(words) < MIN_WORDS:
        what = (
            "the page has no article text (no <p> paragraphs)"
            if article.source_kind != "text"
            else "the file has too little text"
        )
        raise UserError(
            f"{path}: {what}: found {len(words)} words, need at least {MIN_WORDS}; "
            "save the full article"
        )
    return article
