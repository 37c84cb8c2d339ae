"""Checking a dataset spec's keys and value shapes, every problem named by its full path.

:mod:`helpers.data.spec` parses the YAML; this module checks what it found: unknown keys
(with a "did you mean"), values of the wrong shape (a mapping where a list was expected), and
missing required keys. Every problem is collected and reported at once, each with the path an
analyst can search for in the spec, e.g. ``roles.products.phone.held``.
"""

from __future__ import annotations

import re
from difflib import get_close_matches

_SCALAR = (str, int, float, bool)
ROLE_KEYS = {"id", "duration", "duration_unit", "event", "value", "tier", "products",
             "treatment", "outcome", "features", "exclude"}  # fmt: skip
#: Flat columns that roles produce; a feature may not take one of these names.
RESERVED_FLAT_COLUMNS = ("customer_id", "duration_months", "event", "value", "tier",
                         "treatment", "outcome")  # fmt: skip
_CONDITION = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.]+)\s*$")
FEATURE_KINDS = ("number", "text")


class DatasetSpecError(ValueError):
    """The dataset spec itself is wrong (bad YAML, unknown keys, missing file or column)."""


class SpecChecker:
    """Collects spec problems (``path: message``) and raises them together."""

    def __init__(self, spec_name: str):
        self.spec_name = spec_name
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}" if where else message)

    def unknown_keys(self, raw: dict, allowed, where: str, what: str = "key") -> None:
        unknown = sorted((str(k) for k in set(raw) - set(allowed)), key=str)
        if not unknown:
            return
        hints = []
        for key in unknown:
            close = get_close_matches(key, [str(a) for a in allowed], n=1)
            if close:
                hints.append(f"{key!r} -> did you mean {close[0]!r}?")
        hint = f" ({'; '.join(hints)})" if hints else ""
        self.problem(
            where,
            f"unknown {what}(s) {unknown}; allowed: {sorted(str(a) for a in allowed)}{hint}",
        )

    def raise_if_any(self) -> None:
        if self.problems:
            count = len(self.problems)
            lines = "\n".join(f"  - {problem}" for problem in self.problems)
            raise DatasetSpecError(
                f"dataset spec {self.spec_name}: {count} problem{'s' if count != 1 else ''} "
                f"(paths are keys in the spec):\n{lines}"
            )


# --------------------------------------------------------------------------------------------
# Small shapes
# --------------------------------------------------------------------------------------------


def _column_name(value, where: str, check: SpecChecker) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        check.problem(where, f"must be a column name, not {value!r}")
        return None
    return str(value)


def _is_condition(value) -> bool:
    return isinstance(value, str) and bool(_CONDITION.match(value))


def check_values(value, where: str, check: SpecChecker, required: bool = True) -> None:
    """A value list (``[Yes, Y]``), one value, or a numeric condition (``"> 0"``)."""
    if value is None:
        if required:
            check.problem(where, "needs the values (a list such as [是, Y]) or a condition "
                          "such as '> 0'")  # fmt: skip
        return
    items = value if isinstance(value, list) else [value]
    if not items:
        check.problem(where, "is an empty list; list the values, e.g. [是, Y]")
        return
    bad = [item for item in items if not isinstance(item, _SCALAR)]
    if bad:
        check.problem(where, f"must list plain values (text or numbers), not {bad[0]!r}")


def check_mapping(value, where: str, check: SpecChecker) -> dict | None:
    """A value map ``{your value: canonical value}``."""
    if not isinstance(value, dict) or not value:
        check.problem(where, f"must map your values to Fishpond's, e.g. {{男: M, 女: F}}, "
                      f"not {value!r}")  # fmt: skip
        return None
    for key, target in value.items():
        if key is None or not isinstance(key, _SCALAR):
            check.problem(f"{where}.{key}", "keys must be plain values from your data")
        if target is not None and not isinstance(target, _SCALAR):
            check.problem(f"{where}.{key}", f"must map to a plain value, not {target!r}")
    return value


