"""Workshop kit: student copies without solutions (``release``), a grader (``grade``) and offline slides.

From a shell: ``python -m mmtutorial workshop release|grade|slides ...`` (see ``--help``).
"""

from mmtutorial.workshop.grade import Row, grade, grade_notebook
from mmtutorial.workshop.release import release, resolve_chapter, student_copy
from mmtutorial.workshop.slides import slides

__all__ = ["Row", "grade", "grade_notebook", "release", "resolve_chapter", "slides", "student_copy"]
