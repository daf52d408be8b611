"""One grader per task: the learner's code against the installed library on generated inputs.

Each grader, ``grade_<what the task builds>`` (the task table names it), takes the loaded
workspace (:class:`~tinysiam.course.grader_helpers.Workspace`), runs the task's functions on
inputs that Hypothesis generates (the same inputs at every run), and compares what comes back
with the installed library's answer for the same inputs: values, shapes and gradients, in
float64. A check that does not hold raises GradeFailure with the input, what was expected and
what came; Hypothesis first shrinks the input to the smallest that still fails.

The learner's code runs in its own process: ``ws.mod("autograd")`` is a proxy (see
:mod:`tinysiam.course.remote`), arrays and numbers come back by value, and a grader never
trusts an object of the learner's for what it knows itself (the graph it built, the right
answer). While a task is graded, every other task's functions are the library's (see
:func:`tinysiam.course.submission.assemble`), so the graders may use the whole workspace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .grader_helpers import GradeFailure, Workspace, as_array, call, describe, expect, fail, kind
from .learner_process import function as library_function
from .remote import LearnerError
from .starter import experiment1 as library_recipe
from .strategies import (
    arrays,
    bools,
    broadcastable_shapes,
    distinct,
    floats,
    labels,
    needs,
    prove,
    reduced_shapes,
    shapes,
)

lib = Workspace.lib


# ----- shared checks -------------------------------------------------------------------------
def _unbroadcast(
    value: Any, shape: tuple[int, ...], broadcast: tuple[int, ...], what: str, given: str
) -> np.ndarray:
    """A learner's gradient summed back to the input's ``shape`` (the engine does that), or a
    failure naming its shape as the learner's backward returned it.

    ``broadcast`` is the shape of the library's gradient before the engine sums it back, named
    in the failure when it is not the input's.
    """
    array = as_array(value, what, given)
    if array.shape == shape:
        return array
    if not _sums_back(array.shape, shape):
        also = "" if broadcast == shape else f" (or one it broadcasts to, such as {broadcast})"
        fail(f"{given}: expected {what} of shape {shape}{also}, got shape {array.shape}")
    return lib("autograd").unbroadcast(array, shape)


def _sums_back(grad_shape: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """Whether a gradient of ``grad_shape`` sums back to an input of ``shape``: the input
    broadcasts to it, and no side of 1 became 0 (an empty gradient, whose sum is a made-up 0).

    E.g. (2, 3) and (1, 3) sum back to (3,), (4, 3) does not; (1, 1, 0, 0) does not sum back to
    (1, 1, 1, 1).
    """
    try:
        broadcasts = np.broadcast_shapes(shape, grad_shape) == grad_shape
    except ValueError:
        return False
    return broadcasts and (0 not in grad_shape or 0 in shape)


@contextlib.contextmanager
def _explained(text: str) -> Iterator[None]:
    """Name the rule a check tests (if any) at the head of the failure it raises inside."""
    try:
        yield
    except GradeFailure as failure:
        if not text:
            raise
        raise GradeFailure(f"{text}. {failure}") from None


def _given(name: str, inputs: dict[str, Any], params: dict[str, Any] | None = None) -> str:
    parts = [f"{key} = {describe(value)}" for key, value in inputs.items()]
    parts += [f"{key}={value!r}" for key, value in (params or {}).items()]
    return f"{name}({', '.join(parts)})"


def _op_case(
    ws: Workspace,
    module: str,
    name: str,
    inputs: dict[str, np.ndarray],
    grad: np.ndarray | None,
    need: Sequence[bool],
    params: dict[str, Any] | None = None,
    forward: bool = False,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    errstate: dict[str, Any] | None = None,
) -> None:
    """Run op ``name``'s forward and backward, the learner's and the library's, and compare.

    ``grad=None`` uses a gradient of ones of the output's shape. ``errstate`` applies to the
    learner's calls only (e.g. over="raise": an overflow is a failure).
    """
    params = params or {}
    mine, theirs = getattr(ws.mod(module), name), getattr(lib(module), name)
    arrays_ = list(inputs.values())
    library_ctx = lib("autograd").Context(tuple(need))
    expected_out = theirs.forward(library_ctx, *[a.copy() for a in arrays_], **params)
    if grad is None:
        grad = np.ones(np.shape(expected_out))
    expected = theirs.backward(library_ctx, grad.copy())
    given = _given(name, {**inputs, "grad": grad}, params)
    ctx = ws.mod("autograd").Context(tuple(need))
    with ws.errstate(**(errstate or {})):
        out = call(
            f"{given}: {name}.forward", mine.forward, ctx, *[a.copy() for a in arrays_], **params
        )
        if forward:
            expect(f"{name}.forward's result", out, expected_out, given, rtol, atol)
        got = call(f"{given}: {name}.backward", mine.backward, ctx, grad.copy())
    if not isinstance(got, (tuple, list)) or len(got) != len(arrays_):
        fail(
            f"{given}: {name}.backward must return a tuple with one gradient per input "
            f"({len(arrays_)}), got {describe(got)}"
        )
    for k, (input_name, array) in enumerate(inputs.items()):
        if need[k]:
            what = f"the gradient of {input_name}"
            broadcast = np.shape(expected[k])
            expect(
                what,
                _unbroadcast(got[k], array.shape, broadcast, what, given),
                lib("autograd").unbroadcast(np.asarray(expected[k]), array.shape),
                given,
                rtol,
                atol,
            )


def _tensor(ws: Workspace, array: np.ndarray, requires_grad: bool = False) -> Any:
    return ws.mod("tensor").Tensor(np.array(array, dtype=np.float64), requires_grad=requires_grad)


def _library_tensor(array: np.ndarray, requires_grad: bool = False) -> Any:
    return lib("tensor").Tensor(np.array(array, dtype=np.float64), requires_grad=requires_grad)


# ----- 3.1 and 3.2: the engine ---------------------------------------------------------------
@st.composite
def _graphs(draw: Any, max_leaves: int = 4, max_ops: int = 7) -> tuple[list[bool], list[list[int]]]:
    """A random graph: which leaves require grad, and each op's inputs (earlier tensors, repeated
    at will)."""
    leaves = draw(st.integers(1, max_leaves))
    requires = [True] + draw(st.lists(st.booleans(), min_size=leaves - 1, max_size=leaves - 1))
    ops = []
    for k in range(draw(st.integers(1, max_ops))):
        ops.append(draw(st.lists(st.integers(0, leaves + k - 1), min_size=1, max_size=3)))
    ops[-1] = ops[-1] + [0]  # the output depends on a leaf that requires grad
    return requires, ops


def grade_topological_order(ws: Workspace) -> None:
    autograd = ws.mod("autograd")
    combine = ws.kit("function", autograd.Function, "combine")

    @prove(_graphs(), examples=25)
    def _(graph: tuple[list[bool], list[list[int]]]) -> None:
        requires, ops = graph
        tensors = [_tensor(ws, np.zeros(2), r) for r in requires]
        for inputs in ops:
            tensors.append(combine.apply(*[tensors[i] for i in inputs]))
        names = [f"x{i}" for i in range(len(requires))] + [f"t{k}" for k in range(len(ops))]
        text = "; ".join(
            f"t{k} = op({', '.join(names[i] for i in inputs)})" for k, inputs in enumerate(ops)
        )
        constants = [f"x{i}" for i, r in enumerate(requires) if not r]
        given = f"the graph {text}" + (
            f" ({', '.join(constants)} requiring no grad)" if constants else ""
        )
        order = call(f"{given}: _topological_order", autograd._topological_order, tensors[-1])
        _check_order(order, tensors, requires, ops, names, given)

    chain_length = 3000
    x = _tensor(ws, np.zeros(1), True)
    y = x
    for _step in range(chain_length):
        y = combine.apply(y)
    order = call(
        f"a chain of {chain_length} ops (a recursive search hits Python's recursion limit; "
        "use an explicit stack): _topological_order",
        autograd._topological_order,
        y,
    )
    if not isinstance(order, (list, tuple)) or len(order) != chain_length + 1:
        fail(
            f"a chain of {chain_length} ops: expected {chain_length + 1} tensors, "
            f"got {len(order) if isinstance(order, (list, tuple)) else describe(order)}"
        )


def _check_order(
    order: Any,
    tensors: list[Any],
    requires: list[bool],
    ops: list[list[int]],
    names: list[str],
    given: str,
) -> None:
    """Check ``order`` against the graph the grader built (never against the learner's view)."""
    if not isinstance(order, (list, tuple)):
        fail(f"{given}: _topological_order must return a list of tensors, got {describe(order)}")
    inputs: list[list[int]] = [[] for _ in requires] + [list(op) for op in ops]
    wants = list(requires)
    for op in ops:
        wants.append(any(wants[i] for i in op))
    needed: set[int] = set()
    stack = [len(tensors) - 1]
    while stack:
        k = stack.pop()
        if k not in needed:
            needed.add(k)
            stack.extend(i for i in inputs[k] if wants[i])
    index = {id(tensor): k for k, tensor in enumerate(tensors)}
    positions: dict[int, int] = {}
    for position, tensor in enumerate(order):
        if id(tensor) not in index:
            fail(f"{given}: the order holds {describe(tensor)}, which is not a tensor of the graph")
        k = index[id(tensor)]
        if k in positions:
            fail(f"{given}: {names[k]} comes twice in the order")
        positions[k] = position
    missing = [names[k] for k in sorted(needed) if k not in positions]
    if missing:
        fail(f"{given}: the order lacks {', '.join(missing)}")
    for k in sorted(needed):
        for parent in (i for i in inputs[k] if wants[i]):
            if positions[parent] > positions[k]:
                fail(
                    f"{given}: {names[parent]} must come before {names[k]}, which uses it; got "
                    "the order " + ", ".join(names[index[id(t)]] for t in order)
                )


LEAF_SHAPES = [(), (3,), (1,), (2, 3), (2, 1), (1, 3)]  # all broadcast to (2, 3)


@st.composite
def _valued_graphs(draw: Any) -> dict[str, Any]:
    requires, ops = draw(_graphs(max_leaves=3, max_ops=5))
    leaves = [draw(arrays(draw(st.sampled_from(LEAF_SHAPES)), -1.5, 1.5)) for _ in requires]
    kinds = [draw(st.sampled_from(["*", "+"])) for _ in ops]
    ops = [[inputs[0], inputs[-1]] for inputs in ops]  # binary ops; the last keeps leaf 0
    preset = [r and draw(st.booleans()) for r in requires]
    return {
        "requires": requires,
        "leaves": leaves,
        "ops": list(zip(kinds, ops, strict=True)),
        "preset": preset,
        "scalar": draw(st.booleans()),
        "twice": draw(st.booleans()),
    }


def grade_backward_loop(ws: Workspace) -> None:
    autograd, library = ws.mod("autograd"), lib("autograd")
    rules = ("*", "+", "sum")
    mine = {rule: ws.kit("function", autograd.Function, rule) for rule in rules}
    theirs = {rule: library_function(library.Function, rule) for rule in rules}

    @prove(_valued_graphs(), examples=30)
    def _(case: dict[str, Any]) -> None:
        def build(tensor: Callable, ops: dict[str, Any]) -> tuple[list, Any]:
            leaves = [tensor(a, r) for a, r in zip(case["leaves"], case["requires"], strict=True)]
            for leaf, preset in zip(leaves, case["preset"], strict=True):
                if preset:
                    leaf.grad = np.full(leaf.shape, 0.25)
            values = list(leaves)
            for rule, inputs in case["ops"]:
                values.append(ops[rule].apply(*[values[i] for i in inputs]))
            results = values[len(leaves) :]
            if case["scalar"]:
                results.append(ops["sum"].apply(values[-1]))
            return leaves, results

        built = [build(lambda a, r: _tensor(ws, a, r), mine), build(_library_tensor, theirs)]
        (leaves, results), (library_leaves, library_results) = built
        output, library_output = results[-1], library_results[-1]
        n = len(case["leaves"])
        name = [f"x{i}" for i in range(n)] + [f"t{k}" for k in range(len(case["ops"]))]
        text = "; ".join(
            f"t{k} = {name[i]} {kind} {name[j]}" for k, (kind, (i, j)) in enumerate(case["ops"])
        )
        out = f"t{len(case['ops']) - 1}"
        seed = (
            None if case["scalar"] else np.linspace(-1, 1, output.data.size).reshape(output.shape)
        )
        given = (
            f"{text}; backward of {'sum(' + out + ')' if case['scalar'] else out}"
            + ("" if case["scalar"] else f" with grad {describe(seed)}")
            + ", x = "
            + ", ".join(describe(a) for a in case["leaves"])
            + (
                ", the .grad of "
                + ", ".join(f"x{i}" for i, p in enumerate(case["preset"]) if p)
                + " preset to 0.25"
                if any(case["preset"])
                else ""
            )
            + (", called twice with retain_graph=True" if case["twice"] else "")
        )
        for _ in range(2 if case["twice"] else 1):
            library.backward(library_output, seed, retain_graph=case["twice"])
            call(f"{given}: backward", autograd.backward, output, seed, retain_graph=case["twice"])
        for i, (leaf, library_leaf) in enumerate(zip(leaves, library_leaves, strict=True)):
            if not case["requires"][i]:
                if leaf.grad is not None:
                    fail(f"{given}: x{i} does not require grad, but its .grad was set")
                continue
            if library_leaf.grad is None:  # not in the graph
                if leaf.grad is not None:
                    fail(f"{given}: x{i} is not in the graph, so its .grad must stay None")
                continue
            expect(f"x{i}.grad", leaf.grad, library_leaf.grad, given)
        if not case["twice"]:
            _check_released(autograd, output, seed, _visited(case, results), given)


def _visited(case: dict[str, Any], results: list[Any]) -> list[tuple[str, Any]]:
    """(name, tensor) of each op result a backward from the last result goes through."""
    n, ops = len(case["requires"]), [inputs for _, inputs in case["ops"]]
    wants = list(case["requires"])
    for inputs in ops:
        wants.append(any(wants[i] for i in inputs))
    visited, stack = set(), [n + len(ops) - 1]
    while stack:
        k = stack.pop()
        if k >= n and k not in visited:
            visited.add(k)
            stack.extend(i for i in ops[k - n] if wants[i])
    named = [(f"t{k - n}", results[k - n]) for k in sorted(visited)]
    return named + ([("the sum", results[-1])] if case["scalar"] else [])


def _check_released(
    autograd: Any, output: Any, seed: Any, visited: list[tuple[str, Any]], given: str
) -> None:
    """After a backward without retain_graph, the nodes it went through are released: their saved
    arrays are gone and a second backward raises RuntimeError (page 3)."""
    how = "release each node once used: node.ctx.saved_tensors = () and node.released = True"
    given = f"{given}, then backward again (retain_graph=False both times)"
    try:
        autograd.backward(output, seed)
    except LearnerError as error:
        if not error.is_a("RuntimeError"):
            fail(
                f"{given}: expected the RuntimeError of a released graph, got {kind(error)}: "
                f"{error}{error.where}; {how}"
            )
    else:
        fail(
            f"{given}: the second backward ran; without retain_graph=True the first must release "
            f"the graph, so that a second raises RuntimeError; {how}"
        )
    for name, tensor in visited:
        if len(tensor._node.ctx.saved_tensors):
            fail(f"{given}: {name}'s node still holds its saved arrays after backward; {how}")


# ----- 3.3: elementwise backward rules -------------------------------------------------------
def grade_elementwise_rules(ws: Workspace) -> None:
    away_from_zero = st.one_of(floats(-2.0, -0.25), floats(0.25, 2.0))
    _binary_rule(ws, "Mul", floats(-2.0, 2.0), floats(-2.0, 2.0))
    _binary_rule(ws, "Div", floats(-2.0, 2.0), away_from_zero)
    _binary_rule(ws, "Pow", floats(0.5, 2.0), floats(-2.0, 2.0))  # a > 0: a^b and log a exist
    _unary_rule(ws, "Exp", -3.0, 3.0)
    _unary_rule(ws, "Log", 0.1, 3.0)


def _values(shape: tuple[int, ...], values: st.SearchStrategy) -> st.SearchStrategy:
    size = int(np.prod(shape))
    return st.lists(values, min_size=size, max_size=size).map(
        lambda v: np.array(v, dtype=np.float64).reshape(shape)
    )


def _binary_rule(
    ws: Workspace, name: str, a_values: st.SearchStrategy, b_values: st.SearchStrategy
) -> None:
    @st.composite
    def cases(draw: Any) -> tuple:
        shape_a, shape_b = draw(broadcastable_shapes())
        return draw(_values(shape_a, a_values)), draw(_values(shape_b, b_values)), draw(needs(2))

    @prove(cases(), examples=12)
    def _(case: tuple) -> None:
        a, b, need = case
        _op_case(ws, "ops.elementwise", name, {"a": a, "b": b}, None, need)


def _unary_rule(ws: Workspace, name: str, low: float, high: float) -> None:
    @prove(shapes().flatmap(lambda s: arrays(s, low, high)), examples=10)
    def _(a: np.ndarray) -> None:
        grad = np.linspace(-1.0, 2.0, a.size).reshape(a.shape)
        _op_case(ws, "ops.elementwise", name, {"a": a}, grad, (True,))


# ----- 4.1: the gradient checker -------------------------------------------------------------
def grade_gradient_checker(ws: Workspace) -> None:
    module = ws.mod("gradcheck")
    base = ws.mod("autograd").Function
    checker = module.gradcheck

    def cube(wrong_at: int | None = None, factor: float = 2.0) -> Any:
        """f(x) = x^3 in the learner's process, its gradient wrong at ``wrong_at`` if given."""
        return ws.kit("cube", base, wrong_at, factor)

    def run(op: Any, x: np.ndarray, given: str, **tolerances: float) -> bool:
        """True when the checker accepts, False when it raises GradcheckError."""
        tensor = _tensor(ws, x, True)
        try:
            result = checker(ws.kit("applier", op), tensor, **tolerances)
        except LearnerError as error:
            if error.is_a("GradcheckError"):
                return False
            if isinstance(error, NotImplementedError) and str(error).startswith("Task "):
                raise
            raise GradeFailure(
                f"{given}: gradcheck raised {kind(error)}: {error}{error.where}"
            ) from None
        if result is not True:
            fail(
                f"{given}: gradcheck must return True when the gradient is right, "
                f"got {describe(result)}"
            )
        if not np.array_equal(as_array(tensor.data, "the input", given), x):
            fail(
                f"{given}: gradcheck changed its input's values, {describe(x)} became "
                f"{describe(tensor.data)}"
            )
        return True

    @st.composite
    def cases(draw: Any) -> tuple[np.ndarray, int]:
        shape = draw(shapes(min_dims=1, max_dims=2))
        x = draw(arrays(shape, -2.0, 2.0, avoid=[-0.3, -0.15, 0.0, 0.15, 0.3]))
        x = np.where(
            np.abs(x) < 0.3, np.sign(x) * 0.3 + x, x
        )  # |x| >= 0.3: the derivative is not tiny
        return x, draw(st.integers(0, x.size - 1))

    @prove(cases(), examples=12)
    def _(case: tuple[np.ndarray, int]) -> None:
        x, k = case
        given = f"f(x) = x^3 at x = {describe(x)}"
        if not run(cube(), x, given):
            fail(f"{given}: gradcheck raised GradcheckError, but the gradient 3 x^2 is right")
        if not run(cube(), x, given, eps=1e-3, atol=1e-5, rtol=1e-5):
            fail(
                f"{given}, eps=1e-3, atol=1e-5, rtol=1e-5: gradcheck raised GradcheckError for the "
                "right gradient; a central difference is off by eps^2 = 1e-6 only "
                "(a one-sided difference is off by about 3 x eps)"
            )
        index = tuple(int(i) for i in np.unravel_index(k, x.shape))
        if run(cube(wrong_at=k), x, given):
            fail(f"{given}: gradcheck accepted a gradient that is twice too large at index {index}")

    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.5, size=(3, 700)) * rng.choice([-1.0, 1.0], size=(3, 700))
    given = "f(x) = x^3 for x of shape (3, 700) (more than 2048 elements: random directions)"
    if not run(cube(), x, given):
        fail(f"{given}: gradcheck raised GradcheckError, but the gradient 3 x^2 is right")
    if run(cube(wrong_at=-1, factor=1.05), x, given):
        fail(f"{given}: gradcheck accepted a gradient that is 5% too large everywhere")


