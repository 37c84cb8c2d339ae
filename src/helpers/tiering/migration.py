"""Tier migration (层级迁移) and the AUM bridge (资产余额桥). Part of :mod:`helpers.tiering`.

Input: two tier snapshots (:func:`helpers.tiering.tier_snapshot`) of the same ladder. Output:
who moved up, down, joined or left; transition matrices in customers, row rates and AUM; an
AUM bridge whose steps add up exactly (integer fen); an RM watch list of downgrades.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.formatting import skippable

#: Order of the movement categories in migration tables.
MOVEMENTS: tuple[str, ...] = ("stay", "up", "down", "new", "churned")

#: Steps of the AUM bridge, in waterfall order.
BRIDGE_STEPS: tuple[str, ...] = ("start", "new", "up", "down", "stay", "churned", "end")

NEW_ROW = "new"
CHURNED_COLUMN = "churned"

# --------------------------------------------------------------------------------------------
# Migration
# --------------------------------------------------------------------------------------------


def tier_migration(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Compare two tier snapshots customer by customer.

    Parameters
    ----------
    before, after : DataFrame
        Snapshots with ``customer_id``, ``tier`` (ordered Categorical on the same ladder) and
        ``aum`` (month-end AUM), e.g. from :func:`tier_snapshot` for two months.

    Returns
    -------
    DataFrame
        One row per customer in either snapshot, sorted by ``customer_id``: ``tier_before``,
        ``tier_after``, ``aum_before``, ``aum_after`` (missing when not on the book that
        month), ``movement`` in ``stay`` / ``up`` / ``down`` (tier rose / fell on the ladder) /
        ``new`` (only in ``after``) / ``churned`` (only in ``before``), and ``steps`` (tiers
        moved, signed; 0 for new and churned).
    """
    for label, snapshot in (("before", before), ("after", after)):
        missing = {"customer_id", "tier", "aum"} - set(snapshot.columns)
        if missing:
            raise ValueError(f"the '{label}' snapshot lacks column(s) {sorted(missing)}")
        duplicated = snapshot["customer_id"].duplicated()
        if duplicated.any():
            raise ValueError(
                f"the '{label}' snapshot has {int(duplicated.sum())} duplicated customer_id "
                f"values, e.g. {snapshot.loc[duplicated, 'customer_id'].head(3).tolist()}"
            )
    before_tier, after_tier = before["tier"], after["tier"]
    if not (
        isinstance(before_tier.dtype, pd.CategoricalDtype)
        and before_tier.dtype == after_tier.dtype
        and before_tier.dtype.ordered
    ):
        raise ValueError(
            "both snapshots need 'tier' as an ordered Categorical on the same ladder "
            "(use assign_tiers with one ladder for both months)"
        )
    merged = pd.merge(
        before[["customer_id", "tier", "aum"]],
        after[["customer_id", "tier", "aum"]],
        on="customer_id",
        how="outer",
        suffixes=("_before", "_after"),
        indicator=True,
    )
    merged = merged.sort_values("customer_id", kind="stable").reset_index(drop=True)
    dtype = before_tier.dtype
    merged["tier_before"] = merged["tier_before"].astype(dtype)
    merged["tier_after"] = merged["tier_after"].astype(dtype)
    code_before = merged["tier_before"].cat.codes.to_numpy()
    code_after = merged["tier_after"].cat.codes.to_numpy()
    side = merged.pop("_merge").astype(str).to_numpy()
    movement = np.select(
        [
            side == "right_only",
            side == "left_only",
            code_after > code_before,
            code_after < code_before,
        ],
        ["new", "churned", "up", "down"],
        default="stay",
    )
    merged["movement"] = pd.Categorical(movement, categories=list(MOVEMENTS))
    merged["steps"] = np.where(np.isin(side, ["both"]), code_after - code_before, 0)
    return merged[
        ["customer_id", "tier_before", "tier_after", "aum_before", "aum_after", "movement", "steps"]
    ]


