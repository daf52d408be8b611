"""Device parametrisation: a test marked ``@devices`` runs on "cpu" and, where a GPU exists, "cuda".

    from devices import cuda_only, devices

    @devices
    def test_something(device): ...

    @cuda_only
    def test_needs_two_devices(): ...

The "cuda" cases carry the ``cuda`` marker (select them with ``-m cuda``) and are skipped
cleanly on a machine without CuPy or an NVIDIA GPU.
"""

import pytest

import tinysiam

CUDA_MARKS = [
    pytest.mark.cuda,
    pytest.mark.skipif(not tinysiam.cuda_available(), reason="needs CuPy and an NVIDIA GPU"),
]

devices = pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA_MARKS)])


def cuda_only(test):
    """Mark a test that needs the GPU (and is skipped without one)."""
    for mark in CUDA_MARKS:
        test = mark(test)
    return test
