"""The course track: workspaces, the graders (each can fail, none fails a right answer), the CLI.

A wrong implementation of every task is written into one workspace and graded in one run: each
grader must fail its task, and only its own (every other task runs the library's code while a
task is graded).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from workspace_edits import replace_body

from tinysiam.course import experiment, graders, tasks, workspace
from tinysiam.course.__main__ import main
from tinysiam.course.grading import grade
from tinysiam.course.starter import experiment1 as recipe
from tinysiam.course.tasks import TASKS, TaskSelectionError, select
from tinysiam.experiments import metrics
from tinysiam.experiments.data import PairSampler


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_course(*args: str, cwd: Path) -> Result:
    """``python -m tinysiam.course ARGS`` run in this process (the grading runs in a child)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with every task solved (shared: tests that edit one copy it first)."""
    directory = tmp_path_factory.mktemp("course") / "solved"
    workspace.create(directory, list(TASKS), with_solutions=True)
    return directory


def solved_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "ws"
    workspace.create(directory, list(TASKS), with_solutions=True)
    return directory


def grades(directory: Path, *args: str, cwd: Path) -> dict[str, dict]:
    out = cwd / "grades.json"
    run_course("check", *args, "--workspace", str(directory), "--json", str(out), cwd=cwd)
    return {row["task"]: row for row in json.loads(out.read_text())["tasks"]}


def graded(directory: Path, spec: str = "all", timeout: float = 120.0) -> dict[str, dict]:
    """The rows of ``grade()``, the library's own code accepted (a solved copy, edited)."""
    rows = grade(directory, select(spec), timeout, accept_library_code=True)
    return {row.task: vars(row) for row in rows}


# ----- the task table and selections -----------------------------------------------------------
def test_every_target_exists_in_the_library_and_tasks_follow_the_pages():
    for task in TASKS:
        for target in task.targets:
            source = workspace.library_path(target.file).read_text()
            assert workspace.find_function(ast.parse(source), target.qualname), (task.id, target)
        assert task.id.split(".")[0] == str(task.page_number)
    numbers = [tuple(int(p) for p in task.id.split(".")) for task in TASKS]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_each_task_names_a_grader_that_no_library_function_is_named_like():
    names = [task.grader for task in TASKS]
    assert all(name.startswith("grade_") for name in names), names
    assert sorted(n for n in vars(graders) if n.startswith("grade_")) == sorted(names)
    assert all(callable(getattr(graders, name)) for name in names)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("3.2", ["3.2"]),
        ("1-4", ["3.1", "3.2", "3.3", "4.1"]),
        ("8", ["8.1", "8.2", "8.3"]),
        ("3.3-5.1", ["3.3", "4.1", "5.1"]),
        ("11.2,3.1", ["3.1", "11.2"]),
    ],
)
def test_selections(spec, expected):
    assert [task.id for task in select(spec)] == expected


@pytest.mark.parametrize("spec", ["3.9", "2", "banana", "14", "16-17", ""])
def test_a_selection_of_no_task_is_refused_naming_the_valid_ones(spec):
    with pytest.raises(TaskSelectionError, match="tasks are 3.1, 3.2"):
        select(spec)


# ----- workspaces ----------------------------------------------------------------------------
def test_a_workspace_stubs_the_chosen_tasks_keeping_signatures_and_docstrings(tmp_path):
    chosen = select("3.2,8.2")
    workspace.create(tmp_path / "ws", chosen)
    package = tmp_path / "ws" / "tinysiam"
    assert not (package / "course").exists() and not list(package.rglob("__pycache__"))
    for task in TASKS:
        for target in task.targets:
            source = (package / target.file).read_text()
            assert workspace.is_stub(source, task, target) == (task in chosen), (task.id, target)
    source = (package / "autograd.py").read_text()
    function = workspace.find_function(ast.parse(source), "backward")
    assert ast.get_docstring(function).startswith("Accumulate d(output)/d(leaf)")
    assert [a.arg for a in function.args.args] == ["output", "grad", "retain_graph"]
    readme = (tmp_path / "ws" / "README.md").read_text()
    assert "| 3.2 | The backward loop, with accumulation | to write | page 3" in readme
    assert "| 3.1 | Topological order | solved (given) |" in readme
    with pytest.raises(workspace.WorkspaceError, match="not an empty folder"):
        workspace.create(tmp_path / "ws", chosen)


