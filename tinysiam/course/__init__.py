"""The graded task track: build tinysiam's engine yourself, then train experiment 1 on it.

    python -m tinysiam.course new DIR             # a copy of the engine with tasks to write
    python -m tinysiam.course check --workspace DIR
    python -m tinysiam.course run-experiment --workspace DIR

The modules, each above the ones it imports (checked by import-linter, see pyproject.toml):

    __main__         the command line
    grading          grade(): each task's grader run in a child process, one row per task
    experiment       run-experiment: experiment 1 trained on the workspace's engine
    graders          one grader per task, grade_unbroadcast, ...
    grader_helpers   what every grader uses: the loaded workspace, call, expect, fail, ...
    strategies       the Hypothesis strategies the graders draw their inputs from
    workspace        creating, loading and patching workspaces
    tasks            the task table

See docs/build-it-yourself.md.
"""

from .tasks import TASKS, Target, Task, select

__all__ = ["TASKS", "Target", "Task", "select"]
