"""Run every ``benchmarks/bench_*.py`` in turn and collect their results (``make bench``).

Each benchmark writes ``benchmarks/results/<name>.json`` and a human-readable
``benchmarks/results/<name>.md``; this script then concatenates the ``.md`` files into
``benchmarks/results/README.md``. Arguments after ``--`` go to every benchmark (e.g.
``run_all.py -- --sizes 10000 100000`` for a quick run); ``--only synth abt`` picks some.
A failing benchmark is reported and the others still run; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARKS_DIR / "results"


def benchmark_names() -> list[str]:
    return sorted(path.stem.removeprefix("bench_") for path in BENCHMARKS_DIR.glob("bench_*.py"))


def collect() -> Path:
    """Concatenate every results/<name>.md into results/README.md."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    parts = [
        "# Benchmark results",
        "",
        "Written by `benchmarks/run_all.py` (`make bench`); each section comes from "
        "`benchmarks/bench_<name>.py` and its `<name>.json` holds the raw figures.",
    ]
    for name in benchmark_names():
        table = RESULTS_DIR / f"{name}.md"
        if table.exists():
            parts += ["", f"## {name}", "", table.read_text(encoding="utf-8").strip()]
    readme = RESULTS_DIR / "README.md"
    temporary = readme.with_suffix(".md.tmp")
    temporary.write_text("\n".join(parts) + "\n", encoding="utf-8")
    temporary.replace(readme)
    return readme


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME")
    args = parser.parse_args(argv)
    names = args.only or benchmark_names()
    failed = []
    for name in names:
        script = BENCHMARKS_DIR / f"bench_{name}.py"
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        code = subprocess.run([sys.executable, str(script), *extra]).returncode
        print(f"== {name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    readme = collect()
    print(f"results collected in {readme}")
    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
