"""Executing one notebook the way the monthly batch does.

:func:`execute_notebook` is Papermill with the batch's settings (kernel ``fishpond``, working
directory, per-cell timeout, encrypted kernel traffic, output written under a temporary name).
:func:`run_one_notebook` adds retries of kernel start-up failures, the verdict (by exception,
never by the look of the executed notebook) and the notebook's management page. It runs in a
worker process when ``fishpond run --jobs N`` asks for parallel notebooks, so it takes and
returns plain data only. :mod:`helpers.batch.runner` builds the pack around it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
from jupyter_client.manager import AsyncKernelManager

from helpers import i18n, paths
from helpers.batch import export
from helpers.paths import RUN_CACHE_ENV

#: How many times a run that failed while starting its kernel is tried again.
KERNEL_START_RETRIES = 2
#: Environment variables that cap the threads of numerical libraries in each kernel.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: Environment variable naming the notebook a kernel process runs.
NOTEBOOK_ENV = "FISHPOND_NOTEBOOK"

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_NOT_APPLICABLE = "not_applicable"


#: Kernel name of "this interpreter" when no ``fishpond`` kernel is registered.
CURRENT_KERNEL = "fishpond-current-interpreter"


class _SpecsWithCurrentInterpreter(KernelSpecManager):
    """Registered kernel specs, plus :data:`CURRENT_KERNEL`: ``sys.executable`` + ipykernel."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name == CURRENT_KERNEL:
            from ipykernel.kernelspec import get_kernel_dict

            # ipykernel's own spec for this interpreter: its argv and the metadata the
            # encrypting manager checks (supported_encryption: curve).
            spec = get_kernel_dict()
            return KernelSpec(
                argv=spec["argv"],
                display_name="Python (current interpreter)",
                language="python",
                metadata=spec.get("metadata", {}),
            )
        return super().get_kernel_spec(kernel_name)


class PlainKernelManager(AsyncKernelManager):
    """Kernel manager that also knows :data:`CURRENT_KERNEL` (no registration needed)."""

    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        return _SpecsWithCurrentInterpreter(data_dir=self.data_dir)


class EncryptedKernelManager(PlainKernelManager):
    """Kernel manager that provisions CurveZMQ keys, so kernel traffic is encrypted.

    ipykernel 7.4 warns that TCP traffic is plain text; with ``transport_encryption =
    "required"`` the manager gives the kernel keys and start-up fails loudly rather than
    silently falling back to plain text.
    """

    transport_encryption = "required"


def _kernel_manager_class(kernel_log: Path | None = None) -> type[AsyncKernelManager]:
    """The encrypting kernel manager when libzmq has CurveZMQ, else the plain one.

    With ``kernel_log``, the kernel process writes its own stdout and stderr (ipykernel's log,
    C-library messages) to that file instead of the terminal of ``fishpond run``: an
    interrupted kernel logs a traceback there, and no traceback may reach the terminal.
    """
    import zmq

    base = EncryptedKernelManager if zmq.has("curve") else PlainKernelManager
    if kernel_log is None:
        return base

    class LoggedKernelManager(base):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            with open(kernel_log, "ab") as handle:  # the kernel keeps its own copy
                kw.setdefault("stdout", handle)
                kw.setdefault("stderr", handle)
                return await super()._async_launch_kernel(kernel_cmd, **kw)

    return LoggedKernelManager


def kernel_choice() -> dict[str, str]:
    """The kernel notebooks run on: the registered ``fishpond`` kernel when there is one,
    else the interpreter running Fishpond (an environment made with ``pip install`` or
    ``conda env create`` alone has no registered kernel: NoSuchKernel before this fallback).

    Returns
    -------
    dict
        ``name`` (kernel name passed to Papermill), ``source`` ("registered kernel" or
        "current interpreter") and ``python`` (the interpreter it runs), for the manifest.
    """
    try:
        spec = KernelSpecManager().get_kernel_spec(paths.KERNEL_NAME)
    except NoSuchKernel:
        return {"name": CURRENT_KERNEL, "source": "current interpreter", "python": sys.executable}
    python = spec.argv[0] if spec.argv else ""
    return {"name": paths.KERNEL_NAME, "source": "registered kernel", "python": python}


