"""Scan a management HTML page for the formatting faults a manager notices first.

Used by ``tests/test_report_formatting.py`` on every page of a zh and an en sample pack, and
unit-tested on hand-made pages there. Each finding is ``(rule, excerpt)``:

- ``placeholder``: a label placeholder that was never filled (``{horizon}``, "未来 h 个月",
  "next h months") or a parameter name standing where its value belongs
  ("未来 `churn_horizon_months` 个月").
- ``raw_float``: a number with more than 4 decimals (``0.839415``, ``63985.520000000004``).
- ``boolean``: ``True`` / ``False`` shown as words of Python.
- ``markdown``: a literal ``**`` (bold markup that did not render).
- ``code``: a code from the code lists left untranslated (``mass``, ``rate_coupon``,
  ``aum_trend_3m``).
- ``script``: the other language's script in narrative text (Chinese on an English page; an
  English sentence on a Chinese page). Table cells (data such as names) are not narrative.

Tables marked ``fp-literal`` (run provenance: parameter values exactly as passed, versions,
file hashes) are left out: they show literals on purpose.

The page's visible text is what is scanned: ``<style>``, ``<script>``, image data and tag
attributes are left out, except ``alt`` texts, which a screen reader reads aloud.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from helpers.formatting import code_lists
from helpers.parameters import registry

CJK = re.compile(r"[\u3400-\u9fff]")
RAW_FLOAT = re.compile(r"(?<![\w.])[-+]?\d+\.\d{5,}(?![\w.])")
BOOLEAN = re.compile(r"\b(True|False)\b")
BRACED = re.compile(r"\{[a-z_][a-z0-9_]*(?::[^}]*)?\}")
LETTER_H = re.compile(r"(未来|之后|后)\s*h\s*个月|\bnext h months\b|\bwithin h months\b")
ENGLISH_RUN = re.compile(r"\b[A-Za-z][a-z]+(?:[ ,;:'-]+[A-Za-z][a-z]+){4,}")
#: Chinese glosses allowed in English narrative: a short term in brackets ("(流失预警)",
#: "(一刀切, one size fits all)"): at most 12 Chinese characters inside the brackets.
GLOSS = re.compile(r"[（(][^()（）]{0,60}[)）]")
UNIT_AFTER = re.compile(r"^\s*(个月|人|元|位|天|万元|%|months?|customers?|RMB|days?)")
UNIT_BEFORE = re.compile(r"(未来|近|前|next|within|last)\s*$")


class _Text(HTMLParser):
    """Visible text of a page as runs: (text, in_table, in_code)."""

    SKIP = {"style", "script", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.runs: list[tuple[str, bool, bool]] = []
        self._skip = 0
        self._table = 0
        self._code = 0
        self._literal = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table" and (self._literal or "fp-literal" in (dict(attrs).get("class") or "")):
            self._literal += 1
        if tag in self.SKIP:
            self._skip += 1
        elif tag in ("td", "th"):
            self._table += 1
        elif tag == "code":
            self._code += 1
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.runs.append((alt, False, False))

    def handle_endtag(self, tag):
        if tag == "table" and self._literal:
            self._literal -= 1
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th"):
            self._table = max(0, self._table - 1)
        elif tag == "code":
            self._code = max(0, self._code - 1)

    def handle_data(self, data):
        if not self._skip and not self._literal and data.strip():
            self.runs.append((data, self._table > 0, self._code > 0))


def visible_runs(page: str) -> list[tuple[str, bool, bool]]:
    parser = _Text()
    parser.feed(page)
    parser.close()
    return parser.runs


def _code_pattern(lang: str) -> re.Pattern:
    codes = set()
    for values in code_lists().values():
        codes.update(values)
    if lang == "en":
        # In English, one-word codes are ordinary words ("mass", "total"); only codes that no
        # English text would contain (snake_case identifiers) are sure leaks.
        codes = {code for code in codes if "_" in code}
    # One- and two-letter codes (M, F) are too short to tell from ordinary text.
    codes = {code for code in codes if len(code) >= 3 and code not in ("True", "False")}
    words = sorted(codes, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, words)) + r")(?![\w-])")


def scan_page(page: str, lang: str) -> list[tuple[str, str]]:
    """Every formatting fault on one HTML page of a ``lang`` pack, as ``(rule, excerpt)``."""
    findings: list[tuple[str, str]] = []
    runs = visible_runs(page)
    parameters = set(registry())
    codes = _code_pattern(lang)
    text_runs = [text for text, _, _ in runs]
    joined = "\n".join(text_runs)

    def add(rule: str, text: str, match: re.Match) -> None:
        start, end = max(0, match.start() - 30), min(len(text), match.end() + 30)
        findings.append((rule, html.unescape(text[start:end]).replace("\n", " ")))

    for pattern, rule in ((BRACED, "placeholder"), (LETTER_H, "placeholder")):
        for match in pattern.finditer(joined):
            add(rule, joined, match)
    for pattern, rule in ((RAW_FLOAT, "raw_float"), (BOOLEAN, "boolean")):
        for match in pattern.finditer(joined):
            add(rule, joined, match)
    for text, in_table, _ in runs:
        if "**" in text and not in_table:
            index = text.index("**")
            findings.append(("markdown", text[max(0, index - 30) : index + 30]))
    # A parameter name between a "next"/"未来" and a unit stands where its value belongs.
    for position, (text, _, in_code) in enumerate(runs):
        if in_code and text.strip() in parameters:
            before = runs[position - 1][0] if position else ""
            after = runs[position + 1][0] if position + 1 < len(runs) else ""
            if UNIT_AFTER.search(after) or UNIT_BEFORE.search(before):
                findings.append(("placeholder", f"{before[-20:]}`{text}`{after[:20]}"))
    for text, _, _ in runs:
        for match in codes.finditer(text):
            add("code", text, match)
    for text, in_table, in_code in runs:
        if in_table or in_code:
            continue
        if lang == "en":
            stripped = GLOSS.sub(
                lambda m: "" if len(CJK.findall(m.group(0))) <= 12 else m.group(0), text
            )
            for match in CJK.finditer(stripped):
                add("script", stripped, match)
                break
        else:
            for match in ENGLISH_RUN.finditer(text):
                add("script", text, match)
    return findings
