"""Benchmark: does fitting on a capped sample cost model quality at a million customers?

Usage::

    .venv/bin/python benchmarks/bench_model_quality.py --data-dir /work/data          # 1M
    .venv/bin/python benchmarks/bench_model_quality.py --size 100000 --data-dir /work/data

For the propensity models (03) and the Cox churn model (02), the same pipeline is fitted
twice on the same training customers: on a sample of at most ``fit_sample_cap`` customers
(stratified by outcome, no repeats: what the notebooks do) and on every training row. The
model choice, the holdout and the evaluation are identical; only the refit differs. Quality
is the holdout ROC AUC per product (every held-out customer) and the holdout C-index (on a
seeded sample of ``--concordance-cap`` held-out customers, the same for both fits). Target
(issue 17): the capped fit within 0.005 of the all-rows fit.

Results: ``benchmarks/results/model_quality.json`` and ``model_quality.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pack import _data_folder  # noqa: E402

from helpers import propensity, survival  # noqa: E402
from helpers.config import ChurnDefinition  # noqa: E402
from helpers.data import load_dataset  # noqa: E402
from helpers.parameters import declared_defaults  # noqa: E402
from helpers.paths import NOTEBOOKS_DIR  # noqa: E402

TOLERANCE = 0.005


def propensity_quality(ds, month: str, cap: int, seed: int) -> dict:
    train, _, _ = propensity.propensity_frames(ds, month, 6, churn=ChurnDefinition())
    rows = {}
    for label, fit_cap in (("capped", cap), ("all", None)):
        started = time.perf_counter()
        models = propensity.CrossSellModels(compare_cap=20000, seed=seed, fit_cap=fit_cap)
        models.fit(train)
        seconds = time.perf_counter() - started
        metrics = models.metrics_.set_index("product")
        rows[label] = {
            "seconds": round(seconds, 1),
            "auc": {p: round(float(v), 5) for p, v in metrics["roc_auc"].items()},
            "fitted_rows": {p: int(v) for p, v in metrics["fitted_rows"].items()},
            "holdout_customers": {p: int(v) for p, v in metrics["customers"].items()},
            "model": dict(models.chosen_),
        }
    return rows


def cox_quality(ds, month: str, cap: int, seed: int, concordance_cap: int) -> dict:
    defaults = declared_defaults(NOTEBOOKS_DIR / "02_lifecycle_survival.ipynb")
    plan = survival.plan_for(ds, month, defaults["churn_horizon_months"])
    train, holdout, _ = survival.model_frames(ds, plan, ChurnDefinition(), seed)
    used = survival.available_covariates(train, defaults["cox_covariates"])
    rows = {}
    for label, fit_cap in (("capped", cap), ("all", None)):
        started = time.perf_counter()
        model = survival.ChurnCox(used, 0.01).fit(survival.capped(train, fit_cap, seed))
        seconds = time.perf_counter() - started
        concordance = survival.holdout_concordance(model, holdout, concordance_cap, seed)
        rows[label] = {
            "seconds": round(seconds, 1),
            "c_index": round(float(concordance), 5),
            "fitted_rows": int(model.fitted_rows_),
        }
    rows["training_rows"] = len(train)
    rows["holdout_rows"] = len(holdout)
    return rows


def write_markdown(result: dict, path: Path) -> None:
    p, c = result["propensity"], result["cox"]
    lines = [
        f"# Model quality: fit on a capped sample vs on every row ({result['customers']:,} "
        "customers)",
        "",
        f"Cap `fit_sample_cap` = {result['cap']:,}, stratified by outcome, no repeats; same "
        "model choice, holdout and evaluation for both fits. Target: capped within "
        f"{TOLERANCE} of all rows. Machine load (1 min) before / after: "
        f"{result['load_before'][0]:.2f} / {result['load_after'][0]:.2f} (2 cores, shared).",
        "",
        "| product | model | fitted rows (capped / all) | holdout customers | AUC capped | AUC all "
        "| difference |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    differences = []
    for product, auc in p["all"]["auc"].items():
        capped = p["capped"]["auc"][product]
        differences.append(auc - capped)
        lines.append(
            f"| {product} | {p['all']['model'][product]} | "
            f"{p['capped']['fitted_rows'][product]:,} / {p['all']['fitted_rows'][product]:,} | "
            f"{p['all']['holdout_customers'][product]:,} | {capped:.4f} | {auc:.4f} | "
            f"{auc - capped:+.4f} |"
        )
    mean_capped = sum(p["capped"]["auc"].values()) / len(p["capped"]["auc"])
    mean_all = sum(p["all"]["auc"].values()) / len(p["all"]["auc"])
    lines += [
        f"| **mean** | | | | {mean_capped:.4f} | {mean_all:.4f} | {mean_all - mean_capped:+.4f} |",
        "",
        f"Propensity fit time: capped {p['capped']['seconds']} s, all rows {p['all']['seconds']} s. "
        f"Largest per-product AUC loss {max(differences):+.4f} "
        f"({'within' if max(differences) <= TOLERANCE else 'OUTSIDE'} {TOLERANCE}).",
        "",
        "| Cox churn model | fitted rows | holdout C-index | fit s |",
        "|---|---:|---:|---:|",
        f"| capped | {c['capped']['fitted_rows']:,} | {c['capped']['c_index']:.4f} | "
        f"{c['capped']['seconds']} |",
        f"| all rows | {c['all']['fitted_rows']:,} | {c['all']['c_index']:.4f} | "
        f"{c['all']['seconds']} |",
        "",
        f"C-index difference (all - capped): {c['all']['c_index'] - c['capped']['c_index']:+.4f} "
        f"({'within' if c['all']['c_index'] - c['capped']['c_index'] <= TOLERANCE else 'OUTSIDE'}"
        f" {TOLERANCE}); training rows {c['training_rows']:,}, holdout rows "
        f"{c['holdout_rows']:,}.",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cap", type=int, default=None, help="default: the notebooks' default")
    parser.add_argument("--seed", type=int, default=20261031)
    parser.add_argument("--concordance-cap", type=int, default=100_000)
    args = parser.parse_args(argv)
    cap = (
        args.cap
        or declared_defaults(NOTEBOOKS_DIR / "03_cross_sell_propensity.ipynb")["fit_sample_cap"]
    )
    folder = _data_folder(args.size, args.data_dir)
    ds = load_dataset(folder / "dataset.yaml")
    month = ds.latest_month()
    load_before = os.getloadavg()
    result = {
        "customers": args.size,
        "cap": cap,
        "load_before": load_before,
        "propensity": propensity_quality(ds, month, cap, args.seed),
        "cox": cox_quality(ds, month, cap, args.seed, args.concordance_cap),
        "load_after": os.getloadavg(),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "model_quality.json").write_text(json.dumps(result, indent=1) + "\n")
    write_markdown(result, RESULTS_DIR / "model_quality.md")
    print((RESULTS_DIR / "model_quality.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
