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

from .grader_helpers import GradeFailure, Workspace, as_array, call, describe, expect, fail, kind
from .learner_process import function as library_function
from .remote import LearnerError
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
