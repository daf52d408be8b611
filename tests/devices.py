"""Device parametrisation: a test marked ``@devices`` runs on "cpu" and on "cuda".

    from devices import cuda_only, devices

    @devices
    def test_something(device): ...

    @cuda_only
    def test_needs_two_devices(): ...

The "cuda" cases carry the ``cuda`` marker (select them with ``-m cuda``). They run on real CuPy
where a GPU answers, and everywhere else on the NumPy-backed CuPy stand-in of
``tests/cupy_standin.py``, which keeps CuPy's rules (see ``conftest.py``; the session header
says which one ran).
"""

import pytest

CUDA_MARKS = [pytest.mark.cuda]

devices = pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA_MARKS)])


def cuda_only(test):
    """Mark a test that runs on the "cuda" device (a GPU, or the stand-in without one)."""
    for mark in CUDA_MARKS:
        test = mark(test)
    return test