# ----- 5.1 and 5.2: broadcasting and reductions ----------------------------------------------
UNBROADCAST_CASES = [  # (the broadcast shape, the input's): added axes, stretched axes, both
    ((2, 3), (3,)),
    ((2, 3), (1, 3)),
    ((2, 3), (2, 1)),
    ((2, 3, 4), (3, 1)),
    ((2, 3, 4), (1, 4)),
    ((4, 2, 3), (2, 1)),
    ((2, 3, 4), ()),
    ((2, 1, 4), (1, 1)),
]


def grade_unbroadcast(ws: Workspace) -> None:
    mine = ws.mod("autograd").unbroadcast

    def check(grad: np.ndarray, shape: tuple[int, ...]) -> None:
        given = f"unbroadcast(grad = {describe(grad)}, shape={shape})"
        got = call(given, mine, grad.copy(), shape)
        expect("the result", got, lib("autograd").unbroadcast(grad.copy(), shape), given)

    for full, shape in UNBROADCAST_CASES:
        check(np.arange(float(np.prod(full))).reshape(full), shape)

    @st.composite
    def cases(draw: Any) -> tuple[np.ndarray, tuple[int, ...]]:
        full = draw(shapes(max_dims=4))
        return draw(arrays(full, -2.0, 2.0)), draw(reduced_shapes(full))

    @prove(cases(), examples=30)
    def _(case: tuple[np.ndarray, tuple[int, ...]]) -> None:
        check(*case)


