"""``tradewire demo`` as a user runs it, in a subprocess on the embedded simulator (never
``--live``): headless for a few seconds, and stopped early by Ctrl-C or SIGTERM. All exit 0."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

DEMO = [sys.executable, "-m", "tradewire", "demo", "--headless"]


@contextmanager
def sigint_inherited() -> Iterator[None]:
    """A child inherits an ignored SIGINT (as under some CI runners and background shells) and
    Python then never raises KeyboardInterrupt in it; a handled one is reset to the default."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(45)
def test_demo_runs_headless_and_exits_0() -> None:
    done = subprocess.run(
        [*DEMO, "--duration", "5"], capture_output=True, text=True, encoding="utf-8", timeout=40
    )
    out = done.stdout
    assert done.returncode == 0, f"exit {done.returncode}\n{out}\n{done.stderr}"
    # The merged book, with both venues' quantities at its levels.
    assert "merged book BTC/USDT open: binance-spot, bybit-spot" in out, out
    assert re.search(r"^\s+\S+\s+bid\s+[\d,.]+\s+[\d.]+\s+.*binance-spot", out, re.M), out
    assert re.search(r"^\s+\S+\s+ask\s+[\d,.]+\s+[\d.]+\s+.*bybit-spot", out, re.M), out
    assert re.search(r"^\s+\S+\s+bbo\s+bid [\d,.]+ .* ask [\d,.]+ ", out, re.M), out
    # The resting order's updates, then the market order's fill.
    assert re.search(r"order \d+ LIMIT BUY 0\.001 @ [\d,.]+: NEW$", out, re.M), out
    assert re.search(r"order \d+ LIMIT BUY 0\.001 @ [\d,.]+: CANCELED$", out, re.M), out
    assert re.search(r"order \d+ MARKET BUY 0\.001: FILLED, fill 0\.001 @ [\d,.]+", out), out
    # Bybit cut halfway: left out of the merged book, then back after its resync.
    excluded = out.index("bybit-spot excluded")
    assert out.index("bybit-spot included", excluded) > excluded, out
    # The summary.
    assert "tradewire demo done after" in out, out
    assert re.search(r"LIMIT BUY .*: NEW -> CANCELED$", out, re.M), out
    assert re.search(r"MARKET BUY .*FILLED, 1 fill\(s\)", out), out


@pytest.mark.timeout(45)
@pytest.mark.parametrize(("signum", "name"), [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_demo_exits_0_when_stopped(signum: signal.Signals, name: str) -> None:
    with sigint_inherited():
        demo = subprocess.Popen(
            [*DEMO, "--duration", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
    with demo:
        assert demo.stdout is not None
        try:
            seen: list[str] = []
            # Interrupted while the resting order is open and every stream is busy.
            for line in demo.stdout:
                seen.append(line)
                if re.search(r"LIMIT BUY .*: NEW$", line):
                    break
            else:
                pytest.fail(f"the demo ended early:\n{''.join(seen)}")
            demo.send_signal(signum)
            sent = time.monotonic()
            rest, err = demo.communicate(timeout=10)
        finally:
            demo.kill()  # a no-op once it has exited
        out = "".join(seen) + rest
        assert demo.returncode == 0, f"exit {demo.returncode}\n{out}\n{err}"
        assert time.monotonic() - sent < 5, "the demo took too long to stop"
        assert f"tradewire demo stopped by {name}" in out, out
        assert "Traceback" not in err, err
