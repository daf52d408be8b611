"""run-experiment: experiment 1 trained on a workspace's own engine, a few iterations at a time.

The full 3000-iteration run is tests/test_course.py's slow test.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

import tinysiam
from tinysiam.course import experiment, workspace
from tinysiam.course.__main__ import main
from tinysiam.course.tasks import TASKS
from tinysiam.experiments.models import mnist_mlp

ITERATIONS = 5


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("course") / "solved"
    workspace.create(directory, list(TASKS), with_solutions=True)
    return directory


def test_the_branch_is_experiment_1s_network_with_the_same_weights_for_a_seed():
    built = experiment.mnist_mlp_from(tinysiam.nn, np.random.default_rng(3))
    expected = mnist_mlp(np.random.default_rng(3))
    assert [type(layer).__name__ for layer in built] == [type(layer).__name__ for layer in expected]
    pairs = list(zip(built.parameters(), expected.parameters(), strict=True))
    assert [p.shape for p, _ in pairs] == [
        (1024, 784),
        (1024,),
        (1024, 1024),
        (1024,),
        (2, 1024),
        (2,),
    ]
    assert all(np.array_equal(p.data, q.data) for p, q in pairs)


def test_the_network_side_is_the_workspaces_and_trains_as_the_library_does(solved, monkeypatch):
    seen = {}
    original = experiment.mnist_mlp_from

    def spy(nn, rng):
        seen["branch"] = original(nn, rng)
        return seen["branch"]

    monkeypatch.setattr(experiment, "mnist_mlp_from", spy)
    mine = experiment.run(solved, "digits", ITERATIONS, seed=0, log=lambda line: None)
    branch_modules = {type(layer).__module__ for layer in seen["branch"]}
    parameter_types = {type(p).__module__ for p in seen["branch"].parameters()}
    assert branch_modules == {"tinysiam_workspace.nn.layers"}
    assert parameter_types == {"tinysiam_workspace.nn.module"}

    library = experiment.train(tinysiam, "digits", ITERATIONS, seed=0, log=lambda line: None)
    assert mine["final_loss"] == library["final_loss"]  # a solved workspace is the library's code
    assert mine["knn5_accuracy"] == library["knn5_accuracy"]
    assert mine["iterations"] == ITERATIONS and np.isfinite(mine["final_loss"])


def test_run_experiment_on_the_command_line_with_few_iterations(solved, tmp_path):
    out = io.StringIO()
    with contextlib.chdir(tmp_path), contextlib.redirect_stdout(out):
        code = main(
            [
                "run-experiment",
                "--workspace",
                str(solved),
                "--dataset",
                "digits",
                "--iterations",
                str(ITERATIONS),
                "--skip-check",
            ]
        )
    assert code == 0, out.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("data: the built-in synthetic digits (5000 + 5000); 5 iterations")
    assert lines[-1].startswith("5-NN accuracy ") and "after 5 iterations" in lines[-1]
