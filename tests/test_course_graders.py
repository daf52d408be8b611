"""The graders catch the subtle mistakes, and say what is wrong in words a learner can act on.

Each test writes a wrong implementation into a workspace whose other tasks are solved, grades
the task and checks the row: failed, with a message that names the mistake.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from workspace_edits import replace_body

from tinysiam.course import workspace
from tinysiam.course.grader_helpers import difference
from tinysiam.course.grading import grade
from tinysiam.course.tasks import select


def graded(tmp_path: Path, spec: str, file: str, edits: dict[str, str]) -> dict:
    """The row of task ``spec`` once each function of ``edits`` has the body given there."""
    directory = tmp_path / "ws"
    workspace.create(directory, select(spec), with_solutions=True)
    for qualname, body in edits.items():
        replace_body(directory / "tinysiam" / file, qualname, body)
    (row,) = grade(directory, select(spec), 120.0, accept_library_code=True)
    return vars(row)


# ----- ties in max-pooling -------------------------------------------------------------------
EVERY_TIED_MAXIMUM = {
    "ReferenceMaxPool2dOp.forward": """
        kh, kw = height_width(kernel_size, "kernel_size")
        sh, sw = height_width(stride if stride is not None else kernel_size, "stride")
        n, c, h, w = x.shape
        oh, ow = output_size(h, kh, sh, 0), output_size(w, kw, sw, 0)
        images = x.reshape(n * c, 1, h, w)
        cols = im2col(images, kh, kw, (sh, sw), (oh, ow))
        out = cols.max(axis=0)
        ctx.save_for_backward(cols == out)  # every element equal to the max: all tied maxima
        ctx.geometry = images.shape, (kh, kw), (sh, sw), (oh, ow)
        return out.reshape(n, c, oh, ow)
    """,
    "ReferenceMaxPool2dOp.backward": """
        (winners,) = ctx.saved_tensors
        images_shape, (kh, kw), stride, out_hw = ctx.geometry
        grad_cols = winners * grad.reshape(-1)
        grad_x = col2im(grad_cols, images_shape, kh, kw, stride, out_hw)
        return (grad_x.reshape(grad.shape[0], grad.shape[1], *images_shape[2:]),)
    """,
}


def test_a_max_pool_that_feeds_every_tied_maximum_fails_naming_the_tie_rule(tmp_path):
    row = graded(tmp_path, "9.1", "reference/pool.py", EVERY_TIED_MAXIMUM)
    assert row["status"] == "failed", row
    detail = row["detail"]
    assert detail.startswith("tied maxima: the first of a window, in row-major order"), detail
    assert "expected the gradient of x" in detail, detail


# ----- numbers that print alike --------------------------------------------------------------
EPS_INSIDE_THE_ROOT = """
    b1, b2 = self.betas
    for i, p in enumerate(self.params):
        if p.grad is None:
            continue
        state = self._buffers(i, ("m", "v"))
        t = state["step"] = state.get("step", 0) + 1
        state["m"] = b1 * state["m"] + (1 - b1) * p.grad
        state["v"] = b2 * state["v"] + (1 - b2) * p.grad**2
        m_hat = state["m"] / (1 - b1**t)
        v_hat = state["v"] / (1 - b2**t)
        p.data -= self.lr * m_hat / (v_hat + self.eps) ** 0.5  # eps inside the square root