class _ParameterNoiseFilter(logging.Filter):
    """Drop Papermill's parameter-parsing warnings.

    Papermill re-parses the ``parameters`` cell with a line regex that gives up on a comment
    containing ``=`` and then calls the parameter "unknown". The runner reads the cell with
    ``ast`` instead (:func:`helpers.batch.runner.declared_parameters`) and injects only declared names, so these
    warnings would only mislead whoever reads the batch log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(("Passed unknown parameter", "Unable to parse line"))


# Logger filters do not apply to child loggers, so each emitting logger gets one.
for _logger_name in ("papermill", "papermill.translators"):
    _logger = logging.getLogger(_logger_name)
    if not any(isinstance(f, _ParameterNoiseFilter) for f in _logger.filters):
        _logger.addFilter(_ParameterNoiseFilter())


# --------------------------------------------------------------------------------------------
# Executing one notebook
# --------------------------------------------------------------------------------------------


def execute_notebook(
    input_path: str | Path,
    output_path: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    timeout: int | None = 1800,
    cwd: str | Path | None = None,
    start_timeout: int = 60,
    kernel_log: str | Path | None = None,
    kernel: str | None = None,
) -> nbformat.NotebookNode:
    """Execute one notebook with Papermill the way the batch does.

    The kernel is ``kernel`` (default :func:`kernel_choice`: the registered ``fishpond``
    kernel, else the current interpreter), whatever the notebook names (a notebook saved from
    another environment still runs),
    the working directory is ``cwd`` (default: the notebook's folder), every cell has
    ``timeout`` seconds, and the output is written to a temporary name that is renamed to
    ``output_path`` at the end, also when execution fails (the audit copy of a failure).

    Parameters
    ----------
    input_path, output_path : str or Path
        Source notebook and executed copy.
    parameters : dict, optional
        Values injected after the ``parameters`` cell; Python types are kept (strings stay
        strings).
    timeout : int or None
        Per-cell execution timeout in seconds.
    cwd : str or Path, optional
        Working directory of the kernel.
    start_timeout : int
        Seconds to wait for the kernel to start.
    kernel_log : str or Path, optional
        File for the kernel process's own stdout and stderr (default: inherited).

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook.

    Raises
    ------
    papermill.PapermillExecutionError
        A cell raised (``cell_index``, ``ename``, ``evalue``).
    nbclient.exceptions.CellTimeoutError
        A cell ran longer than ``timeout``.
    nbclient.exceptions.DeadKernelError
        The kernel died.
    """
    import papermill

    input_path = Path(input_path).resolve()
    output_path = Path(output_path).resolve()
    output_path.parent.mkdir(parents=True, exist_ok=True)
    # Papermill writes the output while it runs; a temporary name keeps a half-run notebook
    # away from the final path. The suffix must stay ".ipynb" for papermill's writer.
    partial = output_path.with_name(f".{output_path.stem}.partial-{os.getpid()}.ipynb")
    try:
        return papermill.execute_notebook(
            str(input_path),
            str(partial),
            parameters=dict(parameters or {}),
            kernel_name=kernel or kernel_choice()["name"],
            cwd=str(cwd or input_path.parent),
            progress_bar=False,
            start_timeout=start_timeout,
            execution_timeout=timeout,
            kernel_manager_class=_kernel_manager_class(
                Path(kernel_log).resolve() if kernel_log else None
            ),
        )
    finally:
        if partial.exists():
            os.replace(partial, output_path)


def _is_kernel_start_failure(error: BaseException, output_path: Path) -> bool:
    """True when ``error`` happened while the kernel was starting (worth a retry)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError | CellTimeoutError | DeadKernelError):
        return False
    text = f"{type(error).__name__}: {error}"
    start_signs = ("Address already in use", "didn't respond", "Kernel died before replying")
    if not any(sign in text for sign in start_signs) and type(error).__name__ != "ZMQError":
        return False
    # If any cell started, the kernel was up: this is not a start-up failure.
    return _last_started_cell(output_path) is None


