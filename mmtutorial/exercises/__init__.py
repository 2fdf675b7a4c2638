"""Self-checks for the chapters' exercises: one module per chapter (``ch05.py`` for chapter 05).

Each check returns ``True`` when an answer is right and raises :class:`WrongAnswer` (a subclass of
``AssertionError``) with a hint when it is wrong. The checks raise explicitly rather than use ``assert``,
which ``python -O`` removes, so a solution cell calls ``check_...(answer)`` on its own line. Tests in
``tests/test_exercises*.py`` prove each check rejects a wrong answer.
"""

from __future__ import annotations


class WrongAnswer(AssertionError):
    """An exercise answer is wrong; the message says what to look at."""


def expect(condition: object, hint: str) -> None:
    """Raise :class:`WrongAnswer` with ``hint`` unless ``condition`` holds (an assert that ``-O`` keeps)."""
    if not condition:
        raise WrongAnswer(hint)


__all__ = ["WrongAnswer", "expect"]
