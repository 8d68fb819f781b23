"""Identifiers and default seeds, drawn from a per-process generator.

Task and request ids must be unique, not secret (every read checks the owner), and on some
sandboxed kernels each os.urandom call is a slow system call: three per create request cost ~20 %
of the create path. So one urandom seed per process feeds a fast generator.
"""

from __future__ import annotations

import os
import random
import time

_rng = random.Random(os.urandom(32))


def _reseed() -> None:
    _rng.seed(os.urandom(32))  # a forked child must not repeat its parent's sequence


os.register_at_fork(after_in_child=_reseed)


def new_id() -> str:
    """A random (version 4, RFC 4122 variant) UUID string."""
    bits = _rng.getrandbits(122)
    # 48 random bits, version 4, 12 random, variant 10, 62 random
    value = (bits >> 74 << 80) | (4 << 76) | ((bits >> 62) & 0xFFF) << 64 | (2 << 62) | (bits & ((1 << 62) - 1))
    return _uuid_text(value)


def new_time_ordered_id() -> str:
    """A version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    For task rows: ids created close in time sort together, so a batch of inserts lands on the last
    page of the primary-key index instead of one random page per row (each dirty page is a 4 KiB
    write to the WAL at commit). The creation time it reveals is in the task's submit_time anyway.
    """
    bits = _rng.getrandbits(74)
    millis = time.time_ns() // 1_000_000 & ((1 << 48) - 1)
    # 48 bits time, version 7, 12 random, variant 10, 62 random
    value = millis << 80 | (7 << 76) | ((bits >> 62) & 0xFFF) << 64 | (2 << 62) | (bits & ((1 << 62) - 1))
    return _uuid_text(value)


def _uuid_text(value: int) -> str:
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def random_seed() -> int:
    """A default seed in the DashScope range [0, 2^31 - 1]."""
    return _rng.getrandbits(31)
