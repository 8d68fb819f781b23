"""Identifiers and default seeds, drawn from a per-process generator.

Task and request ids must be unique, not secret (every read checks the owner), and on some
sandboxed kernels each os.urandom call is a slow system call: three per create request cost ~20 %
of the create path. So one urandom seed per process feeds a fast generator.
"""

from __future__ import annotations

import os
import random
import uuid

_rng = random.Random(os.urandom(32))


def _reseed() -> None:
    _rng.seed(os.urandom(32))  # a forked child must not repeat its parent's sequence


os.register_at_fork(after_in_child=_reseed)


def new_id() -> str:
    """A random (version 4) UUID string."""
    return str(uuid.UUID(int=_rng.getrandbits(128), version=4))


def random_seed() -> int:
    """A default seed in the DashScope range [0, 2^31 - 1]."""
    return _rng.getrandbits(31)
