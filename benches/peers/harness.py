"""Parent side: the simulator's tapes recorded and played to each library's child process, and
the numbers of every play; a loopback TLS terminator for cryptofeed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import queue
import shutil
import ssl
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .common import MARK, SYMBOL, Lib


@dataclass
class Play:
    mode: str  # "max" or "N/s"
    rate: int | None
    messages: int
    msgs_per_s: float = math.nan
    cpu_us: float = math.nan
    p50: float = math.nan
    p99: float = math.nan
    p999: float = math.nan
    events: int = 0
    main_cpu_us: float = math.nan
    split: str = ""
    book_equal: bool | None = None
    note: str = ""


@dataclass
class Run:
    lib: Lib
    scenario: str
    version: str
    plays: list[Play] = field(default_factory=list)
    maxrss_mb: float = math.nan
    ready_rss_mb: float = math.nan
    error: str = ""
    rss: list[tuple[float, int]] = field(default_factory=list)

    def play(self, mode: str) -> Play | None:
        return next((p for p in self.plays if p.mode == mode), None)


# The package as run (``benches.peers`` from the repository's root), for the children.
PACKAGE = __name__.rpartition(".")[0]


class Child:
    """A library's subprocess (this package run with ``--child``) and its protocol lines."""

    def __init__(self, config: dict[str, Any], log: Path, env: dict[str, str]) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", PACKAGE, "--child", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARK):
                self.lines.put(json.loads(line[len(MARK) :]))
            else:
                self.log.write(line)
        self.lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def expect(self, key: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no {key!r} from the child within {timeout:.0f} s") from None
            if message is None:
                raise RuntimeError("the child exited")
            if "error" in message and key not in message:
                raise RuntimeError(message["error"])
            if key in message:
                return message

    def close(self) -> dict[str, Any] | None:
        bye = None
        with contextlib.suppress(Exception):
            self.send({"cmd": "quit"})
            bye = self.expect("bye", 20)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        return bye


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] / 1000


def spread(sorted_values: list[int]) -> str:
    return f"p50 {percentile(sorted_values, 0.5):,.0f} / p99 {percentile(sorted_values, 0.99):,.0f} µs"


def as_book(levels: Any) -> dict[Decimal, Decimal]:
    return {Decimal(str(p)): Decimal(str(q)) for p, q in levels}