def grade_reductions(ws: Workspace) -> None:
    @st.composite
    def cases(draw: Any, values: Callable = lambda s: arrays(s, -2.0, 2.0)) -> tuple:
        shape = draw(shapes(min_dims=1))
        ndim = len(shape)
        axis = draw(
            st.one_of(
                st.none(),
                st.integers(-ndim, ndim - 1),
                st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(
                    tuple
                ),
            )
        )
        return draw(values(shape)), axis, draw(st.booleans())

    def reduce(
        name: str, values: Callable, examples: int, forward: bool = False, rule: str = ""
    ) -> None:
        @prove(cases(values=values), examples=examples)
        def _(case: tuple) -> None:
            a, axis, keepdims = case
            params = {"axis": axis, "keepdims": keepdims}
            with _explained(rule):
                _op_case(ws, "ops.reduce", name, {"a": a}, None, (True,), params, forward=forward)

    def tied(shape: tuple[int, ...]) -> st.SearchStrategy:
        return arrays(shape, 0, 2).map(np.round)  # values 0, 1, 2: ties everywhere

    reduce("Sum", lambda s: arrays(s, -2.0, 2.0), 12)
    reduce("Mean", lambda s: arrays(s, -2.0, 2.0), 12)
    reduce("Max", distinct, 20, forward=True)
    reduce("Max", tied, 12, True, "tied maxima: the first, in row-major order, takes the gradient")


