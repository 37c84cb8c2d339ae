"""Benchmark: the cross-sell propensity stage (helpers.propensity) at 10k, 100k and 1M customers.

Usage::

    .venv/bin/python benchmarks/bench_propensity.py                 # 10k, 100k, 1M customers
    .venv/bin/python benchmarks/bench_propensity.py --sizes 10000 100000

The ABT build is benchmarked by ``bench_abt.py``; this one starts from ABTs. It builds the
sample's training (2026-04) and scoring (2026-10) ABTs once and resamples their customers
(new ids, numeric features jittered by +-5 %) up to each size, so the models see realistic
columns and class balance. Resampling puts near-copies of a customer on both sides of the
holdout split, so gradient boosting memorises them and wins every comparison: the timings are
the *worst case* (boosting refitted on all rows for all 8 products) and the holdout AUC printed
is inflated (not a quality figure; see tests/test_propensity_truth.py for that). It then times what the notebook does: fit 8 product models
(comparison on a capped sample, winner refitted once, calibration), permutation importance on
capped holdouts, scoring every customer, next best product, call lists. Each size runs in its
own subprocess so its peak memory is its own. Results go to ``benchmarks/results/propensity.json``
and ``propensity.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_SIZES = [10_000, 100_000, 1_000_000]


def _resample(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(frame), size)
    grown = frame.iloc[rows].reset_index(drop=True)
    grown["customer_id"] = [f"{index:010d}" for index in range(size)]
    grown["rm_id"] = grown["rm_id"].where(
        grown["rm_id"].isna(), "RM" + (rows % (size // 200 + 1)).astype(str)
    )
    for column in grown.columns:
        series = grown[column]
        if pd.api.types.is_float_dtype(series) and not column.startswith("took_"):
            grown[column] = series * rng.uniform(0.95, 1.05, size)
    return grown


def run_one(size: int) -> dict:
    """Time the propensity stage at one size (runs inside its own subprocess)."""
    from helpers import propensity
    from helpers.data import load_dataset

    dataset = load_dataset()
    train_small, score_small, _ = propensity.propensity_frames(dataset, "2026-10", 6)
    train = _resample(train_small, int(size * len(train_small) / len(score_small)), 1)
    score = _resample(score_small, size, 2)
    timings = {}
    start = time.perf_counter()
    models = propensity.CrossSellModels(seed=20261031).fit(train)
    timings["fit_8_products_s"] = time.perf_counter() - start
    start = time.perf_counter()
    models.permutation_importances(train, n_repeats=3, cap=3000)
    timings["permutation_importance_s"] = time.perf_counter() - start
    start = time.perf_counter()
    scores = models.predict(score)
    timings["score_all_customers_s"] = time.perf_counter() - start
    start = time.perf_counter()
    recommendations = propensity.next_best_product(scores)
    calls = propensity.call_lists(recommendations, score[["customer_id", "rm_id", "tier"]], 20)
    listed = score.set_index("customer_id").loc[calls["customer_id"]].reset_index()
    models.reasons(listed, calls["product"], "zh")
    timings["next_best_and_call_lists_s"] = time.perf_counter() - start
    timings = {key: round(value, 2) for key, value in timings.items()}
    return {
        "customers": size,
        "training_rows": len(train),
        **timings,
        "total_s": round(sum(timings.values()), 2),
        "chosen": models.chosen_,
        "mean_holdout_auc": round(float(models.metrics_["roc_auc"].mean()), 4),
        "call_list_rows": len(calls),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
    }


def write_report(results: list[dict]) -> None:
    """Write ``propensity.json`` and ``propensity.md`` under ``benchmarks/results``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "propensity.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    lines = [
        "# Propensity stage (8 product models)",
        "",
        "Worst case: resampled customers make gradient boosting win every product, so it is",
        "refitted on all rows 8 times; the holdout AUC is inflated by near-duplicates.",
        "",
        "| customers | fit (s) | importance (s) | scoring (s) | NBP + lists (s) | total (s) | "
        "peak RSS (GB) | mean holdout AUC | load avg |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['customers']:,} | {r['fit_8_products_s']} | {r['permutation_importance_s']} | "
            f"{r['score_all_customers_s']} | {r['next_best_and_call_lists_s']} | {r['total_s']} | "
            f"{r['peak_rss_gb']} | {r['mean_holdout_auc']} | {r['load_average_1m']} |"
        )
    (RESULTS_DIR / "propensity.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md from the .json")
    args = parser.parse_args(argv)
    if args.report_only:
        write_report(json.loads((RESULTS_DIR / "propensity.json").read_text(encoding="utf-8")))
        return 0
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0
    results = []
    for size in args.sizes:
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(size)],
            capture_output=True, text=True, check=True, env=os.environ.copy(),
        )  # fmt: skip
        record = json.loads(output.stdout.strip().splitlines()[-1])
        record["load_average_1m"] = round(os.getloadavg()[0], 2)
        print(record, flush=True)
        results.append(record)
    write_report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
