"""Course editions end to end: solutions pass every check, untouched exercises explain why.

The source notebooks run the solution after each scaffold, so the monthly pack's executed
notebooks must show only passing checks. A learner edition (scaffolds, no solutions) must run
to the end without an exception and every check must say, in words, what is missing.
"""

import shutil

import nbformat
import pytest

from helpers import course
from helpers.paths import NOTEBOOKS_DIR

pytestmark = pytest.mark.slow
ANALYTIC = [
    "00_data_overview",
    "01_tiering",
    "02_lifecycle_survival",
    "03_cross_sell_propensity",
    "04_retention_roi",
]


def _check_messages(notebook) -> list[str]:
    messages = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and "check" in cell.metadata.get("tags", []):
            texts = [
                str(o.get("data", {}).get("text/markdown", "")) for o in cell.get("outputs", [])
            ]
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            assert not errors, f"a check raised: {errors[0].get('ename')}"
            messages.append("\n".join(texts))
    return messages


def _learner(name: str, lang: str, folder):
    source = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    path = folder / f"{name}.ipynb"
    nbformat.write(course.course_notebook(source, lang, "learner"), path)
    return path, course.count_exercises(source)


@pytest.mark.xdist_group("packs")
def test_solutions_pass_every_check_in_the_monthly_pack(sample_pack):
    for name in [*ANALYTIC, "05_monthly_summary"]:
        executed = nbformat.read(sample_pack.out_dir / "executed" / f"{name}.ipynb", as_version=4)
        messages = _check_messages(executed)
        assert len(messages) >= 3, name
        assert all(m.startswith("✅") for m in messages), (
            f"{name}: {[m for m in messages if not m.startswith('✅')]}"
        )


@pytest.mark.parametrize("name", ANALYTIC)
def test_untouched_learner_exercises_fail_with_a_helpful_message(name, run_notebook, tmp_path):
    path, exercises = _learner(name, "en", tmp_path)
    notebook, _ = run_notebook(path, tmp_path, lang="en")  # raises if any cell raised
    messages = _check_messages(notebook)
    assert len(messages) == exercises >= 3
    for message in messages:
        assert message.startswith("❌") and "Not answered yet" in message, message
        assert "Traceback" not in message


@pytest.mark.xdist_group("packs")
def test_summary_learner_edition_in_chinese(sample_pack, run_notebook, tmp_path):
    artifacts = tmp_path / "pack_artifacts"
    shutil.copytree(sample_pack.out_dir / "artifacts", artifacts)
    path, exercises = _learner("05_monthly_summary", "zh", tmp_path)
    notebook, _ = run_notebook(path, tmp_path / "run", lang="zh", artifacts_dir=str(artifacts))
    messages = _check_messages(notebook)
    assert len(messages) == exercises >= 3
    assert all(m.startswith("❌") and "还没有作答" in m for m in messages), messages


def test_a_learner_in_the_built_course_keeps_files_there_and_the_trainer_sees_progress(tmp_path):
    """As in class: the kernel runs in the learner folder with the notebook's own defaults."""
    from helpers.batch import execute_notebook

    out = tmp_path / "course" / "en"
    course.build_course("en", out)
    learner = out / "learner"
    path = learner / "00_data_overview.ipynb"
    notebook = nbformat.read(path, as_version=4)
    exercises = [c for c in notebook.cells if "exercise" in c.metadata.get("tags", [])]
    exercises[0].source = (  # 00-1 right
        'values = {record["key"]: record["value"] for record in kpis}\n'
        'answer = values["ov_avg_aum"] / values["ov_median_aum"]'
    )
    exercises[1].source = (  # 00-2 as a percentage; 00-3 left untouched
        'top = tiers[tiers["tier"].isin(["wealth", "private"])]\n'
        'answer = 100 * float(top["aum_share"].sum())'
    )
    nbformat.write(notebook, path)
    executed = execute_notebook(path, path, {}, cwd=learner, timeout=600)  # saved in place

    messages = _check_messages(executed)
    assert messages[0].startswith("✅ **Exercise 00-1**"), messages[0]
    assert messages[1].startswith("❌ **Exercise 00-2**") and "percentage" in messages[1]
    assert messages[2].startswith("❌ **Exercise 00-3**") and "Not answered yet" in messages[2]
    progress = course.course_progress(learner)
    statuses = dict(zip(progress["exercise"], progress["status"], strict=True))
    assert [statuses[e] for e in ("00-1", "00-2", "00-3", "01-1")] == [
        "passed",
        "wrong",
        "unanswered",
        "not_run",
    ]
    # the scratch files went to the course folder, not to the folder the kernel ran in
    assert (
        out / ".fishpond-scratch" / "learner" / "artifacts" / "kpis_00_data_overview.json"
    ).is_file()
    assert not (learner / ".fishpond-scratch").exists()
