"""HTML for the report pack: management pages, failure pages, "not applicable" pages, index.

Notebook pages go through nbconvert's ``HTMLExporter`` with the offline template
``templates/fishpond/`` (the lab template with its CDN script blocks emptied). The pack's own
pages (index, failure, not applicable) are plain Jinja2 with the same CSS. Nothing here loads
anything from the network, and every file is written to a temporary name and renamed into
place.
"""

from __future__ import annotations

import html
import json
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jinja2
import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from helpers import i18n, paths, summary
from helpers.batch.layers import ReportLayersPreprocessor
from helpers.batch.notebooks import SUMMARY_NOTEBOOK
from helpers.formatting import format_kpi_record, round_half_up

TEMPLATE_NAME = "fishpond"
PAGES_DIR = paths.TEMPLATES_DIR / "pages"
CSS_PATH = paths.TEMPLATES_DIR / TEMPLATE_NAME / "static" / "fishpond.css"
#: Cells with this tag never reach the management HTML.
REMOVE_TAG = "remove-cell"
# Course cells (exercise statements, scaffolds, solutions, checks) never reach management.
REMOVE_TAGS = frozenset({REMOVE_TAG, "course", "exercise", "solution", "check"})
#: Headings of these levels go into the table of contents (h1 is the page title).
TOC_LEVELS = (2, 3)

