"""Networks: Module and Parameter, the layers, the initialisers, the Twin (Siamese) wrapper, and
the choice of the ops a built network's Conv2d and MaxPool2d layers run (fast or reference).

from tinysiam import nn
net = nn.Sequential(nn.Flatten(), nn.Dense(784, 1024), nn.ReLU(), nn.Dense(1024, 2))
twin = nn.Twin(net)
conv_net = nn.use_reference_ops(nn.Sequential(nn.Conv2d(1, 8, 3), nn.MaxPool2d(2)))
"""

from . import init
from .layers import Conv2d, Dense, Flatten, MaxPool2d, ReLU, Sequential, Sigmoid
from .module import Module, Parameter
from .ops_choice import use_fast_ops, use_reference_ops
from .twin import Twin

__all__ = [
    "Conv2d",
    "Dense",
    "Flatten",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Twin",
    "init",
    "use_fast_ops",
    "use_reference_ops",
]
