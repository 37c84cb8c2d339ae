"""The monthly runner: real Papermill runs into report packs.

Two kinds of tests:

- Fixture notebooks (``tests/notebooks/fixtures/``: one that works, one that raises, one that
  sleeps past its timeout, one whose kernel dies, one saved with a foreign kernel name, one that
  needs campaign data) run through :func:`helpers.batch.runner.run_pack` / ``cli_run`` with
  ``notebooks_dir=`` pointing at the fixtures. The dataset is a stand-in
  (:class:`helpers.batch.runner.DatasetInfo`) so these tests do not depend on the sample's size.
- The real sample through every notebook (``sample_pack``, ``flat_pack`` from conftest).
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from helpers import parameters, paths
from helpers.batch import execution as execution
from helpers.batch import notebooks as notebooks_mod
from helpers.batch import packs as packs
from helpers.batch import runner as runner
from helpers.batch.progress import Progress

FIXTURES = Path(__file__).parents[1] / "notebooks" / "fixtures"
MONTH = "2026-10"
FORBIDDEN_IN_FAILURE_PAGE = ("Traceback", "most recent call last", "\x1b[", "[0;31m", 'File "')


@pytest.fixture
def fake_dataset(monkeypatch, tmp_path):
    """Replace dataset loading with a stand-in holding only customers and value roles."""
    spec = tmp_path / "fake" / "dataset.yaml"
    spec.parent.mkdir()
    spec.write_text("name: fake\n", encoding="utf-8")
    info = runner.DatasetInfo(
        spec=spec,
        name="假数据 fake",
        roles={"customers", "value", "duration", "event"},
        latest_month=MONTH,
        fingerprint={"files": [{"path": str(spec), "bytes": 11, "sha256": "0" * 64}], "rows": {}},
    )
    monkeypatch.setattr(runner, "load_dataset_info", lambda spec_path: info)
    return info


def _run(out, only, **kwargs):
    kwargs.setdefault("timeout", 120)
    return runner.run_pack(
        out=out, only=only, notebooks_dir=FIXTURES, progress_stream=io.StringIO(), **kwargs
    )


def _cli(out, only, timeout=120, jobs=1, params=None):
    args = argparse.Namespace(
        dataset=None,
        month=None,
        out=str(out),
        only=only,
        jobs=jobs,
        lang="zh",
        params=params,
        timeout=timeout,
        notebooks_dir=str(FIXTURES),
    )
    return runner.cli_run(args)


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _index_row(folder: Path, notebook: str) -> str:
    page = (folder / "index.html").read_text(encoding="utf-8")
    match = re.search(
        rf'<tr class="([^"]+)" data-notebook="{notebook}" data-status="([^"]+)"', page
    )
    assert match, f"no index row for {notebook} in {folder / 'index.html'}"
    return match.group(2) + " " + match.group(1)


# --------------------------------------------------------------------------------------------
# Unit tests: discovery, parameters, retries
# --------------------------------------------------------------------------------------------


def test_discovery_orders_by_name_with_summary_last(tmp_path):
    for name in ("05_monthly_summary", "02_c", "00_a", "01_b"):
        shutil.copy(FIXTURES / "ok_report.ipynb", tmp_path / f"{name}.ipynb")
    names = [p.stem for p in runner.discover_notebooks(tmp_path)]
    assert names == ["00_a", "01_b", "02_c", "05_monthly_summary"]
    assert [p.stem for p in runner.discover_notebooks(tmp_path, only=["01", "00_a.ipynb"])] == [
        "00_a",
        "01_b",
    ]
    with pytest.raises(ValueError, match="no such notebook.*Available: 00_a, 01_b"):
        runner.discover_notebooks(tmp_path, only=["09"])


def test_declared_parameters_survive_equals_sign_in_comments():
    # Papermill's own parser drops `dataset = ""  # ...; "" = the bundled sample`.
    declared = parameters.declared_parameters(FIXTURES / "ok_report.ipynb")
    assert declared == [
        "dataset", "month", "lang", "artifacts_dir", "campaign_id", "churn_horizon_months"
    ]  # fmt: skip
    chosen = runner.notebook_parameters(
        FIXTURES / "ok_report.ipynb",
        {"month": MONTH},
        {"common": {"churn_horizon_months": 3, "seed": 1}, "ok_report": {"campaign_id": "001"}},
    )
    assert chosen == {"month": MONTH, "campaign_id": "001", "churn_horizon_months": 3}


def test_params_file_must_be_a_mapping(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a YAML mapping"):
        runner.load_extra_parameters(bad)
    flat = tmp_path / "flat.yaml"
    flat.write_text("churn_horizon_months: 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="churn_horizon_months must be a block"):
        runner.load_extra_parameters(flat)
    broken = tmp_path / "broken.yaml"
    broken.write_text("common: [1, 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        runner.load_extra_parameters(broken)
    with pytest.raises(ValueError, match="file not found"):
        runner.load_extra_parameters(tmp_path / "missing.yaml")


def test_kernel_start_failures_are_told_apart(tmp_path):
    import zmq
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    missing = tmp_path / "never_written.ipynb"
    assert execution._is_kernel_start_failure(zmq.ZMQError(98, "Address already in use"), missing)
    assert execution._is_kernel_start_failure(
        RuntimeError("Kernel didn't respond in 60 seconds"), missing
    )
    assert not execution._is_kernel_start_failure(DeadKernelError("Kernel died"), missing)
    assert not execution._is_kernel_start_failure(
        PapermillExecutionError(3, 1, "x", "ValueError", "bad", []), missing
    )
    assert not execution._is_kernel_start_failure(ValueError("something else"), missing)


def test_one_line_error_strips_colour_and_traceback():
    from papermill.exceptions import PapermillExecutionError

    error = PapermillExecutionError(
        4, 2, "raise", "ValueError", "\x1b[0;31m分行 000 缺数据\x1b[0m\nsecond line", ["tb"]
    )
    message, cell = execution._error_summary(error)
    assert message == "ValueError: 分行 000 缺数据"
    assert cell == 4


# --------------------------------------------------------------------------------------------
# Fixture runs
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_good_run_writes_a_complete_pack(fake_dataset, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(
        'common:\n  churn_horizon_months: 12\n  seed: 7\nok_report:\n  campaign_id: "001"\n',
        encoding="utf-8",
    )
    out = tmp_path / "reports" / MONTH
    result = _run(out, ["ok_report", "foreign_kernel"], params=params)

    assert result.ok and result.out_dir == out
    assert result.statuses == {"foreign_kernel": "ok", "ok_report": "ok"}
    for name in ("index.html", "ok_report.html", "foreign_kernel.html", "manifest.json"):
        assert (out / name).is_file(), name
    assert (out / "executed" / "ok_report.ipynb").is_file()
    assert (out / "executed" / "foreign_kernel.ipynb").is_file()
    # Nothing temporary left behind.
    assert sorted(p.name for p in out.parent.iterdir()) == [MONTH]
    assert not list(out.rglob(".*partial*"))

    seen = json.loads((out / "artifacts" / "params_ok_report.json").read_text(encoding="utf-8"))
    assert seen["month"] == ["str", MONTH]
    assert seen["campaign_id"] == ["str", "001"]  # a string id keeps its leading zeros
    assert seen["churn_horizon_months"] == ["int", 12]
    assert seen["lang"] == ["str", "zh"]
    assert seen["dataset"] == ["str", str(fake_dataset.spec)]
    assert Path(seen["artifacts_dir"][1]).name == "artifacts"
    assert seen["cwd"] == ["str", str(FIXTURES)]  # kernel runs in the notebooks folder
    # jobs=1: the runner adds no thread cap of its own; the kernel inherits the caller's setting
    # (tests/conftest.py sets 1 for xdist workers)
    inherited = os.environ.get("OMP_NUM_THREADS")
    assert seen["omp_threads"] == [type(inherited).__name__, inherited]

    manifest = _manifest(out)
    assert manifest == result.manifest
    assert manifest["ok"] is True
    assert manifest["month"] == MONTH
    assert manifest["parameters"]["extra"] == {
        "common": {"churn_horizon_months": 12, "seed": 7},
        "ok_report": {"campaign_id": "001"},
    }
    assert manifest["dataset"]["fingerprint"] == fake_dataset.fingerprint
    assert manifest["dataset"]["name"] == "假数据 fake"
    assert manifest["versions"]["papermill"] and manifest["versions"]["pandas"]
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown", manifest["git_commit"])
    assert manifest["started_at"] <= manifest["finished_at"]
    assert manifest["duration_seconds"] >= entry_total(manifest)
    entry = {e["notebook"]: e for e in manifest["notebooks"]}["ok_report"]
    assert entry["status"] == "ok" and entry["error"] == "" and entry["retries"] == 0
    assert entry["duration_seconds"] > 0
    assert entry["title"] == "生成一份测试报告"

    foreign = json.loads((out / "artifacts" / "foreign_kernel.json").read_text(encoding="utf-8"))
    assert Path(foreign["executable"]).parent == Path(paths.PROJECT_ROOT, ".venv", "bin")
    assert foreign["month"] == MONTH

    executed = nbformat.read(out / "executed" / "ok_report.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'campaign_id = "001"' in injected[0].source
    assert "seed" not in injected[0].source  # a pack value reaches only notebooks that take it
    assert executed.metadata["kernelspec"]["name"] == "fishpond"

    index = (out / "index.html").read_text(encoding="utf-8")
    assert _index_row(out, "ok_report").startswith("ok fp-row-ok")
    assert "1,234,567" in index and "¥340" in index  # headline KPIs, half-up rounding
    assert "隐藏" not in index  # non-headline KPI left out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("broken", "timeout", "expected_error", "heading", "cell"),
    [
        ("raises", 120, "ValueError: 分行 000 的数据不完整", "第二步：读取分行数据", 7),
        ("sleeps", 30, "CellTimeoutError", "慢步骤", 6),  # 30 s: ok_report must fit under load
        ("dies", 120, "DeadKernelError", "崩溃步骤", 6),
    ],
)
def test_failure_keeps_good_pack_and_shows_failure_page(
    fake_dataset, tmp_path, broken, timeout, expected_error, heading, cell
):
    out = tmp_path / "reports" / MONTH
    assert _cli(out, ["ok_report"]) == 0
    good_run_id = _manifest(out)["run_id"]

    code = _cli(out, ["ok_report", broken], timeout=timeout)

    assert code == 1
    # The earlier good pack is untouched...
    assert _manifest(out)["run_id"] == good_run_id and _manifest(out)["ok"] is True
    assert not (out / f"{broken}.html").exists()
    # ...and the failed run sits beside it.
    failed = out.with_name(f"{MONTH}.failed")
    manifest = _manifest(failed)
    assert manifest["ok"] is False
    statuses = {e["notebook"]: e for e in manifest["notebooks"]}
    assert statuses["ok_report"]["status"] == "ok"  # a failure does not stop the others
    entry = statuses[broken]
    assert entry["status"] == "failed"
    assert entry["error"].startswith(expected_error)
    assert "\n" not in entry["error"]
    # The step is counted in the source notebook, as an analyst sees it in JupyterLab.
    source_cells = len(nbformat.read(FIXTURES / f"{broken}.ipynb", as_version=4).cells)
    assert entry["step"] == {"cell": cell, "total": source_cells, "heading": heading}
    assert _index_row(failed, broken).startswith("failed fp-row-failed")

    page = (failed / f"{broken}.html").read_text(encoding="utf-8")
    for forbidden in FORBIDDEN_IN_FAILURE_PAGE:
        assert forbidden not in page, f"{forbidden!r} in the failure page of {broken}"
    assert "fp-status-failed" in page
    assert heading in page
    assert f"executed/{broken}.ipynb" in page
    assert (failed / "executed" / f"{broken}.ipynb").is_file()
    assert "never reached" not in page


@pytest.mark.slow
def test_failure_without_good_pack_takes_the_month_and_success_replaces_it(fake_dataset, tmp_path):
    out = tmp_path / "reports" / MONTH
    assert _cli(out, ["raises"]) == 1
    assert _manifest(out)["ok"] is False  # visible where the month's report belongs
    assert not out.with_name(f"{MONTH}.failed").exists()

    assert _cli(out, ["raises"]) == 1  # a second failure replaces the first failed pack
    assert _manifest(out)["ok"] is False

    result = _run(out, ["ok_report"])
    assert result.ok and result.out_dir == out
    assert _manifest(out)["ok"] is True
    assert not (out / "raises.html").exists()  # the old pack was replaced, not merged

    # A later failure goes beside; a later success removes that stale failed pack.
    assert _cli(out, ["raises"]) == 1
    assert out.with_name(f"{MONTH}.failed").is_dir()
    assert _run(out, ["ok_report"]).ok
    assert not out.with_name(f"{MONTH}.failed").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == [MONTH]


@pytest.mark.slow
def test_not_applicable_is_grey_and_not_a_failure(fake_dataset, tmp_path):
    out = tmp_path / "reports" / MONTH
    assert _cli(out, ["needs_campaigns", "ok_report"]) == 0
    manifest = _manifest(out)
    entry = {e["notebook"]: e for e in manifest["notebooks"]}["needs_campaigns"]
    assert entry["status"] == "not_applicable"
    assert entry["missing_roles"] == ["campaigns", "outcome", "treatment"]
    assert not (out / "executed" / "needs_campaigns.ipynb").exists()  # never executed
    assert _index_row(out, "needs_campaigns").startswith("not_applicable fp-row-not_applicable")
    page = (out / "needs_campaigns.html").read_text(encoding="utf-8")
    assert "campaigns" in page and "营销活动分组与结果" in page
    assert "fp-status-not_applicable" in page


@pytest.mark.slow
def test_parallel_jobs_run_in_processes_with_thread_caps(fake_dataset, tmp_path):
    out = tmp_path / "reports" / MONTH
    result = _run(out, ["ok_report", "foreign_kernel", "raises"], jobs=2)
    assert not result.ok
    assert result.statuses == {"foreign_kernel": "ok", "ok_report": "ok", "raises": "failed"}
    seen = json.loads(
        (result.out_dir / "artifacts" / "params_ok_report.json").read_text(encoding="utf-8")
    )
    expected = str(max(1, (__import__("os").cpu_count() or 1) // 2))
    assert seen["omp_threads"] == ["str", expected]
    assert (result.out_dir / "raises.html").is_file()


@pytest.mark.slow
def test_kernel_start_failure_is_retried(fake_dataset, tmp_path, monkeypatch):
    import zmq

    real = execution.execute_notebook
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise zmq.ZMQError(98, "Address already in use")
        return real(*args, **kwargs)

    monkeypatch.setattr(execution, "execute_notebook", flaky)
    result = _run(tmp_path / MONTH, ["ok_report"])
    assert result.ok
    assert result.manifest["notebooks"][0]["retries"] == 1
    assert len(calls) == 2


@pytest.mark.slow
def test_progress_is_plain_lines_off_a_terminal(fake_dataset, tmp_path):
    stream = io.StringIO()
    runner.run_pack(
        out=tmp_path / MONTH, only=["ok_report"], notebooks_dir=FIXTURES, progress_stream=stream
    )
    assert re.search(r"^\[fishpond\] ok_report ok \d+\.\ds$", stream.getvalue(), re.MULTILINE)


def test_refuses_to_replace_a_folder_that_is_not_a_pack(fake_dataset, tmp_path):
    out = tmp_path / MONTH
    out.mkdir()
    (out / "precious.xlsx").write_text("keep me", encoding="utf-8")
    with pytest.raises(ValueError, match="not a Fishpond report pack"):
        _run(out, ["ok_report"])
    assert (out / "precious.xlsx").read_text(encoding="utf-8") == "keep me"


# --------------------------------------------------------------------------------------------
# The real sample
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_sample_pack_manifest_and_files(sample_pack):
    out = sample_pack.out_dir
    manifest = _manifest(out)
    failed = {e["notebook"]: e["error"] for e in manifest["notebooks"] if e["status"] == "failed"}
    assert not failed, f"notebooks failed on the sample: {failed}"
    assert sample_pack.ok
    assert manifest["month"] == MONTH and isinstance(manifest["month"], str)
    expected = {p.stem for p in runner.discover_notebooks()}
    assert set(sample_pack.statuses) == expected
    assert all(status == "ok" for status in sample_pack.statuses.values()), sample_pack.statuses
    for name in expected:
        assert (out / f"{name}.html").is_file()
        assert (out / "executed" / f"{name}.ipynb").is_file()
    assert (out / "index.html").is_file()
    assert any((out / "artifacts").iterdir())
    files = manifest["dataset"]["fingerprint"]["files"]
    assert files and all(len(f["sha256"]) == 64 for f in files)
    if runner.SUMMARY_NOTEBOOK in expected:
        assert manifest["notebooks"][0]["notebook"] == runner.SUMMARY_NOTEBOOK


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_flat_pack_has_no_failures(flat_pack):
    manifest = _manifest(flat_pack.out_dir)
    failed = {e["notebook"]: e["error"] for e in manifest["notebooks"] if e["status"] == "failed"}
    assert not failed, f"notebooks failed on the flat sample: {failed}"
    # Flat data has no monthly history: whatever needs it must say "not applicable".
    for entry in manifest["notebooks"]:
        if entry["status"] == "not_applicable":
            assert entry["missing_roles"]


def test_flat_data_defaults_to_the_last_complete_month():
    import datetime as dt

    assert runner.default_flat_month(dt.date(2026, 11, 28)) == "2026-10"
    assert runner.default_flat_month(dt.date(2027, 1, 1)) == "2026-12"


def test_stale_build_folders_of_dead_runs_are_removed(fake_dataset, tmp_path, monkeypatch):
    out = tmp_path / MONTH
    dead = out.with_name(f".{MONTH}.tmp-999999999-abc123")
    dead_aside = out.with_name(f".{MONTH}.failed.old-999999999-abc123")
    alive = out.with_name(f".{MONTH}.tmp-{__import__('os').getpid()}-abc123")
    other = out.with_name(".2026-09.tmp-999999999-abc123")  # another month: not ours to touch
    for folder in (dead, dead_aside, alive, other):
        (folder / "artifacts").mkdir(parents=True)
    packs.remove_stale_builds(out)
    assert not dead.exists() and not dead_aside.exists()
    assert alive.exists() and other.exists()


def _fishpond(*args, cwd=None):
    import subprocess
    import sys

    script = Path(sys.executable).with_name("fishpond")
    return subprocess.run(
        [str(script), "run", *args], capture_output=True, text=True, cwd=cwd, timeout=1200
    )


@pytest.mark.slow  # a real subprocess: a few seconds of start-up
def test_cli_bad_dataset_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere" / "dataset.yaml"
    result = _fishpond("--dataset", str(missing), "--out", str(tmp_path / MONTH))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("fishpond run: ")
    assert str(missing) in result.stderr or "nowhere" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / MONTH).exists()


@pytest.mark.slow  # a real subprocess
def test_cli_unknown_notebook_is_a_clear_error(tmp_path):
    result = _fishpond("--only", "99_nothing", "--out", str(tmp_path / MONTH))
    assert result.returncode == 2
    assert "no such notebook" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_cli_runs_the_sample_from_any_directory(tmp_path):
    # `make reports` runs exactly this command; the working directory must not matter.
    out = tmp_path / "packs" / MONTH
    result = _fishpond("--only", "00", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Report pack: {out / 'index.html'}" in result.stdout
    assert "[fishpond] 00_data_overview ok" in result.stderr  # plain lines: not a terminal
    manifest = _manifest(out)
    assert manifest["ok"] and manifest["month"] == MONTH
    assert [e["notebook"] for e in manifest["notebooks"]] == ["00_data_overview"]
    assert manifest["dataset"]["spec"] == str(paths.SAMPLE_SPEC)


@pytest.mark.slow
def test_export_failure_is_a_failed_notebook_not_a_crash(fake_dataset, tmp_path, monkeypatch):
    from helpers.batch import export as export

    def broken_export(*args, **kwargs):
        raise RuntimeError("template exploded\nwith detail")

    monkeypatch.setattr(export, "write_notebook_html", broken_export)
    result = _run(tmp_path / MONTH, ["ok_report"])
    assert not result.ok
    entry = result.manifest["notebooks"][0]
    assert entry["status"] == "failed"
    assert entry["error"] == "HTML export failed: RuntimeError: template exploded"
    page = (result.out_dir / "ok_report.html").read_text(encoding="utf-8")
    assert "template exploded" in page and "fp-status-failed" in page


def test_progress_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = Progress(2, stream)
    for name in ("00_a", "01_b"):
        progress.done({"notebook": name, "status": "ok", "duration_seconds": 1.25, "error": ""})
    progress.close()
    text = stream.getvalue()
    assert "2/2" in text and "100%" in text  # a tqdm bar, not only log lines
    assert "[fishpond] 01_b ok 1.2s" in text or "[fishpond] 01_b ok 1.3s" in text


def test_not_applicable_with_a_real_dataset_lacking_roles(tmp_path):
    # A bank's minimal extract: ids and balances only, no tenure or churn flag. The survival
    # notebook declares `requires: [duration, event]`, so it must be "not applicable".
    from helpers.data import load_dataset

    folder = tmp_path / "bank"
    folder.mkdir()
    (folder / "customers.csv").write_text(
        '客户号,资产余额\n0001,"1,200.50"\n0002,300\n0003,45000\n', encoding="utf-8"
    )
    spec = folder / "dataset.yaml"
    spec.write_text(
        "name: minimal-bank\nmode: flat\ntable:\n  path: customers.csv\n"
        "roles:\n  id: 客户号\n  value: 资产余额\n",
        encoding="utf-8",
    )
    roles = load_dataset(spec).roles()
    assert not {"duration", "event"} & roles
    survival = next(p for p in runner.discover_notebooks() if p.stem.startswith("02"))
    assert {"duration", "event"} <= set(runner.notebook_requirements(survival))

    out = tmp_path / "reports" / MONTH
    result = runner.run_pack(
        dataset=spec, month=MONTH, out=out, only=["02"], progress_stream=io.StringIO()
    )
    assert result.ok
    assert result.statuses == {survival.stem: "not_applicable"}
    entry = result.manifest["notebooks"][0]
    assert {"duration", "event"} <= set(entry["missing_roles"])
    assert result.manifest["dataset"]["name"] == "minimal-bank"
    assert result.manifest["dataset"]["fingerprint"]["files"][0]["path"].endswith("customers.csv")
    page = (out / f"{survival.stem}.html").read_text(encoding="utf-8")
    assert "在网时长" in page and "是否流失" in page  # what the notebook would need, in words
    assert not (out / "executed" / f"{survival.stem}.ipynb").exists()


@pytest.mark.slow
def test_summary_runs_after_its_upstream_and_is_listed_first(fake_dataset, tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(FIXTURES / "ok_report.ipynb", folder / "01_report.ipynb")
    shutil.copy(FIXTURES / "foreign_kernel.ipynb", folder / "02_other.ipynb")
    summary = nbformat.read(FIXTURES / "raises.ipynb", as_version=4)
    summary.cells = summary.cells[:3] + [
        nbformat.v4.new_code_cell(
            "from pathlib import Path\n\n"
            'assert Path(artifacts_dir, "params_ok_report.json").exists(), "ran too early"\n'
            'assert Path(artifacts_dir, "foreign_kernel.json").exists(), "ran too early"'
        )
    ]
    summary.metadata["fishpond"] = {"requires": [], "upstream": ["01_report", "02_other"]}
    nbformat.write(summary, folder / f"{runner.SUMMARY_NOTEBOOK}.ipynb")
    result = runner.run_pack(
        out=tmp_path / MONTH, notebooks_dir=folder, jobs=2, progress_stream=io.StringIO()
    )
    failed = {e["notebook"]: e["error"] for e in result.manifest["notebooks"] if e["error"]}
    assert result.ok, failed
    assert [e["notebook"] for e in result.manifest["notebooks"]] == [
        runner.SUMMARY_NOTEBOOK,
        "01_report",
        "02_other",
    ]
    index = (result.out_dir / "index.html").read_text(encoding="utf-8")
    assert index.index(f'data-notebook="{runner.SUMMARY_NOTEBOOK}"') < index.index(
        'data-notebook="01_report"'
    )


@pytest.mark.slow
def test_a_broken_notebook_file_fails_alone(fake_dataset, tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(FIXTURES / "ok_report.ipynb", folder / "01_report.ipynb")
    broken = nbformat.read(FIXTURES / "raises.ipynb", as_version=4)
    broken.cells[2].source = 'month = "2026-10  # str: unterminated string'
    nbformat.write(broken, folder / "02_broken_parameters.ipynb")
    (folder / "03_not_json.ipynb").write_text("{ this is not a notebook", encoding="utf-8")

    result = runner.run_pack(
        out=tmp_path / MONTH, notebooks_dir=folder, progress_stream=io.StringIO()
    )

    assert result.statuses == {
        "01_report": "ok",
        "02_broken_parameters": "failed",
        "03_not_json": "failed",
    }
    errors = {e["notebook"]: e["error"] for e in result.manifest["notebooks"]}
    assert errors["02_broken_parameters"].startswith(
        "ValueError: the parameters cell is not valid Python (line 1"
    )
    assert errors["03_not_json"]
    for name in ("02_broken_parameters", "03_not_json"):
        page = (result.out_dir / f"{name}.html").read_text(encoding="utf-8")
        assert "fp-status-failed" in page and "Traceback" not in page


def entry_total(manifest: dict) -> float:
    """Sum of the notebooks' durations (a sequential run takes at least that long)."""
    return sum(entry["duration_seconds"] for entry in manifest["notebooks"]) - 0.1 * len(
        manifest["notebooks"]
    )


