import numpy as np
import pytest
from PIL import features

from tasks import render
from tasks.languages import get_language
from tasks.synthetic import SyntheticSpec, synthetic_splits


@pytest.mark.parametrize("code", ["fa", "ru", "hi", "en", "he", "ar"])
def test_splits_have_columns_and_share_no_text(code):
    train, test = synthetic_splits(SyntheticSpec(code, 40, 15), workers=1)
    assert set(train.column_names) >= {"image", "text", "language", "id"}
    assert len(train) == 40 and len(test) == 15
    assert not set(train["text"]) & set(test["text"])
    assert set(train["language"]) == {code}
    image = test[0]["image"]
    assert image.mode == "L" and image.height >= 16 and image.width > image.height


def test_generation_is_deterministic_for_a_seed_and_varies_with_it():
    a_train, a_test = synthetic_splits(SyntheticSpec("fa", 10, 5, seed=3), workers=1, use_cache=False)
    b_train, b_test = synthetic_splits(SyntheticSpec("fa", 10, 5, seed=3), workers=2, use_cache=False)
    c_train, _ = synthetic_splits(SyntheticSpec("fa", 10, 5, seed=4), workers=1, use_cache=False)
    assert a_train["text"] == b_train["text"] and a_test["text"] == b_test["text"]
    assert np.array_equal(np.asarray(a_train[0]["image"]), np.asarray(b_train[0]["image"]))
    assert a_train["text"] != c_train["text"]


def test_levels_degrade_the_image():
    clean = synthetic_splits(SyntheticSpec("ru", 0, 20, level="clean"), workers=1)[1]
    degraded = synthetic_splits(SyntheticSpec("ru", 0, 20, level="degraded"), workers=1)[1]
    assert clean["text"] == degraded["text"]
    # A clean render is pure black-on-white; a degraded one has grey paper and noise.
    clean_vals = np.unique(np.asarray(clean[0]["image"]))
    assert clean_vals.max() == 255
    assert np.asarray(degraded[0]["image"]).std() > 0 and np.median(np.asarray(degraded[0]["image"])) < 250


def test_complex_script_without_shaping_engine_is_refused(monkeypatch):
    monkeypatch.setattr(features, "check", lambda name: False if name == "raqm" else True)
    rng = np.random.default_rng(0)
    with pytest.raises(render.RenderError, match="needs text shaping"):
        render.render_line("سلام", get_language("fa"), "unused.ttf", 24, rng)


def test_pages_hold_several_distinct_lines_in_reading_order():
    spec = SyntheticSpec("fa", 3, 2, granularity="page", lines_per_page=(3, 5), min_chars=15, max_chars=40)
    train, test = synthetic_splits(spec, workers=1, use_cache=False)
    again, _ = synthetic_splits(spec, workers=2, use_cache=False)
    assert train["text"] == again["text"]
    assert np.array_equal(np.asarray(train[0]["image"]), np.asarray(again[0]["image"]))
    train_lines = [line for t in train["text"] for line in t.split("\n")]
    test_lines = [line for t in test["text"] for line in t.split("\n")]
    assert all(3 <= len(t.split("\n")) <= 5 for t in list(train["text"]) + list(test["text"]))
    assert len(set(train_lines + test_lines)) == len(train_lines + test_lines)
    page = np.asarray(test[0]["image"])
    # Ink rows separated by paper rows: one band per line.
    inked = (page < 160).any(axis=1)
    bands = int(inked[0]) + int(np.sum(inked[1:] & ~inked[:-1]))
    assert bands >= len(test[0]["text"].split("\n"))


def test_word_list_generation_is_deterministic(tmp_path):
    words = tmp_path / "ka.txt"
    words.write_text("საქართველო თბილისი ენა წიგნი სახლი წყალი პური ქალაქი სკოლა მზე", encoding="utf-8")
    spec = SyntheticSpec("ka", 6, 3, word_file=str(words), seed=5)
    a_train, a_test = synthetic_splits(spec, workers=1, use_cache=False)
    b_train, b_test = synthetic_splits(spec, workers=1, use_cache=False)
    assert a_train["text"] == b_train["text"] and a_test["text"] == b_test["text"]
    assert np.array_equal(np.asarray(a_test[2]["image"]), np.asarray(b_test[2]["image"]))
    # The cache key follows the word file's content.
    before = spec.cache_key()
    words.write_text("ენა სახლი", encoding="utf-8")
    assert spec.cache_key() != before


def test_tasks_of_the_same_language_draw_different_text():
    plain = synthetic_splits(SyntheticSpec("ru", 0, 10), workers=1, use_cache=False)[1]
    task = synthetic_splits(SyntheticSpec("ru", 0, 10, stream="my-task"), workers=1, use_cache=False)[1]
    assert not set(plain["text"]) & set(task["text"])


def test_scanned_paper_has_texture_and_han_uses_simplified_fonts():
    scanned = synthetic_splits(SyntheticSpec("zh", 0, 6, level="scanned"), workers=1, use_cache=False)[1]
    paper = np.asarray(scanned[0]["image"])[:2].astype(float)  # the top margin: no ink
    assert paper.std() > 0.5
    assert all(font.startswith("KurintoSansSC") for font in scanned["font"])
