"""The monthly batch: execute the notebooks with Papermill into an HTML report pack.

``fishpond run`` calls :func:`cli_run`, which calls :func:`run_pack`. A pack is one folder
``reports/YYYY-MM/`` holding ``index.html``, one management page ``<notebook>.html`` per
notebook, the executed audit copies ``executed/<notebook>.ipynb``, the notebooks' ``artifacts/``
and ``manifest.json``.

Rules the code enforces (DESIGN.md section 7):

- Success is judged by the exception Papermill raises, never by the executed notebook: a kernel
  that dies leaves a notebook whose cells all look "completed".
- The pack is built in a temporary sibling folder and moved into place when finished. A complete
  run replaces the previous pack of its month; a failing run never replaces a good pack (it goes
  beside it as ``YYYY-MM.failed/``) but takes the month's place when there is no good pack yet.
- A notebook whose required data roles are missing is "not applicable", not a failure.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import multiprocessing
import os
import re
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from helpers import config, features, paths
from helpers.batch import export
from helpers.batch.execution import (
    STATUS_FAILED,
    STATUS_NOT_APPLICABLE,
    one_line,
    run_one_notebook,
    thread_limit,
)
from helpers.batch.notebooks import (
    SUMMARY_NOTEBOOK,
    check_extra_parameters,
    discover_notebooks,
    load_extra_parameters,
    notebook_parameters,
    notebook_requirements,
    notebook_upstream,
    run_order,
)
from helpers.data import load_dataset
from helpers.provenance import git_commit, package_versions


@dataclass
class RunResult:
    """What :func:`run_pack` returns.

    Attributes
    ----------
    ok : bool
        True when no notebook failed ("not applicable" is not a failure).
    out_dir : Path
        Where the pack ended up (the month folder, or ``YYYY-MM.failed`` beside a good pack).
    manifest : dict
        The content of ``manifest.json``.
    statuses : dict
        ``{notebook: "ok" | "failed" | "not_applicable"}``.
    """

    ok: bool
    out_dir: Path
    manifest: dict
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def index(self) -> Path:
        """Path of the pack's ``index.html``."""
        return self.out_dir / "index.html"


# --------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------


@dataclass
class DatasetInfo:
    """What the runner needs to know about the dataset before running anything."""

    spec: Path
    name: str
    roles: set[str]
    latest_month: str | None
    fingerprint: dict
    quarantine: list = field(default_factory=list)
    dataset: Any = None


def load_dataset_info(spec: str | Path) -> DatasetInfo:
    """Load and validate the dataset once, for roles, latest month and fingerprint.

    Raises
    ------
    helpers.data.schema.DataValidationError
        When the data does not pass validation (its message lists every problem).
    """

    spec = Path(spec).resolve()
    dataset = load_dataset(spec, write_quarantine=True)  # the run writes quarantine, once
    try:
        latest = dataset.latest_month()
    except (ValueError, LookupError):
        latest = None
    return DatasetInfo(
        spec=spec,
        name=str(getattr(dataset, "name", spec.parent.name)),
        roles=set(dataset.roles()),
        latest_month=latest or None,
        fingerprint=dataset.fingerprint(),
        quarantine=dataset.quarantine_summary().to_dict("records"),
        dataset=dataset,
    )


# --------------------------------------------------------------------------------------------
# Run metadata
# --------------------------------------------------------------------------------------------


def default_flat_month(today: dt.date | None = None) -> str:
    """Report month for data without monthly history (flat mode): the last complete month.

    A flat extract is a snapshot with no month column; the batch that runs it in November
    reports on October, as the monthly cycle does. ``--month`` overrides it.
    """
    today = today or dt.date.today()
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last_month_end:%Y-%m}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# The pack
# --------------------------------------------------------------------------------------------


def _is_pack(folder: Path) -> bool:
    return (folder / "manifest.json").is_file()


def _pack_was_ok(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["ok"])
    except (OSError, ValueError, KeyError):
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _remove_stale_builds(out_dir: Path) -> None:
    """Delete build and set-aside folders left by runs that were killed (their pid is gone)."""
    pattern = re.compile(rf"^\.{re.escape(out_dir.name)}(\.failed)?\.(tmp|old)-(\d+)-")
    for folder in out_dir.parent.glob(f".{out_dir.name}*"):
        match = pattern.match(folder.name)
        if match and folder.is_dir() and not _pid_alive(int(match.group(3))):
            shutil.rmtree(folder, ignore_errors=True)


