"""Synthetic text: words from frequency lists (or a user's word list) and document fields
(names, addresses, dates, amounts, numbers), each line in one script."""

from __future__ import annotations

import collections
import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.checks import Problem
from tasks.languages import Language, normalise

# Which characters count as a script's letters (a word with any other character is dropped,
# so every generated line is made of one script plus digits and punctuation).
_LATIN_EXTRA = set("ßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿœ")
_SCRIPT_RANGES = {
    "Cyrillic": [(0x0400, 0x04FF)],
    "Greek": [(0x0370, 0x03FF)],
    "Arabic": [(0x0620, 0x064A), (0x0671, 0x06D3), (0x200C, 0x200C)],
    "Hebrew": [(0x05D0, 0x05EA)],
    "Devanagari": [(0x0900, 0x097F)],
    "Bengali": [(0x0980, 0x09FF)],
    "Tamil": [(0x0B80, 0x0BFF)],
    "Han": [(0x4E00, 0x9FFF)],
}
_CASED_SCRIPTS = ("Latin", "Cyrillic", "Greek")
# Share of generated lines that are document fields (where the language has a document style).
FIELD_LINE_SHARE = 0.3


def is_script_letter(char: str, script: str) -> bool:
    if script == "Latin":
        return ("a" <= char.lower() <= "z") or char.lower() in _LATIN_EXTRA
    return any(lo <= ord(char) <= hi for lo, hi in _SCRIPT_RANGES.get(script, []))


def in_script(line: str, language: Language) -> bool:
    """Whether `line` is written in the language's script: its letters, its digits, spaces,
    punctuation and currency signs only. Languages of unknown script are not filtered."""
    if language.script != "Latin" and language.script not in _SCRIPT_RANGES:
        return True
    return all(
        is_script_letter(c, language.script)
        or c in language.digits
        or c.isspace()
        or unicodedata.category(c)[0] == "P"
        or unicodedata.category(c) == "Sc"
        for c in line
    )


def _zipf_weights(count: int) -> np.ndarray:
    # Flattened Zipf weights: common words common, but the tail still shows up.
    weights = 1.0 / np.sqrt(np.arange(1, count + 1))
    return weights / weights.sum()


@functools.cache
def word_list(language: Language, size: int = 20000) -> tuple[tuple[str, ...], np.ndarray]:
    """The `size` most frequent words written only in the language's script, with weights."""
    if language.word_file:
        entries, _ = parse_word_file(language.word_file)
        counts = collections.Counter()
        for _, word, count in entries:
            counts[word] += count
        words = [w for w, _ in counts.most_common(size)]
        if not words:
            raise ValueError(f"no usable words in {language.word_file}")
        return tuple(words), _zipf_weights(len(words))

    import wordfreq

    if language.wordfreq is None:
        raise ValueError(f"{language.name} ({language.code}) has no word-frequency list")
    if language.wordfreq not in wordfreq.available_languages():
        raise ValueError(f"wordfreq has no list for {language.wordfreq!r}")
    words = [
        normalise(w.strip("\u200c"), language.normalisation)
        for w in wordfreq.top_n_list(language.wordfreq, size)
        if w.strip("\u200c") and all(is_script_letter(c, language.script) for c in w)
    ]
    if not words:
        raise ValueError(f"no {language.script}-script words in wordfreq's {language.wordfreq!r}")
    return tuple(words), _zipf_weights(len(words))


