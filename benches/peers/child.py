"""Child side: one library in its own process, its consumer armed and measured play by play,
answering the parent over stdin/stdout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .adapters import ADAPTERS
from .common import emit, load
from .recorder import Recorder, main_thread_cpu


def peak_rss_bytes() -> int:
    """The process's RSS high-water mark (``VmHWM``). Not ``ru_maxrss``: on Linux that keeps the
    peak of the pre-exec process too, i.e. of the parent (the simulator) this child forked from."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def child(config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def read_commands() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, json.loads(line))
        loop.call_soon_threadsafe(commands.put_nowait, {"cmd": "quit"})

    threading.Thread(target=read_commands, daemon=True).start()
    rec = Recorder(loop)
    adapter = ADAPTERS[config["lib"]](config, rec)
    samples: list[tuple[float, int]] = []

    async def sample_rss() -> None:
        started = time.monotonic()
        while True:
            samples.append((time.monotonic() - started, rss_bytes()))
            await asyncio.sleep(1.0)

    sampler = asyncio.create_task(sample_rss())
    consumer = asyncio.create_task(adapter.run())
    # The market is still: the parent sees the subscription at the simulator and primes the
    # library with a first tape (its book syncs there) before the measured plays.
    await asyncio.sleep(0)
    emit({"started": True})
    stall = float(config["stall"])
    while True:
        command = await commands.get()
        if command["cmd"] == "quit":
            break
        if command["cmd"] == "stats":
            failure = None
            if consumer.done():
                failure = repr(consumer.exception()) if not consumer.cancelled() else "cancelled"
            emit({"stats": adapter.stats(), "failure": failure})
            continue
        rec.arm(command["first_id"], command["last_id"])
        emit({"armed": True})
        error = None
        while not rec.finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rec.finished.wait(), 0.25)
            if consumer.done():
                error = f"the consumer ended: {consumer.exception()!r}"
                break
            idle = time.time_ns() - rec.last_seen_ns()
            # A consumer told of losses (gap markers) may have lost the play's last message:
            # the play is over once nothing came for a second; the losses are reported.
            if not rec.finished.is_set() and rec.gaps and idle > 1e9:
                break
            if not rec.finished.is_set() and idle > stall * 1e9:
                error = f"stalled: nothing new for {stall:.0f} s"
                break
        finished = rec.finished.is_set() or (bool(rec.gaps) and error is None)
        if not rec.finished.is_set():
            rec.armed = False
            rec.cpu1 = time.process_time()
            rec.main1 = main_thread_cpu()
            rec.end_ns = rec.last_seen_ns()
        recorded = rec.ids.tobytes() + rec.times.tobytes() + rec.reads.tobytes()
        await asyncio.to_thread(Path(command["file"]).write_bytes, recorded)
        book = None
        if finished and config["scenario"] == "book":
            try:
                book = adapter.book()
            except Exception as err:
                error = f"could not read its book: {err!r}"
        emit(
            {
                "done": finished,
                "events": len(rec.ids),
                "reads": len(rec.reads),
                "cpu": rec.cpu1 - rec.cpu0,
                "main_cpu": rec.main1 - rec.main0,
                "end_ns": rec.end_ns,
                "gaps": rec.gaps,
                "book": book,
                "error": error,
                "rss": rss_bytes(),
                "stats": adapter.stats(),
            }
        )
    sampler.cancel()
    consumer.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(adapter.close(), 5)
    emit({"bye": True, "maxrss": peak_rss_bytes(), "rss": samples})


def child_main(config: dict[str, Any]) -> None:
    # cryptofeed and nautilus_trader run on uvloop, their default, whatever the run's loop.
    if config["loop"] == "uvloop" or config["lib"] in ("cryptofeed", "nautilus_trader"):
        load("uvloop").run(child(config))
    else:
        asyncio.run(child(config))
    sys.stdout.flush()
    os._exit(0)  # some peers leave non-daemon threads behind
