"""``fishpond lab`` / ``make lab``: JupyterLab on the project root, root-safe, URL printed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers import course, lab
from helpers.paths import NOTEBOOKS_DIR, PROJECT_ROOT


def _flag(command: list[str], name: str) -> str | None:
    values = [part.split("=", 1)[1] for part in command if part.startswith(f"--{name}=")]
    return values[-1] if values else None


def test_lab_command_serves_the_root_and_allows_root_only_for_root(tmp_path):
    first = "course/zh/learner/00_data_overview.ipynb"
    as_root = lab.lab_command(tmp_path, 8899, "t0k", first, euid=0)
    as_user = lab.lab_command(tmp_path, 8899, "t0k", first, euid=1000)
    assert "--allow-root" in as_root and "--allow-root" not in as_user
    assert as_user[:3] == [sys.executable, "-m", "jupyterlab"]
    assert _flag(as_user, "ServerApp.root_dir") == str(tmp_path)
    assert _flag(as_user, "ServerApp.port") == "8899"
    assert _flag(as_user, "ServerApp.port_retries") == "0"  # the printed URL stays right
    assert _flag(as_user, "IdentityProvider.token") == "t0k"
    assert _flag(as_user, "ServerApp.default_url") == f"/lab/tree/{first}"


def test_first_notebook_is_the_courses_when_built(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00_data_overview.ipynb").write_text("{}")
    assert lab.first_notebook(tmp_path, "zh") == "notebooks/00_data_overview.ipynb"
    course.build_course("zh", tmp_path / "course" / "zh")
    assert lab.first_notebook(tmp_path, "zh") == "course/zh/learner/00_data_overview.ipynb"
    assert lab.first_notebook(tmp_path, "en") == "notebooks/00_data_overview.ipynb"
    url = lab.lab_url("127.0.0.1", 8899, "t0k", "course/zh/learner/00_data_overview.ipynb")
    assert (
        url == "http://127.0.0.1:8899/lab/tree/course/zh/learner/00_data_overview.ipynb?token=t0k"
    )


def test_lab_default_root_is_the_project_with_notebooks(monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr("subprocess.call", lambda command, cwd: seen.update(cwd=cwd) or 0)
    from helpers.cli import main

    assert main(["lab", "--no-browser", "--port", "8899", "--token", "t0k"]) == 0
    assert Path(seen["cwd"]) == PROJECT_ROOT and (PROJECT_ROOT / "notebooks").is_dir()
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8899/lab/tree/" in out and "token=t0k" in out
    assert "00_data_overview.ipynb" in out  # the first notebook to open


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (localhost only)
        return json.load(response)


@pytest.mark.slow
def test_lab_starts_and_shows_notebooks_and_the_course(tmp_path):
    """As the training VM does it: `fishpond lab` (as root here, if root), list, stop."""
    root = tmp_path / "fishpond"
    shutil.copytree(NOTEBOOKS_DIR, root / "notebooks")
    (root / "README.md").write_text("# Fishpond\n", encoding="utf-8")
    course.build_course("zh", root / "course" / "zh")
    port, token = lab.free_port(), "fishpond-test-token"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "config")  # no user config leaks in
    command = [sys.executable, "-m", "helpers", "lab", "--root", str(root), "--port", str(port)]
    command += ["--token", token, "--no-browser"]
    server = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # one process group: the test stops JupyterLab and its kernels
    )
    try:
        base = f"http://127.0.0.1:{port}/api/contents"
        deadline, listing = time.monotonic() + 90, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                listing = _get(f"{base}?token={token}")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert listing is not None, f"JupyterLab did not answer (exit {server.poll()})"
        names = {item["name"] for item in listing["content"]}
        assert {"notebooks", "course", "README.md"} <= names, names
        learner = _get(f"{base}/course/zh/learner?token={token}")
        assert "00_data_overview.ipynb" in {item["name"] for item in learner["content"]}
        with pytest.raises(urllib.error.HTTPError):  # the token is required
            _get(base)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            output, _ = server.communicate()
    assert f"http://127.0.0.1:{port}/lab/tree/course/zh/learner/00_data_overview.ipynb" in output
    assert "Running as root is not recommended" not in output  # started with --allow-root