# ----- 6.x: dense, relu, sigmoid -------------------------------------------------------------
def grade_matmul_dense(ws: Workspace) -> None:
    @st.composite
    def matmul_cases(draw: Any) -> tuple:
        batch_a, batch_b = draw(st.one_of(st.just(((), ())), broadcastable_shapes(max_dims=2)))
        n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
        return draw(arrays((*batch_a, n, k))), draw(arrays((*batch_b, k, m))), draw(needs(2))

    @prove(matmul_cases(), examples=20)
    def _(case: tuple) -> None:
        a, b, need = case
        _op_case(ws, "ops.linalg", "MatMul", {"a": a, "b": b}, None, need)

    @st.composite
    def dense_cases(draw: Any) -> tuple:
        n, fan_in, fan_out = (draw(st.integers(1, 4)) for _ in range(3))
        inputs = {"x": draw(arrays((n, fan_in))), "weight": draw(arrays((fan_out, fan_in)))}
        if draw(st.booleans()):
            inputs["bias"] = draw(arrays((fan_out,)))
        return inputs, draw(needs(len(inputs)))

    @prove(dense_cases(), examples=20)
    def _(case: tuple) -> None:
        inputs, need = case
        grad = np.linspace(-1, 1, inputs["x"].shape[0] * inputs["weight"].shape[0])
        grad = grad.reshape(inputs["x"].shape[0], inputs["weight"].shape[0])
        _op_case(ws, "ops.linalg", "DenseOp", inputs, grad, need)


def grade_relu(ws: Workspace) -> None:
    @prove(shapes().flatmap(lambda s: arrays(s, -2.0, 2.0, avoid=[0.0])), examples=25)
    def _(a: np.ndarray) -> None:
        grad = np.linspace(-1.0, 2.0, a.size).reshape(a.shape)
        _op_case(ws, "ops.elementwise", "ReLUOp", {"a": a}, grad, (True,), forward=True)


def grade_sigmoid(ws: Workspace) -> None:
    extreme = st.one_of(floats(-1000.0, -30.0), floats(-6.0, 6.0), floats(30.0, 1000.0))

    @prove(
        shapes(min_dims=1, max_dims=2).flatmap(lambda s: _values(s, extreme)),
        examples=30,
    )
    def _(a: np.ndarray) -> None:
        grad = np.linspace(-1.0, 2.0, a.size).reshape(a.shape)
        _op_case(
            ws,
            "ops.elementwise",
            "SigmoidOp",
            {"a": a},
            grad,
            (True,),
            forward=True,
            atol=1e-300,
            errstate={"over": "raise", "invalid": "raise"},
        )


# ----- 7.x: modules, parameters, the dense layer -------------------------------------------
ATTRIBUTE_NAMES = ("weight", "blocks", "head", "scale", "extra", "inner")
MAX_ITEMS = 200  # items read from a learner's generator before it counts as endless


@st.composite
def _module_trees(draw: Any, depth: int = 0) -> tuple:
    """A network to build: ("module", [(attribute, member), ...]) or ("sequential", [modules]).

    A member is a module or ("parameter", shape), ("list" | "tuple", [members]), ("other",
    kind) (a number, a string or a plain tensor, which are not registered), or ("shared",)
    (a module built earlier, reached a second time).
    """
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        return ("sequential", draw(st.lists(_module_trees(depth + 1), min_size=1, max_size=3)))
    names = draw(st.lists(st.sampled_from(ATTRIBUTE_NAMES), max_size=4, unique=True))
    return ("module", [(name, draw(_members(depth))) for name in names])


@st.composite
def _members(draw: Any, depth: int) -> tuple:
    kinds = ["parameter", "parameter", "other"]
    if depth < 2:
        kinds += ["module", "list", "tuple", "shared"]
    kind = draw(st.sampled_from(kinds))
    if kind == "parameter":
        return ("parameter", draw(shapes(min_dims=1, max_dims=2, max_side=3)))
    if kind == "other":
        return ("other", draw(st.sampled_from(["number", "string", "tensor"])))
    if kind == "module":
        return draw(_module_trees(depth + 1))
    if kind == "shared":
        return ("shared",)
    return (kind, draw(st.lists(_members(depth + 1), min_size=1, max_size=3)))


class _Built:
    """One network built from a tree, on one side (the learner's nn, or the library's)."""

    def __init__(self, tree: tuple, nn: Any, tensor: Callable[[np.ndarray], Any]) -> None:
        self.nn, self.tensor = nn, tensor
        self.parameters: list[Any] = []  # in the order they were made
        self.modules: list[Any] = []  # in the order they were finished
        self.net = self.module(tree)

    def module(self, tree: tuple) -> Any:
        kind, members = tree
        if kind == "sequential":
            made = self.nn.Sequential(*[self.member(member) for member in members])
        else:
            made = self.nn.Module()
            for name, member in members:
                setattr(made, name, self.member(member))
        self.modules.append(made)
        return made

    def member(self, member: tuple) -> Any:
        kind = member[0]
        if kind == "parameter":
            count = len(self.parameters)
            values = np.arange(int(np.prod(member[1])), dtype=np.float32).reshape(member[1])
            self.parameters.append(self.nn.Parameter(values + 100 * count))
            return self.parameters[-1]
        if kind == "other":
            return {"number": 3.0, "string": "relu", "tensor": self.tensor(np.ones(2))}[member[1]]
        if kind == "shared":
            return self.modules[-1] if self.modules else self.module(("module", []))
        if kind in ("list", "tuple"):
            items = [self.member(item) for item in member[1]]
            return items if kind == "list" else tuple(items)
        return self.module(member)


def _tree_text(tree: tuple) -> str:
    """The network a tree builds, in one line: Module(weight=Parameter (2,), blocks=[...])."""

    def text(member: tuple) -> str:
        kind = member[0]
        if kind == "parameter":
            return f"Parameter {member[1]}"
        if kind == "other":
            return {"number": "3.0", "string": "'relu'", "tensor": "Tensor (2,)"}[member[1]]
        if kind == "shared":
            return "(the module finished last, again)"
        if kind == "list":
            return "[" + ", ".join(text(item) for item in member[1]) + "]"
        if kind == "tuple":
            return "(" + ", ".join(text(item) for item in member[1]) + ",)"
        if kind == "sequential":
            return "Sequential(" + ", ".join(text(item) for item in member[1]) + ")"
        return "Module(" + ", ".join(f"{name}={text(m)}" for name, m in member[1]) + ")"

    return text(tree)


def _items(value: Any, what: str, given: str) -> list[Any]:
    """What a learner's generator (or list) yields, read one item at a time."""
    if isinstance(value, (list, tuple)):
        return list(value)
    try:
        iterator = value.__iter__()
    except (AttributeError, LearnerError):
        fail(f"{given}: {what} must yield its items, got {describe(value)}")
    items: list[Any] = []
    while len(items) <= MAX_ITEMS:
        try:
            items.append(iterator.__next__())
        except LearnerError as error:
            if error.is_a("StopIteration"):
                return items
            if isinstance(error, NotImplementedError) and str(error).startswith("Task "):
                raise
            raise GradeFailure(
                f"{given}: {what} raised {kind(error)}: {error}{error.where}"
            ) from None
    fail(f"{given}: {what} yielded more than {MAX_ITEMS} items: does its loop ever end?")


def _named(items: list[Any], objects: list[Any], what: str, given: str) -> list[tuple[str, int]]:
    """(name, index in ``objects``) of each (name, object) pair; a failure if one is not a pair
    or its object is not one of ``objects``."""
    named = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[0], str):
            fail(f"{given}: {what} must yield (name, value) pairs, got {describe(item)}")
        found = [k for k, candidate in enumerate(objects) if candidate is item[1]]
        if not found:
            fail(
                f"{given}: {what} yielded {item[0]!r} with {describe(item[1])}, not one of the "
                "network's own objects"
            )
        named.append((item[0], found[0]))
    return named


