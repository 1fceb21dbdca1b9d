"""DeepSeek-OCR v1 needs CUDA and its weights: here only its errors can be checked."""

import pytest
import torch

from benchmark.backends import BackendUnavailable, backend_class, load_backend

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the errors of a machine without CUDA"
)


def test_availability_says_cuda_is_needed():
    ok, why = backend_class("deepseek-ocr").availability()
    assert not ok and "CUDA" in why


def test_without_weights_the_error_says_what_to_download(model_config):
    with pytest.raises(
        BackendUnavailable, match=r"hf download unsloth/DeepSeek-OCR --local-dir models/DeepSeek-OCR"
    ):
        load_backend(model_config("deepseek-ocr", size="base")).load()


def test_with_weights_but_no_gpu_the_error_says_cuda(model_config, tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "deepseek_vl_v2"}')
    for accelerator in ("none", "unsloth"):
        cfg = model_config("deepseek-ocr", size="base", path=str(tmp_path), accelerator=accelerator)
        with pytest.raises(BackendUnavailable, match="only on a CUDA GPU"):
            load_backend(cfg).load()


def test_unknown_settings_name_the_choices(model_config, tmp_path):
    with pytest.raises(BackendUnavailable, match="none or unsloth"):
        load_backend(model_config("deepseek-ocr", path=str(tmp_path), accelerator="vllm")).load()
    with pytest.raises(BackendUnavailable, match="tiny, small, base, large, gundam"):
        load_backend(model_config("deepseek-ocr", path=str(tmp_path), resolution="huge")).load()
