"""The one glossary (``resources/glossary.yaml``): terms, their rendering, and clash detection.

Every concept has one word in Chinese and one in English. The notebooks, the report labels, the
course checks and the trainer's guide must use it; :func:`find_clashes` lists the places that use
another name for a concept the glossary names (``富裕`` where the reports say ``潜力客户``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from helpers import i18n, paths

GLOSSARY_PATH = paths.RESOURCES_DIR / "glossary.yaml"
COURSE_TEMPLATES_DIR = paths.TEMPLATES_DIR / "course"
# Full-width brackets and the like count as their ASCII twins when looking for a variant.
_FOLD = str.maketrans({"\uff08": "(", "\uff09": ")", "\uff1a": ":", "\uff0c": ","})


@lru_cache(maxsize=1)
def glossary() -> tuple[dict, ...]:
    """The glossary's terms, in file order: ``id``, ``zh``, ``en``, meanings, avoided variants."""
    with open(GLOSSARY_PATH, encoding="utf-8") as handle:
        terms = yaml.safe_load(handle)["terms"]
    for term in terms:
        for field in ("avoid_zh", "avoid_en", "labels"):
            term.setdefault(field, [])
    return tuple(terms)


def term(term_id: str, lang: str = "zh") -> str:
    """The glossary's word for a concept in ``lang``."""
    for entry in glossary():
        if entry["id"] == term_id:
            return entry[i18n.check_lang(lang)]
    raise KeyError(f"no glossary term {term_id!r}")


def glossary_markdown(lang: str | None = None) -> str:
    """The glossary as a markdown table: one language, or both (``lang=None``)."""
    if lang is None:
        words = [
            i18n.t(key, language)
            for key in ("course_glossary_term", "course_glossary_meaning")
            for language in ("zh", "en")
        ]
        head = f"| {words[0]} | {words[1]} | {words[2]} | {words[3]} |\n|---|---|---|---|"
        rows = [
            f"| {t['zh']} | {t['en']} | {t['meaning_zh']} | {t['meaning_en']} |" for t in glossary()
        ]
        return "\n".join([head, *rows]) + "\n"
    i18n.check_lang(lang)
    term_word = i18n.t("course_glossary_term", lang)
    meaning_word = i18n.t("course_glossary_meaning", lang)
    head = f"| {term_word} | {meaning_word} |\n|---|---|"
    rows = []
    for entry in glossary():
        word = entry[lang] if lang == "zh" else f"{entry['en']} ({entry['zh']})"
        rows.append(f"| {word} | {entry[f'meaning_{lang}']} |")
    return "\n".join([head, *rows]) + "\n"


GENERATED_NOTE = (
    "<!-- Generated from src/helpers/resources/glossary.yaml by "
    "helpers.course.glossary_page(); do not edit by hand. -->"
)


def glossary_page(lang: str | None = None) -> str:
    """A markdown page with the glossary: ``docs/glossary.md`` (both languages) or a course's."""
    if lang is None:
        title = " / ".join(i18n.t("course_glossary_title", language) for language in ("zh", "en"))
    else:
        title = i18n.t("course_glossary_title", lang)
    return f"# {title}\n\n{GENERATED_NOTE}\n\n{glossary_markdown(lang)}"


# ----------------------------------------------------------------------------- clashes
def _notebook_text(path: Path) -> str:
    import nbformat  # lazily: over a second per notebook kernel (helpers.course.build)

    notebook = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in notebook.cells)


def _locale_texts() -> dict[str, str]:
    texts = {}
    for path in sorted(paths.LOCALES_DIR.glob("*.yaml")):
        with open(path, encoding="utf-8") as handle:
            entries = yaml.safe_load(handle) or {}
        for key, value in entries.items():
            for lang, text in (value or {}).items():
                texts[f"{path.name}:{key}:{lang}"] = str(text)
    return texts


def glossary_sources() -> dict[str, str]:
    """Every text learners and managers read, by source name: notebooks, labels, checks, guides."""
    sources = {
        f"notebooks/{p.name}": _notebook_text(p)
        for p in sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    }
    sources.update(_locale_texts())
    for path in sorted(COURSE_TEMPLATES_DIR.glob("*")):
        sources[f"templates/course/{path.name}"] = path.read_text(encoding="utf-8")
    guide = paths.PROJECT_ROOT / "docs" / "course.md"
    if guide.is_file():
        sources["docs/course.md"] = guide.read_text(encoding="utf-8")
    return sources


def find_clashes(sources: dict[str, str] | None = None) -> list[dict]:
    """Places that name a glossary concept with a word the glossary avoids.

    Returns one record per hit: ``source``, ``term`` (glossary id), ``use`` (the glossary's
    word), ``found`` (the variant) and ``context`` (the text around it).
    """
    sources = glossary_sources() if sources is None else sources
    clashes = []
    for name, text in sources.items():
        folded = text.translate(_FOLD)
        for entry in glossary():
            for lang in ("zh", "en"):
                for variant in entry[f"avoid_{lang}"]:
                    pattern = re.escape(variant.translate(_FOLD))
                    if lang == "en":
                        pattern = rf"\b{pattern}\b"
                    for match in re.finditer(pattern, folded, flags=re.IGNORECASE):
                        start, end = max(0, match.start() - 20), match.end() + 20
                        clashes.append(
                            {
                                "source": name,
                                "term": entry["id"],
                                "use": entry[lang],
                                "found": variant,
                                "context": folded[start:end].replace("\n", " "),
                            }
                        )
    return clashes


def label_mismatches() -> list[str]:
    """Labels a term lists under ``labels`` whose text does not contain the term."""
    problems = []
    for entry in glossary():
        for key in entry["labels"]:
            for lang in ("zh", "en"):
                text = i18n.t(key, lang)
                if entry[lang].lower() not in text.lower():
                    problems.append(
                        f"{key} ({lang}) is {text!r}; the glossary says {entry[lang]!r}"
                    )
    return problems
