"""The hostile-input suite: data, spec, CLI, faults and security, one table.

Every case runs ``fishpond`` the way a new user or an attacker would and asserts four things:
the exit code, a message that names the problem, no traceback on the terminal (unless the case
asks for ``--debug``), and that the previous good pack (``good_pack``, copied to the case's own
``reports/2026-10``) is byte-identical afterwards, with no build folder or lock left beside it.

Most cases call :func:`helpers.cli.main` in-process (what a subprocess would run, minus the
interpreter start). Faults that need a real process (``kill -9``, SIGINT, SIGTERM, a second
concurrent run) start ``python -m helpers`` and drive it through the gate of the quick fixture
notebook. Disk-full cases use a small tmpfs when the suite runs as root and may mount (CI does),
and injected ``ENOSPC`` otherwise; both kinds are in the table.

Cases that run a notebook build a pack: they are marked slow. The cases whose fix belonged to
the data branch (Excel ids, ambiguous dates, date bounds, the validation cache, quarantine, the
empty file) were written as ``xfail(strict=True)`` before it merged and turned green with it;
``Case.xfail`` remains for the next such hand-over.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hostile_support import HOSTILE_NAME, MONTH, NOTEBOOKS, audit_html, snapshot

from helpers import cli, paths

# One xdist worker runs the table, so the good pack is built once per session, not per worker.
pytestmark = pytest.mark.xdist_group("hostile")

DEAD_PID = 999_999_999  # no such process


# --------------------------------------------------------------------------------------------
# The environment of one case
# --------------------------------------------------------------------------------------------


@dataclass
class Env:
    """Paths of one case. ``pack`` is a copy of the good pack at ``reports/2026-10``."""

    tmp: Path
    reports: Path
    pack: Path
    spec: Path  # the shared tiny spec (read-only)
    data_spec: Path  # a private copy to break
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    before: dict[str, str] = field(default_factory=dict)

    def fields(self) -> dict[str, str]:
        return {
            "tmp": str(self.tmp),
            "reports": str(self.reports),
            "pack": str(self.pack),
            "spec": str(self.spec),
            "data_spec": str(self.data_spec),
            "data": str(self.data_spec.parent),
            "notebooks": str(NOTEBOOKS),
            "params": str(self.tmp / "params.yaml"),
            "month": MONTH,
        }


def in_process(env: Env, argv: list[str]) -> tuple[int, str]:
    """Run ``fishpond <argv>`` in this process; return ``(exit code, stdout + stderr)``."""
    env.capsys.readouterr()
    try:
        code = cli.main(argv)
    except SystemExit as stop:  # argparse: usage errors
        code = stop.code if isinstance(stop.code, int) else 2
    captured = env.capsys.readouterr()
    return code, captured.out + captured.err


def start_process(env: Env, argv: list[str], **variables: str) -> subprocess.Popen:
    """Start ``python -m helpers <argv>`` as its own process group."""
    environment = {**os.environ, **variables}
    return subprocess.Popen(
        [sys.executable, "-m", "helpers", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        start_new_session=True,
    )


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def run_args(
    *extra: str, dataset: str = "{spec}", only: str = "quick", out: str | None = "{pack}"
) -> list[str]:
    """``run`` on the tiny data with the fixture notebooks, into the good pack's folder."""
    where = ["--out", out] if out else []  # None: the default, reports/<month> of the case
    return [
        "run", "--dataset", dataset, "--notebooks-dir", "{notebooks}", "--only", only,
        *where, "--timeout", "120", *extra,
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Setups
# --------------------------------------------------------------------------------------------


def write(name: str, text: str | bytes) -> Callable[[Env], None]:
    """Write a file under the case's tmp folder (placeholders filled in text)."""

    def setup(env: Env) -> None:
        path = env.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text.format(**env.fields()), encoding="utf-8")

    return setup


def params(text: str) -> Callable[[Env], None]:
    return write("params.yaml", text)


def alias_bomb() -> str:
    """A billion nested items in nine lines (YAML aliases): refused, never expanded."""
    lines = ['    - &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"    - &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "common:\n  tier_thresholds:\n" + "\n".join(lines) + "\n"


def table(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Env], None]:
    """Break one CSV table of the private data copy (read as text, so ids stay as typed)."""

    def setup(env: Env) -> None:
        path = env.data_spec.parent / f"{name}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        change(frame).to_csv(path, index=False)

    return setup


