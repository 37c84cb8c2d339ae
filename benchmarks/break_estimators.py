"""Break each estimator on purpose and show that its ground-truth test fails (``make mutations``).

For every case: the named test is run once with the code as it is (it must pass) and once
with the estimator broken in memory (it must fail). The break is a monkeypatch applied by a
pytest plugin object before collection, in a fresh interpreter per run (test modules bind
names at import, so one process per run keeps the breaks apart). Nothing is written to the
source tree; the results go to ``benchmarks/results/mutations.json`` and a Markdown table is
printed (docs/test-evidence.md records one run).

Usage::

    python benchmarks/break_estimators.py            # every case
    python benchmarks/break_estimators.py km_entry   # named cases only
    python benchmarks/break_estimators.py --list

Not a test module (pytest collects ``test_*.py`` only): it runs slow ground-truth tests one
at a time, one after the other, and takes several minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "mutations.json"

RT = "tests/retention/test_retention_truth.py"
ST = "tests/survival/test_survival_truth.py"
PT = "tests/propensity/test_propensity_truth.py"
KT = "tests/test_kpi_significance.py"
DT = "tests/retention/test_decisions.py"


# ----------------------------------------------------------------------------- the breaks
def swap_fee_waiver_and_control(mp):
    """evaluate_campaign reads the fee-waiver arm as control and control as fee waiver."""
    from helpers import retention

    original = retention.evaluate_campaign

    def broken(frame, *args, **kwargs):
        arm = frame["arm"].replace({"fee_waiver": "control", "control": "fee_waiver"})
        return original(frame.assign(arm=arm), *args, **kwargs)

    mp.setattr(retention, "evaluate_campaign", broken)


def ancova_raw_difference(mp):
    """ANCOVA reports the raw difference in means with the adjusted interval's width."""
    from helpers import retention
    from helpers.retention import ab

    original = ab.ancova_difference

    def broken(treated_outcome, treated_covariate, control_outcome, control_covariate, *a, **k):
        result = original(treated_outcome, treated_covariate, control_outcome, control_covariate,
                          *a, **k)  # fmt: skip
        raw = float(np.nanmean(treated_outcome) - np.nanmean(control_outcome))
        shift = raw - result["difference"]
        return {**result, "difference": raw, "ci_low": result["ci_low"] + shift,
                "ci_high": result["ci_high"] + shift}  # fmt: skip

    mp.setattr(ab, "ancova_difference", broken)
    mp.setattr(retention, "ancova_difference", broken)


def _patch_km(mp, change: Callable[[pd.DataFrame], pd.DataFrame], with_entry: bool = True):
    from helpers import survival
    from helpers.survival import curves

    original = curves.fit_kaplan_meier

    def broken(frame, group=None, entry_col="entry", alpha=0.05, min_size=30):
        entry = entry_col if with_entry else None
        return original(change(frame), group, entry, alpha, min_size)

    mp.setattr(curves, "fit_kaplan_meier", broken)
    mp.setattr(survival, "fit_kaplan_meier", broken)


def km_enters_a_month_early(mp):
    """Kaplan-Meier puts customers at risk one month before the generator's at-risk rule."""
    _patch_km(mp, lambda f: f.assign(entry=(f["entry"] - 1).clip(lower=0)))


def km_without_delayed_entry(mp):
    """Kaplan-Meier ignores delayed entry (every customer at risk from month 0)."""
    _patch_km(mp, lambda f: f, with_entry=False)


def _patch_cox_design(mp, column: str, change: Callable[[pd.Series], pd.Series]):
    from helpers.survival.cox import ChurnCox

    original = ChurnCox.design

    def broken(self, frame):
        design = original(self, frame)
        if column in design.columns:
            design[column] = change(design[column])
        return design

    mp.setattr(ChurnCox, "design", broken)


def cox_payroll_sign_flipped(mp):
    """The Cox design codes payroll the wrong way round (its coefficient flips sign)."""
    _patch_cox_design(mp, "payroll", lambda x: 1 - x)


def cox_log_aum_doubled(mp):
    """The Cox design carries log AUM at twice its scale (its coefficient halves)."""
    _patch_cox_design(mp, "log_aum", lambda x: 2 * x)


def draining_counted_not_removed(mp):
    """Survival frames count the already-draining customers but keep them (C-index, Cox)."""
    from helpers.survival import workflow

    original = workflow.without_draining

    def broken(abt, ds, as_of, churn):
        counted = original(abt, ds, as_of, churn)
        result = abt.reset_index(drop=True)
        result.attrs.update(counted.attrs)
        return result

    mp.setattr(workflow, "without_draining", broken)


