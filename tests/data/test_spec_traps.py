"""The spec traps of issue 13 §2: each one gives a clear message, or is not a trap any more.

Yes/No unquoted, a misspelt key deep in roles, a product named like a catalogue code, junk
text in a numeric feature, quarantine that would take every row, a tier column next to a
value column, and value maps in panel mode.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from dataset_fixtures import panel_frames, write_panel, write_spec

from helpers.cli import main
from helpers.data import (
    DatasetSpecError,
    DataValidationError,
    load_dataset,
    load_spec,
)

CSV = (
    "id,months,left,balance,phone,card,segment,score\n"
    "A1,12,Yes,100,Yes,No,Gold,5\n"
    "A2,3,No,200,No,Yes,Silver,6\n"
    "A3,30,No,300,Yes,No,Gold,7\n"
)


def _flat(folder: Path, roles_yaml: str, csv: str = CSV, extra: str = "") -> Path:
    """Write a CSV and a spec whose roles are YAML text exactly as an analyst types it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t.csv").write_text(csv, encoding="utf-8")
    spec = f"name: traps\nmode: flat\ntable: t.csv\n{extra}roles:\n{roles_yaml}"
    (folder / "dataset.yaml").write_text(spec, encoding="utf-8")
    return folder / "dataset.yaml"


# ------------------------------------------------------------------------------ Yes / No
def test_unquoted_yes_no_are_the_strings_written(tmp_path):
    """PyYAML's YAML 1.1 reads `[Yes]` as [True]; the spec loader keeps the text 'Yes'."""
    roles = (
        "  id: id\n"
        "  event: {column: left, churned: [Yes], not_churned: [No]}\n"
        "  products:\n"
        "    phone: {column: phone, held: [Yes], not_held: [No]}\n"
        "  features: {answer: {column: card, map: {Yes: 1, No: 0}}}\n"
    )
    spec_path = _flat(tmp_path, roles)
    assert yaml.safe_load(spec_path.read_text())["roles"]["event"]["churned"] == [True]  # trap
    assert load_spec(spec_path).roles["event"]["churned"] == ["Yes"]
    flat = load_dataset(spec_path).table("flat")
    assert flat["event"].tolist() == [True, False, False]
    assert flat["held_phone"].tolist() == [True, False, True]
    assert flat["answer"].tolist() == [0, 1, 0]


def test_true_false_in_a_value_list_match_the_words(tmp_path):
    csv = "id,left\nA,True\nB,false\nC,TRUE\n"
    spec_path = _flat(tmp_path, "  id: id\n  event: {column: left, churned: [true]}\n", csv)
    assert load_dataset(spec_path).table("flat")["event"].tolist() == [True, False, True]


def test_a_value_list_that_matches_nothing_is_noticed(tmp_path):
    roles = "  id: id\n  event: {column: left, churned: [Y]}\n"
    ds = load_dataset(_flat(tmp_path, roles))
    notice = next(n for n in ds.notices if "no row of left" in n)
    assert "roles.event.churned ['Y']" in notice and "'Yes', 'No'" in notice


# ------------------------------------------------------------------------------ key paths
def test_problems_name_the_full_key_path(tmp_path):
    roles = (
        "  id: id\n"
        "  event: {column: left, churnd: [Yes]}\n"
        "  products:\n"
        "    phone: {column: phone, hold: [Yes]}\n"
        "    card: {column: card, held: {Yes: 1}}\n"
        "  features: {score: {colum: score}}\n"
        "  exclude: [id]\n"
    )
    with pytest.raises(DatasetSpecError) as caught:
        load_spec(_flat(tmp_path, roles))
    message = str(caught.value)
    print(message)
    assert "dataset spec dataset.yaml: 8 problems" in message
    assert "roles.event: unknown key(s) ['churnd']" in message
    assert "'churnd' -> did you mean 'churned'?" in message
    assert "roles.event: needs 'churned:'" in message
    assert "roles.products.phone: unknown key(s) ['hold']" in message
    assert "'hold' -> did you mean 'held'?" in message
    assert "roles.products.phone: needs 'held:'" in message
    assert "roles.products.card.held: must list plain values" in message
    assert "roles.features.score: needs 'column:'" in message
    assert "roles.exclude: only goes with 'features: all'" in message
    assert "roles.held" not in message  # the old, wrong path