def set_cell(column: str, value: str, row: int = 0):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return change


def spec_change(change: Callable[[dict], dict]) -> Callable[[Env], None]:
    """Change the private copy's dataset.yaml."""

    def setup(env: Env) -> None:
        spec = yaml.safe_load(env.data_spec.read_text(encoding="utf-8"))
        env.data_spec.write_text(yaml.safe_dump(change(spec), allow_unicode=True), "utf-8")

    return setup


def spec_text(text: str) -> Callable[[Env], None]:
    def setup(env: Env) -> None:
        env.data_spec.write_text(text.format(**env.fields()), encoding="utf-8")

    return setup


def manifest_change(change: Callable[[dict], None]) -> Callable[[Env], None]:
    """Edit the pack copy's manifest (as if another run had written it), then re-snapshot."""

    def setup(env: Env) -> None:
        path = env.pack / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        change(manifest)
        path.write_text(json.dumps(manifest), encoding="utf-8")

    return setup


def mount_tmpfs(env: Env, size_mb: int, read_only: bool = False) -> Path:
    """A small tmpfs under the case's folder (skip when this process may not mount)."""
    mount_point = env.tmp / "disk"
    mount_point.mkdir()
    options = f"size={size_mb}m" + (",ro" if read_only else "")
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the ENOSPC-injection cases run instead)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    env.cleanups.append(lambda: subprocess.run(["umount", "-l", str(mount_point)], check=False))
    return mount_point


def pack_on_disk(size_mb: int, leave_free_mb: float) -> Callable[[Env], None]:
    """Move the case's good pack onto a small tmpfs and fill it up to ``leave_free_mb`` free."""

    def setup(env: Env) -> None:
        disk = mount_tmpfs(env, size_mb)
        reports = disk / "reports"
        shutil.copytree(env.pack, reports / MONTH)
        env.reports, env.pack = reports, reports / MONTH
        free = shutil.disk_usage(disk).free
        filler = max(0, free - int(leave_free_mb * 1024 * 1024))
        with open(disk / "filler.bin", "wb") as handle:
            while filler > 0:
                chunk = min(filler, 1024 * 1024)
                handle.write(b"\0" * chunk)
                filler -= chunk

    return setup


def read_only_out(env: Env) -> None:
    """The pack's parent folder on a read-only file system (or without write permission)."""
    if os.geteuid() == 0:
        disk = mount_tmpfs(env, 8)
        shutil.copytree(env.pack, disk / "reports" / MONTH)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        env.reports, env.pack = disk / "reports", disk / "reports" / MONTH
    else:
        env.reports.chmod(0o555)
        env.cleanups.append(lambda: env.reports.chmod(0o755))


def stale_lock(env: Env) -> None:
    """A lock file left by a run that died (no process holds it)."""
    lock = env.reports / f".{MONTH}.lock"
    lock.write_text(
        json.dumps({"pid": DEAD_PID, "host": os.uname().nodename, "started_at": "2026-11-01"}),
        encoding="utf-8",
    )


def set_aside_pack(env: Env) -> None:
    """What a run killed between its two renames leaves: the good pack under a hidden name."""
    env.before = snapshot(env.pack)  # the pack that must come back, byte for byte
    os.replace(env.pack, env.reports / f".{MONTH}.old-{DEAD_PID}-abcdef")


def several(*setups: Callable[[Env], None]) -> Callable[[Env], None]:
    def setup(env: Env) -> None:
        for step in setups:
            step(env)

    return setup


# --------------------------------------------------------------------------------------------
# Actions that need real processes or injected faults
# --------------------------------------------------------------------------------------------


