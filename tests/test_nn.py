"""tinysiam.nn: layers against finite differences, Module bookkeeping, initialisers, Twin."""

import numpy as np
import pytest

import tinysiam
from tinysiam import nn


def float64_tensor(array, requires_grad=True):
    return tinysiam.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def gradcheck_module(module, *inputs):
    """gradcheck ``module`` with respect to its inputs AND every one of its parameters.

    gradcheck perturbs the tensors it is given; the module reads its own parameters, so for
    each evaluation the given values are swapped into the parameters, then swapped back.
    """
    params = module.parameters()

    def run(*args):
        xs, values = args[: len(inputs)], args[len(inputs) :]
        originals = [p.data for p in params]
        for p, v in zip(params, values, strict=True):
            p.data = v.data
        try:
            return module(*xs)
        finally:
            for p, original in zip(params, originals, strict=True):
                p.data = original

    return tinysiam.gradcheck(run, *inputs, *params)


def same(params, others):
    """The same tensor objects, in order (identity, not values)."""
    return len(params) == len(others) and all(p is q for p, q in zip(params, others, strict=True))


def rng(seed=0):
    return np.random.default_rng(seed)


# ----- layers -------------------------------------------------------------------------------
def test_dense_shapes_formula_and_gradcheck():
    layer = nn.Dense(4, 3, rng=rng())
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    layer.to(dtype=np.float64)
    x = float64_tensor(rng(1).standard_normal((5, 4)))
    expected = x.numpy() @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-12)
    layer.bias.data[...] = rng(2).standard_normal(3)  # a non-zero bias, so its use is checked too
    assert gradcheck_module(layer, x)


def test_conv2d_shapes_and_gradcheck():
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=rng()).to(dtype=np.float64)
    assert conv.weight.shape == (3, 2, 3, 3) and conv.bias.shape == (3,)
    conv.bias.data[...] = [0.1, -0.2, 0.3]
    x = float64_tensor(rng(1).standard_normal((2, 2, 5, 5)))
    assert conv(x).shape == (2, 3, 3, 3)
    assert gradcheck_module(conv, x)


def test_sequential_gradcheck_through_every_layer_kind():
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, rng=rng(0)),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dense(18, 3, rng=rng(1)),
        nn.Sigmoid(),
    ).to(dtype=np.float64)
    x = float64_tensor(rng(2).standard_normal((2, 1, 8, 8)))
    out = net(x)
    assert out.shape == (2, 3) and np.all((out.numpy() > 0) & (out.numpy() < 1))
    assert gradcheck_module(net, x)


def test_sigmoid_layer_gradcheck_and_values():
    x = float64_tensor([[-30.0, -2.0, 0.0, 0.5, 40.0]])
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp(-x.numpy())), rtol=1e-12)
    assert tinysiam.gradcheck(nn.Sigmoid(), x)


def test_maxpool_flatten_relu_shapes():
    x = float64_tensor(rng().standard_normal((2, 3, 7, 7)), requires_grad=False)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 3, 3)
    assert nn.MaxPool2d(3, stride=2)(x).shape == (2, 3, 3, 3)
    assert nn.Flatten()(x).shape == (2, 147)
    assert np.all(nn.ReLU()(x).numpy() >= 0)


