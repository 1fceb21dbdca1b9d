"""`fedocr models list`: every backend, its LoRA targets, and whether it runs here (and why not)."""

import torch

from benchmark.backends import BACKENDS
from benchmark.cli import main


def test_models_list_names_every_backend_and_whether_it_runs(capsys):
    assert main(["models", "list"]) == 0
    listing: dict[str, list[str]] = {}
    name = ""
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("  "):
            listing[name].append(line.strip())
        else:
            name = line.split(":", 1)[0]
            listing[name] = []
    assert list(listing) == list(BACKENDS)
    for lines in listing.values():
        assert sum(line.startswith("LoRA targets: ") for line in lines) == 1
        assert lines[-1].startswith("runs here: ")
    assert "LoRA defaults: r=16, alpha=16, dropout=0.0" in listing["deepseek-ocr2"]
    assert any(line.startswith("model.resolution: dynamic | single") for line in listing["deepseek-ocr2"])
    if not torch.cuda.is_available():
        assert listing["deepseek-ocr"][-1].startswith("runs here: no (needs a CUDA GPU")