# Texts of the pack's own pages. Page chrome, not analysis labels, so they live here rather
# than in helpers.i18n; the index shows both languages in its headings whatever the run's lang.
UI: dict[str, dict[str, str]] = {
    "zh": {
        "brand": "Fishpond 存量客户经营报告",
        "month": "报告月份",
        "dataset": "数据集",
        "language": "语言",
        "language_name": "中文",
        "back": "返回目录",
        "run_id": "运行编号",
        "footer_note": "自动生成，不含代码；完整运行记录见 executed/ 与 manifest.json",
        "contents": "目录",
        "status_ok": "成功",
        "status_failed": "失败",
        "status_not_applicable": "不适用",
        "failure_lead": "本报告未能生成。管理版页面不显示代码和错误堆栈。",
        "step": "出错步骤",
        "cell": "单元格",
        "step_unknown": "未知（内核启动前或启动时失败）",
        "error": "错误",
        "detail": "完整信息",
        "detail_hint": "（执行后的笔记本，供分析人员排查）",
        "detail_none": "没有生成执行记录",
        "duration": "耗时",
        "retries": "重试次数",
        "failure_note": "请联系分析团队。修复后重新运行本月报告；修复前，本月已有的成功报告保持不变。",
        "na_lead": "当前数据集缺少本报告需要的数据，因此本报告不适用。这不是运行失败。",
        "missing_roles": "缺少的数据",
        "required_roles": "本报告需要",
        "available_roles": "数据集提供",
        "na_note": "在数据集配置（dataset.yaml）中映射这些数据后重新运行，即可生成本报告。",
        "col_report": "报告",
        "col_status": "状态",
        "col_duration": "耗时",
        "col_detail": "说明",
        "audit_copy": "执行记录",
        "started": "开始时间",
        "finished": "结束时间",
        "git": "代码版本",
        "manifest": "运行清单",
        "chart": "图表",
    },
    "en": {
        "brand": "Fishpond existing-customer report",
        "month": "Report month",
        "dataset": "Dataset",
        "language": "Language",
        "language_name": "English",
        "back": "Back to index",
        "run_id": "Run id",
        "footer_note": "Generated automatically, no code; full run record in executed/ and manifest.json",
        "contents": "Contents",
        "status_ok": "OK",
        "status_failed": "Failed",
        "status_not_applicable": "Not applicable",
        "failure_lead": "This report could not be produced. Management pages never show code or tracebacks.",
        "step": "Failed step",
        "cell": "cell",
        "step_unknown": "unknown (failed before or while the kernel started)",
        "error": "Error",
        "detail": "Full detail",
        "detail_hint": "(the executed notebook, for the analysts)",
        "detail_none": "no executed notebook was written",
        "duration": "Duration",
        "retries": "Retries",
        "failure_note": "Please contact the analytics team. Re-run the month once fixed; until then the month's earlier good pack stays in place.",
        "na_lead": "The dataset lacks data this report needs, so the report does not apply. This is not a failure.",
        "missing_roles": "Missing data",
        "required_roles": "This report needs",
        "available_roles": "The dataset provides",
        "na_note": "Map these roles in the dataset spec (dataset.yaml) and run again to get this report.",
        "col_report": "Report",
        "col_status": "Status",
        "col_duration": "Duration",
        "col_detail": "Detail",
        "audit_copy": "executed notebook",
        "started": "Started",
        "finished": "Finished",
        "git": "Code version",
        "manifest": "Manifest",
        "chart": "Chart",
    },
}
INDEX_UI = {
    "zh": {
        "index_title": "存量客户经营月度报告",
        "actions": "本月要点与行动",
        "actions_lead": "每条行动都附有客户经理名单(Excel)和说明名单如何产生的报告章节。",
        "no_actions": "本次运行没有生成客户经理名单。",
        "list_link": "名单(Excel)",
        "section_link": "报告章节",
        "kpis": "核心指标",
        "vs_last_month": "较上月",
        "vs_last_year": "较去年同月",
        "reports": "报告列表",
        "run": "运行信息与报告包规则",
        "run_failed": "本次运行有报告失败(红色行)。",
        "rules": "报告包规则",
        "rules_text": (
            "报告包先在临时文件夹中完整生成,再整体移入 reports/YYYY-MM/。全部成功的运行替换该月"
            "之前的报告包;有失败的运行绝不覆盖已有的成功报告包,而是放在旁边的 "
            "reports/YYYY-MM.failed/ 中(若该月还没有成功的报告包,则直接放在 reports/YYYY-MM/,"
            "以便看到失败)。灰色行表示数据集缺少该报告所需的数据,不算失败。"
        ),
        "csv_note": "客户经理请使用 Excel 名单:客户号保持文本格式(前导零不丢),金额与比例已设好格式;"
        "CSV 文件供系统导入。",
        "base_note": "口径:活跃客户 = 月末账户仍开立、且按本报告包的流失口径尚未流失的客户;"
        "所有占比都以此为分母。",
    },
    "en": {
        "index_title": "Existing-customer management: monthly report pack",
        "actions": "This month's actions",
        "actions_lead": "Each action links to its RM list (Excel) and to the report section that "
        "explains how the list was made.",
        "no_actions": "This run produced no RM lists.",
        "list_link": "List (Excel)",
        "section_link": "Report section",
        "kpis": "Headline figures",
        "vs_last_month": "vs last month",
        "vs_last_year": "vs same month last year",
        "reports": "Reports",
        "run": "Run details and how this pack is published",
        "run_failed": "Some reports failed in this run (red rows).",
        "rules": "How this pack is published",
        "rules_text": (
            "The pack is built completely in a temporary folder and then moved into "
            "reports/YYYY-MM/ in one step. A run in which every report succeeded replaces the "
            "month's previous pack; a run with a failure never replaces a good pack: it is put "
            "beside it in reports/YYYY-MM.failed/ (or takes reports/YYYY-MM/ when the month has no "
            "good pack yet, so the failure is visible). Grey rows are reports whose data the "
            "dataset lacks: not a failure."
        ),
        "csv_note": "RMs should open the Excel lists: customer ids stay text (leading zeros kept), "
        "amounts and shares are formatted; the CSV files are for system imports.",
        "base_note": "Base: active customers = accounts open at the month-end that have not churned "
        "under this pack's churn definition; every share is of this base.",
    },
}
#: What each data role means, for the "not applicable" page.
ROLE_HELP = {
    "zh": {
        "customers": "客户表",
        "balances_history": "按月余额历史",
        "transactions": "交易流水",
        "holdings": "产品持有记录",
        "contacts": "客户经理联系记录",
        "campaigns": "营销活动分组与结果",
        "duration": "在网时长（开户月数）",
        "event": "是否流失",
        "value": "资产余额",
        "tier": "客户层级",
        "products": "产品持有标志",
        "treatment": "营销分组（对照/处理）",
        "outcome": "活动结果（留存/响应）",
    },
    "en": {
        "customers": "customer table",
        "balances_history": "monthly balance history",
        "transactions": "transaction records",
        "holdings": "product holdings",
        "contacts": "RM contact records",
        "campaigns": "campaign groups and outcomes",
        "duration": "tenure (months since opening)",
        "event": "churn flag",
        "value": "balance / AUM",
        "tier": "customer tier",
        "products": "product-holding flags",
        "treatment": "campaign group (control / treatment)",
        "outcome": "campaign outcome (retained / responded)",
    },
}

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