#: Tag of the banner cells Papermill inserts into a notebook whose cell raised.
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"


def _executed_cells(executed_path: Path) -> list | None:
    """Cells of an executed notebook without Papermill's error banners, or None."""
    if not executed_path.exists():
        return None
    try:
        notebook = nbformat.read(executed_path, as_version=4)
    except Exception:  # a half-written file: nothing reliable to say
        return None
    return [c for c in notebook.cells if PAPERMILL_ERROR_TAG not in c.metadata.get("tags", [])]


def _last_started_cell(executed_path: Path) -> int | None:
    """Index (banners excluded) of the last cell Papermill started, or None."""
    started = None
    for index, cell in enumerate(_executed_cells(executed_path) or []):
        if cell.get("metadata", {}).get("papermill", {}).get("start_time"):
            started = index
    return started


def _source_cell_index(executed_path: Path, executed_index: int | None, source) -> int | None:
    """Map a cell index of the executed notebook to the source notebook, by cell id.

    The executed copy has an extra injected-parameters cell (and, after a cell error, banner
    cells), so indices differ; the ids of the notebook's own cells are kept by Papermill.
    """
    cells = _executed_cells(executed_path)
    if executed_index is None or not cells or not (0 <= executed_index < len(cells)):
        return None
    cell_id = cells[executed_index].get("id")
    for index, cell in enumerate(source.cells):
        if cell_id and cell.get("id") == cell_id:
            return index
    # No ids to match: count the injected cells that precede the failing one.
    injected = sum(
        "injected-parameters" in c.metadata.get("tags", []) for c in cells[:executed_index]
    )
    index = executed_index - injected
    return index if 0 <= index < len(source.cells) else None