def _column_role(raw, where: str, check: SpecChecker, allowed: dict) -> dict | None:
    """A role given as a column name or as ``{column: ..., <allowed keys>}``."""
    if isinstance(raw, dict):
        check.unknown_keys(raw, {"column", *allowed}, where)
        if "column" not in raw:
            check.problem(where, "needs 'column:' (the column in your file)")
            return None
        _column_name(raw["column"], f"{where}.column", check)
        for key, kind in allowed.items():
            if key in raw:
                if kind == "values":
                    check_values(raw[key], f"{where}.{key}", check)
                elif kind == "map":
                    check_mapping(raw[key], f"{where}.{key}", check)
                elif kind == "kind" and raw[key] not in FEATURE_KINDS:
                    check.problem(f"{where}.{key}", f"must be one of {list(FEATURE_KINDS)}, "
                                  f"not {raw[key]!r}")  # fmt: skip
        return raw
    if _column_name(raw, where, check) is None:
        return None
    return {"column": str(raw)}


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def check_columns(raw, known: list[str], where: str, check: SpecChecker):
    """Panel ``columns:``: canonical -> your column, or -> {column, map}. Returns both maps."""
    if not isinstance(raw, dict):
        check.problem(where, "must map canonical names to your columns (customer_id: 客户号)")
        return {}, {}
    check.unknown_keys(raw, set(known), where, what="canonical column")
    columns: dict[str, str] = {}
    value_maps: dict[str, dict] = {}
    for canonical, source in raw.items():
        if canonical not in known:
            continue
        entry = f"{where}.{canonical}"
        if isinstance(source, dict):
            check.unknown_keys(source, {"column", "map"}, entry)
            if "column" in source:
                name = _column_name(source["column"], f"{entry}.column", check)
            else:
                name = str(canonical)  # {map: ...} alone: the column keeps its canonical name
            if "map" not in source:
                check.problem(entry, "a mapping entry needs 'map:' ({column: 性别, map: "
                              "{男: M, 女: F}}); for a plain rename write  canonical: your_column")  # fmt: skip
            else:
                mapping = check_mapping(source["map"], f"{entry}.map", check)
                if mapping is not None:
                    value_maps[str(canonical)] = {str(k): v for k, v in mapping.items()}
            if name is not None:
                columns[str(canonical)] = name
            continue
        name = _column_name(source, entry, check)
        if name is not None:
            columns[str(canonical)] = name
    return columns, value_maps


def _int(raw, where: str, check: SpecChecker, allow_none: bool = False):
    if raw is None and allow_none:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        check.problem(where, f"must be a whole number >= 0, not {raw!r}")
        return None
    return raw


def _bool(raw, where: str, check: SpecChecker):
    if isinstance(raw, bool):
        return raw
    words = {"yes": True, "no": False, "on": True, "off": False}
    if isinstance(raw, str) and raw.strip().lower() in words:
        return words[raw.strip().lower()]
    check.problem(where, f"must be true or false, not {raw!r}")
    return None


def check_reader_options(raw: dict, where: str, check: SpecChecker) -> dict:
    """Reader options of a table, type-checked; returns the normalised options."""
    options: dict = {}
    for key in ("sep", "decimal", "thousands"):
        if key in raw:
            value = raw[key]
            if value in (None, "") and key == "thousands":
                options[key] = None
            elif not isinstance(value, str) or not value or (key != "sep" and len(value) != 1):
                check.problem(f"{where}.{key}", f"must be {'a separator' if key == 'sep' else 'one character'} "
                              f"in quotes, e.g. {';' if key == 'sep' else ','!r}, not {value!r}")  # fmt: skip
            else:
                options[key] = value
    for key in ("header", "skip_after_header"):
        if key in raw:
            value = _int(raw[key], f"{where}.{key}", check, allow_none=key == "header")
            if value is not None or key == "header":
                options[key] = value
    if "skiprows" in raw:
        value = raw["skiprows"]
        if isinstance(value, list):
            if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
                options["skiprows"] = value
            else:
                check.problem(f"{where}.skiprows", "must be a number of rows or a list of row "
                              "numbers (0 = first line)")  # fmt: skip
        elif _int(value, f"{where}.skiprows", check) is not None:
            options["skiprows"] = value
    if "sheet" in raw:
        value = raw["sheet"]
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            options["sheet"] = value
        else:
            check.problem(f"{where}.sheet", f"must be a sheet name or number, not {value!r}")
    if "na_values" in raw:
        value = raw["na_values"]
        items = value if isinstance(value, list) else [value]
        if all(isinstance(v, _SCALAR) for v in items):
            options["na_values"] = [str(v) for v in items]
        else:
            check.problem(f"{where}.na_values", "must list markers of a missing value, e.g. "
                          "['-', 'NULL']")  # fmt: skip
    if "date_format" in raw:
        value = raw["date_format"]
        if isinstance(value, str) and "%" in value:
            options["date_format"] = value
        else:
            check.problem(f"{where}.date_format", f"must be a strftime pattern such as "
                          f"'%d-%m-%Y', not {value!r}")  # fmt: skip
    if "dayfirst" in raw:
        value = _bool(raw["dayfirst"], f"{where}.dayfirst", check)
        if value is not None:
            options["dayfirst"] = value
    return options


# --------------------------------------------------------------------------------------------
# Flat-mode roles
# --------------------------------------------------------------------------------------------

_ROLE_FORMS = {
    "id": {},
    "duration": {},
    "value": {},
    "tier": {"map": "map"},
    "treatment": {"groups": "map"},
    "event": {"churned": "values", "not_churned": "values"},
    "outcome": {"positive": "values", "negative": "values"},
}
_REQUIRED_KEYS = {"event": ("churned",), "outcome": ("positive",)}


