"""Identifiers and default seeds, drawn from a per-process generator.

Task and request ids must be unique, not secret (every read checks the owner), and on some
sandboxed kernels each os.urandom call is a slow system call: three per create request cost ~20 %
of the create path. So one urandom seed per process feeds a fast generator.
"""

from __future__ import annotations

import os
import random

_rng = random.Random(os.urandom(32))


def _reseed() -> None:
    _rng.seed(os.urandom(32))  # a forked child must not repeat its parent's sequence


os.register_at_fork(after_in_child=_reseed)


def new_id() -> str:
    """A random (version 4, RFC 4122 variant) UUID string."""
    bits = _rng.getrandbits(122)
    # 48 random bits, version 4, 12 random, variant 10, 62 random
    value = (bits >> 74 << 80) | (4 << 76) | ((bits >> 62) & 0xFFF) << 64 | (2 << 62) | (bits & ((1 << 62) - 1))
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def random_seed() -> int:
    """A default seed in the DashScope range [0, 2^31 - 1]."""
    return _rng.getrandbits(31)
