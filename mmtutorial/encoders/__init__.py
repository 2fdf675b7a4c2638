"""Encoders for text, image, audio and video; all return :class:`EncoderOutput`."""

from mmtutorial.encoders.base import EncoderOutput, masked_mean
from mmtutorial.encoders.common import (
    MultiHeadSelfAttention,
    TransformerBlock,
    TransformerStack,
    count_parameters,
)
from mmtutorial.encoders.image import ImageCNN, ImageViT, PatchEmbedding
from mmtutorial.encoders.text import TextTokenizer, TextTransformer, train_caption_tokenizer

__all__ = [
    "EncoderOutput",
    "ImageCNN",
    "ImageViT",
    "MultiHeadSelfAttention",
    "PatchEmbedding",
    "TextTokenizer",
    "TextTransformer",
    "TransformerBlock",
    "TransformerStack",
    "count_parameters",
    "masked_mean",
    "train_caption_tokenizer",
]
