"""Training-course edition: learner and solution notebooks built from the same sources.

Source notebooks (``notebooks/*.ipynb``) carry three kinds of course cells, by tag:

- ``exercise``: the scaffold a learner fills in (``answer = None  # TODO ...``);
- ``solution``: the worked answer; left out of the learner copy;
- ``check``: calls :func:`check` (or a domain check built on it), which tells the learner
  whether the answer is right and, if not, why, as a displayed message (never a traceback),
  so a learner's notebook keeps running.

In the source notebooks (and so in the monthly batch) the solution runs after the scaffold,
so every check passes; the management HTML drops all three kinds of cells.
"""

from __future__ import annotations

import copy
import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from helpers.paths import NOTEBOOKS_DIR

COURSE_TAGS = ("exercise", "solution", "check")
LANG_TAGS = {"zh": "lang-zh", "en": "lang-en"}


# ----------------------------------------------------------------------------- checks
@dataclass
class CheckResult:
    """Outcome of one exercise check, shown as a markdown message in the notebook."""

    exercise: str
    passed: bool
    message: str

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.passed else "❌"
        return f"{mark} **{self.exercise}**: {self.message}"

    def __repr__(self) -> str:
        return self._repr_markdown_()


def _close(answer: Any, expected: Any, tolerance: float) -> bool:
    if isinstance(expected, bool) or isinstance(answer, bool):
        return answer == expected
    if isinstance(expected, (int, float)) and isinstance(answer, (int, float)):
        if math.isnan(expected):
            return math.isnan(answer)
        return abs(answer - expected) <= tolerance * max(1.0, abs(expected))
    if isinstance(expected, (list, tuple)) and isinstance(answer, (list, tuple)):
        return len(answer) == len(expected) and all(
            _close(a, e, tolerance) for a, e in zip(answer, expected, strict=True)
        )
    return answer == expected


def check(
    exercise: str,
    answer: Any,
    expected: Any,
    lang: str = "zh",
    tolerance: float = 1e-6,
    hint_zh: str = "",
    hint_en: str = "",
    validate: Callable[[Any], str | None] | None = None,
) -> CheckResult:
    """Compare a learner's ``answer`` with the ``expected`` one and explain the outcome.

    Parameters
    ----------
    exercise : short name shown with the result.
    answer : what the learner computed; ``None`` means not answered yet.
    expected : the right answer, computed by the notebook's helpers (never hard-coded).
    tolerance : relative tolerance for numbers (and numbers inside lists).
    hint_zh, hint_en : what to look at when the answer is wrong.
    validate : optional function returning a message when the answer has the wrong shape.

    Returns
    -------
    CheckResult
        Displayed as "✅ ..." or "❌ ... why"; never raises for a wrong answer.
    """
    zh = lang == "zh"
    hint = hint_zh if zh else hint_en
    if answer is None:
        message = (
            "还没有作答:请在上面的练习单元格里把 `answer` 设为你的结果。"
            if zh
            else "Not answered yet: set `answer` in the exercise cell above to your result."
        )
        return CheckResult(exercise, False, f"{message} {hint}".strip())
    if validate is not None:
        problem = validate(answer)
        if problem:
            return CheckResult(exercise, False, f"{problem} {hint}".strip())
    try:
        passed = _close(answer, expected, tolerance)
    except (TypeError, ValueError):
        passed = False
    if passed:
        return CheckResult(exercise, True, "正确!" if zh else "Correct!")
    shown = _short(answer)
    message = (
        f"结果不对:你的答案是 {shown},与正确结果不一致。"
        if zh
        else f"Not quite: your answer {shown} does not match."
    )
    return CheckResult(exercise, False, f"{message} {hint}".strip())


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ----------------------------------------------------------------------------- building
def _cell_tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _set_parameter(source: str, name: str, value: str) -> str:
    """Replace the literal of ``name = ...`` in a parameters cell, keeping its comment."""
    pattern = re.compile(rf"^({re.escape(name)}\s*=\s*)([^#\n]*?)(\s*#.*)?$", re.MULTILINE)
    return pattern.sub(lambda m: f"{m.group(1)}{value}{m.group(3) or ''}", source, count=1)


