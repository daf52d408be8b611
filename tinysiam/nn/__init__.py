"""Networks: Module and Parameter, the layers, the initialisers and the Twin (Siamese) wrapper.

from tinysiam import nn
net = nn.Sequential(nn.Flatten(), nn.Dense(784, 1024), nn.ReLU(), nn.Dense(1024, 2))
twin = nn.Twin(net)
"""

from . import init
from .layers import Conv2d, Dense, Flatten, MaxPool2d, ReLU, Sequential, Sigmoid
from .module import Module, Parameter
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
]