# --------------------------------------------------------------------------------------------
# Reading notebooks: headings, titles, steps
# --------------------------------------------------------------------------------------------


def _other_language(lang: str) -> str:
    return "en" if lang == "zh" else "zh"


def cell_kept(cell, lang: str) -> bool:
    """Whether a cell belongs in the ``lang`` report (untagged cells are kept)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return f"lang-{_other_language(lang)}" not in tags and not REMOVE_TAGS.intersection(tags)


def markdown_headings(source: str) -> list[tuple[int, str]]:
    """``[(level, plain text), ...]`` of the ATX headings in markdown ``source``.

    Fenced code blocks are skipped; inline markup (emphasis, code, links) is reduced to text.
    """
    headings = []
    in_fence = False
    for line in source.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            headings.append((len(match.group(1)), _plain(match.group(2))))
    return headings


def _plain(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    return re.sub(r"<[^>]+>", "", text).strip()


def first_heading(notebook, lang: str | None = None) -> str | None:
    """Text of the first markdown heading (in the ``lang`` cells when given), or None."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown" or (lang and not cell_kept(cell, lang)):
            continue
        headings = markdown_headings(cell.source)
        if headings:
            return headings[0][1]
    return None


def notebook_title_for(notebook, lang: str) -> str | None:
    """Title of a notebook in ``lang``: its first heading among the cells of that language."""
    return first_heading(notebook, lang) or first_heading(notebook)


def describe_step(notebook, cell_index: int | None, lang: str) -> dict[str, Any]:
    """Where a notebook failed: 1-based cell number and the nearest preceding heading.

    ``notebook`` is the source notebook (as an analyst opens it) and ``cell_index`` a cell of
    it; the heading is taken from the cells of the run's language.

    Returns ``{"cell": n, "total": N, "heading": "..."}``, or ``{}`` when the cell is unknown.
    """
    if cell_index is None or notebook is None or not (0 <= cell_index < len(notebook.cells)):
        return {}
    heading = ""
    for cell in notebook.cells[: cell_index + 1]:
        if cell.cell_type == "markdown" and cell_kept(cell, lang):
            found = markdown_headings(cell.source)
            if found:
                heading = found[-1][1]
    return {"cell": cell_index + 1, "total": len(notebook.cells), "heading": heading}


# --------------------------------------------------------------------------------------------
# Notebook -> management HTML
# --------------------------------------------------------------------------------------------


