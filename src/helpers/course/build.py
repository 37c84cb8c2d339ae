"""Training-course edition: learner and solution notebooks built from the same sources.

Source notebooks (``notebooks/*.ipynb``) carry three kinds of course cells, by tag:

- ``exercise``: the scaffold a learner fills in (``answer = None  # TODO ...``);
- ``solution``: the worked answer; left out of the learner copy;
- ``check``: calls :func:`check` (or a domain check built on it), which tells the learner
  whether the answer is right and, if not, why, as a displayed message (never a traceback),
  so a learner's notebook keeps running.

In the source notebooks (and so in the monthly batch) the solution runs after the scaffold,
so every check passes; the management HTML drops all three kinds of cells.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jinja2
import yaml

from helpers import i18n
from helpers.course.glossary import COURSE_TEMPLATES_DIR, glossary_page
from helpers.files import write_text_atomic
from helpers.paths import CONFIG_DIR, COURSE_MARKER, NOTEBOOKS_DIR

COURSE_TAGS = ("exercise", "solution", "check")
LANG_TAGS = {"zh": "lang-zh", "en": "lang-en"}
#: "### 练习 01-3" / "### Exercise 01-3": the number every exercise heading shows, in the
#: words a check result uses for it (the catalogue's ``course_exercise``).
_WORDS = "|".join(
    re.escape(i18n.t("course_exercise", lang, id="").strip()) for lang in i18n.LANGUAGES
)
HEADING = re.compile(rf"^#{{2,4}}\s*(?:{_WORDS})\s+(\d\d-\d+)\s*$", re.MULTILINE)
_TITLE = re.compile(r"\*\*(.+?)\*\*")


# ----------------------------------------------------------------------------- building
def _cell_tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _set_parameter(source: str, name: str, value: str) -> str:
    """Replace the literal of ``name = ...`` in a parameters cell, keeping its comment."""
    pattern = re.compile(rf"^({re.escape(name)}\s*=\s*)([^#\n]*?)(\s*#.*)?$", re.MULTILINE)
    return pattern.sub(lambda m: f"{m.group(1)}{value}{m.group(3) or ''}", source, count=1)


def course_notebook(notebook, lang: str, edition: str):
    """Return the learner or solution edition of a source notebook in one language.

    Parameters
    ----------
    notebook : nbformat NotebookNode (left unchanged).
    lang : "zh" or "en": the other language's narrative cells are dropped and the ``lang``
        parameter's default is set.
    edition : "learner" (exercise scaffolds, no solutions) or "solution" (solutions, no
        scaffolds).
    """
    if edition not in {"learner", "solution"}:
        raise ValueError(f"edition must be 'learner' or 'solution', not {edition!r}")
    other = LANG_TAGS["en" if lang == "zh" else "zh"]
    dropped = "solution" if edition == "learner" else "exercise"
    result = copy.deepcopy(notebook)
    cells = []
    for cell in result.cells:
        tags = _cell_tags(cell)
        if other in tags or dropped in tags:
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            cell.metadata.pop("papermill", None)
            if "parameters" in tags:
                cell.source = _set_parameter(cell.source, "lang", repr(lang).replace("'", '"'))
        cells.append(cell)
    result.cells = cells
    result.metadata.pop("papermill", None)
    result.metadata.setdefault("fishpond", {})["course"] = {"lang": lang, "edition": edition}
    return result


def count_exercises(notebook) -> int:
    """Number of exercises (cells tagged ``exercise``) in a notebook."""
    return sum("exercise" in _cell_tags(cell) for cell in notebook.cells)


def course_units() -> list[dict]:
    """The course's units in order (``resources/config/course.yaml``): notebook, minutes, question."""
    with open(CONFIG_DIR / "course.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["units"]


def exercise_headings(notebook, lang: str) -> list[dict]:
    """The exercises a notebook shows in ``lang``, in order: ``id`` ("01-3") and ``title``."""
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown" or LANG_TAGS[lang] not in _cell_tags(cell):
            continue
        for match in HEADING.finditer(cell.source):
            title = _TITLE.search(cell.source[match.end() :])
            text = title.group(1).strip().rstrip("。.?？") if title else ""
            found.append({"id": match.group(1), "title": text})
    return found


def course_readme(lang: str, notebooks_dir: Path = NOTEBOOKS_DIR, out: str = "course") -> str:
    """The built course's README in ``lang``: order, timings, exercises, checks, solutions."""
    import nbformat  # lazily: see build_course

    units = []
    for unit in course_units():
        path = Path(notebooks_dir) / f"{unit['notebook']}.ipynb"
        notebook = nbformat.read(path, as_version=4) if path.exists() else None
        units.append(
            {
                "notebook": unit["notebook"],
                "minutes": unit["minutes"],
                "question": unit[lang],
                "exercises": exercise_headings(notebook, lang) if notebook else [],
            }
        )
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(COURSE_TEMPLATES_DIR),
        keep_trailing_newline=True,
        autoescape=False,  # markdown, not HTML; every value comes from our own YAML
    )
    hours = sum(unit["minutes"] for unit in units) / 60
    return environment.get_template(f"README.{lang}.md.j2").render(
        units=units,
        hours=f"{hours:g}",
        first=units[0]["notebook"],
        learner_path=f"{Path(out).as_posix()}/learner",
    )


def build_course(
    lang: str = "zh", out: str | Path = "course", notebooks_dir: Path = NOTEBOOKS_DIR
) -> list[Path]:
    """Write learner and solution notebooks for every source notebook, a README and a glossary.

    Layout: ``<out>/README.md``, ``<out>/glossary.md``, ``<out>/learner/<name>.ipynb`` and
    ``<out>/solution/<name>.ipynb``, and the marker ``<out>/.fishpond-course`` that keeps the
    learners' scratch files inside ``<out>`` (:func:`helpers.paths.scratch_dir`). The notebooks
    find the sample data and helpers on their own, so they run from any folder.
    """
    # nbformat (and its JSON-schema validator) costs over a second to import; every notebook
    # kernel imports helpers.course for its checks, only `fishpond course build` needs this.
    import nbformat

    i18n.check_lang(lang)
    out = Path(out)
    written: list[Path] = []
    for source in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(source, as_version=4)
        for edition in ("learner", "solution"):
            target = out / edition / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".ipynb.tmp")
            nbformat.write(course_notebook(notebook, lang, edition), temporary)
            temporary.replace(target)
            written.append(target)
    marker = {"lang": lang, "note": "built by fishpond course build; scratch files stay here"}
    for name, text in (
        ("README.md", course_readme(lang, notebooks_dir, str(out))),
        ("glossary.md", glossary_page(lang)),
        (COURSE_MARKER, json.dumps(marker, ensure_ascii=False) + "\n"),
    ):
        write_text_atomic(out / name, text).chmod(0o644)  # readable like the notebooks
    return written


def cli_course_build(args) -> int:
    """``fishpond course build --lang zh|en --out DIR``."""
    written = build_course(lang=args.lang, out=args.out)
    if not written:  # an empty course is a failed build, not a success
        print(f"course ({args.lang}): no notebooks found to build; nothing written to {args.out}")
        return 1
    learners = [p for p in written if p.parent.name == "learner"]
    message = i18n.t(
        "course_built",
        args.lang,
        language=args.lang,
        learner=len(learners),
        solution=len(written) - len(learners),
        out=args.out,
        readme=Path(args.out) / "README.md",
    )
    print(message)
    return 0
