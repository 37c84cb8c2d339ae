"""Make the Chinese panel extract in this folder from the bundled synthetic sample.

A bank's core-system export as an analyst receives it: two CSV files (gzipped here to keep the repository small; GB18030, Chinese
headers, Chinese codes: 男/女, 网点/手机银行/代发/转介绍, 是/否, amounts with thousands
separators, dates as 2024/11/30), for 1,500 customers of the sample. ``dataset.yaml`` maps the
headers and the codes back to Fishpond's canonical columns. Run from the repository root:
``python examples/panel_zh/make_extract.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[1] / "data" / "sample"
CUSTOMERS = 1500

customers = pd.read_parquet(SAMPLE / "customers.parquet")
chosen = customers.sample(CUSTOMERS, random_state=20261031).sort_values("customer_id")
balances = pd.read_parquet(SAMPLE / "monthly_balances.parquet")
balances = balances[balances["customer_id"].isin(chosen["customer_id"])]

channel = {"branch": "网点", "mobile": "手机银行", "payroll": "代发", "referral": "转介绍"}
reason = {"competitor": "转他行", "relocation": "迁居", "dissatisfied": "不满意", "other": "其他",
          "fees": "费用"}  # fmt: skip


def day(series: pd.Series) -> pd.Series:
    return series.dt.strftime("%Y/%m/%d").fillna("")


def money(series: pd.Series) -> pd.Series:
    return series.map(lambda v: f"{v:,.2f}")


pd.DataFrame(
    {
        "客户号": chosen["customer_id"],
        "性别": chosen["gender"].map({"M": "男", "F": "女"}),
        "出生年份": chosen["birth_year"],
        "开户日期": day(chosen["open_date"]),
        "销户日期": day(chosen["close_date"]),
        "销户原因": chosen["close_reason"].map(reason).fillna(""),
        "网点号": chosen["branch_id"],
        "客户经理": chosen["rm_id"].fillna(""),
        "获客渠道": chosen["channel"].map(channel),
        "风险等级": chosen["risk_level"],
    }
).to_csv(
    HERE / "customers.csv.gz",
    index=False,
    encoding="gb18030",
    compression={"method": "gzip", "mtime": 0},
)

pd.DataFrame(
    {
        "客户号": balances["customer_id"],
        "月末日期": day(balances["month"]),
        "活期存款": money(balances["demand_deposit"]),
        "定期存款": money(balances["time_deposit"]),
        "理财": money(balances["wealth_mgmt"]),
        "基金": money(balances["funds"]),
        "保险": money(balances["insurance"]),
        "资产余额": money(balances["aum_total"]),
        "贷款余额": money(balances["loan_balance"]),
        "信用卡消费": money(balances["card_spend"]),
        "交易笔数": balances["txn_count"],
        "交易金额": money(balances["txn_amount"]),
        "手机银行登录": balances["digital_logins"],
        "代发工资": np.where(balances["payroll"], "是", "否"),
    }
).to_csv(
    HERE / "monthly_balances.csv.gz",
    index=False,
    encoding="gb18030",
    compression={"method": "gzip", "mtime": 0},
)
