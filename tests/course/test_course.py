"""Course edition: how notebooks are split, and what checks tell a learner."""

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import course, formatting
from helpers.cli import main
from helpers.paths import NOTEBOOKS_DIR


def _source_notebook():
    cells = [
        new_markdown_cell("# 标题", metadata={"tags": ["lang-zh"]}),
        new_markdown_cell("# Title", metadata={"tags": ["lang-en"]}),
        new_code_cell(
            'lang = "zh"  # str: language\nseed = 1  # int: seed', metadata={"tags": ["parameters"]}
        ),
        new_code_cell("answer = None  # TODO", metadata={"tags": ["exercise"]}),
        new_code_cell("answer = 42", metadata={"tags": ["solution"]}),
        new_code_cell("course.check('x', answer, 42)", metadata={"tags": ["check"]}),
    ]
    cells[4].outputs = [nbformat.v4.new_output("stream", text="leak")]
    return new_notebook(cells=cells)


def test_learner_edition_drops_solutions_and_the_other_language():
    learner = course.course_notebook(_source_notebook(), "en", "learner")
    sources = [cell.source for cell in learner.cells]
    assert "# Title" in sources and "# 标题" not in sources
    assert "answer = None  # TODO" in sources and "answer = 42" not in sources
    assert sources[1].startswith('lang = "en"  # str: language'), sources[1]
    assert learner.metadata["fishpond"]["course"] == {"lang": "en", "edition": "learner"}


def test_solution_edition_drops_scaffolds_and_outputs():
    solution = course.course_notebook(_source_notebook(), "zh", "solution")
    sources = [cell.source for cell in solution.cells]
    assert "answer = 42" in sources and "answer = None  # TODO" not in sources
    assert all(not cell.get("outputs") for cell in solution.cells if cell.cell_type == "code")
    assert sources[1].startswith('lang = "zh"')


def test_check_messages_explain_instead_of_raising():
    hint = course.msg("course_hint_00_2")
    untouched = course.check("00-2", None, 3.0, "zh", hint=hint)
    assert untouched.status == "unanswered" and "还没有作答" in untouched.message
    assert "aum_share" in untouched.message
    wrong = course.check("00-2", 2.0, 3.0, "en", hint=hint)
    assert not wrong.passed and "2" in wrong.message and "aum_share" in wrong.message
    right = course.check("00-2", 3.0000001, 3.0, "en")
    assert right.passed and right._repr_markdown_().startswith("✅ **Exercise 00-2**")
    odd = course.check("00-2", "three", 3.0, "en")
    assert not odd.passed and odd.status == "wrong"
    skipped = course.check("00-2", formatting.Skipped("ov_skip_trend_flat"), 3.0, "en")
    assert skipped.status == "unanswered"  # a Skipped answer counts as no answer


def test_a_check_result_carries_a_machine_readable_copy_for_the_progress_view():
    bundle = course.check("01-3", 0.5, 0.5, "zh")._repr_mimebundle_()
    assert bundle["text/markdown"].startswith("✅ **练习 01-3**")
    assert bundle[course.CHECK_MIME] == {
        "exercise": "01-3",
        "status": "passed",
        "passed": True,
        "lang": "zh",
    }


def test_domain_check_computes_its_answer_from_the_data():
    tiers = pd.DataFrame(
        {"tier": ["mass", "affluent", "wealth", "private"], "aum_share": [0.2, 0.3, 0.4, 0.1]}
    )
    assert course.check_top_tier_aum_share(0.5, tiers, "en").passed
    wrong = course.check_top_tier_aum_share(0.45, tiers, "en")
    assert not wrong.passed and "Hint" in wrong.message
    only_wealth = course.check_top_tier_aum_share(0.4, tiers, "en")
    assert not only_wealth.passed and "only the `wealth` tier" in only_wealth.message
    percent = course.check_top_tier_aum_share(50, tiers, "en")
    assert not percent.passed and "percentage" in percent.message
    penetration = pd.DataFrame(
        {
            "code": ["current_account", "fund", "insurance"],
            "name_zh": ["活期账户", "基金", "保险"],
            "name_en": ["Current account", "Mutual funds", "Insurance"],
            "penetration": [1.0, 0.1, 0.3],
        }
    )
    assert course.check_biggest_gap("fund", penetration, "zh").passed
    assert not course.check_biggest_gap("insurance", penetration, "zh").passed
    label = course.check_biggest_gap("基金", penetration, "zh")
    assert not label.passed and "选对了" in label.message and "`code`" in label.message
    wrong_label = course.check_biggest_gap("Insurance", penetration, "en")
    assert not wrong_label.passed and "not the item" in wrong_label.message


def test_every_source_notebook_has_three_exercises_each_with_solution_and_check():
    for path in sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        tags = [set(cell.metadata.get("tags", [])) for cell in notebook.cells]
        exercises = sum("exercise" in t for t in tags)
        assert exercises >= 3, f"{path.name} has {exercises} exercises; the course needs at least 3"
        assert sum("solution" in t for t in tags) == exercises, path.name
        assert sum("check" in t for t in tags) == exercises, path.name


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cli_builds_learner_and_solution_notebooks(lang, tmp_path, capsys):
    assert main(["course", "build", "--lang", lang, "--out", str(tmp_path)]) == 0
    sources = sorted(p.name for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(p.name for p in (tmp_path / "learner").glob("*.ipynb")) == sources
    assert sorted(p.name for p in (tmp_path / "solution").glob("*.ipynb")) == sources
    assert "learner" in capsys.readouterr().out

    learner = nbformat.read(tmp_path / "learner" / "00_data_overview.ipynb", as_version=4)
    other = "lang-en" if lang == "zh" else "lang-zh"
    assert not any(other in cell.metadata.get("tags", []) for cell in learner.cells)
