"""The child's measurement hook: when each message reached the consumer, and the CPU time spent."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
from array import array


class Recorder:
    """The consumer's hook: ``hit(id)`` is the first thing each consumer does with a message (or,
    for books, once the book has it). Before a play is armed it does nothing."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.ids = array("q")
        self.times = array("q")
        self.reads = array("q")  # tradewire only: when Rust read the message off the socket
        self.first_id = 0
        self.last_id = 0
        self.armed = False
        self.finished = asyncio.Event()
        self.cpu0 = 0.0
        self.cpu1 = 0.0
        self.main0 = 0.0
        self.main1 = 0.0
        self.armed_ns = 0
        self.end_ns = 0
        self.gaps = 0

    def hit(self, ident: int) -> None:
        now = time.time_ns()
        if not self.armed:
            return
        if ident < self.first_id:
            return
        self.ids.append(ident)
        self.times.append(now)
        if ident >= self.last_id:
            self.cpu1 = time.process_time()
            self.main1 = main_thread_cpu()
            self.end_ns = now
            self.armed = False
            self._signal(self.finished)

    def hit_read(self, ident: int, read_ns: int) -> None:
        """``hit``, noting when the library read the message off its socket."""
        if self.armed and ident >= self.first_id:
            self.reads.append(read_ns)
        self.hit(ident)

    def arm(self, first_id: int, last_id: int) -> None:
        self.ids = array("q")
        self.times = array("q")
        self.reads = array("q")
        self.first_id, self.last_id = first_id, last_id
        self.finished.clear()
        self.gaps = 0
        self.end_ns = 0
        self.armed_ns = time.time_ns()
        self.cpu0 = time.process_time()
        self.main0 = main_thread_cpu()
        self.armed = True

    def last_seen_ns(self) -> int:
        return self.times[-1] if self.times else self.armed_ns

    def _signal(self, event: asyncio.Event) -> None:
        if threading.get_ident() == self.loop_thread:
            event.set()
        else:
            self.loop.call_soon_threadsafe(event.set)


def main_thread_cpu() -> float:
    """CPU seconds of the main (Python) thread so far, from /proc (10 ms ticks)."""
    with contextlib.suppress(OSError):
        tid = threading.main_thread().native_id
        with open(f"/proc/self/task/{tid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return math.nan
