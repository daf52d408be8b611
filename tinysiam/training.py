"""Deprecated alias of :mod:`tinysiam.experiments.training`, which this module re-exports.

The experiments' toolkit has its own layer, ``tinysiam.experiments``: import from there. This
alias warns on import and will be removed in tinysiam 0.3.
"""

import warnings

from tinysiam.experiments.training import *  # noqa: F403

warnings.warn(
    "tinysiam.training has moved to tinysiam.experiments.training; import it from there "
    "(this alias will be removed in tinysiam 0.3)",
    DeprecationWarning,
    stacklevel=2,
)
