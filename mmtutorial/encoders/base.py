"""The interface every encoder returns; defined in :mod:`mmtutorial.types` (re-exported here)."""

from mmtutorial.types import EncoderOutput, masked_mean

__all__ = ["EncoderOutput", "masked_mean"]
