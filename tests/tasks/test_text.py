import numpy as np
import pytest

from tasks.languages import LANGUAGES
from tasks.text import (
    DOCUMENT_STYLES,
    guess_direction,
    guess_script,
    in_script,
    parse_word_file,
    sample_line,
    user_language,
    word_list,
)


def lines(code, count=150, seed=0):
    rng = np.random.default_rng(seed)
    return [sample_line(LANGUAGES[code], rng, 8, 40) for _ in range(count)]


@pytest.mark.parametrize("code", ["fa", "ar", "hi", "he", "ru", "zh", "bn"])
def test_lines_stay_in_the_script_and_include_document_fields(code):
    drawn = lines(code)
    assert all(in_script(line, LANGUAGES[code]) for line in drawn)
    assert all(8 <= len(line) <= 41 for line in drawn)  # 40 + an optional final punctuation mark
    labels = tuple(DOCUMENT_STYLES[code].labels.values())
    assert any(line.startswith(labels) for line in drawn)


def test_persian_fields_use_persian_letters_and_digits():
    text = "".join(lines("fa", 300))
    # faker's fa_IR mixes in Arabic yeh; Persian documents write Persian digits.
    assert "\u064a" not in text and "\u0643" not in text
    assert not any("0" <= c <= "9" for c in text) and any("\u06f0" <= c <= "\u06f9" for c in text)


def test_arabic_lines_drop_fakers_english_address_words():
    assert not any(c.isascii() and c.isalpha() for c in "".join(lines("ar", 300)))


def test_chinese_is_written_without_spaces():
    assert not any(" " in line for line in lines("zh"))


def test_word_file_counts_tabs_and_running_text(tmp_path):
    path = tmp_path / "words.txt"
    path.write_bytes("ენა\t7\n«სახლი», წყალი!\n".encode() + b"\xffbad\n")
    entries, problems = parse_word_file(path)
    assert entries == [(1, "ენა", 7), (2, "სახლი", 1), (2, "წყალი", 1)]
    assert [str(p) for p in problems] == [f"{path} line 3: not valid UTF-8 (invalid start byte at byte 0)"]
    language = user_language("ka", str(path))
    assert (language.script, language.direction) == ("Georgian", "ltr")
    words, weights = word_list(language)
    assert words[0] == "ენა" and weights[0] > weights[-1]


def test_script_and_direction_are_guessed_from_the_words():
    assert guess_script(["שלום", "עולם"]) == "Hebrew" and guess_direction(["שלום", "עולם"]) == "rtl"
    assert guess_script(["ሰላም"]) == "Ethiopic" and guess_direction(["ሰላም"]) == "ltr"