def course_notebook(notebook, lang: str, edition: str):
    """Return the learner or solution edition of a source notebook in one language.

    Parameters
    ----------
    notebook : nbformat NotebookNode (left unchanged).
    lang : "zh" or "en": the other language's narrative cells are dropped and the ``lang``
        parameter's default is set.
    edition : "learner" (exercise scaffolds, no solutions) or "solution" (solutions, no
        scaffolds).
    """
    if edition not in {"learner", "solution"}:
        raise ValueError(f"edition must be 'learner' or 'solution', not {edition!r}")
    other = LANG_TAGS["en" if lang == "zh" else "zh"]
    dropped = "solution" if edition == "learner" else "exercise"
    result = copy.deepcopy(notebook)
    cells = []
    for cell in result.cells:
        tags = _cell_tags(cell)
        if other in tags or dropped in tags:
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            cell.metadata.pop("papermill", None)
            if "parameters" in tags:
                cell.source = _set_parameter(cell.source, "lang", repr(lang).replace("'", '"'))
        cells.append(cell)
    result.cells = cells
    result.metadata.pop("papermill", None)
    result.metadata.setdefault("fishpond", {})["course"] = {"lang": lang, "edition": edition}
    return result


def count_exercises(notebook) -> int:
    """Number of exercises (cells tagged ``exercise``) in a notebook."""
    return sum("exercise" in _cell_tags(cell) for cell in notebook.cells)


def build_course(
    lang: str = "zh", out: str | Path = "course", notebooks_dir: Path = NOTEBOOKS_DIR
) -> list[Path]:
    """Write learner and solution notebooks for every source notebook.

    Layout: ``<out>/learner/<name>.ipynb`` and ``<out>/solution/<name>.ipynb``. The notebooks
    find the sample data and helpers on their own, so they run from any folder.
    """
    out = Path(out)
    written: list[Path] = []
    for source in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(source, as_version=4)
        for edition in ("learner", "solution"):
            target = out / edition / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".ipynb.tmp")
            nbformat.write(course_notebook(notebook, lang, edition), temporary)
            temporary.replace(target)
            written.append(target)
    return written


def cli_course_build(args) -> int:
    """``fishpond course build --lang zh|en --out DIR``."""
    written = build_course(lang=args.lang, out=args.out)
    learners = [p for p in written if p.parent.name == "learner"]
    print(
        f"course ({args.lang}): {len(learners)} learner and {len(written) - len(learners)} solution notebooks in {args.out}"
    )
    return 0


# ----------------------------------------------------------------------------- 00 exercises
# Each check computes the expected answer from the same data the learner used, so nothing
# is hard-coded and the checks stay right when the data or the month changes.
def check_top_tier_aum_share(answer, tiers, lang: str = "zh") -> CheckResult:
    """Exercise 00-1: share of AUM held by wealth and private-banking customers (0 to 1)."""
    if tiers is None:
        return CheckResult(
            "00-1",
            True,
            "本数据集没有资产余额,跳过。" if lang == "zh" else "No AUM in this dataset; skipped.",
        )
    expected = float(tiers.loc[tiers["tier"].isin(["wealth", "private"]), "aum_share"].sum())
    return check(
        "00-1",
        answer,
        expected,
        lang,
        tolerance=1e-3,
        hint_zh="提示:在层级表里把 wealth 和 private 两行的 aum_share 相加,结果是 0 到 1 之间的小数。",
        hint_en="Hint: add the aum_share of the wealth and private rows of the tier table; a fraction between 0 and 1.",
        validate=_fraction,
    )


def check_mean_to_median(answer, kpis: list[dict], lang: str = "zh") -> CheckResult:
    """Exercise 00-2: average AUM divided by median AUM (how concentrated the book is)."""
    values = {record["key"]: record["value"] for record in kpis}
    if not values.get("ov_median_aum"):
        return CheckResult(
            "00-2", True, "没有资产中位数,跳过。" if lang == "zh" else "No median AUM; skipped."
        )
    expected = values["ov_avg_aum"] / values["ov_median_aum"]
    return check(
        "00-2",
        answer,
        expected,
        lang,
        tolerance=1e-3,
        hint_zh="提示:用核心指标表中的户均资产除以资产中位数。",
        hint_en="Hint: divide the average AUM by the median AUM from the key-figures table.",
    )


def check_biggest_gap(answer, penetration, lang: str = "zh") -> CheckResult:
    """Exercise 00-3: code of the cross-sell product with the lowest penetration."""
    from helpers.config import cross_sell_products

    candidates = penetration[penetration["code"].isin(cross_sell_products())]
    if candidates.empty:
        candidates = penetration
    if candidates.empty:
        return CheckResult(
            "00-3", True, "没有产品数据,跳过。" if lang == "zh" else "No product data; skipped."
        )
    expected = candidates.sort_values(["penetration", "code"]).iloc[0]["code"]
    return check(
        "00-3",
        answer,
        expected,
        lang,
        hint_zh="提示:在渗透率表中找 penetration 最小的交叉销售产品,答案是产品代码(如 'fund')。",
        hint_en="Hint: find the cross-sell product with the smallest penetration; answer with its code (e.g. 'fund').",
        validate=lambda a: (
            None
            if isinstance(a, str)
            else (
                "答案应是产品代码字符串。"
                if lang == "zh"
                else "The answer should be a product code string."
            )
        ),
    )


