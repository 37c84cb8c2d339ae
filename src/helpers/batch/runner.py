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

import datetime as dt
import json
import os
import re
import shutil
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from helpers import config, features, i18n, paths
from helpers.batch import export
from helpers.batch.execution import (
    STATUS_FAILED,
    STATUS_NOT_APPLICABLE,
    kernel_choice,
    thread_limit,
)
from helpers.batch.notebooks import (
    SUMMARY_NOTEBOOK,
    check_extra_parameters,
    discover_notebooks,
    load_extra_parameters,
    missing_roles,
    notebook_parameters,
    notebook_requirements,
    notebook_upstream,
    notebook_weight,
    run_order,
)
from helpers.batch.packs import (
    PackError,
    RunFailed,
    acquire_lock,
    check_free_space,
    check_out_folder,
    check_same_pack,
    describe_error,
    new_build_dir,
    place_pack,
    remove_stale_builds,
)
from helpers.batch.pdf import announce_pdfs, record_pdfs
from helpers.batch.progress import Progress
from helpers.batch.workers import crashed_entry, run_tasks
from helpers.data import load_dataset
from helpers.data.memory import release_freed_memory
from helpers.months import default_flat_month
from helpers.notebook import vocabulary_for
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
    months: list[str] = field(default_factory=list)
    vocabulary: i18n.Vocabulary = field(default_factory=i18n.Vocabulary)
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
        months = list(dataset.months()) if dataset.mode == "panel" else []
    except (ValueError, LookupError):
        latest, months = None, []
    return DatasetInfo(
        spec=spec,
        name=str(getattr(dataset, "name", spec.parent.name)),
        roles=set(dataset.roles()),
        latest_month=latest or None,
        fingerprint=dataset.fingerprint(),
        months=months,
        vocabulary=vocabulary_for(dataset),
        quarantine=dataset.quarantine_summary().to_dict("records"),
        dataset=dataset,
    )


