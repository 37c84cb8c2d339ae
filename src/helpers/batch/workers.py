"""Running a pack's notebooks: one after another, or in worker processes.

With several workers the notebooks start in critical-path order
(:func:`helpers.batch.notebooks.start_priorities`), each after its upstream notebooks.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from pathlib import Path

from helpers.batch import export
from helpers.batch.execution import STATUS_FAILED, one_line, run_one_notebook, thread_limit
from helpers.batch.notebooks import start_priorities
from helpers.batch.progress import Progress
from helpers.data.run_record import write_thread_budget


def run_tasks(tasks: list[dict], jobs: int, progress: Progress) -> list[dict]:
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
                entry = crashed_entry(task, error)
            entries.append(entry)
            progress.done(entry)
        return entries
    names = {Path(t["notebook"]).stem for t in tasks}
    priority = start_priorities(
        {Path(t["notebook"]).stem: float(t.get("weight", 1.0)) for t in tasks},
        {Path(t["notebook"]).stem: list(t.get("upstream", [])) for t in tasks},
    )
    # Longest remaining chain first; ties keep the run order (sorted() is stable).
    waiting = sorted(tasks, key=lambda t: -priority[Path(t["notebook"]).stem])
    finished: set[str] = set()
    results: dict[str, dict] = {}
    # "spawn": forking a process that holds ZMQ sockets or threads (pytest, tqdm) is unsafe.
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    cache_dir = tasks[0].get("cache_dir")
    budget = thread_limit(jobs)
    try:
        running: dict[concurrent.futures.Future, dict] = {}
        while waiting or running:
            for task in list(waiting):
                upstream = [u for u in task.get("upstream", []) if u in names]
                if len(running) < jobs and all(u in finished for u in upstream):
                    running[pool.submit(run_one_notebook, task)] = task
                    waiting.remove(task)
            # Threads per running kernel, set after every start that can happen now: a kernel
            # left alone (the others finished, the rest wait for it) may use the idle cores,
            # and no new kernel can start beside it until it has finished.
            if cache_dir and running and thread_limit(len(running)) != budget:
                budget = thread_limit(len(running))
                write_thread_budget(cache_dir, budget)
            done, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                task = running.pop(future)
                try:
                    entry = future.result()
                except Exception as error:  # a worker crashed outside the notebook
                    entry = crashed_entry(task, error)
                results[task["notebook"]] = entry
                finished.add(Path(task["notebook"]).stem)
                progress.done(entry)
    except BaseException:
        # Interrupted (SIGINT/SIGTERM) or failing: stop the workers now rather than wait for
        # their notebooks; each kernel notices its parent is gone and exits.
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [results[task["notebook"]] for task in tasks]


def crashed_entry(task: dict, error: BaseException) -> dict:

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
