"""Every exercise check of the six notebooks, in both languages, against its common slips.

One table holds, per exercise, small hand-made inputs, the right answer worked out by hand, and
the wrong answers learners give (the inverted ratio, a percentage for a fraction, a label for a
code, the wrong denominator, the sign, ...) with the explanation each must get. The tests then
check, for every exercise and language:

- the right answer passes, a missing one says so, and each slip is named (``result.reason``);
- the message is in the learner's language (the bug was a Chinese check answering in English);
- no message gives the right value away;
- the exercise numbers the notebooks show are the ids the checks report, and every data handle
  a check needs (column names, KPI keys) is named in its exercise cell.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from helpers import config, course, i18n
from helpers.paths import NOTEBOOKS_DIR, PACKAGE_DIR


# ----------------------------------------------------------------------------- the table
@dataclass
class Case:
    call: Any  # (answer, lang) -> CheckResult
    right: Any
    wrong: list[tuple[Any, str | None]] = field(default_factory=list)


def _km(durations, events):
    return KaplanMeierFitter().fit(durations, event_observed=events)


def _cases() -> dict[str, Case]:
    kpis = [
        {"key": "ov_total_aum", "value": 9_000_000.0},
        {"key": "ov_avg_aum", "value": 180_000.0},
        {"key": "ov_median_aum", "value": 48_000.0},
    ]
    tiers = pd.DataFrame(
        {
            "tier": ["mass", "affluent", "wealth", "private"],
            "aum_share": [0.05, 0.17, 0.36, 0.42],
            "customer_share": [0.80, 0.15, 0.04, 0.01],
        }
    )
    penetration = pd.DataFrame(
        {
            "code": ["current_account", "time_deposit", "fund", "mortgage", "mobile_banking"],
            "name_zh": ["活期账户", "定期存款", "基金", "个人房贷", "手机银行"],
            "name_en": ["Current account", "Time deposit", "Mutual funds", "Mortgage", "Mobile"],
            "penetration": [1.0, 0.49, 0.38, 0.21, 0.77],
        }
    )
    ladder = config.resolve_ladder([50_000, 500_000, 6_000_000])
    values = [10_000, 49_999.99, 50_000, 75_000, 99_999.99, 100_000, 600_000, math.nan]
    abt = pd.DataFrame({"customer_id": list("abcdefgh"), "basis_value": values})
    grid = pd.DataFrame(
        {
            "customers": [500, 60, 30, 8, 2],
            "coverage": ["digital", "digital", "rm_shared", "rm_dedicated", "rm_dedicated"],
        }
    )
    wealth_moves = ["down"] * 4 + ["churned"] * 2 + ["up"] + ["stay"] * 13
    migration = pd.DataFrame(
        {
            "tier_before": ["wealth"] * 20 + ["mass"] * 80,
            "movement": wealth_moves + ["stay"] * 80,
        }
    )
    amounts = {"start": 1_000, "new": 50, "up": 30, "down": -180, "stay": 40, "churned": -60}
    amounts["end"] = sum(amounts.values())
    bridge = pd.DataFrame(
        {
            "step": list(amounts),
            "amount": [v * 1e6 for v in amounts.values()],
            "amount_fen": [int(v * 1e8) for v in amounts.values()],
        }
    )
    five = pd.DataFrame(
        {
            "entry": [0, 0, 30, 0, 30],
            "duration": [10, 40, 50, 20, 35],
            "event": [True, False, False, True, True],
        }
    )
    surv = pd.concat([five] * 10, ignore_index=True)  # S_naive(36) = 0.4, S_entry(36) = 2/9
    km_tier = {  # S(36): affluent 2/3, mass 1/4
        "affluent": _km([10, 40, 50], [True, False, False]),
        "mass": _km([10, 20, 30, 40], [True, True, True, False]),
    }
    final = pd.DataFrame(
        {
            "churn_type_label": ["hard"] * 2 + ["soft"] * 3 + ["none"] * 5,
            "aum": [100e3, 60e3, 200e3, 150e3, 50e3] + [80e3] * 5,
        }
    )
    warning = pd.DataFrame(
        {
            "tier": ["wealth", "private", "mass", "affluent", "mass"],
            "aum_at_risk": [300.0, 250.0, 100.0, 200.0, 150.0],
            "aum": [3000.0, 5000.0, 800.0, 1200.0, 1000.0],
        }
    )
    holdings = pd.DataFrame(
        {
            "held_wealth_mgmt": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
            "held_fund": [1, 1, 1, 0, 1, 1, 0, 0, 0, 0],
        }
    ).astype(bool)  # lift 1.5, confidence 0.75, support 0.3, P(fund) 0.5
    buyers = {0, 1, 3, 4, 10, 15, 20, 25}  # ranked by probability, highest first
    holdout = pd.DataFrame(
        {
            "product": ["fund"] * 30,
            "probability": [1 - i / 30 for i in range(30)],
            "y": [int(i in buyers) for i in range(30)],
        }
    )  # decile 1 (3 customers): 2 buyers of 8 -> lift (2/3) / (8/30) = 2.5; top 6: 4 of 8
    calls = pd.DataFrame(
        {
            "product": ["fund"] * 3 + ["insurance"] * 2 + ["time_deposit"],
            "expected_value": [100.0] * 3 + [400.0] * 2 + [100.0],
        }
    )
    evaluation = pd.DataFrame(
        {
            "metric": ["retained"] * 3,
            "offer": ["rate_coupon", "fee_waiver", "sms_only"],
            "difference": [0.04, 0.02, -0.01],
            "ci_low": [0.01, -0.01, -0.03],
        }
    )
    mix = pd.DataFrame(
        {
            "offer": ["rate_coupon", "rate_coupon", "fee_waiver"],
            "strategy": ["risk", "uplift", "risk"],
            "contacts": [300, 300, 300],
            "sure_thing": [180.0, 60.0, 170.0],
            "persuadable": [45.0, 120.0, 50.0],
        }
    )
    curve = pd.DataFrame(  # marginal returns 3.3, 1.7, 1.0, 0.4, 0.1 -> stop at 3,000
        {
            "budget": [1000.0, 2000.0, 3000.0, 4000.0, 5000.0],
            "spend": [900.0, 1800.0, 2700.0, 3600.0, 4500.0],
            "expected_net": [3000.0, 4500.0, 5400.0, 5800.0, 5900.0],
            "contacts": [10, 20, 30, 40, 50],
        }
    )
    plan = pd.DataFrame({"cost": [30.0, 30.0, 40.0], "clv": [2000.0, 3000.0, 5000.0]})
    table = pd.DataFrame(
        {
            "key": ["ov_total_aum", "ov_active_customers", "aum_at_risk", "campaign_roi"],
            "value": [1.5e9, 10_000, 6e7, 0.35],
        }
    )
    return {
        "00-1": Case(
            lambda a, lang: course.check_mean_to_median(a, kpis, lang),
            3.75,
            [
                (48_000 / 180_000, "course_slip_inverted"),
                (375.0, "course_slip_percent_multiple"),
                (187.5, "course_00_1_total"),
                ("3.75", "course_need_number"),
                (3.1, None),
            ],
        ),
        "00-2": Case(
            lambda a, lang: course.check_top_tier_aum_share(a, tiers, lang),
            0.78,
            [
                (78, "course_slip_percent"),
                (0.05, "course_slip_customer_share"),
                (0.36, "course_00_2_one_tier"),
                (0.42, "course_00_2_one_tier"),
                (0.22, "course_slip_complement"),
                (1.7, "course_share_range"),
                (0.6, None),
            ],
        ),
        "00-3": Case(
            lambda a, lang: course.check_biggest_gap(a, penetration, lang),
            "mortgage",
            [
                ("个人房贷", "course_slip_label_right"),
                ("Mortgage", "course_slip_label_right"),
                ("基金", "course_slip_label_wrong"),
                ("mobile_banking", "course_00_3_highest"),
                ("current_account", "course_00_3_base_account"),
                (0.21, "course_need_code"),
                ("fund", None),
            ],
        ),
        "01-1": Case(
            lambda a, lang: course.check_tiering_threshold_move(a, abt, ladder, lang),
            3,
            [
                (5, "course_01_1_everyone_below"),
                (4, "course_01_1_boundary"),
                (1, "course_01_1_stayers"),
                (3 / 7, "course_slip_share_for_count"),
                (2.5, "course_count_whole"),
                (6, None),
            ],
        ),
        "01-2": Case(
            lambda a, lang: course.check_tiering_rm_customers(a, grid, lang),
            40,
            [
                (10, "course_01_2_dedicated_only"),
                (30, "course_01_2_shared_only"),
                (560, "course_01_2_digital"),
                (40 / 600, "course_slip_share_for_count"),
                (41, None),
            ],
        ),
        "01-3": Case(
            lambda a, lang: course.check_tiering_downgrade_share(a, migration, lang),
            0.2,
            [
                (0.3, "course_01_3_with_churn"),
                (0.05, "course_01_3_upgrades"),
                (0.04, "course_01_3_denominator"),
                (0.8, "course_slip_complement"),
                (20, "course_slip_percent"),
                (0.25, None),
            ],
        ),
        "01-4": Case(
            lambda a, lang: course.check_tiering_bridge_driver(a, bridge, lang),
            "down",
            [
                ("降层客户", "course_slip_label_right"),
                ("Upgrades", "course_slip_label_wrong"),
                ("new", "course_01_4_sign"),
                ("end", "course_01_4_total"),
                ("stay", "course_01_4_smaller"),
                (3, "course_need_code"),
            ],
        ),
        "02-1": Case(
            lambda a, lang: course.check_survival_entry_bias(a, surv, lang),
            0.4 - 2 / 9,
            [
                (2 / 9 - 0.4, "course_02_1_sign"),
                (17.78, "course_slip_points"),
                (0.4, "course_slip_level"),
                (2 / 9, "course_slip_level"),
                (0.3, None),
            ],
        ),
        "02-2": Case(
            lambda a, lang: course.check_survival_s36_gap(a, km_tier, lang),
            5 / 12,
            [
                (-5 / 12, "course_slip_sign"),
                (41.67, "course_slip_points"),
                (2 / 3, "course_slip_level"),
                (0.25, "course_slip_level"),
                (0.5, None),
            ],
        ),
        "02-3": Case(
            lambda a, lang: course.check_survival_soft_hard_aum(a, final, lang),
            2.5,
            [
                (0.4, "course_slip_inverted"),
                (1.5, "course_02_3_count"),
                (400 / 560, "course_02_3_share"),
                (250, "course_slip_percent_multiple"),
                (3.0, None),
            ],
        ),
        "02-4": Case(
            lambda a, lang: course.check_survival_top_tier_risk_share(a, warning, lang),
            0.55,
            [
                (0.4, "course_slip_customer_share"),
                (0.45, "course_slip_complement"),
                (55, "course_slip_percent"),
                (8000 / 11000, "course_02_4_aum_column"),
                (0.6, None),
            ],
        ),
        "03-1": Case(
            lambda a, lang: course.check_propensity_co_holding_lift(a, holdings, lang),
            1.5,
            [
                (0.75, "course_03_1_confidence"),
                (0.3, "course_03_1_support"),
                (0.5, "course_03_1_base"),
                (1 / 1.5, "course_slip_lift_inverted"),
                (150, "course_slip_percent_multiple"),
                (1.2, None),
            ],
        ),
        "03-2": Case(
            lambda a, lang: course.check_propensity_top_decile_lift(a, holdout, "fund", lang),
            2.5,
            [
                (2 / 3, "course_03_2_rate"),
                (0.25, "course_03_2_capture"),
                (8 / 30, "course_03_2_base"),
                (0.4, "course_slip_lift_inverted"),
                (250, "course_slip_percent_multiple"),
                (3.0, None),
            ],
        ),
        "03-3": Case(
            lambda a, lang: course.check_propensity_top_share_capture(a, holdout, "fund", lang),
            0.5,
            [
                (0.2, "course_03_3_random"),
                (4 / 6, "course_03_3_rate"),
                (2.5, "course_03_3_lift"),
                (50, "course_slip_percent"),
                (0.625, None),
            ],
        ),
        "03-4": Case(
            lambda a, lang: course.check_propensity_pipeline_product(a, calls, lang),
            "insurance",
            [
                ("保险", "course_slip_label_right"),
                ("Mutual funds", "course_slip_label_wrong"),
                ("fund", "course_03_4_count"),
                ("time_deposit", "course_03_4_smaller"),
                ("mortgage", "course_need_code"),
            ],
        ),
        "04-1": Case(
            lambda a, lang: course.check_retention_claim_effect(a, evaluation, lang),
            ["rate_coupon"],
            [
                (["fee_waiver", "rate_coupon"], "course_04_1_positive"),
                (["fee_waiver", "rate_coupon", "sms_only"], "course_04_1_all"),
                (["加息券"], "course_04_1_label"),
                ("rate_coupon", "course_04_1_not_list"),
                (["coupon"], "course_04_1_unknown"),
                ([], None),
            ],
        ),
        "04-2": Case(
            lambda a, lang: course.check_retention_sure_things(a, mix, lang),
            180,
            [
                (0.6, "course_slip_share_for_count"),
                (60, "course_04_2_other_rule"),
                (45, "course_04_2_persuadable"),
                (300, "course_04_2_contacts"),
                (170, None),
            ],
        ),
        "04-3": Case(
            lambda a, lang: course.check_retention_stop_budget(a, curve, lang),
            3000,
            [
                (4000, "course_04_3_one_too_far"),
                (5000, "course_04_3_max_net"),
                (1000, "course_04_3_average_roi"),
                (2700, "course_04_3_spend"),
                (2000, None),
            ],
        ),
        "04-4": Case(
            lambda a, lang: course.check_retention_visit_break_even(a, plan, 5.0, 50.0, lang),
            0.0235,
            [
                (0.025, "course_04_4_kept_contact"),
                (0.01, "course_04_4_current_channel"),
                ((75 / 2000 + 75 / 3000 + 85 / 5000) / 3, "course_04_4_averaged"),
                (10000 / 235, "course_slip_inverted"),
                (2.35, "course_slip_percent"),
                (0.03, None),
            ],
        ),
        "05-1": Case(
            lambda a, lang: course.check_aum_per_customer(a, table, lang),
            150_000,
            [
                (1 / 150_000, "course_slip_inverted"),
                (15.0, "course_05_1_ten_thousand"),
                (140_000, None),
            ],
        ),
        "05-2": Case(
            lambda a, lang: course.check_aum_at_risk_share(a, table, lang),
            0.04,
            [
                (4.0, "course_slip_percent"),
                (25.0, "course_slip_inverted"),
                (6000.0, "course_05_2_customers"),
                (0.05, None),
            ],
        ),
        "05-3": Case(
            lambda a, lang: course.check_repeat_campaign(a, table, lang),
            True,
            [
                ("True", "course_05_3_text"),
                (0.35, "course_05_3_number"),
                (1, "course_need_bool"),
                (False, None),
            ],
        ),
    }


CASES = _cases()
LANGS = ("zh", "en")


# ----------------------------------------------------------------------------- language
_QUOTED = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"|“[^”]*”|P\([^)]*\)")
_CJK = re.compile(r"[\u3400-\u9fff]")
_OPTIONS = re.compile(r"`[^`]+`(?:(?:, |、| or )`[^`]+`){2,}")
_ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}(?:[ ,.;:!?-]+[A-Za-z]{2,}){2,}")


def assert_in_language(text: str, lang: str) -> None:
    """zh: Chinese, with no English phrase outside code and quotes; en: no Chinese at all."""
    plain = _QUOTED.sub(" ", text)
    if lang == "zh":
        assert _CJK.search(plain), f"not Chinese: {text}"
        english = _ENGLISH_RUN.search(plain)
        assert not english, f"English phrase {english.group(0)!r} in a Chinese message: {text}"
    else:
        assert not _CJK.search(plain), f"Chinese in an English message: {text}"


def test_the_table_covers_every_registered_exercise():
    assert sorted(CASES) == sorted(course.EXERCISES), "add the new exercise to CASES"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_each_check_passes_the_right_answer_and_asks_for_a_missing_one(exercise_id, lang):
    case = CASES[exercise_id]
    right = case.call(case.right, lang)
    assert right.passed and right.status == "passed", right
    assert right.exercise == exercise_id
    missing = case.call(None, lang)
    assert missing.status == "unanswered" and not missing.passed
    assert i18n.t("course_unanswered", lang) in missing.message
    assert_in_language(missing.message, lang)


def _renderings(value: Any) -> list[str]:
    """How a right answer could appear in a message (to make sure it does not)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [repr(value)] if value else []
    number = float(value)
    forms = {f"{number:.3g}", f"{number:.4g}", f"{number:.1%}"}
    if abs(number) >= 100:
        forms.add(f"{number:,.0f}")
    return [form for form in forms if re.search(r"[1-9]", form)]


