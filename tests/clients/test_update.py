import pytest
import torch

from clients.client import Update


def test_update_carries_tensors_count_and_whitelisted_metrics_only():
    u = Update(3, {"a.lora_A.weight": torch.zeros(2, 4)}, 10, {"train_loss": 1.5})
    assert u.nbytes() == 32
    with pytest.raises(TypeError):
        u.tensors["x"] = torch.zeros(1)  # read-only after construction
    with pytest.raises(ValueError, match="'texts' is not allowed across the privacy boundary"):
        Update(0, {}, 1, {"texts": 1.0})
    with pytest.raises(TypeError, match="must be a number"):
        Update(0, {}, 1, {"train_loss": "a line of text"})
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        Update(0, {"w": [1, 2, 3]}, 1)
    with pytest.raises(ValueError, match="num_examples must be a positive int"):
        Update(0, {}, 0)
