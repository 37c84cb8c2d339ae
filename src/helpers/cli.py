"""The ``fishpond`` command (also ``python -m helpers``).

Each subcommand is a thin shell over a function in its domain module, imported lazily so that
``fishpond --help`` is instant:

- ``fishpond synth``   -> :func:`helpers.synth.cli_synth`
- ``fishpond validate`` -> :func:`helpers.data.cli_validate`
- ``fishpond run``     -> :func:`helpers.batch.runner.cli_run`
- ``fishpond course build`` -> :func:`helpers.course.cli_course_build`
- ``fishpond course progress`` -> :func:`helpers.course.cli_course_progress`
- ``fishpond lab``     -> :func:`helpers.lab.cli_lab`

Every ``cli_*`` function takes the parsed ``argparse.Namespace`` and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys


def _month(value: str) -> str:
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"month must look like 2026-10, not {value!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fishpond",
        description="Fishpond: existing-customer management notebooks and reports (存量客户经营).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="generate a synthetic bank with known ground truth")
    synth.add_argument("--customers", type=int, default=10_000, help="customers in the window")
    synth.add_argument("--months", type=int, default=24, help="months in the data window")
    synth.add_argument("--end-month", type=_month, default="2026-10", help="last month, YYYY-MM")
    synth.add_argument("--seed", type=int, default=20261031, help="random seed")
    synth.add_argument("--out", required=True, help="output folder")
    synth.add_argument(
        "--no-transactions", action="store_true", help="skip the (large) transactions table"
    )
    synth.set_defaults(target=("helpers.synth", "cli_synth"))

    validate = sub.add_parser("validate", help="validate a dataset against its spec")
    validate.add_argument("--dataset", default=None, help="dataset spec YAML (default: sample)")
    validate.set_defaults(target=("helpers.data", "cli_validate"))

    run = sub.add_parser("run", help="execute the notebooks into a monthly HTML report pack")
    run.add_argument("--dataset", default=None, help="dataset spec YAML (default: sample)")
    run.add_argument("--month", type=_month, default=None, help="report month (default: latest)")
    run.add_argument("--out", default=None, help="output folder (default: reports/YYYY-MM)")
    run.add_argument("--only", nargs="+", default=None, metavar="NAME", help="notebooks to run")
    run.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel processes")
    run.add_argument("--lang", choices=["zh", "en"], default="zh", help="report language")
    run.add_argument("--params", default=None, help="YAML file of extra notebook parameters")
    run.add_argument("--timeout", type=int, default=1800, help="per-cell timeout, seconds")
    run.set_defaults(target=("helpers.batch.runner", "cli_run"))

    course = sub.add_parser("course", help="training-course edition of the notebooks")
    course_sub = course.add_subparsers(dest="course_command", required=True)
    build = course_sub.add_parser("build", help="build learner and solution notebooks")
    build.add_argument("--lang", choices=["zh", "en"], default="zh")
    build.add_argument("--out", default="course", help="output folder")
    build.set_defaults(target=("helpers.course", "cli_course_build"))
    progress = course_sub.add_parser(
        "progress", help="which exercise checks each learner notebook passes (a trainer's view)"
    )
    progress.add_argument("folders", nargs="+", metavar="FOLDER", help="learner folder(s)")
    progress.add_argument(
        "--lang", choices=["zh", "en"], default=None, help="default: the course's language"
    )
    progress.set_defaults(target=("helpers.course", "cli_course_progress"))

    lab = sub.add_parser("lab", help="open JupyterLab on the notebooks and the built course")
    lab.add_argument("--lang", choices=["zh", "en"], default="zh", help="course language")
    lab.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    lab.add_argument("--ip", default="127.0.0.1", help="address to listen on (0.0.0.0: all)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument("--root", default=None, help="folder to serve (default: the project)")
    lab.add_argument("--token", default=None, help="access token (default: a random one)")
    lab.set_defaults(target=("helpers.lab", "cli_lab"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name, function_name = args.target
    function = getattr(importlib.import_module(module_name), function_name)
    return int(function(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