def _same_names(
    what: str, got: list[tuple[str, int]], expected: list[tuple[str, int]], given: str
) -> None:
    got_names, expected_names = [n for n, _ in got], [n for n, _ in expected]
    first_name: dict[int, str] = {}
    for name, k in got:
        if k in first_name:
            fail(
                f"{given}: {what} gave {name!r}, which is {first_name[k]!r} again: an object "
                f"reached twice comes once (expected the names {expected_names})"
            )
        first_name[k] = name
    if got_names != expected_names:
        fail(f"{given}: expected {what} to name {expected_names}, got {got_names}")
    for (name, k), (_, j) in zip(got, expected, strict=True):
        if k != j:
            fail(f"{given}: {what} gives {name!r} with another object than net.{name}")


def grade_module_parameters(ws: Workspace) -> None:
    nn = ws.mod("nn")

    @prove(_module_trees(), examples=40)
    def _(tree: tuple) -> None:
        given = f"net = {_tree_text(tree)}"
        mine = call(f"{given}: building it", _Built, tree, nn, lambda a: _tensor(ws, a))
        theirs = _Built(tree, lib("nn"), _library_tensor)
        modules = call(f"{given}: net.named_modules()", mine.net.named_modules)
        got = _named(
            _items(modules, "named_modules()", given), mine.modules, "named_modules()", given
        )
        expected = [(name, theirs.modules.index(m)) for name, m in theirs.net.named_modules()]
        _same_names("named_modules()", got, expected, given)
        params = call(f"{given}: net.named_parameters()", mine.net.named_parameters)
        got = _named(
            _items(params, "named_parameters()", given),
            mine.parameters,
            "named_parameters()",
            given,
        )
        expected = [
            (name, next(k for k, q in enumerate(theirs.parameters) if q is p))
            for name, p in theirs.net.named_parameters()
        ]
        _same_names("named_parameters()", got, expected, given)


def _state_items(state: Any, given: str) -> list[tuple[str, np.ndarray]]:
    """The (name, array) entries of a learner's state dict, in its order."""
    if isinstance(state, dict):
        return [(name, as_array(v, f"entry {name!r}", given)) for name, v in state.items()]
    try:
        size = len(state)
        pairs = [state.popitem(last=False) for _ in range(size)]
    except (TypeError, AttributeError, LearnerError):
        fail(
            f"{given}: state_dict() must return an OrderedDict of name -> array, got "
            f"{describe(state)}"
        )
    return [(name, as_array(v, f"entry {name!r}", given)) for name, v in pairs]


def grade_state_dict(ws: Workspace) -> None:
    nn, optim = ws.mod("nn"), ws.mod("reference.optim")

    @prove(_module_trees(), examples=25)
    def _(tree: tuple) -> None:
        given = f"net = {_tree_text(tree)}"
        mine = _Built(tree, nn, lambda a: _tensor(ws, a))
        theirs = _Built(tree, lib("nn"), _library_tensor)
        expected = theirs.net.state_dict()
        state = call(f"{given}: net.state_dict()", mine.net.state_dict)
        for p in mine.parameters:  # one SGD step: the state taken before must not move
            p.grad = np.ones(p.shape, dtype=np.float32)
        if mine.parameters:
            optim.ReferenceSGD(mine.parameters, lr=1.0).step()
        given_after = f"{given}, state = net.state_dict(), then an SGD step of the parameters"
        entries = _state_items(state, given_after)
        if [name for name, _ in entries] != list(expected):
            fail(
                f"{given}: expected the state_dict() entries {list(expected)}, got "
                f"{[name for name, _ in entries]}"
            )
        for name, values in entries:
            if not np.array_equal(values, expected[name]):
                fail(
                    f"{given_after}: expected the entry {name!r} to hold a copy of the values "
                    f"before the step, {describe(expected[name])}, got {describe(values)}"
                )
        _check_loading(ws, mine, theirs, given)


def _check_loading(ws: Workspace, mine: _Built, theirs: _Built, given: str) -> None:
    """load_state_dict: a good state is copied in, cast to float32; a bad one is refused whole."""
    good = {name: np.asarray(v, np.float64) / 8 - 1 for name, v in theirs.net.state_dict().items()}
    shown = ", ".join(f"{n} {v.shape}" for n, v in good.items())
    loading = f"{given}: net.load_state_dict(a dict of float64 arrays: {shown or 'empty'})"
    call(loading, mine.net.load_state_dict, good)
    for name, p in theirs.net.named_parameters():
        k = next(k for k, q in enumerate(theirs.parameters) if q is p)
        got = mine.parameters[k].data
        if getattr(got, "dtype", None) != np.float32:
            fail(f"{loading}: {name} must stay float32, got {describe(got)}")
        expect(f"{name} after loading", got, good[name].astype(np.float32), loading)
    if not good:
        return
    moved = {name: values + 1 for name, values in good.items()}  # a partial copy shows
    last = list(good)[-1]  # the faulty entry comes last: a load that copies as it checks fails
    bad_states = {
        f"without the entry {last!r}": ({n: v for n, v in moved.items() if n != last}, last),
        "with an unexpected entry 'stray.weight'": ({**moved, "stray.weight": np.ones(2)}, "stray"),
        f"with the entry {last!r} of shape {good[last].shape + (2,)}": (
            {**moved, last: np.ones(good[last].shape + (2,))},
            last,
        ),
    }
    for text, (state, named) in bad_states.items():
        before = [np.array(p.data) for p in mine.parameters]
        refusing = f"{given}: net.load_state_dict(a state {text})"
        try:
            mine.net.load_state_dict(state)
        except LearnerError as error:
            if not error.is_a("ValueError"):
                fail(f"{refusing}: expected a ValueError, got {kind(error)}: {error}{error.where}")
            if named not in error.message:
                fail(f"{refusing}: the ValueError must name {named!r}, got: {error.message}")
        else:
            fail(f"{refusing}: expected a ValueError naming {named!r}, but it loaded")
        for k, p in enumerate(mine.parameters):
            if not np.array_equal(as_array(p.data, "a parameter", refusing), before[k]):
                fail(
                    f"{refusing}: a refused state must change no parameter; check every entry "
                    "before copying any"
                )
    try:
        mine.net.load_state_dict([1.0])
    except LearnerError as error:
        if not error.is_a("TypeError"):
            fail(f"{given}: net.load_state_dict([1.0]): expected a TypeError, got {kind(error)}")
    else:
        fail(f"{given}: net.load_state_dict([1.0]): expected a TypeError (not a dict), none came")


