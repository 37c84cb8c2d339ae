"""Building blocks of the synthetic bank: fake identities, calendars, schemas and writers.

:mod:`helpers.synth` runs the month-by-month simulation; this module holds what does not need
the simulation state: fake PII, the Spring Festival calendar, the Arrow schemas of the canonical
tables (architecture.md §1), streaming Parquet writers and the flat GB18030 export (§7).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from helpers.config import tier_ladder

# Common Chinese surnames (roughly by frequency) and given-name characters. Names are drawn
# independently, so any resemblance to a real person is chance.
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
GIVEN_CHARACTERS = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文辉鹏飞宇浩然欣怡子涵"
    "梓轩雨婷佳琪思远晨曦博文嘉怡俊杰丹凤云海亮春梅晓东振华立新慧玲淑珍永红德明宏伟雪梅"
)

# Mobile numbers all start with this prefix followed by a 0, a pattern no operator issues for
# personal lines in this form; see data/sample/README.md. They exist only to test masking.
MOBILE_PREFIX = "1700"

# Spring Festival (春节) month by year; the festival moves between late January and February.
SPRING_FESTIVAL_MONTH = {
    2008: 2, 2009: 1, 2010: 2, 2011: 2, 2012: 1, 2013: 2, 2014: 1, 2015: 2, 2016: 2, 2017: 1,
    2018: 2, 2019: 2, 2020: 1, 2021: 2, 2022: 2, 2023: 1, 2024: 2, 2025: 1, 2026: 2, 2027: 2,
    2028: 1, 2029: 2, 2030: 2, 2031: 1, 2032: 2, 2033: 1, 2034: 2, 2035: 2,
}  # fmt: skip

CHANNELS = np.array(["branch", "mobile", "payroll", "referral"])
RISK_LEVELS = np.array(["R1", "R2", "R3", "R4", "R5"])
CLOSE_REASONS = np.array(["competitor", "relocation", "dissatisfied", "fees", "other"])
TXN_CHANNELS = np.array(["counter", "atm", "mobile", "online", "pos"])
TXN_TYPES = np.array(["salary", "transfer", "payment", "cash", "purchase", "investment"])
CONTACT_CHANNELS = np.array(["phone", "visit", "wechat", "sms"])
CONTACT_PURPOSES = np.array(["follow_up", "marketing", "retention", "service"])
CONTACT_OUTCOMES = np.array(["reached", "no_answer", "accepted", "declined"])

TIMESTAMP = pa.timestamp("ns")

SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("name", pa.string()),
            ("mobile", pa.string()),
            ("gender", pa.string()),
            ("birth_year", pa.int64()),
            ("open_date", TIMESTAMP),
            ("close_date", TIMESTAMP),
            ("close_reason", pa.string()),
            ("branch_id", pa.string()),
            ("rm_id", pa.string()),
            ("channel", pa.string()),
            ("risk_level", pa.string()),
        ]
    ),
    "monthly_balances": pa.schema(
        [
            ("customer_id", pa.string()),
            ("month", TIMESTAMP),
            ("demand_deposit", pa.float64()),
            ("time_deposit", pa.float64()),
            ("wealth_mgmt", pa.float64()),
            ("funds", pa.float64()),
            ("insurance", pa.float64()),
            ("aum_total", pa.float64()),
            ("loan_balance", pa.float64()),
            ("card_spend", pa.float64()),
            ("txn_count", pa.int64()),
            ("txn_amount", pa.float64()),
            ("digital_logins", pa.int64()),
            ("payroll", pa.bool_()),
        ]
    ),
    "transactions": pa.schema(
        [
            ("customer_id", pa.string()),
            ("txn_date", TIMESTAMP),
            ("amount", pa.float64()),
            ("direction", pa.string()),
            ("channel", pa.string()),
            ("txn_type", pa.string()),
        ]
    ),
    "holdings": pa.schema(
        [
            ("customer_id", pa.string()),
            ("product", pa.string()),
            ("open_date", TIMESTAMP),
            ("close_date", TIMESTAMP),
        ]
    ),
    "contacts": pa.schema(
        [
            ("customer_id", pa.string()),
            ("contact_date", TIMESTAMP),
            ("channel", pa.string()),
            ("rm_id", pa.string()),
            ("purpose", pa.string()),
            ("outcome", pa.string()),
        ]
    ),
    "campaigns": pa.schema(
        [
            ("customer_id", pa.string()),
            ("campaign_id", pa.string()),
            ("assigned_date", TIMESTAMP),
            ("group", pa.string()),
            ("offer", pa.string()),
            ("contact_channel", pa.string()),
            ("cost", pa.float64()),
            ("horizon_months", pa.int64()),
            ("retained", pa.bool_()),
            ("aum_before", pa.float64()),
            ("aum_after", pa.float64()),
        ]
    ),
}


def customer_ids(count: int, rng: np.random.Generator, width: int = 10) -> np.ndarray:
    """Zero-padded string ids in opening order, with random gaps.

    The first ids are small numbers, so they carry many leading zeros ("0000000042"), which
    is exactly what a loader that parses ids as numbers would destroy.
    """
    numbers = np.cumsum(rng.integers(1, 60, size=count, dtype=np.int64))
    return np.char.zfill(numbers.astype(str), width).astype(object)


def fake_names(count: int, rng: np.random.Generator) -> np.ndarray:
    """Chinese full names: a common surname and one or two given-name characters."""
    surnames = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), size=count)]
    given = np.array(GIVEN_CHARACTERS)
    first = given[rng.integers(0, len(given), size=count)]
    second = given[rng.integers(0, len(given), size=count)]
    two_characters = rng.random(count) < 0.7
    second = np.where(two_characters, second, "")
    return np.char.add(np.char.add(surnames, first), second).astype(object)


def fake_mobiles(count: int, rng: np.random.Generator) -> np.ndarray:
    """Synthetic 11-digit mobile numbers, all starting with :data:`MOBILE_PREFIX`."""
    digits = rng.integers(0, 10_000_000, size=count)
    return np.char.add(MOBILE_PREFIX, np.char.zfill(digits.astype(str), 7)).astype(object)


def month_ends(end_month: str, months: int) -> pd.DatetimeIndex:
    """The ``months`` month-end dates ending with ``end_month`` (``YYYY-MM``)."""
    end = pd.Period(end_month, freq="M")
    periods = pd.period_range(end=end, periods=months, freq="M")
    return periods.to_timestamp(how="end").normalize()


def seasonal_factors(month_end: pd.Timestamp) -> dict[str, float]:
    """Calendar effects of a month: Spring Festival and quarter ends.

    Spring Festival brings gifts (红包), travel and shopping: spending and transfers rise and
    deposits dip. Quarter ends bring the deposit drives that banks run for their balance sheet
    (冲时点), so AUM bumps up and falls back the next month.
    """
    spring = SPRING_FESTIVAL_MONTH.get(month_end.year, 2) == month_end.month
    quarter_end = month_end.month in (3, 6, 9, 12)
    return {
        "spring_festival": bool(spring),
        "aum": (0.95 if spring else 1.0) * (1.03 if quarter_end else 1.0),
        "spend": 1.6 if spring else (1.15 if month_end.month in (10, 11) else 1.0),
        "transactions": 1.4 if spring else 1.0,
    }


def days_in_month(month_end: pd.Timestamp) -> int:
    return int(month_end.day)


def to_timestamps(days_since_epoch: np.ndarray) -> np.ndarray:
    """Integer days since 1970-01-01 (negative = missing) to ``datetime64[ns]`` with NaT."""
    values = days_since_epoch.astype("datetime64[D]").astype("datetime64[ns]")
    values[days_since_epoch < 0] = np.datetime64("NaT")
    return values


def day_number(timestamp: pd.Timestamp) -> int:
    """Days since 1970-01-01 of a timestamp."""
    return int(np.datetime64(timestamp.normalize(), "D").astype(np.int64))


class Coded:
    """A text column given as category labels and integer codes (gathered in Arrow, not numpy)."""

    def __init__(self, categories: np.ndarray | list[str], codes: np.ndarray):
        self.categories = pa.array(list(categories), type=pa.string())
        self.codes = codes

    def to_arrow(self) -> pa.Array:
        return self.categories.take(pa.array(self.codes, type=pa.int64()))


class TableWriter:
    """Stream one canonical table to Parquet in chunks (one chunk per simulated month).

    Customer ids are stored as one Arrow string array and gathered by index with ``take``,
    which keeps 1M customers x 24 months of rows out of Python objects.
    """

    def __init__(self, path: Path, table: str, id_array: pa.Array):
        self.path = path
        self.schema = SCHEMAS[table]
        self.id_array = id_array
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, customer_index: np.ndarray, columns: dict[str, np.ndarray | Coded]) -> None:
        """Append rows; a column is a numpy array or a :class:`Coded` (categories + codes)."""
        arrays = [self.id_array.take(pa.array(customer_index, type=pa.int64()))]
        for field in self.schema:
            if field.name == "customer_id":
                continue
            values = columns[field.name]
            if isinstance(values, Coded):
                arrays.append(values.to_arrow())
            else:
                arrays.append(pa.array(values, type=field.type, from_pandas=True))
        batch = pa.Table.from_arrays(arrays, schema=self.schema)
        if self._writer is None:
            # Dictionary-encode only the low-cardinality text columns: a dictionary of a
            # million customer ids overflows its page and falls back to plain, wasting time.
            dictionary = [
                f.name for f in self.schema if f.type == pa.string() and f.name != "customer_id"
            ]
            self._writer = pq.ParquetWriter(
                self.path, self.schema, compression="zstd", use_dictionary=dictionary
            )
        self._writer.write_table(batch)
        self.rows += len(customer_index)

    def close(self) -> None:
        if self._writer is None:  # no rows at all: still write a valid empty file
            pq.write_table(self.schema.empty_table(), self.path, compression="zstd")
        else:
            self._writer.close()


def write_frame(frame: pd.DataFrame, path: Path, table: str) -> None:
    """Write a whole small table with its canonical schema."""
    schema = SCHEMAS[table]
    arrow = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    pq.write_table(arrow, path, compression="zstd")


FLAT_PRODUCT_HEADERS = {
    "time_deposit": "持有定期存款",
    "wealth_mgmt": "持有理财产品",
    "fund": "持有基金",
    "insurance": "持有保险",
    "credit_card": "持有信用卡",
    "consumer_loan": "持有消费贷",
    "mortgage": "持有个人房贷",
    "mobile_banking": "持有手机银行",
}
FLAT_GROUPS = {"control": "对照组", "rate_coupon": "加息券", "fee_waiver": "免年费"}


def _yes_no(values: np.ndarray) -> np.ndarray:
    return np.where(values, "是", "否")


def write_flat_csv(flat: dict[str, np.ndarray], path: Path) -> None:
    """Write the one-row-per-customer export of architecture.md §7 as GB18030 CSV."""

    ladder = tier_ladder()
    tier_index = np.searchsorted(ladder["lower"].to_numpy(), flat["aum"], side="right") - 1
    frame = pd.DataFrame(
        {
            "客户号": flat["customer_id"],
            "开户月数": flat["tenure_months"],
            "是否流失": _yes_no(flat["churned"]),
            "资产余额": [f"{value:,.2f}" for value in np.round(flat["aum"], 2)],
            "客户层级": ladder["name_zh"].to_numpy()[tier_index],
            "性别": np.where(flat["gender"] == "M", "男", "女"),
            "年龄": flat["age"],
            "代发工资": _yes_no(flat["payroll"]),
            "手机银行月均登录": np.round(flat["digital_logins_avg_3m"], 1),
            "近3月交易笔数": flat["txn_count_3m"],
            "近3月客户经理联系次数": flat["contacts_3m"],
        }
    )
    for product, header in FLAT_PRODUCT_HEADERS.items():
        frame[header] = _yes_no(flat[f"held_{product}"])
    group = pd.Series(flat["campaign_offer"]).map(FLAT_GROUPS)
    frame["营销分组"] = group.fillna("")
    retained = pd.Series(np.where(flat["campaign_retained"], "是", "否"))
    frame["活动后留存"] = retained.where(group.notna(), "")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="gb18030")