def test_sequential_indexing_iteration_and_repr():
    net = nn.Sequential(
        nn.Flatten(), nn.Dense(4, 3, rng=rng()), nn.ReLU(), nn.Dense(3, 2, rng=rng())
    )
    assert len(net) == 4
    assert isinstance(net[1], nn.Dense) and net[-1] is list(net)[-1]
    assert isinstance(net[1:3], nn.Sequential) and len(net[1:3]) == 2 and net[1:3][0] is net[1]
    text = repr(net)
    assert text.splitlines() == [
        "Sequential(",
        "  (0): Flatten()",
        "  (1): Dense(4, 3, init='he')",
        "  (2): ReLU()",
        "  (3): Dense(3, 2, init='he')",
        ")",
    ]
    with pytest.raises(TypeError, match="layer 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


# ----- Module bookkeeping ---------------------------------------------------------------------
class TwoTower(nn.Module):
    """A custom module: attributes, a list of layers, and the same layer reached twice."""

    def __init__(self):
        self.first = nn.Dense(2, 3, rng=rng(0))
        self.blocks = [
            nn.Dense(3, 3, rng=rng(1)),
            nn.Sequential(nn.ReLU(), nn.Dense(3, 2, rng=rng(2))),
        ]
        self.again = self.first
        self.scale = nn.Parameter(np.ones(1, np.float32))
        self.not_a_parameter = np.zeros(3)

    def forward(self, x):
        h = self.first(x)
        for block in self.blocks:
            h = block(h)
        return h * self.scale


def test_named_parameters_names_and_dedup():
    net = TwoTower()
    names = [name for name, _ in net.named_parameters()]
    assert names == [  # a module's own parameters first, then its submodules', in attribute order
        "scale",
        "first.weight",
        "first.bias",
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.1.weight",
        "blocks.1.1.bias",
    ]
    assert len(net.parameters()) == 7 == len({id(p) for p in net.parameters()})

    shared = nn.Dense(3, 3, rng=rng())
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert [name for name, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert same(seq.parameters(), [shared.weight, shared.bias])


def test_parameters_in_attribute_order():
    net = nn.Sequential(nn.Dense(2, 3, rng=rng()), nn.Sequential(nn.Dense(3, 4, rng=rng())))
    assert [name for name, _ in net.named_parameters()] == [
        "0.weight",
        "0.bias",
        "1.0.weight",
        "1.0.bias",
    ]
    assert all(
        isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in net.parameters()
    )


def test_state_dict_round_trip_copies_into_the_same_parameters():
    a, b = TwoTower(), TwoTower()
    for p in b.parameters():
        p.data[...] = 0
    state = a.state_dict()
    assert list(state) == [name for name, _ in a.named_parameters()]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["first.weight"][...] = 7.0  # a copy: the model is untouched
    assert not np.any(a.first.weight.numpy() == 7.0)
    params_before = b.parameters()
    b.load_state_dict(a.state_dict())
    assert same(b.parameters(), params_before)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)
    x = tinysiam.tensor(rng(3).standard_normal((4, 2)).astype(np.float32))
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_load_state_dict_errors_name_the_entry():
    net = nn.Sequential(nn.Dense(2, 3, rng=rng()))
    good = net.state_dict()
    missing = {k: v for k, v in good.items() if k != "0.bias"}
    with pytest.raises(ValueError, match=r"missing entry '0\.bias'"):
        net.load_state_dict(missing)
    with pytest.raises(ValueError, match=r"unexpected entry '1\.weight'"):
        net.load_state_dict({**good, "1.weight": np.zeros(3)})
    with pytest.raises(ValueError, match=r"'0\.weight' has shape \(2, 3\), expected \(3, 2\)"):
        net.load_state_dict({**good, "0.weight": np.zeros((2, 3))})
    np.testing.assert_array_equal(
        net.state_dict()["0.weight"], good["0.weight"]
    )  # nothing half-loaded


def test_train_eval_flag_propagates_to_every_submodule():
    twin = nn.Twin(nn.Sequential(nn.Dense(2, 2, rng=rng()), nn.Sequential(nn.ReLU())))
    assert all(m.training for m in twin.modules())
    assert twin.eval() is twin
    assert len(list(twin.modules())) == 5 and not any(m.training for m in twin.modules())
    twin.train()
    assert all(m.training for m in twin.modules())


def test_to_keeps_parameter_objects_and_checks_arguments():
    net = nn.Sequential(nn.Dense(2, 3, rng=rng()))
    before = net.parameters()
    assert net.to("cpu") is net and same(net.parameters(), before)
    net.to(dtype=np.float64)
    assert all(p.dtype == np.float64 for p in net.parameters()) and same(net.parameters(), before)
    with pytest.raises(ValueError, match="device"):
        net.to("tpu")
    with pytest.raises(TypeError, match="floating"):
        net.to(dtype=np.int32)


def test_module_needs_forward_and_parameter_repr():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)
    assert (
        repr(nn.Parameter(np.zeros((2, 3), np.float32))) == "Parameter(shape=(2, 3), dtype=float32)"
    )


# ----- randomness and initialisers ---------------------------------------------------------------
def test_manual_seed_reproducible_and_explicit_rng_wins():
    tinysiam.manual_seed(123)
    a = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dense(4, 5, init="narrow-normal"))
    tinysiam.manual_seed(123)
    b = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dense(4, 5, init="narrow-normal"))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    tinysiam.manual_seed(124)
    c = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dense(4, 5, init="narrow-normal"))
    assert not np.array_equal(a[0].weight.numpy(), c[0].weight.numpy())

    generator = tinysiam.manual_seed(7)
    assert tinysiam.default_generator() is generator
    state = generator.bit_generator.state
    explicit = nn.Dense(4, 5, rng=np.random.default_rng(99))
    assert generator.bit_generator.state == state  # the default generator was not used
    np.testing.assert_array_equal(
        explicit.weight.numpy(), nn.Dense(4, 5, rng=np.random.default_rng(99)).weight.numpy()
    )
    with pytest.raises(TypeError, match="Generator"):
        nn.Dense(4, 5, rng=99)
    with pytest.raises(ValueError, match="seed"):
        tinysiam.manual_seed(-1)


def test_he_init_statistics():
    layer = nn.Dense(2000, 1000, rng=rng())
    w = layer.weight.numpy()
    assert w.dtype == np.float32
    assert abs(w.std() / np.sqrt(2 / 2000) - 1) < 0.02 and abs(w.mean()) < 1e-3
    np.testing.assert_array_equal(layer.bias.numpy(), 0)
    conv = nn.Conv2d(16, 64, 5, rng=rng())  # fan_in = 16 * 5 * 5 = 400
    assert abs(conv.weight.numpy().std() / np.sqrt(2 / 400) - 1) < 0.03


