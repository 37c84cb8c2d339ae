"""Benchmark: loading + validating a panel dataset (helpers.data.dataset / helpers.data.schema).

Usage::

    .venv/bin/python benchmarks/bench_validate.py --sizes 10000 100000 1000000
    .venv/bin/python benchmarks/bench_validate.py --sizes 1000000 --data-dir /tmp/fp1m  # reuse

Data is generated per size with ``fishpond synth`` (24 months, with transactions) into a
temporary folder unless ``--data-dir`` already holds it. Each measurement runs in its own
subprocess so its peak memory (``ru_maxrss`` of the child) is its own. Results go to
``benchmarks/results/validate.json`` and ``validate.md``.

What is measured: ``load_dataset(spec)`` = read the small tables into pandas and check them
with pandera; check ``monthly_balances`` and ``transactions`` in DuckDB over the Parquet files
(never loaded into pandas); referential checks against ``customers``.
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

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SPEC_TEMPLATE = Path(__file__).resolve().parents[1] / "data" / "sample" / "dataset.yaml"

CHILD = """
import json, sys, time
from helpers.data import load_dataset
start = time.perf_counter()
ds = load_dataset(sys.argv[1])
seconds = time.perf_counter() - start
rows = ds.fingerprint()["rows"]
print(json.dumps({"seconds": seconds, "rows": rows, "ok": ds.validation_.ok}))
"""


def _generate(size: int, folder: Path) -> None:
    if (folder / "monthly_balances.parquet").exists():
        return
    fishpond = Path(sys.executable).with_name("fishpond")
    subprocess.run(
        [str(fishpond), "synth", "--customers", str(size), "--out", str(folder)], check=True
    )


def measure(size: int, folder: Path) -> dict:
    _generate(size, folder)
    spec = folder / "dataset.yaml"
    spec.write_text(SPEC_TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(spec)], capture_output=True, text=True, check=True
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures.update(
        customers=size,
        peak_gb=round(max(peak_kb, before) / 1024**2, 2),
        seconds=round(figures["seconds"], 1),
    )
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--data-dir", default=None, help="keep/reuse generated data here")
    args = parser.parse_args(argv)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(args.data_dir) if args.data_dir else Path(scratch)
        for size in args.sizes:
            folder = base / f"n{size}"
            started = time.perf_counter()
            figures = measure(size, folder)
            figures["wall_with_generation_s"] = round(time.perf_counter() - started, 1)
            print(json.dumps(figures), flush=True)
            results.append(figures)
    (RESULTS_DIR / "validate.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    lines = [
        "| customers | balance rows | transaction rows | load + validate (s) | peak memory (GB) | valid |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['customers']:,} | {r['rows']['monthly_balances']:,} | "
            f"{r['rows'].get('transactions', 0):,} | {r['seconds']} | {r['peak_gb']} | {r['ok']} |"
        )
    (RESULTS_DIR / "validate.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
