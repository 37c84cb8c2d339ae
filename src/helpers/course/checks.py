"""Self-checks for course exercises: one result type, one comparison, the catalogue of slips.

Each exercise in a learner notebook ends with a ``check`` cell calling a ``check_*`` function of
this package. A check compares the learner's answer with the value computed from the same data
and says, in the learner's language, whether it is right and, if not, what went wrong.

Three rules hold for every check:

- **Words come from the catalogue.** Every sentence a learner reads is a key of
  ``resources/locales/course.yaml`` (zh and en), rendered with :func:`helpers.i18n.t`; check code
  builds :class:`Message` objects, never literal text.
- **Diagnose, don't restate.** A check lists the common wrong answers of its exercise as
  :class:`Slip` values (the inverted ratio, a percentage for a fraction, a label for a code, the
  wrong denominator, the sign) and, when the answer matches one, names the slip without
  revealing the right value.
- **Never a traceback.** The :func:`exercise` decorator registers the check under the number the
  notebook shows ("01-3"), turns a :class:`~helpers.formatting.Skipped` argument into ``None``,
  and reports an unexpected error as a failed check instead of raising.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from helpers import i18n
from helpers.formatting import is_skipped

#: MIME type of the machine-readable copy of a check result kept in the notebook's outputs
#: (``fishpond course progress`` reads it; JupyterLab and nbconvert ignore it).
CHECK_MIME = "application/vnd.fishpond.check+json"
#: What a check can report: ``skipped`` counts as passed (the data cannot support it).
STATUSES = ("passed", "skipped", "wrong", "unanswered", "error")
PASSING = ("passed", "skipped")


# ----------------------------------------------------------------------------- messages
@dataclass(frozen=True)
class Message:
    """A catalogue key and its values, rendered in the learner's language when shown."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def render(self, lang: str) -> str:
        values = {
            name: value.render(lang) if isinstance(value, Message) else value
            for name, value in self.values.items()
        }
        return i18n.t(self.key, lang, **values)


def msg(key: str, **values: Any) -> Message:
    """Shorthand: ``msg("course_hint_00_1", key="ov_avg_aum")``."""
    return Message(key, values)


# ----------------------------------------------------------------------------- results
@dataclass
class CheckResult:
    """Outcome of one exercise check, shown as a markdown line in the notebook.

    ``status`` is one of :data:`STATUSES`; ``passed`` is true for ``passed`` and ``skipped``;
    ``reason`` is the catalogue key of what was wrong when the check could name it: the common
    slip the answer was recognised as, or the answer's wrong shape.
    """

    exercise: str
    passed: bool
    message: str
    lang: str = "zh"
    status: str = ""
    reason: str | None = None

    def __post_init__(self) -> None:
        if not self.status:
            self.status = "passed" if self.passed else "wrong"

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.passed else "❌"
        title = i18n.t("course_exercise", self.lang, id=self.exercise)
        return f"{mark} **{title}**: {self.message}"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        text = self._repr_markdown_()
        record = {
            "exercise": self.exercise,
            "status": self.status,
            "passed": self.passed,
            "lang": self.lang,
        }
        return {"text/markdown": text, "text/plain": text, CHECK_MIME: record}

    def __repr__(self) -> str:
        return self._repr_markdown_()


# ----------------------------------------------------------------------------- slips
@dataclass(frozen=True)
class Slip:
    """A common wrong answer (``value``) and the message that explains it."""

    value: Any
    message: Message


def percent_slip(expected: Any, key: str = "course_slip_percent") -> list[Slip]:
    """The answer given as a percentage (x 100) of a fraction, a share or a difference."""
    return [Slip(float(expected) * 100, msg(key))] if is_number(expected) and expected else []


def inverted_slip(expected: Any, numerator: str, denominator: str) -> list[Slip]:
    """The ratio the wrong way round (``denominator / numerator``)."""
    if not is_number(expected) or not expected:
        return []
    message = msg("course_slip_inverted", numerator=numerator, denominator=denominator)
    return [Slip(1 / float(expected), message)]


def sign_slip(expected: Any, first: str, second: str) -> list[Slip]:
    """The difference the wrong way round (``second - first``)."""
    if not is_number(expected) or not expected:
        return []
    return [Slip(-float(expected), msg("course_slip_sign", first=first, second=second))]