def assert_not_given_away(message: str, answer: Any, right: Any) -> None:
    # the learner's own answer is echoed; a form equal to it is not a leak
    message = message.replace(repr(answer), " ").replace(f"{answer}", " ")
    # a list of every allowed code (a shape message) names them all, singling none out
    message = _OPTIONS.sub(" ", message)
    for form in _renderings(right):
        pattern = rf"(?<![\w.,]){re.escape(form)}(?![\w%]|\.\d)"
        assert not re.search(pattern, message), f"{form!r} gives the answer away: {message!r}"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_each_wrong_answer_is_explained_in_the_learners_language(exercise_id, lang):
    """Each slip is named, in the learner's language, without giving the right value away."""
    case = CASES[exercise_id]
    for answer, reason in case.wrong:
        result = case.call(answer, lang)
        assert not result.passed and result.status == "wrong", (answer, result)
        assert result.exercise == exercise_id
        assert result.reason == reason, f"{exercise_id} {answer!r}: {result.message}"
        assert_in_language(result.message, lang)
        assert result._repr_markdown_().startswith(
            f"❌ **{i18n.t('course_exercise', lang, id=exercise_id)}**"
        )
        if reason is None:  # no slip recognised: the hint says where to look
            assert i18n.t(f"course_hint_{exercise_id.replace('-', '_')}", lang)[:6] in (
                result.message
            )
        assert_not_given_away(result.message, answer, case.right)


