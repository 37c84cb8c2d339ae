"""The whole pack on public customer tables that registry packages ship (examples/).

Each table has a flat-mode spec written from its documentation alone, under
``examples/<name>/dataset.yaml`` (sources and licences in ``examples/README.md``). For each
one the test runs ``fishpond run`` the way the batch does and asserts:

- every notebook is ok or "not applicable" (none failed);
- the churn (or propensity) AUC Fishpond reports in ``artifacts/model_metrics.csv`` for its
  chosen model is within :data:`AUC_TOLERANCE` of a plain 5-fold scikit-learn baseline
  computed here on the same columns (both printed: ``pytest -s`` shows them);
- Fishpond's Kaplan-Meier curve equals lifelines' on the raw table.

Plus the minimal panel extract (customers + monthly_balances only) and a Chinese panel extract
(GB18030, Chinese headers and codes mapped by the spec), which must run too.
Nothing is downloaded: the tables are committed next to their specs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from lifelines import KaplanMeierFitter
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from helpers import propensity
from helpers.batch import run_pack
from helpers.data import load_dataset, load_spec
from helpers.features import build_abt
from helpers.survival import fit_kaplan_meier, prepare_frame

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Fishpond's chosen model may be at most this much below the plain baseline.
AUC_TOLERANCE = 0.005

#: Words a telecom table's English report must not contain (issue 13 §5).
BANK_WORDS = ("AUM", "RMB", "rate coupon", "¥")

#: name -> what the baseline predicts: ("churn", None) or ("propensity", product)
PUBLIC_TABLES = {
    "telco_churn": ("churn", None),
    "hr_attrition": ("churn", None),
    "universal_bank": ("propensity", "personal_loan"),
    "book_club": ("propensity", "florence"),
    "caravan": ("propensity", "caravan"),
}


def _flag(raw: pd.Series, held) -> pd.Series:
    """A product column as the spec maps it: ``"> 0"`` or a list of values meaning held."""
    if isinstance(held, str):
        return pd.to_numeric(raw, errors="coerce").gt(float(held.split(">")[1])).astype(float)
    return raw.isin([str(v) for v in held]).astype(float)


def _raw_columns(spec, kind: str, product: str | None):
    """(table, X columns, y) from the raw file: what the spec maps, plain values (product
    columns as the 0/1 flags the spec defines)."""
    table = spec.tables["flat"]
    raw = pd.read_csv(table.path, dtype=str)
    roles = spec.roles
    features = roles.get("features") or {}
    columns = list(features.values()) if isinstance(features, dict) else list(features)
    columns = [c["column"] if isinstance(c, dict) else c for c in columns]
    products = roles.get("products") or {}
    for name, product_spec in products.items():
        if name != product:
            raw[f"held_{name}"] = _flag(raw[product_spec["column"]], product_spec["held"])
            columns.append(f"held_{name}")
    columns += [roles["value"]] if "value" in roles else []
    if kind == "churn":
        columns.append(roles["duration"])
        event = roles["event"]
        y = raw[event["column"]].isin([str(v) for v in event["churned"]]).to_numpy()
    else:
        y = _flag(raw[products[product]["column"]], products[product]["held"]).astype(bool)
        y = y.to_numpy()
    return raw, list(dict.fromkeys(columns)), y


def plain_baseline(spec, kind: str, product: str | None, seed: int = 0) -> float:
    """Mean ROC AUC of a plain 5-fold logistic regression on the raw mapped columns."""
    raw, columns, y = _raw_columns(spec, kind, product)
    X = raw[columns].copy()
    numeric = []
    for column in columns:
        values = pd.to_numeric(X[column].astype(str).str.replace(",", ""), errors="coerce")
        if values.notna().sum() >= 0.95 * X[column].notna().sum():
            X[column] = values
            numeric.append(column)
    text = [c for c in columns if c not in numeric]
    prepare = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ("text", OneHotEncoder(handle_unknown="ignore"), text),
        ]
    )
    model = make_pipeline(prepare, LogisticRegression(max_iter=3000))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    with threadpool_limits(limits=1):
        return float(
            cross_val_score(model, X.fillna(np.nan), y, cv=folds, scoring="roc_auc").mean()
        )


def visible_text(page: Path) -> str:
    """A page's words: no embedded images (base64 can spell "AUM"), styles or tags."""
    html = page.read_text(encoding="utf-8")
    html = re.sub(r"data:[a-z/+]+;base64,[A-Za-z0-9+/=]+", " ", html)
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def fishpond_propensity_cv(spec_path: Path, product: str, seed: int = 0) -> float:
    """Mean ROC AUC of Fishpond's propensity model (``CrossSellModels``, as 03 fits it) on the
    same 5 folds as :func:`plain_baseline`."""
    frame = build_abt(load_dataset(spec_path))
    target = frame[f"held_{product}"].astype(bool).to_numpy()
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    scores = []
    with threadpool_limits(limits=1):
        for fit_rows, test_rows in folds.split(frame, target):
            models = propensity.CrossSellModels(products=[product], holdout_share=0.05, seed=1)
            models.fit(frame.iloc[fit_rows])
            predicted = models.predict(frame.iloc[test_rows], exclude_holders=False)
            scores.append(roc_auc_score(target[test_rows], predicted[f"p_{product}"]))
    return float(np.mean(scores))


