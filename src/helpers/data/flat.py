"""Flat mode: one customer table + the spec's roles -> the canonical flat frame.

Roles (docs/architecture.md §2, ``data/sample/flat/dataset.yaml``): id, duration (+ unit),
event, value, tier, products, treatment, outcome, features (a list, a mapping, or ``all``
with an ``exclude`` list). Boolean roles take a list of values meaning True or a numeric
condition such as ``"> 0"``; when the spec also lists the values meaning False, anything else
is reported as "value outside the mapping" with its rows. Every problem names the spec key to
edit (``roles.products.phone.held``).

A feature column is numeric when most of its values are numbers: then a value that is not a
number is a problem listing its rows (one junk row must not turn a numeric column into text
and thousands of one-hot columns). ``kind: text`` in the spec keeps a column as text.
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
from helpers.data.spec import FLAT_TABLE, TableSpec
from helpers.data.spec_checks import RESERVED_FLAT_COLUMNS

_RESERVED = set(RESERVED_FLAT_COLUMNS)

#: A text feature with more distinct values than this (and mostly unique) looks like a name or
#: an id: one-hot encoding it makes a column per customer.
MANY_LEVELS = 50


def snake_case(name: str) -> str:
    """``"Credit Limit"`` -> ``"credit_limit"`` (for feature columns listed without a name).

    Letters of any script are kept (``"近3月交易笔数"`` stays as it is).
    """
    text = re.sub(r"[\W]+", "_", str(name)).strip("_").lower()
    return text or "feature"


_CONDITION = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.]+)\s*$")


def _matches(raw: pd.Series, item, options: dict) -> pd.Series:
    """Rows equal to one value of a spec list: text as written, true/false, or a number."""
    if isinstance(item, bool):
        if pd.api.types.is_bool_dtype(raw.dtype):
            return raw.astype("boolean").eq(item).fillna(False).astype(bool)
        text = raw.astype("string").str.strip().str.lower()
        return text.eq("true" if item else "false").fillna(False).astype(bool)
    text = raw.astype("string").str.strip()
    exact = text.eq(str(item).strip()).fillna(False).astype(bool)
    if isinstance(item, int | float):  # 1 also matches 1.0 and a numeric column's 1
        return exact | _numbers(raw, options).eq(float(item)).fillna(False).astype(bool)
    return exact


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
    mask = pd.Series(False, index=raw.index)
    for item in mapping:
        mask |= _matches(raw, item, options)
    return mask, None


def _flag(
    raw: pd.Series,
    target: str,
    column_name: str,
    positive,
    negative,
    options: dict,
    problems: list[Problem],
    *,
    nullable: bool,
    spec_path: str,
    positive_word: str,
    notices: list[str],
) -> pd.Series:
    """A boolean role column (event, product held, outcome) from its value mapping."""
    mask, not_numbers = _mapping_mask(raw, positive, options)
    present = raw.notna() & (raw.astype("string").str.strip() != "").fillna(False)
    if not mask.any() and present.any() and not_numbers is None:
        found = ", ".join(repr(v) for v in _text(raw).dropna().unique()[:5])
        notices.append(
            f"flat: no row of {column_name} has a value of {spec_path} {positive!r} "
            f"(values found: {found}); check the spelling and case in the spec"
        )
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
                target,
                "value outside the mapping",
                f"{column_name} values {listed} (spec {spec_path})",
                rows=(np.flatnonzero(outside.to_numpy()) + 1).tolist(),
                values=raw[outside].head(10).tolist(),
            )
        )
        result[outside] = pd.NA
    if not nullable and (~present).any():
        problems.append(
            Problem(
                FLAT_TABLE,
                target,
                "missing value",
                f"{column_name} filled in every row ({positive_word}; spec {spec_path})",
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
        return str(value["column"]), value
    return str(value), {}


def _outside_map(values, mapped, text, column, mapping, target, spec_path, problems) -> None:
    unmapped = text.notna() & ~text.isin([str(k).strip() for k in mapping])
    if unmapped.any():
        problems.append(
            Problem(
                FLAT_TABLE, target, "value outside the mapping",
                f"{column} values {sorted(map(str, mapping))} ({spec_path})",
                rows=(np.flatnonzero(unmapped.to_numpy()) + 1).tolist(),
                values=values[unmapped].head(10).tolist(),
            )
        )  # fmt: skip


def _used_columns(roles: dict) -> set[str]:
    """Source columns that a role other than the features uses."""
    used = set()
    for role in ("id", "duration", "event", "value", "tier", "treatment", "outcome"):
        column, _ = _role_column(roles, role)
        if column is not None:
            used.add(column)
    for entry in (roles.get("products") or {}).values():
        used.add(str(entry["column"] if isinstance(entry, dict) else entry))
    return used


def _feature_specs(raw: pd.DataFrame, roles: dict) -> dict[str, tuple[str, dict]]:
    """Feature name -> (source column, options) from the spec's list, mapping or ``all``."""
    features = roles.get("features") or {}
    if features == "all":
        skip = _used_columns(roles) | {str(c) for c in roles.get("exclude") or []}
        features = [column for column in raw.columns if str(column) not in skip]
    if isinstance(features, list):
        specs: dict[str, tuple[str, dict]] = {}
        for column in features:
            name, count = snake_case(column), 1
            while name in specs or name in _RESERVED:
                count += 1
                name = f"{snake_case(column)}_{count}"
            specs[name] = (str(column), {})
        return specs
    specs = {}
    for name, entry in features.items():
        if isinstance(entry, dict):
            specs[str(name)] = (str(entry["column"]), entry)
        else:
            specs[str(name)] = (str(entry), {})
    return specs


