"""Fault injection for the crash-safety tests (set by environment variables, inert otherwise)."""

from __future__ import annotations

import os

# Tests prove that a run killed at its worst moment leaves the warehouse as it was: with
# WAREHOUSE_CRASH_AT=publish the process kills itself inside the publishing transaction; with
# WAREHOUSE_PAUSE_AT=publish it waits there WAREHOUSE_PAUSE_SECONDS (so a second run meets it).
CRASH_ENV = "WAREHOUSE_CRASH_AT"
PAUSE_ENV, PAUSE_SECONDS_ENV = "WAREHOUSE_PAUSE_AT", "WAREHOUSE_PAUSE_SECONDS"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(PAUSE_ENV) == name:
        import time

        time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "30")))
