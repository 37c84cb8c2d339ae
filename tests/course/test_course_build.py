"""The built course folder: README, glossary, marker, and where learners' files go."""

import re

import nbformat

from helpers import course, paths
from helpers.cli import main
from helpers.paths import NOTEBOOKS_DIR, PROJECT_ROOT


def test_build_writes_a_readme_a_glossary_and_the_marker(tmp_path, capsys):
    out = tmp_path / "course" / "zh"
    assert main(["course", "build", "--lang", "zh", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "README.md" in printed and "学员版" in printed
    readme = (out / "README.md").read_text(encoding="utf-8")
    for unit in course.course_units():
        row = next(line for line in readme.splitlines() if f"`{unit['notebook']}`" in line)
        assert f"{unit['minutes']} 分钟" in row, row  # order and timing
    order = [readme.index(f"`{unit['notebook']}`") for unit in course.course_units()]
    assert order == sorted(order)
    assert "solution/" in readme and "glossary.md" in readme  # where solutions are, the glossary
    assert "✅" in readme and "❌" in readme  # how checks work
    assert f"fishpond course progress {out.as_posix()}/learner" in readme
    for item in course.EXERCISES:
        assert f"练习 {item}" in readme, item
    assert (out / "glossary.md").read_text(encoding="utf-8") == course.glossary_page("zh")
    assert (out / paths.COURSE_MARKER).is_file()
    assert not re.search(r"\{\{|\{%", readme)  # the template rendered fully


def test_english_readme_is_english(tmp_path):
    course.build_course("en", tmp_path / "en")
    readme = (tmp_path / "en" / "README.md").read_text(encoding="utf-8")
    assert "Exercise 01-3" in readme and "min |" in readme
    assert not re.search(r"[\u3400-\u9fff]", readme.replace("存量客户经营", ""))


def test_learner_scratch_files_stay_inside_the_course_folder(tmp_path, monkeypatch):
    out = tmp_path / "course" / "zh"
    course.build_course("zh", out)
    learner = out / "learner"
    assert paths.scratch_dir(learner) == out.resolve() / ".fishpond-scratch" / "learner"
    assert paths.scratch_dir(out) == out.resolve() / ".fishpond-scratch"
    monkeypatch.chdir(learner)  # JupyterLab starts the kernel in the notebook's folder
    assert paths.scratch_dir().is_relative_to(out.resolve())
    assert paths.scratch_dir(tmp_path) == paths.SCRATCH_DIR  # outside a course: as before


def test_docs_course_guide_shows_the_same_timings_as_the_course():
    guide = (PROJECT_ROOT / "docs" / "course.md").read_text(encoding="utf-8")
    for unit in course.course_units():
        rows = [line for line in guide.splitlines() if f"`{unit['notebook']}`" in line]
        assert any(f"{unit['minutes']} 分钟" in row for row in rows), unit["notebook"]
        assert any(f"{unit['minutes']} min" in row for row in rows), unit["notebook"]


def test_exercise_headings_are_read_from_the_notebook():
    notebook = nbformat.read(NOTEBOOKS_DIR / "01_tiering.ipynb", as_version=4)
    headings = course.exercise_headings(notebook, "en")
    assert [h["id"] for h in headings] == ["01-1", "01-2", "01-3", "01-4"]
    assert all(h["title"] for h in headings)
