"""Flat mode: one customer table + the spec's roles -> the canonical flat frame.

Roles (docs/architecture.md §2, ``data/sample/flat/dataset.yaml``): id, duration (+ unit),
event, value, tier, products, treatment, outcome, features. Boolean roles take a list of
values meaning True or a numeric condition such as ``"> 0"``; when the spec also lists the
values meaning False, anything else is reported as "value outside the mapping" with its rows.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from helpers.data.convert import (
    DAYS_PER_MONTH,
    _numbers,
    _text,
    _wrong_type_problem,
    convert_column,
)
from helpers.data.problems import Problem
from helpers.data.spec import FLAT_TABLE, DatasetSpecError, TableSpec


def snake_case(name: str) -> str:
    """``"Credit Limit"`` -> ``"credit_limit"`` (for feature columns listed without a name)."""
    text = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return text or "feature"


_CONDITION = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.]+)\s*$")


def _mapping_mask(raw: pd.Series, mapping, options: dict) -> tuple[pd.Series, pd.Series | None]:
    """Values meaning True: a list of values, or a numeric condition like ``"> 0"``.

    Returns the boolean mask and, for a numeric condition, the rows that were not numbers.
    """
    if isinstance(mapping, str) and _CONDITION.match(mapping):
        operator, number = _CONDITION.match(mapping).groups()
        values = _numbers(raw, options)
        threshold = float(number)
        compare = {
            ">": values.gt, ">=": values.ge, "<": values.lt, "<=": values.le,
            "==": values.eq, "!=": values.ne,
        }[operator]  # fmt: skip
        not_numbers = raw.notna() & values.isna()
        return compare(threshold).fillna(False).astype(bool), not_numbers
    if not isinstance(mapping, list | tuple):
        mapping = [mapping]
    wanted = {str(v).strip() for v in mapping}
    text = raw.astype("string").str.strip()
    return text.isin(wanted).fillna(False).astype(bool), None


def _flag(
    raw: pd.Series,
    role: str,
    column_name: str,
    positive,
    negative,
    options: dict,
    problems: list[Problem],
    *,
    nullable: bool,
    positive_word: str,
) -> pd.Series:
    """A boolean role column (event, product held, outcome) from its value mapping."""
    mask, not_numbers = _mapping_mask(raw, positive, options)
    present = raw.notna() & (raw.astype("string").str.strip() != "").fillna(False)
    result = pd.Series(mask, index=raw.index, dtype="boolean")
    result[~present] = pd.NA
    outside = pd.Series(False, index=raw.index)
    if not_numbers is not None:
        outside |= not_numbers
    if negative is not None:
        negative_mask, _ = _mapping_mask(raw, negative, options)
        outside |= present & ~mask & ~negative_mask
    if outside.any():
        listed = f"{positive!r}" + (f" or {negative!r}" if negative is not None else "")
        problems.append(
            Problem(
                FLAT_TABLE,
                role,
                "value outside the mapping",
                f"{column_name} values {listed} (spec roles.{role.split('_')[0]})",
                rows=(np.flatnonzero(outside.to_numpy()) + 1).tolist(),
                values=raw[outside].head(10).tolist(),
            )
        )
        result[outside] = pd.NA
    if not nullable and (~present).any():
        problems.append(
            Problem(
                FLAT_TABLE,
                role,
                "missing value",
                f"{column_name} filled in every row ({positive_word})",
                rows=(np.flatnonzero((~present).to_numpy()) + 1).tolist(),
            )
        )
    if not nullable and result.notna().all():
        return result.astype(bool)
    return result


def _role_column(roles: dict, role: str) -> tuple[str | None, dict]:
    value = roles.get(role)
    if value is None:
        return None, {}
    if isinstance(value, dict):
        if "column" not in value:
            raise DatasetSpecError(f"roles.{role}: needs 'column:'")
        return str(value["column"]), value
    return str(value), {}


def build_flat(
    raw: pd.DataFrame,
    table: TableSpec,
    roles: dict,
    problems: list[Problem],
    notices: list[str],
) -> pd.DataFrame:
    """Turn one raw customer table into the canonical flat frame using the spec's roles."""
    raw = raw.reset_index(drop=True)
    options = table.options
    out: dict[str, pd.Series] = {}

    def source(role: str, column: str) -> pd.Series | None:
        if column not in raw.columns:
            listed = ", ".join(str(c) for c in raw.columns[:20])
            problems.append(
                Problem(
                    FLAT_TABLE,
                    role,
                    "spec maps to a nonexistent column",
                    f"a column {column!r} in {table.path.name} (roles.{role}); columns found: {listed}",
                )
            )
            return None
        return raw[column]

    def number(role: str, column: str, target: str) -> pd.Series | None:
        values = source(role, column)
        if values is None:
            return None
        converted, failed = convert_column(values, "float", options)
        if failed.any():
            problems.append(_wrong_type_problem(FLAT_TABLE, target, "float", values, failed))
        return converted

    id_column, _ = _role_column(roles, "id")
    if id_column is None:
        out["customer_id"] = pd.Series(
            [f"row_{i:06d}" for i in range(1, len(raw) + 1)], index=raw.index, dtype=object
        )
        notices.append(
            "flat: the spec maps no id column, so customer ids were generated from row order "
            "(row_000001 = first data row)"
        )
    else:
        values = source("id", id_column)
        if values is not None:
            out["customer_id"], _ = convert_column(values, "id", options)

    duration_column, _ = _role_column(roles, "duration")
    if duration_column is not None:
        duration = number("duration", duration_column, "duration_months")
        if duration is not None:
            unit = roles.get("duration_unit", "months")
            factor = {"days": 1 / DAYS_PER_MONTH, "months": 1.0, "years": 12.0}[unit]
            out["duration_months"] = duration * factor

    event_column, event = _role_column(roles, "event")
    if event_column is not None:
        values = source("event", event_column)
        if values is not None:
            if "churned" not in event:
                raise DatasetSpecError(
                    "roles.event: needs 'churned:' (values meaning churned, or a condition like '> 0')"
                )
            out["event"] = _flag(
                values, "event", event_column, event["churned"], event.get("not_churned"),
                options, problems, nullable=False, positive_word="churned or not",
            )  # fmt: skip

    value_column, _ = _role_column(roles, "value")
    if value_column is not None:
        value = number("value", value_column, "value")
        if value is not None:
            out["value"] = value

    tier_column, tier = _role_column(roles, "tier")
    if tier_column is not None:
        values = source("tier", tier_column)
        if values is not None:
            text = _text(values).astype(object)
            mapping = tier.get("map")
            if mapping:
                mapped = text.map({str(k): str(v) for k, v in mapping.items()})
                unmapped = text.notna() & mapped.isna()
                if unmapped.any():
                    problems.append(
                        Problem(
                            FLAT_TABLE, "tier", "value outside the mapping",
                            f"{tier_column} values {sorted(map(str, mapping))} (roles.tier.map)",
                            rows=(np.flatnonzero(unmapped.to_numpy()) + 1).tolist(),
                            values=values[unmapped].head(10).tolist(),
                        )
                    )  # fmt: skip
                text = mapped
            out["tier"] = text.where(text.notna(), None)

    products = roles.get("products") or {}
    if not isinstance(products, dict):
        raise DatasetSpecError("roles.products: must map product names to {column, held}")
    for product, product_spec in products.items():
        if isinstance(product_spec, str):
            product_spec = {"column": product_spec, "held": "> 0"}
        if "column" not in product_spec or "held" not in product_spec:
            raise DatasetSpecError(f"roles.products.{product}: needs 'column:' and 'held:'")
        values = source(f"products.{product}", product_spec["column"])
        if values is not None:
            out[f"held_{product}"] = _flag(
                values, f"held_{product}", product_spec["column"], product_spec["held"],
                product_spec.get("not_held"), options, problems,
                nullable=False, positive_word="held or not",
            )  # fmt: skip

    treatment_column, treatment = _role_column(roles, "treatment")
    if treatment_column is not None:
        values = source("treatment", treatment_column)
        if values is not None:
            text = _text(values).astype(object)
            groups = treatment.get("groups")
            if groups is None:  # a 0/1 column: 0 = control, 1 = treatment
                groups = {"0": "control", "1": "treatment"}
                text = text.replace({"0.0": "0", "1.0": "1"})
            groups = {str(k): str(v) for k, v in groups.items()}
            mapped = text.map(groups)
            unmapped = text.notna() & mapped.isna()
            if unmapped.any():
                problems.append(
                    Problem(
                        FLAT_TABLE, "treatment", "value outside the mapping",
                        f"{treatment_column} values {sorted(groups)} or empty (roles.treatment.groups)",
                        rows=(np.flatnonzero(unmapped.to_numpy()) + 1).tolist(),
                        values=values[unmapped].head(10).tolist(),
                    )
                )  # fmt: skip
            out["treatment"] = mapped.where(mapped.notna(), None)

    outcome_column, outcome = _role_column(roles, "outcome")
    if outcome_column is not None:
        values = source("outcome", outcome_column)
        if values is not None:
            if "positive" not in outcome:
                raise DatasetSpecError(
                    "roles.outcome: needs 'positive:' (values meaning retained/responded)"
                )
            out["outcome"] = _flag(
                values, "outcome", outcome_column, outcome["positive"], outcome.get("negative"),
                options, problems, nullable=True, positive_word="",
            ).astype("boolean")  # fmt: skip

    features = roles.get("features") or {}
    if isinstance(features, list):
        features = {snake_case(column): column for column in features}
    for feature, feature_spec in features.items():
        mapping = None
        if isinstance(feature_spec, dict):
            mapping = feature_spec.get("map")
            feature_spec = feature_spec.get("column")
        values = source(f"features.{feature}", str(feature_spec))
        if values is None:
            continue
        text = _text(values)
        if mapping:
            mapped = text.astype(object).map({str(k): v for k, v in mapping.items()})
            unmapped = text.notna() & mapped.isna()
            if unmapped.any():
                problems.append(
                    Problem(
                        FLAT_TABLE, feature, "value outside the mapping",
                        f"{feature_spec} values {sorted(map(str, mapping))} (roles.features.{feature}.map)",
                        rows=(np.flatnonzero(unmapped.to_numpy()) + 1).tolist(),
                        values=values[unmapped].head(10).tolist(),
                    )
                )  # fmt: skip
            if mapped.dropna().map(type).eq(bool).all() and mapped.notna().all():
                mapped = mapped.astype(bool)
            out[feature] = mapped
            continue
        numbers = _numbers(values, options)
        # numeric when every filled value is a number, else text
        if (numbers.notna() == text.notna()).all():
            # whole numbers with no gaps (ages, counts) stay integers
            if numbers.notna().all() and (numbers % 1 == 0).all():
                numbers = numbers.astype("int64")
            out[feature] = numbers
        else:
            out[feature] = text.astype(object)
    return pd.DataFrame(out, index=raw.index)