def _place_pack(build_dir: Path, out_dir: Path, ok: bool) -> Path:
    """Move a finished pack into place; return where it ended up.

    A good run replaces the month folder (old one renamed aside, then deleted) and removes a
    stale ``.failed`` pack. A failed run goes to ``<month>.failed`` when a good pack holds the
    month, otherwise it takes the month's place so the failure is visible.
    """
    failed_dir = out_dir.with_name(out_dir.name + ".failed")
    if ok or not (out_dir.exists() and _pack_was_ok(out_dir)):
        target = out_dir
    else:
        target = failed_dir
    aside = None
    if target.exists():
        aside = target.with_name(f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        os.replace(target, aside)
    os.replace(build_dir, target)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    if ok and failed_dir.exists():
        shutil.rmtree(failed_dir, ignore_errors=True)
    return target


class _Progress:
    """A tqdm bar on a terminal, plain ``[fishpond] ...`` log lines otherwise."""

    def __init__(self, total: int, stream=None):
        self.stream = stream or sys.stderr
        self.bar = None
        if total and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="notebook", file=self.stream, desc="fishpond")

    def log(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(f"[fishpond] {text}", file=self.stream)
        else:
            print(f"[fishpond] {text}", file=self.stream, flush=True)

    def done(self, entry: dict) -> None:
        detail = f" ({entry['error']})" if entry.get("error") else ""
        self.log(f"{entry['notebook']} {entry['status']} {entry['duration_seconds']:.1f}s{detail}")
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_tasks(tasks: list[dict], jobs: int, progress: _Progress) -> list[dict]:
    """Run tasks in their run order (jobs == 1) or in worker processes.

    With several workers a notebook starts only when every upstream notebook of this run
    (``task["upstream"]``) has finished, so a reader always sees this run's artifacts; an
    upstream that failed does not block it (the reader falls back and says so).
    """
    if not tasks:
        return []
    if jobs <= 1:
        entries = []
        for task in tasks:
            try:
                entry = run_one_notebook(task)
            except Exception as error:  # same isolation as a crashed worker process
                entry = _crashed_entry(task, error)
            entries.append(entry)
            progress.done(entry)
        return entries
    names = {Path(t["notebook"]).stem for t in tasks}
    waiting = list(tasks)
    finished: set[str] = set()
    results: dict[str, dict] = {}
    # "spawn": forking a process that holds ZMQ sockets or threads (pytest, tqdm) is unsafe.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        running: dict[concurrent.futures.Future, dict] = {}
        while waiting or running:
            for task in list(waiting):
                upstream = [u for u in task.get("upstream", []) if u in names]
                if len(running) < jobs and all(u in finished for u in upstream):
                    running[pool.submit(run_one_notebook, task)] = task
                    waiting.remove(task)
            done, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                task = running.pop(future)
                try:
                    entry = future.result()
                except Exception as error:  # a worker crashed outside the notebook
                    entry = _crashed_entry(task, error)
                results[task["notebook"]] = entry
                finished.add(Path(task["notebook"]).stem)
                progress.done(entry)
    return [results[task["notebook"]] for task in tasks]


def _crashed_entry(task: dict, error: BaseException) -> dict:

    name = Path(task["notebook"]).stem
    entry = {
        "notebook": name,
        "title": name,
        "status": STATUS_FAILED,
        "duration_seconds": 0.0,
        "error": one_line(f"{type(error).__name__}: {error}") or type(error).__name__,
        "retries": 0,
        "html": f"{name}.html",
        "executed": "",
        "step": {},
    }
    export.write_failure_page(
        Path(task["pack_dir"]) / entry["html"], entry=entry, page=task["page"]
    )
    return entry


def run_pack(
    dataset: str | Path | None = None,
    month: str | None = None,
    out: str | Path | None = None,
    only: list[str] | None = None,
    jobs: int = 1,
    lang: str = "zh",
    params: dict[str, Any] | str | Path | None = None,
    timeout: int = 1800,
    *,
    notebooks_dir: str | Path | None = None,
    progress_stream=None,
) -> RunResult:
    """Execute the notebooks into a report pack and move it into place atomically.

    Parameters
    ----------
    dataset : str or Path, optional
        Dataset spec YAML; default the bundled sample (``paths.SAMPLE_SPEC``).
    month : str, optional
        Report month ``YYYY-MM``; default the dataset's latest month.
    out : str or Path, optional
        Pack folder; default ``reports/<month>/``.
    only : list of str, optional
        Notebook names or prefixes to run (``["01", "02_lifecycle_survival"]``).
    jobs : int
        Notebooks run in parallel worker processes (the summary notebook after the rest).
    lang : {"zh", "en"}
        Language of the labels and of the HTML pages.
    params : dict or path, optional
        Extra notebook parameters (or a YAML file of them); each notebook receives the ones it
        declares in its ``parameters`` cell.
    timeout : int
        Per-cell execution timeout in seconds.
    notebooks_dir : str or Path, optional
        Folder of notebooks to run; default ``notebooks/`` (tests point it at fixtures).
    progress_stream : file, optional
        Where progress goes; default ``sys.stderr``.

    Returns
    -------
    RunResult
    """

    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    notebooks_dir = Path(notebooks_dir or paths.NOTEBOOKS_DIR).resolve()
    notebooks = run_order(discover_notebooks(notebooks_dir, only))
    if not notebooks:
        raise ValueError(f"no notebooks to run in {notebooks_dir}")
    extras = load_extra_parameters(params)
    problems = check_extra_parameters(extras, discover_notebooks(notebooks_dir))
    if problems:
        raise ValueError("\n".join(problems))
    pack_values = extras.get("common", {})
    if pack_values.get("tier_thresholds"):
        config.resolve_ladder(pack_values["tier_thresholds"])  # fails here, before any notebook

    started_at = _now()
    started_clock = time.monotonic()
    info = load_dataset_info(dataset or paths.SAMPLE_SPEC)
    month = month or info.latest_month or default_flat_month()
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(month)):
        raise ValueError(f"month must look like 2026-10, not {month!r}")
    out_dir = Path(out).resolve() if out else (paths.REPORTS_DIR / month).resolve()
    if out_dir.exists() and not _is_pack(out_dir) and any(out_dir.iterdir()):
        raise ValueError(
            f"{out_dir} exists and is not a Fishpond report pack (no manifest.json); "
            "choose another --out or empty it"
        )

    run_id = f"{month}-{dt.datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(out_dir)
    build_dir = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    (build_dir / "artifacts").mkdir(parents=True)
    (build_dir / "executed").mkdir()
    # Frames shared by the run's notebooks (ABTs, survival frame, churn events): built once,
    # read by the others; removed before the pack is placed (helpers.features.cache).
    cache_dir = features.prepare_run_cache(build_dir / "cache", info.dataset, info.fingerprint)
    info.dataset = None  # its pandas tables would stay in the runner for the whole run
    page = {
        "lang": lang,
        "month": month,
        "dataset_name": info.name,
        "run_id": run_id,
    }
    core = {
        "dataset": str(info.spec),
        "month": str(month),
        "lang": lang,
        "artifacts_dir": str(build_dir / "artifacts"),
    }
    progress = _Progress(len(notebooks), progress_stream)
    try:
        entries: dict[str, dict] = {}
        tasks = []
        for notebook in notebooks:
            task = {
                "notebook": str(notebook),
                "pack_dir": str(build_dir),
                "timeout": timeout,
                "page": page,
                "threads": thread_limit(jobs) if jobs > 1 else None,
                "cache_dir": str(cache_dir),
                "upstream": [],
            }
            try:
                task["upstream"] = notebook_upstream(notebook)
                missing = sorted(set(notebook_requirements(notebook)) - info.roles)
                if not missing:
                    task["parameters"] = notebook_parameters(notebook, core, extras)
            except Exception as error:  # unreadable notebook or parameters cell: its failure
                entries[notebook.stem] = _crashed_entry(task, error)
                progress.done(entries[notebook.stem])
                continue
            if missing:
                entries[notebook.stem] = _not_applicable(notebook, missing, info, build_dir, page)
                progress.done(entries[notebook.stem])
                continue
            tasks.append(task)
        for entry in _run_tasks(tasks, min(jobs, max(1, len(tasks))), progress):
            entries[entry["notebook"]] = entry
    except BaseException:
        progress.close()
        shutil.rmtree(build_dir, ignore_errors=True)
        raise
    progress.close()

    # The summary is listed first on the index; the rest keep name order.
    ordered = sorted(
        entries.values(), key=lambda e: (e["notebook"] != SUMMARY_NOTEBOOK, e["notebook"])
    )
    ok = all(e["status"] != STATUS_FAILED for e in ordered)
    manifest = {
        "run_id": run_id,
        "ok": ok,
        "month": month,
        "lang": lang,
        "parameters": {
            "dataset": str(info.spec),
            "month": month,
            "lang": lang,
            "only": list(only) if only else None,
            "jobs": jobs,
            "timeout": timeout,
            "extra": extras,
        },
        "dataset": {
            "spec": str(info.spec),
            "name": info.name,
            "fingerprint": info.fingerprint,
            "quarantine": info.quarantine,
        },
        "versions": package_versions(),
        "git_commit": git_commit(),
        "started_at": started_at,
        "finished_at": _now(),
        "duration_seconds": round(time.monotonic() - started_clock, 1),
        "notebooks": ordered,
    }
    (build_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    export.write_index(build_dir, manifest)
    if not os.environ.get(features.KEEP_CACHE_ENV):
        shutil.rmtree(cache_dir, ignore_errors=True)
    final_dir = _place_pack(build_dir, out_dir, ok)
    return RunResult(
        ok=ok,
        out_dir=final_dir,
        manifest=manifest,
        statuses={e["notebook"]: e["status"] for e in ordered},
    )


def _not_applicable(notebook: Path, missing: list[str], info, build_dir: Path, page) -> dict:

    source = nbformat.read(notebook, as_version=4)
    entry = {
        "notebook": notebook.stem,
        "title": export.notebook_title_for(source, page["lang"]) or notebook.stem,
        "status": STATUS_NOT_APPLICABLE,
        "duration_seconds": 0.0,
        "error": "",
        "retries": 0,
        "html": f"{notebook.stem}.html",
        "executed": "",
        "missing_roles": missing,
        "required_roles": notebook_requirements(notebook),
        "available_roles": sorted(info.roles),
    }
    export.write_not_applicable_page(build_dir / entry["html"], entry=entry, page=page)
    return entry


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def cli_run(args) -> int:
    """``fishpond run``: build the pack, print where it is, return the exit code.

    ``args`` has ``dataset, month, out, only, jobs, lang, params, timeout`` (and optionally
    ``notebooks_dir``). Returns 0 when every notebook succeeded or was not applicable, 1 when a
    notebook failed, 2 when the run could not start (bad arguments or invalid data).
    """
    try:
        result = run_pack(
            dataset=args.dataset,
            month=args.month,
            out=args.out,
            only=args.only,
            jobs=args.jobs,
            lang=args.lang,
            params=args.params,
            timeout=args.timeout,
            notebooks_dir=getattr(args, "notebooks_dir", None),
        )
    except (ValueError, FileNotFoundError) as error:
        # DataValidationError is a ValueError: its message lists every problem in the data.
        print(f"fishpond run: {error}", file=sys.stderr)
        return 2
    counts: dict[str, int] = {}
    for status in result.statuses.values():
        counts[status] = counts.get(status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    print(f"Report pack: {result.index}  ({summary})")
    if not result.ok:
        failed = [name for name, status in result.statuses.items() if status == STATUS_FAILED]
        print(
            f"FAILED: {', '.join(failed)}. See {result.index} and the audit copies in "
            f"{result.out_dir / 'executed'}.",
            file=sys.stderr,
        )
        if result.out_dir.name.endswith(".failed"):
            good = result.out_dir.with_name(result.out_dir.name.removesuffix(".failed"))
            print(f"The earlier good pack was kept in {good}.", file=sys.stderr)
        return 1
    return 0