def _fraction(answer) -> str | None:
    if not isinstance(answer, (int, float)):
        return "The answer should be a number."
    if not 0 <= answer <= 1:
        return f"A share lies between 0 and 1, but you gave {answer!r}."
    return None


# ----------------------------------------------------------------------------- 05 exercises
def _summary_values(table) -> dict:
    return dict(zip(table["key"], table["value"], strict=True))


def _skipped(exercise: str, lang: str) -> CheckResult:
    return CheckResult(
        exercise,
        True,
        "本数据集没有这个指标,跳过。"
        if lang == "zh"
        else "This dataset has no such indicator; skipped.",
    )


def check_aum_per_customer(answer, table, lang: str = "zh") -> CheckResult:
    """Exercise 05-1: total AUM divided by active customers."""
    values = _summary_values(table)
    if not values.get("ov_active_customers") or "ov_total_aum" not in values:
        return _skipped("05-1", lang)
    return check(
        "05-1",
        answer,
        values["ov_total_aum"] / values["ov_active_customers"],
        lang,
        tolerance=1e-4,
        hint_zh="提示:在 `table` 中找到 key 为 ov_total_aum 和 ov_active_customers 的两行,用前者除以后者。",
        hint_en="Hint: take the rows with key ov_total_aum and ov_active_customers in `table` and divide.",
    )


def check_aum_at_risk_share(answer, table, lang: str = "zh") -> CheckResult:
    """Exercise 05-2: AUM at risk as a share of total AUM."""
    values = _summary_values(table)
    if "aum_at_risk" not in values or not values.get("ov_total_aum"):
        return _skipped("05-2", lang)
    return check(
        "05-2",
        answer,
        values["aum_at_risk"] / values["ov_total_aum"],
        lang,
        tolerance=1e-4,
        hint_zh="提示:aum_at_risk 除以 ov_total_aum,结果在 0 到 1 之间。",
        hint_en="Hint: aum_at_risk divided by ov_total_aum; a fraction between 0 and 1.",
        validate=_fraction,
    )


def check_repeat_campaign(answer, table, lang: str = "zh") -> CheckResult:
    """Exercise 05-3: does repeating the campaign pay (ROI above zero)?"""
    values = _summary_values(table)
    if "campaign_roi" not in values:
        return _skipped("05-3", lang)
    return check(
        "05-3",
        answer,
        bool(values["campaign_roi"] > 0),
        lang,
        hint_zh="提示:看 campaign_roi 是否大于 0;答案是 True 或 False。",
        hint_en="Hint: is campaign_roi above zero? Answer True or False.",
        validate=lambda a: (
            None
            if isinstance(a, bool)
            else (
                "答案应是 True 或 False。"
                if lang == "zh"
                else "The answer should be True or False."
            )
        ),
    )


# ----------------------------------------------------------------------------- shared by the domain checks
def say(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def skip(exercise: str, lang: str, zh: str, en: str) -> CheckResult:
    """Pass with an explanation: the data cannot support this exercise."""
    return CheckResult(exercise, True, say(lang, f"跳过:{zh}", f"Skipped: {en}"))


def is_number(answer: Any) -> bool:
    return (
        isinstance(answer, numbers.Real)
        and not isinstance(answer, bool)
        and math.isfinite(float(answer))
    )


def as_number(answer: Any) -> Any:
    """numpy and pandas scalars -> Python numbers, so the comparison in ``check`` applies."""
    return float(answer) if is_number(answer) else answer


def share_problem(answer: Any, lang: str) -> str | None:
    """Message when ``answer`` is not a share between 0 and 1."""
    if not is_number(answer):
        return say(
            lang,
            f"答案应是 0 到 1 之间的小数,而你给的是 {type(answer).__name__}。",
            f"The answer should be a fraction between 0 and 1, not a {type(answer).__name__}.",
        )
    if not 0 <= float(answer) <= 1:
        return say(
            lang,
            f"比例在 0 到 1 之间,而你给的是 {answer!r}(如果是百分数,请除以 100)。",
            f"A share lies between 0 and 1, but you gave {answer!r} (divide a percentage by 100).",
        )
    return None


from helpers.course_propensity import *  # noqa: E402,F401,F403
from helpers.course_retention import *  # noqa: E402,F401,F403
from helpers.course_survival import *  # noqa: E402,F401,F403
from helpers.course_tiering import *  # noqa: E402,F401,F403
