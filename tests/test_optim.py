"""tinysiam.optim: updates against steps by hand and against the reference optimisers (the
formulas, tinysiam.reference.optim), state round trips, guards."""

import itertools
import tracemalloc

import numpy as np
import pytest
from devices import devices

import tinysiam
from tinysiam import nn, optim
from tinysiam.optim import SGD, Adam
from tinysiam.reference import ReferenceAdam, ReferenceSGD


def param(values):
    return nn.Parameter(np.array(values, dtype=np.float64))


G1 = np.array([0.5, -2.0, 1e-3])
G2 = np.array([-1.0, 0.25, 4.0])
P0 = np.array([1.0, 2.0, -3.0])


# ----- SGD ----------------------------------------------------------------------------------
def test_sgd_one_step():
    p = param(P0)
    opt = SGD([p], lr=0.1)
    p.grad = G1.copy()
    opt.step()
    np.testing.assert_allclose(p.data, P0 - 0.1 * G1, rtol=1e-15)


def test_sgd_momentum_two_steps_by_hand():
    p = param(P0)
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = G1.copy()
    opt.step()
    p.grad = G2.copy()
    opt.step()
    b1 = G1  # the buffer starts at the first gradient
    p1 = P0 - 0.1 * b1
    b2 = 0.9 * b1 + G2
    np.testing.assert_allclose(p.data, p1 - 0.1 * b2, rtol=1e-15)


# ----- Adam ---------------------------------------------------------------------------------
def reference_steps(optimizer_class, start, grads, **settings):
    """The parameter after one step of ``optimizer_class`` per gradient, as a float64 array."""
    p = param(start)
    opt = optimizer_class([p], **settings)
    for g in grads:
        p.grad = g
        opt.step()
    return p.data


def test_adam_two_steps_match_the_formulas():
    p = param(P0)
    opt = Adam([p], lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
    for g in (G1, G2):
        p.grad = g.copy()
        opt.step()
    settings = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
    np.testing.assert_allclose(
        p.data, reference_steps(ReferenceAdam, P0, [G1, G2], **settings), rtol=1e-14
    )
    assert opt.state[0]["step"] == 2


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_adam_first_step_has_size_lr_whatever_the_gradient_scale(scale):
    p = param(P0)
    opt = Adam([p], lr=1e-3)
    g = scale * np.array([0.5, -2.0, 3.0])
    p.grad = g
    opt.step()
    # m_hat = g and v_hat = g^2 at t = 1, so the step is lr g / (|g| + eps) ~ lr sign(g)
    np.testing.assert_allclose(P0 - p.data, 1e-3 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(P0 - p.data, 1e-3 * np.sign(g), rtol=1e-4)


@pytest.mark.parametrize("adam", [Adam, ReferenceAdam])
def test_adam_matches_torch(adam):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    start = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) * s for s in (1.0, 10.0, 0.1, 1.0, 3.0)]
    ours = nn.Parameter(start.copy())
    opt = adam([ours], lr=1e-2, betas=(0.9, 0.99))
    theirs = torch.tensor(start.copy(), requires_grad=True)
    torch_opt = torch.optim.Adam([theirs], lr=1e-2, betas=(0.9, 0.99), foreach=False)
    for g in grads:
        ours.grad = g
        opt.step()
        theirs.grad = torch.tensor(g)
        torch_opt.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6, atol=1e-7)


# ----- behaviour shared by both -----------------------------------------------------------------
@pytest.mark.parametrize(
    "make", [lambda ps: SGD(ps, lr=0.1, momentum=0.5), lambda ps: Adam(ps, lr=0.1)]
)
def test_parameters_without_gradient_are_skipped(make):
    used, unused = param(P0), param(P0)
    opt = make([used, unused])
    used.grad = G1.copy()
    opt.step()
    assert not np.array_equal(used.data, P0)
    np.testing.assert_array_equal(unused.data, P0)
    assert opt.state[1] == {}
    opt.zero_grad()
    assert used.grad is None and unused.grad is None


@pytest.mark.parametrize(
    "make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.1)]
)
def test_step_updates_in_place_and_never_writes_the_gradient(make):
    p = param(P0)
    array = p.data
    opt = make([p])
    grad = np.broadcast_to(np.array(0.5), P0.shape)  # read-only, as the engine may hand out
    for _ in range(2):
        p.grad = grad
        opt.step()
    assert p.data is array and not np.array_equal(array, P0)
    np.testing.assert_array_equal(grad, 0.5)


@pytest.mark.parametrize(
    "make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.1)]
)
def test_step_allocates_at_most_one_block_whatever_the_parameter_size(make):
    size = 4 * optim.CACHE_BLOCK  # a 4 MB parameter; a block's scratch is 1 MB
    p = nn.Parameter(np.zeros(size, np.float32))
    p.grad = np.ones(size, np.float32)
    opt = make([p])
    opt.step()  # the first step allocates the state (m and v, or the momentum buffer)
    tracemalloc.start()
    opt.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    block_bytes = optim.CACHE_BLOCK * 4
    assert peak < block_bytes + 100_000, (
        f"a step allocated {peak} bytes; one block is {block_bytes}"
    )