class Bench:
    def __init__(self, args: argparse.Namespace, sim: Any, tmp: Path, wss: str | None, cafile: str | None):
        self.args = args
        self.sim = sim
        self.tmp = tmp
        self.wss = wss
        self.cafile = cafile
        self.seed = 100
        self.per_step: dict[str, float] = {}  # route messages per recorded step, learned

    def record(self, lib: Lib, route: str, messages: int) -> tuple[list[int], int]:
        """Records a tape holding about ``messages`` messages of ``route``; its ids and size."""
        native = self.sim.native
        venue, market = self.sim.native_venue(lib.venue), self.sim.native_market("spot")
        key = f"{lib.venue}/{route}"
        steps = max(10, math.ceil(messages / self.per_step.get(key, 0.2)))
        self.seed += 1
        native.record_tape(venue, market, SYMBOL, steps, seed=self.seed)
        frames = native.tape_frames(venue, market)
        ids = [i for r, i in frames if r == route]
        self.per_step[key] = max(len(ids), 1) / steps
        return ids, len(frames)

    def play(self, child: Child, run: Run, mode: str, rate: int | None, messages: int) -> Play:
        lib, route = run.lib, run.lib.route(run.scenario)
        native = self.sim.native
        venue, market = self.sim.native_venue(lib.venue), self.sim.native_market("spot")
        ids, total = self.record(lib, route, messages)
        result = Play(mode, rate, len(ids))
        recv_file = self.tmp / "recv.bin"
        child.send({"cmd": "arm", "first_id": ids[0], "last_id": ids[-1], "file": str(recv_file)})
        child.expect("armed", 10)
        time.sleep(self.args.quiet)  # what the last play left behind (frees, collections) settles
        tape_rate = None if rate is None else max(1, round(rate * total / len(ids)))
        native.play_tape(venue, market, rate=tape_rate, precise=self.args.precise and rate is not None)
        done = child.expect("done", 120 + 4 * self.args.seconds + (len(ids) / rate if rate else 0))
        sends = native.tape_sends(venue, market, route)
        sent: dict[int, int] = {}
        for _, ident, ns in sends:
            sent.setdefault(ident, ns)
        events = done["events"]
        got_ids, got_times, got_reads = array("q"), array("q"), array("q")
        with recv_file.open("rb") as f:
            got_ids.fromfile(f, events)
            got_times.fromfile(f, events)
            got_reads.fromfile(f, done["reads"])
        latencies = sorted(t - sent[i] for i, t in zip(got_ids, got_times, strict=True) if i in sent)
        if got_reads and len(got_reads) == events:
            # tradewire: the same latency split at the socket read in Rust (``local_time_ns``).
            triples = [
                (sent[i], r, t) for i, t, r in zip(got_ids, got_times, got_reads, strict=True) if i in sent
            ]
            to_rust = sorted(r - s for s, r, _ in triples)
            to_python = sorted(t - r for _, r, t in triples)
            result.split = f"send→Rust read {spread(to_rust)}; Rust read→Python {spread(to_python)}"
        result.events = events
        notes = []
        if sends and done["end_ns"]:
            window = (done["end_ns"] - sends[0][2]) / 1e9
            counted = len(ids) if done["done"] else len(set(got_ids))
            result.msgs_per_s = counted / window if window > 0 else math.nan
            result.cpu_us = done["cpu"] / max(counted, 1) * 1e6
            result.main_cpu_us = done["main_cpu"] / max(counted, 1) * 1e6
        result.p50, result.p99, result.p999 = (percentile(latencies, q) for q in (0.5, 0.99, 0.999))
        if done["done"] and events < 0.99 * len(ids):
            notes.append(f"{events:,} deliveries to the consumer")
        if done["gaps"]:
            notes.append(f"{done['gaps']} missed (gap markers)")
        if not done["done"]:
            notes.append(f"did not finish: {done['error']}")
        elif done["error"]:
            notes.append(done["error"])
        if run.scenario == "book" and done["done"] and done["book"] is not None:
            _, true_bids, true_asks = self.sim.book(
                lib.venue, "spot", SYMBOL, 200 if lib.venue == "bybit" else 5000
            )
            bids, asks = done["book"]
            result.book_equal = (as_book(bids), as_book(asks)) == (
                {b.price: b.qty for b in true_bids},
                {a.price: a.qty for a in true_asks},
            )
        if rate is not None and result.msgs_per_s < 0.95 * rate:
            notes.append("fell behind the rate")
        result.note = "; ".join(notes)
        return result

    def spawn(self, lib: Lib, scenario: str) -> Child:
        e = self.sim.endpoints(lib.venue, "spot")
        endpoints = {
            "rest": e.rest,
            "ws_public": e.ws_public,
            "ws_market": e.ws_market,
            "ws_private": e.ws_private,
            "ws_api": e.ws_api,
        }
        config = {
            "lib": lib.name,
            "venue": lib.venue,
            "scenario": scenario,
            "endpoints": endpoints,
            "stall": self.args.stall,
            "loop": self.args.loop,
            "tmp": str(self.tmp),
        }
        env = dict(os.environ)
        if lib.name == "cryptofeed":
            config["endpoints"] = {**endpoints, "wss": self.wss}
            env["SSL_CERT_FILE"] = self.cafile or ""
        return Child(config, self.tmp / f"{lib.name}-{scenario}.log", env)

    def run(self, lib: Lib, scenario: str, version: str) -> Run:
        run = Run(lib, scenario, version)
        native = self.sim.native
        venue, market = self.sim.native_venue(lib.venue), self.sim.native_market("spot")
        native.pause(venue, market, False)  # the library syncs on the live market
        child = self.spawn(lib, scenario)
        try:
            ready = child.expect("ready", 120)
            run.ready_rss_mb = ready["rss"] / 2**20
            native.pause(venue, market, True)
            time.sleep(self.args.settle)  # the last live diffs go out (every stream here is 100 ms)
            warm = self.play(child, run, "warm-up", None, self.args.warmup)
            print(f"    warm-up {warm.msgs_per_s:,.0f} msg/s {warm.note}", flush=True)
            if "did not finish" in warm.note:
                run.plays.append(Play("max", None, warm.messages, note=warm.note))
                raise RuntimeError(f"the warm-up {warm.note}")
            seconds = self.args.seconds
            best = warm.msgs_per_s if warm.msgs_per_s == warm.msgs_per_s else 1000.0
            plan: list[tuple[str, int | None]] = [("max", None)] + [(f"{r:,}/s", r) for r in self.args.rates]
            for mode, rate in plan:
                messages = int(min(rate or math.inf, best * 1.1) * seconds)
                if rate is None:  # recording takes the simulator ~3 µs a step, 1-4 steps a message
                    messages = min(messages, self.args.max_messages)
                play = self.play(child, run, mode, rate, max(messages, 1000))
                run.plays.append(play)
                print(
                    f"    {mode:>9}: {play.msgs_per_s:>10,.0f} msg/s  {play.cpu_us:7.1f} µs CPU/msg "
                    f"({play.main_cpu_us:.1f} main thread)  {play.events:,} events  "
                    f"p50 {play.p50:,.0f} p99 {play.p99:,.0f} p99.9 {play.p999:,.0f} µs  "
                    f"book {play.book_equal}  {play.note}  {play.split}",
                    flush=True,
                )
                if mode == "max" and play.msgs_per_s == play.msgs_per_s:
                    best = play.msgs_per_s
                if "did not finish" in play.note:
                    break
        except Exception as err:
            run.error = str(err)
            print(f"    failed: {err}", flush=True)
        finally:
            bye = child.close()
            native.pause(venue, market, False)
        if bye:
            run.maxrss_mb = bye["maxrss"] / 2**20
            run.rss = [(float(t), int(b)) for t, b in bye["rss"]]
        if run.error or any("did not finish" in p.note for p in run.plays):
            log = (self.tmp / f"{lib.name}-{scenario}.log").read_text()
            print(f"    its log begins:\n{log[:1500]}\n    and ends:\n{log[-1000:]}", file=sys.stderr)
        return run


@contextlib.contextmanager
def tls_terminator(target: str, tmp: Path) -> Iterator[tuple[str, str] | None]:
    """Serves ``wss://127.0.0.1:<port>`` and forwards the bytes to the simulator's ``ws://``
    address, from a thread of this (the simulator's) process. Yields ``(wss base, CA file)``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        yield None
        return
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            openssl,
            *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    host, port = target.removeprefix("ws://").split("/", 1)[0].split(":")
    loop = asyncio.new_event_loop()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def serve() -> int:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        port: int = server.sockets[0].getsockname()[1]
        return port

    threading.Thread(target=loop.run_forever, daemon=True).start()
    bound = asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    try:
        yield f"wss://127.0.0.1:{bound}", str(cert)
    finally:
        loop.call_soon_threadsafe(loop.stop)