def test_a_stub_message_names_the_task_and_its_page():
    task = tasks.TASKS_BY_ID["8.2"]
    message = task.message(task.targets[0])
    assert message.startswith("Task 8.2: col2im: ") and message.endswith(
        "see docs page 8 (08-convolution.md)"
    )


def test_fresh_workspace_is_not_started_everywhere_and_passes_nothing(tmp_path):
    result = run_course("new", "ws", cwd=tmp_path)
    assert result.returncode == 0 and "25 tasks to write" in result.stdout, result.stderr
    rows = grades(tmp_path / "ws", cwd=tmp_path)
    assert list(rows) == [task.id for task in TASKS]
    for task in TASKS:
        row = rows[task.id]
        assert row["status"] == "not started", row
        assert row["detail"].startswith(f"Task {task.id}: "), row
    # run-experiment grades first, and refuses to train
    result = run_course("run-experiment", "--workspace", "ws", "--dataset", "digits", cwd=tmp_path)
    assert result.returncode == 1 and "finish these tasks first" in result.stdout


def test_a_subset_workspace_grades_its_own_tasks_and_others_on_request(tmp_path):
    run_course("new", "ws", "--tasks", "5.1", cwd=tmp_path)
    rows = grades(tmp_path / "ws", "5.1", "3.1", "6.2", cwd=tmp_path)
    assert {k: r["status"] for k, r in rows.items()} == {
        "3.1": "failed",
        "5.1": "not started",
        "6.2": "failed",
    }
    assert rows["3.1"]["detail"].startswith("not assigned in this workspace: every function of")


def test_solved_workspace_passes_every_task_when_the_library_code_is_accepted(solved):
    rows = grade(solved, list(TASKS), accept_library_code=True)
    assert [row.task for row in rows] == [task.id for task in TASKS]
    assert all(row.status == "passed" and row.detail is None for row in rows), rows
    assert all(row.warnings == [] for row in rows), rows[0].warnings


def test_check_of_a_solved_workspace_counts_every_task_as_not_assigned(solved, tmp_path):
    out = tmp_path / "grades.json"
    result = run_course(
        "check", "3.1,5.1", "--workspace", str(solved), "--json", str(out), cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["summary"] == {"passed": 0, "failed": 2, "not started": 0, "total": 2}
    assert all("not assigned in this workspace" in row["detail"] for row in report["tasks"])


# ----- experiment 1's recipe: the starter module -------------------------------------------
def test_the_recipe_draws_the_pairs_and_scores_as_the_experiments_toolkit_does():
    rng = np.random.default_rng(5)
    for seed in range(40):
        labels = rng.integers(0, rng.integers(2, 7), rng.integers(4, 30))
        if len(np.unique(labels)) < 2 or np.bincount(labels).max() < 2:
            continue
        sampler = PairSampler(np.zeros((len(labels), 1)), labels, seed=seed)
        expected = sampler.sample_indices(int(rng.integers(1, 60)))
        got = recipe.sample_pairs(labels, len(expected[0]), np.random.default_rng(seed))
        assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True)), seed
        assert got[2].dtype == np.float32
    train, test = rng.normal(size=(700, 2)), rng.normal(size=(600, 2))
    train_labels, test_labels = rng.integers(0, 10, 700), rng.integers(0, 10, 600)
    for k in (1, 5, 8):
        assert recipe.knn_accuracy(train, train_labels, test, test_labels, k) == (
            metrics.knn_accuracy(train, train_labels, test, test_labels, k)
        )


