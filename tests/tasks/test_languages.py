import pytest

from tasks.languages import LANGUAGES, get_language, normalise, normalise_for


def test_registry_covers_required_languages_and_scripts():
    for code in ["en", "de", "fr", "es", "ru", "uk", "el", "fa", "ar", "ur", "hi", "he", "zh"]:
        assert code in LANGUAGES
    assert len({lang.script for lang in LANGUAGES.values()}) >= 7


def test_unknown_language_error_lists_known_codes():
    with pytest.raises(KeyError, match="unknown language code 'xx'.*known codes: ar"):
        get_language("xx")


def test_persian_policy_maps_arabic_letters_and_digits_and_keeps_zwnj():
    # Arabic yeh, Arabic kaf, Arabic-Indic digits; ZWNJ inside "می‌روم".
    raw = "\u064a\u0643 \u0661\u0662  \u0645\u06cc\u200c\u0631\u0648\u0645 "
    assert normalise(raw, "persian") == "\u06cc\u06a9 \u06f1\u06f2 \u0645\u06cc\u200c\u0631\u0648\u0645"


def test_default_policy_is_nfc_and_collapses_whitespace_only():
    decomposed = "Cafe\u0301  au\tlait \n"
    assert normalise(decomposed) == "Caf\u00e9 au lait"
    # Case and punctuation are part of what OCR must get right: kept.
    assert normalise("Hello, World!") == "Hello, World!"


def test_greek_final_sigma_and_arabic_tatweel():
    assert normalise_for("el", "τησ χωρασ") == "της χωρας"
    assert normalise_for("ar", "كتـــاب") == "كتاب"


def test_unknown_language_gets_default_policy():
    assert normalise_for("ka", " ქართული  ენა ") == "ქართული ენა"


def test_unknown_policy_is_an_error():
    with pytest.raises(ValueError, match="unknown normalisation policy 'nope'"):
        normalise("x", "nope")