def grade_dense_layer(ws: Workspace) -> None:
    init, layers = ws.mod("nn.init"), ws.mod("nn.layers")
    numpy = init.np  # the learner's process's NumPy: its generators stay there

    @prove(
        st.tuples(
            shapes(min_dims=1, max_dims=3, max_side=5),
            st.integers(1, 1000),
            st.integers(0, 2**32 - 1),
        ),
        examples=20,
    )
    def _(case: tuple) -> None:
        shape, fan_in, seed = case
        given = f"he_normal(shape={shape}, fan_in={fan_in}, rng=np.random.default_rng({seed}))"
        rng, expected_rng = numpy.random.default_rng(seed), np.random.default_rng(seed)
        got = call(given, init.he_normal, shape, fan_in, rng)
        expected = lib("nn.init").he_normal(shape, fan_in, expected_rng)
        if getattr(got, "dtype", None) != np.float32:
            fail(
                f"{given}: expected a float32 array, got {describe(got)} of dtype "
                f"{getattr(got, 'dtype', type(got).__name__)}"
            )
        with _explained("std = sqrt(2 / fan_in), from float64 standard normals cast to float32"):
            expect("the weights", got, expected, given, rtol=0, atol=0)
        _same_generator(rng, expected_rng, given)

    @prove(
        st.tuples(
            st.integers(1, 5),
            st.integers(1, 5),
            st.sampled_from(["he", "narrow-normal", "glorot"]),
            st.integers(0, 2**32 - 1),
            st.integers(1, 4),
        ),
        examples=20,
    )
    def _(case: tuple) -> None:
        fan_in, fan_out, scheme, seed, n = case
        given = f"Dense({fan_in}, {fan_out}, init={scheme!r}, rng=np.random.default_rng({seed}))"
        rng, expected_rng = numpy.random.default_rng(seed), np.random.default_rng(seed)
        layer = call(given, layers.Dense, fan_in, fan_out, init=scheme, rng=rng)
        expected = lib("nn.layers").Dense(fan_in, fan_out, init=scheme, rng=expected_rng)
        params = call(f"{given}: .parameters()", layer.parameters)
        weight, bias = (getattr(layer, name, None) for name in ("weight", "bias"))
        if (
            not isinstance(params, list)
            or len(params) != 2
            or params[0] is not weight
            or (params[1] is not bias)
        ):
            fail(
                f"{given}: expected the Parameters weight then bias to be registered, "
                f"parameters() gave {describe(params)}"
            )
        for name in ("weight", "bias"):
            got = getattr(layer, name).data
            if getattr(got, "dtype", None) != np.float32:
                fail(f"{given}: expected .{name} float32, got {describe(got)}")
            expect(f".{name}", got, getattr(expected, name).data, given, rtol=0, atol=0)
        _same_generator(rng, expected_rng, given)
        layer.to(dtype="float64")
        expected.to(dtype="float64")
        x = np.linspace(-1.5, 1.5, n * fan_in).reshape(n, fan_in)
        seed_grad = np.linspace(1.0, -1.0, n * fan_out).reshape(n, fan_out)
        forward = f"{given}, in float64, called on x = {describe(x)}"
        mine_x, their_x = _tensor(ws, x, True), _library_tensor(x, True)
        out = call(forward, layer, mine_x)
        their_out = expected(their_x)
        expect("the output", out, their_out.data, forward)
        call(f"{forward}: backward", out.backward, seed_grad)
        their_out.backward(seed_grad)
        expect("the gradient of x", mine_x.grad, their_x.grad, forward)
        expect("the gradient of weight", layer.weight.grad, expected.weight.grad, forward)
        wrong = np.zeros((n, fan_in + 1))
        refusing = f"{given}, called on x of shape {wrong.shape}"
        try:
            layer(_tensor(ws, wrong))
        except LearnerError as error:
            if not error.is_a("ValueError"):
                fail(f"{refusing}: expected a ValueError, got {kind(error)}: {error}")
        else:
            fail(f"{refusing}: expected a ValueError naming the shape (N, {fan_in}), none came")


def _same_generator(rng: Any, expected_rng: np.random.Generator, given: str) -> None:
    """The learner drew exactly as many numbers from ``rng`` as the library does."""
    if rng.bit_generator.state != expected_rng.bit_generator.state:
        fail(
            f"{given}: the generator was left in another state than the library leaves it: "
            "draw the weight, then the bias, from rng, and nothing else"
        )


# ----- 8.x and 9.1: convolution and pooling --------------------------------------------------
@st.composite
def _geometry(draw: Any, channels: int = 3) -> dict[str, Any]:
    """An (N, C, Hp, Wp) input with a kernel that fits, a stride, and the output size."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, channels))
    hp, wp = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, hp)), draw(st.integers(1, wp))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return {
        "shape": (n, c, hp, wp),
        "kh": kh,
        "kw": kw,
        "stride": (sh, sw),
        "out_hw": ((hp - kh) // sh + 1, (wp - kw) // sw + 1),
    }


def grade_im2col(ws: Workspace) -> None:
    mine, theirs = ws.mod("reference.conv").im2col, lib("reference.conv").im2col

    @prove(
        _geometry().flatmap(lambda g: st.tuples(st.just(g), distinct(g["shape"], 1.0))), examples=30
    )
    def _(case: tuple) -> None:
        g, x = case
        args = (g["kh"], g["kw"], g["stride"], g["out_hw"])
        given = (
            f"im2col(x_padded = {describe(x)}, kh={g['kh']}, kw={g['kw']}, "
            f"stride={g['stride']}, out_hw={g['out_hw']})"
        )
        got = call(given, mine, x.copy(), *args)
        expect("the columns", got, theirs(x.copy(), *args), given, rtol=0, atol=0)


def grade_col2im(ws: Workspace) -> None:
    mine = ws.mod("reference.conv").col2im
    reference = lib("reference.conv")

    @st.composite
    def cases(draw: Any) -> tuple:
        g = draw(_geometry())
        n, c = g["shape"][:2]
        rows, columns = c * g["kh"] * g["kw"], n * g["out_hw"][0] * g["out_hw"][1]
        return g, draw(distinct((rows, columns), 1.0))

    @prove(cases(), examples=30)
    def _(case: tuple) -> None:
        g, cols = case
        args = (g["shape"], g["kh"], g["kw"], g["stride"], g["out_hw"])
        given = (
            f"col2im(cols = {describe(cols)}, x_padded_shape={g['shape']}, kh={g['kh']}, "
            f"kw={g['kw']}, stride={g['stride']}, out_hw={g['out_hw']})"
        )
        got = call(given, mine, cols.copy(), *args)
        expect("the image", got, reference.col2im(cols.copy(), *args), given)
        x = np.linspace(-1, 1, int(np.prod(g["shape"]))).reshape(g["shape"])
        image_side = float(np.sum(as_array(got, "the image", given) * x))
        column_side = float(np.sum(cols * reference.im2col(x, *args[1:])))
        if not np.isclose(image_side, column_side, rtol=1e-9, atol=1e-9):
            fail(
                f"{given}: not the adjoint of im2col: <col2im(c), x> = {image_side:.6g} but "
                f"<c, im2col(x)> = {column_side:.6g}"
            )


def grade_conv2d_backward(ws: Workspace) -> None:
    @st.composite
    def cases(draw: Any) -> tuple:
        n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
        kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        padding, stride = draw(st.integers(0, 1)), draw(st.integers(1, 2))
        h = draw(st.integers(max(1, kh - 2 * padding), 5))
        w = draw(st.integers(max(1, kw - 2 * padding), 5))
        inputs = {"x": draw(arrays((n, c, h, w))), "weight": draw(arrays((o, c, kh, kw)))}
        if draw(st.booleans()):
            inputs["bias"] = draw(arrays((o,)))
        return inputs, {"stride": stride, "padding": padding}, draw(needs(len(inputs)))

    @prove(cases(), examples=25)
    def _(case: tuple) -> None:
        inputs, params, need = case
        _op_case(ws, "reference.conv", "ReferenceConv2dOp", inputs, None, need, params)


def grade_max_pool2d(ws: Workspace) -> None:
    @st.composite
    def cases(draw: Any, values: Callable[[tuple[int, ...]], st.SearchStrategy]) -> tuple:
        n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
        kernel = (draw(st.integers(1, h)), draw(st.integers(1, w)))
        stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
        return draw(values((n, c, h, w))), {"kernel_size": kernel, "stride": stride}

    def pool(x: np.ndarray, params: dict[str, Any]) -> None:
        op = "ReferenceMaxPool2dOp"
        _op_case(ws, "reference.pool", op, {"x": x}, None, (True,), params, forward=True)

    @prove(cases(distinct), examples=30)
    def _(case: tuple) -> None:
        pool(*case)

    def tied(shape: tuple[int, ...]) -> st.SearchStrategy:
        rounded = arrays(shape, 0, 2).map(np.round)  # values 0, 1, 2: ties in most windows
        return st.one_of(rounded, st.just(np.ones(shape)))  # or every window tied

    @prove(cases(tied), examples=20)
    def _(case: tuple) -> None:
        with _explained(
            "tied maxima: the first of a window, in row-major order, takes its gradient"
        ):
            pool(*case)


# ----- 10.x: losses --------------------------------------------------------------------------
def _loss_case(
    ws: Workspace,
    name: str,
    inputs: dict[str, np.ndarray],
    y: np.ndarray,
    params: dict[str, Any],
    errstate: dict[str, Any] | None = None,
) -> None:
    """The learner's loss and its gradients (through the library's engine) against the library's."""
    given = _given(name, {**inputs, "y": y}, params)
    library_inputs = {k: _library_tensor(v, True) for k, v in inputs.items()}
    expected = getattr(lib("losses"), name)(*library_inputs.values(), _library_tensor(y), **params)
    expected.sum().backward()
    mine = {k: _tensor(ws, v, True) for k, v in inputs.items()}
    with ws.errstate(**(errstate or {})):
        loss = call(
            f"{given}: {name}",
            getattr(ws.mod("losses"), name),
            *mine.values(),
            _tensor(ws, y),
            **params,
        )
    if not hasattr(loss, "_node"):
        fail(f"{given}: {name} must return a Tensor, got {describe(loss)}")
    expect("the loss", loss, expected.data, given)
    call(f"{given}: backward of the loss", loss.sum().backward)
    for key, tensor in mine.items():
        expect(f"d loss / d {key}", tensor.grad, library_inputs[key].grad, given)