@skippable
def transition_matrix(migration: pd.DataFrame, measure: str = "customers") -> pd.DataFrame:
    """Tier transition matrix: rows = tier before (+ ``new``), columns = tier after (+ ``churned``).

    Parameters
    ----------
    migration : DataFrame
        From :func:`tier_migration`.
    measure : {"customers", "rate", "aum_before", "aum_after"}
        Customer counts; counts divided by their row total (each row sums to 1, the share of
        the tier's customers that went to each tier or left); or the AUM of the customers in
        each cell, before or after the move.

    Returns
    -------
    DataFrame
        Square-ish table indexed by tier codes plus ``new``, columns tier codes plus
        ``churned``. Rows of tiers with no customers have NaN rates.
    """
    measures = {"customers", "rate", "aum_before", "aum_after"}
    if measure not in measures:
        raise ValueError(f"measure must be one of {sorted(measures)}, not {measure!r}")
    tiers = list(migration["tier_before"].cat.categories)
    rows = migration["tier_before"].astype(object).where(migration["tier_before"].notna(), NEW_ROW)
    columns = (
        migration["tier_after"]
        .astype(object)
        .where(migration["tier_after"].notna(), CHURNED_COLUMN)
    )
    if measure in {"customers", "rate"}:
        values = pd.Series(1, index=migration.index)
    else:
        values = migration[measure].fillna(0.0)
    table = (
        pd.DataFrame({"row": rows, "column": columns, "value": values})
        .groupby(["row", "column"])["value"]
        .sum()
        .unstack(fill_value=0)
        .reindex(index=tiers + [NEW_ROW], columns=tiers + [CHURNED_COLUMN], fill_value=0)
    )
    if measure == "rate":
        totals = table.sum(axis=1).replace(0, np.nan)
        table = table.div(totals, axis=0)
    table.index.name = "tier_before"
    table.columns.name = "tier_after"
    return table


@skippable
def migration_summary(migration: pd.DataFrame) -> pd.DataFrame:
    """Customers and AUM by movement (stay, up, down, new, churned).

    Returns
    -------
    DataFrame
        ``movement``, ``customers``, ``share`` (of customers on the book at the start, so new
        customers are a share of the starting book too), ``aum_before``, ``aum_after``,
        ``aum_change``.
    """
    grouped = migration.groupby("movement", observed=False).agg(
        customers=("customer_id", "size"),
        aum_before=("aum_before", lambda column: column.fillna(0).sum()),
        aum_after=("aum_after", lambda column: column.fillna(0).sum()),
    )
    grouped = grouped.reindex(list(MOVEMENTS), fill_value=0)
    start_book = int(migration["tier_before"].notna().sum())
    grouped.insert(1, "share", grouped["customers"] / start_book if start_book else np.nan)
    grouped["aum_change"] = grouped["aum_after"] - grouped["aum_before"]
    grouped["customers"] = grouped["customers"].astype("int64")
    return grouped.rename_axis("movement").reset_index()


def _to_fen(amounts: pd.Series) -> np.ndarray:
    """RMB -> integer fen, rounding half away from zero (bank rounding); missing -> 0."""
    values = amounts.fillna(0.0).to_numpy(dtype=float)
    return (np.sign(values) * np.floor(np.abs(values) * 100 + 0.5)).astype(np.int64)


@skippable
def aum_bridge(migration: pd.DataFrame) -> pd.DataFrame:
    """AUM bridge (waterfall) from the ``before`` month to the ``after`` month.

    Steps, each defined so that they add up exactly:

    - ``start``: book AUM before (sum of ``aum_before``);
    - ``new``: + AUM after of customers new to the book;
    - ``up``: + (after - before) of customers who moved up a tier;
    - ``down``: + (after - before) of customers who moved down (usually negative);
    - ``stay``: + (after - before) of customers who kept their tier (organic change);
    - ``churned``: - AUM before of customers who left the book;
    - ``end``: book AUM after.

    ``start + new + up + down + stay + churned == end`` holds exactly because every amount is
    first rounded to integer fen per customer and the sums are integer sums.

    Returns
    -------
    DataFrame
        ``step``, ``customers``, ``amount`` (RMB), ``amount_fen`` (int64), ``kind``
        (``total`` for start/end, ``change`` otherwise).
    """
    before = _to_fen(migration["aum_before"])
    after = _to_fen(migration["aum_after"])
    movement = migration["movement"].astype(str).to_numpy()
    change = after - before
    amounts = {
        "start": int(before.sum()),
        "new": int(after[movement == "new"].sum()),
        "up": int(change[movement == "up"].sum()),
        "down": int(change[movement == "down"].sum()),
        "stay": int(change[movement == "stay"].sum()),
        "churned": -int(before[movement == "churned"].sum()),
        "end": int(after.sum()),
    }
    steps_total = sum(amounts[step] for step in BRIDGE_STEPS[:-1])
    if steps_total != amounts["end"]:  # cannot happen with integer sums; guards future edits
        raise AssertionError(f"AUM bridge does not add up: {steps_total} != {amounts['end']} fen")
    counts = {
        "start": int(migration["tier_before"].notna().sum()),
        "end": int(migration["tier_after"].notna().sum()),
    }
    for step in ("new", "up", "down", "stay", "churned"):
        counts[step] = int((movement == step).sum())
    bridge = pd.DataFrame(
        {
            "step": list(BRIDGE_STEPS),
            "customers": [counts[step] for step in BRIDGE_STEPS],
            "amount_fen": np.array([amounts[step] for step in BRIDGE_STEPS], dtype=np.int64),
        }
    )
    bridge["amount"] = bridge["amount_fen"] / 100.0
    bridge["kind"] = np.where(bridge["step"].isin(["start", "end"]), "total", "change")
    return bridge[["step", "customers", "amount", "amount_fen", "kind"]]