def test_a_check_never_raises_on_odd_answers():
    odd = [float("nan"), "", [1, 2], pd.Series([1.0]), object()]
    for exercise_id, case in CASES.items():
        for answer in odd:
            result = case.call(answer, "zh")
            assert not result.passed, (exercise_id, answer)
            assert result.status in ("wrong", "error"), (exercise_id, answer, result)


def test_a_check_given_skipped_data_skips_in_the_learners_language():
    from helpers.formatting import Skipped

    skipped = Skipped("ov_skip_trend_flat")
    for lang in LANGS:
        result = course.check_tiering_downgrade_share(0.2, skipped, lang)
        assert result.passed and result.status == "skipped"
        assert result.message.startswith(i18n.t("course_skipped", lang, why="")[:3])
        assert_in_language(result.message, lang)


# ----------------------------------------------------------------------------- the catalogue
def _course_modules() -> list[Path]:
    return sorted((PACKAGE_DIR / "course").glob("*.py"))


def test_check_code_holds_no_learner_text():
    """Every Chinese sentence is in the catalogue: none in the check modules' strings."""
    for path in _course_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                assert not _CJK.search(node.value), f"{path.name}:{node.lineno}: {node.value!r}"


def test_every_catalogue_key_the_checks_use_exists_in_both_languages():
    catalogue = i18n.catalogue()
    used = set()
    for path in _course_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("msg", "t")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                used.add(node.args[0].value)
    assert used, "no catalogue keys found: did the checks stop using msg()?"
    missing = sorted(key for key in used if key not in catalogue)
    assert not missing, f"keys used but not in locales/course.yaml: {missing}"