def test_narrow_normal_init_statistics():
    layer = nn.Dense(500, 4000, init="narrow-normal", rng=rng())
    assert abs(layer.weight.numpy().std() / 0.01 - 1) < 0.02
    assert abs(layer.bias.numpy().std() / 0.01 - 1) < 0.05 and np.any(layer.bias.numpy() != 0)
    conv = nn.Conv2d(64, 128, 7, init="narrow-normal", rng=rng())
    assert abs(conv.weight.numpy().std() / 0.01 - 1) < 0.02


def test_glorot_uniform_init_statistics():
    layer = nn.Dense(300, 500, init="glorot", rng=rng())
    limit = np.sqrt(6 / 800)
    w = layer.weight.numpy()
    assert np.all(np.abs(w) <= limit) and w.max() > 0.99 * limit
    assert abs(w.std() / (limit / np.sqrt(3)) - 1) < 0.02
    np.testing.assert_array_equal(layer.bias.numpy(), 0)


def test_unknown_init_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'he', 'narrow-normal', 'glorot'"):
        nn.Dense(2, 2, init="xavier")
    with pytest.raises(ValueError, match="in_features"):
        nn.Dense(0, 2)


# ----- Twin ---------------------------------------------------------------------------------
def branch_net(seed=0):
    return nn.Sequential(
        nn.Dense(4, 5, rng=rng(seed)), nn.ReLU(), nn.Dense(5, 3, rng=rng(seed + 1))
    ).to(dtype=np.float64)


def test_twin_shared_gradient_is_the_sum_of_both_branches():
    net = branch_net()
    twin = nn.Twin(net)
    x1 = float64_tensor(rng(1).standard_normal((6, 4)), requires_grad=False)
    x2 = float64_tensor(rng(2).standard_normal((4, 4)), requires_grad=False)  # another batch size
    a = float64_tensor(rng(3).standard_normal((6, 3)), requires_grad=False)
    b = float64_tensor(rng(4).standard_normal((4, 3)), requires_grad=False)

    f1, f2 = twin(x1, x2)
    np.testing.assert_allclose(f1.numpy(), net(x1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(f2.numpy(), net(x2).numpy(), rtol=1e-12)
    ((f1 * a).sum() + (f2 * b).sum()).backward()
    twin_grads = [p.grad.copy() for p in net.parameters()]

    branch_grads = []
    for x, w in ((x1, a), (x2, b)):
        net.zero_grad()
        (net(x) * w).sum().backward()
        branch_grads.append([p.grad.copy() for p in net.parameters()])
    for g, g1, g2 in zip(twin_grads, *branch_grads, strict=True):
        assert np.any(g1 != 0) and np.any(g2 != 0)
        np.testing.assert_allclose(g, g1 + g2, rtol=1e-10, atol=1e-12)
    assert same(twin.parameters(), net.parameters())


def test_twin_gradcheck_with_inputs_of_different_spatial_size():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, rng=rng()), nn.Flatten()).to(dtype=np.float64)
    twin = nn.Twin(net)
    x1 = float64_tensor(rng(1).standard_normal((2, 1, 5, 5)))
    x2 = float64_tensor(rng(2).standard_normal((3, 1, 4, 4)))
    f1, f2 = twin(x1, x2)
    assert f1.shape == (2, 18) and f2.shape == (3, 8)
    assert tinysiam.gradcheck(
        lambda u, v: tinysiam.concatenate([t.reshape(-1) for t in twin(u, v)]), x1, x2
    )


def test_twin_two_branches_keep_their_parameters_apart():
    net_a, net_b = branch_net(0), branch_net(10)
    twin = nn.Twin(net_a, net_b)
    assert not twin.shared and nn.Twin(net_a, net_a).shared
    assert len(twin.parameters()) == 8
    assert not {id(p) for p in net_a.parameters()} & {id(p) for p in net_b.parameters()}
    x = float64_tensor(rng(1).standard_normal((3, 4)), requires_grad=False)
    f1, f2 = twin(x, x)
    assert not np.allclose(f1.numpy(), f2.numpy())
    f1.sum().backward()  # only the first input's branch is used
    assert all(p.grad is not None for p in net_a.parameters())
    assert all(p.grad is None for p in net_b.parameters())
    np.testing.assert_array_equal(twin.embed(x, branch=1).numpy(), net_b(x).numpy())
    np.testing.assert_array_equal(twin.embed(x).numpy(), net_a(x).numpy())
    assert (
        list(twin.state_dict())[:1] == ["branch.0.weight"] and "other.0.weight" in twin.state_dict()
    )
    with pytest.raises(ValueError, match="branch must be 0 or 1"):
        twin.embed(x, branch=2)


def test_twin_shared_embed_and_state_dict_names():
    net = branch_net()
    twin = nn.Twin(net)
    x = float64_tensor(rng(1).standard_normal((3, 4)), requires_grad=False)
    np.testing.assert_array_equal(twin.embed(x, branch=1).numpy(), net(x).numpy())
    assert list(twin.state_dict()) == [
        "branch.0.weight",
        "branch.0.bias",
        "branch.2.weight",
        "branch.2.bias",
    ]
    assert repr(twin).splitlines()[:3] == ["Twin(", "  shared weights", "  (branch): Sequential("]
