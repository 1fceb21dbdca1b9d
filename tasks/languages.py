"""The language registry: script, direction, text source and the scoring normalisation."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Arabic-Indic (U+0660..) and Extended Arabic-Indic / Persian (U+06F0..) digits.
_ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
_PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    script: str
    direction: str  # "ltr" or "rtl"
    wordfreq: str | None  # wordfreq language code used for synthetic text, None if none
    digits: str = "0123456789"  # digits the synthetic generator writes numbers with
    normalisation: str = "default"  # policy name, see NORMALISATION_POLICIES
    faker_locale: str | None = None  # only where faker's locale gives native text

    @property
    def rtl(self) -> bool:
        return self.direction == "rtl"


NORMALISATION_POLICIES = {
    "default": "NFC; whitespace runs collapsed to one space and trimmed",
    "persian": (
        "NFC; whitespace collapsed; Arabic yeh U+064A and alef maksura U+0649 -> Persian yeh "
        "U+06CC; Arabic kaf U+0643 -> keheh U+06A9; Arabic-Indic digits -> Persian digits; "
        "ZWNJ U+200C kept"
    ),
    "arabic": "NFC; whitespace collapsed; tatweel U+0640 removed",
    "greek": "NFC; whitespace collapsed; word-final sigma written as final sigma U+03C2",
}


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("en", "English", "Latin", "ltr", "en", faker_locale="en_US"),
        Language("de", "German", "Latin", "ltr", "de", faker_locale="de_DE"),
        Language("fr", "French", "Latin", "ltr", "fr", faker_locale="fr_FR"),
        Language("es", "Spanish", "Latin", "ltr", "es", faker_locale="es_ES"),
        Language("ru", "Russian", "Cyrillic", "ltr", "ru", faker_locale="ru_RU"),
        Language("uk", "Ukrainian", "Cyrillic", "ltr", "uk", faker_locale="uk_UA"),
        Language("el", "Greek", "Greek", "ltr", "el", normalisation="greek", faker_locale="el_GR"),
        Language("fa", "Persian", "Arabic", "rtl", "fa", _PERSIAN_DIGITS, "persian"),
        Language("ar", "Arabic", "Arabic", "rtl", "ar", _ARABIC_INDIC_DIGITS, "arabic"),
        Language("ur", "Urdu", "Arabic", "rtl", "ur", _PERSIAN_DIGITS, "arabic"),
        Language("hi", "Hindi", "Devanagari", "ltr", "hi"),
        Language("he", "Hebrew", "Hebrew", "rtl", "he"),
        Language("zh", "Chinese (Simplified)", "Han", "ltr", "zh", faker_locale="zh_CN"),
    ]
}

# Scripts whose rendering needs a shaping engine (joining, reordering, conjuncts).
COMPLEX_SCRIPTS = {"Arabic", "Hebrew", "Devanagari"}


def get_language(code: str) -> Language:
    """The registry entry for `code`; an unknown code gets a clear error listing known ones."""
    try:
        return LANGUAGES[code]
    except KeyError:
        known = ", ".join(sorted(LANGUAGES))
        raise KeyError(f"unknown language code {code!r}; known codes: {known}") from None


def language_or_default(code: str) -> Language:
    """Registry entry, or a Latin-script left-to-right entry with default normalisation."""
    return LANGUAGES.get(code) or Language(code, code, "Unknown", "ltr", None)


def _final_sigma(text: str) -> str:
    return re.sub(r"σ(?=$|[^\w])", "ς", text)


def normalise(text: str, policy: str = "default") -> str:
    """Normalise `text` for scoring under a named policy (both reference and prediction)."""
    if policy not in NORMALISATION_POLICIES:
        raise ValueError(
            f"unknown normalisation policy {policy!r}; known: {', '.join(NORMALISATION_POLICIES)}"
        )
    # Lone surrogates cannot be encoded and would crash downstream writers.
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFC", text)
    if policy == "persian":
        text = text.replace("\u064a", "\u06cc").replace("\u0649", "\u06cc")
        text = text.replace("\u0643", "\u06a9")
        text = text.translate(str.maketrans(_ARABIC_INDIC_DIGITS, _PERSIAN_DIGITS))
    elif policy == "arabic":
        text = text.replace("\u0640", "")
    elif policy == "greek":
        text = _final_sigma(text)
    return _WHITESPACE.sub(" ", text).strip()


def normalise_for(code: str, text: str) -> str:
    return normalise(text, language_or_default(code).normalisation)
