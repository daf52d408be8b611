"""The graded task track: build tinysiam's engine, network and experiment 1's recipe yourself.

    python -m tinysiam.course new DIR             # a copy of the engine with tasks to write
    python -m tinysiam.course check --workspace DIR
    python -m tinysiam.course run-experiment --workspace DIR
    python -m tinysiam.course autograder --out autograder.zip   # for Gradescope

The modules, each above the ones it imports (checked by import-linter, see pyproject.toml):

    __main__         the command line
    gradescope       the Gradescope autograder: the zip, run_autograder, results.json
    grading          grade(): one row per task, the verdict in this process
    experiment       run-experiment: experiment 1 trained on the workspace's engine
    graders          one grader per task, grade_unbroadcast, ...
    grader_helpers   what every grader uses: the workspace's proxies, call, expect, fail, ...
    strategies       the Hypothesis strategies the graders draw their inputs from
    remote           the learner's process seen from the grader: limits, deadlines, proxies
    submission       a workspace read without running it, and the copy each task is graded on
    workspace        creating and loading workspaces; the library they were made from
    learner_process  the script the learner's process runs (imports only NumPy)
    tasks            the task table
    starter          the starter modules a workspace gets next to its engine (experiment1.py)

See docs/build-it-yourself.md.
"""

from .tasks import TASKS, Target, Task, select

__all__ = ["TASKS", "Target", "Task", "select"]
