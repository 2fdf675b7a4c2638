"""mmtutorial: companion package of the multimodal course."""

__version__ = "0.1.0"
