"""Self-checks for the chapters' exercises: one module per chapter (``ch05.py`` for chapter 05).

Each check raises ``AssertionError`` with a hint when an answer is wrong and returns ``True`` when it is
right, so a solution cell ends in ``assert check_...(answer)``. Tests in ``tests/test_exercises*.py``
prove each check rejects a wrong answer.
"""
