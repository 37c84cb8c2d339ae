"""Labels in Chinese and English.

Labels live in ``helpers/locales/<domain>.yaml`` as ``key: {zh: ..., en: ...}``: one file per
domain so that modules written side by side never edit the same file. All files are merged;
a key defined twice with different texts is an error (caught by the tests).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

import yaml

from helpers.paths import LOCALES_DIR

LANGUAGES = ("zh", "en")


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is supported, else raise a clear ValueError."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    return lang


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """All labels from every locale file, merged: ``{key: {"zh": ..., "en": ...}}``."""
    merged: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    for path in sorted(LOCALES_DIR.glob("*.yaml")):
        with open(path, encoding="utf-8") as handle:
            entries = yaml.safe_load(handle) or {}
        for key, texts in entries.items():
            if key in merged and merged[key] != texts:
                raise ValueError(
                    f"label {key!r} is defined differently in {origin[key]} and {path.name}"
                )
            merged[key] = texts
            origin[key] = path.name
    return merged


# ----------------------------------------------------------------------------- vocabulary
#: Currency code -> (Chinese word, English word, symbol). Unknown codes use the code itself.
CURRENCIES = {
    "CNY": ("元", "RMB", "¥"),
    "USD": ("美元", "USD", "$"),
    "EUR": ("欧元", "EUR", "€"),
    "GBP": ("英镑", "GBP", "£"),
    "HKD": ("港元", "HKD", "HK$"),
    "JPY": ("日元", "JPY", "JP¥"),
}


@dataclass(frozen=True)
class Vocabulary:
    """Words that depend on the data: the labels are written for a Chinese bank's panel data.

    ``currency`` (ISO code, from the spec) replaces RMB / 元 / ¥. Without ``balances`` (no
    monthly balance history: a flat table's value column may be a charge, an income, a
    balance) "AUM" / 资产余额 becomes "value" / 金额. Without ``campaigns`` the bank's offer
    names (rate coupon, fee waiver) become generic offers.
    """

    currency: str = "CNY"
    balances: bool = True
    campaigns: bool = True

    @property
    def is_default(self) -> bool:
        return self == Vocabulary()

    @property
    def currency_word(self) -> tuple[str, str, str]:
        code = (self.currency or "CNY").upper()
        return CURRENCIES.get(code, (code, code, code + " "))

    def as_dict(self) -> dict:
        return asdict(self)


_vocabulary = Vocabulary()

_EN_VALUE = [
    (re.compile(r"(^|[.:!?]\s+|\n|\*\*)AUM\b"), r"\1Value"),
    (re.compile(r"\bAUM\b"), "value"),
]
_ZH_VALUE = [("资产余额(AUM)", "金额"), ("资产余额（AUM）", "金额"), ("资产余额", "金额"),
             ("AUM", "金额"), ("资产", "金额")]  # fmt: skip
_EN_OFFERS = [
    (re.compile(r"\b[Rr]ate coupon\b"), "offer A"),
    (re.compile(r"\b[Ff]ee waiver\b"), "offer B"),
]
_ZH_OFFERS = [("加息券", "方案甲"), ("免年费", "方案乙")]


def use_vocabulary(vocabulary: Vocabulary | dict | None = None) -> Vocabulary:
    """Set the run's :class:`Vocabulary` (None: the default); return the previous one.

    ``notebook.start`` sets it from the dataset in each kernel; the runner sets it for the
    pages it writes. Every label from :func:`t` then uses the data's words.
    """
    global _vocabulary
    previous = _vocabulary
    if isinstance(vocabulary, dict):
        vocabulary = Vocabulary(**vocabulary)
    _vocabulary = vocabulary or Vocabulary()
    return previous


def vocabulary() -> Vocabulary:
    """The run's :class:`Vocabulary`."""
    return _vocabulary


def apply_vocabulary(text: str, lang: str = "zh", words: Vocabulary | None = None) -> str:
    """``text`` (a label or narrative) with the data's words (:class:`Vocabulary`)."""
    words = words or _vocabulary
    if words.is_default or not text:
        return text
    zh_word, en_word, symbol = words.currency_word
    if lang == "en":
        if not words.balances:
            for pattern, replacement in _EN_VALUE:
                text = pattern.sub(replacement, text)
        if not words.campaigns:
            for pattern, replacement in _EN_OFFERS:
                text = pattern.sub(replacement, text)
        if words.currency.upper() != "CNY":
            text = re.sub(r"\bRMB\b", en_word, text).replace("¥", symbol)
        return text
    if not words.balances:
        for old, new in _ZH_VALUE:
            text = text.replace(old, new)
    if not words.campaigns:
        for old, new in _ZH_OFFERS:
            text = text.replace(old, new)
    if words.currency.upper() != "CNY":
        text = re.sub(r"(万|亿|[(（]|\d\s?|^)元", lambda m: m.group(1) + zh_word, text)
        text = text.replace("人民币", zh_word).replace("¥", symbol).replace("RMB", en_word)
    return text


def t(key: str, lang: str = "zh", **values: object) -> str:
    """Return the label for ``key`` in ``lang``, formatted with ``values``.

    An unknown key returns the key itself, so a missing label shows up in the report as an
    obvious English identifier instead of breaking a monthly run.
    """
    check_lang(lang)
    texts = catalogue().get(key)
    text = key if texts is None else texts.get(lang) or texts.get("en") or key
    text = text.format(**values) if values else text
    return apply_vocabulary(text, lang) if texts is not None else text


def labels(keys: list[str], lang: str = "zh") -> dict[str, str]:
    """Map each key to its label: handy for ``DataFrame.rename(columns=...)``."""
    return {key: t(key, lang) for key in keys}
