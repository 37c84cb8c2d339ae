"""Benchmark: the churn ranking model fitted on a capped sample vs on every row (1M bank).

Usage::

    .venv/bin/python benchmarks/bench_ranker_cap.py --data-dir /work/data   # pack_1000000

Notebook 02 fits the chosen churn ranker finally on at most ``fit_sample_cap`` (100,000)
customers stratified by the churn label, and its back-test refits it the same way. Here, as
in the back-test: each candidate (logistic, gradient boosting, Cox) is fitted on the frame
as of ``month - 2h`` (capped and on every row) and judged out of time on the customers as of
``month - h``, whose churn within ``h`` months is known by the report month. Per candidate:
AUC of both fits, their difference and the Hanley-McNeil standard error of the AUC.
Results: ``benchmarks/results/ranker_cap.json`` and ``ranker_cap.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from sklearn.metrics import roc_auc_score

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CAP = 100_000
HORIZON = 6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--size", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    from helpers import survival
    from helpers.config import ChurnDefinition
    from helpers.data import load_dataset
    from helpers.features import build_abt
    from helpers.months import month_label

    load_before = os.getloadavg()[0]
    ds = load_dataset(args.data_dir / f"pack_{args.size}" / "dataset.yaml")
    churn = ChurnDefinition()
    month = ds.months()[-1]
    fit_as_of, as_of = month_label(month, -2 * HORIZON), month_label(month, -HORIZON)
    fit_abt = survival.without_draining(
        build_abt(ds, fit_as_of, HORIZON, churn), ds, fit_as_of, churn
    )
    fit_frame = survival.prepare_frame(fit_abt, followup_months=HORIZON)
    del fit_abt
    scored = survival.without_draining(build_abt(ds, as_of, HORIZON, churn), ds, as_of, churn)
    known = scored["churn_label"].notna().to_numpy()
    scored = scored[known].reset_index(drop=True)
    outcome = scored["churn_label"].astype(bool).to_numpy()
    covariates = survival.available_covariates(fit_frame, [])
    cox = survival.ChurnCox(covariates, 0.01).fit(survival.capped(fit_frame, CAP, 20261031))
    rows = []
    for kind in survival.RANKING_MODELS:
        result = {"model": kind}
        for label, cap in (("capped", CAP), ("all", None)):
            started = time.perf_counter()
            ranker = survival.ChurnRanker(
                "panel", cox, HORIZON, seed=20261031, candidates=[kind], fit_cap=cap,
                cross_validate=False,
            ).fit(fit_frame)  # fmt: skip
            result[f"seconds_{label}"] = round(time.perf_counter() - started, 1)
            result[f"rows_{label}"] = int(ranker.fitted_rows_)
            result[f"auc_{label}"] = float(roc_auc_score(outcome, ranker.predict(scored)))
        positives, negatives = int(outcome.sum()), int((~outcome).sum())
        low, high = survival.auc_interval(result["auc_capped"], positives, negatives)
        result["se"] = (high - low) / (2 * 1.959964)
        result["difference"] = result["auc_all"] - result["auc_capped"]
        rows.append(result)
        print(result, flush=True)
    output = {
        "customers": args.size,
        "fit_as_of": fit_as_of,
        "judged_as_of": as_of,
        "judged_customers": len(scored),
        "churners": int(outcome.sum()),
        "cap": CAP,
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "rows": rows,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "ranker_cap.json").write_text(json.dumps(output, indent=1) + "\n")
    lines = [
        f"# Churn ranker: capped final fit vs every row ({args.size:,} customers)",
        "",
        f"Fitted as of {fit_as_of} on the customers active then (capped: {CAP:,} stratified by "
        f"the churn label; all: {rows[0]['rows_all']:,}); judged out of time on the "
        f"{len(scored):,} customers active as of {as_of} ({int(outcome.sum()):,} churned within "
        f"{HORIZON} months), as the back-test of notebook 02 does. Target: within 0.005 AUC. "
        f"Load before / after: {output['load'][0]} / {output['load'][1]} (2 cores).",
        "",
        "| model | AUC capped | AUC all rows | difference | AUC standard error | fit s capped / all |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['auc_capped']:.4f} | {row['auc_all']:.4f} | "
            f"{row['difference']:+.4f} | {row['se']:.4f} | "
            f"{row['seconds_capped']} / {row['seconds_all']} |"
        )
    (RESULTS_DIR / "ranker_cap.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
