"""Benchmark: uplift models fitted on capped folds vs on every campaign customer (1M bank).

Usage::

    .venv/bin/python benchmarks/bench_uplift_cap.py --data-dir /work/data   # pack_1000000

At a million customers the generated campaign has 660,000 customers; notebook 04 fits each
cross-fitting fold's T-, X- and DR-learner models on at most ``fit_sample_cap`` (100,000)
customers stratified by arm and outcome. Both fits here use the same folds and seed; every
customer is scored out of fold either way. Per offer and learner: the held-out Qini
coefficient of both, their difference, and the bootstrap standard error of the capped Qini
(customers resampled, scores fixed: the evaluation noise a difference should be read against).
Results: ``benchmarks/results/uplift_cap.json`` and ``uplift_cap.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CAP = 100_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--n-boot", type=int, default=100)
    args = parser.parse_args(argv)
    from helpers import retention
    from helpers.data import load_dataset

    load_before = os.getloadavg()[0]
    ds = load_dataset(args.data_dir / f"pack_{args.size}" / "dataset.yaml")
    campaign = retention.load_campaign(ds)
    frame = campaign.frame
    fits, seconds = {}, {}
    for label, cap in (("capped", CAP), ("all", None)):
        started = time.perf_counter()
        fits[label] = retention.uplift_models(campaign, "auto", 5, 20261031, fit_cap=cap)
        seconds[label] = round(time.perf_counter() - started, 1)
    rows = []
    arms = frame["arm"].astype(str).to_numpy()
    retained = frame["retained"].astype(float).to_numpy()
    rng = np.random.default_rng(7)
    for learner in fits["capped"].models:
        for offer in fits["capped"].models[learner].offers_:
            keep = np.isin(arms, [offer, "control"])
            treated, outcome = arms[keep] == offer, retained[keep]
            capped = fits["capped"].models[learner].oof_uplift_[offer].to_numpy()[keep]
            full = fits["all"].models[learner].oof_uplift_[offer].to_numpy()[keep]
            q_capped = retention.qini_coefficient(capped, treated, outcome)["qini"]
            q_all = retention.qini_coefficient(full, treated, outcome)["qini"]
            draws = []
            for _ in range(args.n_boot):
                pick = rng.integers(0, len(capped), len(capped))
                draws.append(
                    retention.qini_coefficient(capped[pick], treated[pick], outcome[pick])["qini"]
                )
            rows.append(
                {
                    "offer": offer,
                    "learner": learner,
                    "customers": int(keep.sum()),
                    "qini_capped": round(q_capped, 5),
                    "qini_all": round(q_all, 5),
                    "difference": round(q_all - q_capped, 5),
                    "bootstrap_se": round(float(np.std(draws, ddof=1)), 5),
                }
            )
    result = {
        "customers": args.size,
        "campaign_customers": len(frame),
        "cap": CAP,
        "seconds": seconds,
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "rows": rows,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "uplift_cap.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"# Uplift models: capped folds vs every campaign customer ({args.size:,} customers)",
        "",
        f"Campaign customers: {len(frame):,}; cap `fit_sample_cap` = {CAP:,} per fold "
        f"(stratified by arm and outcome). Fit time of the three learners: capped "
        f"{seconds['capped']} s, all rows {seconds['all']} s. Load before / after: "
        f"{result['load'][0]} / {result['load'][1]} (2 cores).",
        "",
        "The difference is read against the bootstrap standard error of the capped Qini "
        f"({args.n_boot} resamples of the evaluated customers, scores fixed).",
        "",
        "| offer | learner | customers | Qini capped | Qini all rows | difference | bootstrap SE |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['offer']} | {row['learner']} | {row['customers']:,} | "
            f"{row['qini_capped']:.5f} | {row['qini_all']:.5f} | {row['difference']:+.5f} | "
            f"{row['bootstrap_se']:.5f} |"
        )
    (RESULTS_DIR / "uplift_cap.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
