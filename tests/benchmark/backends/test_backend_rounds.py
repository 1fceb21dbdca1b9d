"""Every real-model backend, at tiny size: labels mask all but the answer, a 2-client federated
round trains and aggregates, and the saved adapter reloads onto a fresh base to the same outputs."""

import numpy as np
import pytest
import torch
from peft import PeftModel

from benchmark.adapters import AdapterSlots
from benchmark.backends import load_backend
from benchmark.config import LoraSettings
from benchmark.strategies import fedavg
from clients.client import Client, LocalTraining, Workspace

CASES = {
    "deepseek-ocr2": ("deepseek-ocr2", {}),
    "got-ocr2": ("image-text-to-text", {"family": "got-ocr2"}),
    "paddleocr-vl": ("image-text-to-text", {"family": "paddleocr-vl"}),
    "vision-encoder-decoder": ("vision-encoder-decoder", {}),
}


@pytest.fixture(params=list(CASES), scope="module")
def case(request):
    return request.param


@pytest.fixture
def config(case, model_config):
    backend, settings = CASES[case]
    return model_config(backend, **settings)


def image_token_id(backend):
    processor = getattr(backend, "processor", None)
    return getattr(processor, "image_token_id", None)


def test_labels_are_exactly_the_answer_tokens_and_eos(config, lines):
    backend = load_backend(config)
    backend.load()
    pool = backend.prepare(lines[0])
    rows = np.arange(len(pool))
    batch = backend.training_batch(pool, rows)
    labels = batch["labels"]
    eos = backend.tokenizer.eos_token_id
    for i, row in enumerate(rows):
        text = pool.texts[row]
        answer = backend.tokenizer(text, add_special_tokens=False)["input_ids"]
        assert labels[i][labels[i] != -100].tolist() == answer + [eos]
        assert backend.tokenizer.decode(answer) == text
    if "input_ids" in batch:  # decoder-only: the prompt, with its image tokens, is never a target
        image_id = image_token_id(backend)
        is_image = batch["input_ids"] == image_id
        assert is_image.sum(1).min() > 0
        assert (labels[is_image] == -100).all()
        first_answer = (labels != -100).int().argmax(1)
        for i, start in enumerate(first_answer):
            assert (labels[i, :start] == -100).all()
            assert batch["attention_mask"][i, :start].all()  # prompt tokens, not padding
    else:  # encoder-decoder: the decoder's prompt (TrOCR's <s>) follows the start token, unlabelled
        prompt = len(backend.prompt)
        assert prompt > 0 and (labels[:, :prompt] == -100).all()
        assert (batch["decoder_input_ids"][:, 1 : prompt + 1] == torch.tensor(backend.prompt)).all()


def test_federated_round_and_adapter_reload(config, lines, tmp_path):
    torch.manual_seed(0)
    backend = load_backend(config)
    model = backend.wrap_with_lora(backend.load(), LoraSettings(r=4, alpha=8))
    slots = AdapterSlots(model)
    pool, test = backend.prepare(lines[0]), backend.prepare(lines[1])
    ws = Workspace(model=model, slots=slots, backend=backend, data=pool)
    clients = [Client(0, np.arange(0, 4), seed=0), Client(1, np.arange(4, 8), seed=0)]
    start = slots.read()
    updates = [c.fit(ws, start, 1, LocalTraining(steps=2, batch_size=4, lr=1e-2)) for c in clients]
    assert all(np.isfinite(u.metrics["train_loss"]) for u in updates)
    global_state = fedavg(updates)
    trained_b = [v for k, v in global_state.items() if "lora_B" in k]
    assert trained_b and all(v.abs().sum() > 0 for v in trained_b)  # B starts at zero

    slots.write(global_state)
    rows = np.arange(len(test))
    bound = backend.max_new_tokens(test.texts)
    predictions = backend.generate(model, test, rows, bound)
    assert len(predictions) == len(test) and all(isinstance(p, str) for p in predictions)
    probe = backend.training_batch(test, rows)
    with torch.no_grad():
        logits = model(**probe).logits
        with model.disable_adapter():
            assert not torch.allclose(model(**probe).logits, logits, atol=1e-5)  # the adapter matters

    model.save_pretrained(str(tmp_path / "adapter"))
    fresh = load_backend(config)
    reloaded = PeftModel.from_pretrained(fresh.load(), str(tmp_path / "adapter")).eval()
    fresh_test = fresh.prepare(lines[1])
    assert fresh.generate(reloaded, fresh_test, rows, bound) == predictions
    with torch.no_grad():
        assert torch.allclose(reloaded(**fresh.training_batch(fresh_test, rows)).logits, logits, atol=1e-5)