def test_value_outside_a_product_mapping_names_its_spec_key(tmp_path):
    csv = CSV.replace("A2,3,No,200,No,", "A2,3,No,200,maybe,")
    roles = "  id: id\n  products:\n    phone: {column: phone, held: [Yes], not_held: [No]}\n"
    with pytest.raises(DataValidationError) as caught:
        load_dataset(_flat(tmp_path, roles, csv))
    problem = caught.value.problems.iloc[0]
    print(caught.value)
    assert (problem["column"], problem["check"], problem["rows"]) == (
        "held_phone",
        "value outside the mapping",
        "2",
    )
    assert "(spec roles.products.phone.held)" in problem["expected"]


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ("currency: euro\n", "currency: must be an ISO 4217 code"),
        ("money_unit: -1\n", "money_unit: must be a positive number"),
        ("max_quarantine_share: 2\n", "max_quarantine_share: must be a share between 0 and 1"),
        ("tiers: [{code: a, lower: 0}]\n", "tiers: must list at least two tiers"),
        ("on_invalid: skip\n", "on_invalid: must be fail or quarantine"),
        ("quarantine_dir: ../../..\n", "quarantine_dir: '../../..' is outside the spec's folder"),
        ("tabels: {}\n", "unknown key(s) ['tabels']"),
    ],
)
def test_top_level_shapes(tmp_path, top, expected):
    with pytest.raises(DatasetSpecError, match=re.escape(expected)):
        load_spec(_flat(tmp_path / "bank", "  id: id\n", extra=top))


def test_panel_table_keys_and_columns_are_checked(tmp_path):
    spec = {
        "name": "p",
        "tables": {
            "customers": {"path": "c.csv", "columns": {"gendre": "性别", "gender": {"col": "x"}},
                          "dayfirst": "maybe", "skip_after_header": -1},
            "monthly_balances": {"path": "b.csv", "sepp": ";"},
        },
    }  # fmt: skip
    with pytest.raises(DatasetSpecError) as caught:
        load_spec(write_spec(tmp_path, spec))
    message = str(caught.value)
    print(message)
    assert "tables.customers.columns: unknown canonical column(s) ['gendre']" in message
    assert "'gendre' -> did you mean 'gender'?" in message
    assert "tables.customers.columns.gender: unknown key(s) ['col']" in message
    assert "tables.customers.columns.gender: a mapping entry needs 'map:'" in message
    assert "tables.customers.dayfirst: must be true or false" in message
    assert "tables.customers.skip_after_header: must be a whole number >= 0" in message
    assert "tables.monthly_balances: unknown key(s) ['sepp']" in message


# ------------------------------------------------------------------------------ products
def test_a_catalogue_named_product_keeps_the_others(tmp_path):
    from helpers.features import build_abt
    from helpers.propensity import default_products

    roles = (
        "  id: id\n"
        "  products:\n"
        "    phone_plan: {column: phone, held: [Yes], not_held: [No]}\n"
        "    credit_card: {column: card, held: [Yes], not_held: [No]}\n"
    )
    ds = load_dataset(_flat(tmp_path, roles))
    abt = build_abt(ds)
    assert default_products(abt) == ["credit_card", "phone_plan"]
    assert abt["product_count"].tolist() == [1, 1, 1]  # both products counted


# ------------------------------------------------------------------------------ junk text
def test_junk_text_in_a_numeric_feature_is_a_problem_with_its_rows(tmp_path):
    rows = ["id,score"] + [f"C{i},{i}" for i in range(1, 40)] + ["C40,n.a.", "C41,12,5"]
    csv = "\n".join(rows).replace("12,5", '"12,5x"') + "\n"
    with pytest.raises(DataValidationError) as caught:
        load_dataset(_flat(tmp_path, "  id: id\n  features: [score]\n", csv))
    print(caught.value)
    problem = caught.value.problems.iloc[0]
    assert (problem["column"], problem["check"], problem["rows"]) == (
        "score",
        "wrong type",
        "40, 41",
    )
    assert "'n.a.'" in problem["values"]
    assert "score holds numbers in 39 of 41 filled rows" in problem["expected"]
    assert "kind: text" in problem["expected"]