def grade_contrastive_loss(ws: Workspace) -> None:
    @st.composite
    def cases(draw: Any) -> tuple:
        n, d = draw(st.integers(1, 5)), draw(st.integers(1, 3))
        f1, f2 = draw(arrays((n, d), -1.0, 1.0)), draw(arrays((n, d), -1.0, 1.0))
        same = draw(bools(n))
        f2[same] = f1[same]  # pairs at distance 0: the guard eps keeps the gradient finite
        margin = draw(floats(0.1, 2.0))
        eps = draw(st.one_of(st.just(1e-6), floats(1e-3, 0.5)))
        distance = np.sqrt(((f1 - f2) ** 2).sum(axis=1) + eps)
        if np.any(np.abs(distance - margin) < 0.02):  # the hinge's kink
            margin += 0.05
        reduction = draw(st.sampled_from(["sum", "mean", "none"]))
        return f1, f2, draw(labels(n)), {"margin": margin, "eps": eps, "reduction": reduction}

    @prove(cases(), examples=30)
    def _(case: tuple) -> None:
        f1, f2, y, params = case
        _loss_case(ws, "contrastive_loss", {"f1": f1, "f2": f2}, y, params)


def grade_binary_cross_entropy(ws: Workspace) -> None:
    @st.composite
    def cases(draw: Any) -> tuple:
        n = draw(st.integers(1, 5))
        values = st.one_of(st.sampled_from([0.0, 1.0]), floats(0.01, 0.99))
        p = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64)
        eps = draw(st.one_of(st.none(), floats(1e-7, 0.1)))
        reduction = draw(st.sampled_from(["sum", "mean", "none"]))
        return p, draw(labels(n)), {"eps": eps, "reduction": reduction}

    @prove(cases(), examples=30)
    def _(case: tuple) -> None:
        p, y, params = case
        _loss_case(ws, "binary_cross_entropy", {"p": p}, y, params)


def grade_bce_with_logits(ws: Workspace) -> None:
    @st.composite
    def cases(draw: Any) -> tuple:
        n = draw(st.integers(1, 5))
        values = st.one_of(floats(-1000.0, -30.0), floats(-6.0, 6.0), floats(30.0, 1000.0))
        z = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64)
        return z, draw(labels(n)), draw(needs(2))

    @prove(cases(), examples=30)
    def _(case: tuple) -> None:
        z, y, need = case
        grad = np.linspace(-1.0, 2.0, z.size)
        _op_case(
            ws,
            "losses",
            "SigmoidCrossEntropy",
            {"z": z, "y": y},
            grad,
            need,
            forward=True,
            atol=1e-300,
            errstate={"over": "raise", "invalid": "raise"},
        )


# ----- 11.x: optimisers ----------------------------------------------------------------------
def _optimiser_case(
    ws: Workspace, name: str, settings: dict[str, Any], case: dict[str, Any]
) -> None:
    """Steps of the learner's optimiser and of the library's on the same gradients, compared."""
    mine_params = [_tensor(ws, v, True) for v in case["start"]]
    their_params = [_library_tensor(v, True) for v in case["start"]]
    mine = call(
        f"{name}({settings})", getattr(ws.mod("reference.optim"), name), mine_params, **settings
    )
    theirs = getattr(lib("reference.optim"), name)(their_params, **settings)
    shown = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    for step, grads in enumerate(case["grads"], start=1):
        for p, q, g in zip(mine_params, their_params, grads, strict=True):
            p.grad = None if g is None else g.copy()
            q.grad = None if g is None else g.copy()
        given = (
            f"{name}({shown}), step {step}, parameters starting at "
            + ", ".join(describe(v) for v in case["start"])
            + ", gradients so far "
            + "; ".join(", ".join(describe(g) for g in grads_) for grads_ in case["grads"][:step])
        )
        call(f"{given}: step", mine.step)
        theirs.step()
        for k, (p, q) in enumerate(zip(mine_params, their_params, strict=True)):
            expect(f"parameter {k} after the step", p.data, q.data, given, rtol=1e-9, atol=1e-12)
            if grads[k] is not None and not np.array_equal(
                as_array(p.grad, "grad", given), grads[k]
            ):
                fail(f"{given}: step changed parameter {k}'s .grad; an optimiser only reads it")


@st.composite
def _training(draw: Any) -> dict[str, Any]:
    shapes_ = [
        draw(shapes(min_dims=1, max_dims=2, max_side=3)) for _ in range(draw(st.integers(1, 2)))
    ]
    start = [draw(arrays(s, -1.0, 1.0)) for s in shapes_]
    steps = draw(st.integers(1, 4))
    grads = []
    for _ in range(steps):
        grads.append(
            [
                draw(st.one_of(st.none(), arrays(s, -2.0, 2.0), arrays(s, -2.0, 2.0)))
                for s in shapes_
            ]
        )
    return {"start": start, "grads": grads}


def grade_sgd(ws: Workspace) -> None:
    @prove(
        st.tuples(
            st.fixed_dictionaries(
                {"lr": floats(0.01, 1.0), "momentum": st.one_of(st.just(0.0), floats(0.1, 0.95))}
            ),
            _training(),
        ),
        examples=30,
    )
    def _(case: tuple) -> None:
        settings, training = case
        _optimiser_case(ws, "ReferenceSGD", settings, training)


def grade_adam(ws: Workspace) -> None:
    @prove(
        st.tuples(
            st.fixed_dictionaries(
                {
                    "lr": floats(0.001, 0.5),
                    "betas": st.tuples(floats(0.5, 0.95), floats(0.9, 0.999)),
                    "eps": st.sampled_from([1e-8, 1e-3]),
                }
            ),
            _training(),
        ),
        examples=30,
    )
    def _(case: tuple) -> None:
        settings, training = case
        _optimiser_case(ws, "ReferenceAdam", settings, training)


# ----- 13.1: the twin network ----------------------------------------------------------------
def grade_twin(ws: Workspace) -> None:
    @st.composite
    def cases(draw: Any) -> dict[str, Any]:
        return {
            "n": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
            "hidden": draw(st.integers(1, 4)),
            "separate": draw(st.booleans()),
            "flat_second": draw(st.booleans()),  # x2 as (N2, 4), x1 as (N1, 2, 2)
            "seed": draw(st.integers(0, 2**16)),
        }

    @prove(cases(), examples=20)
    def _(case: dict[str, Any]) -> None:
        _twin_case(ws, case)


