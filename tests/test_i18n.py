import pytest
import yaml

from helpers import i18n
from helpers.paths import LOCALES_DIR


def test_label_in_both_languages_and_formatting():
    assert i18n.t("customers", "zh") == "客户数"
    assert i18n.t("customers", "en") == "Customers"
    assert "1,234" in i18n.t("note_sample_cap", "en", shown=1234, total=5000)


def test_unknown_key_falls_back_to_the_key_and_bad_language_is_refused():
    assert i18n.t("no_such_label_key", "zh") == "no_such_label_key"
    with pytest.raises(ValueError, match="'zh' or 'en'"):
        i18n.t("customers", "fr")


def test_every_locale_entry_has_zh_and_en():
    for path in LOCALES_DIR.glob("*.yaml"):
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, texts in entries.items():
            assert set(texts) >= {"zh", "en"}, f"{path.name}: {key} lacks zh or en"
            assert all(isinstance(texts[lang], str) and texts[lang] for lang in ("zh", "en"))


def test_locale_files_do_not_contradict_each_other():
    i18n.catalogue.cache_clear()
    assert len(i18n.catalogue()) > 20  # raises if a key is defined twice differently


def test_labels_maps_columns():
    assert i18n.labels(["tier", "aum"], "en") == {"tier": "Tier", "aum": "AUM"}


def test_every_label_is_exactly_a_zh_and_an_en_text():
    """An unquoted comma in a YAML flow mapping silently cuts a label (``{zh: 占比(%, 按得分)}``
    became "占比(%" and a stray key): every entry must be exactly two strings."""
    import yaml

    from helpers.paths import LOCALES_DIR

    broken = []
    for path in sorted(LOCALES_DIR.glob("*.yaml")):
        for key, texts in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if not isinstance(texts, dict) or set(texts) != {"zh", "en"}:
                broken.append(f"{path.name}: {key}: {texts}")
            elif not all(isinstance(text, str) and text for text in texts.values()):
                broken.append(f"{path.name}: {key}: {texts}")
    assert not broken, "\n".join(broken)