def test_kind_text_keeps_a_code_column_as_text(tmp_path):
    csv = "id,branch\nA,101\nB,102\nC,10A\n"
    roles = "  id: id\n  features: {branch: {column: branch, kind: text}}\n"
    flat = load_dataset(_flat(tmp_path, roles, csv)).table("flat")
    assert flat["branch"].tolist() == ["101", "102", "10A"]


def test_a_mostly_text_column_stays_text_and_a_name_column_is_noticed(tmp_path):
    names = [f"Name{i}" for i in range(80)]
    csv = "id,surname,country\n" + "".join(
        f"{i},{n},{'FR' if i % 2 else 'ES'}\n" for i, n in enumerate(names)
    )
    ds = load_dataset(_flat(tmp_path, "  id: id\n  features: all\n", csv))
    assert ds.table("flat")["country"].tolist()[:2] == ["ES", "FR"]
    assert any("feature surname" in n and "80 different values" in n for n in ds.notices)


# ------------------------------------------------------------------------------ quarantine
def test_quarantine_that_would_take_every_row_fails(tmp_path, capsys):
    roles = "  id: id\n  event: {column: left, churned: [Y], not_churned: [N]}\n"
    spec_path = _flat(tmp_path, roles, extra="on_invalid: quarantine\n")
    with pytest.raises(DataValidationError) as caught:
        load_dataset(spec_path)
    checks = caught.value.problems["check"].tolist()
    assert checks == ["value outside the mapping", "every row would be quarantined"]
    assert main(["validate", "--dataset", str(spec_path)]) == 1
    out = capsys.readouterr().out
    print(out)
    assert "[flat] every row would be quarantined: 3 rows" in out
    assert "Valid." not in out and not (tmp_path / "quarantine").exists()


def test_fail_mode_offers_quarantine_only_when_it_would_help(tmp_path, capsys):
    roles = "  id: id\n  event: {column: left, churned: [Y], not_churned: [N]}\n"
    assert main(["validate", "--dataset", str(_flat(tmp_path / "a", roles))]) == 1
    out = capsys.readouterr().out
    assert "Quarantine would not help: it would set aside 100.0% of flat" in out
    assert "set 'on_invalid: quarantine'" not in out
    rows = ["id,left"] + [f"C{i},{'Y' if i % 3 else 'N'}" for i in range(1, 60)] + ["C60,?"]
    spec_path = _flat(tmp_path / "b", roles, "\n".join(rows) + "\n")
    assert main(["validate", "--dataset", str(spec_path)]) == 1
    out = capsys.readouterr().out
    assert "or set 'on_invalid: quarantine' in the spec to set the bad rows aside" in out
    assert "(at most 1.7% of a table)" in out


def test_quarantine_above_the_share_limit_fails(tmp_path):
    rows = (
        ["id,left"] + [f"C{i},{'Y' if i % 3 else 'N'}" for i in range(1, 19)] + ["C19,?", "C20,?"]
    )
    roles = "  id: id\n  event: {column: left, churned: [Y], not_churned: [N]}\n"
    spec_path = _flat(tmp_path, roles, "\n".join(rows) + "\n", extra="on_invalid: quarantine\n")
    with pytest.raises(DataValidationError) as caught:
        load_dataset(spec_path)
    print(caught.value)
    assert "too many rows to quarantine" in str(caught.value)
    assert "2 of 20 rows (10.0%)" in str(caught.value) and "at most 5%" in str(caught.value)
    text = spec_path.read_text().replace("on_invalid: quarantine\n",
                                         "on_invalid: quarantine\nmax_quarantine_share: 0.1\n")  # fmt: skip
    spec_path.write_text(text)
    ds = load_dataset(spec_path)
    assert len(ds.table("flat")) == 18
    assert ds.quarantine_summary()["rows"].tolist() == [2]


