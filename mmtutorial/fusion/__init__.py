"""Fusion modules (3.2.2 模态融合): each takes ``{modality: EncoderOutput}``, returns ``(B, out_dim)``.

Families, one module each: :mod:`.concat` (简单拼接), :mod:`.attention` (注意力融合),
:mod:`.gated` (门控融合), :mod:`.interactive` (交互融合) and :mod:`.beyond` (FiLM, cross-modal
Transformer, Flamingo gated cross-attention, Perceiver resampler). ``FUSIONS`` maps a short name to each
class; ``make_fusion`` builds one.
"""

from __future__ import annotations

from collections.abc import Mapping

from mmtutorial._validate import check_choice
from mmtutorial.fusion.attention import CrossAttention, ModalityAttention
from mmtutorial.fusion.base import Fusion, masked_softmax, safe_key_padding_mask
from mmtutorial.fusion.beyond import CrossModalTransformer, FiLM, GatedCrossAttention, PerceiverResampler
from mmtutorial.fusion.concat import EarlyConcat, LateConcat
from mmtutorial.fusion.gated import GatedMultimodalUnit
from mmtutorial.fusion.interactive import (
    BilinearFusion,
    ElementwiseProduct,
    LowRankTensorFusion,
    TensorFusion,
)

#: name -> class, in the order of the article's families then "beyond the article"
FUSIONS: dict[str, type[Fusion]] = {
    "late_concat": LateConcat,
    "early_concat": EarlyConcat,
    "modality_attention": ModalityAttention,
    "cross_attention": CrossAttention,
    "gmu": GatedMultimodalUnit,
    "elementwise": ElementwiseProduct,
    "bilinear": BilinearFusion,
    "tensor": TensorFusion,
    "low_rank_tensor": LowRankTensorFusion,
    "film": FiLM,
    "transformer": CrossModalTransformer,
    "gated_xattn": GatedCrossAttention,
    "perceiver": PerceiverResampler,
}

#: the article's family of each fusion
FAMILY: dict[str, str] = {
    "late_concat": "concatenation",
    "early_concat": "concatenation",
    "modality_attention": "attention",
    "cross_attention": "attention",
    "gmu": "gated",
    "elementwise": "interactive",
    "bilinear": "interactive",
    "tensor": "interactive",
    "low_rank_tensor": "interactive",
    "film": "beyond",
    "transformer": "beyond",
    "gated_xattn": "beyond",
    "perceiver": "beyond",
}


def make_fusion(name: str, dims: Mapping[str, int], out_dim: int, **kwargs: object) -> Fusion:
    """Build the fusion registered as ``name`` (a key of ``FUSIONS``) for ``dims`` -> ``(B, out_dim)``."""
    check_choice("name", name, list(FUSIONS))
    return FUSIONS[name](dims, out_dim, **kwargs)


__all__ = [
    "FAMILY",
    "FUSIONS",
    "BilinearFusion",
    "CrossAttention",
    "CrossModalTransformer",
    "EarlyConcat",
    "ElementwiseProduct",
    "FiLM",
    "Fusion",
    "GatedCrossAttention",
    "GatedMultimodalUnit",
    "LateConcat",
    "LowRankTensorFusion",
    "ModalityAttention",
    "PerceiverResampler",
    "TensorFusion",
    "make_fusion",
    "masked_softmax",
    "safe_key_padding_mask",
]