def _patch_holdout_probabilities(mp, change: Callable[[pd.Series], pd.Series]):
    from helpers.propensity import models

    original = models.CrossSellModels.fit

    def broken(self, frame):
        original(self, frame)
        holdout = self.holdout_
        self.holdout_ = holdout.assign(
            probability=holdout.groupby("product")["probability"].transform(change)
        )
        return self

    mp.setattr(models.CrossSellModels, "fit", broken)


def constant_probabilities(mp):
    """Every customer gets the product's average take-up probability (no ranking at all)."""
    _patch_holdout_probabilities(mp, lambda p: pd.Series(p.mean(), index=p.index))


def probabilities_inflated(mp):
    """Probabilities 30% too high (right ranking, wrong level)."""
    _patch_holdout_probabilities(mp, lambda p: (1.3 * p).clip(upper=1))


def _patch_gate(mp, change: Callable[[pd.DataFrame], pd.DataFrame]):
    from helpers.retention import last_campaign

    original = last_campaign.uplift_evidence
    mp.setattr(last_campaign, "uplift_evidence", lambda *a, **k: change(original(*a, **k)))


def gate_always_open(mp):
    """The evidence gate lets every uplift model into the plan, whatever its Qini."""
    _patch_gate(mp, lambda t: t.assign(uses_model=True))


def gate_or_instead_of_and(mp):
    """The gate asks for Qini above random OR above risk-only (not both)."""
    _patch_gate(mp, lambda t: t.assign(uses_model=t["beats_random"] | t["beats_risk"]))


def candidates_scored_inverted(mp):
    """Candidates are scored with the uplift model's sign flipped (bands from the campaign)."""
    from helpers.retention import next_campaign

    original = next_campaign._candidate_scores

    def broken(uplift, evidence, candidates):
        oof, scored = original(uplift, evidence, candidates)
        return oof, {k: -np.asarray(v, dtype=float) for k, v in scored.items()}

    mp.setattr(next_campaign, "_candidate_scores", broken)


def segments_not_shrunk(mp):
    """The plan counts on each segment's raw effect (no shrinkage towards the pooled one)."""
    from helpers.retention import segments

    original = segments._shrink

    def broken(table, pooled, pooled_se):
        result = original(table, pooled, pooled_se)
        raw = result["log_rr"].notna() & (result["se_log_rr"] > 0)
        rr = np.exp(result["log_rr"])
        return result.assign(
            shrunk=np.where(raw, 1 - rr, result["shrunk"]),
            shrunk_se=np.where(raw, rr * result["se_log_rr"], result["shrunk_se"]),
            weight=np.where(raw, 1.0, result["weight"]),
        )

    mp.setattr(segments, "_shrink", broken)


def risk_not_carried_to_the_horizon(mp):
    """The 6-month churn probability is used as the campaign's 12-month one."""
    from helpers.retention import next_campaign

    mp.setattr(next_campaign, "horizon_risk", lambda p, churn_horizon, horizon: np.asarray(p))


def raw_model_uplift(mp):
    """The plan counts on the uplift model's raw predictions (no gate, no measured bands)."""
    from helpers.retention import next_campaign

    original = next_campaign.planning_uplift

    def broken(candidates, campaign, offers, *args, **kwargs):
        uplift, segments = original(candidates, campaign, offers, *args, **kwargs)
        scores = args[6] if len(args) >= 7 else kwargs["candidate_scores"]
        for offer in offers:
            reached = uplift[offer].notna().to_numpy()
            uplift[offer] = np.where(reached, np.asarray(scores[offer], dtype=float), np.nan)
        return uplift, segments.assign(basis="model")

    mp.setattr(next_campaign, "planning_uplift", broken)


def flat_offer_cost(mp):
    """Every candidate is charged the offer's average cost (the old flat arm average)."""
    from helpers.retention import next_campaign

    original = next_campaign.offer_cost_matrix

    def broken(*args, **kwargs):
        costs = original(*args, **kwargs)
        return costs.apply(lambda column: pd.Series(column.mean(), index=column.index))

    mp.setattr(next_campaign, "offer_cost_matrix", broken)


