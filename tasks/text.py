"""Synthetic line text: words from frequency lists, numbers in the language's own digits."""

from __future__ import annotations

import functools

import numpy as np

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
    "Han": [(0x4E00, 0x9FFF)],
}
_PUNCTUATION = {"rtl": ["،", ".", ":", "!", "؟"], "ltr": [",", ".", ":", "!", "?", ";"]}


def is_script_letter(char: str, script: str) -> bool:
    if script == "Latin":
        return ("a" <= char.lower() <= "z") or char.lower() in _LATIN_EXTRA
    return any(lo <= ord(char) <= hi for lo, hi in _SCRIPT_RANGES.get(script, []))


@functools.cache
def word_list(language: Language, size: int = 20000) -> tuple[tuple[str, ...], np.ndarray]:
    """The `size` most frequent words written only in the language's script, with weights."""
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
    # Flattened Zipf weights: common words common, but the tail still shows up.
    weights = 1.0 / np.sqrt(np.arange(1, len(words) + 1))
    return tuple(words), weights / weights.sum()


def _number(language: Language, rng: np.random.Generator) -> str:
    digits = str(int(rng.integers(1, 10 ** int(rng.integers(1, 6)))))
    return digits.translate(str.maketrans("0123456789", language.digits))


def sample_line(language: Language, rng: np.random.Generator, min_chars: int, max_chars: int) -> str:
    """One line of `min_chars`..`max_chars` characters of plausible text in `language`."""
    words, weights = word_list(language)
    target = int(rng.integers(min_chars, max_chars + 1))
    parts: list[str] = []
    length = -1
    while length < target:
        if rng.random() < 0.08:
            token = _number(language, rng)
        else:
            token = words[rng.choice(len(words), p=weights)]
            if language.script in ("Latin", "Cyrillic", "Greek") and rng.random() < 0.15:
                token = token[:1].upper() + token[1:]
        if length + 1 + len(token) > max_chars:
            if parts:
                break
            token = token[:max_chars]
        parts.append(token)
        length += 1 + len(token)
    line = " ".join(parts)
    if language.script in ("Latin", "Cyrillic", "Greek") and rng.random() < 0.5:
        line = line[:1].upper() + line[1:]
    if rng.random() < 0.3 and len(line) < max_chars:
        line += str(rng.choice(_PUNCTUATION[language.direction]))
    return normalise(line, language.normalisation)