def _feature(values, name, column, entry, options, problems, notices, spec_path):
    """One feature column: mapped, numeric (junk rows are problems) or text."""
    text = _text(values)
    mapping = entry.get("map")
    if mapping:
        mapped = text.astype(object).map({str(k).strip(): v for k, v in mapping.items()})
        _outside_map(values, mapped, text, column, mapping, name, f"{spec_path}.map", problems)
        if mapped.dropna().map(type).eq(bool).all() and mapped.notna().all():
            mapped = mapped.astype(bool)
        return mapped
    kind = entry.get("kind")
    if kind == "text":
        return text.astype(object)
    numbers = _numbers(values, options)
    filled = int(text.notna().sum())
    numeric = int(numbers.notna().sum())
    if kind == "number" or (filled and numeric * 2 > filled):
        bad = text.notna() & numbers.isna()
        if bad.any():
            problem = _wrong_type_problem(FLAT_TABLE, name, "float", values, bad)
            problem.expected = (
                f"a number: {column} holds numbers in {numeric:,} of {filled:,} filled rows. Add "
                f"markers of a missing value to na_values, or set 'kind: text' under {spec_path} "
                "if the column is text"
            )
            problems.append(problem)
            return numbers  # the bad rows are missing, the column stays numeric
        if numbers.notna().all() and (numbers % 1 == 0).all():
            return numbers.astype("int64")  # whole numbers with no gaps (ages, counts)
        return numbers
    levels = text.nunique()
    if levels > MANY_LEVELS and levels > 0.5 * filled:
        notices.append(
            f"flat: feature {name} ({column}) is text with {levels:,} different values in "
            f"{filled:,} rows; it looks like a name or an id, and a model would make a column of "
            "each value: leave it out (roles.exclude) unless it means something"
        )
    return text.astype(object)