class DropStderrPreprocessor(Preprocessor):
    """Remove stderr streams (warnings, progress bars) and error outputs from every cell."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.outputs = [
                output
                for output in cell.get("outputs", [])
                if not (output.output_type == "stream" and output.get("name") == "stderr")
                and output.output_type != "error"
            ]
        return cell, resources


def build_exporter(lang: str) -> HTMLExporter:
    """An ``HTMLExporter`` for the management version of a notebook in ``lang``.

    No code and no prompts (``exclude_input``), the other language's narrative cells and
    ``remove-cell`` cells dropped, stderr dropped, offline template ``fishpond``.
    """
    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(paths.TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        language_code=lang,
    )
    remover = TagRemovePreprocessor(
        remove_cell_tags={f"lang-{_other_language(lang)}", *REMOVE_TAGS},
        enabled=True,
    )
    exporter.register_preprocessor(remover, enabled=True)
    exporter.register_preprocessor(DropStderrPreprocessor(), enabled=True)
    exporter.register_preprocessor(ReportLayersPreprocessor(lang=lang), enabled=True)
    return exporter


_RENDERED_HEADING = re.compile(r'<h([1-6])\s+id="([^"]*)"\s*>(.*?)</h\1>', re.DOTALL)
_NUMERIC_CELL = re.compile(
    r"<td(\s[^>]*)?>\s*([-+−]?(?:[¥$]\s?)?\d[\d,]*(?:\.\d+)?\s?(?:%|‰|万|亿)?)\s*</td>"
)


def _unique_ids(page: str) -> tuple[str, list[tuple[int, str, str]]]:
    """Make heading ids unique and return the page with ``[(level, id, text)]``."""
    seen: dict[str, int] = {}
    headings = []

    def fix(match: re.Match) -> str:
        level, anchor, inner = int(match.group(1)), html.unescape(match.group(2)), match.group(3)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        new_anchor = anchor if count == 0 else f"{anchor}-{count + 1}"
        text = re.sub(r"<a class=\"anchor-link\".*?</a>", "", inner, flags=re.DOTALL)
        text = html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
        headings.append((level, new_anchor, text))
        inner = inner.replace(f'href="#{match.group(2)}"', f'href="#{html.escape(new_anchor)}"')
        return f'<h{level} id="{html.escape(new_anchor)}">{inner}</h{level}>'

    return _RENDERED_HEADING.sub(fix, page), headings


def _toc(headings: list[tuple[int, str, str]], lang: str) -> str:
    items = [
        f'<li class="fp-toc-{level}"><a href="#{html.escape(anchor)}">{html.escape(text)}</a></li>'
        for level, anchor, text in headings
        if level in TOC_LEVELS and text
    ]
    if not items:
        return ""
    title = UI[lang]["contents"]
    return (
        f'<nav class="fp-toc" aria-label="{title}"><span class="fp-toc-title">{title}</span>'
        f"<ul>{''.join(items)}</ul></nav>"
    )


def _mark_numeric_cells(page: str) -> str:
    """Add class ``fp-num`` to table cells holding a number, so CSS right-aligns them."""

    def mark(match: re.Match) -> str:
        attributes = match.group(1) or ""
        if 'class="' in attributes:
            attributes = attributes.replace('class="', 'class="fp-num ', 1)
        else:
            attributes += ' class="fp-num"'
        return f"<td{attributes}>{match.group(2)}</td>"

    return _NUMERIC_CELL.sub(mark, page)


def notebook_to_html(notebook, *, page: dict[str, Any], title: str | None = None) -> str:
    """Render an executed notebook as the management HTML page (a string).

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        Executed notebook (not modified).
    page : dict
        ``lang``, ``month``, ``dataset_name``, ``run_id`` for the header band and footer.
    title : str, optional
        Page title; default the notebook's first heading in ``page["lang"]``.
    """
    lang = page["lang"]
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))  # deep copy
    for cell in notebook.cells:  # narrative in the data's words (currency, value, offers)
        if cell.cell_type == "markdown":
            cell.source = i18n.apply_vocabulary(cell.source, lang)
    notebook.metadata["title"] = title or notebook_title_for(notebook, lang) or "Fishpond"
    ui = dict(UI[lang])
    resources = {"fishpond": {**page, "ui": ui}}
    body, _ = build_exporter(lang).from_notebook_node(notebook, resources=resources)
    body, headings = _unique_ids(body)
    body = body.replace("<!--FISHPOND-TOC-->", _toc(headings, lang), 1)
    return _mark_numeric_cells(body)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to a temporary sibling and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


def write_notebook_html(notebook, html_path, *, page: dict, title: str | None = None) -> Path:
    """Render ``notebook`` with :func:`notebook_to_html` and write it atomically."""
    return write_text_atomic(html_path, notebook_to_html(notebook, page=page, title=title))


# --------------------------------------------------------------------------------------------
# The pack's own pages
# --------------------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PAGES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _render_page(template: str, *, page: dict, title: str, is_index: bool = False, **context):
    lang = page["lang"]
    ui = {**UI[lang], **INDEX_UI[lang]}
    return (
        _environment()
        .get_template(template)
        .render(
            lang=lang,
            page=page,
            title=title,
            ui=ui,
            css=CSS_PATH.read_text(encoding="utf-8"),
            is_index=is_index,
            status_label=lambda status: ui.get(f"status_{status}", status),
            role_help=lambda role: i18n.apply_vocabulary(
                (" 或 " if lang == "zh" else " or ").join(
                    ROLE_HELP[lang].get(part, part) for part in role.split("|")
                ),
                lang,
            ),
            **context,
        )
    )


def write_failure_page(html_path, *, entry: dict, page: dict) -> Path:
    """Write the management page of a failed notebook: what failed, where, one-line error.

    ``entry`` is the notebook's manifest entry (``title``, ``notebook``, ``error``, ``step``,
    ``executed``, ``duration_seconds``, ``retries``). No traceback ever appears here.
    """
    entry = {"step": {}, **entry}
    title = f"{entry['title']} · {UI[page['lang']]['status_failed']}"
    return write_text_atomic(
        html_path, _render_page("failure.html.j2", page=page, title=title, entry=entry)
    )


def write_not_applicable_page(html_path, *, entry: dict, page: dict) -> Path:
    """Write the page of a notebook the dataset cannot feed (missing data roles)."""
    title = f"{entry['title']} · {UI[page['lang']]['status_not_applicable']}"
    return write_text_atomic(
        html_path, _render_page("not_applicable.html.j2", page=page, title=title, entry=entry)
    )


# --------------------------------------------------------------------------------------------
# KPIs and the index
# --------------------------------------------------------------------------------------------


def format_kpi(value, unit: str, lang: str = "zh") -> str:
    """Display text for a KPI value: thousands separators, half-up rounding.

    ``count`` -> ``9,876``; ``rmb`` -> ``¥1,234,568`` (whole yuan); ``pct`` (a fraction:
    0.1234) -> ``12.3%``; ``ratio`` -> ``1.23``; ``months`` -> ``12.5``; anything else -> two
    decimals; a missing value -> ``–``. Units as in :data:`helpers.notebook.KPI_UNITS`.
    """
    if value is None:
        return "–"
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    if unit == "count":
        return f"{round_half_up(number, 0):,}"
    if unit == "rmb":  # an amount in the data's currency (the unit keeps its old name)
        rounded = round_half_up(number, 0)
        symbol = i18n.vocabulary().currency_word[2]
        return f"{'-' if rounded < 0 else ''}{symbol}{abs(rounded):,}"
    if unit == "pct":
        return f"{round_half_up(number * 100, 1):,}%"
    if unit == "months":
        return f"{round_half_up(number, 1):,}"
    return f"{round_half_up(number, 2):,}"


def read_kpis(
    artifacts_dir: str | Path, lang: str = "zh", headline_only: bool = True
) -> list[dict]:
    """Headline KPIs from ``artifacts/kpis_*.json`` files, ready for the index.

    Unreadable files are skipped (the notebook that wrote them is judged on its own status).
    Each item: ``notebook``, ``key``, ``label`` (in ``lang``), ``value``, ``unit``, ``display``.
    The summary notebook's KPIs come first.
    """

    items = []
    files = sorted(Path(artifacts_dir).glob("kpis_*.json"))
    files.sort(key=lambda p: p.stem != f"kpis_{SUMMARY_NOTEBOOK}")
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            kpis = data["kpis"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        notebook = data.get("notebook", path.stem.removeprefix("kpis_"))
        for kpi in kpis:
            if not isinstance(kpi, dict) or (headline_only and not kpi.get("headline")):
                continue
            label = kpi.get(f"label_{lang}") or kpi.get("label_zh") or kpi.get("key", "")
            items.append(
                {
                    "notebook": notebook,
                    "key": kpi.get("key", ""),
                    "label": label,
                    "value": kpi.get("value"),
                    "unit": kpi.get("unit", ""),
                    # an estimate whose interval crosses zero reads "not significant", never
                    # as a bare number (helpers.formatting.kpi); amounts in 万/亿, million
                    "display": format_kpi_record(kpi, lang, compact=True),
                    "significant": kpi.get("significant"),
                }
            )
    return items


def write_index(pack_dir: str | Path, manifest: dict) -> Path:
    """Write ``index.html`` of a pack from its manifest and its ``artifacts/kpis_*.json``."""
    pack_dir = Path(pack_dir)
    lang = manifest["lang"]
    page = {
        "lang": lang,
        "month": manifest["month"],
        "dataset_name": manifest["dataset"]["name"],
        "run_id": manifest["run_id"],
    }
    title = f"{INDEX_UI[lang]['index_title']} · {manifest['month']}"
    artifacts = pack_dir / "artifacts"
    found = summary.read_artifacts(artifacts)
    previous_dir = summary.previous_artifacts(artifacts, manifest["month"])
    previous = summary.read_artifacts(previous_dir) if previous_dir else None
    tiles = summary.kpi_tiles(found, lang, previous)
    covered = {(tile["notebook"], tile["key"]) for tile in tiles}
    shown = {tile["key"] for tile in tiles}
    # a history tile on the page already shows these (a flat table has no history: kept then)
    covered |= {kpi for key, kpi in summary.HISTORY_TWINS.items() if key in shown}
    others = [k for k in read_kpis(artifacts, lang) if (k["notebook"], k["key"]) not in covered]
    text = _render_page(
        "index.html.j2",
        page=page,
        title=title,
        is_index=True,
        manifest=manifest,
        actions=summary.actions(found, lang),
        tiles=tiles,
        kpis=others,
        has_history=found.history is not None,
    )
    return write_text_atomic(pack_dir / "index.html", text)
