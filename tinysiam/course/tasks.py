"""The task table: every task of the course track, in the course's order, in one place.

A task is one idea of a docs page turned into code the learner writes: a few functions of the
library (named by file and qualified name, so the library's source needs no markers) whose
bodies a workspace replaces by ``raise NotImplementedError("Task 3.2: ...")``. A task's number
starts with the number of the page that teaches it: task 8.2 is on page 8.

Each task names its grader, a function ``grade_...`` of :mod:`tinysiam.course.graders` (looked
up by name, so that creating a workspace does not import the graders).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One function a task asks for.

    Attributes:
        file: its file inside the package, e.g. "autograd.py" or "ops/elementwise.py".
        qualname: its name in that file, e.g. "unbroadcast" or "Mul.backward".
        hint: what to write, one line (it becomes the NotImplementedError's message).
    """

    file: str
    qualname: str
    hint: str

    @property
    def module(self) -> str:
        """The dotted module name inside the package: "ops/elementwise.py" -> "ops.elementwise"."""
        return self.file.removesuffix(".py").replace("/", ".")


@dataclass(frozen=True)
class Task:
    """One graded task: an id ("3.2"), what to build, the page that teaches it, its functions."""

    id: str
    title: str
    page: str  # the docs page's file name; its number is the page number
    targets: tuple[Target, ...]
    grader: str  # a function of tinysiam.course.graders, "grade_unbroadcast"

    @property
    def page_number(self) -> int:
        return int(self.page.split("-", 1)[0])

    def message(self, target: Target) -> str:
        """The NotImplementedError message of ``target``'s stub."""
        return (
            f"Task {self.id}: {target.qualname}: {target.hint}; "
            f"see docs page {self.page_number} ({self.page})"
        )


AUTODIFF = "03-autodiff.md"
GRADCHECK = "04-gradcheck.md"
BROADCASTING = "05-broadcasting.md"
DENSE = "06-dense-relu-sigmoid.md"
MODULES = "07-modules-and-layers.md"
CONVOLUTION = "08-convolution.md"
POOLING = "09-max-pooling.md"
LOSSES = "10-losses.md"
OPTIMISERS = "11-optimisers.md"
WEIGHT_SHARING = "13-weight-sharing.md"
EXPERIMENT = "15-experiment-1.md"  # the recipe's pieces, and run-experiment, the last step