def parse_word_file(path: str | Path) -> tuple[list[tuple[int, str, int]], list[Problem]]:
    """(line number, word, count) entries of a word list or a plain text, and its problems.

    A line `word<TAB>count` gives a word and its count; any other line is running text whose
    words (punctuation stripped from their ends) count once each.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        return [], [Problem(str(path), f"cannot read the word file ({err.strerror or err})")]
    entries, problems = [], []
    for number, line_bytes in enumerate(raw.splitlines(), start=1):
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError as err:
            problems.append(
                Problem(f"{path} line {number}", f"not valid UTF-8 ({err.reason} at byte {err.start})")
            )
            continue
        line = unicodedata.normalize("NFC", line.lstrip("\ufeff"))
        word, tab, count = line.partition("\t")
        if tab and word.strip() and count.strip().isdigit():
            entries.append((number, word.strip(), int(count)))
            continue
        for token in line.split():
            token = _strip_punctuation(token)
            if token:
                entries.append((number, token, 1))
    if not entries and not problems:
        problems.append(Problem(str(path), "no words in the file"))
    return entries, problems


def _strip_punctuation(token: str) -> str:
    start, end = 0, len(token)
    while start < end and unicodedata.category(token[start])[0] == "P":
        start += 1
    while end > start and unicodedata.category(token[end - 1])[0] == "P":
        end -= 1
    return token[start:end]


def guess_script(words: list[str]) -> str:
    """The Unicode script most letters of `words` belong to ("Georgian", "Arabic", ...)."""
    counts = collections.Counter(
        unicodedata.name(c, "UNKNOWN").split()[0].title() for w in words for c in w if c.isalpha()
    )
    return counts.most_common(1)[0][0] if counts else "Unknown"


def guess_direction(words: list[str]) -> str:
    strong = [unicodedata.bidirectional(c) for w in words for c in w]
    rtl = sum(b in ("R", "AL") for b in strong)
    return "rtl" if rtl > sum(b == "L" for b in strong) else "ltr"


@functools.cache
def user_language(code: str, word_file: str, direction: str = "") -> Language:
    """A language the registry does not know, described by a user's word list."""
    words = [w for _, w, _ in parse_word_file(word_file)[0][:5000]]
    return Language(
        code,
        code,
        guess_script(words),
        direction or guess_direction(words),
        wordfreq=None,
        word_file=word_file,
    )


@dataclass(frozen=True)
class DocumentStyle:
    """How documents in a language write field labels, dates and amounts."""

    labels: dict[str, str]  # name, address, date, amount, number
    date: str  # format with {d} {m} {y}
    group: str  # thousands separator
    decimal: str  # "" = amounts have no fractional part
    currency: str  # format with {} for the amount
    colon: str = ": "
    years: tuple[int, int] = (1950, 2025)


def _labels(name: str, address: str, date: str, amount: str, number: str) -> dict[str, str]:
    return {"name": name, "address": address, "date": date, "amount": amount, "number": number}


DOCUMENT_STYLES: dict[str, DocumentStyle] = {
    "en": DocumentStyle(
        _labels("Name", "Address", "Date", "Amount", "Invoice No."), "{m}/{d}/{y}", ",", ".", "${}"
    ),
    "de": DocumentStyle(
        _labels("Name", "Anschrift", "Datum", "Betrag", "Rechnungsnr."), "{d}.{m}.{y}", ".", ",", "{} €"
    ),
    "fr": DocumentStyle(
        _labels("Nom", "Adresse", "Date", "Montant", "Facture n°"),
        "{d}/{m}/{y}",
        " ",
        ",",
        "{} €",
        colon=" : ",
    ),
    "es": DocumentStyle(
        _labels("Nombre", "Dirección", "Fecha", "Importe", "Factura n.º"), "{d}/{m}/{y}", ".", ",", "{} €"
    ),
    "ru": DocumentStyle(
        _labels("ФИО", "Адрес", "Дата", "Сумма", "Номер"), "{d}.{m}.{y}", " ", ",", "{} руб."
    ),
    "uk": DocumentStyle(_labels("ПІБ", "Адреса", "Дата", "Сума", "Номер"), "{d}.{m}.{y}", " ", ",", "{} грн"),
    "el": DocumentStyle(
        _labels("Ονοματεπώνυμο", "Διεύθυνση", "Ημερομηνία", "Ποσό", "Αριθμός"),
        "{d}/{m}/{y}",
        ".",
        ",",
        "{} €",
    ),
    # Persian documents date by the Solar Hijri calendar (years 13xx-14xx) and count whole rials.
    "fa": DocumentStyle(
        _labels("نام", "نشانی", "تاریخ", "مبلغ", "شماره"),
        "{y}/{m}/{d}",
        "٬",
        "",
        "{} ریال",
        years=(1320, 1404),
    ),
    "ar": DocumentStyle(
        _labels("الاسم", "العنوان", "التاريخ", "المبلغ", "الرقم"), "{y}/{m}/{d}", "٬", "٫", "{} ريال"
    ),
    "ur": DocumentStyle(_labels("نام", "پتہ", "تاریخ", "رقم", "نمبر"), "{d}/{m}/{y}", ",", "", "{} روپے"),
    "hi": DocumentStyle(_labels("नाम", "पता", "दिनांक", "राशि", "क्रमांक"), "{d}/{m}/{y}", ",", ".", "{} रुपये"),
    "bn": DocumentStyle(_labels("নাম", "ঠিকানা", "তারিখ", "পরিমাণ", "নম্বর"), "{d}/{m}/{y}", ",", ".", "{} টাকা"),
    "ta": DocumentStyle(_labels("பெயர்", "முகவரி", "தேதி", "தொகை", "எண்"), "{d}/{m}/{y}", ",", ".", "{} ரூபாய்"),
    "he": DocumentStyle(_labels("שם", "כתובת", "תאריך", "סכום", "מספר"), "{d}/{m}/{y}", ",", ".", "{} ₪"),
    "zh": DocumentStyle(
        _labels("姓名", "地址", "日期", "金额", "编号"), "{y}年{m}月{d}日", ",", ".", "{}元", colon="："
    ),
}