def test_run_experiment_trains_with_the_workspaces_own_recipe(tmp_path):
    directory = solved_copy(tmp_path)
    replace_body(
        directory / "tinysiam" / "experiment1.py", "sample_pairs", "raise ValueError('mine')"
    )
    with pytest.raises(experiment.TrainingError, match="iteration 1: .*ValueError: mine"):
        experiment.run(directory, "digits", iterations=1, log=lambda line: None)


# ----- one wrong implementation per task -----------------------------------------------------
WRONG = {
    "3.1": (
        "autograd.py",
        "_topological_order",
        """
        order, visited, stack = [], set(), [output]
        while stack:  # pre-order: a tensor before its inputs
            tensor = stack.pop()
            if id(tensor) in visited:
                continue
            visited.add(id(tensor))
            order.append(tensor)
            if tensor._node is not None:
                stack.extend(p for p in tensor._node.inputs if p.requires_grad)
        return order
    """,
        "must come before",
    ),
    "3.2": (
        "autograd.py",
        "backward",
        """
        xp = get_array_module(output.data)
        grad = xp.ones_like(output.data) if grad is None else xp.asarray(grad, dtype=output.dtype)
        grads = {id(output): grad}
        for tensor in reversed(_topological_order(output)):
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            if tensor._node is None:
                tensor.grad = g.copy() if tensor.grad is None else tensor.grad + g
                continue
            node = tensor._node
            for parent, pg in zip(node.inputs, _input_grads(node, g)):
                if pg is not None and parent.requires_grad:
                    grads[id(parent)] = unbroadcast(pg, parent.shape)  # forgets to accumulate
            if not retain_graph:
                node.ctx.saved_tensors, node.released = (), True
    """,
        "expected x0.grad",
    ),
    "3.3": (
        "ops/elementwise.py",
        "Div.backward",
        """
        a, b = ctx.saved_tensors
        return grad / b, grad * a / (b * b)  # the sign of d/db lost
    """,
        "the gradient of b",
    ),
    "4.1": (
        "gradcheck.py",
        "_check_elementwise",
        """
        numeric = np.empty_like(x)
        flat = x.reshape(-1)
        base = scalar(i, x)
        for k in range(flat.size):  # a one-sided difference
            original = flat[k]
            flat[k] = original + eps
            plus = scalar(i, x)
            flat[k] = original
            numeric.reshape(-1)[k] = (plus - base) / eps
        _compare(f"input {i}", analytic, numeric, atol, rtol, lambda k: f"index {k}")
    """,
        "one-sided",
    ),
    "5.1": (
        "autograd.py",
        "unbroadcast",
        """
        if grad.shape == shape:
            return grad
        added = grad.ndim - len(shape)
        stretched = tuple(  # the axes of shape, not of grad: added is missing
            i for i, size in enumerate(shape) if size == 1 and grad.shape[added + i] != 1
        )
        summed = grad.sum(axis=tuple(range(added)), keepdims=True)
        return summed.sum(axis=stretched, keepdims=True).reshape(shape)
    """,
        "unbroadcast(grad = ",
    ),
    "5.2": (
        "ops/reduce.py",
        "Mean.backward",
        """
        grad = _expand_reduced(grad, ctx.shape, ctx.axes, ctx.keepdims)  # forgets / count
        return (get_array_module(grad).broadcast_to(grad, ctx.shape),)
    """,
        "Mean(",
    ),
    "6.1": (
        "ops/linalg.py",
        "DenseOp.backward",
        """
        x, weight = ctx.saved_tensors
        grads = (grad @ weight, (x.T @ grad).T.T)  # dW transposed
        if len(ctx.needs_input_grad) == 3:
            grads += (grad.sum(axis=0),)
        return grads
    """,
        "DenseOp(",
    ),
    "6.2": (
        "ops/elementwise.py",
        "ReLUOp.backward",
        """
        return (grad,)  # forgets the mask
    """,
        "the gradient of a",
    ),
    "6.3": (
        "ops/elementwise.py",
        "SigmoidOp.forward",
        """
        xp = get_array_module(a)
        out = 1 / (1 + xp.exp(-a))  # overflows for a << 0
        ctx.save_for_backward(out)
        return out
    """,
        "overflow",
    ),
    "7.1": (
        "nn/module.py",
        "Module.named_modules",
        """
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:  # no record of the modules seen: a shared one comes twice
            name, module = stack.pop()
            yield name, module
            children = [(_join(name, n), m) for n, m in module._members() if isinstance(m, Module)]
            stack.extend(reversed(children))
    """,
        "reached twice comes once",
    ),
    "7.2": (
        "nn/module.py",
        "Module.state_dict",
        """
        return OrderedDict((name, p.data) for name, p in self.named_parameters())  # no copy
    """,
        "to hold a copy of the values",
    ),
    "7.3": (
        "nn/init.py",
        "he_normal",
        """
        weight = rng.standard_normal(shape)
        weight *= np.sqrt(1.0 / fan_in)  # LeCun's std, not He's
        return weight.astype(np.float32)
    """,
        "std = sqrt(2 / fan_in)",
    ),
    "8.1": (
        "reference/conv.py",
        "im2col",
        """
        xp = get_array_module(x_padded)
        n, c = x_padded.shape[:2]
        (sh, sw), (oh, ow) = stride, out_hw
        cols = xp.empty((c, kw, kh, n, oh, ow), dtype=x_padded.dtype)
        for i in range(kh):
            for j in range(kw):  # offsets stored as (j, i)
                window = x_padded[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]
                cols[:, j, i] = window.transpose(1, 0, 2, 3)
        return cols.reshape(c * kh * kw, n * oh * ow)
    """,
        "the columns",
    ),
    "8.2": (
        "reference/conv.py",
        "col2im",
        """
        xp = get_array_module(cols)
        n, c = x_padded_shape[:2]
        (sh, sw), (oh, ow) = stride, out_hw
        cols = cols.reshape(c, kh, kw, n, oh, ow)
        x = xp.zeros(x_padded_shape, dtype=cols.dtype)
        for i in range(kh):
            for j in range(kw):  # overwrites where windows overlap
                window = cols[:, i, j].transpose(1, 0, 2, 3)
                x[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] = window
        return x
    """,
        "the image",
    ),
    "8.3": (
        "reference/conv.py",
        "ReferenceConv2dOp.backward",
        """
        cols, weight = ctx.saved_tensors
        x_padded_shape, stride, (ph, pw), out_hw = ctx.geometry
        o, c, kh, kw = weight.shape
        g = grad.transpose(1, 0, 2, 3).reshape(o, -1)
        grad_w = (g @ cols.T).reshape(weight.shape)
        grad_cols = weight.reshape(o, c * kh * kw).T @ g
        grad_x = col2im(grad_cols, x_padded_shape, kh, kw, stride, out_hw)  # padding kept
        if len(ctx.needs_input_grad) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, grad.sum(axis=(0, 2, 3))
    """,
        "the gradient of x",
    ),
    "9.1": (
        "reference/pool.py",
        "ReferenceMaxPool2dOp.backward",
        """
        (winner,) = ctx.saved_tensors
        images_shape, (kh, kw), stride, out_hw = ctx.geometry
        xp = get_array_module(grad)
        grad_cols = xp.zeros((kh * kw, winner.size), dtype=grad.dtype)
        grad_cols[:] = grad.reshape(-1)  # to every element of the window
        grad_x = col2im(grad_cols, images_shape, kh, kw, stride, out_hw)
        return (grad_x.reshape(grad.shape[0], grad.shape[1], *images_shape[2:]),)
    """,
        "the gradient of x",
    ),
    "10.1": (
        "losses.py",
        "contrastive_loss",
        """
        y = _labels("contrastive_loss", y, f1.shape[0], f1)
        diff = f1 - f2
        d_squared = (diff * diff).sum(axis=1) + eps
        gap = margin - d_squared.sqrt()  # no max(., 0): far pairs are pulled back
        return 0.5 * _reduce(y * d_squared + (1 - y) * (gap * gap), reduction)
    """,
        "contrastive_loss(",
    ),
    "10.2": (
        "losses.py",
        "binary_cross_entropy",
        """
        p = _pair_scores("binary_cross_entropy", p, "p")
        y = _labels("binary_cross_entropy", y, p.shape[0], p)
        return _reduce(-(y * p.log() + (1 - y) * (1 - p).log()), reduction)  # no clamp
    """,
        "binary_cross_entropy(",
    ),
    "10.3": (
        "losses.py",
        "SigmoidCrossEntropy.forward",
        """
        xp = get_array_module(z)
        ctx.save_for_backward(z, y)
        return -(y * xp.log(1 / (1 + xp.exp(-z))) + (1 - y) * xp.log(1 - 1 / (1 + xp.exp(-z))))
    """,
        "SigmoidCrossEntropy(",
    ),
    "11.1": (
        "reference/optim.py",
        "ReferenceSGD.step",
        """
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            state = self._buffers(i, ("momentum_buffer",) if self.momentum else ())
            if self.momentum:  # dampened: (1 - momentum) g
                buffer = self.momentum * state["momentum_buffer"] + (1 - self.momentum) * p.grad
                state["momentum_buffer"] = buffer
                p.data -= self.lr * buffer
            else:
                p.data -= self.lr * p.grad
    """,
        "ReferenceSGD(",
    ),
    "11.2": (
        "reference/optim.py",
        "ReferenceAdam.step",
        """
        b1, b2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            state = self._buffers(i, ("m", "v"))
            state["m"] = b1 * state["m"] + (1 - b1) * p.grad
            state["v"] = b2 * state["v"] + (1 - b2) * p.grad**2
            p.data -= self.lr * state["m"] / (state["v"] ** 0.5 + self.eps)  # no bias correction
    """,
        "ReferenceAdam(",
    ),
    "13.1": (
        "nn/twin.py",
        "Twin.forward",
        """
        import copy

        if self.other is not None:
            return self.branch(x1), self.other(x2)
        second = copy.deepcopy(self.branch)  # a copy: two sets of weights, not one shared set
        return self.branch(x1), second(x2)
    """,
        "each parameter's gradient is the sum of both inputs' gradients",
    ),
    "15.1": (
        "experiment1.py",
        "sample_pairs",
        """
        classes, class_of = np.unique(labels, return_inverse=True)
        count = np.bincount(class_of, minlength=len(classes))
        similar = np.zeros(n_pairs, dtype=bool)  # never a similar pair
        a = rng.integers(0, len(classes), n_pairs)
        b = (a + 1 + rng.integers(0, len(classes) - 1, n_pairs)) % len(classes)
        order = np.argsort(class_of, kind="stable")
        first = np.cumsum(count) - count
        i = order[first[a] + rng.integers(0, count[a])]
        j = order[first[b] + rng.integers(0, count[b])]
        return i, j, similar.astype(np.float32)
    """,
        "expected y",
    ),
    "15.2": (
        "experiment1.py",
        "training_step",
        """
        f1, f2 = twin(tensor(x1), tensor(x2))  # no zero_grad: the gradients pile up
        loss = losses.contrastive_loss(f1, f2, tensor(y), margin=margin, reduction="sum")
        loss.backward()
        optimizer.step()
        return float(loss.item())
    """,
        "each step starts from zero gradients",
    ),
    "15.3": (
        "experiment1.py",
        "knn_accuracy",
        """
        distances = ((test_embeddings[:, None, :] - train_embeddings[None, :, :]) ** 2).sum(2)
        nearest = np.argsort(distances, axis=1, kind="stable")[:, :1]  # k = 1, whatever k is
        return float((train_labels[nearest[:, 0]] == test_labels).mean())
    """,
        "expected the accuracy",
    ),
}


