"""Data for the course: the procedural multimodal world and the on-disk dataset format.

``ShapesWorld`` renders image, caption, audio and video of one random scene that agree with each other;
``DatasetWriter`` / ``load_dataset`` store and read such samples (or your own image-caption pairs) with a
manifest of checksums.
"""

from mmtutorial.data.build import import_pairs, make_shapes_world
from mmtutorial.data.disk import DatasetIntegrityError, DatasetWriter, DiskDataset, load_dataset
from mmtutorial.data.world import (
    GENERATOR_VERSION,
    HARMONICS,
    PALETTE,
    PITCH_HZ,
    Scene,
    ShapeSpec,
    ShapesWorld,
    WorldConfig,
    caption_shapes,
    collate,
)

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
]