@pytest.mark.slow
@pytest.mark.parametrize("name", [*PUBLIC_TABLES, "minimal_panel", "panel_zh"])
def test_public_table_pack(name, tmp_path):
    spec_path = EXAMPLES / name / "dataset.yaml"
    result = run_pack(dataset=spec_path, out=tmp_path / "pack", lang="en", jobs=1)
    print(f"\n{name}: {result.statuses}")
    failed = {k: v for k, v in result.statuses.items() if v not in ("ok", "not_applicable")}
    assert not failed, f"{name}: notebooks failed: {failed}"
    if name == "telco_churn":  # words that fit the data: no bank vocabulary on a telecom table
        for page in sorted(result.out_dir.glob("*.html")):
            text = visible_text(page)
            for word in BANK_WORDS:
                assert word not in text, f"{page.name} says {word!r}"
    if name not in PUBLIC_TABLES:
        return
    kind, product = PUBLIC_TABLES[name]
    metrics = pd.read_csv(result.out_dir / "artifacts" / "model_metrics.csv")
    target = "churn" if kind == "churn" else product
    chosen = metrics[
        (metrics["target"] == target) & metrics["chosen"] & (metrics["metric"] == "roc_auc")
    ]
    assert len(chosen) == 1, metrics
    reported = float(chosen["value"].iloc[0])
    baseline = plain_baseline(load_spec(spec_path), kind, product)
    print(
        f"{name}: {target} AUC reported by Fishpond {reported:.4f} ({chosen['model'].iloc[0]}, "
        f"95% {chosen['lower'].iloc[0]:.3f}-{chosen['upper'].iloc[0]:.3f}) "
        f"vs plain 5-fold logistic baseline {baseline:.4f}"
    )
    if kind == "churn":  # the ranking is chosen by 5-fold CV on every row: the same protocol
        assert reported >= baseline - AUC_TOLERANCE
        return
    # 03 compares its candidates by 3-fold CV on the 75% of customers outside its holdout, so
    # its number differs from a 5-fold figure on every row by sampling noise alone (about
    # 0.02 on 4,000 rows). Fishpond's propensity model is therefore judged on the baseline's
    # own folds; the reported figure must not be significantly below the baseline.
    same_folds = fishpond_propensity_cv(spec_path, product)
    print(f"{name}: {target} AUC of Fishpond's model on the baseline's folds {same_folds:.4f}")
    assert same_folds >= baseline - AUC_TOLERANCE
    assert baseline <= chosen["upper"].iloc[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n, (kind, _) in PUBLIC_TABLES.items() if kind == "churn"])
def test_kaplan_meier_equals_lifelines(name):
    spec = load_spec(EXAMPLES / name / "dataset.yaml")
    frame = prepare_frame(build_abt(load_dataset(spec.path)), flat=True)
    ours = fit_kaplan_meier(frame)["all"].survival_function_.iloc[:, 0]
    raw, _, event = _raw_columns(spec, "churn", None)
    factor = {"days": 1 / 30.4375, "months": 1.0, "years": 12.0}[
        spec.roles.get("duration_unit", "months")
    ]
    duration = pd.to_numeric(raw[spec.roles["duration"]]) * factor
    duration = duration.where(duration > 0, 0.5)  # tenure 0 counts as half a month (prepare_frame)
    theirs = KaplanMeierFitter().fit(duration, event).survival_function_.iloc[:, 0]
    common = ours.index.intersection(theirs.index)
    assert len(common) > 10
    np.testing.assert_allclose(
        ours.loc[common].to_numpy(), theirs.loc[common].to_numpy(), atol=1e-12
    )


@pytest.mark.slow
def test_a_euro_table_shows_euros(tmp_path):
    """The spec's currency reaches the pages: a euro table shows euros, never RMB or yuan."""
    spec = yaml.safe_load((EXAMPLES / "telco_churn" / "dataset.yaml").read_text(encoding="utf-8"))
    spec["currency"] = "EUR"
    spec["table"]["path"] = str(EXAMPLES / "telco_churn" / spec["table"]["path"])
    path = tmp_path / "dataset.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    try:
        dataset = load_dataset(path)
    except ValueError as error:  # a parser without the currency option (helper "data")
        pytest.skip(f"the spec parser has no currency option yet: {error}")
    assert dataset.currency == "EUR"
    result = run_pack(dataset=path, out=tmp_path / "pack", lang="en", only=["00"])
    assert result.ok
    pages = {p.name: visible_text(p) for p in result.out_dir.glob("*.html")}
    assert "€" in pages["index.html"]
    for name, text in pages.items():
        assert "RMB" not in text and "¥" not in text, name