def test_every_task_has_a_wrong_implementation_below():
    assert sorted(WRONG) == sorted(task.id for task in TASKS)


def test_each_grader_catches_its_wrong_implementation_and_only_it(tmp_path):
    directory = solved_copy(tmp_path)
    for file, qualname, body, _ in WRONG.values():
        replace_body(directory / "tinysiam" / file, qualname, body)
    rows = graded(directory)
    for task_id, (_, _, _, clue) in WRONG.items():
        row = rows[task_id]
        assert row["status"] == "failed", row
        assert clue in row["detail"], row
        assert "NotImplementedError" not in row["detail"], row


def test_a_crash_in_learner_code_is_a_failed_row_never_a_crash_of_the_grader(tmp_path):
    directory = solved_copy(tmp_path)
    package = directory / "tinysiam"
    replace_body(package / "autograd.py", "_topological_order", "raise SystemExit(3)")
    replace_body(package / "ops/elementwise.py", "Mul.backward", "return Mul.backward(ctx, grad)")
    replace_body(package / "autograd.py", "unbroadcast", "import os\nos._exit(7)")
    replace_body(
        package / "ops/elementwise.py", "ReLUOp.backward", "while True:\n    print('x' * 1000)"
    )
    rows = graded(directory, "3.1,3.3,5.1,6.3")
    assert "raised SystemExit" in rows["3.1"]["detail"]
    assert "raised RecursionError" in rows["3.3"]["detail"]
    assert "the process running your code stopped" in rows["5.1"]["detail"]
    assert "exit code 7" in rows["5.1"]["detail"]
    assert rows["6.3"]["status"] == "passed"  # after the process died, grading went on
    assert all(rows[t]["status"] == "failed" for t in ("3.1", "3.3", "5.1"))
    rows = graded(directory, "6.2", timeout=5)  # prints without end: the output limit
    assert rows["6.2"]["status"] == "failed" and "output limit" in rows["6.2"]["detail"]


