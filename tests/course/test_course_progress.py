"""``fishpond course progress``: a trainer sees which checks each learner notebook passes."""

import nbformat
import pytest
from nbformat.v4 import new_output

from helpers import course
from helpers.cli import main


def _output(result):
    bundle = result._repr_mimebundle_()
    return new_output("display_data", data=bundle)


def _set_check_outputs(path, outputs):
    """Give the check cells of ``path`` these outputs, in order (None: not run)."""
    notebook = nbformat.read(path, as_version=4)
    checks = [c for c in notebook.cells if "check" in c.metadata.get("tags", [])]
    for cell, output in zip(checks, outputs, strict=False):
        cell.outputs = [] if output is None else [output]
    nbformat.write(notebook, path)


@pytest.fixture
def learner(tmp_path):
    """A learner folder with some exercises done, as JupyterLab would have saved it."""
    out = tmp_path / "course" / "zh"
    course.build_course("zh", out)
    folder = out / "learner"
    _set_check_outputs(
        folder / "00_data_overview.ipynb",
        [
            _output(course.check("00-1", 3.75, 3.75, "zh")),
            _output(course.check("00-2", 78, 0.78, "zh")),
            None,
        ],
    )
    _set_check_outputs(
        folder / "01_tiering.ipynb",
        [
            _output(course.check("01-1", None, 3, "zh")),
            # saved by an older Fishpond: markdown only, without the machine-readable copy
            new_output("display_data", data={"text/markdown": "✅ **01-2**: 正确!"}),
            _output(course.skip("01-3", "zh", course.msg("course_skip_no_history"))),
            new_output("error", ename="NameError", evalue="x", traceback=[]),
        ],
    )
    return folder


def test_progress_lists_each_notebooks_check_statuses(learner):
    progress = course.course_progress(learner)
    statuses = dict(zip(progress["exercise"], progress["status"], strict=True))
    assert statuses["00-1"] == "passed"
    assert statuses["00-2"] == "wrong"
    assert statuses["00-3"] == "not_run"
    assert statuses["01-1"] == "unanswered"
    assert statuses["01-2"] == "passed"
    assert statuses["01-3"] == "skipped"
    assert statuses["01-4"] == "error"
    assert statuses["05-3"] == "not_run"
    assert len(progress) == len(course.EXERCISES)


def test_progress_command_prints_a_table_for_the_trainer(learner, capsys):
    assert main(["course", "progress", str(learner)]) == 0
    out = capsys.readouterr().out
    assert "共 22 道练习,通过 3 道" in out  # the folder's language: the course was built in zh
    row = next(line for line in out.splitlines() if line.startswith("00_data_overview"))
    assert row.split()[1:] == ["✅", "❌", "·", "1/3"]
    row = next(line for line in out.splitlines() if line.startswith("01_tiering"))
    assert row.split()[1:] == ["○", "✅", "⏭", "!", "2/4"]
    assert "未作答" in out  # the legend

    assert main(["course", "progress", str(learner), "--lang", "en"]) == 0
    assert "3 of 22 exercises passed" in capsys.readouterr().out


def test_progress_command_reports_a_missing_or_empty_folder(tmp_path, capsys):
    assert main(["course", "progress", str(tmp_path / "nowhere")]) == 1
    assert "nowhere" in capsys.readouterr().out
    assert main(["course", "progress", str(tmp_path), "--lang", "en"]) == 0
    assert "holds no course notebooks" in capsys.readouterr().out