def _wait_for_start(gate: Path, process: subprocess.Popen, timeout: float = 180) -> int:
    """Wait until the quick notebook announces itself in ``gate``; return its kernel's pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = list(gate.glob("started-*"))
        if started:
            return int(started[0].name.split("-")[1])
        if process.poll() is not None:
            raise AssertionError(f"the run ended early: {process.communicate()[0][-3000:]}")
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the gated notebook never started")


def _let_kernel_go(gate: Path, kernel_pid: int) -> None:
    """Release the gate and make sure the (possibly orphaned) kernel is gone."""
    (gate / "release").touch()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(kernel_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:  # a kernel this test started, by its pid
        os.kill(kernel_pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _gated(env: Env, argv: list[str]) -> tuple[subprocess.Popen, Path, int]:
    gate = env.tmp / "gate"
    gate.mkdir(exist_ok=True)
    process = start_process(env, argv, FISHPOND_TEST_GATE=str(gate))
    return process, gate, _wait_for_start(gate, process)


def kill_9_then_next_run(env: Env, argv: list[str]) -> tuple[int, str]:
    """kill -9 mid-run; the pack must be untouched; the next run cleans up and says so."""
    process, gate, kernel = _gated(env, argv)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    _let_kernel_go(gate, kernel)
    assert snapshot(env.pack) == env.before, "kill -9 changed the previous pack"
    leftovers = [p.name for p in env.reports.iterdir() if p.name.startswith(f".{MONTH}")]
    assert any(".tmp-" in name for name in leftovers), f"expected a dead build: {leftovers}"
    # The next run fails on purpose (so the good pack stays), taking over the dead run's lock.
    code, output = in_process(env, [a.format(**env.fields()) for a in run_args(only="raises")])
    assert f"pid {process.pid}" in output, output
    return code, output


def signal_mid_run(signal_number: int) -> Callable[[Env, list[str]], tuple[int, str]]:
    def action(env: Env, argv: list[str]) -> tuple[int, str]:
        process, gate, kernel = _gated(env, argv)
        process.send_signal(signal_number)
        try:
            return finish(process, timeout=90)
        finally:
            _let_kernel_go(gate, kernel)

    return action


def concurrent_run(env: Env, argv: list[str]) -> tuple[int, str]:
    """A second run for the same folder while the first one is running."""
    first, gate, kernel = _gated(env, argv)
    try:
        code, output = in_process(env, argv)
        assert f"pid {first.pid}" in output, output
        assert snapshot(env.pack) == env.before
    finally:
        first.send_signal(signal.SIGINT)  # the first run gives up too: the pack stays
        first_code, first_output = finish(first, timeout=90)
        _let_kernel_go(gate, kernel)
    assert first_code == 130, first_output
    return code, output


def with_env(**variables: str) -> Callable[[Env, list[str]], tuple[int, str]]:
    """Run in-process with environment variables the fixture notebooks read."""

    def action(env: Env, argv: list[str]) -> tuple[int, str]:
        for name, value in variables.items():
            env.monkeypatch.setenv(name, value.format(**env.fields()))
        if "FISHPOND_TEST_GATE" in variables:
            (env.tmp / "gate").mkdir(exist_ok=True)
        return in_process(env, argv)

    return action


def inject_enospc(target: str) -> Callable[[Env, list[str]], tuple[int, str]]:
    """Make one write of the runner fail with ENOSPC (no root needed)."""

    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "injected")

    def action(env: Env, argv: list[str]) -> tuple[int, str]:
        module_name, attribute = target.rsplit(".", 1)
        module = __import__(module_name, fromlist=[attribute])
        if attribute == "write":
            real_write = os.write

            def write(fd, data):  # only the lock file's write fails
                if os.readlink(f"/proc/self/fd/{fd}").endswith(".lock"):
                    fail()
                return real_write(fd, data)

            env.monkeypatch.setattr(os, "write", write)
        else:
            env.monkeypatch.setattr(module, attribute, fail)
        return in_process(env, argv)

    return action


def failure_page_escapes(env: Env, argv: list[str]) -> tuple[int, str]:
    """A notebook error carrying markup: the failure page and the index show it as text."""
    hostile = '<script>alert("xss-err")</script><img src=x onerror=alert(1)>'
    env.monkeypatch.setenv("FISHPOND_TEST_ERROR", hostile)
    code, output = in_process(env, argv)
    failed = env.reports / f"{MONTH}.failed"
    for page in (failed / "raises.html", failed / "index.html"):
        findings, text, _ = audit_html(page)
        assert not findings, f"{page.name}: {findings}"
        assert hostile in text, f"{page.name}: the error is not shown as text"
    return code, output


def spec_name_in_pages(env: Env, argv: list[str]) -> tuple[int, str]:
    """A hostile spec name reaches the index and the report header as text only."""
    spec = yaml.safe_load(env.data_spec.read_text(encoding="utf-8"))
    spec["name"] = HOSTILE_NAME
    env.data_spec.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    out = env.tmp / "elsewhere" / MONTH
    code, output = in_process(env, [a if a != str(env.pack) else str(out) for a in argv])
    for page in (out / "index.html", out / "quick.html"):
        findings, text, _ = audit_html(page)
        assert not findings, f"{page.name}: {findings}"
        assert HOSTILE_NAME in text, f"{page.name}: the dataset name is not shown as text"
    return code, output


def python_tag_not_run(env: Env, argv: list[str]) -> tuple[int, str]:
    code, output = in_process(env, argv)
    assert not (env.tmp / "pwned").exists(), "a YAML tag ran code"
    return code, output


def run_twice_same_size_and_mtime(env: Env, argv: list[str]) -> tuple[int, str]:
    """Load (validated, remembered), change a value keeping size and mtime, load again."""
    first, output = in_process(env, argv)  # valid data; refused later by the pack guard
    assert first == 2 and "another dataset" in output, output
    path = env.data_spec.parent / "monthly_balances.csv"
    stat = path.stat()
    text = path.read_text(encoding="utf-8")
    changed = text.replace("1000.0", "-100.0", 1)
    assert len(changed) == len(text)
    path.write_text(changed, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return in_process(env, argv)


def excel_ids(env: Env, argv: list[str]) -> tuple[int, str]:
    """customers as .xlsx whose ids are numbers shown with zero padding by a cell format."""
    from openpyxl import Workbook

    folder = env.data_spec.parent
    frame = pd.read_csv(folder / "customers.csv", dtype=str, keep_default_na=False)
    book = Workbook()
    sheet = book.active
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append(list(row))
    for cell in sheet["A"][1:]:
        if cell.value and len(cell.value) < 15:
            cell.value = int(cell.value)
            cell.number_format = "0000"
    book.save(folder / "customers.xlsx")
    spec = yaml.safe_load(env.data_spec.read_text(encoding="utf-8"))
    spec["tables"]["customers"]["path"] = "customers.xlsx"
    env.data_spec.write_text(yaml.safe_dump(spec), encoding="utf-8")
    code, output = in_process(env, argv)
    if code == 0:  # read through the cell format: the zeros must have survived
        from helpers.data import load_dataset

        ids = set(load_dataset(env.data_spec).table("customers")["customer_id"])
        assert "0001" in ids, f"zero padding lost: {sorted(ids)}"
    elif re.search(r"customers\.customer_id", output) and re.search(
        r"(excel|cell format|stored as numbers?)", output, re.IGNORECASE
    ):
        # The issue allows either fix: read through the cell format, or refuse with a message.
        return 0, output + "\nValid (refused with a message naming the id column)"
    return code, output


def validate_writes_nothing(env: Env, argv: list[str]) -> tuple[int, str]:
    code, output = in_process(env, argv)
    written = [p.name for p in env.data_spec.parent.rglob("*") if "quarantine" in str(p)]
    assert not written, f"validate wrote quarantine files: {written}"
    return code, output


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    area: str  # data | spec | cli | faults | security
    argv: tuple[str, ...]
    exit: int
    message: str  # regex searched in stdout + stderr (case-insensitive)
    setup: Callable[[Env], None] | None = None
    action: Callable[[Env, list[str]], tuple[int, str]] | None = None
    slow: bool = False
    xfail: str | None = None
    traceback: bool = False  # --debug cases expect one
    leftovers: bool = False  # kill -9 leaves a dead build behind (the next run removes it)


R = run_args
CASES = [
    # ---------------------------------------------------------------- command line: run
    Case("cli-month-malformed", "cli", R("--month", "2026-13"), 2, r"month must look like 2026-10"),
    Case("cli-month-after-data", "cli", R("--month", "2031-01", out=None), 2,
         r"--month 2031-01 is outside the data.*2026-08 to 2026-10"),
    Case("cli-month-before-data", "cli", R("--month", "2001-01", out=None), 2, r"outside the data"),
    Case("cli-timeout-zero", "cli", R("--timeout", "0"), 2, r"--timeout: must be at least 1"),
    Case("cli-timeout-negative", "cli", R("--timeout", "-5"), 2, r"--timeout: must be at least 1"),
    Case("cli-timeout-text", "cli", R("--timeout", "soon"), 2, r"--timeout: expected a whole number"),
    Case("cli-jobs-zero", "cli", R("--jobs", "0"), 2, r"--jobs: must be at least 1"),
    Case("cli-lang-unknown", "cli", R("--lang", "fr"), 2, r"--lang: invalid choice: 'fr'"),
    Case("cli-only-unknown", "cli", R(only="99_nothing"), 2, r"--only 99_nothing: no such notebook"),
    Case("cli-unknown-option", "cli", R("--frobnicate"), 2, r"unrecognized arguments: --frobnicate"),
    Case("cli-no-subcommand", "cli", (), 2, r"required: command"),
    Case("cli-unknown-subcommand", "cli", ("bogus",), 2, r"invalid choice: 'bogus'"),
    Case("cli-notebooks-dir-missing", "cli",
         ("run", "--dataset", "{spec}", "--notebooks-dir", "{tmp}/none", "--out", "{pack}"), 2,
         r"no notebooks to run in .*none"),
    Case("cli-debug-shows-traceback", "cli", ("--debug", *R("--params", "{params}")), 1,
         r"Traceback.*PackError: --params common\.month", setup=params("common:\n  month: '2026-09'\n"),
         action=lambda env, argv: finish(start_process(env, argv)), traceback=True, slow=True),
    # ---------------------------------------------------------------- command line: --out
    Case("out-is-a-file", "cli", R("--out", "{tmp}/file.txt"), 2, r"file\.txt is a file, not a folder",
         setup=write("file.txt", "not a folder")),
    Case("out-under-a-file", "cli", R("--out", "{tmp}/file.txt/2026-10"), 2,
         r"file\.txt is a file, not a folder", setup=write("file.txt", "not a folder")),
    Case("out-not-a-pack", "cli", R("--out", "{tmp}/mine"), 2, r"not a Fishpond report pack",
         setup=write("mine/precious.xlsx", "keep me")),
    Case("out-read-only", "cli", R(), 2, r"(cannot write in|Read-only file system|Permission denied)",
         setup=read_only_out),
    Case("out-another-month", "cli", R("--month", "2026-09"), 2,
         r"holds the pack of another month: its manifest names month 2026-10 \(this run: 2026-09\)"),
    Case("out-another-dataset", "cli", R(dataset="{data_spec}"), 2,
         r"holds the pack of another dataset: its manifest names dataset .*tiny.*dataset\.yaml"),
    Case("out-another-dataset-name", "cli", R(), 2, r"dataset name 'someone else'",
         setup=manifest_change(lambda m: m["dataset"].update(name="someone else"))),
    Case("out-manifest-unreadable", "cli", R(), 2, r"manifest\.json cannot be read",
         setup=write("reports/2026-10/manifest.json", "{{ not json")),
    # ---------------------------------------------------------------- --params
    Case("params-missing-file", "cli", R("--params", "{tmp}/nope.yaml"), 2, r"--params: file not found"),
    Case("params-bad-yaml", "cli", R("--params", "{params}"), 2,
         r"is not valid YAML \(line 3, column 1\): expected ',' or ']'", setup=params("common:\n  seed: [1, 2\n")),
    Case("params-core-dataset", "cli", R("--params", "{params}"), 2,
         r"common\.dataset: dataset is set by the runner.*--dataset",
         setup=params("common:\n  dataset: /etc/passwd\n")),
    Case("params-core-month", "cli", R("--params", "{params}"), 2, r"month is set by the runner",
         setup=params("common:\n  month: '2026-09'\n")),
    Case("params-core-artifacts-dir", "cli", R("--params", "{params}"), 2,
         r"artifacts_dir is set by the runner itself \(use --out\)",
         setup=params("quick:\n  artifacts_dir: /tmp/elsewhere\n")),
    Case("params-core-lang", "cli", R("--params", "{params}"), 2, r"lang is set by the runner.*--lang",
         setup=params("common:\n  lang: en\n")),
    Case("params-wrong-type", "cli", R("--params", "{params}"), 2, r"churn_horizon_months.*abc",
         setup=params("common:\n  churn_horizon_months: abc\n")),
    Case("params-unknown-name", "cli", R("--params", "{params}"), 2,
         r"common\.churn_horizon: no such parameter \(did you mean churn_horizon_months\?\)",
         setup=params("common:\n  churn_horizon: 6\n")),
    Case("params-unknown-block", "cli", R("--params", "{params}"), 2, r"unknown block '02_lifecycle'",
         setup=params("02_lifecycle:\n  warning_list_per_rm: 5\n")),
    Case("params-not-a-mapping", "cli", R("--params", "{params}"), 2, r"expected a YAML mapping",
         setup=params("- seed\n- 1\n")),
    Case("params-not-utf8", "cli", R("--params", "{params}"), 2, r"is not UTF-8 text",
         setup=write("params.yaml", b"common:\n  seed: \xff\xfe\x00\x81\n")),
    Case("params-alias-bomb", "cli", R("--params", "{params}"), 2, r"tier_thresholds must hold number items only, not list",
         setup=params(alias_bomb())),
    Case("params-bad-ladder", "cli", R("--params", "{params}"), 2, r"tier_thresholds|ladder|threshold",
         setup=params("common:\n  tier_thresholds: [500000, 50000]\n")),
    # ---------------------------------------------------------------- dataset spec
    Case("spec-missing", "spec", R(dataset="{tmp}/nowhere/dataset.yaml"), 2,
         r"dataset spec not found: .*nowhere/dataset\.yaml"),
    Case("spec-is-a-folder", "spec", R(dataset="{data}"), 2, r"(dataset spec|not found|folder|directory)"),
    Case("spec-empty", "spec", R(dataset="{data_spec}"), 2, r"must be a YAML mapping", setup=spec_text("")),
    Case("spec-bad-yaml", "spec", R(dataset="{data_spec}"), 2, r"not valid UTF-8 YAML",
         setup=spec_text("name: [unclosed\nmode: panel\n")),
    Case("spec-unknown-key", "spec", R(dataset="{data_spec}"), 2, r"tabels",
         setup=spec_change(lambda s: {**s, "tabels": s["tables"]})),
    Case("spec-missing-table", "spec", R(dataset="{data_spec}"), 2, r"monthly_balances",
         setup=spec_change(lambda s: {**s, "tables": {"customers": s["tables"]["customers"]}})),
    Case("spec-table-file-missing", "spec", R(dataset="{data_spec}"), 2, r"customers\.csv",
         setup=lambda env: (env.data_spec.parent / "customers.csv").unlink()),
    Case("spec-mode-unknown", "spec", R(dataset="{data_spec}"), 2, r"mode",
         setup=spec_change(lambda s: {**s, "mode": "wide"})),
    Case("spec-a-list", "spec", R(dataset="{data_spec}"), 2, r"must be a YAML mapping",
         setup=spec_text("- customers.csv\n")),
    # ---------------------------------------------------------------- data
    Case("data-negative-balance", "data", R(dataset="{data_spec}"), 2, r"monthly_balances.*demand_deposit",
         setup=table("monthly_balances", set_cell("demand_deposit", "-500"))),
    Case("data-duplicate-customer", "data", R(dataset="{data_spec}"), 2, r"customers.*customer_id.*0001",
         setup=table("customers", set_cell("customer_id", "0001", row=1))),
    Case("data-unknown-gender", "data", R(dataset="{data_spec}"), 2, r"gender.*X",
         setup=table("customers", set_cell("gender", "X"))),
    Case("data-missing-column", "data", R(dataset="{data_spec}"), 2, r"customers.*branch_id",
         setup=table("customers", lambda f: f.drop(columns=["branch_id"]))),
    Case("data-text-in-amount", "data", R(dataset="{data_spec}"), 2, r"aum_total.*abc",
         setup=table("monthly_balances", set_cell("aum_total", "abc"))),
    Case("data-unparseable-date", "data", R(dataset="{data_spec}"), 2, r"open_date.*not-a-date",
         setup=table("customers", set_cell("open_date", "not-a-date"))),
    Case("data-birth-year-1800", "data", R(dataset="{data_spec}"), 2, r"birth_year.*1800",
         setup=table("customers", set_cell("birth_year", "1800"))),
    Case("data-absurd-amount", "data", R(dataset="{data_spec}"), 2, r"funds",
         setup=table("monthly_balances", set_cell("funds", "1e15"))),
    Case("data-open-after-data", "data", R(dataset="{data_spec}"), 2, r"open_date.*2030",
         setup=table("customers", set_cell("open_date", "2030-01-01"))),
    Case("data-binary-garbage", "data", R(dataset="{data_spec}"), 2, r"customers",
         setup=lambda env: (env.data_spec.parent / "customers.csv").write_bytes(bytes(range(256)))),
    Case("data-orphan-balance", "data", R(dataset="{data_spec}"), 2, r"monthly_balances.*9999",
         setup=table("monthly_balances", set_cell("customer_id", "9999"))),
    # data branch (issue 15's data items): red until it merges
    Case("data-excel-ids-as-numbers", "data", ("validate", "--dataset", "{data_spec}"), 0,
         r"Valid", action=excel_ids),
    Case("data-ambiguous-dates", "data", R(dataset="{data_spec}"), 2,
         r"open_date.*(ambiguous|dayfirst|date_format)",
         setup=table("customers", lambda f: f.assign(open_date=["03-05-2015", "04-06-2026", "01-02-2010"]))),
    Case("data-open-date-1899", "data", R(dataset="{data_spec}"), 2, r"open_date.*1899",
         setup=table("customers", set_cell("open_date", "1899-12-31"))),
    Case("data-cache-same-size-and-mtime", "data", R(dataset="{data_spec}"), 2,
         r"demand_deposit", action=run_twice_same_size_and_mtime),
    Case("data-quarantine-outside-spec", "data", R(dataset="{data_spec}"), 2, r"quarantine_dir",
         setup=spec_change(lambda s: {**s, "on_invalid": "quarantine", "quarantine_dir": "../../.."})),
    Case("data-validate-writes-no-quarantine", "data", ("validate", "--dataset", "{data_spec}"), 1,
         r"quarantine", action=validate_writes_nothing,
         setup=several(table("monthly_balances", set_cell("demand_deposit", "-500")),
                       spec_change(lambda s: {**s, "on_invalid": "quarantine"}))),
    Case("data-empty-file", "data", R(dataset="{data_spec}"), 2, r"customers\.csv.{0,40}(is empty|0 bytes|empty file)",
         setup=lambda env: (env.data_spec.parent / "customers.csv").write_bytes(b"")),
    # ---------------------------------------------------------------- other subcommands
    Case("validate-missing-spec", "cli", ("validate", "--dataset", "{tmp}/nope.yaml"), 1,
         r"dataset spec not found"),
    Case("validate-bad-data", "cli", ("validate", "--dataset", "{data_spec}"), 1, r"demand_deposit.*Not valid",
         setup=table("monthly_balances", set_cell("demand_deposit", "-500"))),
    Case("synth-no-customers", "cli", ("synth", "--customers", "0", "--out", "{tmp}/bank"), 2,
         r"--customers: must be at least 1"),
    Case("synth-out-is-a-file", "cli", ("synth", "--customers", "20", "--out", "{tmp}/file.txt"), 2,
         r"fishpond synth: .*file\.txt", setup=write("file.txt", "x")),
    Case("synth-months-text", "cli", ("synth", "--months", "many", "--out", "{tmp}/bank"), 2,
         r"--months: expected a whole number"),
    Case("course-out-is-a-file", "cli", ("course", "build", "--out", "{tmp}/file.txt"), 2,
         r"fishpond course build: .*file\.txt", setup=write("file.txt", "x"), slow=True),
    Case("course-no-subcommand", "cli", ("course",), 2, r"required: course_command"),
    # ---------------------------------------------------------------- faults
    Case("fault-stale-lock-taken-over", "faults", R(), 2,
         rf"took over a stale lock .*pid {DEAD_PID}.*no longer running(.|\n)*dataset name 'someone",
         setup=several(stale_lock, manifest_change(lambda m: m["dataset"].update(name="someone")))),
    Case("fault-enospc-at-start", "faults", R(), 2, r"cannot write the lock file .*no space left",
         action=inject_enospc("os.write")),
    Case("fault-enospc-writing-index", "faults", R(), 1,
         r"could not finish the pack \(no space left on the device while writing injected\).*"
         r"previous pack in .* is unchanged",
         action=inject_enospc("helpers.batch.export.write_index"), slow=True),
    Case("fault-disk-full-at-start", "faults", R(), 2, r"not enough free disk space.*at least 20\.0 MB",
         setup=pack_on_disk(48, leave_free_mb=5)),
    Case("fault-disk-full-mid-run", "faults", R(), 1,
         r"(no space left on the device.*is unchanged|quick failed .*No space left)",
         setup=pack_on_disk(48, leave_free_mb=24), action=with_env(FISHPOND_TEST_FILL_MB="64"),
         slow=True),
    Case("fault-notebook-raises", "faults", R(only="raises"), 1,
         r"FAILED: raises(.|\n)*earlier good pack was kept", slow=True),
    Case("fault-kernel-dies", "faults", R(only="dies"), 1, r"dies failed .*DeadKernelError", slow=True),
    Case("fault-cell-timeout", "faults", R("--timeout", "2"), 1, r"quick failed .*(Timeout|timed out)",
         action=with_env(FISHPOND_TEST_GATE="{tmp}/gate", FISHPOND_TEST_GATE_SECONDS="20"), slow=True),
    Case("fault-set-aside-pack-restored", "faults", R(only="raises"), 1,
         r"restored the pack .*2026-10 that an interrupted run had set aside", setup=set_aside_pack,
         slow=True),
    Case("fault-kill-9", "faults", R(), 1, r"took over a stale lock .*no longer running",
         action=kill_9_then_next_run, slow=True),
    Case("fault-sigint", "faults", R(), 130, r"interrupted\. Nothing was replaced",
         action=signal_mid_run(signal.SIGINT), slow=True),
    Case("fault-sigterm", "faults", R(), 130, r"interrupted\. Nothing was replaced",
         action=signal_mid_run(signal.SIGTERM), slow=True),
    Case("fault-concurrent-run", "faults", R(), 2,
         r"another fishpond run is writing .*2026-10 \(pid \d+, started .*\); one run per output folder",
         action=concurrent_run, slow=True),
    # ---------------------------------------------------------------- security
    Case("sec-params-python-tag", "security", R("--params", "{params}"), 2,
         r"not valid YAML.*(constructor|tag).*python/object/apply:os\.system",
         setup=params("common:\n  seed: !!python/object/apply:os.system ['touch {tmp}/pwned']\n"),
         action=python_tag_not_run),
    Case("sec-spec-python-tag", "security", R(dataset="{data_spec}"), 2, r"python/object/apply:os\.system",
         setup=spec_text("name: !!python/object/apply:os.system ['touch {tmp}/pwned']\nmode: panel\n"),
         action=python_tag_not_run),
    Case("sec-failure-page-escapes-error", "security", R(only="raises"), 1, r"FAILED: raises",
         action=failure_page_escapes, slow=True),
    Case("sec-spec-name-escaped", "security", R(dataset="{data_spec}"), 0, r"Report pack: .*elsewhere",
         action=spec_name_in_pages, slow=True),
]  # fmt: skip


def _parameters():
    for case in CASES:
        marks = [pytest.mark.slow] if case.slow else []
        if case.xfail:
            marks.append(pytest.mark.xfail(reason=case.xfail, strict=True))
        yield pytest.param(case, id=case.id, marks=marks)


def test_the_table_covers_every_area():
    areas = {case.area for case in CASES}
    assert areas == {"data", "spec", "cli", "faults", "security"}
    assert len(CASES) >= 50
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", list(_parameters()))
def test_hostile_case(
    case: Case, good_pack, tiny_spec, private_data, tmp_path, tmp_path_factory, monkeypatch, capsys
):
    reports = tmp_path / "reports"
    shutil.copytree(good_pack, reports / MONTH)
    monkeypatch.setattr(paths, "REPORTS_DIR", reports)
    # One scratch folder for the session: the shared tiny data is validated once, as in a batch.
    monkeypatch.setattr(paths, "SCRATCH_DIR", tmp_path_factory.getbasetemp() / "scratch")
    env = Env(tmp_path, reports, reports / MONTH, tiny_spec, private_data, monkeypatch, capsys)
    try:
        if case.setup:
            case.setup(env)
        env.before = env.before or snapshot(env.pack)
        argv = [part.format(**env.fields()) for part in case.argv]
        code, output = (case.action or (lambda e, a: in_process(e, a)))(env, argv)

        assert code == case.exit, f"exit {code}, expected {case.exit}:\n{output[-3000:]}"
        assert re.search(case.message, output, re.IGNORECASE | re.DOTALL), (
            f"no message matching {case.message!r} in:\n{output[-3000:]}"
        )
        if not case.traceback:
            assert "Traceback" not in output, output[-3000:]
        assert snapshot(env.pack) == env.before, "the previous good pack changed"
        leftovers = sorted(
            p.name
            for p in env.reports.iterdir()
            if p.name.startswith(f".{MONTH}") and not case.leftovers
        )
        assert not leftovers, f"left beside the pack: {leftovers}"
    finally:
        for cleanup in reversed(env.cleanups):
            cleanup()
