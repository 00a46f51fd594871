"""Daphne, with the garbage collector's pauses written down: `daphne_gc.py LOG daphne-args...`.

bench/signaling.py starts both Daphne servers (the app and the bare relay)
through this, so it can tell whether a latency tail is the server's code or a
full collection stopping the process: a generation-2 pass walks every object
the process holds, and the app holds more than the bare relay. One line per
collection that took over 1 ms, or any generation-2 one: wall time at the
start, generation, milliseconds. Nothing else changes: same Daphne, same
arguments.
"""

import gc
import sys
import time

log = open(sys.argv[1], "w", buffering=1)  # noqa: SIM115 (open for the process's life)
started = [0.0, 0.0]


def on_collect(phase, info):
    if phase == "start":
        started[0], started[1] = time.time(), time.perf_counter()
        return
    took = (time.perf_counter() - started[1]) * 1000
    if info["generation"] == 2 or took > 1:
        log.write(f"{started[0]:.4f} {info['generation']} {took:.2f}\n")


gc.callbacks.append(on_collect)
sys.argv = ["daphne", *sys.argv[2:]]

from daphne.cli import CommandLineInterface  # noqa: E402

CommandLineInterface.entrypoint()