def _check_products(raw, check: SpecChecker) -> None:
    if not isinstance(raw, dict):
        check.problem("roles.products", "must map product names to {column, held}, e.g. "
                      "fund: {column: 持有基金, held: [是]}")  # fmt: skip
        return
    for product, entry in raw.items():
        where = f"roles.products.{product}"
        if not isinstance(product, str) or not product.strip() or re.search(r"\s", product):
            check.problem(where, "product names are single words such as credit_card")
        if isinstance(entry, str | int) and not isinstance(entry, bool):
            continue  # a column name alone: held when the value is > 0
        if not isinstance(entry, dict):
            check.problem(where, f"must be {{column, held}} or a column name, not {entry!r}")
            continue
        check.unknown_keys(entry, {"column", "held", "not_held"}, where)
        for key in ("column", "held"):
            if key not in entry:
                check.problem(where, f"needs '{key}:'")
        if "column" in entry:
            _column_name(entry["column"], f"{where}.column", check)
        if "held" in entry:
            check_values(entry["held"], f"{where}.held", check)
        if "not_held" in entry:
            check_values(entry["not_held"], f"{where}.not_held", check)


def _check_features(raw, check: SpecChecker) -> None:
    if raw == "all":
        return
    if isinstance(raw, list):
        for index, column in enumerate(raw):
            _column_name(column, f"roles.features[{index}]", check)
        return
    if not isinstance(raw, dict):
        check.problem("roles.features", "must be a list of columns, a mapping name: column, "
                      "or 'all' (every column no other role uses)")  # fmt: skip
        return
    for name, entry in raw.items():
        where = f"roles.features.{name}"
        if str(name) in RESERVED_FLAT_COLUMNS or str(name).startswith("held_"):
            check.problem(where, f"{name!r} is the name of a role's column; call the feature "
                          "something else")  # fmt: skip
        _column_role(entry, where, check, {"map": "map", "kind": "kind"})


def check_roles(raw, check: SpecChecker) -> dict:
    """Flat-mode ``roles:``: every role's shape, each problem with its full path."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        check.problem("roles", "must be a mapping of roles (id:, event:, value:, ...)")
        return {}
    check.unknown_keys(raw, ROLE_KEYS, "roles", what="role")
    for role, allowed in _ROLE_FORMS.items():
        if role not in raw:
            continue
        where = f"roles.{role}"
        if role in _REQUIRED_KEYS and not isinstance(raw[role], dict):
            keys = ", ".join(_REQUIRED_KEYS[role])
            check.problem(where, f"must be {{column: ..., {keys}: [...]}}, not {raw[role]!r}")
            continue
        entry = _column_role(raw[role], where, check, allowed)
        for key in _REQUIRED_KEYS.get(role, ()):
            if entry is not None and key not in entry:
                check.problem(where, f"needs '{key}:' (the values meaning {key.replace('_', ' ')},"
                              " or a condition like '> 0')")  # fmt: skip
    unit = raw.get("duration_unit", "months")
    if unit not in {"days", "months", "years"}:
        check.problem("roles.duration_unit", f"must be days, months or years, not {unit!r}")
    if "products" in raw:
        _check_products(raw["products"], check)
    if "features" in raw:
        _check_features(raw["features"], check)
    if "exclude" in raw:
        if raw.get("features") != "all":
            check.problem("roles.exclude", "only goes with 'features: all' (columns to leave "
                          "out of the features)")  # fmt: skip
        elif not isinstance(raw["exclude"], list):
            check.problem("roles.exclude", "must be a list of column names")
    return raw


# --------------------------------------------------------------------------------------------
# Tier ladder
# --------------------------------------------------------------------------------------------


def check_tiers(raw, check: SpecChecker) -> list[dict] | None:
    """``tiers:``: a list of {code, name_zh, name_en, lower}, lowest tier first."""
    if not isinstance(raw, list) or len(raw) < 2:
        check.problem("tiers", "must list at least two tiers, lowest first, each "
                      "{code, name_zh, name_en, lower}")  # fmt: skip
        return None
    tiers: list[dict] = []
    for index, entry in enumerate(raw):
        where = f"tiers[{index}]"
        if not isinstance(entry, dict):
            check.problem(where, f"must be {{code, name_zh, name_en, lower}}, not {entry!r}")
            continue
        check.unknown_keys(entry, {"code", "name_zh", "name_en", "lower"}, where)
        code, lower = entry.get("code"), entry.get("lower")
        if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z0-9_]+", code):
            check.problem(f"{where}.code", f"must be a short code such as mass, not {code!r}")
            continue
        if isinstance(lower, bool) or not isinstance(lower, int | float):
            check.problem(f"{where}.lower", f"must be a number (inclusive lower bound in the "
                          f"spec's currency), not {lower!r}")  # fmt: skip
            continue
        tiers.append(
            {
                "code": code,
                "name_zh": str(entry.get("name_zh") or code),
                "name_en": str(entry.get("name_en") or code),
                "lower": float(lower),
            }
        )
    codes = [tier["code"] for tier in tiers]
    if len(set(codes)) != len(codes):
        check.problem("tiers", f"codes must be different, got {codes}")
    lowers = [tier["lower"] for tier in tiers]
    if any(b <= a for a, b in zip(lowers, lowers[1:], strict=False)):
        check.problem("tiers", f"lower bounds must increase from the first tier to the last, "
                      f"got {lowers}")  # fmt: skip
    return tiers if len(tiers) == len(raw) else None