def label_slips(labels: Mapping[str, str], expected: str, column: str) -> list[Slip]:
    """A display label (as a chart or table shows it) given instead of its code.

    ``labels`` maps each label, in either language, to its code; the message says whether the
    label names the right item, without writing the code out.
    """
    slips = []
    for label, code in labels.items():
        if label == code:
            continue
        key = "course_slip_label_right" if code == expected else "course_slip_label_wrong"
        slips.append(Slip(label, msg(key, label=label, column=column)))
    return slips


# ----------------------------------------------------------------------------- comparison
def is_number(answer: Any) -> bool:
    return (
        isinstance(answer, numbers.Real)
        and not isinstance(answer, bool)
        and math.isfinite(float(answer))
    )


def as_number(answer: Any) -> Any:
    """numpy and pandas scalars -> Python numbers, so the comparison in ``check`` applies."""
    if isinstance(answer, bool) or type(answer).__name__ == "bool_":
        return bool(answer)
    if isinstance(answer, numbers.Integral):
        return int(answer)
    return float(answer) if is_number(answer) else answer


def _close(answer: Any, expected: Any, tolerance: float) -> bool:
    if isinstance(expected, bool) or isinstance(answer, bool):
        return isinstance(expected, bool) and isinstance(answer, bool) and answer == expected
    if isinstance(expected, (int, float)) and isinstance(answer, (int, float)):
        if math.isnan(expected):
            return math.isnan(answer)
        return abs(answer - expected) <= tolerance * max(1.0, abs(expected))
    if isinstance(expected, (list, tuple)) and isinstance(answer, (list, tuple)):
        return len(answer) == len(expected) and all(
            _close(as_number(a), e, tolerance) for a, e in zip(answer, expected, strict=True)
        )
    return bool(answer == expected)


def _same(answer: Any, value: Any, tolerance: float) -> bool:
    try:
        return _close(answer, as_number(value), tolerance)
    except (TypeError, ValueError):
        return False


def _short(value: Any) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check(
    exercise: str,
    answer: Any,
    expected: Any,
    lang: str = "zh",
    tolerance: float = 1e-6,
    hint: Message | None = None,
    validate: Callable[[Any], Message | None] | None = None,
    slips: Iterable[Slip] = (),
) -> CheckResult:
    """Compare a learner's ``answer`` with the ``expected`` one and explain the outcome.

    Parameters
    ----------
    exercise : the exercise number the notebook shows ("00-1").
    answer : what the learner computed; ``None`` (or a Skipped) means not answered yet.
    expected : the right answer, computed from the notebook's objects (never hard-coded).
    tolerance : tolerance for numbers (and numbers inside lists), relative above 1.
    hint : what to look at when the answer is wrong and matches no known slip: names the
        objects, columns and keys the exercise needs, never the value.
    validate : returns a message when the answer has the wrong shape (a string for a number...).
    slips : common wrong answers; the first one the answer matches explains what went wrong.

    Returns
    -------
    CheckResult
        Displayed as "✅ ..." or "❌ ... why"; never raises for a wrong answer.
    """
    i18n.check_lang(lang)
    hint_text = hint.render(lang) if hint else ""
    if answer is None or is_skipped(answer):
        text = f"{i18n.t('course_unanswered', lang)} {hint_text}".strip()
        return CheckResult(exercise, False, text, lang, "unanswered")
    answer = as_number(answer)
    problem = validate(answer) if validate is not None else None
    if problem is None and _same(answer, expected, tolerance):
        return CheckResult(exercise, True, i18n.t("course_correct", lang), lang, "passed")
    wrong = i18n.t("course_wrong", lang, answer=_short(answer))
    for slip in slips:
        if _same(answer, slip.value, tolerance) and not _same(slip.value, expected, tolerance):
            text = f"{wrong} {slip.message.render(lang)}"
            return CheckResult(exercise, False, text, lang, "wrong", slip.message.key)
    if problem is not None:
        text = f"{problem.render(lang)} {hint_text}".strip()
        return CheckResult(exercise, False, text, lang, "wrong", problem.key)
    return CheckResult(exercise, False, f"{wrong} {hint_text}".strip(), lang)


def skip(exercise: str, lang: str, why: Message) -> CheckResult:
    """Pass with an explanation: the data cannot support this exercise."""
    text = i18n.t("course_skipped", lang, why=why.render(lang))
    return CheckResult(exercise, True, text, lang, "skipped")


