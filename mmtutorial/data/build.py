"""Build datasets on disk: the procedural world (``make_shapes_world``) or your own pairs (``import_pairs``).

These functions now live with the other dataset writers in :mod:`mmtutorial.data.writers`; this module
re-exports them so that existing imports keep working.
"""

from mmtutorial.data.writers import MAX_IMAGE_SIDE, import_pairs, make_shapes_world, read_pairs_csv

__all__ = ["MAX_IMAGE_SIDE", "import_pairs", "make_shapes_world", "read_pairs_csv"]