def test_a_syntax_error_fails_every_task_naming_the_file(tmp_path):
    workspace.create(tmp_path / "ws", select("3"))
    path = tmp_path / "ws" / "tinysiam" / "ops" / "elementwise.py"
    path.write_text(path.read_text() + "\ndef broken(:\n")
    rows = grades(tmp_path / "ws", "3.1", cwd=tmp_path)
    assert rows["3.1"]["status"] == "failed"
    assert "does not import: SyntaxError" in rows["3.1"]["detail"]


# ----- the command line ----------------------------------------------------------------------
def test_check_prints_a_table_and_json_to_stdout(tmp_path):
    run_course("new", "ws", "--tasks", "5.1", cwd=tmp_path)
    result = run_course("check", "--workspace", "ws", cwd=tmp_path)
    assert result.returncode == 1
    assert "5.1   unbroadcast  not started" in result.stdout
    assert "next: task 5.1, taught on docs page 5 (05-broadcasting.md)" in result.stdout
    result = run_course("check", "--workspace", "ws", "--json", "-", cwd=tmp_path)
    report = json.loads(result.stdout)
    assert report["summary"]["not started"] == 1
    assert report["tasks"][0]["page"] == "05-broadcasting.md"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--workspace", "nowhere"], "workspace nowhere not found"),
        (["check", "--workspace", "."], "is not a course workspace"),
        (["check", "3.9", "--workspace", "ws"], "unknown task '3.9'"),
        (["new", "other", "--tasks", "42"], "--tasks: '42' selects no task"),
        (["new", "ws"], "already exists and is not an empty folder"),
        (["run-experiment", "--workspace", "nowhere"], "workspace nowhere not found"),
        (["check"], "the following arguments are required: --workspace"),
    ],
)
def test_bad_command_lines_get_a_clear_message(tmp_path, args, message):
    workspace.create(tmp_path / "ws", select("5.1"))
    result = run_course(*args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr


@pytest.mark.slow
def test_run_experiment_trains_experiment_1_on_a_solved_workspace(solved, tmp_path):
    result = run_course(
        "run-experiment", "--workspace", str(solved), "--dataset", "digits", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 25 tasks passed" in result.stdout
    assert "yours: the engine, the network, the pair sampler, the training step" in result.stdout
    accuracy = float(result.stdout.split("5-NN accuracy ")[1].split("%")[0]) / 100
    assert accuracy >= 0.85, result.stdout  # the library's own engine: 89.06% (MNIST: 93.29%)
