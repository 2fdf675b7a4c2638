"""Data for the course: the procedural multimodal world and the on-disk dataset format.

``ShapesWorld`` renders image, caption, audio and video of one random scene that agree with each other;
``DatasetWriter`` / ``load_dataset`` store and read such samples (or your own image-caption pairs) with a
manifest of checksums. Layout: ``vocabulary``/``captions``/``world`` (the procedural world), ``emoji``,
``digits``, ``speech`` (real data), ``tensors`` (arrays -> tensors, ``collate``), ``manifest``/``disk`` (the
on-disk format, read and atomic write), ``writers`` (every dataset written to disk), ``augment``.
"""

from mmtutorial.data.captions import caption_shapes
from mmtutorial.data.disk import DatasetIntegrityError, DatasetWriter, DiskDataset, load_dataset
from mmtutorial.data.tensors import collate, to_float_tensor
from mmtutorial.data.vocabulary import HARMONICS, PALETTE, PITCH_HZ
from mmtutorial.data.world import GENERATOR_VERSION, Scene, ShapeSpec, ShapesWorld, WorldConfig
from mmtutorial.data.writers import import_pairs, make_shapes_world

__all__ = [
    "DatasetIntegrityError",
    "DatasetWriter",
    "DiskDataset",
    "import_pairs",
    "load_dataset",
    "make_shapes_world",
    "GENERATOR_VERSION",
    "HARMONICS",
    "PALETTE",
    "PITCH_HZ",
    "Scene",
    "ShapeSpec",
    "ShapesWorld",
    "WorldConfig",
    "caption_shapes",
    "collate",
    "to_float_tensor",
]