def build_flat(
    raw: pd.DataFrame,
    table: TableSpec,
    roles: dict,
    problems: list[Problem],
    notices: list[str],
    money_unit: float = 1.0,
) -> pd.DataFrame:
    """Turn one raw customer table into the canonical flat frame using the spec's roles."""
    raw = raw.reset_index(drop=True)
    options = table.options
    out: dict[str, pd.Series] = {}

    def source(spec_path: str, target: str, column: str) -> pd.Series | None:
        if column not in raw.columns:
            listed = ", ".join(str(c) for c in raw.columns[:20])
            problems.append(
                Problem(
                    FLAT_TABLE,
                    target,
                    "spec maps to a nonexistent column",
                    f"a column {column!r} in {table.label} ({spec_path}); columns found: {listed}",
                )
            )
            return None
        return raw[column]

    def where(role: str) -> str:
        return f"roles.{role}.column" if isinstance(roles.get(role), dict) else f"roles.{role}"

    def number(role: str, column: str, target: str) -> pd.Series | None:
        values = source(where(role), target, column)
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
        values = source(where("id"), "customer_id", id_column)
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
        values = source("roles.event.column", "event", event_column)
        if values is not None:
            out["event"] = _flag(
                values, "event", event_column, event["churned"], event.get("not_churned"),
                options, problems, nullable=False, spec_path="roles.event.churned",
                positive_word="churned or not", notices=notices,
            )  # fmt: skip

    value_column, _ = _role_column(roles, "value")
    if value_column is not None:
        value = number("value", value_column, "value")
        if value is not None:
            out["value"] = value * money_unit if money_unit != 1.0 else value

    tier_column, tier = _role_column(roles, "tier")
    if tier_column is not None:
        values = source(where("tier"), "tier", tier_column)
        if values is not None:
            text = _text(values).astype(object)
            mapping = tier.get("map")
            if mapping:
                mapped = text.map({str(k).strip(): str(v) for k, v in mapping.items()})
                _outside_map(values, mapped, text, tier_column, mapping, "tier",
                             "roles.tier.map", problems)  # fmt: skip
                text = mapped
            out["tier"] = text.where(text.notna(), None)

    for product, product_spec in (roles.get("products") or {}).items():
        if not isinstance(product_spec, dict):
            product_spec = {"column": product_spec, "held": "> 0"}
        spec_path = f"roles.products.{product}"
        values = source(f"{spec_path}.column", f"held_{product}", str(product_spec["column"]))
        if values is not None:
            out[f"held_{product}"] = _flag(
                values, f"held_{product}", str(product_spec["column"]), product_spec["held"],
                product_spec.get("not_held"), options, problems, nullable=False,
                spec_path=f"{spec_path}.held", positive_word="held or not", notices=notices,
            )  # fmt: skip

    treatment_column, treatment = _role_column(roles, "treatment")
    if treatment_column is not None:
        values = source(where("treatment"), "treatment", treatment_column)
        if values is not None:
            text = _text(values).astype(object)
            groups = treatment.get("groups")
            if groups is None:  # a 0/1 column: 0 = control, 1 = treatment
                groups = {"0": "control", "1": "treatment"}
                text = text.replace({"0.0": "0", "1.0": "1"})
            groups = {str(k).strip(): str(v) for k, v in groups.items()}
            mapped = text.map(groups)
            _outside_map(values, mapped, text, treatment_column, groups, "treatment",
                         "roles.treatment.groups; empty = not in the campaign", problems)  # fmt: skip
            out["treatment"] = mapped.where(mapped.notna(), None)

    outcome_column, outcome = _role_column(roles, "outcome")
    if outcome_column is not None:
        values = source("roles.outcome.column", "outcome", outcome_column)
        if values is not None:
            out["outcome"] = _flag(
                values, "outcome", outcome_column, outcome["positive"], outcome.get("negative"),
                options, problems, nullable=True, spec_path="roles.outcome.positive",
                positive_word="", notices=notices,
            ).astype("boolean")  # fmt: skip

    listed = isinstance(roles.get("features"), dict)
    for name, (column, entry) in _feature_specs(raw, roles).items():
        spec_path = f"roles.features.{name}" if listed else "roles.features"
        values = source(spec_path, name, column)
        if values is not None:
            out[name] = _feature(values, name, column, entry, options, problems, notices,
                                 spec_path)  # fmt: skip
    return pd.DataFrame(out, index=raw.index)
