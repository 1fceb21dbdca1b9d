import pytest

from tasks.languages import (
    LANGUAGES,
    NORMALISATION_POLICIES,
    get_language,
    is_language_code,
    normalise,
    normalise_for,
    normalise_lines,
)


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


def test_urdu_policy_maps_arabic_letters_removes_tatweel_and_keeps_zwnj():
    assert (
        normalise_for("ur", "\u0643\u0640\u062a\u0627\u0628 \u064a \u0661\u200c")
        == "\u06a9\u062a\u0627\u0628 \u06cc \u06f1\u200c"
    )


def test_every_registry_language_has_a_policy_text_source_and_direction():
    for lang in LANGUAGES.values():
        assert lang.normalisation in NORMALISATION_POLICIES
        assert lang.direction in ("ltr", "rtl") and lang.text_sources
        assert len(lang.digits) == 10 and lang.punctuation


def test_page_transcriptions_keep_their_line_breaks():
    assert normalise_lines(" first  line \n\n\u064a second\n", "persian") == "first line\n\u06cc second"


def test_language_codes_are_checked_against_iso_639():
    assert is_language_code("ka") and is_language_code("deu") and is_language_code("de-Latf")
    assert not is_language_code("xx") and not is_language_code("german")
