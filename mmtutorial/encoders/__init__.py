"""Encoders for text, image, audio and video; all return :class:`EncoderOutput`."""
from mmtutorial.encoders.base import EncoderOutput, masked_mean

__all__ = ["EncoderOutput", "masked_mean"]
