"""Benchmark: building the analytic base table (ABT) in DuckDB vs a pandas groupby reference.

Usage::

    .venv/bin/python benchmarks/bench_abt.py                   # 10k, 100k, 1M customers
    .venv/bin/python benchmarks/bench_abt.py --sizes 10000 100000
    .venv/bin/python benchmarks/bench_abt.py --pandas-max 1000000  # pandas at 1M too (>24 GB)

Data is generated once per size with ``helpers.synth`` (24 months, with transactions) into a
temporary folder (``--data-dir`` keeps it). Each measurement runs in its own subprocess so
that its peak memory (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``) is its own. Results
go to ``benchmarks/results/abt.json`` and ``abt.md``. Targets (issue 3): 1M customers in
<= 45 s and < 6 GB peak, at least 3x faster than pandas.

This file also holds :func:`reference_abt`, the straightforward pandas implementation of the
same features that ``tests/test_features.py`` compares the DuckDB ABT with.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import ChurnDefinition, assign_tiers, cross_sell_products, product_catalogue
from helpers.paths import SAMPLE_SPEC

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_SIZES = [10_000, 100_000, 1_000_000]
MONTHS = 24
END_MONTH = "2026-10"
AS_OF = "2026-04"  # training as-of month: labels known for a 6-month horizon
HORIZON = 6


# --------------------------------------------------------------------------------------------
# pandas reference
# --------------------------------------------------------------------------------------------
def _month_end(values) -> pd.Series:
    return pd.to_datetime(values).dt.to_period("M").dt.to_timestamp(how="end").dt.normalize()


def _index(stamps: pd.Series) -> pd.Series:
    return stamps.dt.year * 12 + stamps.dt.month


def reference_churn_events(
    customers: pd.DataFrame, balances: pd.DataFrame, churn: ChurnDefinition
) -> pd.DataFrame:
    """Churn events with pandas: customer x month matrix, loop over the (few) months only."""
    hard = customers.loc[customers["close_date"].notna(), ["customer_id"]].copy()
    hard["churn_month"] = _month_end(customers.loc[hard.index, "close_date"])
    hard["churn_type"] = "hard"
    wide = balances.pivot_table(
        index="customer_id", columns="month_index", values="aum_total", aggfunc="first"
    )
    columns = np.arange(wide.columns.min(), wide.columns.max() + 1)
    wide = wide.reindex(columns=columns)
    aum = wide.to_numpy(dtype=float)
    count = np.zeros(len(wide))
    soft_month = np.full(len(wide), -1)
    for j in range(aum.shape[1]):
        previous = aum[:, max(0, j - 12) : j]
        with np.errstate(invalid="ignore"):
            have = (~np.isnan(previous)).sum(axis=1)
            trailing = np.where(have > 0, np.nansum(previous, axis=1) / np.maximum(have, 1), np.nan)
        current = aum[:, j]
        with np.errstate(invalid="ignore"):
            flagged = (current < churn.soft_floor) | (current < (1 - churn.soft_drop) * trailing)
        count = np.where(flagged, count + 1, 0)
        newly = (count == churn.soft_months) & (soft_month < 0)
        soft_month[newly] = columns[j]
    found = soft_month > 0
    soft = pd.DataFrame({"customer_id": wide.index[found], "month_index": soft_month[found]})
    soft["churn_month"] = pd.to_datetime(
        {
            "year": (soft["month_index"] - 1) // 12,
            "month": (soft["month_index"] - 1) % 12 + 1,
            "day": 1,
        }
    ) + pd.offsets.MonthEnd(0)
    soft["churn_type"] = "soft"
    parts = []
    if churn.kind in {"hard", "either"}:
        parts.append(hard[["customer_id", "churn_month", "churn_type"]])
    if churn.kind in {"soft", "either"}:
        parts.append(soft[["customer_id", "churn_month", "churn_type"]])
    events = pd.concat(parts, ignore_index=True)
    events["hard_first"] = (events["churn_type"] != "hard").astype(int)
    events = events.sort_values(["customer_id", "churn_month", "hard_first"])
    return events.drop_duplicates("customer_id")[["customer_id", "churn_month", "churn_type"]]


def reference_abt(
    tables: dict[str, pd.DataFrame],
    as_of: str,
    horizon: int = 6,
    churn: ChurnDefinition | None = None,
) -> pd.DataFrame:
    """The panel ABT of :func:`helpers.features.abt.build_abt`, computed with plain pandas.

    ``tables`` maps canonical table names to frames (``customers``, ``monthly_balances``,
    optionally ``transactions``, ``holdings``, ``contacts``). Returns the same columns and row
    order as ``build_abt``.
    """
    churn = churn or ChurnDefinition()
    customers = tables["customers"].copy()
    balances = tables["monthly_balances"].copy()
    balances["month"] = _month_end(balances["month"])
    balances["month_index"] = _index(balances["month"])
    m_end = pd.Period(as_of, freq="M").to_timestamp(how="end").normalize()
    after = m_end + pd.Timedelta(days=1)
    m_index = m_end.year * 12 + m_end.month
    first_month, last_month = balances["month"].min(), balances["month"].max()
    last_index = last_month.year * 12 + last_month.month
    known = m_index + horizon <= last_index
    horizon_end = (pd.Period(as_of, freq="M") + horizon).to_timestamp(how="end").normalize()
    after_horizon = horizon_end + pd.Timedelta(days=1)

    def window_start(months: int) -> pd.Timestamp:
        return (pd.Period(as_of, freq="M") - (months - 1)).to_timestamp(how="start")

    events = reference_churn_events(customers, balances, churn)
    events.loc[events["churn_month"] > last_month, "churn_month"] = pd.NaT
    customers = customers.merge(events, on="customer_id", how="left")
    customers["churn_type"] = customers["churn_type"].where(customers["churn_month"].notna())
    active = (
        (customers["open_date"] < after)
        & ~(customers["close_date"] < after)
        & ~(customers["churn_month"] <= m_end)
    )
    abt = customers.loc[active].set_index("customer_id")
    open_index = _index(_month_end(abt["open_date"]))
    out = pd.DataFrame(index=abt.index)
    out["as_of"] = m_end
    for column in ["branch_id", "rm_id", "gender"]:
        out[column] = abt[column]
    out["age"] = m_end.year - abt["birth_year"]
    out["channel"] = abt["channel"]
    out["risk_level"] = abt["risk_level"]
    out["tenure_months"] = m_index - open_index + 1

    recent = balances[
        (balances["month_index"] > m_index - 13) & (balances["month_index"] <= m_index)
    ]
    at = recent[recent["month_index"] == m_index].set_index("customer_id")
    parts = ["demand_deposit", "time_deposit", "wealth_mgmt", "funds", "insurance", "loan_balance"]
    out["aum"] = at["aum_total"]
    for column in parts:
        out[column] = at[column]
    for months in (3, 6, 12):
        window = recent[recent["month_index"] > m_index - months]
        out[f"aum_avg_{months}m"] = window.groupby("customer_id")["aum_total"].mean()
    for months in (3, 6, 12):
        before = recent[recent["month_index"] == m_index - months].set_index("customer_id")[
            "aum_total"
        ]
        before = before.reindex(out.index)
        trend = out["aum"] / before - 1
        out[f"aum_trend_{months}m"] = trend.where(
            before.notna() & (before != 0) & out["aum"].notna(), 0.0
        )
    last3 = recent[recent["month_index"] > m_index - 3].groupby("customer_id")
    out["card_spend_3m"] = last3["card_spend"].sum().reindex(out.index).fillna(0.0)
    out["digital_logins_3m"] = (
        last3["digital_logins"].sum().reindex(out.index).fillna(0).astype("int64")
    )
    out["payroll"] = at["payroll"].reindex(out.index).fillna(False).astype(bool)
    last12 = recent[recent["month_index"] > m_index - 12]
    out["payroll_months_12m"] = (
        last12.groupby("customer_id")["payroll"].sum().reindex(out.index).fillna(0).astype("int64")
    )

    recency_cap = (after - first_month.to_period("M").to_timestamp(how="start")).days
    if "transactions" in tables:
        txn = tables["transactions"]
        txn = txn[txn["txn_date"] < after]
        grouped = txn.groupby("customer_id")
        last_date = grouped["txn_date"].max().dt.normalize()
        in3 = txn[txn["txn_date"] >= window_start(3)].groupby("customer_id")
        count3, amount3 = in3.size(), in3["amount"].sum()
        count12 = txn[txn["txn_date"] >= window_start(12)].groupby("customer_id").size()
    else:
        history = balances[balances["month"] < after]
        last_date = history[history["txn_count"] > 0].groupby("customer_id")["month"].max()
        in3 = history[history["month"] >= window_start(3)].groupby("customer_id")
        count3, amount3 = in3["txn_count"].sum(), in3["txn_amount"].sum()
        count12 = (
            history[history["month"] >= window_start(12)].groupby("customer_id")["txn_count"].sum()
        )
    recency = (m_end - last_date.reindex(out.index)).dt.days
    out["txn_recency_days"] = recency.fillna(recency_cap).astype("int64")
    out["txn_count_3m"] = count3.reindex(out.index).fillna(0).astype("int64")
    out["txn_amount_3m"] = amount3.reindex(out.index).fillna(0.0).astype(float)
    out["txn_count_12m"] = count12.reindex(out.index).fillna(0).astype("int64")

    if "contacts" in tables:
        contacts = tables["contacts"]
        contacts = contacts[
            (contacts["contact_date"] < after) & (contacts["contact_date"] >= window_start(12))
        ]
        out["contacts_3m"] = (
            contacts[contacts["contact_date"] >= window_start(3)].groupby("customer_id").size()
        )
        out["contacts_12m"] = contacts.groupby("customer_id").size()
    for column in ["contacts_3m", "contacts_12m"]:
        out[column] = (
            out.get(column, pd.Series(0, index=out.index))
            .reindex(out.index)
            .fillna(0)
            .astype("int64")
        )

    products = list(product_catalogue()["code"])
    cross_sell = cross_sell_products()
    holdings = tables.get("holdings")
    if holdings is None:
        holdings = pd.DataFrame(columns=["customer_id", "product", "open_date", "close_date"])
    held_rows = holdings[
        (holdings["open_date"] < after)
        & (holdings["close_date"].isna() | (holdings["close_date"] >= after))
    ]
    held = pd.crosstab(held_rows["customer_id"], held_rows["product"]) > 0
    took_rows = holdings[(holdings["open_date"] >= after) & (holdings["open_date"] < after_horizon)]
    took = pd.crosstab(took_rows["customer_id"], took_rows["product"]) > 0
    held = held.reindex(index=out.index, columns=products, fill_value=False).fillna(False)
    took = took.reindex(index=out.index, columns=cross_sell, fill_value=False).fillna(False)
    for code in products:
        out[f"held_{code}"] = held[code].astype(bool)
    out["product_count"] = held[cross_sell].sum(axis=1).astype("int64")
    out["tier"] = assign_tiers(out["aum"])

    churn_month = abt["churn_month"]
    churned_in = churn_month < after_horizon
    if known:
        out["churn_label"] = pd.array(churned_in.fillna(False).to_numpy(bool), dtype="boolean")
        out["churn_type_label"] = pd.array(
            np.where(churned_in, abt["churn_type"], "none"), dtype="string"
        )
    else:
        out["churn_label"] = pd.array([pd.NA] * len(out), dtype="boolean")
        out["churn_type_label"] = pd.array([pd.NA] * len(out), dtype="string")
    for code in cross_sell:
        values = pd.array(took[code].to_numpy(bool), dtype="boolean")
        values[held[code].to_numpy(bool) | (not known)] = pd.NA
        out[f"took_{code}"] = values
    out["entry"] = out["tenure_months"]
    close_month = _month_end(abt["close_date"])
    end_month = churn_month.fillna(close_month.clip(upper=last_month).fillna(last_month))
    out["duration"] = (_index(end_month) - open_index + 1).astype("int64")
    out["event"] = churn_month.notna().to_numpy()
    return out.reset_index().sort_values("customer_id").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Benchmark driver
# --------------------------------------------------------------------------------------------
def _generate(size: int, folder: Path) -> Path:
    """Generate ``size`` customers x 24 months with transactions (once) and return its spec."""
    target = folder / f"bank_{size}"
    spec = target / "dataset.yaml"
    if spec.exists():
        return spec
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "synth",
            "--customers",
            str(size),
            "--months",
            str(MONTHS),
            "--end-month",
            END_MONTH,
            "--seed",
            "20261031",
            "--out",
            str(target),
        ],
        check=True,
    )
    print(f"generated {size:,} customers in {time.perf_counter() - started:.1f} s", flush=True)
    if not spec.exists():
        # the generator writes tables only; the sample's spec uses paths relative to itself
        shutil.copy(SAMPLE_SPEC, spec)
    return spec


def _measure_child(engine: str, spec: str) -> None:
    """Run one measurement in this (child) process and print a JSON line.

    Imports are done before the clock starts; the timed part is opening the dataset (DuckDB:
    the spec and Parquet views; pandas: reading the Parquet files) plus building the ABT.
    """
    from helpers.data import load_dataset
    from helpers.features import build_abt

    started = time.perf_counter()
    cpu_started = time.process_time()
    if engine == "duckdb":
        ds = load_dataset(spec, validate=False)
        loaded = time.perf_counter()
        abt = build_abt(ds, as_of=AS_OF, horizon=HORIZON)
    else:
        folder = Path(spec).parent
        tables = {
            name: pd.read_parquet(folder / f"{name}.parquet")
            for name in ["customers", "monthly_balances", "transactions", "holdings", "contacts"]
            if (folder / f"{name}.parquet").exists()
        }
        for frame in tables.values():
            frame["customer_id"] = frame["customer_id"].astype(str)
        loaded = time.perf_counter()
        abt = reference_abt(tables, AS_OF, HORIZON)
    finished = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": len(abt),
                "seconds": finished - started,
                "load_seconds": loaded - started,
                "abt_seconds": finished - loaded,
                # CPU of all threads: on a shared machine wall time depends on the load
                "cpu_seconds": time.process_time() - cpu_started,
            }
        )
    )


def _wrap(engine: str, spec: str) -> None:
    """Run the measurement child and report its peak memory (RUSAGE_CHILDREN).

    A fresh wrapper per measurement keeps ``ru_maxrss`` of RUSAGE_CHILDREN (the largest
    child so far) equal to this one child's peak.
    """
    completed = subprocess.run(
        [sys.executable, __file__, "--child", engine, spec],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if completed.returncode != 0:
        print(json.dumps({"ok": False, "error": completed.stderr.strip()[-2000:]}))
        return
    inner = json.loads(completed.stdout.strip().splitlines()[-1])
    print(json.dumps({"ok": True, **inner, "peak_kb": peak_kb}))


def _measure(engine: str, spec: Path) -> dict:
    """Wall time and peak memory of one ABT build, in a fresh subprocess."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, __file__, "--wrap", engine, str(spec)], capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        return {"engine": engine, "ok": False, "error": completed.stderr.strip()[-2000:]}
    inner = json.loads(lines[-1])
    if not inner["ok"]:
        return {"engine": engine, **inner}
    return {
        "engine": engine,
        "ok": True,
        "rows": inner["rows"],
        "build_seconds": round(inner["seconds"], 2),
        "load_seconds": round(inner["load_seconds"], 2),
        "abt_seconds": round(inner["abt_seconds"], 2),
        "cpu_seconds": round(inner["cpu_seconds"], 2),
        "process_seconds": round(wall, 2),
        "peak_gb": round(inner["peak_kb"] / 1024**2, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    parser.add_argument(
        "--pandas-max",
        type=int,
        default=100_000,
        help="largest size for the pandas reference (at 1M it would exceed 24 GB)",
    )
    parser.add_argument("--data-dir", default=None, help="keep generated data here")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "SPEC"), help=argparse.SUPPRESS)
    parser.add_argument("--wrap", nargs=2, metavar=("ENGINE", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _measure_child(*args.child)
        return 0
    if args.wrap:
        _wrap(*args.wrap)
        return 0
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    temporary = None
    if args.data_dir:
        folder = Path(args.data_dir)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        temporary = tempfile.TemporaryDirectory(prefix="fishpond-bench-abt-")
        folder = Path(temporary.name)
    results = []
    try:
        for size in sorted(args.sizes):
            spec = _generate(size, folder)
            record = {"customers": size, "months": MONTHS, "as_of": AS_OF, "horizon": HORIZON}
            record["duckdb"] = _measure("duckdb", spec)
            print(size, record["duckdb"], flush=True)
            if size <= args.pandas_max:
                record["pandas"] = _measure("pandas", spec)
                print(size, record["pandas"], flush=True)
            duck, pandas_ = record["duckdb"], record.get("pandas")
            if duck.get("ok") and pandas_ and pandas_.get("ok"):
                record["speedup"] = round(pandas_["build_seconds"] / duck["build_seconds"], 2)
            results.append(record)
    finally:
        if temporary is not None:
            temporary.cleanup()
    payload = {
        "benchmark": "abt",
        "targets": {"seconds_1m": 45, "peak_gb_1m": 6, "speedup_vs_pandas": 3},
        # other work on a shared machine slows wall times: record how busy it was
        "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": os.getloadavg()},
        "results": results,
    }
    (RESULTS_DIR / "abt.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    (RESULTS_DIR / "abt.md").write_text(_markdown(payload), encoding="utf-8")
    print(_markdown(payload))
    return 0


def _markdown(payload: dict) -> str:
    lines = [
        "# ABT build: DuckDB vs pandas reference",
        "",
        f"As of {AS_OF}, horizon {HORIZON} months, {MONTHS} months of data with transactions; "
        "build time inside the process (open the data + build the ABT, imports excluded), CPU "
        "time of all its threads, peak RSS of the process (RUSAGE_CHILDREN of a fresh "
        "wrapper). Wall times depend on how loaded the shared 2-core machine is.",
        "pandas is skipped above --pandas-max (at 1M its tables alone exceed this machine's "
        "memory: 2.8 GB peak at 100k customers, growing linearly).",
        "Targets: 1M customers <= 45 s and < 6 GB, >= 3x faster than pandas.",
        f"Machine: {payload['machine']['cpus']} CPUs, load average at the end "
        f"{payload['machine'].get('load_average_1_5_15', 'not recorded')}.",
        "",
        "| customers | ABT rows | DuckDB s | DuckDB CPU s | DuckDB peak GB | pandas s "
        "| pandas CPU s | pandas peak GB | speed-up (wall) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for record in payload["results"]:
        duck = record["duckdb"]
        pandas_ = record.get("pandas", {})

        def cell(entry, key):
            if not entry:
                return "not run"
            return str(entry.get(key, "failed")) if entry.get("ok") else "failed"

        lines.append(
            f"| {record['customers']:,} | {duck.get('rows', '')} | {cell(duck, 'build_seconds')} | "
            f"{cell(duck, 'cpu_seconds')} | {cell(duck, 'peak_gb')} | "
            f"{cell(pandas_, 'build_seconds')} | {cell(pandas_, 'cpu_seconds')} | "
            f"{cell(pandas_, 'peak_gb')} | {record.get('speedup', '')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
