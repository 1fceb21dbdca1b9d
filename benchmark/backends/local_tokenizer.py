"""A byte-level tokenizer built in code, for tiny random models: nothing is downloaded.

One token per UTF-8 byte (no merges), so every language's text round-trips exactly, plus the
special tokens a model family's processor looks for.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, processors
from tokenizers.pre_tokenizers import ByteLevel
from transformers import PreTrainedTokenizerFast


def byte_level_tokenizer(
    special_tokens: list[str],
    *,
    eos_token: str,
    pad_token: str,
    bos_token: str | None = None,
    add_bos: bool = False,
    add_eos: bool = False,
    named_tokens: dict[str, str] | None = None,
    chat_template: str | None = None,
) -> PreTrainedTokenizerFast:
    """Ids 0-255 are bytes, then `special_tokens` in order (which must include bos/eos/pad).

    `named_tokens` become tokenizer attributes (e.g. {"image_token": "<image>"} gives
    `tokenizer.image_token` and `tokenizer.image_token_id`), as processors expect.
    `add_bos` / `add_eos` wrap encoded text the way the family's real tokenizer does.
    """
    vocab = {symbol: i for i, symbol in enumerate(sorted(ByteLevel.alphabet()))}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(special_tokens)
    wrap = ([bos_token] if add_bos else []) + ["$A"] + ([eos_token] if add_eos else [])
    if len(wrap) > 1:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=" ".join(wrap), special_tokens=[(t, tokenizer.token_to_id(t)) for t in wrap if t != "$A"]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos_token,
        eos_token=eos_token,
        pad_token=pad_token,
        extra_special_tokens=named_tokens or {},
        chat_template=chat_template,
    )
