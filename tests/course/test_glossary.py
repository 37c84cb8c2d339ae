"""One glossary: every text learners and managers read uses its words."""

from helpers import course, i18n
from helpers.paths import PROJECT_ROOT


def test_no_text_names_a_glossary_concept_differently():
    clashes = course.find_clashes()
    assert not clashes, "\n".join(
        f"{c['source']}: {c['found']!r} where the glossary says {c['use']!r} ({c['context']})"
        for c in clashes
    )


def test_the_clash_finder_sees_a_wrong_word_in_either_language():
    # the issue's example: 02's exercise called affluent customers 富裕 while reports say 潜力客户
    found = course.find_clashes({"nb": "帮助大众客户成长为富裕客户", "md": "a dedicated Adviser"})
    assert {(c["source"], c["use"]) for c in found} == {
        ("nb", "潜力客户"),
        ("md", "relationship manager (RM)"),
    }
    assert not course.find_clashes({"md": "the advisers' word is nowhere"})  # whole words only


def test_tier_labels_use_the_glossary_terms():
    assert not course.label_mismatches()
    assert i18n.t("tier_affluent", "zh") == course.term("tier_affluent", "zh") == "潜力客户"


def test_glossary_ids_are_unique_and_every_term_has_both_languages_and_a_meaning():
    terms = course.glossary()
    ids = [entry["id"] for entry in terms]
    assert len(ids) == len(set(ids))
    for entry in terms:
        for field in ("zh", "en", "meaning_zh", "meaning_en"):
            assert str(entry.get(field, "")).strip(), (entry["id"], field)


def test_docs_glossary_is_generated_from_the_glossary():
    page = (PROJECT_ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    assert page == course.glossary_page(), (
        "docs/glossary.md is stale: regenerate it with "
        "python -c \"from helpers import course; print(course.glossary_page(), end='')\""
    )
    assert "glossary.md" in (PROJECT_ROOT / "docs" / "course.md").read_text(encoding="utf-8")


def test_the_course_face_loads_a_notebooks_checks_only_when_used():
    """``from helpers import course`` in 00, 01 and 05 must not import the survival and
    propensity stacks (lifelines, scikit-learn: ~1.5 s of kernel start-up); reading the
    exercise registry loads every notebook's checks, so it is always complete."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from helpers import course\n"
        "assert callable(course.glossary)\n"
        "course.check_biggest_gap\n"
        "heavy = [m for m in ('lifelines', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(len(course.EXERCISES))\n"
    )
    lazy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert lazy.returncode == 0, lazy.stderr
    import helpers.course.propensity  # noqa: F401  (every module loaded in this process)
    import helpers.course.retention  # noqa: F401
    import helpers.course.summary  # noqa: F401
    import helpers.course.survival  # noqa: F401
    import helpers.course.tiering  # noqa: F401

    assert int(lazy.stdout) == len(course.EXERCISES) > 0
