"""Labels in Chinese and English.

Labels live in ``helpers/locales/<domain>.yaml`` as ``key: {zh: ..., en: ...}``: one file per
domain so that modules written side by side never edit the same file. All files are merged;
a key defined twice with different texts is an error (caught by the tests).
"""

from __future__ import annotations

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


def t(key: str, lang: str = "zh", **values: object) -> str:
    """Return the label for ``key`` in ``lang``, formatted with ``values``.

    An unknown key returns the key itself, so a missing label shows up in the report as an
    obvious English identifier instead of breaking a monthly run.
    """
    check_lang(lang)
    texts = catalogue().get(key)
    text = key if texts is None else texts.get(lang) or texts.get("en") or key
    return text.format(**values) if values else text


def labels(keys: list[str], lang: str = "zh") -> dict[str, str]:
    """Map each key to its label: handy for ``DataFrame.rename(columns=...)``."""
    return {key: t(key, lang) for key in keys}
