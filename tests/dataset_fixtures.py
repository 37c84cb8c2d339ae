"""Tiny hand-made datasets for the datasets/schema/validate tests (not a test module).

``panel_frames()`` is a 3-customer bank over 3 months whose every value is valid; tests break
one thing at a time. ``write_panel`` writes frames + a spec into a folder; ``write_flat_gb18030``
writes a flat customer table shaped like architecture.md §7.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

LONG_ID = "1234567890123456789"  # 19 digits: would lose precision as a number


def panel_frames() -> dict[str, pd.DataFrame]:
    months = pd.to_datetime(["2026-08-31", "2026-09-30", "2026-10-31"])
    customers = pd.DataFrame(
        {
            "customer_id": ["0001", "0002", LONG_ID],
            "name": ["张三", "李四", "王五"],
            "mobile": ["13800000001", "13800000002", "13800000003"],
            "gender": ["M", "F", "F"],
            "birth_year": [1980, 1990, 1975],
            "open_date": pd.to_datetime(["2015-03-02", "2026-09-10", "2010-01-01"]),
            "close_date": pd.to_datetime([None, None, "2026-10-15"]),
            "close_reason": [None, None, "moved"],
            "branch_id": ["B01", "B02", "B01"],
            "rm_id": ["R1", None, "R2"],
            "channel": ["branch", "mobile", "payroll"],
            "risk_level": ["R2", "R3", "R1"],
        }
    )
    rows = []
    for customer_id, customer_months in (
        ("0001", months),
        ("0002", months[1:]),
        (LONG_ID, months),
    ):
        for month in customer_months:
            rows.append(
                {
                    "customer_id": customer_id,
                    "month": month,
                    "demand_deposit": 1000.0,
                    "time_deposit": 500.0,
                    "wealth_mgmt": 0.0,
                    "funds": 250.5,
                    "insurance": 0.0,
                    "aum_total": 1750.5,
                    "loan_balance": 0.0,
                    "card_spend": 300.0,
                    "txn_count": 4,
                    "txn_amount": 800.0,
                    "digital_logins": 3,
                    "payroll": customer_id == "0001",
                }
            )
    balances = pd.DataFrame(rows)
    transactions = pd.DataFrame(
        {
            "customer_id": ["0001", "0002"],
            "txn_date": pd.to_datetime(["2026-10-03", "2026-09-30"]),
            "amount": [120.0, 50.0],
            "direction": ["in", "out"],
            "channel": ["mobile", "pos"],
            "txn_type": ["salary", "purchase"],
        }
    )
    holdings = pd.DataFrame(
        {
            "customer_id": ["0001", "0001", "0002"],
            "product": ["current_account", "fund", "current_account"],
            "open_date": pd.to_datetime(["2015-03-02", "2020-05-01", "2026-09-10"]),
            "close_date": pd.to_datetime([None, "2026-01-31", None]),
        }
    )
    contacts = pd.DataFrame(
        {
            "customer_id": ["0001"],
            "contact_date": pd.to_datetime(["2026-10-20"]),
            "channel": ["phone"],
            "rm_id": ["R1"],
            "purpose": ["retention"],
            "outcome": ["reached"],
        }
    )
    campaigns = pd.DataFrame(
        {
            "customer_id": ["0001", "0002"],
            "campaign_id": ["C1", "C1"],
            "assigned_date": pd.to_datetime(["2026-09-01", "2026-09-01"]),
            "group": ["control", "treatment"],
            "offer": ["none", "rate_coupon"],
            "contact_channel": ["phone", "sms"],
            "cost": [0.0, 50.0],
            "horizon_months": [3, 3],
            "retained": [True, False],
            "aum_before": [1700.0, 1750.5],
            "aum_after": [1750.5, 0.0],
        }
    )
    return {
        "customers": customers,
        "monthly_balances": balances,
        "transactions": transactions,
        "holdings": holdings,
        "contacts": contacts,
        "campaigns": campaigns,
    }


def write_spec(folder: Path, spec: dict, name: str = "dataset.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def write_panel(
    folder: Path,
    frames: dict[str, pd.DataFrame] | None = None,
    fmt: str = "parquet",
    **spec_extra,
) -> Path:
    """Write every frame as ``<table>.<fmt>`` and a spec naming them; return the spec path."""
    frames = panel_frames() if frames is None else frames
    folder.mkdir(parents=True, exist_ok=True)
    tables = {}
    for table, frame in frames.items():
        if fmt == "parquet":
            frame.to_parquet(folder / f"{table}.parquet", index=False)
        else:
            frame.to_csv(folder / f"{table}.csv", index=False)
        tables[table] = {"path": f"{table}.{fmt}"}
    spec = {"name": "tiny", "mode": "panel", "tables": tables}
    spec.update(spec_extra)
    return write_spec(folder, spec)


FLAT_HEADER = (
    "客户号,开户月数,是否流失,资产余额,客户层级,性别,年龄,代发工资,手机银行月均登录,"
    "近3月交易笔数,近3月客户经理联系次数,持有定期存款,持有理财产品,持有基金,持有保险,"
    "持有信用卡,持有消费贷,持有个人房贷,持有手机银行,营销分组,活动后留存"
)
FLAT_ROWS = (
    '0000123,36,否,"1,234.50",大众客户,男,45,是,3.5,12,1,是,否,否,否,是,否,否,是,对照组,是',
    '0000456,7,是,"88,000.00",潜力客户,女,31,否,0.0,0,0,否,否,是,否,否,否,否,否,加息券,否',
    '0009999,120,否,"7,500,000.00",私行客户,女,62,否,12.0,40,3,是,是,是,是,是,否,是,是,,',
)


def write_flat_gb18030(folder: Path, rows=FLAT_ROWS, spec_changes: dict | None = None) -> Path:
    """The flat sample shape (GB18030, Chinese headers) plus a copy of the bundled flat spec."""
    from helpers.paths import SAMPLE_FLAT_SPEC

    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join((FLAT_HEADER, *rows)) + "\n"
    (folder / "customers_flat.csv").write_bytes(text.encode("gb18030"))
    spec = yaml.safe_load(SAMPLE_FLAT_SPEC.read_text(encoding="utf-8"))
    for key, value in (spec_changes or {}).items():
        if value is None:
            spec["roles"].pop(key, None)
        else:
            spec["roles"][key] = value
    return write_spec(folder, spec)
