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
