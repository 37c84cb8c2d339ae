"""Runs wherever it is installed (issue 13 §7).

An analyst who installs with ``pip install .`` (not editable) and never registers a Jupyter
kernel must still get the sample pack from ``fishpond run`` started in any folder: the wheel
bundles the notebooks and the sample, and the runner falls back to the current interpreter
when no ``fishpond`` kernel is registered (and says so in the manifest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import paths
from helpers.batch import execution, workspace

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a new user: no PYTHONPATH into a checkout, no registered kernels."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "FISHPOND_ROOT"}}
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")  # hides user-level kernel specs
    env["JUPYTER_PATH"] = ""
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.slow
def test_pip_install_then_run_from_an_unrelated_folder(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = _clean_env(tmp_path)
    started = time.monotonic()
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(ROOT)],
        env=env, capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    print(f"\npip install . took {time.monotonic() - started:.0f} s")
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "analyst"
    elsewhere.mkdir()
    started = time.monotonic()
    run = subprocess.run(
        [str(venv / "bin" / "fishpond"), "run", "--jobs", "2", "--lang", "en"],
        env=env, capture_output=True, text=True, cwd=elsewhere,
    )  # fmt: skip
    print(f"fishpond run took {time.monotonic() - started:.0f} s")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    packs = list((elsewhere / "reports").glob("*/manifest.json"))
    assert len(packs) == 1
    manifest = json.loads(packs[0].read_text(encoding="utf-8"))
    assert manifest["kernel"]["source"] == "current interpreter"
    assert Path(manifest["kernel"]["python"]).parent == venv / "bin"
    assert {e["status"] for e in manifest["notebooks"]} == {"ok"}
    assert len(manifest["notebooks"]) == 6
    # installed code, not this checkout's
    assert str(ROOT / "src") not in manifest["dataset"]["spec"]


def test_kernel_choice_prefers_the_registered_kernel(monkeypatch):
    class Registered:
        def get_kernel_spec(self, name):
            return type("Spec", (), {"argv": ["/opt/python", "-m", "ipykernel_launcher"]})()

    monkeypatch.setattr(execution, "KernelSpecManager", Registered)
    choice = execution.kernel_choice()
    assert choice == {"name": "fishpond", "source": "registered kernel", "python": "/opt/python"}


def test_kernel_choice_falls_back_to_the_current_interpreter(monkeypatch):
    class Nothing:
        def get_kernel_spec(self, name):
            raise execution.NoSuchKernel(name)

    monkeypatch.setattr(execution, "KernelSpecManager", Nothing)
    choice = execution.kernel_choice()
    assert choice["source"] == "current interpreter" and choice["python"] == sys.executable
    spec = execution._SpecsWithCurrentInterpreter().get_kernel_spec(choice["name"])
    assert spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]


def test_a_notebook_runs_on_the_current_interpreter_kernel(tmp_path):
    """The fallback kernel really starts (with encrypted traffic when libzmq has CurveZMQ)."""
    fixture = ROOT / "tests" / "notebooks" / "fixtures" / "ok_report.ipynb"
    executed = execution.execute_notebook(
        fixture, tmp_path / "out.ipynb", {}, timeout=120, cwd=tmp_path,
        kernel=execution.CURRENT_KERNEL,
    )  # fmt: skip
    # No kernel of that name is registered anywhere: only the fallback spec manager knows it.
    assert executed.metadata["papermill"]["exception"] is None


def test_init_lays_out_a_working_folder(tmp_path):
    written = workspace.init_workspace(tmp_path / "work")
    assert (tmp_path / "work" / "notebooks" / "02_lifecycle_survival.ipynb").is_file()
    assert (tmp_path / "work" / "data" / "sample" / "dataset.yaml").is_file()
    assert (tmp_path / "work" / "reports").is_dir()
    # a second init keeps what is there (the analyst's edits)
    edited = tmp_path / "work" / "notebooks" / "00_data_overview.ipynb"
    edited.write_text("edited", encoding="utf-8")
    assert workspace.init_workspace(tmp_path / "work") == []
    assert edited.read_text(encoding="utf-8") == "edited"
    assert len(written) > 10


def test_paths_fall_back_to_the_bundle_outside_a_checkout(tmp_path, monkeypatch):
    bundle = tmp_path / "bundle"
    (bundle / "notebooks").mkdir(parents=True)
    (bundle / "data" / "sample").mkdir(parents=True)
    monkeypatch.setattr(paths, "BUNDLE_DIR", bundle)
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path / "analyst")
    assert paths._here_or_bundled("notebooks") == bundle / "notebooks"
    (tmp_path / "analyst" / "notebooks").mkdir(parents=True)
    assert paths._here_or_bundled("notebooks") == tmp_path / "analyst" / "notebooks"


def test_empty_course_build_is_an_error(tmp_path, monkeypatch, capsys):
    from helpers import course

    monkeypatch.setattr("helpers.course.build.build_course", lambda **kwargs: [])
    args = type("Args", (), {"lang": "en", "out": str(tmp_path / "course")})()
    assert course.cli_course_build(args) == 1
    assert "no notebooks" in capsys.readouterr().out


def test_requirement_alternatives():
    from helpers.batch.notebooks import missing_roles

    assert missing_roles(["value|tier"], {"tier"}) == []
    assert missing_roles(["value|tier", "duration"], {"event"}) == ["duration", "value|tier"]
    assert missing_roles(["value", "event|treatment"], {"value", "treatment"}) == []