def test_course_catalogue_entries_have_both_languages_and_the_same_placeholders():
    with open(PACKAGE_DIR / "resources" / "locales" / "course.yaml", encoding="utf-8") as handle:
        import yaml

        entries = yaml.safe_load(handle)
    placeholder = re.compile(r"{(\w+)")
    for key, texts in entries.items():
        assert set(texts) == {"zh", "en"}, key
        assert _CJK.search(texts["zh"]) or key == "course_exercise" or "{" in texts["zh"], key
        assert not _CJK.search(_QUOTED.sub("", texts["en"])), key
        assert set(placeholder.findall(texts["zh"])) == set(placeholder.findall(texts["en"])), key


# ----------------------------------------------------------------------------- the notebooks
def _source_notebooks():
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def _checks_in(notebook) -> list[tuple[str, str]]:
    """(check function, source of the exercise cell before it) for each check cell."""
    found, exercise_source = [], ""
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "exercise" in tags:
            exercise_source = cell.source
        if "check" in tags:
            match = re.search(r"course\.(check_\w+)\(", cell.source)
            assert match, f"a check cell that calls no course check: {cell.source!r}"
            found.append((match.group(1), exercise_source))
    return found


@pytest.mark.parametrize("path", _source_notebooks(), ids=lambda p: p.stem)
def test_exercise_numbers_shown_are_the_check_ids(path):
    notebook = nbformat.read(path, as_version=4)
    by_function = {e.function: e for e in course.EXERCISES.values()}
    checks = [by_function[name].id for name, _ in _checks_in(notebook)]
    expected = [f"{path.name[:2]}-{n}" for n in range(1, len(checks) + 1)]
    assert checks == expected, f"{path.name}: checks report {checks}"
    for lang in LANGS:
        shown = [item["id"] for item in course.exercise_headings(notebook, lang)]
        assert shown == expected, f"{path.name} ({lang}) shows {shown}, its checks say {checks}"
    registered = [e.id for e in course.exercises(path.name[:2])]
    assert registered == expected, f"{path.name}: registered {registered}"


@pytest.mark.parametrize("path", _source_notebooks(), ids=lambda p: p.stem)
def test_each_exercise_cell_names_the_data_handles_its_check_needs(path):
    notebook = nbformat.read(path, as_version=4)
    by_function = {e.function: e for e in course.EXERCISES.values()}
    for function, exercise_source in _checks_in(notebook):
        entry = by_function[function]
        assert entry.handles, f"{entry.id} declares no data handles"
        missing = [handle for handle in entry.handles if handle not in exercise_source]
        assert not missing, f"{entry.id}: the exercise cell does not name {missing}"
