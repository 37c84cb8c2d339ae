"""The notebooks of a pack: which run, in what order, with which parameters.

Order: a notebook that reads another's artifacts declares it in ``metadata.fishpond.upstream``
and runs after it; the summary runs last. Applicability: ``metadata.fishpond.requires`` lists
the data roles a notebook needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import yaml

from helpers import paths
from helpers.parameters import declared_parameters, registry

#: The notebook that reads the other notebooks' artifacts: run last, listed first.
SUMMARY_NOTEBOOK = "05_monthly_summary"


# --------------------------------------------------------------------------------------------
# Notebook discovery, parameters and applicability
# --------------------------------------------------------------------------------------------


def discover_notebooks(notebooks_dir: str | Path | None = None, only=None) -> list[Path]:
    """List the notebooks to run, in name order, with the summary notebook last.

    Parameters
    ----------
    notebooks_dir : str or Path, optional
        Folder of ``*.ipynb``; default ``notebooks/``.
    only : list of str, optional
        Keep notebooks whose name equals an entry (with or without ``.ipynb``) or starts with
        it (``"01"`` selects ``01_tiering``).

    Raises
    ------
    ValueError
        When ``only`` names something that matches no notebook.
    """
    folder = Path(notebooks_dir or paths.NOTEBOOKS_DIR)
    found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if only:
        wanted = [str(name).removesuffix(".ipynb") for name in only]
        unmatched = [w for w in wanted if not any(p.stem.startswith(w) for p in found)]
        if unmatched:
            available = ", ".join(p.stem for p in found) or "(none)"
            raise ValueError(
                f"--only {' '.join(unmatched)}: no such notebook in {folder}. "
                f"Available: {available}"
            )
        found = [p for p in found if any(p.stem.startswith(w) for w in wanted)]
    # The summary reads the other notebooks' artifacts, so it runs after all of them.
    return sorted(found, key=lambda p: (p.stem == SUMMARY_NOTEBOOK, p.name))


def notebook_requirements(notebook_path: str | Path) -> list[str]:
    """Return the data roles a notebook declares in ``metadata.fishpond.requires``."""
    notebook = nbformat.read(notebook_path, as_version=4)
    requires = notebook.metadata.get("fishpond", {}).get("requires", [])
    return [str(role) for role in requires]


def missing_roles(requires: list[str], roles: set[str]) -> list[str]:
    """The requirements the dataset's ``roles`` do not meet; ``"value|tier"`` is met by either."""
    return sorted(role for role in set(requires) if not set(role.split("|")) & set(roles))