@functools.cache
def _faker(locale: str):
    from faker import Faker

    return Faker(locale)


def _in_digits(text: str, language: Language) -> str:
    return text.translate(str.maketrans("0123456789", language.digits))


def _amount(style: DocumentStyle, rng: np.random.Generator) -> str:
    whole = int(10 ** rng.uniform(1, 7))
    grouped = f"{whole:,}".replace(",", style.group)
    if style.decimal:
        grouped += f"{style.decimal}{int(rng.integers(100)):02d}"
    return style.currency.format(grouped)


def _field_value(kind: str, language: Language, style: DocumentStyle, rng: np.random.Generator) -> str:
    if kind in ("name", "address"):
        fake = _faker(language.faker_locale)
        fake.seed_instance(int(rng.integers(2**32)))
        if kind == "name":
            value = fake.name()
        else:
            value = [fake.city, fake.street_address, fake.address][int(rng.integers(3))]()
        comma = language.punctuation[0]
        return _in_digits(value.replace("\n", ", ").replace(",", comma), language)
    if kind == "date":
        y, m, d = int(rng.integers(*style.years)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        return _in_digits(style.date.format(y=y, m=f"{m:02d}", d=f"{d:02d}"), language)
    if kind == "amount":
        return _in_digits(_amount(style, rng), language)
    return _in_digits(f"{int(rng.integers(10, 10000))}-{int(rng.integers(10**4, 10**7))}", language)


def sample_field_line(language: Language, rng: np.random.Generator, max_chars: int) -> str | None:
    """A document field ("Date: 12.03.2021", a name, an address), or None when the language has
    no document style or the drawn field does not fit in `max_chars` or leaves the script."""
    style = DOCUMENT_STYLES.get(language.code)
    if style is None or language.word_file:
        return None
    kinds = ["date", "amount", "number"] + (["name", "address"] if language.faker_locale else [])
    kind = kinds[int(rng.integers(len(kinds)))]
    value = _field_value(kind, language, style, rng)
    line = value if rng.random() < 0.3 else f"{style.labels[kind]}{style.colon}{value}"
    line = normalise(line, language.normalisation)
    if len(line) > max_chars or not in_script(line, language):
        return None
    return line


def _number(language: Language, rng: np.random.Generator) -> str:
    return _in_digits(str(int(rng.integers(1, 10 ** int(rng.integers(1, 6))))), language)


def sample_words_line(language: Language, rng: np.random.Generator, min_chars: int, max_chars: int) -> str:
    """Words (and some numbers) of `min_chars`..`max_chars` characters in all."""
    words, weights = word_list(language)
    separator = language.word_separator
    cased = language.script in _CASED_SCRIPTS
    target = int(rng.integers(min_chars, max_chars + 1))
    parts: list[str] = []
    length = -len(separator)
    while length < target:
        if rng.random() < 0.08:
            token = _number(language, rng)
        else:
            token = words[rng.choice(len(words), p=weights)]
            if cased and rng.random() < 0.15:
                token = token[:1].upper() + token[1:]
        if length + len(separator) + len(token) > max_chars:
            if parts:
                break
            token = token[:max_chars]
        parts.append(token)
        length += len(separator) + len(token)
    line = separator.join(parts)
    if cased and rng.random() < 0.5:
        line = line[:1].upper() + line[1:]
    if rng.random() < 0.3 and len(line) < max_chars:
        line += language.punctuation[int(rng.integers(len(language.punctuation)))]
    return normalise(line, language.normalisation)


def sample_line(language: Language, rng: np.random.Generator, min_chars: int, max_chars: int) -> str:
    """One line of plausible document text in `language`: mostly running words, some fields."""
    if rng.random() < FIELD_LINE_SHARE:
        field = sample_field_line(language, rng, max_chars)
        if field is not None and len(field) >= min_chars:
            return field
    return sample_words_line(language, rng, min_chars, max_chars)
