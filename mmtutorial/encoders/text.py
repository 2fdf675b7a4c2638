"""Text: a WordPiece tokenizer trained on captions (HF ``tokenizers``) and a small Transformer encoder.

    ids (B, T) --embed + learned positions--> (B, 1+T, D) with a [CLS] slot --pre-norm blocks--> tokens
    pooled = tokens[:, 0] ("cls") or the mean over real tokens ("mean")

Padding is handled by the attention mask: padded keys get zero attention weight, so appending padding to a
caption leaves every real token's state, and the pooled vector, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from torch import nn

from mmtutorial._validate import check_choice, check_positive, check_tensor
from mmtutorial.encoders.base import EncoderOutput
from mmtutorial.encoders.common import TransformerStack, pool

PAD, UNK, CLS = "[PAD]", "[UNK]", "[CLS]"
SPECIAL_TOKENS = (PAD, UNK, CLS)  # ids 0, 1, 2 in this order


def train_caption_tokenizer(texts: Iterable[str], vocab_size: int = 512, min_frequency: int = 1) -> Tokenizer:
    """Train a lower-casing WordPiece tokenizer on ``texts``; ``[PAD]``=0, ``[UNK]``=1, ``[CLS]``=2.

    WordPiece keeps frequent words whole and splits rare ones into ``##``-prefixed pieces, so any string
    can be encoded (unseen characters become ``[UNK]``).
    """
    check_positive("vocab_size", vocab_size)
    texts = list(texts)
    tok = Tokenizer(models.WordPiece(unk_token=UNK))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.model = models.WordPiece(vocab=_canonical_vocab(tok, texts), unk_token=UNK)
    return tok


def _canonical_vocab(tok: Tokenizer, texts: list[str]) -> dict[str, int]:
    """Renumber a trained vocabulary so that the same texts always give the same ids.

    The trainer breaks ties between equally frequent merges in hash-map order, which changes from process to
    process: the intermediate pieces it keeps, and every id, vary between runs. The whole words and the
    characters do not. Order: special tokens, then whole words of ``texts`` by falling count (ties
    alphabetically), then single characters, then every other piece alphabetically. Text made of words the
    vocabulary holds whole then maps to the same ids in every run; only the ids of the leftover pieces (used
    for unseen words) can still vary.
    """
    vocab = tok.get_vocab()
    counts: dict[str, int] = {}
    for text in texts:
        for word, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(text)):
            counts[word] = counts.get(word, 0) + 1
    words = sorted(
        (w for w in counts if w in vocab and w not in SPECIAL_TOKENS), key=lambda w: (-counts[w], w)
    )
    taken = set(SPECIAL_TOKENS) | set(words)
    chars = sorted(t for t in vocab if t not in taken and len(t.removeprefix("##")) == 1)
    rest = sorted(t for t in vocab if t not in taken and t not in chars)
    return {t: i for i, t in enumerate([*SPECIAL_TOKENS, *words, *chars, *rest])}


class TextTokenizer:
    """Wraps a ``tokenizers.Tokenizer``: strings -> ``input_ids`` (B, T) long, ``attention_mask`` (B, T) bool.

    Sequences are padded with ``[PAD]`` to the longest in the batch (or ``pad_to``), cut at ``max_length``.
    The encoder prepends its own ``[CLS]`` slot, so ids here are the caption's word pieces only.
    """

    def __init__(self, tokenizer: Tokenizer, max_length: int = 32) -> None:
        check_positive("max_length", max_length)
        for t in SPECIAL_TOKENS:
            if tokenizer.token_to_id(t) is None:
                raise ValueError(f"tokenizer must contain special token {t!r}")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pad_id = tokenizer.token_to_id(PAD)
        self.cls_id = tokenizer.token_to_id(CLS)
        self.unk_id = tokenizer.token_to_id(UNK)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 512, max_length: int = 32) -> TextTokenizer:
        """Train a caption tokenizer (see :func:`train_caption_tokenizer`) and wrap it."""
        return cls(train_caption_tokenizer(texts, vocab_size), max_length)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of one string, e.g. ``["a", "red", "star"]``."""
        return self.tokenizer.encode(text).tokens

    def __call__(self, texts: str | Sequence[str], pad_to: int | None = None) -> dict[str, torch.Tensor]:
        """Encode a string or list of strings -> ``{"input_ids": (B, T), "attention_mask": (B, T) bool}``."""
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, Sequence) or not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError(
                f"texts must be a non-empty list of str, got {type(texts).__name__} {texts!r:.80}"
            )
        ids = [e.ids[: self.max_length] for e in self.tokenizer.encode_batch(list(texts))]
        length = max(1, max(map(len, ids)))
        if pad_to is not None:
            if pad_to < length:
                raise ValueError(f"pad_to must be >= the longest sequence ({length}), got {pad_to}")
            length = pad_to
        input_ids = torch.full((len(ids), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros(len(ids), length, dtype=torch.bool)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = True
        return {"input_ids": input_ids, "attention_mask": mask}

    def decode(self, ids: Sequence[int]) -> str:
        """Ids back to text (special tokens dropped)."""
        return self.tokenizer.decode(list(ids))

    def save(self, path: str | Path) -> None:
        """Write the tokenizer (vocabulary, normaliser, ...) to one JSON file."""
        self.tokenizer.save(str(path))

    @classmethod
    def load(cls, path: str | Path, max_length: int = 32) -> TextTokenizer:
        """Read a tokenizer written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path must be a tokenizer file saved by TextTokenizer.save, got missing {path}")
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as e:  # the tokenizers library raises its own Exception type on a malformed file
            raise ValueError(f"path {path} is not a tokenizer file ({e})") from e
        return cls(tokenizer, max_length)


class TextTransformer(nn.Module):
    """A small Transformer text encoder written from scratch.

    ``forward(input_ids (B, T) long, attention_mask (B, T) bool) -> EncoderOutput``, tokens ``(B, 1+T, D)``
    (slot 0 is a learned ``[CLS]`` vector, always real), mask ``(B, 1+T)`` and pooled ``(B, D)``.
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        max_length: int = 32,
        pooling: str = "cls",
        pad_id: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive("vocab_size", vocab_size)
        check_positive("max_length", max_length)
        check_choice("pooling", pooling, ("cls", "mean"))
        self.vocab_size, self.max_length, self.pooling = vocab_size, max_length, pooling
        self.token_embedding = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.zeros(1, max_length + 1, dim))  # learned positions, slot 0 = CLS
        nn.init.normal_(self.cls, std=0.02)
        nn.init.normal_(self.position, std=0.02)
        self.transformer = TransformerStack(dim, depth, heads, dropout=dropout)
        self.dim = dim

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> EncoderOutput:
        check_tensor("input_ids", input_ids, ndim=2, dtype=torch.long)
        b, t = input_ids.shape
        if t > self.max_length:
            raise ValueError(f"input_ids may hold at most max_length={self.max_length} tokens, got {t}")
        if b == 0 or t == 0:
            raise ValueError(f"input_ids must be non-empty, got shape {tuple(input_ids.shape)}")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids, dtype=torch.bool)
        check_tensor("attention_mask", attention_mask, shape=(b, t), dtype=torch.bool)
        if int(input_ids.min()) < 0 or int(input_ids.max()) >= self.vocab_size:
            raise ValueError(
                f"input_ids must lie in [0, {self.vocab_size}), got [{input_ids.min()}, {input_ids.max()}]"
            )
        x = torch.cat([self.cls.expand(b, -1, -1), self.token_embedding(input_ids)], dim=1)
        x = x + self.position[:, : t + 1]
        mask = torch.cat([attention_mask.new_ones(b, 1), attention_mask], dim=1)
        tokens = self.transformer(x, mask)
        return EncoderOutput(tokens, mask, pool(tokens, mask, self.pooling))