# ------------------------------------------------------------------------------ tier vs value
def test_a_mapped_tier_column_wins_over_the_value(tmp_path):
    from helpers import overview, tiering
    from helpers.config import resolve_ladder
    from helpers.features import build_abt

    roles = (
        "  id: id\n  value: balance\n  tier: {column: segment, map: {Gold: wealth, Silver: mass}}\n"
    )
    ds = load_dataset(_flat(tmp_path, roles))
    tiers = overview.tier_summary(ds, None).set_index("tier")
    # balances 100-300 would all be "mass" on the ladder; the bank says two are "wealth"
    assert tiers.loc["wealth", "customers"] == 2 and tiers.loc["mass", "customers"] == 1
    assert tiers.loc["wealth", "aum"] == 400.0
    tiered, _, source = tiering.tier_customers(build_abt(ds), resolve_ladder())
    assert source == "labels"
    assert tiered["tier"].astype(str).tolist() == ["wealth", "mass", "wealth"]
    assert tiered["basis_value"].tolist() == [100.0, 200.0, 300.0]


def test_own_tier_labels_are_kept_in_00(tmp_path):
    from helpers import overview

    ds = load_dataset(_flat(tmp_path, "  id: id\n  value: balance\n  tier: segment\n"))
    tiers = overview.tier_summary(ds, None)
    assert tiers["tier"].tolist() == ["Gold", "Silver"]
    assert overview.display_tiers(tiers, "en")["tier"].tolist() == ["Gold", "Silver"]


# ------------------------------------------------------------------------------ panel maps
def test_panel_value_maps_like_flat_mode(tmp_path):
    frames = panel_frames()
    frames["customers"]["gender"] = ["男", "女", "女"]
    frames["monthly_balances"]["payroll"] = frames["monthly_balances"]["payroll"].map(
        {True: "是", False: "否"}
    )
    spec_path = write_panel(tmp_path, frames)
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["tables"]["customers"]["columns"] = {"gender": {"map": {"男": "M", "女": "F"}}}
    spec["tables"]["monthly_balances"]["columns"] = {"payroll": {"map": {"是": True, "否": False}}}
    write_spec(tmp_path, spec)
    ds = load_dataset(spec_path)
    assert ds.table("customers")["gender"].tolist() == ["M", "F", "F"]
    con = ds.connect()
    payroll = con.sql("SELECT payroll FROM monthly_balances WHERE customer_id = '0001'").fetchall()
    assert payroll == [(True,), (True,), (True,)]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_panel_value_outside_a_map_is_named(tmp_path, fmt):
    frames = panel_frames()
    frames["customers"]["sex"] = ["男", "女", "?"]
    frames["monthly_balances"]["payroll"] = ["是"] * 7 + ["不详"]
    spec_path = write_panel(tmp_path, frames, fmt=fmt)
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["tables"]["customers"]["columns"] = {
        "gender": {"column": "sex", "map": {"男": "M", "女": "F"}}
    }
    spec["tables"]["monthly_balances"]["columns"] = {"payroll": {"map": {"是": True, "否": False}}}
    write_spec(tmp_path, spec)
    with pytest.raises(DataValidationError) as caught:
        load_dataset(spec_path)
    print(caught.value)
    problems = caught.value.problems.set_index(["table", "column"])
    gender = problems.loc[("customers", "gender")]
    assert gender["check"] == "value outside the mapping" and gender["rows"] == "3"
    assert "tables.customers.columns.gender.map" in gender["expected"]
    payroll = problems.loc[("monthly_balances", "payroll")]
    assert payroll["check"] == "value outside the mapping" and payroll["rows"] == "8"
    assert "'不详'" in payroll["values"]
    assert len(caught.value.problems) == 2  # not also "missing value" for the same rows


def test_flat_tier_map_must_use_the_spec_tier_codes(tmp_path):
    extra = "tiers: [{code: basic, lower: 0}, {code: gold, lower: 100000}]\n"
    roles = "  id: id\n  tier: {column: segment, map: {Gold: gold, Silver: silver}}\n"
    with pytest.raises(DatasetSpecError, match=r"roles.tier.map: maps to \['silver'\]"):
        load_spec(_flat(tmp_path, roles, extra=extra))
