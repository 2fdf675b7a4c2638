"""Encoders for text, image, audio and video; all return :class:`EncoderOutput`.

From scratch: ``TextTransformer`` (+ ``TextTokenizer``), ``ImageCNN``, ``ImageViT``, ``AudioCNN``,
``AudioTransformer``, ``VideoCNN`` ((2+1)D), ``VideoTransformer`` (frame CNN + temporal Transformer).
Pretrained, offline: ``pretrained_text_encoder()`` (all-MiniLM-L6-v2), ``pretrained_image_encoder()``
(EfficientNet-Lite0, ImageNet). Helpers: ``count_parameters``, ``freeze``, ``extract_features``.
"""

from mmtutorial.encoders.audio import AudioCNN, AudioTransformer, LogMel
from mmtutorial.encoders.common import (
    MultiHeadSelfAttention,
    TransformerBlock,
    TransformerStack,
    count_parameters,
)
from mmtutorial.encoders.image import ImageCNN, ImageViT, PatchEmbedding
from mmtutorial.encoders.pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LITE_MEAN,
    LITE_STD,
    PretrainedImageEncoder,
    PretrainedTextEncoder,
    extract_features,
    freeze,
    pretrained_image_encoder,
    pretrained_text_encoder,
)
from mmtutorial.encoders.text import TextTokenizer, TextTransformer, train_caption_tokenizer
from mmtutorial.encoders.video import Conv2Plus1D, VideoCNN, VideoTransformer
from mmtutorial.types import EncoderOutput, masked_mean

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LITE_MEAN",
    "LITE_STD",
    "AudioCNN",
    "AudioTransformer",
    "Conv2Plus1D",
    "EncoderOutput",
    "ImageCNN",
    "ImageViT",
    "LogMel",
    "MultiHeadSelfAttention",
    "PatchEmbedding",
    "PretrainedImageEncoder",
    "PretrainedTextEncoder",
    "TextTokenizer",
    "TextTransformer",
    "TransformerBlock",
    "TransformerStack",
    "VideoCNN",
    "VideoTransformer",
    "count_parameters",
    "extract_features",
    "freeze",
    "masked_mean",
    "pretrained_image_encoder",
    "pretrained_text_encoder",
    "train_caption_tokenizer",
]
