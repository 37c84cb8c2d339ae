"""The same feature SQL on Apache Spark (``engine: spark``) gives exactly DuckDB's results.

PySpark runs in local mode (``local[1]``: no cluster); it needs Java 17 or 21 (Debian's
``openjdk-17-jre-headless``, installed by ``.ci/run``). The sample goes through both engines
and the frames must be equal to the last bit: money is summed in whole cents (exact in any
order), and everything else is integer, date or text logic.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from helpers import paths
from helpers.data import DatasetSpecError, load_dataset, load_spec, validate_dataset
from helpers.features import build_abt, churn_events, survival_frame

pytest.importorskip("pyspark")
pytest.importorskip("sqlglot")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("java") is None, reason="Spark needs Java (.ci/run installs it)"
    ),
]


def spark_spec(folder, master: str = "local[1]"):
    """The sample's spec with absolute paths and ``engine: spark``."""
    raw = yaml.safe_load(paths.SAMPLE_SPEC.read_text(encoding="utf-8"))
    for table in raw["tables"].values():
        table["path"] = str(paths.SAMPLE_SPEC.parent / table["path"])
    raw["engine"] = "spark"
    raw["spark"] = {"master": master, "config": {"spark.sql.shuffle.partitions": "2"}}
    spec = folder / "dataset.yaml"
    spec.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return spec


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark")
    return load_dataset(spark_spec(folder)), load_dataset(paths.SAMPLE_SPEC)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda ds: build_abt(ds, "2026-04", 6), id="abt-training"),
        pytest.param(lambda ds: build_abt(ds), id="abt-scoring"),
        pytest.param(survival_frame, id="survival-frame"),
        pytest.param(lambda ds: churn_events(ds, dating="onset"), id="churn-events"),
    ],
)
def test_spark_features_equal_duckdb_exactly(engines, build):
    spark, duck = engines
    pd.testing.assert_frame_equal(build(spark), build(duck), check_exact=True)


def test_spark_tier_snapshot_equals_duckdb(engines):
    from helpers import tiering
    from helpers.config import tier_ladder

    spark, duck = engines
    frames = []
    for ds in (spark, duck):
        churned = tiering.churned_customers(ds)
        frames.append(tiering.current_snapshot(ds, "2026-10", "avg_3m", tier_ladder(), churned))
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)


def test_spark_connection_answers_like_duckdb(engines):
    spark, duck = engines
    query = (
        "SELECT strftime(CAST(month AS DATE), '%Y-%m') AS m, CAST(count(*) AS BIGINT) AS n "
        "FROM monthly_balances GROUP BY 1 ORDER BY 1"
    )
    assert spark.months() == duck.months()
    answers = [ds.connect().sql(query).fetchall() for ds in (spark, duck)]
    assert answers[0] == answers[1]


def test_spark_validation_problems_equal_duckdb(tmp_path):
    """A broken copy of the sample: every problem listed the same with either engine."""
    folder = tmp_path / "broken"
    shutil.copytree(paths.SAMPLE_SPEC.parent, folder)
    balances = pd.read_parquet(folder / "monthly_balances.parquet")
    balances.loc[[3, 10], "aum_total"] = -5.0
    balances.loc[7, "customer_id"] = "NOBODY"
    balances = pd.concat([balances, balances.iloc[[20, 21]]], ignore_index=True)
    balances.to_parquet(folder / "monthly_balances.parquet", index=False)
    raw = yaml.safe_load((folder / "dataset.yaml").read_text(encoding="utf-8"))
    raw["engine"] = "spark"
    raw["spark"] = {"master": "local[1]"}
    (folder / "spark.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    reports = [
        validate_dataset(load_dataset(folder / name, validate=False))
        for name in ("spark.yaml", "dataset.yaml")
    ]
    assert not reports[1].ok
    assert set(reports[1].problems["check"]) >= {"duplicate rows", "unknown customer id"}
    pd.testing.assert_frame_equal(reports[0].problems, reports[1].problems)


def test_unknown_engine_is_refused_clearly(tmp_path):
    spec = spark_spec(tmp_path)
    spec.write_text(spec.read_text(encoding="utf-8").replace("engine: spark", "engine: hive"))
    with pytest.raises(DatasetSpecError, match="engine: must be duckdb or spark, not 'hive'"):
        load_spec(spec)


def test_spark_kpi_files_equal_duckdb(run_notebook, tmp_path):
    """00 and 01 (features only: no model) on both engines write the same KPI files."""
    spec = spark_spec(tmp_path)
    for notebook in ("00_data_overview", "01_tiering"):
        kpis = []
        for dataset, folder in ((spec, "spark"), (paths.SAMPLE_SPEC, "duckdb")):
            _, artifacts = run_notebook(notebook, tmp_path / folder / notebook, dataset=dataset)
            payload = json.loads((artifacts / f"kpis_{notebook}.json").read_text("utf-8"))
            kpis.append(payload)
        assert kpis[0] == kpis[1], notebook