def interval_check_dropped(mp):
    """KPI records are facts whatever their interval (the significance check removed)."""
    from helpers import formatting

    original = formatting.kpi

    def broken(*args, **kwargs):
        record = original(*args, **kwargs)
        if record.get("significant") is False and record.get("lower") is not None:
            record["significant"] = True
        return record

    mp.setattr(formatting, "kpi", broken)


# ----------------------------------------------------------------------------- the cases
@dataclass(frozen=True)
class Case:
    name: str
    finding: str
    test: str
    breaks: Callable


CASES = [
    Case("ab_swap_sample", "A/B effect vs truth (sample)",
         f"{RT}::test_ab_estimates_are_within_3_se_of_the_truth_on_the_sample",
         swap_fee_waiver_and_control),
    Case("ab_ancova_raw", "A/B AUM effect vs truth (ANCOVA)",
         f"{RT}::test_ab_estimates_are_within_3_se_of_the_truth_on_the_sample",
         ancova_raw_difference),
    Case("ancova_unit_raw", "A/B AUM effect vs truth (ANCOVA)",
         f"{DT}::test_ancova_removes_chance_imbalance_in_the_pre_period_balance",
         ancova_raw_difference),
    Case("ancova_campaign_raw", "A/B AUM effect vs truth (ANCOVA)",
         f"{DT}::test_evaluate_campaign_adjusts_aum_after_for_aum_before",
         ancova_raw_difference),
    Case("km_entry_early", "KM S(36) vs person-month truth",
         f"{ST}::test_kaplan_meier_matches_the_person_month_truth", km_enters_a_month_early),
    Case("km_no_entry", "KM S(36) vs person-month truth",
         f"{ST}::test_kaplan_meier_matches_the_person_month_truth", km_without_delayed_entry),
    Case("cox_sign", "Notebook Cox signs and sizes vs truth",
         f"{ST}::test_the_notebooks_cox_model_recovers_true_signs_and_sizes",
         cox_payroll_sign_flipped),
    Case("cox_scale", "Notebook Cox signs and sizes vs truth",
         f"{ST}::test_the_notebooks_cox_model_recovers_true_signs_and_sizes",
         cox_log_aum_doubled),
    Case("cox_draining", "Notebook Cox signs and sizes vs truth",
         f"{ST}::test_the_notebooks_cox_model_recovers_true_signs_and_sizes",
         draining_counted_not_removed),
    Case("cindex_draining", "C-index on customers not draining",
         f"{ST}::test_concordance_is_measured_on_customers_not_yet_draining",
         draining_counted_not_removed),
    Case("calibration_constant", "Propensity calibration (SE tolerance, correlation)",
         f"{PT}::test_probabilities_are_calibrated", constant_probabilities),
    Case("calibration_inflated", "Propensity calibration (SE tolerance, correlation)",
         f"{PT}::test_probabilities_are_calibrated", probabilities_inflated),
    Case("plan_gate_open", "Plan value within 15% of truth-scored value",
         f"{RT}::test_the_plans_value_is_within_15_percent_of_its_truth_scored_value",
         gate_always_open),
    Case("plan_inverted", "Plan value within 15% of truth-scored value",
         f"{RT}::test_the_plans_value_is_within_15_percent_of_its_truth_scored_value",
         candidates_scored_inverted),
    Case("plan_not_shrunk", "Plan value within 15% of truth-scored value",
         f"{RT}::test_the_plans_value_is_within_15_percent_of_its_truth_scored_value",
         segments_not_shrunk),
    Case("plan_horizon", "Plan value within 15% of truth-scored value",
         f"{RT}::test_the_plans_value_is_within_15_percent_of_its_truth_scored_value",
         risk_not_carried_to_the_horizon),
    Case("plan_raw_model", "Plan value within 15% of truth-scored value",
         f"{RT}::test_the_plans_value_is_within_15_percent_of_its_truth_scored_value",
         raw_model_uplift),
    Case("plan_flat_cost", "Plan value within 15% of truth-scored value",
         f"{RT}::test_the_plans_value_is_within_15_percent_of_its_truth_scored_value",
         flat_offer_cost),
    Case("reach_flat_cost", "Offer costs by rule (plan on the sample)",
         f"{RT}::test_the_plan_reaches_only_the_customers_each_offer_can_reach",
         flat_offer_cost),
    Case("fallback_gate_open", "Fallback with a useless uplift model",
         f"{RT}::test_a_useless_uplift_model_makes_the_plan_fall_back_to_the_ab_effects",
         gate_always_open),
    Case("fallback_gate_or", "Fallback with a useless uplift model",
         f"{RT}::test_a_useless_uplift_model_makes_the_plan_fall_back_to_the_ab_effects",
         gate_or_instead_of_and),
    Case("kpi_format", "No KPI stated as a fact when its interval crosses zero",
         f"{KT}::test_an_estimate_crossing_zero_reads_not_significant", interval_check_dropped),
    Case("kpi_index_summary", "No KPI stated as a fact when its interval crosses zero",
         f"{KT}::test_the_index_and_the_summary_never_state_it_as_a_fact",
         interval_check_dropped),
    Case("ab_swap_big_bank", "A/B effect vs truth (60k bank, CI excludes zero)",
         f"{RT}::test_ab_estimates_recover_the_truth_on_a_larger_bank",
         swap_fee_waiver_and_control),
]  # fmt: skip
BY_NAME = {case.name: case for case in CASES}


