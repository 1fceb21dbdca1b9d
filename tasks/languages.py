"""The language registry: script, direction, fonts, text sources and the scoring normalisation."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Arabic-Indic (U+0660..) and Extended Arabic-Indic / Persian (U+06F0..) digits.
_ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
_PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
_BENGALI_DIGITS = "০১২৩৪৫৬৭৮৯"
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
    faker_locale: str | None = None  # only where faker's locale gives native-script names/addresses
    # Font file-name prefixes the generator may use; empty = any font that has the glyphs.
    fonts: tuple[str, ...] = ()
    punctuation: str = ",.:;!?"
    word_separator: str = " "
    word_file: str | None = None  # a user's word list (wordlist tasks) instead of wordfreq

    @property
    def rtl(self) -> bool:
        return self.direction == "rtl"

    @property
    def text_sources(self) -> tuple[str, ...]:
        """Where synthetic text comes from, e.g. ("wordfreq:fa", "faker:fa_IR")."""
        sources = []
        if self.word_file:
            sources.append(f"word list {self.word_file}")
        if self.wordfreq:
            sources.append(f"wordfreq:{self.wordfreq}")
        if self.faker_locale:
            sources.append(f"faker:{self.faker_locale}")
        return tuple(sources)


NORMALISATION_POLICIES = {
    "default": "NFC; whitespace runs collapsed to one space and trimmed",
    "persian": (
        "NFC; whitespace collapsed; Arabic yeh U+064A and alef maksura U+0649 -> Persian yeh "
        "U+06CC; Arabic kaf U+0643 -> keheh U+06A9; Arabic-Indic digits -> Persian digits; "
        "ZWNJ U+200C kept"
    ),
    "urdu": (
        "NFC; whitespace collapsed; tatweel U+0640 removed; Arabic yeh U+064A and alef maksura "
        "U+0649 -> Farsi yeh U+06CC; Arabic kaf U+0643 -> keheh U+06A9; Arabic-Indic digits -> "
        "Extended Arabic-Indic digits; ZWNJ U+200C kept"
    ),
    "arabic": "NFC; whitespace collapsed; tatweel U+0640 removed",
    "greek": "NFC; whitespace collapsed; word-final sigma written as final sigma U+03C2",
}

_RTL_ARABIC_PUNCTUATION = "،.:!؟؛"

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
        Language(
            "fa",
            "Persian",
            "Arabic",
            "rtl",
            "fa",
            digits=_PERSIAN_DIGITS,
            normalisation="persian",
            faker_locale="fa_IR",
            punctuation=_RTL_ARABIC_PUNCTUATION,
        ),
        # ar_SA names are Arabic, its addresses mix in English words: the script filter drops those.
        Language(
            "ar",
            "Arabic",
            "Arabic",
            "rtl",
            "ar",
            digits=_ARABIC_INDIC_DIGITS,
            normalisation="arabic",
            faker_locale="ar_SA",
            punctuation=_RTL_ARABIC_PUNCTUATION,
        ),
        Language(
            "ur",
            "Urdu",
            "Arabic",
            "rtl",
            "ur",
            digits=_PERSIAN_DIGITS,
            normalisation="urdu",
            punctuation="،۔:!؟؛",
        ),
        Language("hi", "Hindi", "Devanagari", "ltr", "hi", faker_locale="hi_IN", punctuation=",।:!?"),
        Language(
            "bn",
            "Bengali",
            "Bengali",
            "ltr",
            "bn",
            digits=_BENGALI_DIGITS,
            faker_locale="bn_BD",
            punctuation=",।:!?",
        ),
        Language("ta", "Tamil", "Tamil", "ltr", "ta", faker_locale="ta_IN"),
        Language("he", "Hebrew", "Hebrew", "rtl", "he", faker_locale="he_IL", punctuation=",.:!?"),
        Language(
            "zh",
            "Chinese (Simplified)",
            "Han",
            "ltr",
            "zh",
            faker_locale="zh_CN",
            # Simplified-Chinese glyph forms; the TC/JP variants draw some characters differently.
            fonts=("KurintoSansSC", "NotoSansCJKsc", "NotoSerifCJKsc", "NotoSansSC", "NotoSerifSC"),
            punctuation="，。：；！？",
            word_separator="",
        ),
    ]
}

# Scripts whose rendering needs a shaping engine (joining, reordering, conjuncts).
# Names as the first word of Unicode character names, so a user's word list maps onto them.
COMPLEX_SCRIPTS = {
    "Arabic",
    "Hebrew",
    "Syriac",
    "Thaana",
    "Devanagari",
    "Bengali",
    "Gurmukhi",
    "Gujarati",
    "Oriya",
    "Tamil",
    "Telugu",
    "Kannada",
    "Malayalam",
    "Sinhala",
    "Thai",
    "Lao",
    "Tibetan",
    "Myanmar",
    "Khmer",
}


def get_language(code: str) -> Language:
    """The registry entry for `code`; an unknown code gets a clear error listing known ones."""
    try:
        return LANGUAGES[code]
    except KeyError:
        known = ", ".join(sorted(LANGUAGES))
        raise KeyError(f"unknown language code {code!r}; known codes: {known}") from None


def language_or_default(code: str) -> Language:
    """Registry entry, or a left-to-right entry of unknown script with default normalisation."""
    return LANGUAGES.get(code) or Language(code, code, "Unknown", "ltr", None)


def is_language_code(code: str) -> bool:
    """Whether `code` is a well-formed, registered BCP 47 / ISO 639 tag ("ka", "deu", "de-Latf")."""
    import langcodes

    return code in LANGUAGES or langcodes.tag_is_valid(code)


def _final_sigma(text: str) -> str:
    return re.sub(r"σ(?=$|[^\w])", "ς", text)


def _arabic_letters_as_persian(text: str) -> str:
    text = text.replace("\u064a", "\u06cc").replace("\u0649", "\u06cc").replace("\u0643", "\u06a9")
    return text.translate(str.maketrans(_ARABIC_INDIC_DIGITS, _PERSIAN_DIGITS))


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
        text = _arabic_letters_as_persian(text)
    elif policy == "urdu":
        text = _arabic_letters_as_persian(text.replace("\u0640", ""))
    elif policy == "arabic":
        text = text.replace("\u0640", "")
    elif policy == "greek":
        text = _final_sigma(text)
    return _WHITESPACE.sub(" ", text).strip()


def normalise_lines(text: str, policy: str = "default") -> str:
    """`normalise` each line of a (page) transcription, keeping the line breaks; drops empty lines."""
    lines = (normalise(line, policy) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def normalise_for(code: str, text: str) -> str:
    return normalise(text, language_or_default(code).normalisation)