# --------------------------------------------------------------------------------------------
# One notebook, start to finish (runs in a worker process when jobs > 1)
# --------------------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """First non-empty line of ``text`` without ANSI colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(text))
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _error_summary(error: BaseException) -> tuple[str, int | None]:
    """One-line description of a failure and the failing cell index when known."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        return one_line(f"{error.ename}: {one_line(error.evalue)}"), error.cell_index
    if isinstance(error, CellTimeoutError):
        return one_line(f"CellTimeoutError: {one_line(str(error))}"), None
    if isinstance(error, DeadKernelError):
        return one_line(f"DeadKernelError: the kernel died ({one_line(str(error))})"), None
    return one_line(f"{type(error).__name__}: {one_line(str(error))}"), None


def thread_limit(jobs: int) -> int:
    """Threads each of ``jobs`` parallel kernels may use: cores // jobs, at least 1."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def _kernel_peak_gb(record_path: Path) -> float | None:
    """The kernel's peak RSS in GB from the run record its last cell wrote (None if absent)."""
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        return round(int(record["peak_rss_bytes"]) / 1e9, 2)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_one_notebook(task: dict[str, Any]) -> dict[str, Any]:
    """Run and export one notebook; return its manifest entry.

    ``task`` carries plain data only (it crosses a process boundary): ``notebook`` (path),
    ``pack_dir``, ``parameters``, ``timeout``, ``page`` (header values for the HTML), and
    ``threads`` (thread cap for the kernel, or None) and ``cache_dir`` (the run's shared
    frames, or None). With ``--jobs 1`` it runs in the runner's own process, so the variables
    it sets for the kernel are put back afterwards.
    """

    notebook_path = Path(task["notebook"])
    pack_dir = Path(task["pack_dir"])
    # Kernels resolve the project folder as the runner does (an installed package's bundled
    # notebooks run in site-packages, but their scratch files belong to the analyst's folder).
    os.environ["FISHPOND_ROOT"] = str(paths.PROJECT_ROOT)
    i18n.use_vocabulary(task["page"].get("vocabulary"))  # the data's words on its pages
    if task.get("threads"):
        # Inherited by the kernel process, so parallel notebooks don't oversubscribe the cores.
        for variable in THREAD_VARIABLES:
            os.environ[variable] = str(task["threads"])
    # The run's shared frames (helpers.features.cache); restored after, since with --jobs 1
    # this runs in the runner's own process.
    previous = {name: os.environ.get(name) for name in (RUN_CACHE_ENV, NOTEBOOK_ENV)}
    if task.get("cache_dir"):
        os.environ[RUN_CACHE_ENV] = str(task["cache_dir"])
    # Names the kernel's process (``ps e``, the pack benchmark's memory breakdown).
    os.environ[NOTEBOOK_ENV] = notebook_path.stem
    try:
        return _run_one_notebook(task, notebook_path, pack_dir)
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_one_notebook(task: dict[str, Any], notebook_path: Path, pack_dir: Path) -> dict[str, Any]:
    name = notebook_path.stem
    executed_path = pack_dir / "executed" / f"{name}.ipynb"
    kernel_log = pack_dir / "executed" / f"{name}.kernel.log"
    html_path = pack_dir / f"{name}.html"

    entry: dict[str, Any] = {
        "notebook": name,
        "status": STATUS_OK,
        "duration_seconds": 0.0,
        "error": "",
        "retries": 0,
        "html": html_path.name,
        "executed": f"executed/{executed_path.name}",
    }
    started = time.monotonic()
    error: BaseException | None = None
    for attempt in range(KERNEL_START_RETRIES + 1):
        entry["retries"] = attempt
        try:
            execute_notebook(
                notebook_path,
                executed_path,
                task["parameters"],
                timeout=task["timeout"],
                cwd=notebook_path.parent,
                kernel_log=kernel_log,
                kernel=task.get("kernel"),
            )
            error = None
            break
        except Exception as caught:  # judged below: every exception is a failure
            error = caught
            if attempt < KERNEL_START_RETRIES and _is_kernel_start_failure(caught, executed_path):
                time.sleep(1 + attempt)
                continue
            break
    entry["duration_seconds"] = round(time.monotonic() - started, 1)
    if kernel_log.exists() and kernel_log.stat().st_size == 0:
        kernel_log.unlink()  # kept only when the kernel had something to say

    entry["kernel_peak_gb"] = _kernel_peak_gb(pack_dir / "artifacts" / f"run_{name}.json")
    source = nbformat.read(notebook_path, as_version=4)
    entry["title"] = export.notebook_title_for(source, task["page"]["lang"]) or name
    if error is None:
        try:
            executed = nbformat.read(executed_path, as_version=4)
            export.write_notebook_html(executed, html_path, page=task["page"], title=entry["title"])
            return entry
        except Exception as export_error:  # the notebook ran but its page could not be made
            entry["status"] = STATUS_FAILED
            entry["error"] = one_line(
                f"HTML export failed: {type(export_error).__name__}: {export_error}"
            )
            entry["step"] = {}
            export.write_failure_page(html_path, entry=entry, page=task["page"])
            return entry

    message, cell_index = _error_summary(error)
    if cell_index is None:
        cell_index = _last_started_cell(executed_path)
    entry["status"] = STATUS_FAILED
    entry["error"] = message
    source_index = _source_cell_index(executed_path, cell_index, source)
    entry["step"] = export.describe_step(source, source_index, task["page"]["lang"])
    if not executed_path.exists():
        entry["executed"] = ""
    export.write_failure_page(html_path, entry=entry, page=task["page"])
    return entry