@pytest.mark.parametrize("layout", ["C-contiguous", "transposed"])
@pytest.mark.parametrize(
    "fast, reference, settings",
    [
        (SGD, ReferenceSGD, dict(lr=0.1, momentum=0.9)),
        (SGD, ReferenceSGD, dict(lr=0.1)),
        (Adam, ReferenceAdam, dict(lr=1e-2, betas=(0.9, 0.99))),
    ],
    ids=["sgd_momentum", "sgd", "adam"],
)
def test_updates_in_blocks_match_the_reference(monkeypatch, layout, fast, reference, settings):
    """Blocks of 7 over 5 x 9 = 45 elements (six whole blocks and a tail of 3), or whole arrays
    when the gradient is a transposed view (a flat view of it would be a copy)."""
    monkeypatch.setattr(optim.blocks, "CACHE_BLOCK", 7)
    rng = np.random.default_rng(0)
    start = rng.standard_normal((5, 9))
    grads = [rng.standard_normal((5, 9)) for _ in range(3)]
    if layout == "transposed":
        grads = [g.T.copy().T for g in grads]
    assert grads[0].flags.c_contiguous == (layout == "C-contiguous")
    np.testing.assert_allclose(
        reference_steps(fast, start, grads, **settings),
        reference_steps(reference, start, grads, **settings),
        rtol=1e-14,
    )


def test_hyperparameters_are_checked():
    with pytest.raises(ValueError, match="lr must be > 0"):
        SGD([param(P0)], lr=0.0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        Adam([param(P0)], lr=-1e-3)
    with pytest.raises(ValueError, match="momentum"):
        SGD([param(P0)], lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam([param(P0)], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty"):
        Adam([])
    with pytest.raises(TypeError, match="requires grad"):
        SGD([tinysiam.tensor(P0)], lr=0.1)


def test_shared_parameters_are_updated_once():
    p = param(P0)
    opt = SGD([p, p], lr=0.1)
    assert len(opt.params) == 1
    p.grad = G1.copy()
    opt.step()
    np.testing.assert_allclose(p.data, P0 - 0.1 * G1)


@pytest.mark.parametrize(
    "make",
    [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.9))],
)
def test_state_dict_round_trip_continues_identically(make):
    a = [param(P0), param(-P0)]
    opt_a = make(a)
    for g in (G1, G2):
        a[0].grad, a[1].grad = g.copy(), 2 * g
        opt_a.step()
    state = opt_a.state_dict()
    assert all(
        isinstance(v, np.ndarray)
        for entry in state["state"]
        for v in entry.values()
        if not isinstance(v, int)
    )
    b = [param(a[0].data.copy()), param(a[1].data.copy())]
    opt_b = SGD(b, lr=1.0) if isinstance(opt_a, SGD) else Adam(b)
    opt_b.load_state_dict(state)
    assert opt_b.lr == opt_a.lr
    for opt, ps in ((opt_a, a), (opt_b, b)):
        ps[0].grad, ps[1].grad = G2.copy(), G1.copy()
        opt.step()
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_errors():
    opt = Adam([param(P0)])
    with pytest.raises(ValueError, match="'SGD'"):
        opt.load_state_dict(SGD([param(P0)], lr=0.1).state_dict())
    with pytest.raises(ValueError, match="2 parameters"):
        opt.load_state_dict(Adam([param(P0), param(P0)]).state_dict())
    other = Adam([param(np.zeros(4))])
    other.params[0].grad = np.ones(4)
    other.step()
    with pytest.raises(ValueError, match=r"shape \(4,\), expected \(3,\)"):
        opt.load_state_dict(other.state_dict())


def test_optimizer_follows_module_to_after_it_was_built():
    net = nn.Dense(3, 2, rng=np.random.default_rng(0))
    opt = Adam(net.parameters(), lr=1e-2)
    x = tinysiam.tensor(np.ones((4, 3), np.float32))
    net(x).sum().backward()
    opt.step()
    net.to(dtype=np.float64)  # same Parameter objects, new arrays
    net(tinysiam.tensor(np.ones((4, 3)))).sum().backward()
    opt.step()
    assert opt.state[0]["m"].dtype == np.float64 and net.weight.dtype == np.float64


@devices
def test_adam_on_each_device_matches_numpy(device):
    p = nn.Parameter(tinysiam.tensor(P0, dtype=np.float32, device=device))
    opt = Adam([p], lr=1e-2, betas=(0.9, 0.99))
    for g in (G1, G2):
        p.grad = tinysiam.tensor(g, dtype=np.float32, device=device).data
        opt.step()
    assert p.device == device
    expected = reference_steps(ReferenceAdam, P0, [G1, G2], lr=1e-2, betas=(0.9, 0.99))
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-5)
    state = opt.state_dict()
    assert isinstance(state["state"][0]["m"], np.ndarray)
    cpu_opt = Adam([nn.Parameter(p.numpy())])
    cpu_opt.load_state_dict(state)  # a GPU state loads on the CPU
    np.testing.assert_allclose(cpu_opt.state[0]["v"], tinysiam.tensor(opt.state[0]["v"]).numpy())


# ----- learning-rate schedules ------------------------------------------------------------
def test_scheduled_lr_constant_is_the_base_rate() -> None:
    assert [optim.scheduled_lr(0.1, "constant", i, 4) for i in range(4)] == [0.1] * 4


def test_scheduled_lr_cosine_falls_from_base_through_half_towards_zero() -> None:
    rates = [optim.scheduled_lr(1e-3, "cosine", i, 100) for i in range(100)]
    assert rates[0] == pytest.approx(1e-3)
    assert rates[50] == pytest.approx(0.5e-3)
    assert 0 < rates[-1] < 1e-6
    assert all(a > b for a, b in itertools.pairwise(rates))
