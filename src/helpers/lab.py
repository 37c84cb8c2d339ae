"""``fishpond lab`` (``make lab``, ``make course``): JupyterLab on the project, first notebook open.

JupyterLab serves one folder and nothing above it. Serving ``notebooks/`` hid the built course
(``course/zh/learner/...``), so the lab starts at the project root, where ``notebooks/``,
``course/`` and the landing ``README.md`` are all reachable, and opens the first learner
notebook directly (``ServerApp.default_url``). It picks a free port and its own token, so the
URL it prints is the one that works, and passes ``--allow-root`` only when run as root
(training VMs and containers often are), because Jupyter refuses to start as root without it.

A module of its own (beside ``course``, not inside it) so that starting the lab does not load
the course checks and the models they import: it needs only the catalogue and the paths.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from helpers import i18n
from helpers.paths import PROJECT_ROOT

FIRST_NOTEBOOK = "00_data_overview.ipynb"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def first_notebook(root: Path, lang: str = "zh") -> str | None:
    """Path (relative to ``root``, with /) of the notebook a learner opens first.

    The built course's first learner notebook when there is one, else the source notebook.
    """
    for candidate in (
        Path("course") / lang / "learner" / FIRST_NOTEBOOK,
        Path("notebooks") / FIRST_NOTEBOOK,
    ):
        if (root / candidate).is_file():
            return candidate.as_posix()
    return None


def lab_command(
    root: Path,
    port: int,
    token: str,
    first: str | None = None,
    ip: str = "127.0.0.1",
    open_browser: bool = True,
    euid: int | None = None,
) -> list[str]:
    """The JupyterLab command line: served at ``root``, on ``port`` only, opening ``first``."""
    euid = os.geteuid() if euid is None and hasattr(os, "geteuid") else euid
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.ip={ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.open_browser={open_browser}",
    ]
    if first:
        command.append(f"--ServerApp.default_url=/lab/tree/{quote(first)}")
    if euid == 0:
        command.append("--allow-root")
    return command


def lab_url(ip: str, port: int, token: str, first: str | None = None) -> str:
    """The URL to paste in a browser (a wildcard ``ip`` is shown as this machine's name)."""
    host = socket.gethostname() if ip in ("0.0.0.0", "", "::") else ip
    path = f"/lab/tree/{quote(first)}" if first else "/lab"
    return f"http://{host}:{port}{path}?token={token}"


def cli_lab(args) -> int:
    """``fishpond lab [--lang zh|en] [--port N] [--ip ADDR] [--no-browser] [--root DIR]``."""
    lang = args.lang
    if importlib.util.find_spec("jupyterlab") is None:
        print(i18n.t("course_lab_missing", lang), file=sys.stderr)
        return 2
    root = Path(args.root or PROJECT_ROOT).resolve()
    port = args.port or free_port()
    token = args.token or secrets.token_hex(24)
    first = first_notebook(root, lang)
    print(i18n.t("course_lab_url", lang, url=lab_url(args.ip, port, token, first)))
    if first:
        print(i18n.t("course_lab_first", lang, path=first))
    if not (root / "course" / lang / "learner").is_dir():
        print(i18n.t("course_lab_no_course", lang))
    print(i18n.t("course_lab_stop", lang), flush=True)
    command = lab_command(root, port, token, first, args.ip, not args.no_browser)
    try:
        return subprocess.call(command, cwd=root)
    except KeyboardInterrupt:
        return 0