def notebook_upstream(notebook_path: str | Path) -> list[str]:
    """Notebooks whose artifacts this one reads (``metadata.fishpond.upstream``)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    upstream = notebook.metadata.get("fishpond", {}).get("upstream", [])
    return [str(name) for name in upstream]


def notebook_weight(notebook_path: str | Path) -> float:
    """How long a notebook runs relative to the others (``metadata.fishpond.weight``; 1 if unset).

    The weights are run times measured at a million customers (benchmarks/results/pack.md);
    only their ratios matter. An unreadable or non-positive weight counts as 1.
    """
    try:
        notebook = nbformat.read(notebook_path, as_version=4)
        weight = float(notebook.metadata.get("fishpond", {}).get("weight", 1.0))
    except Exception:  # an unreadable notebook fails on its own when the runner reaches it
        return 1.0
    return weight if weight > 0 else 1.0


def start_priorities(weights: dict[str, float], upstream: dict[str, list[str]]) -> dict[str, float]:
    """The longest chain of work that still waits on each notebook (its weight included).

    With several workers the runner starts, among the notebooks whose upstream has finished,
    the one with the longest chain first (critical-path scheduling): at a million customers
    ``02 -> 04`` is the longest chain, so 02 starts at once and the short notebooks fill the
    gaps, instead of running in name order and leaving a core idle while 04 waits for 02.
    Upstream names outside ``weights`` are ignored.
    """
    downstream: dict[str, list[str]] = {name: [] for name in weights}
    for name, ups in upstream.items():
        for up in ups:
            if up in downstream and name in weights:
                downstream[up].append(name)
    priority: dict[str, float] = {}

    def chain(name: str, seen: tuple[str, ...] = ()) -> float:
        if name not in priority:
            if name in seen:
                raise ValueError(f"notebooks' upstream declarations form a cycle at {name}")
            after = [chain(d, (*seen, name)) for d in downstream[name]]
            priority[name] = weights[name] + max(after, default=0.0)
        return priority[name]

    for name in weights:
        chain(name)
    return priority


def _declared_or_none(path: Path) -> set[str]:
    try:
        return set(declared_parameters(path))
    except Exception:  # an unreadable notebook fails on its own when the runner reaches it
        return set()


def _upstream_or_none(path: Path) -> list[str]:
    try:
        return notebook_upstream(path)
    except Exception:  # an unreadable notebook fails on its own when the runner reaches it
        return []


def run_order(notebooks: list[Path]) -> list[Path]:
    """Notebooks in an order where each comes after the upstream notebooks it reads.

    Ties keep name order. An upstream that is not part of this run is ignored (the reader
    then computes what it needs itself and says so).

    Raises
    ------
    ValueError
        When the upstream declarations form a cycle.
    """
    by_name = {path.stem: path for path in notebooks}
    needs = {
        name: [u for u in _upstream_or_none(path) if u in by_name] for name, path in by_name.items()
    }
    ordered: list[str] = []
    while len(ordered) < len(by_name):
        ready = [
            n for n in sorted(by_name) if n not in ordered and all(u in ordered for u in needs[n])
        ]
        if not ready:
            stuck = sorted(set(by_name) - set(ordered))
            raise ValueError(f"notebooks' upstream declarations form a cycle among {stuck}")
        ordered.append(ready[0])
    return [by_name[name] for name in ordered]


def load_extra_parameters(params_file: str | Path | dict | None) -> dict[str, dict[str, Any]]:
    """Read ``--params``: a ``common:`` block and one block per notebook.

    ::

        common:                        # pack-level values, the same in every notebook
          tier_thresholds: [50000, 500000, 6000000]
          churn_horizon_months: 6
        02_lifecycle_survival:         # that notebook's own knobs
          warning_list_per_rm: 20

    Returns ``{"common": {...}, "<notebook>": {...}}``. The YAML is read with a safe loader.

    Raises
    ------
    ValueError
        When the file is missing, is not valid YAML, or is not a mapping of blocks.
    """
    if not params_file:
        return {}
    if isinstance(params_file, dict):
        data = params_file
        where = "--params"
    else:
        path = Path(params_file)
        where = f"--params {path}"
        if not path.is_file():
            raise ValueError(f"--params: file not found: {path}")
        try:
            with path.open(encoding="utf-8") as handle:
                data = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise ValueError(
                f"{where} is not valid YAML{at}: {getattr(error, 'problem', None) or error}. "
                "Write plain values only (numbers, text, lists, mappings)"
            ) from None
        except UnicodeDecodeError:
            raise ValueError(f"{where} is not UTF-8 text") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ValueError(
            f"{where}: expected a YAML mapping with a 'common:' block and notebook blocks, "
            f"got {type(data).__name__}"
        )
    bad = [k for k, v in data.items() if not isinstance(v, dict)]
    if bad:
        raise ValueError(
            f"{where}: {', '.join(bad)} must be a block of 'name: value' lines under 'common:' "
            "or under a notebook's name (e.g. '02_lifecycle_survival:')"
        )
    return {key: dict(value) for key, value in data.items()}


def check_extra_parameters(extras: dict[str, dict[str, Any]], notebooks: list[Path]) -> list[str]:
    """Every problem with ``--params`` blocks against the registry and the notebooks.

    Core parameters (dataset, month, lang, artifacts_dir) belong to the runner; pack-level ones
    go under ``common:``; a notebook's own ones under its name, and only if it declares them.
    Values are type-checked against the registry. Returns the problems as sentences.
    """
    from difflib import get_close_matches

    known = registry()
    if not extras:
        return []
    declared = {path.stem: _declared_or_none(path) for path in notebooks}
    problems: list[str] = []
    for block, values in extras.items():
        if block != "common" and block not in declared:
            close = get_close_matches(block, ["common", *declared], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(
                f"--params: unknown block {block!r}{hint}; blocks are 'common' and the notebook "
                f"names {', '.join(sorted(declared))}"
            )
            continue
        for name, value in values.items():
            where = f"--params {block}.{name}"
            entry = known.get(name)
            if entry is None:
                close = get_close_matches(name, list(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(f"{where}: no such parameter{hint}")
                continue
            if entry.scope == "core":
                problems.append(
                    f"{where}: {name} is set by the runner itself; use the command-line option "
                    f"(--{name.replace('_', '-')}) instead"
                    if name != "artifacts_dir"
                    else f"{where}: artifacts_dir is set by the runner itself (use --out)"
                )
                continue
            if block == "common" and entry.scope != "pack":
                owners = sorted(n for n, names in declared.items() if name in names)
                problems.append(
                    f"{where}: {name} is one notebook's own parameter; put it under "
                    f"{' or '.join(owners) or 'its notebook'}:"
                )
                continue
            if block != "common" and entry.scope == "pack":
                problems.append(
                    f"{where}: {name} is set once for the whole pack; put it under common:"
                )
                continue
            if block != "common" and name not in declared[block]:
                problems.append(f"{where}: notebook {block} takes no parameter {name}")
                continue
            problem = entry.problem(value)
            if problem:
                problems.append(f"{where}: {problem}")
    return problems


def notebook_parameters(
    notebook_path: Path, core: dict[str, Any], extras: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Core parameters, the ``common:`` values this notebook declares, and its own block.

    Pack-level values reach only the notebooks that declare them, so one file serves all
    notebooks without Papermill warning about unknown parameters.
    """
    declared = set(declared_parameters(notebook_path))
    chosen = dict(core)
    own = {**extras.get("common", {}), **extras.get(Path(notebook_path).stem, {})}
    chosen.update({name: value for name, value in own.items() if name in declared})
    return chosen
