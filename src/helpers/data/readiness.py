"""Which notebooks a dataset can feed: will run, reduced, or not applicable, in words.

Each notebook declares in its metadata the data roles it needs (``fishpond.requires``: without
one it is "not applicable"), the roles that, when missing, only reduce it
(``fishpond.optional``), and what it leaves out without each of those (``fishpond.left_out``,
role -> words). :func:`readiness` compares them with :meth:`Dataset.roles` and says
what is missing in the user's words: table names in panel mode, spec keys in flat mode, never
internal role names alone. ``fishpond validate`` prints it before a run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from helpers import paths
from helpers.parameters import declared_defaults

STATUSES = ("run", "reduced", "not_applicable")

_PANEL_WORDS = {
    "customers": "the customers table",
    "balances_history": "the monthly_balances table",
    "transactions": "the transactions table",
    "holdings": "the holdings table",
    "contacts": "the contacts table (RM touchpoints)",
    "campaigns": "the campaigns table",
    "duration": "tenure (customers.open_date with monthly_balances)",
    "event": "churn (customers.close_date with monthly_balances)",
    "value": "balances (monthly_balances)",
    "tier": "balances to tier on (monthly_balances)",
    "products": "product holdings (the holdings table)",
    "treatment": "campaign groups (the campaigns table)",
    "outcome": "campaign results (the campaigns table)",
}
_FLAT_WORDS = {
    "customers": "a customer table",
    "balances_history": "monthly history (a flat table is one row per customer)",
    "transactions": "a transactions table (flat data has none)",
    "holdings": "product flags (roles.products)",
    "contacts": "RM contacts (flat data has none)",
    "campaigns": "a campaign (roles.treatment and roles.outcome)",
    "duration": "a tenure column (roles.duration)",
    "event": "a churn flag (roles.event)",
    "value": "a balance or AUM column (roles.value)",
    "tier": "a tier column (roles.tier)",
    "products": "product flags (roles.products)",
    "treatment": "campaign groups (roles.treatment)",
    "outcome": "campaign results (roles.outcome)",
}
#: What a notebook leaves out when an optional role is missing.
_LEFT_OUT = {
    "balances_history": "month-by-month views (trends, tier migration, time-varying models)",
    "transactions": "recency from individual transactions",
    "holdings": "product holdings",
    "contacts": "RM contact features",
    "campaigns": "the last campaign's evaluation",
    "duration": "tenure figures",
    "event": "churn figures",
    "value": "balance figures (AUM totals, value tiers, AUM at risk, value weighting)",
    "tier": "tier labels",
    "products": "product figures (penetration, product features)",
    "treatment": "the last campaign's evaluation (it plans the next campaign instead)",
    "outcome": "the last campaign's evaluation (it plans the next campaign instead)",
}


def role_words(role: str, mode: str) -> str:
    """A role in the user's words (``"a churn flag (roles.event)"``); ``a|b`` means either."""
    words = _FLAT_WORDS if mode == "flat" else _PANEL_WORDS
    return " or ".join(words.get(part, part) for part in role.split("|"))


def notebook_roles(path: str | Path) -> tuple[list[str], list[str], dict[str, str]]:
    """``(requires, optional, left_out)`` from a notebook's ``metadata.fishpond``.

    ``left_out`` maps an optional role to what that notebook leaves out without it (in
    words); roles it does not list get a generic description.
    """
    metadata = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    fishpond = metadata.get("fishpond", {})
    return (
        [str(r) for r in fishpond.get("requires", [])],
        [str(r) for r in fishpond.get("optional", [])],
        {str(k): str(v) for k, v in (fishpond.get("left_out") or {}).items()},
    )


def _has(role: str, roles: set[str]) -> bool:
    return any(part in roles for part in role.split("|"))


def _join(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def readiness(ds, notebooks_dir: str | Path | None = None, params: dict | None = None):
    """For each notebook: will it run on this dataset, run reduced, or not apply?

    Parameters
    ----------
    ds : helpers.data.Dataset
    notebooks_dir : str or Path, optional
        Folder of the pack's notebooks; default ``notebooks/``.
    params : dict, optional
        Pack parameters the run will use (e.g. ``{"churn_horizon_months": 6}``); otherwise
        each notebook's own defaults. A churn horizon finer than the tenure data can show
        adds a warning to the notebooks that take it.

    Returns
    -------
    DataFrame
        ``notebook``, ``status`` (``run``, ``reduced`` or ``not_applicable``), ``detail`` (what
        is missing and what is left out, in words).
    """
    folder = Path(notebooks_dir) if notebooks_dir is not None else paths.NOTEBOOKS_DIR
    roles = set(ds.roles())
    rows = []
    for path in sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith(".")):
        requires, optional, words = notebook_roles(path)
        missing = [r for r in requires if not _has(r, roles)]
        lacking = [r for r in optional if not _has(r, roles) and r not in missing]
        if missing:
            status = "not_applicable"
            detail = "not applicable: needs " + _join([role_words(r, ds.mode) for r in missing])
        elif lacking:
            status = "reduced"
            without = _join([role_words(r, ds.mode) for r in lacking])
            left_out = _join([words.get(r) or _LEFT_OUT.get(r.split("|")[0], r) for r in lacking])
            detail = f"reduced: without {without}, it leaves out {left_out}"
        else:
            status, detail = "run", "will run"
        warning = _horizon_warning(ds, path, params or {})
        if warning and status != "not_applicable":
            detail += f"; warning: {warning}"
        rows.append({"notebook": path.stem, "status": status, "detail": detail})
    return pd.DataFrame(rows, columns=["notebook", "status", "detail"])


def _horizon_warning(ds, path: Path, params: dict) -> str | None:
    try:
        defaults = declared_defaults(path)
    except (ValueError, OSError):  # an unreadable notebook fails on its own in the run
        return None
    if "churn_horizon_months" not in defaults:
        return None
    horizon = params.get("churn_horizon_months", defaults["churn_horizon_months"])
    try:
        return ds.horizon_warning(float(horizon))
    except (TypeError, ValueError, KeyError):
        return None
