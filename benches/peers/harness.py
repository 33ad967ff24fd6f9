"""Parent side: the simulator's tapes recorded and played to each library's child process, and
the numbers of every play."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import queue
import subprocess
import sys
import threading
import time
from array import array
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .common import MARK, RAW_READER, SYMBOL, Lib


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
    #: Latency samples behind the percentiles.
    samples: int = 0
    #: Trades of the tape that never reached the consumer.
    lost: int = 0
    #: REST depth snapshots the library took during the play (a resync).
    snapshots: int = 0
    rss_mb: float = math.nan
    #: The library's own book counters after the play (tradewire: applied, ignored, resyncs).
    stats: dict[str, int] | None = None
    #: tradewire's book: every diff of the play applied, no resync (None: not known).
    applied_all: bool | None = None
    note_integrity: str = ""
    #: Over repetitions: the throughput's range and how many played.
    low: float = math.nan
    high: float = math.nan
    runs: int = 1


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
    repetition: int = 0
    #: REST depth snapshots taken to sync (must be 1 for a Binance book).
    sync_snapshots: int = 0

    def play(self, mode: str) -> Play | None:
        return next((p for p in self.plays if p.mode == mode), None)


# The package as run (``benches.peers`` from the repository's root), for the children.
PACKAGE = __name__.rpartition(".")[0]


class Child:
    """A library's subprocess (this package run with ``--child``) and its protocol lines."""

    def __init__(self, config: dict[str, Any], log: Path, env: dict[str, str]) -> None:
        self.log = log.open("w")
        command = [sys.executable, "-m", PACKAGE, "--child"]
        if config["lib"] == "raw-rust":
            command = [str(RAW_READER)]
        self.proc = subprocess.Popen(
            [*command, json.dumps(config)],
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


#: Every run gets a fresh simulator with this seed and a still market: the same start for all.
SIM_SEED = 9
#: Tape seeds by play; a play's length is fixed too, so each library gets the same tapes.
PRIME_SEED, WARM_SEED, MAX_SEED, RATE_SEED = 1, 2, 3, 10
#: The REST depth snapshot of each venue's book.
SNAPSHOT = {"binance": "GET /api/v3/depth", "bybit": "GET /v5/market/orderbook"}


@dataclass(frozen=True)
class Tape:
    mode: str  # "prime", "warm-up", "max" or "N/s"
    rate: int | None
    seed: int
    steps: int


class Bench:
    """Runs one library at a time on its own fresh simulator: a still market (no steps), so that
    every library, in every repetition, is played exactly the same tapes from the same book."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.sim: Any = None
        self.last_stats: dict[str, int] | None = None
        self.plans: dict[tuple[str, str], list[Tape]] = {}

    def plan(self, lib: Lib, scenario: str) -> list[Tape]:
        """The tapes of a venue's route: their lengths in synthetic-market steps, from a trial
        recording on a throwaway simulator (messages of the route per step)."""
        from tradewire.testing import Simulator

        route = lib.route(scenario)
        key = (lib.venue, route)
        if key not in self.plans:
            with Simulator(seed=SIM_SEED, steps_per_second=0) as sim:
                v, m = sim.native_venue(lib.venue), sim.native_market("spot")
                sim.native.record_tape(v, m, SYMBOL, 20_000, seed=PRIME_SEED)
                per_step = max(1, sum(1 for r, _ in sim.native.tape_frames(v, m) if r == route)) / 20_000

            def steps(messages: int) -> int:
                return max(10, math.ceil(messages / per_step))

            a = self.args
            self.plans[key] = [
                Tape("prime", None, PRIME_SEED, steps(a.warmup)),
                Tape("warm-up", None, WARM_SEED, steps(a.warmup)),
                Tape("max", None, MAX_SEED, steps(a.max_messages)),
                *(
                    Tape(f"{r:,}/s", r, RATE_SEED + i, steps(int(r * a.seconds)))
                    for i, r in enumerate(a.rates)
                ),
            ]
        return self.plans[key]

    def snapshots(self, lib: Lib) -> int:
        """REST depth snapshots served so far."""
        v, m = self.sim.native_venue(lib.venue), self.sim.native_market("spot")
        count: int = self.sim.native.rest_requests(v, m).get(SNAPSHOT[lib.venue], 0)
        return count

    def record(self, venue: str, route: str, steps: int, seed: int) -> tuple[list[int], int]:
        """Records a tape of `steps` on the current simulator: the ids of `route`'s messages
        in it, and how many frames it holds."""
        native = self.sim.native
        v, m = self.sim.native_venue(venue), self.sim.native_market("spot")
        native.record_tape(v, m, SYMBOL, steps, seed=seed)
        frames = native.tape_frames(v, m)
        return [i for r, i in frames if r == route], len(frames)

    def play(self, child: Child, run: Run, tape: Tape) -> Play:
        lib, route = run.lib, run.lib.route(run.scenario)
        native = self.sim.native
        venue, market = self.sim.native_venue(lib.venue), self.sim.native_market("spot")
        ids, total = self.record(lib.venue, route, tape.steps, tape.seed)
        rate = tape.rate
        result = Play(tape.mode, rate, len(ids))
        recv_file = self.tmp / "recv.bin"
        child.send({"cmd": "arm", "first_id": ids[0], "last_id": ids[-1], "file": str(recv_file)})
        child.expect("armed", 10)
        time.sleep(self.args.quiet)  # what the last play left behind (frees, collections) settles
        before = self.snapshots(lib)
        tape_rate = None if rate is None else max(1, round(rate * total / len(ids)))
        native.play_tape(venue, market, rate=tape_rate, precise=self.args.precise and rate is not None)
        done = child.expect("done", 120 + 4 * self.args.seconds + (len(ids) / rate if rate else 0))
        result.snapshots = self.snapshots(lib) - before
        result.rss_mb = done["rss"] / 2**20
        result.stats = done["stats"]
        if result.stats and self.last_stats and run.scenario == "book":
            applied = result.stats["applied"] - self.last_stats["applied"]
            resyncs = result.stats["resyncs"] - self.last_stats["resyncs"]
            if applied != len(ids) or resyncs:
                result.note_integrity = f"applied {applied:,} of {len(ids):,} diffs, {resyncs} resyncs"
            result.applied_all = applied == len(ids) and not resyncs
        self.last_stats = result.stats
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
        result.samples = len(latencies)
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
            # Trades count as delivered; a book's diffs all count once it shows the last.
            book_done = done["done"] and run.scenario == "book"
            counted = len(ids) if book_done else len(set(got_ids))
            result.msgs_per_s = counted / window if window > 0 else math.nan
            result.cpu_us = done["cpu"] / max(counted, 1) * 1e6
            result.main_cpu_us = done["main_cpu"] / max(counted, 1) * 1e6
        result.p50, result.p99, result.p999 = (percentile(latencies, q) for q in (0.5, 0.99, 0.999))
        if run.scenario == "trades":
            result.lost = len(set(ids) - set(got_ids))
            if result.lost:
                notes.append(f"lost {result.lost:,} trades")
        elif done["done"] and events < 0.99 * len(ids):
            notes.append(f"{events:,} deliveries to the consumer")
        if result.note_integrity:
            notes.append(result.note_integrity)
        if result.snapshots:
            notes.append(f"{result.snapshots} REST snapshots during the play (resynced)")
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
        return Child(config, self.tmp / f"{lib.name}-{scenario}.log", dict(os.environ))

    def subscribed(self, lib: Lib, scenario: str, child: Child, within: float) -> None:
        """Waits until the library's connection is subscribed to the measured stream."""
        stream = lib.stream(scenario)
        deadline = time.monotonic() + within
        while not any(stream in c.streams for c in self.sim.connections(lib.venue, "spot")):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not subscribed to {stream} within {within:.0f} s")
            child.send({"cmd": "stats"})
            failure = child.expect("stats", 10)["failure"]
            if failure:
                raise RuntimeError(f"the consumer ended: {failure}")
            time.sleep(0.05)

    def prime(self, child: Child, run: Run, tape: Tape) -> None:
        """Plays the first tape unmeasured: a library that takes its REST snapshot on the first
        diff takes it here (the snapshot is the tape's end, the simulator's truth once a play
        starts), so that every library is in sync when the warm-up starts."""
        self.record(run.lib.venue, run.lib.route(run.scenario), tape.steps, tape.seed)
        venue, market = self.sim.native_venue(run.lib.venue), self.sim.native_market("spot")
        self.sim.native.play_tape(venue, market, rate=None)
        deadline = time.monotonic() + 30
        while run.scenario == "book" and self.snapshots(run.lib) == 0 and run.lib.venue == "binance":
            if time.monotonic() > deadline:
                raise TimeoutError("no REST snapshot within 30 s of the first diffs")
            time.sleep(0.05)
        time.sleep(1.0)  # the snapshot's answer is read and the tape's frames are taken

    def run(self, lib: Lib, scenario: str, version: str, repetition: int) -> Run:
        from tradewire.testing import Simulator

        run = Run(lib, scenario, version, repetition=repetition)
        self.last_stats = None
        tapes = self.plan(lib, scenario)
        with Simulator(seed=SIM_SEED, steps_per_second=0) as sim:
            self.sim = sim
            child = self.spawn(lib, scenario)
            bye = None
            try:
                child.expect("started", 60)
                self.subscribed(lib, scenario, child, 60)
                self.prime(child, run, tapes[0])
                run.sync_snapshots = self.snapshots(lib)
                warm = self.play(child, run, tapes[1])
                run.ready_rss_mb = warm.rss_mb
                print(f"    warm-up {warm.msgs_per_s:,.0f} msg/s {warm.note}", flush=True)
                if "did not finish" in warm.note:
                    run.plays.append(Play("max", None, warm.messages, note=warm.note))
                    raise RuntimeError(f"the warm-up {warm.note}")
                for tape in tapes[2:]:
                    play = self.play(child, run, tape)
                    run.plays.append(play)
                    print(
                        f"    {tape.mode:>9}: {play.msgs_per_s:>10,.0f} msg/s  {play.cpu_us:7.1f} µs CPU/msg "
                        f"({play.main_cpu_us:.1f} main thread)  {play.events:,} events  "
                        f"p50 {play.p50:,.0f} p99 {play.p99:,.0f} p99.9 {play.p999:,.0f} µs  "
                        f"book {play.book_equal}  {play.note}  {play.split}",
                        flush=True,
                    )
                    if "did not finish" in play.note:
                        break
            except Exception as err:
                run.error = str(err)
                print(f"    failed: {err}", flush=True)
            finally:
                bye = child.close()
                self.sim = None
        if bye:
            run.maxrss_mb = bye["maxrss"] / 2**20
            run.rss = [(float(t), int(b)) for t, b in bye["rss"]]
        if run.error or any("did not finish" in p.note for p in run.plays):
            log = (self.tmp / f"{lib.name}-{scenario}.log").read_text()
            print(f"    its log begins:\n{log[:1500]}\n    and ends:\n{log[-1000:]}", file=sys.stderr)
        return run


def median(values: list[float]) -> float:
    known = sorted(v for v in values if v == v)
    if not known:
        return math.nan
    mid = len(known) // 2
    return known[mid] if len(known) % 2 else (known[mid - 1] + known[mid]) / 2


def aggregate(runs: list[Run]) -> list[Run]:
    """One run per library and scenario from its repetitions: every figure the median, the
    throughput's range beside it, a book equal only if it was in every repetition, and every
    repetition's notes."""
    out: list[Run] = []
    keys = list(dict.fromkeys((r.lib.name, r.scenario) for r in runs))
    for name, scenario in keys:
        reps = [r for r in runs if (r.lib.name, r.scenario) == (name, scenario)]
        first = reps[0]
        merged = Run(first.lib, scenario, first.version, repetition=len(reps))
        merged.error = "; ".join(dict.fromkeys(r.error for r in reps if r.error))
        merged.maxrss_mb = max((r.maxrss_mb for r in reps if r.maxrss_mb == r.maxrss_mb), default=math.nan)
        merged.ready_rss_mb = median([r.ready_rss_mb for r in reps])
        merged.sync_snapshots = max(r.sync_snapshots for r in reps)
        merged.rss = first.rss
        modes = list(dict.fromkeys(p.mode for r in reps for p in r.plays))
        for mode in modes:
            plays = [p for r in reps if (p := r.play(mode)) is not None]
            m = Play(mode, plays[0].rate, plays[0].messages)
            for name_ in ("msgs_per_s", "cpu_us", "main_cpu_us", "p50", "p99", "p999", "rss_mb"):
                setattr(m, name_, median([getattr(p, name_) for p in plays]))
            rates = [p.msgs_per_s for p in plays if p.msgs_per_s == p.msgs_per_s]
            m.low, m.high = (min(rates), max(rates)) if rates else (math.nan, math.nan)
            m.events = int(median([p.events for p in plays]))
            m.samples = min(p.samples for p in plays)
            m.lost = max(p.lost for p in plays)
            m.snapshots = max(p.snapshots for p in plays)
            equal = [p.book_equal for p in plays]
            m.book_equal = None if all(e is None for e in equal) else all(e is True for e in equal)
            m.split = plays[len(plays) // 2].split
            m.note = "; ".join(dict.fromkeys(p.note for p in plays if p.note))
            m.runs = len(plays)
            stats = [p.stats for p in plays if p.stats]
            m.stats = stats[-1] if stats else None
            applied = [p.applied_all for p in plays if p.applied_all is not None]
            m.applied_all = all(applied) if applied else None
            merged.plays.append(m)
        out.append(merged)
    return out
