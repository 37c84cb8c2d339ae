"""Self-checks for course exercises: one result type, one comparison, shared wording helpers.

Each exercise in a learner notebook ends with a ``check`` cell calling a ``check_*`` function of
this package. A check compares the learner's answer with the value computed from the same data
and says, in the learner's language, whether it is right and what to look at if not.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


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


def fraction_problem(answer) -> str | None:
    if not isinstance(answer, (int, float)):
        return "The answer should be a number."
    if not 0 <= answer <= 1:
        return f"A share lies between 0 and 1, but you gave {answer!r}."
    return None
