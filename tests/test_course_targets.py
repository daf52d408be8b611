"""The course's task targets are a contract with the library's source.

Each task of :mod:`tinysiam.course.tasks` names functions by file and qualified name, some of
them private (``_topological_order``, ``_check_elementwise``). A workspace replaces their bodies
and keeps their signatures and docstrings, and the graders call them with these signatures; so
renaming one, moving it, or changing its arguments breaks the course. This test holds the
signatures the course was written against: change one only together with its task, its grader
and its docs page. Every target's docstring also says that it is a course task, so that whoever
edits it knows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tinysiam.course.tasks import TASKS
from tinysiam.course.workspace import library_path

PACKAGE = Path(__file__).resolve().parents[1] / "tinysiam"

# (task id, file inside the package, qualified name, signature as ast.unparse writes it)
EXPECTED = (
    ("3.1", "autograd.py", "_topological_order", "(output: Tensor) -> list[Tensor]"),
    (
        "3.2",
        "autograd.py",
        "backward",
        "(output: Tensor, grad: Any=None, retain_graph: bool=False) -> None",
    ),
    ("3.3", "ops/elementwise.py", "Mul.backward", "(ctx: Context, grad: Any) -> tuple[Any, Any]"),
    ("3.3", "ops/elementwise.py", "Div.backward", "(ctx: Context, grad: Any) -> tuple[Any, Any]"),
    ("3.3", "ops/elementwise.py", "Pow.backward", "(ctx: Context, grad: Any) -> tuple[Any, Any]"),
    ("3.3", "ops/elementwise.py", "Exp.backward", "(ctx: Context, grad: Any) -> tuple[Any]"),
    ("3.3", "ops/elementwise.py", "Log.backward", "(ctx: Context, grad: Any) -> tuple[Any]"),
    (
        "4.1",
        "gradcheck.py",
        "_check_elementwise",
        "(i, x, analytic, scalar, eps, atol, rtol) -> None",
    ),
    (
        "4.1",
        "gradcheck.py",
        "_check_directions",
        "(i, x, analytic, scalar, eps, atol, rtol, rng) -> None",
    ),
    ("5.1", "autograd.py", "unbroadcast", "(grad: Any, shape: tuple[int, ...]) -> Any"),
    ("5.2", "ops/reduce.py", "Sum.backward", "(ctx: Context, grad: Any) -> tuple[Any]"),
    ("5.2", "ops/reduce.py", "Mean.backward", "(ctx: Context, grad: Any) -> tuple[Any]"),
    (
        "5.2",
        "ops/reduce.py",
        "Max.forward",
        "(ctx: Context, a: Any, axis: Axis=None, keepdims: bool=False) -> Any",
    ),
    ("5.2", "ops/reduce.py", "Max.backward", "(ctx: Context, grad: Any) -> tuple[Any]"),
    ("6.1", "ops/linalg.py", "MatMul.backward", "(ctx: Context, grad: Any) -> tuple[Any, Any]"),
    ("6.1", "ops/linalg.py", "DenseOp.backward", "(ctx: Context, grad: Any) -> tuple[Any, ...]"),
    ("6.2", "ops/elementwise.py", "ReLUOp.forward", "(ctx: Context, a: Any) -> Any"),
    ("6.2", "ops/elementwise.py", "ReLUOp.backward", "(ctx: Context, grad: Any) -> tuple[Any]"),
    ("6.3", "ops/elementwise.py", "SigmoidOp.forward", "(ctx: Context, a: Any) -> Any"),
    ("6.3", "ops/elementwise.py", "SigmoidOp.backward", "(ctx: Context, grad: Any) -> tuple[Any]"),
    (
        "7.1",
        "nn/module.py",
        "_flatten",
        "(name: str, value: Any) -> Iterator[tuple[str, Parameter | Module]]",
    ),
    (
        "7.1",
        "nn/module.py",
        "Module.named_modules",
        "(self, prefix: str='') -> Iterator[tuple[str, Module]]",
    ),
    ("7.1", "nn/module.py", "Module.named_parameters", "(self) -> Iterator[tuple[str, Parameter]]"),
    ("7.2", "nn/module.py", "Module.state_dict", "(self) -> OrderedDict[str, np.ndarray]"),
    ("7.2", "nn/module.py", "Module.load_state_dict", "(self, state: dict[str, Any]) -> None"),
    (
        "7.3",
        "nn/init.py",
        "he_normal",
        "(shape: tuple[int, ...], fan_in: int, rng: np.random.Generator) -> np.ndarray",
    ),
    (
        "7.3",
        "nn/layers.py",
        "Dense.__init__",
        "(self, in_features: int, out_features: int, init: str='he', "
        "rng: np.random.Generator | None=None) -> None",
    ),
    ("7.3", "nn/layers.py", "Dense.forward", "(self, x: Tensor) -> Tensor"),
    (
        "8.1",
        "reference/conv.py",
        "im2col",
        "(x_padded: Any, kh: int, kw: int, stride: tuple[int, int], out_hw: tuple[int, "
        "int]) -> Any",
    ),
    (
        "8.2",
        "reference/conv.py",
        "col2im",
        "(cols: Any, x_padded_shape: tuple[int, ...], kh: int, kw: int, "
        "stride: tuple[int, int], out_hw: tuple[int, int]) -> Any",
    ),
    (
        "8.3",
        "reference/conv.py",
        "ReferenceConv2dOp.backward",
        "(ctx: Context, grad: Any) -> tuple[Any, ...]",
    ),
    (
        "9.1",
        "reference/pool.py",
        "ReferenceMaxPool2dOp.forward",
        "(ctx: Context, x: Any, kernel_size: Any=2, stride: Any=None) -> Any",
    ),
    (
        "9.1",
        "reference/pool.py",
        "ReferenceMaxPool2dOp.backward",
        "(ctx: Context, grad: Any) -> tuple[Any]",
    ),
    (
        "10.1",
        "losses.py",
        "contrastive_loss",
        "(f1: Tensor, f2: Tensor, y: Tensor | Any, margin: float=1.0, eps: float=1e-06, "
        "reduction: str='sum') -> Tensor",
    ),
    (
        "10.2",
        "losses.py",
        "binary_cross_entropy",
        "(p: Tensor, y: Tensor | Any, eps: float | None=None, reduction: str='mean') -> Tensor",
    ),
    ("10.3", "losses.py", "SigmoidCrossEntropy.forward", "(ctx: Context, z: Any, y: Any) -> Any"),
    (
        "10.3",
        "losses.py",
        "SigmoidCrossEntropy.backward",
        "(ctx: Context, grad: Any) -> tuple[Any, Any]",
    ),
    ("11.1", "reference/optim.py", "ReferenceSGD.step", "(self) -> None"),
    ("11.2", "reference/optim.py", "ReferenceAdam.step", "(self) -> None"),
    (
        "13.1",
        "nn/twin.py",
        "Twin.forward",
        "(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]",
    ),
    (
        "15.1",
        "experiment1.py",
        "sample_pairs",
        "(labels: np.ndarray, n_pairs: int, rng: np.random.Generator) "
        "-> tuple[np.ndarray, np.ndarray, np.ndarray]",
    ),
    (
        "15.2",
        "experiment1.py",
        "training_step",
        "(twin: Any, optimizer: Any, x1: np.ndarray, x2: np.ndarray, y: np.ndarray, "
        "margin: float) -> float",
    ),
    (
        "15.3",
        "experiment1.py",
        "knn_accuracy",
        "(train_embeddings: np.ndarray, train_labels: np.ndarray, test_embeddings: np.ndarray, "
        "test_labels: np.ndarray, k: int=5) -> float",
    ),
)


def find_definition(tree: ast.Module, qualname: str) -> ast.FunctionDef | None:
    """The function ``qualname`` ("name" or "Class.method") defined in ``tree``, or None."""
    node: ast.AST = tree
    for part in qualname.split("."):
        found = [
            child
            for child in ast.iter_child_nodes(node)
            if isinstance(child, ast.FunctionDef | ast.ClassDef) and child.name == part
        ]
        if not found:
            return None
        node = found[0]
    return node if isinstance(node, ast.FunctionDef) else None


def signature(function: ast.FunctionDef) -> str:
    """The signature, "(args) -> returns", as written in the source."""
    returns = f" -> {ast.unparse(function.returns)}" if function.returns is not None else ""
    return f"({ast.unparse(function.args)}){returns}"


def task_targets() -> list[tuple[str, str, str]]:
    return [(task.id, t.file, t.qualname) for task in TASKS for t in task.targets]


def test_the_recorded_targets_are_the_task_table() -> None:
    """A target added to or dropped from the task table is recorded here too."""
    assert task_targets() == [(tid, file, name) for tid, file, name, _ in EXPECTED]


@pytest.mark.parametrize(
    ("task_id", "file", "qualname", "expected"),
    EXPECTED,
    ids=[f"{tid}-{name}" for tid, _, name, _ in EXPECTED],
)
def test_target_exists_with_its_signature_and_says_it_is_a_task(
    task_id: str, file: str, qualname: str, expected: str
) -> None:
    path = library_path(file)
    assert path.is_file(), f"task {task_id}: tinysiam/{file} does not exist"
    function = find_definition(ast.parse(path.read_text()), qualname)
    assert function is not None, f"task {task_id}: tinysiam/{file} defines no {qualname}"
    assert signature(function) == expected, (
        f"task {task_id}: {qualname} in tinysiam/{file} has signature {signature(function)}, "
        f"the course expects {expected}"
    )
    docstring = ast.get_docstring(function) or ""
    marker = f"Course task {task_id} (docs/build-it-yourself.md)."
    assert marker in " ".join(docstring.split()), (
        f"the docstring of {qualname} in tinysiam/{file} does not say {marker!r}"
    )


@pytest.mark.parametrize("task", TASKS, ids=[task.id for task in TASKS])
def test_hints_say_what_to_compute_not_the_line_to_type(task) -> None:
    """A stub's message describes the result; it never dictates a return statement."""
    for target in task.targets:
        assert not target.hint.lower().startswith("return ("), (
            f"task {task.id}: the hint of {target.qualname} spells out its return line: "
            f"{target.hint!r}"
        )
