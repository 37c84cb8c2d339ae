"""A trainer's view of the room: which checks each learner notebook passes.

``fishpond course progress course/zh/learner`` reads the learner notebooks as JupyterLab saved
them (it autosaves every couple of minutes) and reports, per notebook, the status of each
exercise's check: the check result's machine-readable copy (:data:`~helpers.course.checks.CHECK_MIME`)
in the check cell's output, or, for notebooks saved by an older version, the ✅ / ❌ mark of
its text. Nothing is executed, so it takes a moment even for a room of learners.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pandas as pd

from helpers import i18n
from helpers.course.checks import CHECK_MIME, PASSING

#: What a check cell without a saved output shows: the learner has not run it (or not saved).
NOT_RUN = "not_run"
MARKS = {
    "passed": "✅",
    "skipped": "⏭",
    "wrong": "❌",
    "unanswered": "○",
    "error": "!",
    NOT_RUN: "·",
}
_TEXT_STATUS = re.compile(r"^(✅|❌)\s*\*\*[^*]*?(\d\d-\d+)\*\*")


def _cell_status(cell) -> tuple[str | None, str]:
    """(exercise id or None, status) of one check cell, from its saved outputs."""
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        record = data.get(CHECK_MIME)
        if isinstance(record, dict) and record.get("status"):
            return record.get("exercise"), str(record["status"])
        text = data.get("text/markdown", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        match = _TEXT_STATUS.match(text.strip())
        if match:
            if match.group(1) == "✅":
                return match.group(2), "passed"
            unanswered = any(
                i18n.t("course_unanswered", lang).split(":")[0] in text for lang in i18n.LANGUAGES
            )
            return match.group(2), "unanswered" if unanswered else "wrong"
        if output.get("output_type") == "error":
            return None, "error"
    return None, NOT_RUN


def notebook_progress(path: str | Path) -> pd.DataFrame:
    """One row per check cell of a notebook: ``notebook``, ``number``, ``exercise``, ``status``.

    ``number`` counts the check cells in order (1, 2, ...); ``exercise`` is the id the check
    reported ("01-3"), or ``NN-number`` from the file name when it has not run yet.
    """
    import nbformat  # lazily: over a second per notebook kernel (helpers.course.build)

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    prefix = path.name[:2]
    rows = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or "check" not in cell.get("metadata", {}).get("tags", []):
            continue
        number = len(rows) + 1
        exercise, status = _cell_status(cell)
        rows.append(
            {
                "notebook": path.stem,
                "number": number,
                "exercise": exercise or f"{prefix}-{number}",
                "status": status,
            }
        )
    return pd.DataFrame(rows, columns=["notebook", "number", "exercise", "status"])


def course_progress(folder: str | Path) -> pd.DataFrame:
    """Check statuses of every course notebook (``NN_*.ipynb``) in ``folder``, in order."""
    frames = [notebook_progress(path) for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))]
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=["notebook", "number", "exercise", "status"])
    return pd.concat(frames, ignore_index=True)


def _folder_lang(folder: Path) -> str:
    """The language the course in ``folder`` was built in (its notebooks' metadata), else zh."""
    import nbformat  # lazily: over a second per notebook kernel (helpers.course.build)

    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        meta = nbformat.read(path, as_version=4).metadata.get("fishpond", {})
        lang = meta.get("course", {}).get("lang")
        if lang in i18n.LANGUAGES:
            return lang
    return "zh"


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (Chinese characters and emoji take two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _left(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _right(text: str, width: int) -> str:
    return " " * max(0, width - _width(text)) + text


def progress_report(folder: str | Path, lang: str | None = None) -> str:
    """The progress of one learner folder as a plain-text table, in ``lang``."""
    folder = Path(folder)
    lang = lang or _folder_lang(folder)
    progress = course_progress(folder)
    if progress.empty:
        return i18n.t("course_progress_none", lang, folder=folder)
    passed = int(progress["status"].isin(PASSING).sum())
    lines = [
        i18n.t("course_progress_title", lang, folder=folder, passed=passed, total=len(progress))
    ]
    header = i18n.t("course_progress_notebook", lang)
    width = max(_width(name) for name in [header, *progress["notebook"]])
    numbers = range(1, int(progress["number"].max()) + 1)
    passed_word = i18n.t("course_progress_passed", lang)
    lines.append(
        _left(header, width) + "".join(_right(str(n), 4) for n in numbers) + f"   {passed_word}"
    )
    for name, rows in progress.groupby("notebook", sort=False):
        marks = dict(zip(rows["number"], rows["status"].map(MARKS), strict=True))
        done = int(rows["status"].isin(PASSING).sum())
        cells = "".join(_right(marks.get(n, ""), 4) for n in numbers)
        lines.append(f"{_left(name, width)}{cells}   {done}/{len(rows)}")
    lines.append(i18n.t("course_progress_legend", lang))
    return "\n".join(lines)


def cli_course_progress(args) -> int:
    """``fishpond course progress FOLDER... [--lang zh|en]``: 0, or 1 for a missing folder."""
    code = 0
    for index, folder in enumerate(args.folders):
        lang = args.lang or "zh"
        if index:
            print()
        if not Path(folder).is_dir():
            print(i18n.t("course_progress_missing", lang, folder=folder))
            code = 1
            continue
        print(progress_report(folder, args.lang))
    return code
