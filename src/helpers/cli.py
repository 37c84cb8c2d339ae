"""The ``fishpond`` command (also ``python -m helpers``).

Each subcommand is a thin shell over a function in its domain module, imported lazily so that
``fishpond --help`` is instant:

- ``fishpond synth``   -> :func:`helpers.synth.cli_synth`
- ``fishpond validate`` -> :func:`helpers.data.cli_validate`
- ``fishpond run``     -> :func:`helpers.batch.runner.cli_run`
- ``fishpond init DIR`` -> :func:`helpers.batch.workspace.cli_init`
- ``fishpond course build`` -> :func:`helpers.course.cli_course_build`
- ``fishpond course progress`` -> :func:`helpers.course.cli_course_progress`
- ``fishpond lab``     -> :func:`helpers.lab.cli_lab`

Every ``cli_*`` function takes the parsed ``argparse.Namespace`` and returns an exit code.
Exit codes: 0 done; 1 the command ran and found a failure (a notebook failed, the data is not
valid); 2 the command could not start or its input is wrong (a message says what to fix;
argparse uses 2 for usage errors too); 130 interrupted. No traceback reaches the terminal
unless ``--debug`` is given (before or after the subcommand).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys


def _month(value: str) -> str:
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"month must look like 2026-10, not {value!r}")
    return value


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _with_debug(parser: argparse.ArgumentParser, top: bool = False) -> argparse.ArgumentParser:
    # SUPPRESS on the subcommands, so `fishpond --debug run` is not reset by `run`'s default.
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show Python tracebacks instead of one-line messages",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fishpond",
        description="Fishpond: existing-customer management notebooks and reports (存量客户经营).",
    )
    _with_debug(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="generate a synthetic bank with known ground truth")
    synth.add_argument(
        "--customers", type=_positive, default=10_000, help="customers in the window"
    )
    synth.add_argument("--months", type=_positive, default=24, help="months in the data window")
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
    run.add_argument(
        "--jobs", type=_positive, default=1, help="notebooks run in parallel processes"
    )
    run.add_argument("--lang", choices=["zh", "en"], default="zh", help="report language")
    run.add_argument("--params", default=None, help="YAML file of extra notebook parameters")
    run.add_argument(
        "--timeout",
        type=_positive,
        default=1800,
        help="the longest one notebook cell may run, in seconds (at least 1; no 'no limit')",
    )
    run.add_argument(
        "--notebooks-dir",
        default=None,
        metavar="DIR",
        help="folder of the notebooks to run (default: the project's notebooks/)",
    )
    run.set_defaults(target=("helpers.batch.runner", "cli_run"))

    init = sub.add_parser("init", help="lay out a working folder: notebooks, sample, reports")
    init.add_argument("dir", help="folder to create or fill (existing files are kept)")
    init.set_defaults(target=("helpers.batch.workspace", "cli_init"))

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
    for subparser in (synth, validate, run, course, build, progress, lab):
        _with_debug(subparser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the subcommand; return its exit code.

    A failure the subcommand did not turn into a message itself still ends as one line on
    stderr and exit code 2 (130 for Ctrl-C); ``--debug`` shows the traceback instead.
    """
    args = build_parser().parse_args(argv)
    command = " ".join(filter(None, [args.command, getattr(args, "course_command", None)]))
    try:
        module_name, function_name = args.target
        function = getattr(importlib.import_module(module_name), function_name)
        return int(function(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"fishpond {command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``fishpond validate | head``): stop quietly, as cat does.
        # stdout is pointed at devnull so Python's exit flush does not fail once more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as error:  # the last resort: a sentence, never a traceback
        if args.debug:
            raise
        print(f"fishpond {command}: {_message(error)}", file=sys.stderr)
        return 2


def _message(error: BaseException) -> str:
    """One readable line for an error nobody turned into a message."""
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    text = str(error).strip() or "no detail"
    if isinstance(error, ValueError | LookupError | TypeError):
        return text
    return f"{type(error).__name__}: {text} (run again with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