TASKS: tuple[Task, ...] = (
    Task(
        "3.1",
        "Topological order",
        AUTODIFF,
        (
            Target(
                "autograd.py",
                "_topological_order",
                "return the tensors of the graph ending at output that require grad, each once "
                "and each after all of its inputs (a depth-first search with an explicit stack)",
            ),
        ),
        "grade_topological_order",
    ),
    Task(
        "3.2",
        "The backward loop, with accumulation",
        AUTODIFF,
        (
            Target(
                "autograd.py",
                "backward",
                "seed the output's gradient, visit the tensors in reverse topological order, "
                "call each node's backward, unbroadcast and ADD each input's gradient to its "
                "total, and accumulate into the .grad of leaves; without retain_graph, release "
                "each node once used, so that a second backward raises the RuntimeError page 3 "
                "shows",
            ),
        ),
        "grade_backward_loop",
    ),
    Task(
        "3.3",
        "Backward rules of mul, div, pow, exp and log",
        AUTODIFF,
        tuple(
            Target("ops/elementwise.py", f"{op}.backward", hint)
            for op, hint in (
                ("Mul", "one adjoint per input: grad times the local derivative of a * b"),
                ("Div", "the adjoints of a / b: derive d/da and d/db of a quotient"),
                ("Pow", "the adjoints of a ** b for both inputs, the exponent's included"),
                ("Exp", "the adjoint of e^a, using what forward saved"),
                ("Log", "the adjoint of log a"),
            )
        ),
        "grade_elementwise_rules",
    ),
    Task(
        "4.1",
        "The central-difference gradient checker",
        GRADCHECK,
        (
            Target(
                "gradcheck.py",
                "_check_elementwise",
                "for each element k, (scalar(x + eps e_k) - scalar(x - eps e_k)) / (2 eps), "
                "put x[k] back, then compare with the analytic gradient (_compare)",
            ),
            Target(
                "gradcheck.py",
                "_check_directions",
                "for each random direction u, (scalar(x + eps u) - scalar(x - eps u)) / (2 eps) "
                "against <analytic, u>, compared with _compare",
            ),
        ),
        "grade_gradient_checker",
    ),
    Task(
        "5.1",
        "unbroadcast",
        BROADCASTING,
        (
            Target(
                "autograd.py",
                "unbroadcast",
                "sum grad over the leading axes broadcasting added and the axes where shape "
                "has size 1, then reshape to shape",
            ),
        ),
        "grade_unbroadcast",
    ),
    Task(
        "5.2",
        "sum, mean and max",
        BROADCASTING,
        (
            Target(
                "ops/reduce.py",
                "Sum.backward",
                "put the summed axes back as size 1 and broadcast grad to the input's shape",
            ),
            Target("ops/reduce.py", "Mean.backward", "as Sum.backward, divided by the count"),
            Target(
                "ops/reduce.py",
                "Max.forward",
                "the max over axis, saving which element wins: on a tie, the first maximum in "
                "row-major order over the reduced axes",
            ),
            Target(
                "ops/reduce.py",
                "Max.backward",
                "send grad to each winner; every other element gets 0",
            ),
        ),
        "grade_reductions",
    ),
    Task(
        "6.1",
        "matmul and dense",
        DENSE,
        (
            Target(
                "ops/linalg.py",
                "MatMul.backward",
                "the two adjoints of a batched product (..., n, k) @ (..., k, m), each of its "
                "input's shape",
            ),
            Target(
                "ops/linalg.py",
                "DenseOp.backward",
                "the adjoints of Y = x W^T + b for x, W and (when there is one) b",
            ),
        ),
        "grade_matmul_dense",
    ),
    Task(
        "6.2",
        "ReLU",
        DENSE,
        (
            Target("ops/elementwise.py", "ReLUOp.forward", "max(a, 0), saving what backward needs"),
            Target("ops/elementwise.py", "ReLUOp.backward", "grad where a > 0, else 0"),
        ),
        "grade_relu",
    ),
    Task(
        "6.3",
        "The stable sigmoid",
        DENSE,
        (
            Target(
                "ops/elementwise.py",
                "SigmoidOp.forward",
                "1 / (1 + e^-a) computed from e = e^-|a| so that nothing overflows, "
                "saving the output",
            ),
            Target(
                "ops/elementwise.py",
                "SigmoidOp.backward",
                "the adjoint of the sigmoid, written with its saved output s",
            ),
        ),
        "grade_sigmoid",
    ),
    Task(
        "7.1",
        "Finding a module's parameters",
        MODULES,
        (
            Target(
                "nn/module.py",
                "_flatten",
                "(name, value) for a Parameter or Module, and for each one inside a list or tuple "
                'with its index in the name ("blocks.0"), however deep; nothing for any other '
                "value",
            ),
            Target(
                "nn/module.py",
                "Module.named_modules",
                "this module (named prefix) and then each submodule depth first, in attribute "
                "order, with dotted names; a module reached twice is yielded once",
            ),
            Target(
                "nn/module.py",
                "Module.named_parameters",
                "for each module of named_modules, its own Parameters in attribute order, named "
                '"module name.attribute"; a parameter reached twice is yielded once',
            ),
        ),
        "grade_module_parameters",
    ),
    Task(
        "7.2",
        "state_dict and load_state_dict",
        MODULES,
        (
            Target(
                "nn/module.py",
                "Module.state_dict",
                "an OrderedDict: each parameter's dotted name -> a NumPy copy of its values, in "
                "the order of named_parameters",
            ),
            Target(
                "nn/module.py",
                "Module.load_state_dict",
                "refuse a state that is not a dict (TypeError), or that misses a name, has an "
                "unknown one or a wrong shape (one ValueError naming each); else copy each entry "
                "into its parameter's array in place, cast to its dtype",
            ),
        ),
        "grade_state_dict",
    ),
    Task(
        "7.3",
        "He initialisation and the dense layer",
        MODULES,
        (
            Target(
                "nn/init.py",
                "he_normal",
                "standard normal samples of shape drawn from rng (float64), scaled by the He "
                "std sqrt(2 / fan_in), as float32",
            ),
            Target(
                "nn/layers.py",
                "Dense.__init__",
                "check the sizes, keep them and the init, draw (weight, bias) with "
                "initial_parameters for a weight of (out_features, in_features) and register "
                "both as Parameters",
            ),
            Target(
                "nn/layers.py",
                "Dense.forward",
                "check x is (N, in_features), then x W^T + b with the dense function",
            ),
        ),
        "grade_dense_layer",
    ),
    Task(
        "8.1",
        "im2col",
        CONVOLUTION,
        (
            Target(
                "reference/conv.py",
                "im2col",
                "cols[c, i, j, n, oh, ow] = x_padded[n, c, oh*sh + i, ow*sw + j], one strided "
                "slice per kernel offset, returned as (C*kh*kw, N*OH*OW)",
            ),
        ),
        "grade_im2col",
    ),
    Task(
        "8.2",
        "col2im, the adjoint of im2col",
        CONVOLUTION,
        (
            Target(
                "reference/conv.py",
                "col2im",
                "the loop of im2col run backwards: ADD each column entry onto the pixel it was "
                "copied from, in an image of zeros",
            ),
        ),
        "grade_col2im",
    ),
    Task(
        "8.3",
        "conv2d backward",
        CONVOLUTION,
        (
            Target(
                "reference/conv.py",
                "ReferenceConv2dOp.backward",
                "the three gradients of out = W_m cols + b: the weights', the bias', and the "
                "input's through the columns, col2im and the padding",
            ),
        ),
        "grade_conv2d_backward",
    ),
    Task(
        "9.1",
        "max_pool2d forward and backward",
        POOLING,
        (
            Target(
                "reference/pool.py",
                "ReferenceMaxPool2dOp.forward",
                "the max of each window (im2col of each channel, then max), saving the argmax",
            ),
            Target(
                "reference/pool.py",
                "ReferenceMaxPool2dOp.backward",
                "each window's gradient to its winner only (on a tie, the first maximum in "
                "row-major order, as argmax picks it), added back with col2im",
            ),
        ),
        "grade_max_pool2d",
    ),
    Task(
        "10.1",
        "The guarded contrastive loss",
        LOSSES,
        (
            Target(
                "losses.py",
                "contrastive_loss",
                "d = sqrt(|f1 - f2|^2 + eps); 0.5 * reduce(y d^2 + (1 - y) max(margin - d, 0)^2)",
            ),
        ),
        "grade_contrastive_loss",
    ),
    Task(
        "10.2",
        "Binary cross-entropy with its clamp",
        LOSSES,
        (
            Target(
                "losses.py",
                "binary_cross_entropy",
                "clamp p into [eps, 1 - eps] (eps defaults to the dtype's machine epsilon), "
                "then reduce -[y log p + (1 - y) log(1 - p)]",
            ),
        ),
        "grade_binary_cross_entropy",
    ),
    Task(
        "10.3",
        "Binary cross-entropy from logits",
        LOSSES,
        (
            Target(
                "losses.py",
                "SigmoidCrossEntropy.forward",
                "max(z, 0) - z y + log1p(exp(-|z|)), which never overflows",
            ),
            Target(
                "losses.py",
                "SigmoidCrossEntropy.backward",
                "dL/dz = grad (sigmoid(z) - y) with the stable sigmoid, dL/dy = -grad z",
            ),
        ),
        "grade_bce_with_logits",
    ),
    Task(
        "11.1",
        "SGD with momentum",
        OPTIMISERS,
        (
            Target(
                "reference/optim.py",
                "ReferenceSGD.step",
                "p <- p - lr g, or with momentum b <- momentum b + g and p <- p - lr b; "
                "skip parameters whose grad is None",
            ),
        ),
        "grade_sgd",
    ),
    Task(
        "11.2",
        "Adam with bias correction",
        OPTIMISERS,
        (
            Target(
                "reference/optim.py",
                "ReferenceAdam.step",
                "m and v as decaying means of g and g^2, corrected by 1 - b1^t and 1 - b2^t "
                "(t counted per parameter), p <- p - lr m_hat / (sqrt(v_hat) + eps)",
            ),
        ),
        "grade_adam",
    ),
    Task(
        "13.1",
        "The twin network",
        WEIGHT_SHARING,
        (
            Target(
                "nn/twin.py",
                "Twin.forward",
                "the pair of embeddings: with separate weights each input through its own "
                "network; with shared weights both through the one branch (as one batch when "
                "their example shapes agree), so both inputs' gradients add up in its parameters",
            ),
        ),
        "grade_twin",
    ),
    Task(
        "15.1",
        "The pair sampler",
        EXPERIMENT,
        (
            Target(
                "experiment1.py",
                "sample_pairs",
                "draw which pairs are similar (probability 0.5), then for similar pairs a class "
                "with two images and two different images of it, for dissimilar pairs two "
                "different classes and one image of each, in the docstring's order of draws",
            ),
        ),
        "grade_pair_sampler",
    ),
    Task(
        "15.2",
        "The training step",
        EXPERIMENT,
        (
            Target(
                "experiment1.py",
                "training_step",
                "clear the old gradients, embed both images with the twin, take the summed "
                "contrastive loss with the margin, backpropagate it, step the optimiser, and "
                "return the loss as a float",
            ),
        ),
        "grade_training_step",
    ),
    Task(
        "15.3",
        "The k-nearest-neighbour accuracy",
        EXPERIMENT,
        (
            Target(
                "experiment1.py",
                "knn_accuracy",
                "for each test point, the labels of its k nearest training points (squared "
                "distances, stable order), the label with most votes (ties: the nearest's), "
                "and the fraction of test points where it is the true label",
            ),
        ),
        "grade_knn_accuracy",
    ),
)