def _twin_case(ws: Workspace, case: dict[str, Any]) -> None:
    def branch(nn: Any, rng: Any) -> Any:
        return nn.Sequential(
            nn.Flatten(),
            nn.Dense(4, case["hidden"], rng=rng),
            nn.ReLU(),
            nn.Dense(case["hidden"], 2, rng=rng),
        )

    def twin(nn: Any, default_rng: Callable[[int], Any]) -> Any:
        first = branch(nn, default_rng(case["seed"]))
        other = branch(nn, default_rng(case["seed"] + 1)) if case["separate"] else None
        return nn.Twin(first, other).to(dtype="float64")

    n1, n2 = case["n"]
    x1 = np.linspace(-1, 1, n1 * 4).reshape(n1, 2, 2)
    x2 = np.linspace(1, -0.5, n2 * 4).reshape((n2, 4) if case["flat_second"] else (n2, 2, 2))
    g1, g2 = np.linspace(-1, 1, n1 * 2).reshape(n1, 2), np.linspace(2, 1, n2 * 2).reshape(n2, 2)
    nn = ws.mod("nn")
    mine = twin(nn, ws.mod("nn.init").np.random.default_rng)
    theirs = twin(lib("nn"), np.random.default_rng)
    branches = "separate weights" if case["separate"] else "shared weights"
    given = (
        f"Twin(Sequential(Flatten(), Dense(4, {case['hidden']}), ReLU(), "
        f"Dense({case['hidden']}, 2)), {branches}) on x1 = {describe(x1)}, x2 = {describe(x2)}, "
        f"backward of sum(f1 * {describe(g1)}) + sum(f2 * {describe(g2)})"
    )
    mine_x = [_tensor(ws, x1, True), _tensor(ws, x2, True)]
    their_x = [_library_tensor(x1, True), _library_tensor(x2, True)]
    pair = call(given, mine, *mine_x)
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        fail(f"{given}: Twin must return a pair of embeddings (f1, f2), got {describe(pair)}")
    f1, f2 = theirs(*their_x)
    expect("f1", pair[0], f1.data, given)
    expect("f2", pair[1], f2.data, given)
    loss = call(f"{given}: the loss", lambda: (pair[0] * g1).sum() + (pair[1] * g2).sum())
    call(f"{given}: backward", loss.backward)
    ((f1 * _library_tensor(g1)).sum() + (f2 * _library_tensor(g2)).sum()).backward()
    rule = (
        ""
        if case["separate"]
        else ("shared weights: each parameter's gradient is the sum of both inputs' gradients")
    )
    with _explained(rule):
        for (name, p), q in zip(theirs.named_parameters(), mine.parameters(), strict=True):
            expect(f"the gradient of {name}", q.grad, p.grad, given)
        for k in range(2):
            expect(f"the gradient of x{k + 1}", mine_x[k].grad, their_x[k].grad, given)


# ----- 15.1 to 15.3: experiment 1's recipe ---------------------------------------------------
@st.composite
def _class_labels(draw: Any) -> np.ndarray:
    """(N,) int labels of 2 to 5 classes, one of them with at least 2 images."""
    classes = draw(st.integers(2, 5))
    rest = draw(st.lists(st.integers(0, classes - 1), min_size=0, max_size=12))
    labels = np.array([*range(classes), 0, *rest])  # every class present, class 0 twice
    return labels[draw(st.permutations(range(len(labels))))]


def grade_pair_sampler(ws: Workspace) -> None:
    recipe = ws.mod("experiment1")

    @prove(
        st.tuples(_class_labels(), st.integers(1, 30), st.integers(0, 2**16)),
        examples=30,
    )
    def _(case: tuple) -> None:
        labels, n_pairs, seed = case
        given = f"sample_pairs(labels = {describe(labels)}, n_pairs={n_pairs}, rng seeded {seed})"
        got = call(given, recipe.sample_pairs, labels, n_pairs, recipe.np.random.default_rng(seed))
        expected = library_recipe.sample_pairs(labels, n_pairs, np.random.default_rng(seed))
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            fail(f"{given}: expected a triple (i, j, y), got {describe(got)}")
        for index, what in ((2, "y"), (0, "i"), (1, "j")):  # which pairs are similar first
            expect(what, got[index], expected[index], given, rtol=0, atol=0)


def grade_training_step(ws: Workspace) -> None:
    @st.composite
    def cases(draw: Any) -> dict[str, Any]:
        return {
            "n": draw(st.integers(1, 4)),
            "seed": draw(st.integers(0, 2**16)),
            "margin": draw(floats(0.1, 2.0)),
            "y": [draw(labels(4)), draw(labels(4))],
        }

    @prove(cases(), examples=15)
    def _(case: dict[str, Any]) -> None:
        _training_step_case(ws, case)


def _training_step_case(ws: Workspace, case: dict[str, Any]) -> None:
    def twin(nn: Any, optim: Any, default_rng: Callable[[int], Any]) -> tuple[Any, Any]:
        rng = default_rng(case["seed"])
        branch = nn.Sequential(
            nn.Flatten(), nn.Dense(4, 3, rng=rng), nn.ReLU(), nn.Dense(3, 2, rng=rng)
        )
        network = nn.Twin(branch).to(dtype="float64")
        return network, optim.ReferenceSGD(network.parameters(), lr=0.1)

    recipe = ws.mod("experiment1")
    mine, my_optimizer = twin(ws.mod("nn"), ws.mod("reference.optim"), recipe.np.random.default_rng)
    theirs, their_optimizer = twin(lib("nn"), lib("reference.optim"), np.random.default_rng)
    n, data = case["n"], np.random.default_rng(case["seed"] + 1)
    for step, y in enumerate(case["y"], start=1):
        x1, x2 = data.normal(size=(n, 2, 2)), data.normal(size=(n, 2, 2))
        y = y[:n]
        given = (
            f"step {step} of training_step on a Twin(Flatten, Dense(4, 3), ReLU, Dense(3, 2)) "
            f"with SGD (lr 0.1), x1 = {describe(x1)}, x2 = {describe(x2)}, y = {describe(y)}, "
            f"margin={case['margin']:.4g}"
        )
        loss = call(given, recipe.training_step, mine, my_optimizer, x1, x2, y, case["margin"])
        expected = library_recipe.training_step(theirs, their_optimizer, x1, x2, y, case["margin"])
        if not isinstance(loss, float):
            fail(f"{given}: expected the loss as a float, got {describe(loss)}")
        expect("the loss", loss, expected, given)
        with _explained(
            "each step starts from zero gradients: a step without zero_grad adds "
            "the last step's gradients to this one's"
            if step > 1
            else ""
        ):
            for (name, p), q in zip(theirs.named_parameters(), mine.parameters(), strict=True):
                expect(f"{name} after the step", q.data, p.data, given)


def grade_knn_accuracy(ws: Workspace) -> None:
    @st.composite
    def cases(draw: Any) -> dict[str, Any]:
        n_train, n_test = draw(st.integers(1, 12)), draw(st.integers(1, 8))
        return {
            "train": draw(hnp.arrays(np.int64, (n_train, 2), elements=st.integers(-3, 3))),
            "train_labels": draw(hnp.arrays(np.int64, (n_train,), elements=st.integers(0, 2))),
            "test": draw(hnp.arrays(np.int64, (n_test, 2), elements=st.integers(-3, 3))),
            "test_labels": draw(hnp.arrays(np.int64, (n_test,), elements=st.integers(0, 2))),
            "k": draw(st.integers(1, min(n_train, 5))),
        }

    recipe = ws.mod("experiment1")

    @prove(cases(), examples=40)
    def _(case: dict[str, Any]) -> None:
        train, test = case["train"].astype(np.float64), case["test"].astype(np.float64)
        given = (
            f"knn_accuracy(train = {describe(train)}, train_labels = "
            f"{describe(case['train_labels'])}, test = {describe(test)}, test_labels = "
            f"{describe(case['test_labels'])}, k={case['k']})"
        )
        args = (train, case["train_labels"], test, case["test_labels"], case["k"])
        got = call(given, recipe.knn_accuracy, *args)
        expect("the accuracy", got, library_recipe.knn_accuracy(*args), given)
