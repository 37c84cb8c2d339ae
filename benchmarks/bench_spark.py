"""Benchmark: the shared feature frames on DuckDB vs Apache Spark in local mode.

Usage::

    .venv/bin/python benchmarks/bench_spark.py --data-dir /work/data             # 1M
    .venv/bin/python benchmarks/bench_spark.py --sizes 10000 100000 --data-dir /work/data

Per size and engine, in a fresh child process: open the dataset (validation cached), build
the ABT at the report month and at ``month - 6`` (training), the survival frame and the churn
events: the frames a run shares (``helpers.features.cache``). Spark runs ``local[2]`` (both
cores of this machine, no cluster); its time includes starting the JVM. Also checks the
frames are equal to DuckDB's. Wall time, peak RSS of the child's process tree (Python + JVM,
sampled) and the machine load go to ``benchmarks/results/spark.json`` and ``spark.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pack import _data_folder, _tree_rss  # noqa: E402

CHILD = """
import json, sys, time
import pandas as pd
started = time.perf_counter()
from helpers.data import load_dataset
from helpers.features import build_abt, churn_events, survival_frame
ds = load_dataset(sys.argv[1])
month = ds.latest_month()
train_month = str(pd.Period(month, freq="M") - 6)
frames = {
    "abt": build_abt(ds), "abt_train": build_abt(ds, train_month, 6),
    "survival": survival_frame(ds), "events": churn_events(ds),
}
seconds = time.perf_counter() - started
for name, frame in frames.items():
    frame.to_parquet(f"{sys.argv[2]}/{name}.parquet", index=False)
print(json.dumps({"seconds": seconds, "rows": {k: len(v) for k, v in frames.items()}}))
"""


def spark_spec(folder: Path) -> Path:
    raw = yaml.safe_load((folder / "dataset.yaml").read_text(encoding="utf-8"))
    for table in raw["tables"].values():
        table["path"] = str((folder / table["path"]).resolve())
    raw["engine"] = "spark"
    raw["spark"] = {"master": "local[2]", "config": {"spark.driver.memory": "6g"}}
    spec = folder / "dataset_spark.yaml"
    spec.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return spec


def measure(spec: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    load_before = os.getloadavg()
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(spec), str(out)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    watcher, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            peak = max(peak, _tree_rss(watcher))
        except psutil.Error:
            pass
        time.sleep(0.2)
    output = child.stdout.read().strip().splitlines() if child.stdout else []
    report = json.loads(output[-1]) if child.returncode == 0 and output else {}
    return {
        "exit_code": child.returncode,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "frames_seconds": round(report.get("seconds", float("nan")), 1),
        "peak_gb": round(peak / 1e9, 2),
        "rows": report.get("rows"),
        "load": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000_000])
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    path = RESULTS_DIR / "spark.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for size in args.sizes:
        folder = _data_folder(size, args.data_dir)
        scratch = args.data_dir / f"bench_spark_{size}"
        row = {"customers": size}
        for engine, spec in (("duckdb", folder / "dataset.yaml"), ("spark", spark_spec(folder))):
            row[engine] = measure(spec, scratch / engine)
        row["equal"] = all(
            pd.read_parquet(scratch / "spark" / f"{name}.parquet").equals(
                pd.read_parquet(scratch / "duckdb" / f"{name}.parquet")
            )
            for name in ("abt", "abt_train", "survival", "events")
        )
        results[str(size)] = row
        print(json.dumps(row, indent=1))
    path.write_text(json.dumps(results, indent=1) + "\n")
    lines = [
        "# Shared feature frames: DuckDB vs Spark local mode",
        "",
        "Open the dataset, build the ABT at the report month and 6 months earlier, the survival "
        "frame and the churn events, in a fresh process (Spark: `local[2]`, JVM start "
        "included). Peak: Python + JVM process tree. Load: 1-minute load average before / "
        "after (2 shared cores).",
        "",
        "| customers | DuckDB s | DuckDB peak GB | Spark s | Spark peak GB | frames equal | "
        "load (DuckDB run) | load (Spark run) |",
        "|---:|---:|---:|---:|---:|:---:|---|---|",
    ]
    for row in sorted(results.values(), key=lambda r: r["customers"]):
        d, s = row["duckdb"], row["spark"]
        lines.append(
            f"| {row['customers']:,} | {d['wall_seconds']} | {d['peak_gb']} | "
            f"{s['wall_seconds']} | {s['peak_gb']} | {'yes' if row['equal'] else 'NO'} | "
            f"{d['load'][0]} / {d['load'][1]} | {s['load'][0]} / {s['load'][1]} |"
        )
    (RESULTS_DIR / "spark.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
