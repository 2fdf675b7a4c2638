"""Models assembled from encoders and fusions; losses stay outside (:mod:`mmtutorial.losses`).

``TwoTowerCLIP`` (two towers, projections, learnable temperature), ``FusionClassifier`` (fusion + linear
head), ``UnimodalMLP`` (one modality's pooled vector through an MLP).
"""

from mmtutorial.models.classifier import FusionClassifier, UnimodalMLP
from mmtutorial.models.clip import TwoTowerCLIP

__all__ = ["FusionClassifier", "TwoTowerCLIP", "UnimodalMLP"]