# --------------------------------------------------------------------------------------------
# Run metadata
# --------------------------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# The pack
# --------------------------------------------------------------------------------------------


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
    pdf: bool = False,
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
    pdf : bool
        Also print the index and the summary to PDF (:func:`helpers.batch.record_pdfs`).

    Returns
    -------
    RunResult
    """

    if lang not in ("zh", "en"):
        raise PackError(f"lang must be 'zh' or 'en', not {lang!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise PackError(f"--jobs must be a whole number, at least 1, not {jobs!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise PackError(
            f"--timeout must be a whole number of seconds, at least 1, not {timeout!r}: it is "
            "the longest one notebook cell may run (there is no 'no limit' setting)"
        )
    notebooks_dir = Path(notebooks_dir or paths.NOTEBOOKS_DIR).resolve()
    notebooks = run_order(discover_notebooks(notebooks_dir, only))
    if not notebooks:
        raise PackError(f"no notebooks to run in {notebooks_dir}")
    extras = load_extra_parameters(params)
    problems = check_extra_parameters(extras, discover_notebooks(notebooks_dir))
    if problems:
        raise PackError("\n".join(problems))
    pack_values = extras.get("common", {})
    if pack_values.get("tier_thresholds"):
        config.resolve_ladder(pack_values["tier_thresholds"])  # fails here, before any notebook

    started_at = _now()
    started_clock = time.monotonic()
    if out:  # refuse a wrong --out before the data load (minutes at a million customers)
        check_out_folder(Path(out).resolve())
        if month:
            spec_path = Path(dataset or paths.SAMPLE_SPEC).resolve()
            check_same_pack(Path(out).resolve(), month, spec_path, name=None)
    info = load_dataset_info(dataset or paths.SAMPLE_SPEC)
    month = month or info.latest_month or default_flat_month()
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(month)):
        raise PackError(f"month must look like 2026-10, not {month!r}")
    if info.months and month not in info.months:
        raise PackError(
            f"--month {month} is outside the data: dataset {info.name!r} has the months "
            f"{info.months[0]} to {info.months[-1]}"
        )
    out_dir = Path(out).resolve() if out else (paths.REPORTS_DIR / month).resolve()
    check_out_folder(out_dir)

    run_id = f"{month}-{dt.datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    progress = Progress(len(notebooks), progress_stream)
    lock = acquire_lock(out_dir, run_id)
    try:
        if lock.notice:
            progress.log(lock.notice)
        for notice in remove_stale_builds(out_dir):
            progress.log(notice)
        # Checked under the lock: a run that finished meanwhile may have placed its pack.
        check_same_pack(out_dir, month, info.spec, info.name)
        check_free_space(out_dir)
        build_dir = new_build_dir(out_dir)
        try:
            return _build_pack(
                build_dir,
                out_dir,
                notebooks,
                info=info,
                month=month,
                lang=lang,
                extras=extras,
                settings={"only": only, "jobs": jobs, "timeout": timeout, "pdf": pdf},
                run_id=run_id,
                started=(started_at, started_clock),
                progress=progress,
            )
        except BaseException as error:
            shutil.rmtree(build_dir, ignore_errors=True)
            if isinstance(error, Exception) and not isinstance(error, PackError):
                raise RunFailed(
                    f"the run could not finish the pack ({describe_error(error)}). Nothing "
                    f"was replaced: the previous pack in {out_dir} is unchanged"
                ) from error
            raise
    finally:
        progress.close()
        lock.release()


def _build_pack(
    build_dir: Path,
    out_dir: Path,
    notebooks: list[Path],
    *,
    info: DatasetInfo,
    month: str,
    lang: str,
    extras: dict,
    settings: dict,
    run_id: str,
    started: tuple[str, float],
    progress: Progress,
) -> RunResult:
    """Run the notebooks into ``build_dir``, write the manifest and index, place the pack."""
    jobs = settings["jobs"]
    # Frames shared by the run's notebooks (ABTs, survival frame, churn events): built once,
    # read by the others; removed before the pack is placed (helpers.features.cache).
    cache_dir = features.prepare_run_cache(build_dir / "cache", info.dataset, info.fingerprint)
    info.dataset = None  # its pandas tables would stay in the runner for the whole run
    release_freed_memory()  # and what validating them freed (1M: 0.8 -> 0.5 GB)
    page = {
        "lang": lang,
        "month": month,
        "dataset_name": info.name,
        "run_id": run_id,
        "vocabulary": info.vocabulary.as_dict(),  # the data's words on every page
    }
    i18n.use_vocabulary(info.vocabulary)
    core = {
        "dataset": str(info.spec),
        "month": str(month),
        "lang": lang,
        "artifacts_dir": str(build_dir / "artifacts"),
    }
    kernel = kernel_choice()
    entries: dict[str, dict] = {}
    tasks = []
    for notebook in notebooks:
        task = {
            "notebook": str(notebook),
            "pack_dir": str(build_dir),
            "timeout": settings["timeout"],
            "page": page,
            "threads": thread_limit(jobs) if jobs > 1 else None,
            "kernel": kernel["name"],
            "cache_dir": str(cache_dir),
            "upstream": [],
        }
        try:
            task["upstream"] = notebook_upstream(notebook)
            task["weight"] = notebook_weight(notebook)
            missing = missing_roles(notebook_requirements(notebook), info.roles)
            if not missing:
                task["parameters"] = notebook_parameters(notebook, core, extras)
        except Exception as error:  # unreadable notebook or parameters cell: its failure
            entries[notebook.stem] = crashed_entry(task, error)
            progress.done(entries[notebook.stem])
            continue
        if missing:
            entries[notebook.stem] = _not_applicable(notebook, missing, info, build_dir, page)
            progress.done(entries[notebook.stem])
            continue
        tasks.append(task)
    for entry in run_tasks(tasks, min(jobs, max(1, len(tasks))), progress):
        entries[entry["notebook"]] = entry

    # The summary is listed first on the index; the rest keep name order.
    ordered = sorted(
        entries.values(), key=lambda e: (e["notebook"] != SUMMARY_NOTEBOOK, e["notebook"])
    )
    ok = all(e["status"] != STATUS_FAILED for e in ordered)
    only = settings["only"]
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
            "timeout": settings["timeout"],
            "extra": extras,
        },
        "dataset": {
            "spec": str(info.spec),
            "name": info.name,
            "fingerprint": info.fingerprint,
            "quarantine": info.quarantine,
        },
        "kernel": kernel,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "started_at": started[0],
        "finished_at": _now(),
        "duration_seconds": round(time.monotonic() - started[1], 1),
        "notebooks": ordered,
    }
    export.write_index(build_dir, manifest)
    if settings.get("pdf"):
        record_pdfs(build_dir, manifest)  # prints the index and summary; notes the files
    export.write_text_atomic(
        build_dir / "manifest.json",
        json.dumps(manifest, ensure_ascii=False, indent=2, default=str),
    )
    if not os.environ.get(features.KEEP_CACHE_ENV):
        shutil.rmtree(cache_dir, ignore_errors=True)
    final_dir = place_pack(build_dir, out_dir, ok)
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
    ``notebooks_dir`` and ``debug``). Exit codes:

    - 0: every notebook succeeded or was not applicable;
    - 1: the run ran and failed: a notebook failed (its failure page is in the pack, which goes
      beside a good pack as ``YYYY-MM.failed``), or the pack could not be finished (a full
      disk); the previous good pack is unchanged;
    - 2: the run could not start (bad arguments, parameters or data, an ``--out`` it may not
      write, another run holding the folder, too little disk space): nothing was written;
    - 130: interrupted (Ctrl-C, SIGTERM); nothing was replaced.

    No traceback reaches the terminal unless ``args.debug`` is set.
    """
    debug = bool(getattr(args, "debug", False))
    previous_handler = _terminate_as_interrupt()
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
            pdf=bool(getattr(args, "pdf", False)),
        )
    except KeyboardInterrupt:
        if debug:
            raise
        print(
            "fishpond run: interrupted. Nothing was replaced: the previous pack (if any) is "
            "unchanged and the partial build was removed.",
            file=sys.stderr,
        )
        return 130
    except RunFailed as error:
        if debug:
            raise
        print(f"fishpond run: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:
        # PackError and DataValidationError are ValueErrors: their message says what to fix.
        if debug:
            raise
        print(f"fishpond run: {describe_error(error) if isinstance(error, OSError) else error}",
              file=sys.stderr)  # fmt: skip
        return 2
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    counts: dict[str, int] = {}
    for status in result.statuses.values():
        counts[status] = counts.get(status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    print(f"Report pack: {result.index}  ({summary})")
    if not announce_pdfs(result.out_dir, result.manifest) and result.ok:
        return 1
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


def _terminate_as_interrupt():
    """Make SIGTERM clean up like Ctrl-C (partial build removed, lock released)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        return None