# ----------------------------------------------------------------------------- answer shapes
def _kind(answer: Any) -> str:
    return type(answer).__name__


def share_problem(answer: Any) -> Message | None:
    """Message when ``answer`` is not a share between 0 and 1."""
    if not is_number(answer):
        return msg("course_need_share", kind=_kind(answer))
    if not 0 <= float(answer) <= 1:
        return msg("course_share_range", answer=_short(answer))
    return None


def number_problem(
    answer: Any, minimum: float = -math.inf, maximum: float = math.inf
) -> Message | None:
    """Message when ``answer`` is not a finite number in ``[minimum, maximum]``."""
    if not is_number(answer):
        return msg("course_need_number", kind=_kind(answer))
    if not minimum <= float(answer) <= maximum:
        if math.isinf(maximum):
            return msg("course_number_minimum", minimum=minimum, answer=_short(answer))
        return msg("course_number_range", low=minimum, high=maximum, answer=_short(answer))
    return None


def count_problem(answer: Any) -> Message | None:
    """Message when ``answer`` is not a whole number of customers."""
    if not is_number(answer):
        return msg("course_need_count", kind=_kind(answer))
    if float(answer) != int(answer) or answer < 0:
        return msg("course_count_whole", answer=_short(answer))
    return None


def code_problem(answer: Any, codes: Iterable[str]) -> Message | None:
    """Message when ``answer`` is not one of ``codes``."""
    codes = list(codes)
    if isinstance(answer, str) and answer in codes:
        return None
    return msg(
        "course_need_code", codes=", ".join(f"`{code}`" for code in codes), answer=_short(answer)
    )


def bool_problem(answer: Any) -> Message | None:
    """Message when ``answer`` is not True or False."""
    return None if isinstance(answer, bool) else msg("course_need_bool", answer=_short(answer))


# ----------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Exercise:
    """One exercise: the number the notebook shows, its check and the data handles it needs.

    ``handles`` are the objects, columns and keys a learner must use: the notebook names each
    one in the exercise cell (``tests/course`` checks it), so nobody has to guess a KPI key.
    """

    id: str
    function: str
    handles: tuple[str, ...]

    @property
    def notebook_prefix(self) -> str:
        return self.id.split("-")[0]

    @property
    def number(self) -> int:
        return int(self.id.split("-")[1])


EXERCISES: dict[str, Exercise] = {}


def exercise(exercise_id: str, handles: tuple[str, ...] = ()) -> Callable:
    """Register a check under its exercise number and make it safe for a learner to call.

    The decorated function takes the exercise id as its first argument; callers do not pass it
    (``course.check_mean_to_median(answer, kpis, lang)``). Skipped arguments arrive as ``None``;
    an unexpected error inside the check comes back as a failed result, never a traceback.
    """

    def register(function: Callable) -> Callable:
        signature = inspect.signature(function)
        parameters = list(signature.parameters.values())[1:]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> CheckResult:
            args = tuple(None if is_skipped(a) else a for a in args)
            kwargs = {k: None if is_skipped(v) else v for k, v in kwargs.items()}
            lang = kwargs.get("lang", "zh")
            try:
                bound = signature.bind(exercise_id, *args, **kwargs)
                bound.apply_defaults()
                lang = bound.arguments.get("lang", lang)
                i18n.check_lang(lang)
            except (TypeError, ValueError) as error:
                raise TypeError(f"{function.__name__}: {error}") from None
            try:
                return function(exercise_id, *args, **kwargs)
            except Exception as error:  # a learner's odd answer must not end in a traceback
                text = i18n.t("course_check_error", lang, error=type(error).__name__)
                return CheckResult(exercise_id, False, text, lang, "error")

        run.__signature__ = signature.replace(parameters=parameters)
        run.exercise_id = exercise_id
        if exercise_id in EXERCISES and EXERCISES[exercise_id].function != function.__name__:
            raise ValueError(f"exercise {exercise_id} is registered twice")
        EXERCISES[exercise_id] = Exercise(exercise_id, function.__name__, tuple(handles))
        return run

    return register


def exercises(prefix: str | None = None) -> list[Exercise]:
    """Every registered exercise (of one notebook, e.g. ``"02"``), in notebook order."""
    chosen = [e for e in EXERCISES.values() if prefix is None or e.notebook_prefix == prefix]
    return sorted(chosen, key=lambda e: (e.notebook_prefix, e.number))
