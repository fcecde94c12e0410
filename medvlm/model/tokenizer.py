"""The ``tiny`` preset's tokenizer: byte-level BPE trained locally on the report corpus (no download)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from medvlm.errors import ConfigError

PAD, BOS, EOS, UNK, IMAGE = "<pad>", "<s>", "</s>", "<unk>", "<image>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK, IMAGE]

# Words the prompts and Q&A answers always use, so they exist even when a corpus is small.
PROMPT_WORDS = [
    "findings:",
    "none",
    "report:",
    "impression:",
    "question:",
    "answer:",
    "yes",
    "no",
    "left",
    "right",
    "bilateral",
    "is there",
    "which side",
    "how severe",
    "the",
    "normal",
    "present",
    "absent",
]


def train_tokenizer(
    corpus: Iterable[str],
    vocab_size: int = 2048,
    named_tokens: dict[str, str] | None = None,
    extra_tokens: Sequence[str] = (),
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on ``corpus`` (reports, ontology phrases, finding names).

    ``named_tokens`` (``{"image_token": "<image_soft_token>", ...}``) and ``extra_tokens`` add special tokens
    that a checkpoint's processor looks up (used by ``medvlm.model.tiny_checkpoints``)."""
    named = {"image_token": IMAGE, **(named_tokens or {})}
    specials = list(dict.fromkeys([*SPECIAL_TOKENS, *named.values(), *extra_tokens]))
    texts = [t for t in corpus if t and t.strip()]
    if not texts:
        raise ConfigError("the tokenizer corpus is empty; pass report texts or ontology phrases")
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([*texts, *PROMPT_WORDS * 3], trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        extra_special_tokens=named,
        padding_side="left",
    )
