"""Benchmark: generating the synthetic bank (helpers.synth.generate).

Usage::

    .venv/bin/python benchmarks/bench_synth.py                      # 10k, 100k and 1M customers
    .venv/bin/python benchmarks/bench_synth.py --sizes 10000 100000

Each size (24 months ending 2026-10, with transactions) is generated in its own subprocess
into a temporary folder that is deleted afterwards; the child reports its wall time and its
own peak resident memory (``ru_maxrss``). Target (issue 2): 1M customers x 24 months in
<= 2 min and < 6 GB peak on the 2-core machine. Results go to
``benchmarks/results/synth.json`` and ``synth.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 120
TARGET_GB = 6.0

CHILD = """
import json, resource, sys, time
from helpers.synth import generate
started = time.perf_counter()
summary = generate(sys.argv[1], customers=int(sys.argv[2]), months=24, end_month="2026-10",
                   seed=20261031, transactions_per_month=float(sys.argv[3]))
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_kb": usage.ru_maxrss, "rows": summary["rows"]}))
"""


def folder_megabytes(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1024**2


def measure(size: int, transactions_per_month: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as scratch:
        out = Path(scratch) / "bank"
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(out), str(size), str(transactions_per_month)],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        megabytes = folder_megabytes(out)
    seconds = round(figures["seconds"], 1)
    peak_gb = round(figures["peak_kb"] / 1024**2, 2)
    return {
        "customers": size,
        "months": 24,
        "transactions_per_month": transactions_per_month,
        "seconds": seconds,
        # CPU time and the load average say how much of the wall time was waiting for a core
        # on a shared machine.
        "cpu_seconds": round(figures["cpu_seconds"], 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "peak_gb": peak_gb,
        "output_mb": round(megabytes, 1),
        "rows": figures["rows"],
        "meets_target": seconds <= TARGET_SECONDS and peak_gb < TARGET_GB
        if size >= 1_000_000
        else None,
    }


def write_results(results: list[dict]) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    (RESULTS_DIR / "synth.json").write_text(
        json.dumps({"machine": machine, "results": results}, indent=2), encoding="utf-8"
    )
    lines = [
        "Generating the synthetic bank (`helpers.synth.generate`, 24 months, with transactions; "
        f"target at 1M customers: <= {TARGET_SECONDS} s and < {TARGET_GB:g} GB).",
        "",
        "| customers | balance rows | transaction rows | wall time (s) | CPU time (s) "
        "| load average | peak memory (GB) | output (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['customers']:,} | {r['rows']['monthly_balances']:,} | "
            f"{r['rows'].get('transactions', 0):,} | {r['seconds']} | "
            f"{r.get('cpu_seconds', 'n/a')} | {r.get('load_average_1m', 'n/a')} | "
            f"{r['peak_gb']} | {r['output_mb']} |"
        )
    (RESULTS_DIR / "synth.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--transactions-per-month",
        type=float,
        default=3.0,
        help="mean non-salary transactions per customer-month (fishpond synth uses 3)",
    )
    args = parser.parse_args(argv)
    results = []
    for size in args.sizes:
        figures = measure(size, args.transactions_per_month)
        print(json.dumps(figures), flush=True)
        results.append(figures)
    write_results(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