# ----------------------------------------------------------------------------- one run
class Break:
    """Pytest plugin: apply a break before collection, undo it at the end; record failures."""

    def __init__(self, breaks: Callable | None):
        self.breaks, self.failures, self.passed = breaks, [], 0
        self.patch = pytest.MonkeyPatch()

    def pytest_sessionstart(self, session):
        if self.breaks is not None:
            self.breaks(self.patch)

    def pytest_sessionfinish(self, session, exitstatus):
        self.patch.undo()

    def pytest_runtest_logreport(self, report):
        if report.failed:
            # the first "E" line of the report (with -vv: the assertion's values in full)
            lines = [line[1:].strip() for line in str(report.longrepr).splitlines()]
            errors = [
                line
                for line, raw in zip(lines, str(report.longrepr).splitlines(), strict=True)
                if raw.startswith("E ") and line
            ]
            message = errors[0] if errors else report.longrepr.reprcrash.message
            self.failures.append(f"{report.when}: {message[:400]}")
        elif report.when == "call" and report.passed:
            self.passed += 1


def run_one(test: str, breaks: Callable | None) -> dict:
    plugin = Break(breaks)
    start = time.perf_counter()
    code = pytest.main([test, "-p", "no:cacheprovider", "-x", "-vv"], plugins=[plugin])
    return {
        "exit_code": int(code),
        "result": "PASS" if code == 0 and plugin.passed else "FAIL",
        "message": plugin.failures[0] if plugin.failures else "",
        "seconds": round(time.perf_counter() - start, 1),
    }


def _in_child(test: str, case: str | None) -> dict:
    command = [sys.executable, __file__, "--child", test, case or "-"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        return {"result": "ERROR", "message": done.stderr.strip()[-300:], "seconds": None}
    return json.loads(lines[-1][len("RESULT ") :])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        test, case = argv[1], argv[2]
        outcome = run_one(test, None if case == "-" else BY_NAME[case].breaks)
        print("RESULT " + json.dumps(outcome), flush=True)
        return 0
    if argv[:1] == ["--list"]:
        for case in CASES:
            print(f"{case.name:22} {case.test}")
        return 0
    unknown = [name for name in argv if name not in BY_NAME]
    if unknown:
        print(f"unknown case(s) {unknown}; --list shows them", file=sys.stderr)
        return 2
    cases = [BY_NAME[name] for name in argv] if argv else CASES
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    correct: dict[str, dict] = {}
    status = 0
    for case in cases:
        if case.test not in correct:
            correct[case.test] = _in_child(case.test, None)
            print(f"[correct] {case.test}: {correct[case.test]['result']}", flush=True)
        broken = _in_child(case.test, case.name)
        print(f"[{case.name}] {broken['result']} {broken['message']}", flush=True)
        results[case.name] = {
            "finding": case.finding,
            "test": case.test,
            "break": (case.breaks.__doc__ or "").strip(),
            "correct": correct[case.test],
            "broken": broken,
        }
        if correct[case.test]["result"] != "PASS" or broken["result"] != "FAIL":
            status = 1
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print("\n| finding | test | break | correct | broken | failure message |")
    print("|---|---|---|---|---|---|")
    for name in [c.name for c in CASES if c.name in results]:
        row = results[name]
        message = row["broken"]["message"].replace("|", "\\|")
        print(f"| {row['finding']} | `{row['test'].split('::')[1]}` | {row['break']} | "
              f"{row['correct']['result']} | {row['broken']['result']} | {message} |")  # fmt: skip
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
