"""Report layers: what a manager reads first, what an analyst unfolds, and clean prose.

One preprocessor, run by the exporter after the other-language and course cells are gone:

- **Manager layer.** Cells tagged ``summary`` (the "what this means" box: this month's numbers
  in three sentences and the decisions, with links to the lists) move to just after the
  report's title, inside ``<section id="fp-summary">``. A notebook computes them at the end,
  where its numbers are known; the page shows them first.
- **Analyst layer.** Cells tagged ``appendix`` (model comparisons, PH tests, bootstrap detail,
  run provenance) move to the end of the page, inside a closed ``<details id="fp-appendix">``.
- **Link targets.** A cell tagged ``anchor-<name>`` gets ``<a id="<name>">`` before it, so the
  index and the summary can link to a section (``02_lifecycle_survival.html#warning-list``).
- **Values, not names.** ``{churn_horizon_months}`` in narrative markdown becomes the run's
  value of that parameter, formatted by its unit (``6``, ``1,000``, ``20%``); analysts in
  JupyterLab read the name, the management page reads the value.
- **Bold that renders.** ``**粗体**`` next to Chinese punctuation is not bold in CommonMark;
  it is turned into ``<strong>`` before rendering, in narrative cells and markdown outputs.
- **No course framing.** The "what you'll do / learn / need" paragraphs of the title cell are
  for learners; the management page leaves them out.
"""

from __future__ import annotations

import ast
import html
import re
from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Unicode

from helpers import i18n
from helpers.formatting import format_bool, format_number, format_pct, translate_code
from helpers.parameters import registry

SUMMARY_TAG = "summary"
APPENDIX_TAG = "appendix"
ANCHOR_PREFIX = "anchor-"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_BOLD = re.compile(r"\*\*(?=[^\s*])([^\n]{1,120}?)(?<=[^\s*])\*\*")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_FRAMING = re.compile(
    r"^\*\*(你将做什么|你将学到|你需要|What you'll do|What you'll learn|What you need)[:：]?\*\*"
)
_ANCHOR = re.compile(r"[^a-z0-9-]")


def parameter_values(notebook) -> dict[str, Any]:
    """The run's parameter values: the parameters cell, overridden by papermill's injection."""
    values: dict[str, Any] = {}
    for tag in ("parameters", "injected-parameters"):
        for cell in notebook.cells:
            if cell.cell_type == "code" and tag in cell.get("metadata", {}).get("tags", []):
                values.update(_literal_assignments(cell.source))
    return values


def _literal_assignments(source: str) -> dict[str, Any]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    found[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return found


def format_parameter(name: str, value: Any, lang: str) -> str:
    """A parameter value as prose shows it, by the unit in the registry."""
    entry = registry().get(name)
    unit = entry.unit if entry else ""
    if isinstance(value, bool):
        return format_bool(value, lang)
    if isinstance(value, (list, tuple)):
        separator = "、" if lang == "zh" else ", "
        return separator.join(format_parameter(name, item, lang) for item in value)
    if isinstance(value, str):
        return str(translate_code(value, lang))
    if isinstance(value, (int, float)):
        if unit.startswith("share"):
            text = format_pct(value, 1)
            return text.replace(".0%", "%")
        if unit in ("rmb", "months", "customers", "count", "rows") or float(value).is_integer():
            return format_number(value, 0)
        return format_number(value, 3).rstrip("0").rstrip(".")
    return str(value)


def fill_parameters(source: str, values: dict[str, Any], lang: str) -> str:
    """Replace ``{name}`` of a known parameter by its formatted value; leave the rest."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        return html.escape(format_parameter(name, values[name], lang), quote=False)

    return _PLACEHOLDER.sub(replace, source)


def strong_markup(text: str) -> str:
    """``**x**`` as ``<strong>x</strong>`` outside code spans (CJK-safe bold)."""
    pieces = []
    last = 0
    for match in _CODE_SPAN.finditer(text):
        pieces.append(_BOLD.sub(r"<strong>\1</strong>", text[last : match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_BOLD.sub(r"<strong>\1</strong>", text[last:]))
    return "".join(pieces)


def drop_course_framing(source: str) -> str:
    """The markdown without its "what you'll do / learn / need" paragraphs."""
    paragraphs = re.split(r"\n\s*\n", source)
    kept = [p for p in paragraphs if not _FRAMING.match(p.strip())]
    return "\n\n".join(kept)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _is_title(cell) -> bool:
    return cell.cell_type == "markdown" and bool(re.search(r"^\s{0,3}#\s", cell.source, re.M))


def _markup(cell, where: str, text: str) -> None:
    layer = cell.metadata.setdefault("fishpond_layer", {"before": [], "after": []})
    layer.setdefault(where, []).append(text)


class ReportLayersPreprocessor(Preprocessor):
    """Arrange a notebook into the manager layer, the body and the folded analyst appendix."""

    lang = Unicode("zh").tag(config=True)

    def preprocess(self, nb, resources):
        values = parameter_values(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                source = drop_course_framing(cell.source) if _is_title(cell) else cell.source
                cell.source = strong_markup(fill_parameters(source, values, self.lang))
            elif cell.cell_type == "code":
                for output in cell.get("outputs", []):
                    data = output.get("data", {})
                    if "text/markdown" in data:
                        data["text/markdown"] = strong_markup(data["text/markdown"])
        nb.cells = self._arrange(nb.cells)
        return nb, resources

    def _arrange(self, cells: list) -> list:
        summary = [c for c in cells if SUMMARY_TAG in _tags(c)]
        appendix = [c for c in cells if APPENDIX_TAG in _tags(c) and SUMMARY_TAG not in _tags(c)]
        moved = {id(c) for c in summary + appendix}
        body = [c for c in cells if id(c) not in moved]
        title_at = next((i for i, c in enumerate(body) if _is_title(c)), -1)
        arranged = body[: title_at + 1] + summary + body[title_at + 1 :] + appendix
        for cell in cells:
            for tag in _tags(cell):
                if tag.startswith(ANCHOR_PREFIX):
                    anchor = _ANCHOR.sub("-", tag[len(ANCHOR_PREFIX) :].lower())
                    _markup(cell, "before", f'<a id="{anchor}" class="fp-anchor"></a>')
        if summary:
            heading = html.escape(i18n.t("mg_summary_title", self.lang))
            _markup(
                summary[0],
                "before",
                f'<section class="fp-summary" id="fp-summary" aria-label="{heading}">'
                f'<h2 id="fp-summary-heading">{heading}</h2>',
            )
            _markup(summary[-1], "after", "</section>")
        if appendix:
            label = html.escape(i18n.t("mg_appendix_title", self.lang))
            _markup(
                appendix[0],
                "before",
                f'<details class="fp-appendix" id="fp-appendix"><summary>{label}</summary>',
            )
            _markup(appendix[-1], "after", "</details>")
        return arranged
