"""Contrastive losses: CLIP (InfoNCE), SigLIP and SimCLR's NT-Xent, each with interchangeable implementations.

>>> from mmtutorial.losses import clip_loss
>>> loss = clip_loss(a, b, logit_scale, impl="auto")   # a, b: (N, D) L2-normalised; returns 0-dim fp32

See :mod:`mmtutorial.losses.dispatch` for the implementations and how ``impl="auto"`` chooses,
:mod:`mmtutorial.losses.reference` for the readable definitions, :mod:`mmtutorial.losses.chunked` for the
``O(N * chunk)``-memory version and :mod:`mmtutorial.losses.distributed` for a global batch across ranks.
"""

from mmtutorial.losses.dispatch import AUTO_CHUNKED_MIN_N, IMPLS, clip_loss, nt_xent_loss, siglip_loss

__all__ = ["AUTO_CHUNKED_MIN_N", "IMPLS", "clip_loss", "nt_xent_loss", "siglip_loss"]