"""


def test_values_that_differ_past_4_digits_are_shown_with_the_digits_that_differ(tmp_path):
    row = graded(
        tmp_path, "11.2", "reference/optim.py", {"ReferenceAdam.step": EPS_INSIDE_THE_ROOT}
    )
    assert row["status"] == "failed", row
    shown = re.search(
        r"expected parameter \d after the step (\[.*?\]), got (\[.*?\])", row["detail"]
    )
    assert shown, row["detail"]
    assert shown[1] != shown[2], row["detail"]
    assert "; the largest difference is " in row["detail"], row["detail"]


def test_difference_names_the_largest_gap_and_where():
    expected = np.array([[0.5, 0.270883689], [1.0, 2.0]])
    got = np.array([[0.5, 0.27088369], [1.0, 2.0]])
    assert difference("the result", got, expected) == (
        "expected the result [[0.5 , 0.270883689], [1. , 2. ]] (2, 2), got "
        "[[0.5 , 0.27088369], [1. , 2. ]] (2, 2); the largest difference is 1e-09, "
        "at index (0, 1): 0.270883689 expected, 0.27088369 got"
    )
    assert difference("the loss", np.array(1.25), np.array(1.5)) == (
        "expected the loss 1.5, got 1.25; a difference of 0.25"
    )
    nan_at = difference("x", np.array([1.0, np.nan, 4.0]), np.array([1.0, 2.0, 3.0]))
    assert nan_at.endswith("at index (1,): 2 expected, nan got"), nan_at


# ----- gradients of the wrong shape ----------------------------------------------------------
def test_an_empty_gradient_is_named_by_its_shape_before_anything_sums_it(tmp_path):
    body = """
        xp = get_array_module(grad)
        return tuple(xp.zeros((1, 1, 0, 0)) for _ in ctx.needs_input_grad)  # empty gradients
    """
    row = graded(tmp_path, "8.3", "reference/conv.py", {"ReferenceConv2dOp.backward": body})
    assert row["status"] == "failed", row
    assert re.search(
        r"expected the gradient of \w+ of shape \([\d, ]+\), got shape \(1, 1, 0, 0\)$",
        row["detail"],
    ), row["detail"]


@pytest.mark.parametrize(
    ("body", "status", "clue"),
    [
        (  # the input's shapes: the engine has nothing left to sum
            "a, b = ctx.saved_tensors\n"
            "return unbroadcast(grad * b, a.shape), unbroadcast(grad * a, b.shape)",
            "passed",
            None,
        ),
        (  # an empty gradient sums to 0 whatever the input's shape
            "a, b = ctx.saved_tensors\nreturn (grad * b).reshape(-1)[:0], grad * a",
            "failed",
            r"expected the gradient of a of shape \(.*\), got shape \(0,\)$",
        ),
    ],
)
def test_a_gradient_that_sums_back_to_its_input_passes_and_one_that_does_not_is_named(
    tmp_path, body, status, clue
):
    source = f"from ..autograd import unbroadcast\n{body}" if "unbroadcast(" in body else body
    row = graded(tmp_path, "3.3", "ops/elementwise.py", {"Mul.backward": source})
    assert row["status"] == status, row
    if clue:
        assert re.search(clue, row["detail"]), row["detail"]


# ----- a backward that releases the graph ----------------------------------------------------
NEVER_RELEASES = """
    xp = get_array_module(output.data)
    grad = xp.ones_like(output.data) if grad is None else xp.asarray(grad, dtype=output.dtype)
    grads = {id(output): grad}
    for tensor in reversed(_topological_order(output)):
        g = grads.pop(id(tensor), None)
        if g is None:
            continue
        node = tensor._node
        if node is None:
            tensor.grad = g.copy() if tensor.grad is None else tensor.grad + g
            continue
        for parent, parent_grad in zip(node.inputs, _input_grads(node, g), strict=True):
            if parent_grad is not None and parent.requires_grad:
                parent_grad = unbroadcast(parent_grad, parent.shape)
                key = id(parent)
                grads[key] = parent_grad if key not in grads else grads[key] + parent_grad
        {release}
"""


@pytest.mark.parametrize(
    ("release", "clue"),
    [
        ("pass  # keeps every node", "the second backward ran"),
        ("node.released = not retain_graph  # keeps the saved arrays", "still holds its saved"),
        (  # frees the arrays, but a second pass meets them gone instead of a clear error
            "node.ctx.saved_tensors = () if not retain_graph else node.ctx.saved_tensors",
            "expected the RuntimeError of a released graph, got ValueError",
        ),
    ],
)
def test_a_backward_that_does_not_release_the_graph_fails(tmp_path, release, clue):
    body = NEVER_RELEASES.replace("{release}", release)
    row = graded(tmp_path, "3.2", "autograd.py", {"backward": body})
    assert row["status"] == "failed", row
    assert "then backward again (retain_graph=False both times)" in row["detail"], row["detail"]
    assert clue in row["detail"], row["detail"]
    assert "node.ctx.saved_tensors = () and node.released = True" in row["detail"], row["detail"]


# ----- modules: loading a state, the generator a layer draws from -----------------------------
LOADS_AS_IT_CHECKS = """
    params = OrderedDict(self.named_parameters())
    for name, p in params.items():  # copies each entry before the others are checked
        if name not in state or tuple(np.shape(state[name])) != p.shape:
            raise ValueError(f"load_state_dict: bad or missing entry {name!r}")
        p.data[...] = to_numpy(state[name]).astype(p.dtype)
    for name in state:
        if name not in params:
            raise ValueError(f"load_state_dict: unexpected entry {name!r}")
"""


def test_a_load_that_copies_before_checking_every_entry_fails(tmp_path):
    row = graded(tmp_path, "7.2", "nn/module.py", {"Module.load_state_dict": LOADS_AS_IT_CHECKS})
    assert row["status"] == "failed", row
    assert "a refused state must change no parameter" in row["detail"], row["detail"]


def test_a_dense_layer_that_draws_once_too_often_fails(tmp_path):
    body = """
        _check_positive("Dense", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features, self.init = in_features, out_features, check_init(init)
        rng = resolve_rng(rng)
        shape = (out_features, in_features)
        weight, bias = initial_parameters(init, shape, in_features, out_features, rng)
        rng.random()  # a draw of its own: the next layer's weights change
        self.weight = Parameter(weight)
        self.bias = Parameter(bias)
    """
    row = graded(tmp_path, "7.3", "nn/layers.py", {"Dense.__init__": body})
    assert row["status"] == "failed", row
    assert "the generator was left in another state" in row["detail"], row["detail"]
