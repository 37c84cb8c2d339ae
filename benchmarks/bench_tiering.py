"""Benchmark: the tiering steps of 01_tiering at 10k / 100k / 1M customers x 24 months.

Usage::

    .venv/bin/python benchmarks/bench_tiering.py                   # 10k, 100k, 1M
    .venv/bin/python benchmarks/bench_tiering.py --sizes 10000 100000

What is timed (the notebook's own work; the ABT build is measured by ``bench_abt.py``):

- ``snapshot``: :func:`helpers.tiering.tier_snapshot` in DuckDB over a Parquet
  ``monthly_balances`` (month-end basis, then the 12-month trailing average);
- ``window``: the 13 month-end snapshots of a 12-month window (one DuckDB pass) plus their
  month-by-month movement counts (the trend chart);
- ``migration``: :func:`tier_migration`, the transition matrices, :func:`aum_bridge`, the
  watch list;
- ``scores``: RFM-style scores, named segments, potential and the fish-pond grid;
- ``clusters``: :class:`BehaviourClusters` (k chosen on a 4,000-customer sample, refit on all).

Data: ``monthly_balances`` is generated with numpy (a lognormal AUM random walk with joins
and leavers) and written to Parquet with pyarrow (string ids without a Python object per
row); the ABT-like frame has the columns the scores and clusters use. Each size runs in its
own subprocess so that its peak memory (``ru_maxrss``) is its own. Results go to
``benchmarks/results/tiering.json`` and ``tiering.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_SIZES = [10_000, 100_000, 1_000_000]
MONTHS = 24
END_MONTH = "2026-10"


def _generate(size: int, folder: Path, seed: int = 7) -> tuple[Path, pd.DataFrame]:
    """Write ``monthly_balances.parquet`` for ``size`` customers; return it and an ABT-like frame."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    ids = pa.array(np.char.zfill(np.arange(size).astype(str), 10).astype(object))
    months = pd.period_range(end=END_MONTH, periods=MONTHS, freq="M").to_timestamp(how="end")
    months = months.normalize().to_numpy()
    first = rng.integers(-12, MONTHS, size).clip(
        0
    )  # month index of joining (most before the window)
    last = np.where(rng.random(size) < 0.15, rng.integers(0, MONTHS, size), MONTHS - 1)
    last = np.maximum(last, first)
    level = rng.lognormal(9.5, 1.9, size)
    path = folder / "monthly_balances.parquet"
    writer = None
    for index, month in enumerate(months):
        level = level * rng.lognormal(0.0, 0.08, size)
        present = np.flatnonzero((first <= index) & (last >= index))
        table = pa.table(
            {
                "customer_id": ids.take(pa.array(present)),
                "month": pa.array(np.full(len(present), month)),
                "aum_total": pa.array(np.round(level[present], 2)),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
    active = np.flatnonzero(last == MONTHS - 1)
    abt = pd.DataFrame(
        {
            "customer_id": np.asarray(ids.take(pa.array(active)).to_pylist(), dtype=object),
            "aum": np.round(level[active], 2),
            "txn_recency_days": rng.geometric(0.1, len(active)),
            "txn_count_12m": rng.poisson(40, len(active)),
            "product_count": rng.integers(0, 9, len(active)),
            "digital_logins_3m": rng.poisson(60, len(active)),
            "contacts_3m": rng.poisson(0.3, len(active)),
            "card_spend_3m": rng.lognormal(8, 1, len(active)),
            "loan_balance": np.where(
                rng.random(len(active)) < 0.2, rng.lognormal(11, 1, len(active)), 0
            ),
            "aum_trend_6m": rng.normal(0, 0.2, len(active)),
            "age": rng.integers(20, 80, len(active)),
            "payroll": rng.random(len(active)) < 0.3,
            "rm_id": np.where(rng.random(len(active)) < 0.3, "RM001", None),
        }
    )
    return path, abt


def _child(size: int) -> None:
    """Run every step for one size; print one JSON line."""
    import duckdb

    from helpers import config, tiering

    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        path, abt = _generate(size, Path(folder))
        timings["generate"] = time.perf_counter() - started
        connection = duckdb.connect()
        connection.execute(f"CREATE VIEW monthly_balances AS SELECT * FROM read_parquet('{path}')")
        ladder = config.resolve_ladder()

        started = time.perf_counter()
        current = tiering.tier_snapshot(connection, END_MONTH, "month_end", ladder)
        tiering.tier_snapshot(connection, END_MONTH, "avg_12m", ladder)
        timings["snapshot"] = time.perf_counter() - started

        started = time.perf_counter()
        window = [tiering.month_label(END_MONTH, offset) for offset in range(-12, 1)]
        snapshots = tiering.tier_snapshots(connection, window, "month_end", ladder)
        tiering.window_migration_counts(snapshots)
        timings["window"] = time.perf_counter() - started

        started = time.perf_counter()
        migration = tiering.tier_migration(snapshots[-2], current)
        for measure in ("customers", "rate", "aum_before"):
            tiering.transition_matrix(migration, measure)
        bridge = tiering.aum_bridge(migration).set_index("step")["amount_fen"]
        tiering.downgrade_watch_list(migration)
        timings["migration"] = time.perf_counter() - started
        exact = bool(bridge.drop("end").sum() == bridge["end"])

        started = time.perf_counter()
        abt, _, _ = tiering.tier_customers(abt, ladder, current)
        scores = tiering.score_customers(abt)
        abt = abt.join(scores)
        abt["segment"] = tiering.assign_segments(scores)
        abt = abt.join(tiering.potential_scores(abt))
        abt["value_band"] = tiering.value_bands(abt["tier"])
        tiering.fishpond_grid(abt)
        timings["scores"] = time.perf_counter() - started

        started = time.perf_counter()
        model = tiering.BehaviourClusters(k_range=(3, 7), sample_cap=4000, seed=1).fit(abt)
        timings["clusters"] = time.perf_counter() - started
        connection.close()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        json.dumps(
            {
                "customers": size,
                "book_rows": len(current),
                "seconds": {key: round(value, 2) for key, value in timings.items()},
                "total_seconds_excluding_generation": round(
                    sum(v for k, v in timings.items() if k != "generate"), 2
                ),
                "peak_gb": round(peak_gb, 2),
                "bridge_exact": exact,
                "k": model.k_,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child)
        return 0
    results = []
    for size in args.sizes:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", str(size)],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            print(completed.stderr[-3000:], file=sys.stderr)
            return 1
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        print(result)
        results.append(result)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "tiering.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    steps = ["snapshot", "window", "migration", "scores", "clusters"]
    lines = [
        "# Tiering (01_tiering) steps",
        "",
        f"{MONTHS} months of generated monthly balances in Parquet (DuckDB), 2-core machine shared "
        "with other jobs; seconds per step and peak RSS of the process. The ABT build is in abt.md.",
        "",
        "| customers | book rows | "
        + " | ".join(f"{s} s" for s in steps)
        + " | total s | peak GB | bridge exact |",
        "|---:|---:|" + "---:|" * len(steps) + "---:|---:|:---:|",
    ]
    for result in results:
        seconds = result["seconds"]
        lines.append(
            f"| {result['customers']:,} | {result['book_rows']:,} | "
            + " | ".join(f"{seconds[s]:.2f}" for s in steps)
            + f" | {result['total_seconds_excluding_generation']:.1f} | {result['peak_gb']:.2f}"
            + f" | {'yes' if result['bridge_exact'] else 'NO'} |"
        )
    (RESULTS_DIR / "tiering.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
