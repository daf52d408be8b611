"""The experiments' toolkit: what the examples need besides the engine.

* :mod:`~tinysiam.experiments.data` - MNIST, Omniglot and its one-shot runs, the synthetic
  digits, pair samplers and distortions;
* :mod:`~tinysiam.experiments.models` - the experiments' networks;
* :mod:`~tinysiam.experiments.training` - the training loop's bookkeeping, the examples' flags,
  embedding a data set, the metrics file;
* :mod:`~tinysiam.experiments.metrics` - nearest-neighbour accuracy, retrieval precision, ROC AUC;
* :mod:`~tinysiam.experiments.plot` - the examples' figures.

This layer imports the engine (``tinysiam``'s other modules); the engine never imports it.
It needs the ``experiments`` extra: ``pip install -e '.[experiments]'`` (matplotlib, pillow,
tqdm).
"""

from importlib.util import find_spec

EXTRA_PACKAGES = {"matplotlib": "matplotlib", "PIL": "pillow", "tqdm": "tqdm"}  # import -> pip name


def _is_installed(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:
        return False


_missing = [pip for module, pip in EXTRA_PACKAGES.items() if not _is_installed(module)]
if _missing:
    raise ModuleNotFoundError(
        f"tinysiam.experiments needs {', '.join(_missing)}, which are not installed: run "
        "pip install -e '.[experiments]' in a clone of tinysiam (the engine alone needs only NumPy)"
    )
