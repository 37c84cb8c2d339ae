"""Benchmark: the whole monthly pack, as ``fishpond run`` runs it, at 10k, 100k and 1M customers.

Usage::

    .venv/bin/python benchmarks/bench_pack.py                          # 10k, 100k, 1M
    .venv/bin/python benchmarks/bench_pack.py --sizes 10000 --jobs 2   # the bundled sample only
    .venv/bin/python benchmarks/bench_pack.py --sizes 1000000 --data-dir /work/data

10k is the bundled sample (``data/sample``); the larger banks are generated once per size with
``fishpond synth`` (24 months, with transactions, seed 20261031) into ``--data-dir/pack_<n>``
(default: a temporary folder, removed afterwards; never inside the repository). Each run is
``python -m helpers run --dataset ... --jobs J --out <tmp>`` in a child process, so it pays
what the monthly batch pays: interpreter start, validation (cold: the remembered results of
earlier runs are removed first), kernel starts, imports, HTML.

Recorded per run: wall time of the whole command and of each notebook (from the pack's
``manifest.json``), peak memory of the run (the largest total RSS of the runner and all its
descendants, sampled every 0.2 s with psutil, so two parallel kernels count together) and of
each kernel (``ru_maxrss`` of the kernel, written into the notebook's run record by its last
cell), and the machine load (``os.getloadavg`` before and after; other engineers share these
2 cores). Results: ``benchmarks/results/pack.json`` (raw, one entry per size, later runs of a
size replace earlier ones), ``pack.md`` and ``pack.png`` (time vs customers, log-log).

Targets (issue 17): 10k sample <= 60 s; 1M <= 180 s and <= 8 GB peak with the ``--jobs``
setting the README recommends (2); cost growing no faster than linearly from 100k to 1M.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SAMPLE_DIR = ROOT / "data" / "sample"
DEFAULT_SIZES = [10_000, 100_000, 1_000_000]
TARGETS = {10_000: {"seconds": 60}, 1_000_000: {"seconds": 180, "peak_gb": 8}}
NOTEBOOKS = [
    "00_data_overview",
    "01_tiering",
    "02_lifecycle_survival",
    "03_cross_sell_propensity",
    "04_retention_roi",
    "05_monthly_summary",
]


def _data_folder(size: int, data_dir: Path) -> Path:
    """Folder with the dataset of ``size`` customers (generated on first use)."""
    if size == 10_000:
        return SAMPLE_DIR
    folder = data_dir / f"pack_{size}"
    if not (folder / "monthly_balances.parquet").exists():
        fishpond = Path(sys.executable).with_name("fishpond")
        subprocess.run(
            [str(fishpond), "synth", "--customers", str(size), "--months", "24",
             "--end-month", "2026-10", "--seed", "20261031", "--out", str(folder)],
            check=True,
        )  # fmt: skip
    spec = folder / "dataset.yaml"
    if not spec.exists():
        shutil.copyfile(SAMPLE_DIR / "dataset.yaml", spec)
    return folder


def _role(member: psutil.Process, runner_pid: int) -> str:
    """What a process of the run is: the runner, a worker, or the kernel of a notebook."""
    if member.pid == runner_pid:
        return "runner"
    command = " ".join(member.cmdline())
    if "ipykernel" in command:
        return "kernel " + member.environ().get("FISHPOND_NOTEBOOK", "?")[:2]
    return "worker" if "multiprocessing" in command else "other"


def _tree_rss(process: psutil.Process) -> dict[str, int]:
    """RSS (bytes) of a process and all its descendants right now, by role."""
    by_role: dict[str, int] = {}
    for member in [process, *process.children(recursive=True)]:
        try:
            role = _role(member, process.pid)
            by_role[role] = by_role.get(role, 0) + member.memory_info().rss
        except psutil.Error:  # a process that just ended
            continue
    return by_role


def run_pack(folder: Path, jobs: int, out: Path, extra: list[str]) -> dict:
    """Run ``fishpond run`` once; return wall time, peak tree RSS and the manifest."""
    command = [
        sys.executable, "-m", "helpers", "run", "--dataset", str(folder / "dataset.yaml"),
        "--jobs", str(jobs), "--out", str(out), "--lang", "zh", *extra,
    ]  # fmt: skip
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    # A monthly batch meets new files every month: validation is measured cold (the runner
    # validates once; its kernels reuse the result), never taken from an earlier bench run.
    shutil.rmtree(ROOT / ".fishpond-scratch" / "validated", ignore_errors=True)
    load_before = os.getloadavg()
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    watcher = psutil.Process(child.pid)
    peak, peak_parts, kernels_seen = 0, {}, {}
    while child.poll() is None:
        try:
            parts = _tree_rss(watcher)
        except psutil.Error:
            parts = {}
        now = round(time.perf_counter() - started, 1)
        for role in parts:
            if role.startswith("kernel "):  # when each notebook's kernel was first/last seen
                kernels_seen.setdefault(role[7:], [now, now])[1] = now
        if sum(parts.values()) > peak:
            peak, peak_parts = sum(parts.values()), dict(parts, at_seconds=now)
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime + usage.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime)
    log = child.stdout.read() if child.stdout else ""
    manifest_path = out / "manifest.json"
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    )
    return {
        "exit_code": child.returncode,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "peak_gb": round(peak / 1e9, 2),
        # what made the peak (GB by process role, and when) and when each kernel ran (s)
        "peak_parts": {
            role: value if role == "at_seconds" else round(value / 1e9, 2)
            for role, value in peak_parts.items()
        },
        "kernels_seen": kernels_seen,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "manifest": manifest,
        "log_tail": log.splitlines()[-12:],
    }


def summarise(size: int, jobs: int, run: dict) -> dict:
    notebooks = {}
    for entry in run["manifest"].get("notebooks", []):
        notebooks[entry["notebook"]] = {
            "status": entry.get("status"),
            "seconds": entry.get("duration_seconds"),
            "kernel_peak_gb": entry.get("kernel_peak_gb"),
            "steps": entry.get("timings", {}),
        }
    return {
        "customers": size,
        "jobs": jobs,
        "measured_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "exit_code": run["exit_code"],
        "seconds": run["seconds"],
        "cpu_seconds": run["cpu_seconds"],
        "peak_gb": run["peak_gb"],
        "peak_parts": run.get("peak_parts", {}),
        "kernels_seen": run.get("kernels_seen", {}),
        "load_before": run["load_before"],
        "load_after": run["load_after"],
        "cpus": os.cpu_count(),
        "notebooks": notebooks,
        "log_tail": run["log_tail"],
    }


def _status(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return "meets" if value <= target else "MISSES"


def write_markdown(results: dict, path: Path) -> None:
    rows = sorted(results.values(), key=lambda r: (r["customers"], r["jobs"]))
    lines = [
        "# The monthly pack end to end (`fishpond run`)",
        "",
        "Wall seconds of the whole `python -m helpers run` command and of each notebook (from "
        "its manifest: execution + HTML export), CPU seconds of the run (user + system of the "
        "runner and every kernel: what the work costs whatever the load; on 2 idle cores the "
        "wall time can approach half of it), peak RSS of the run (runner + kernels summed, "
        "sampled) and the largest kernel, with the machine's 1-minute load average before and "
        "after (2 cores shared with other engineers: a load near or above 2 slows everything).",
        "Targets: 10k <= 60 s; 1M <= 180 s and <= 8 GB; growth from 100k to 1M no faster than "
        "linear.",
        "",
        "| customers | jobs | total s | CPU s | peak GB | "
        + " | ".join(name[:2] for name in NOTEBOOKS)
        + " | largest kernel GB | load before / after | target | measured |",
        "|---:|---:|---:|---:|---:|" + "---:|" * len(NOTEBOOKS) + "---:|---|---|---|",
    ]
    for row in rows:
        cells = []
        kernels = []
        for name in NOTEBOOKS:
            entry = row["notebooks"].get(name, {})
            seconds = entry.get("seconds")
            cells.append("" if seconds is None else f"{seconds:.1f}")
            if entry.get("kernel_peak_gb") is not None:
                kernels.append(entry["kernel_peak_gb"])
            if entry.get("status") not in (None, "ok"):
                cells[-1] += f" ({entry['status']})"
        target = TARGETS.get(row["customers"], {})
        verdict = [_status(row["seconds"], target.get("seconds"))]
        if "peak_gb" in target:
            verdict.append(_status(row["peak_gb"], target["peak_gb"]))
        target_text = (
            " and ".join(f"<= {target[k]} {'s' if k == 'seconds' else 'GB'}" for k in target)
            + f": {' / '.join(v for v in verdict if v)}"
            if target
            else ""
        )
        lines.append(
            f"| {row['customers']:,} | {row['jobs']} | {row['seconds']:.1f} | "
            f"{row.get('cpu_seconds', float('nan')):.0f} | {row['peak_gb']:.2f} | "
            + " | ".join(cells)
            + f" | {max(kernels) if kernels else ''} | {row['load_before'][0]:.2f} / "
            f"{row['load_after'][0]:.2f} | {target_text} | {row['measured_at'][:16]} |"
        )
    by_jobs: dict[int, dict[int, float]] = {}
    for row in rows:
        by_jobs.setdefault(row["jobs"], {})[row["customers"]] = row["seconds"]
    for jobs, times in sorted(by_jobs.items()):
        if 100_000 in times and 1_000_000 in times:
            ratio = times[1_000_000] / times[100_000]
            lines += [
                "",
                f"Growth 100k -> 1M with --jobs {jobs}: {ratio:.1f}x the time for 10x the "
                f"customers ({'sub-linear' if ratio <= 10 else 'SUPER-linear'}).",
            ]
    lines += [
        "",
        "What made each run's peak (GB per process, at that second) and when each notebook's "
        "kernel ran (seconds from the start of the run):",
        "",
    ]
    for row in rows:
        parts = row.get("peak_parts") or {}
        if not parts:
            continue
        at = parts.get("at_seconds")
        made = ", ".join(f"{role} {gb:.2f}" for role, gb in sorted(parts.items())
                         if role != "at_seconds")  # fmt: skip
        spans = ", ".join(f"{name} {a:.0f}-{b:.0f}"
                          for name, (a, b) in sorted(row.get("kernels_seen", {}).items()))  # fmt: skip
        lines.append(f"- {row['customers']:,} (--jobs {row['jobs']}): peak at {at} s: {made}; "
                     f"kernels: {spans}")  # fmt: skip
    lines += ["", "![pack time vs customers](pack.png)"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    by_jobs: dict[int, list] = {}
    for row in results.values():
        by_jobs.setdefault(row["jobs"], []).append((row["customers"], row["seconds"]))
    for jobs, points in sorted(by_jobs.items()):
        points.sort()
        axis.plot(*zip(*points, strict=True), marker="o", label=f"--jobs {jobs}")
    sizes = sorted({row["customers"] for row in results.values()})
    if sizes:
        first = min(results.values(), key=lambda r: r["customers"])
        axis.plot(
            sizes,
            [first["seconds"] * size / first["customers"] for size in sizes],
            linestyle=":",
            color="grey",
            label="linear from the smallest",
        )
    axis.scatter([10_000, 1_000_000], [60, 180], marker="x", color="red", label="targets")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("customers (24 months)")
    axis.set_ylabel("pack wall time (s)")
    axis.set_title("fishpond run: whole pack")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=DEFAULT_SIZES)
    parser.add_argument("--jobs", nargs="+", type=int, default=[2])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--keep-packs", type=Path, default=None, help="copy each pack here")
    parser.add_argument("--dry", action="store_true", help="print figures, do not write results")
    args, extra = parser.parse_known_args(argv)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    results_path = RESULTS_DIR / "pack.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    scratch = Path(tempfile.mkdtemp(prefix="fishpond-bench-pack-"))
    data_dir = args.data_dir or scratch
    code = 0
    try:
        for size in args.sizes:
            folder = _data_folder(size, data_dir)
            for jobs in args.jobs:
                out = scratch / f"pack-{size}-{jobs}"
                shutil.rmtree(out, ignore_errors=True)
                run = run_pack(folder, jobs, out, extra)
                row = summarise(size, jobs, run)
                print(json.dumps({k: v for k, v in row.items() if k != "log_tail"}, indent=1))
                if run["exit_code"] != 0:
                    print("\n".join(run["log_tail"]), file=sys.stderr)
                    code = 1
                if args.keep_packs:
                    shutil.copytree(out, args.keep_packs / out.name, dirs_exist_ok=True)
                if not args.dry:
                    results[f"{size}-{jobs}"] = row
                    results_path.write_text(json.dumps(results, indent=1) + "\n")
                    write_markdown(results, RESULTS_DIR / "pack.md")
                    write_plot(results, RESULTS_DIR / "pack.png")
                shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
