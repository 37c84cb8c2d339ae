"""The parameter registry: one name per meaning across the pack, every notebook in step.

Each notebook's ``parameters`` cell may use only registered names, with defaults of the
registered type; a pack-level parameter has the same default in every notebook that takes it,
so a notebook run alone in JupyterLab agrees with the pack.
"""

from __future__ import annotations

import pytest

from helpers import notebook, parameters, paths
from helpers.batch import check_extra_parameters

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))


def test_registry_entries_are_complete():
    for name, entry in parameters.registry().items():
        assert entry.scope in parameters.SCOPES, name
        assert entry.zh and entry.en, f"{name}: needs help in zh and en"
        assert "=" not in entry.en and "'" not in entry.en, (
            f"{name}: papermill cannot parse a help comment with = or an apostrophe"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_parameters_are_registered_with_their_types(path):
    known = parameters.registry()
    for name, default in parameters.declared_defaults(path).items():
        assert name in known, f"{path.name}: {name} is not in resources/parameters.yaml"
        problem = known[name].problem(default)
        assert problem is None, f"{path.name}: default of {name}: {problem}"


def test_pack_level_parameters_have_one_default_across_notebooks():
    seen: dict[str, tuple[str, object]] = {}
    known = parameters.registry()
    for path in NOTEBOOKS:
        for name, default in parameters.declared_defaults(path).items():
            if known[name].scope not in ("core", "pack"):
                continue
            if name in seen:
                assert seen[name][1] == default, (
                    f"{name}: {seen[name][0]} defaults to {seen[name][1]!r}, "
                    f"{path.stem} to {default!r}"
                )
            seen[name] = (path.stem, default)


def test_notebook_parameters_belong_to_one_notebook():
    owners: dict[str, list[str]] = {}
    known = parameters.registry()
    for path in NOTEBOOKS:
        for name in parameters.declared_parameters(path):
            if known[name].scope == "notebook":
                owners.setdefault(name, []).append(path.stem)
    shared = {name: who for name, who in owners.items() if len(who) > 1}
    assert not shared, f"notebook-scoped parameters used by several notebooks: {shared}"


def test_no_two_names_for_one_meaning():
    texts: dict[str, str] = {}
    for name, entry in parameters.registry().items():
        assert entry.en not in texts, f"{name} and {texts.get(entry.en)} mean the same thing"
        texts[entry.en] = name


def test_every_registered_parameter_is_used():
    used = {n for path in NOTEBOOKS for n in parameters.declared_parameters(path)}
    unused = sorted(set(parameters.registry()) - used)
    assert not unused, f"registered but no notebook takes them: {unused}"


def test_tier_ladder_is_taken_by_every_notebook_that_tiers():
    for path in NOTEBOOKS:
        assert "tier_thresholds" in parameters.declared_parameters(path), (
            f"{path.stem}: one tier ladder per pack; declare tier_thresholds"
        )


def test_read_parameters_checks_types_and_names():
    namespace = dict(parameters.declared_defaults(paths.NOTEBOOKS_DIR / "01_tiering.ipynb"))
    assert notebook.read_parameters("01_tiering", namespace)["tier_basis"] == "month_end"
    namespace["k_max"] = "7"
    with pytest.raises(ValueError, match="k_max must be int"):
        notebook.read_parameters("01_tiering", namespace)
    del namespace["k_max"]
    with pytest.raises(ValueError, match="k_max is not set"):
        notebook.read_parameters("01_tiering", namespace)


def test_params_blocks_are_checked_against_registry_and_notebooks():
    problems = check_extra_parameters(
        {
            "common": {"tier_thresholds": [1, 2, 3], "warning_list_size": 3, "month": "2026-01"},
            "02_lifecycle_survival": {"churn_horizon_months": 3, "warning_list_size": "x"},
            "04_retention_roi": {"budgt": 5.0},
            "99_nothing": {},
        },
        NOTEBOOKS,
    )
    text = "\n".join(problems)
    assert "common.warning_list_size: warning_list_size is one notebook's own parameter" in text
    assert "common.month: month is set by the runner itself" in text
    assert "churn_horizon_months is set once for the whole pack; put it under common" in text
    assert "warning_list_size must be int" in text
    assert "04_retention_roi.budgt: no such parameter (did you mean budget?)" in text
    assert "unknown block '99_nothing'" in text
    assert len(problems) == 6


def test_list_and_dict_parameters_hold_plain_items_of_their_kind():
    known = parameters.registry()
    assert known["tier_thresholds"].problem([50000, 500000.0, 6000000]) is None
    assert "number items only, not list" in known["tier_thresholds"].problem([[1], 2])
    assert "number items only, not 'x'" in known["tier_thresholds"].problem([1, "x"])
    assert "number items only, not True" in known["tier_thresholds"].problem([True])
    assert "at most 1000 items" in known["tier_thresholds"].problem(list(range(1001)))
    assert "text items only" in known["cox_covariates"].problem(["aum", 3])
    assert known["offer_costs"].problem({"rate_coupon": 30.0}) is None
    assert "number items only, not dict" in known["offer_costs"].problem({"x": {"y": 1}})