TASKS_BY_ID: dict[str, Task] = {task.id: task for task in TASKS}


class TaskSelectionError(ValueError):
    """A --tasks value or a task argument that names no task."""


def select(spec: str | list[str] | None) -> list[Task]:
    """The tasks a selection names, in course order.

    Each comma-separated item is a task ("3.2"), a page ("3": its tasks), a range of either
    ("1-6": pages 1 to 6; "3.2-5.1": tasks 3.2 to 5.1 in course order) or "all".

    Raises:
        TaskSelectionError: naming the item and the valid task ids.
    """
    if spec is None:
        return list(TASKS)
    items = spec if isinstance(spec, list) else [spec]
    chosen: set[str] = set()
    for item in (part.strip() for text in items for part in text.split(",")):
        if not item:
            continue
        if item == "all":
            chosen.update(TASKS_BY_ID)
            continue
        first, _, last = item.partition("-")
        start, stop = _position(first, item, "first"), _position(last or first, item, "last")
        picked = [task.id for task in TASKS[start : stop + 1]]
        if not picked:
            raise TaskSelectionError(f"{item!r} selects no task; {_valid()}")
        chosen.update(picked)
    if not chosen:
        raise TaskSelectionError(f"no task selected; {_valid()}")
    return [task for task in TASKS if task.id in chosen]


def _position(name: str, item: str, end: str) -> int:
    """Index in TASKS of task ``name``, or of the first (or last) task of page ``name``."""
    name = name.strip()
    if name in TASKS_BY_ID:
        return TASKS.index(TASKS_BY_ID[name])
    if name.isdigit():
        page = int(name)
        indices = [i for i, task in enumerate(TASKS) if task.page_number == page]
        if indices:
            return indices[0] if end == "first" else indices[-1]
        # a page without tasks: the range starts after (or ends before) it
        later = [i for i, task in enumerate(TASKS) if task.page_number > page]
        if end == "first":
            return later[0] if later else len(TASKS)
        return (later[0] if later else len(TASKS)) - 1
    raise TaskSelectionError(f"unknown task {name!r} in {item!r}; {_valid()}")


def _valid() -> str:
    return "tasks are " + ", ".join(task.id for task in TASKS) + " (or a page number, or all)"
