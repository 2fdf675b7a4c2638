"""The command line: ``python -m mmtutorial`` / ``mmtutorial`` (info, data, train, eval, bench)."""
