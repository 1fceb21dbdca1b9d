"""The GPU check refuses to run without CUDA, and its measurement runs end to end on a tiny model."""

import pytest
import torch

from benchmark import gpu_check
from benchmark.config import ModelConfig


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_without_cuda_it_exits_2_and_says_why(capsys):
    assert gpu_check.main([]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_measurement_on_a_tiny_model():
    cfg = ModelConfig(backend="deepseek-ocr2", size="tiny", device="cpu")
    result = gpu_check.measure(cfg, steps=2, batch_size=2, new_tokens=4)
    assert result["step_seconds"] > 0 and result["train_tokens_per_second"] > 0
    assert result["trainable"] > 0 and result["peak_gpu_gib"] is None
