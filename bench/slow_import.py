"""A stand-in for a costly training stack: importing it takes ``COST`` seconds of CPU.

numpy and gymnasium import in about 0.1-0.2 s on these machines; this module adds what a
heavier stack (a simulator, an RL library) costs, as CPU work, so that two runs importing at
once on one core take longer, as real imports do.
"""

from __future__ import annotations

import time

COST = 0.3
"""CPU seconds the import takes."""

_start = time.process_time()
_acc = 0
while time.process_time() - _start < COST:
    for _i in range(10_000):
        _acc = (_acc + _i * _i) % 1_000_003
