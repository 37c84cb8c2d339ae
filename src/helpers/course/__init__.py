"""The training course: learner and solution editions, exercise self-checks, the glossary.

This face is the package's only public import: ``from helpers import course``. Modules:
``checks`` (results, the comparison, slips, the exercise registry), one module of checks per
notebook (``overview``, ``tiering``, ``survival``, ``propensity``, ``retention``, ``summary``),
``build`` (editions, README), ``glossary``, ``progress`` (the trainer's view).
``fishpond lab`` lives in :mod:`helpers.lab`, which starts without loading the checks.

The names load on first use (PEP 562): a notebook's ``from helpers import course`` costs
nothing until it calls a check, and then only that notebook's module is imported (the
checks of 02 and 03 bring lifelines and scikit-learn: about 1.5 s of start-up that 00, 01
and 05 no longer pay). Names from ``checks``, ``build`` and ``progress`` load every
notebook's checks first, so the exercise registry is complete whenever it is read.
"""

from __future__ import annotations

import importlib

_SOURCES: dict[str, tuple[str, ...]] = {
    "helpers.course.build": (
        "COURSE_TAGS",
        "LANG_TAGS",
        "build_course",
        "cli_course_build",
        "count_exercises",
        "course_notebook",
        "course_readme",
        "course_units",
        "exercise_headings",
    ),
    "helpers.course.checks": (
        "CHECK_MIME",
        "EXERCISES",
        "CheckResult",
        "Exercise",
        "Message",
        "Slip",
        "as_number",
        "bool_problem",
        "check",
        "code_problem",
        "count_problem",
        "exercise",
        "exercises",
        "inverted_slip",
        "is_number",
        "label_slips",
        "msg",
        "number_problem",
        "percent_slip",
        "share_problem",
        "sign_slip",
        "skip",
    ),
    "helpers.course.glossary": (
        "find_clashes",
        "glossary",
        "glossary_markdown",
        "glossary_page",
        "glossary_sources",
        "label_mismatches",
        "term",
    ),
    "helpers.course.overview": (
        "check_biggest_gap",
        "check_mean_to_median",
        "check_top_tier_aum_share",
    ),
    "helpers.course.progress": (
        "cli_course_progress",
        "course_progress",
        "notebook_progress",
        "progress_report",
    ),
    "helpers.course.propensity": (
        "check_propensity_co_holding_lift",
        "check_propensity_pipeline_product",
        "check_propensity_top_decile_lift",
        "check_propensity_top_share_capture",
    ),
    "helpers.course.retention": (
        "check_retention_claim_effect",
        "check_retention_stop_budget",
        "check_retention_sure_things",
        "check_retention_visit_break_even",
    ),
    "helpers.course.summary": (
        "check_aum_at_risk_share",
        "check_aum_per_customer",
        "check_repeat_campaign",
    ),
    "helpers.course.survival": (
        "check_survival_entry_bias",
        "check_survival_s36_gap",
        "check_survival_soft_hard_aum",
        "check_survival_top_tier_risk_share",
    ),
    "helpers.course.tiering": (
        "check_tiering_bridge_driver",
        "check_tiering_downgrade_share",
        "check_tiering_rm_customers",
        "check_tiering_threshold_move",
    ),
}
# ``glossary`` is both a module and its main function: bound now (importing the module on
# first use would leave the module object under the function's name).
from helpers.course.glossary import glossary  # noqa: E402, F401

_HOME = {name: module for module, names in _SOURCES.items() for name in names}
# Modules whose names read or build the exercise registry: every check module first.
_REGISTRY = ("helpers.course.checks", "helpers.course.build", "helpers.course.progress")
_CHECKS = tuple(
    f"helpers.course.{name}"
    for name in ("overview", "tiering", "survival", "propensity", "retention", "summary")
)


def __getattr__(name: str):
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module in _REGISTRY:
        for checks in _CHECKS:
            importlib.import_module(checks)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


__all__ = [name for names in _SOURCES.values() for name in names]
