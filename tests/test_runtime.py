"""The process-wide Tokio runtime: lazy start, clean exit, fork safety, logging bridge, CLI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest
import tradewire as tw
from tradewire import _native


def run_python(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_runtime_starts_lazily_with_a_fixed_pool() -> None:
    result = run_python(
        """
        import os
        import time
        import tradewire
        from tradewire import _native
        from tradewire.testing import synthetic_stream
        assert not _native.runtime_started(), "importing must not start threads"
        synthetic_stream("trades", 1)
        assert _native.runtime_started()

        def named() -> int:
            # A worker names itself once it runs: wait for the pool to be up.
            comms = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
            return comms.count("tradewire")

        deadline = time.monotonic() + 5
        while named() < _native.worker_threads() and time.monotonic() < deadline:
            time.sleep(0.01)
        print(_native.worker_threads(), named(), len(os.sched_getaffinity(0)))
        """
    )
    assert result.returncode == 0, result.stderr
    reported, running, cores = map(int, result.stdout.split())
    # A core left to Python, two workers at most.
    assert reported == running
    assert reported == 1 if cores <= 2 else reported in (1, 2)


def test_worker_threads_can_be_set_and_a_bad_setting_is_refused() -> None:
    code = """
        import tradewire
        from tradewire import _native
        from tradewire.testing import synthetic_stream
        try:
            synthetic_stream("trades", 1)
        except tradewire.InvalidArgument as e:
            print("refused", e)
        else:
            print(_native.worker_threads())
        """
    env = dict(os.environ)
    for value, want in [("3", "3"), ("0", "refused"), ("many", "refused"), ("65", "refused")]:
        env["TRADEWIRE_WORKER_THREADS"] = value
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[0] == want, (value, result.stdout)
        if want == "refused":
            assert "TRADEWIRE_WORKER_THREADS" in result.stdout


def test_exit_never_hangs_with_live_streams() -> None:
    # Producers still running, a consumer parked, nothing closed: the interpreter must exit.
    result = run_python(
        """
        import asyncio
        from tradewire.testing import synthetic_stream

        async def main():
            streams = [synthetic_stream("trades", 0, interval_us=500) for _ in range(10)]
            slow, _ = synthetic_stream("trades", 0, interval_us=10_000_000)
            async for _ in streams[0][0]:
                break
            asyncio.get_running_loop().create_task(anext(slow))
            await asyncio.sleep(0.05)
            print("leaving")

        asyncio.run(main())
        """,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "leaving"


def test_use_after_fork_raises_instead_of_deadlocking() -> None:
    result = run_python(
        """
        import asyncio, os, sys
        import tradewire as tw
        from tradewire.testing import synthetic_stream

        synthetic_stream("trades", 1)  # the runtime now runs in this (parent) process
        pid = os.fork()
        if pid == 0:
            try:
                synthetic_stream("trades", 1)
            except tw.ForkedProcessError as err:
                assert isinstance(err, RuntimeError) and "parent process" in str(err)
                os._exit(0)
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status

        async def parent_still_works():
            stream, _ = synthetic_stream("trades", 5)
            return len([e async for e in stream])

        print(asyncio.run(parent_still_works()))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5"


def test_rust_tracing_reaches_python_logging_under_tradewire(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tradewire")
    tw.refresh_log_level()
    _native.emit_test_log("WARNING", "from a runtime thread")
    records = [r for r in caplog.records if r.getMessage() == "from a runtime thread"]
    assert len(records) == 1
    assert records[0].name == "tradewire.bridge"
    assert records[0].levelno == logging.WARNING


def test_rust_logging_honours_the_python_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="tradewire")
    tw.refresh_log_level()
    _native.emit_test_log("INFO", "filtered out")
    _native.emit_test_log("ERROR", "kept")
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("tradewire")]
    assert messages == ["kept"]


def test_cli_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tradewire", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"tradewire {tw.__version__}"


def test_cli_sim_prints_urls_and_serves_until_terminated() -> None:
    import json
    import signal
    import urllib.request

    with subprocess.Popen(
        [sys.executable, "-m", "tradewire", "sim", "--json"], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            info = json.loads(process.stdout.readline())
            spot = info["binance"]["spot"]
            assert spot["rest"].startswith("http://127.0.0.1:")
            assert info["binance"]["usdm"]["ws_market"].endswith("/market")
            assert info["bybit"]["linear"]["ws_public"].endswith("/v5/public/linear")
            assert len(info["binance"]["api_key"]) == 64 and len(info["binance"]["api_secret"]) == 64
            with urllib.request.urlopen(spot["rest"] + "/api/v3/time", timeout=5) as reply:
                assert "serverTime" in json.loads(reply.read())
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            process.kill()  # never leave a server behind, even when an assertion failed
