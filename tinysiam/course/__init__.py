"""The graded task track: build tinysiam's engine yourself, then train experiment 1 on it.

    python -m tinysiam.course new DIR             # a copy of the package with tasks to write
    python -m tinysiam.course check --workspace DIR
    python -m tinysiam.course run-experiment --workspace DIR

:mod:`.tasks` lists the tasks, :mod:`.workspace` creates and loads workspaces, :mod:`.grading`
runs the graders of :mod:`.graders` in a child process, and :mod:`.experiment` trains.
See docs/build-it-yourself.md.
"""

from .tasks import TASKS, Target, Task, select

__all__ = ["TASKS", "Target", "Task", "select"]