def downgrade_watch_list(
    migration: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    *,
    min_aum_loss: float = 0.0,
) -> pd.DataFrame:
    """Customers whose tier fell, grouped by RM, biggest AUM loss first (for RM follow-up).

    Parameters
    ----------
    migration : DataFrame
        From :func:`tier_migration`.
    customers : DataFrame, optional
        Customer attributes to attach (``rm_id``, ``branch_id``, ``name``, ``mobile`` where
        present). Mask PII before display (``helpers.privacy``); ``ctx.save_list`` masks.
    min_aum_loss : float
        Keep only customers who lost at least this much AUM (RMB).

    Returns
    -------
    DataFrame
        ``rm_id``, ``branch_id``, ``customer_id``, ``name``, ``mobile`` (those present),
        ``tier_before``, ``tier_after``, ``steps``, ``aum_before``, ``aum_after``,
        ``aum_change``; sorted by ``rm_id`` (customers without an RM last), then ``aum_change``.
    """
    fallen = migration[migration["movement"].astype(str) == "down"].copy()
    fallen["aum_change"] = fallen["aum_after"] - fallen["aum_before"]
    fallen = fallen[-fallen["aum_change"] >= min_aum_loss]
    attributes = ["rm_id", "branch_id", "name", "mobile"]
    if customers is not None:
        present = [column for column in attributes if column in customers]
        extra = customers[["customer_id", *present]].drop_duplicates("customer_id")
        fallen = fallen.merge(extra, on="customer_id", how="left")
    present = [column for column in attributes if column in fallen]
    columns = present[:2] + ["customer_id"] + present[2:]
    columns += ["tier_before", "tier_after", "steps", "aum_before", "aum_after", "aum_change"]
    sort_keys = (["rm_id"] if "rm_id" in fallen else []) + ["aum_change", "customer_id"]
    fallen = fallen.sort_values(sort_keys, na_position="last", kind="stable")
    return fallen[columns].reset_index(drop=True)


def window_migration_counts(
    snapshots: Sequence[pd.DataFrame],
    months: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Month-by-month movement counts across consecutive snapshots (a trend of up/down/new/churned).

    Vectorised over all months at once (ids factorised once, one integer sort), so a 12-month
    window at a million customers costs about as much as a single migration.

    Parameters
    ----------
    snapshots : sequence of DataFrame
        Tier snapshots (``customer_id``, ``tier`` on one ladder), oldest first; each pair of
        neighbours is compared as :func:`tier_migration` would.
    months : sequence of str, optional
        Labels of the snapshots; default each snapshot's ``month`` column.

    Returns
    -------
    DataFrame
        One row per snapshot after the first: ``month`` and the customer count of each
        movement (``stay``, ``up``, ``down``, ``new``, ``churned``).
    """
    if months is None:
        months = [frame["month"].iloc[0] if len(frame) else None for frame in snapshots]
    if len(snapshots) < 2:
        return pd.DataFrame(columns=["month", *MOVEMENTS])
    positions = np.concatenate(
        [np.full(len(frame), index) for index, frame in enumerate(snapshots)]
    )
    ids = pd.concat([frame["customer_id"] for frame in snapshots], ignore_index=True)
    codes = np.concatenate([frame["tier"].cat.codes.to_numpy() for frame in snapshots])
    customer, _ = pd.factorize(ids)
    order = np.lexsort((positions, customer))
    customer, positions, codes = customer[order], positions[order], codes[order]
    same_customer = customer[1:] == customer[:-1]
    consecutive = same_customer & (positions[1:] == positions[:-1] + 1)
    # for each row: did the customer have a row in the previous snapshot, and in the next one?
    has_previous = np.concatenate([[False], consecutive])
    has_next = np.concatenate([consecutive, [False]])
    step = np.concatenate([[0], codes[1:].astype(int) - codes[:-1].astype(int)])
    periods = len(snapshots)
    later = positions > 0
    counts = {
        "stay": np.bincount(positions[later & has_previous & (step == 0)], minlength=periods),
        "up": np.bincount(positions[later & has_previous & (step > 0)], minlength=periods),
        "down": np.bincount(positions[later & has_previous & (step < 0)], minlength=periods),
        "new": np.bincount(positions[later & ~has_previous], minlength=periods),
        # a row without a successor in the next snapshot left before that snapshot
        "churned": np.bincount(
            positions[(positions < periods - 1) & ~has_next] + 1, minlength=periods
        ),
    }
    table = pd.DataFrame({movement: counts[movement][1:] for movement in MOVEMENTS})
    table.insert(0, "month", list(months)[1:])
    return table.astype({movement: "int64" for movement in MOVEMENTS})