@pytest.mark.slow
def test_a_reader_waits_for_its_upstream_with_two_jobs(fake_dataset, tmp_path):
    """With --jobs 2 a notebook that declares an upstream starts only after it finished.

    The writer sleeps before writing; without the upstream rule both start together and the
    reader finds nothing. Repeated so a lucky ordering cannot pass it."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    writer = nbformat.read(FIXTURES / "raises.ipynb", as_version=4)
    writer.cells = writer.cells[:3] + [
        nbformat.v4.new_code_cell(
            "import time\nfrom pathlib import Path\n\ntime.sleep(3)\n"
            'Path(artifacts_dir, "written.txt").write_text(month)'
        )
    ]
    nbformat.write(writer, folder / "01_writer.ipynb")
    reader = nbformat.read(FIXTURES / "raises.ipynb", as_version=4)
    reader.cells = reader.cells[:3] + [
        nbformat.v4.new_code_cell(
            "from pathlib import Path\n\n"
            'assert Path(artifacts_dir, "written.txt").read_text() == month, "ran too early"'
        )
    ]
    reader.metadata["fishpond"] = {"requires": [], "upstream": ["01_writer"]}
    nbformat.write(reader, folder / "00_reader.ipynb")  # sorts first: only the rule delays it
    for attempt in range(2):
        result = runner.run_pack(
            out=tmp_path / f"run{attempt}" / MONTH,
            notebooks_dir=folder,
            jobs=2,
            progress_stream=io.StringIO(),
        )
        failed = {e["notebook"]: e["error"] for e in result.manifest["notebooks"] if e["error"]}
        assert result.ok, failed


def test_upstream_cycles_are_refused(tmp_path):
    for name, upstream in [("a", ["b"]), ("b", ["a"]), ("c", [])]:
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["fishpond"] = {"upstream": upstream}
        nbformat.write(notebook, tmp_path / f"{name}.ipynb")
    paths_ = sorted(tmp_path.glob("*.ipynb"))
    with pytest.raises(ValueError, match="cycle among"):
        runner.run_order(paths_)
    (tmp_path / "a.ipynb").unlink()
    assert [p.stem for p in runner.run_order(sorted(tmp_path.glob("*.ipynb")))] == ["b", "c"]


def test_the_longest_chain_starts_first():
    weights = {"00": 45, "01": 72, "02": 149, "03": 190, "04": 173, "05": 12}
    upstream = {"04": ["02"], "05": ["00", "01", "02", "03", "04"], "02": ["gone"]}
    priority = notebooks_mod.start_priorities(weights, upstream)
    assert priority["02"] == 149 + 173 + 12  # 02 -> 04 -> 05
    assert priority["03"] == 190 + 12
    assert priority["05"] == 12
    order = sorted(weights, key=lambda n: -priority[n])
    assert order[:2] == ["02", "03"] and order[-1] == "05"
    with pytest.raises(ValueError, match="cycle"):
        notebooks_mod.start_priorities({"a": 1, "b": 1}, {"a": ["b"], "b": ["a"]})


def test_weights_come_from_the_notebook_metadata(tmp_path):
    for name, fishpond in [("a", {"weight": 30}), ("b", {}), ("c", {"weight": -2})]:
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["fishpond"] = fishpond
        nbformat.write(notebook, tmp_path / f"{name}.ipynb")
    (tmp_path / "d.ipynb").write_text("not json")
    assert [runner.notebook_weight(tmp_path / f"{n}.ipynb") for n in "abcd"] == [30, 1, 1, 1]
    for path in sorted(runner.paths.NOTEBOOKS_DIR.glob("0*.ipynb")):
        assert runner.notebook_weight(path) > 1, f"{path.name} has no measured weight"


@pytest.mark.slow
def test_a_kernel_left_alone_gets_the_freed_cores(fake_dataset, tmp_path):
    """--jobs 2: while two kernels run each has cores // 2 threads; when one is left alone the
    runner raises the run's budget to every core, which that kernel sees."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    probe = (
        "import time\nfrom pathlib import Path\n"
        "from helpers.data.run_record import thread_budget\n\n"
        "seen = [thread_budget()]\ntime.sleep({sleep})\nseen.append(thread_budget())\n"
        'Path(artifacts_dir, "{name}.txt").write_text(repr(seen))'
    )
    for name, sleep in [("00_long", 10), ("01_short", 0)]:
        notebook = nbformat.read(FIXTURES / "raises.ipynb", as_version=4)
        notebook.cells = notebook.cells[:3] + [
            nbformat.v4.new_code_cell(probe.format(sleep=sleep, name=name))
        ]
        nbformat.write(notebook, folder / f"{name}.ipynb")
    result = runner.run_pack(
        out=tmp_path / MONTH, notebooks_dir=folder, jobs=2, progress_stream=io.StringIO()
    )
    assert result.ok, [e["error"] for e in result.manifest["notebooks"]]
    seen = ast.literal_eval((result.out_dir / "artifacts" / "00_long.txt").read_text())
    two, alone = execution.thread_limit(2), execution.thread_limit(1)
    assert seen[0] in (None, two)  # side by side: the cap each kernel started with
    assert seen[1] == (alone if alone != two else None)  # alone: every core (if that is more)
