"""Benchmark: tradewire against peer libraries on the same simulated stream, in one run.

One command runs every library in turn, each in its own subprocess (so CPU time and peak memory
are the library's own), against one simulator running in this parent process:

- ``trades``: Binance spot ``btcusdt@trade`` (cryptofeed reads only ``btcusdt@aggTrade``, the same
  trades with the same ids), Bybit spot ``publicTrade.BTCUSDT`` (pybit, and tradewire on Bybit so
  that pybit's ratio is same-venue);
- ``book``: Binance spot ``btcusdt@depth@100ms`` diffs over a REST snapshot, kept by each
  library's own book keeper (tradewire ``book()`` + ``book_updates()``, python-binance
  ``DepthCacheManager``, ccxt.pro ``watch_order_book``, cryptofeed ``L2_BOOK``; binance-sdk-spot
  has no book keeper, so its consumer applies the diffs to a plain dict book); Bybit spot
  ``orderbook.200.BTCUSDT`` (pybit's own book; tradewire on Bybit).

Each library connects and syncs on the live synthetic market. The parent then pauses the market,
records a tape (``record_tape``) and plays it (``play_tape``) to the library's connection: a
warm-up, then as fast as the library takes it (``max``), then at each fixed ``--rates`` (messages
of the measured stream per second). For every play:

- msgs/s: tape messages of the stream / (consumer got the last one - simulator wrote the first);
- CPU us/msg: the child's CPU time (every thread, user + system) over that window / messages;
- latency: wall clock when the consumer has the message (``time.time_ns()`` in its loop or
  callback; for books once the library has applied it) - when the simulator started writing it
  to the socket (``tape_sends``). Consumers that conflate (tradewire ``book_updates``, ccxt.pro
  futures) are measured for the newest update each wake-up carries;
- peak RSS: the child process's RSS high-water mark (``VmHWM``; interpreter and imports included);
- book: the library's final book equals the simulator's true book, every level of both sides.

``--memory SECONDS`` instead runs tradewire's Binance book alone at ``--rates``' last rate for that
long, sampling its RSS every second (``benches/results/memory.md`` and ``memory.png``).

Writes ``benches/results/peers.md`` and ``peers.png``. Not a test: ``make bench`` runs it; peers
that are not installed (``pip install -e '.[bench]'``) are skipped with a note.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.metadata
import json
import math
import os
import platform
import queue
import shlex
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

MARK = "@@peers "
SYMBOL = "BTCUSDT"
# The simulator numbers Bybit spot trades 2.29e18 + its trade sequence (as the venue's ids look).
BYBIT_SPOT_TRADE_ID_BASE = 2_290_000_000_000_000_000
RESULTS = Path(__file__).parent / "results"
PYTHON_BINANCE_QUEUE = 1_000_000

Levels = list[tuple[str, str]]


@dataclass(frozen=True)
class Lib:
    name: str
    dist: str  # distribution whose version is reported
    module: str  # imported to check that it is installed
    venue: str
    trades: str  # what the trades consumer uses
    book: str  # what keeps the book

    def route(self, scenario: str) -> str:
        """The tape route (Binance stream kind, Bybit topic) the library's consumer reads."""
        if self.venue == "bybit":
            return f"publicTrade.{SYMBOL}" if scenario == "trades" else f"orderbook.200.{SYMBOL}"
        if scenario == "trades":
            return "aggTrade" if self.name == "cryptofeed" else "trade"
        return "depth"

    def stream(self, scenario: str) -> str:
        if self.venue == "bybit":
            return self.route(scenario)
        return {"trade": "btcusdt@trade", "aggTrade": "btcusdt@aggTrade", "depth": "btcusdt@depth@100ms"}[
            self.route(scenario)
        ]


LIBS = [
    Lib("tradewire", "tradewire", "tradewire", "binance", "trades()", "book() + book_updates(depth=10)"),
    Lib(
        "python-binance",
        "python-binance",
        "binance",
        "binance",
        "BinanceSocketManager.trade_socket (max_queue_size 1e6)",
        "DepthCacheManager (max_queue_size 1e6)",
    ),
    Lib(
        "binance-sdk",
        "binance-sdk-spot",
        "binance_sdk_spot",
        "binance",
        "websocket_streams trade",
        "diff_book_depth + REST depth; dict book in the consumer (no book keeper)",
    ),
    Lib("ccxt", "ccxt", "ccxt", "binance", "ccxt.pro watch_trades", "ccxt.pro watch_order_book"),
    Lib("cryptofeed", "cryptofeed", "cryptofeed", "binance", "TRADES (aggTrade)", "L2_BOOK"),
    Lib(
        "tradewire-bybit",
        "tradewire",
        "tradewire",
        "bybit",
        "trades()",
        "book(depth=200) + book_updates(depth=200)",
    ),
    Lib(
        "pybit", "pybit", "pybit", "bybit", "WebSocket.trade_stream", "WebSocket.orderbook_stream (its book)"
    ),
]
BY_NAME = {lib.name: lib for lib in LIBS}


# --------------------------------------------------------------------------------------------
# Child side: one library, its consumer, and the measurement hooks.
# --------------------------------------------------------------------------------------------


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(message) + "\n")
    sys.stdout.flush()


def load(name: str) -> Any:
    """Peer libraries are imported by name: they need not be installed (or typed) for mypy."""
    return importlib.import_module(name)


class Recorder:
    """The consumer's hook: ``hit(id)`` is the first thing each consumer does with a message (or,
    for books, once the book has it). Before a play is armed it only notes that messages flow."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.ids = array("q")
        self.times = array("q")
        self.reads = array("q")  # tradewire only: when Rust read the message off the socket
        self.first_id = 0
        self.last_id = 0
        self.armed = False
        self.flowing = asyncio.Event()
        self.finished = asyncio.Event()
        self.seen = False
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
            if not self.seen:
                self.seen = True
                self._signal(self.flowing)
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


class Adapter:
    """One library's consumer: ``run`` connects, subscribes and consumes until cancelled."""

    def __init__(self, config: dict[str, Any], rec: Recorder) -> None:
        self.config = config
        self.rec = rec
        self.scenario: str = config["scenario"]
        self.ep: dict[str, str] = config["endpoints"]

    async def run(self) -> None:
        raise NotImplementedError

    def book(self) -> tuple[Levels, Levels] | None:
        return None

    async def close(self) -> None:
        return None


def levels_of(pairs: Any) -> Levels:
    """Price/quantity pairs (strings, floats, Decimals) as exact strings; floats by ``repr``."""
    return [
        (repr(p) if isinstance(p, float) else str(p), repr(q) if isinstance(q, float) else str(q))
        for p, q in pairs
    ]


class DictBook:
    """A minimal Binance spot book for consumers whose library keeps none (the venue's recipe:
    buffer diffs, load a REST snapshot, drop ``u <= lastUpdateId``, then chain ``U = u + 1``)."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.last: int | None = None
        self.buffered: list[tuple[int, int, list[list[str]], list[list[str]]]] = []
        self.broken = False

    def load(self, last: int, bids: list[list[str]], asks: list[list[str]]) -> None:
        self.bids = {p: q for p, q in bids}
        self.asks = {p: q for p, q in asks}
        self.last = last
        for diff in self.buffered:
            self.apply(*diff)
        self.buffered = []

    def apply(self, first: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> bool:
        if self.last is None:
            self.buffered.append((first, last, bids, asks))
            return False
        if last <= self.last:
            return False
        if first > self.last + 1:
            self.broken = True  # a gap: a real consumer would resync here
        for side, changes in ((self.bids, bids), (self.asks, asks)):
            for price, qty in changes:
                if Decimal(qty) == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.last = last
        return True


class Tradewire(Adapter):
    async def run(self) -> None:
        tw = load("tradewire")
        endpoints = tw.Endpoints(**self.ep)
        bybit = self.config["venue"] == "bybit"
        connector = (
            tw.Bybit("spot", endpoints=endpoints) if bybit else tw.Binance("spot", endpoints=endpoints)
        )
        async with connector:
            if self.scenario == "trades":
                base = BYBIT_SPOT_TRADE_ID_BASE if bybit else 0
                hit, gap_type = self.rec.hit_read, tw.Gap
                async for trade in connector.trades(SYMBOL):
                    if isinstance(trade, gap_type):
                        self.rec.gaps += trade.missed
                        continue
                    hit(int(trade.trade_id) - base, trade.local_time_ns)
            else:
                self.order_book = await connector.book(SYMBOL, depth=200)
                hit = self.rec.hit_read
                # On Bybit a view depth picks the topic: 10 would open a second book on
                # orderbook.50 beside the orderbook.200 one.
                async for view in connector.book_updates(SYMBOL, depth=200 if bybit else 10):
                    hit(view.update_id or 0, view.local_time_ns)

    def book(self) -> tuple[Levels, Levels] | None:
        ob = self.order_book
        return levels_of((x.price, x.qty) for x in ob.bids()), levels_of((x.price, x.qty) for x in ob.asks())


class PythonBinance(Adapter):
    async def run(self) -> None:
        binance = load("binance")
        # Allowed knobs: the client classes' URL constants.
        binance.AsyncClient.API_URL = self.ep["rest"] + "/api"
        binance.BinanceSocketManager.STREAM_URL = self.ep["ws_public"] + "/"
        self.client = await binance.AsyncClient.create()
        # Its read loop queues messages for the consumer and stops for good (queue overflow) once
        # 100 wait (the default), which a diff burst does at once: a documented knob raises it.
        manager = binance.BinanceSocketManager(self.client, max_queue_size=PYTHON_BINANCE_QUEUE)
        hit = self.rec.hit
        if self.scenario == "trades":
            async with manager.trade_socket(SYMBOL) as socket:
                while True:
                    message = await socket.recv()
                    if message.get("e") == "error":
                        raise RuntimeError(f"python-binance: {message}")
                    hit(message["t"])
        else:
            dcm = binance.DepthCacheManager(self.client, SYMBOL, limit=1000, ws_interval=100, bm=manager)
            async with dcm as cache:
                while True:
                    depth = await cache.recv()
                    if isinstance(depth, dict):  # its read loop died and says why
                        raise RuntimeError(f"python-binance: {depth}")
                    self.depth = depth
                    hit(cache._last_update_id)  # read only: the id it applied last

    def book(self) -> tuple[Levels, Levels] | None:
        return levels_of(self.depth.get_bids()), levels_of(self.depth.get_asks())

    async def close(self) -> None:
        await self.client.close_connection()


class BinanceSdk(Adapter):
    async def run(self) -> None:
        configuration = load("binance_common.configuration")
        spot = load("binance_sdk_spot.spot")
        self.client = spot.Spot(
            config_rest_api=configuration.ConfigurationRestAPI(base_path=self.ep["rest"]),
            config_ws_streams=configuration.ConfigurationWebSocketStreams(stream_url=self.ep["ws_public"]),
        )
        self.connection = await self.client.websocket_streams.create_connection()
        hit = self.rec.hit
        if self.scenario == "trades":
            handle = await self.connection.trade(symbol=SYMBOL)
            handle.on("message", lambda data: hit(data.t))
        else:
            self.dict_book = book = DictBook()

            def on_diff(data: Any) -> None:
                if book.apply(data.U, data.u, data.b, data.a):
                    hit(data.u)

            handle = await self.connection.diff_book_depth(symbol=SYMBOL, update_speed="100ms")
            handle.on("message", on_diff)
            rest = self.client.rest_api
            snapshot = (await asyncio.to_thread(rest.depth, symbol=SYMBOL, limit=1000)).data()
            book.load(snapshot.last_update_id, snapshot.bids, snapshot.asks)
        await asyncio.Event().wait()

    def book(self) -> tuple[Levels, Levels] | None:
        b = self.dict_book
        if b.broken:
            return [], []
        return list(b.bids.items()), list(b.asks.items())

    async def close(self) -> None:
        await self.connection.close_connection(close_session=True)


class Ccxt(Adapter):
    async def run(self) -> None:
        pro = load("ccxt.pro")
        self.exchange = ex = pro.binance()
        # Allowed knobs: the URL fields, and which markets to load.
        ex.options["fetchMarkets"] = {"types": ["spot"]}
        api = ex.urls["api"]
        for key, value in list(api.items()):
            if isinstance(value, str) and value.startswith("https://"):
                api[key] = self.ep["rest"] + "/" + value.split("/", 3)[3]
        api["ws"]["spot"] = self.ep["ws_public"] + "/stream"
        await ex.load_markets()
        hit = self.rec.hit
        if self.scenario == "trades":
            while True:
                for trade in await ex.watch_trades("BTC/USDT"):
                    hit(int(trade["id"]))
        else:
            while True:
                self.order_book = await ex.watch_order_book("BTC/USDT")
                hit(self.order_book["nonce"])

    def book(self) -> tuple[Levels, Levels] | None:
        return levels_of(self.order_book["bids"]), levels_of(self.order_book["asks"])

    async def close(self) -> None:
        await self.exchange.close()


class Cryptofeed(Adapter):
    async def run(self) -> None:
        cf = load("cryptofeed")
        connection = load("cryptofeed.connection")
        defines = load("cryptofeed.defines")
        binance = load("cryptofeed.exchanges").Binance
        # Allowed knobs: the feed class's endpoint constants. It accepts only wss:// addresses, so
        # the parent serves the simulator's WebSocket through a loopback TLS terminator.
        binance.websocket_endpoints = [connection.WebsocketEndpoint(self.ep["wss"])]
        binance.rest_endpoints = [
            connection.RestEndpoint(
                self.ep["rest"],
                routes=connection.Routes(
                    "/api/v3/exchangeInfo",
                    l2book="/api/v3/depth?symbol={}&limit={}",
                    authentication="/api/v3/userDataStream",
                ),
            )
        ]
        log = {"filename": str(Path(self.config["tmp"]) / "feedhandler.log"), "level": "WARNING"}
        self.handler = cf.FeedHandler(config={"uvloop": False, "log": log})
        hit = self.rec.hit

        async def on_trade(trade: Any, receipt: float) -> None:
            hit(int(trade.id))

        async def on_book(book: Any, receipt: float) -> None:
            self.order_book = book
            hit(book.sequence_number)

        channel = defines.TRADES if self.scenario == "trades" else defines.L2_BOOK
        callback = on_trade if self.scenario == "trades" else on_book
        self.handler.add_feed(
            binance(symbols=["BTC-USDT"], channels=[channel], callbacks={channel: callback})
        )
        self.handler.run(start_loop=False, install_signal_handlers=False)
        await asyncio.Event().wait()

    def book(self) -> tuple[Levels, Levels] | None:
        sides = self.order_book.book
        return levels_of(sides.bids.to_dict().items()), levels_of(sides.asks.to_dict().items())

    async def close(self) -> None:
        await self.handler.stop_async()


class Pybit(Adapter):
    async def run(self) -> None:
        unified = load("pybit.unified_trading")
        # Allowed knob: pybit's module URL constant.
        unified.PUBLIC_WSS = self.ep["ws_public"].rsplit("/", 1)[0] + "/{CHANNEL_TYPE}"
        self.ws = await asyncio.to_thread(unified.WebSocket, testnet=False, channel_type="spot")
        hit = self.rec.hit
        if self.scenario == "trades":

            def on_trades(message: dict[str, Any]) -> None:
                for trade in message["data"]:
                    hit(int(trade["i"]) - BYBIT_SPOT_TRADE_ID_BASE)

            await asyncio.to_thread(self.ws.trade_stream, SYMBOL, on_trades)
        else:

            def on_book(message: dict[str, Any]) -> None:
                self.latest = message["data"]
                hit(self.latest["u"])

            await asyncio.to_thread(self.ws.orderbook_stream, 200, SYMBOL, on_book)
        await asyncio.Event().wait()

    def book(self) -> tuple[Levels, Levels] | None:
        return levels_of(self.latest["b"]), levels_of(self.latest["a"])

    async def close(self) -> None:
        await asyncio.to_thread(self.ws.exit)


ADAPTERS: dict[str, type[Adapter]] = {
    "tradewire": Tradewire,
    "tradewire-bybit": Tradewire,
    "python-binance": PythonBinance,
    "binance-sdk": BinanceSdk,
    "ccxt": Ccxt,
    "cryptofeed": Cryptofeed,
    "pybit": Pybit,
}


def main_thread_cpu() -> float:
    """CPU seconds of the main (Python) thread so far, from /proc (10 ms ticks)."""
    with contextlib.suppress(OSError):
        tid = threading.main_thread().native_id
        with open(f"/proc/self/task/{tid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return math.nan


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
    flowing = asyncio.create_task(rec.flowing.wait())
    await asyncio.wait({consumer, flowing}, timeout=90, return_when=asyncio.FIRST_COMPLETED)
    if not rec.flowing.is_set():
        failure = consumer.exception() if consumer.done() else "no message within 90 s"
        emit({"error": f"did not start: {failure!r}"})
        return
    emit({"ready": True, "rss": rss_bytes()})
    stall = float(config["stall"])
    while True:
        command = await commands.get()
        if command["cmd"] == "quit":
            break
        rec.arm(command["first_id"], command["last_id"])
        emit({"armed": True})
        error = None
        while not rec.finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rec.finished.wait(), 0.25)
            if consumer.done():
                error = f"the consumer ended: {consumer.exception()!r}"
                break
            if not rec.finished.is_set() and time.time_ns() - rec.last_seen_ns() > stall * 1e9:
                error = f"stalled: nothing new for {stall:.0f} s"
                break
        finished = rec.finished.is_set()
        if not finished:
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
            }
        )
    sampler.cancel()
    consumer.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(adapter.close(), 5)
    emit({"bye": True, "maxrss": peak_rss_bytes(), "rss": samples})


def child_main(config: dict[str, Any]) -> None:
    if config["loop"] == "uvloop":
        load("uvloop").run(child(config))
    else:
        asyncio.run(child(config))
    sys.stdout.flush()
    os._exit(0)  # some peers leave non-daemon threads behind


# --------------------------------------------------------------------------------------------
# Parent side: the simulator, the plays, the numbers.
# --------------------------------------------------------------------------------------------


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


class Child:
    """A library's subprocess and its protocol lines."""

    def __init__(self, config: dict[str, Any], log: Path, env: dict[str, str]) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(config)],
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


# --- a loopback TLS terminator for cryptofeed (it refuses ws:// addresses) -------------------


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


# --- the report --------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    found = {}
    for dist in ["tradewire", *(lib.dist for lib in LIBS), "websockets", "aiohttp", "uvloop"]:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[dist] = importlib.metadata.version(dist)
    return found


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )


def fmt(value: float, digits: int = 0) -> str:
    if value != value:
        return "-"
    return f"{value:,.{digits}f}"


def ratio(a: float, b: float) -> str:
    if a != a or b != b or b == 0:
        return "-"
    return f"{a / b:.1f}x"


def same_venue_tradewire(runs: list[Run], lib: Lib, scenario: str) -> Run | None:
    name = "tradewire-bybit" if lib.venue == "bybit" else "tradewire"
    return next((r for r in runs if r.lib.name == name and r.scenario == scenario), None)


def report(
    runs: list[Run], skipped: list[str], args: argparse.Namespace, command: str, elapsed: float
) -> str:
    v = versions()
    lines = [
        "# tradewire against peer libraries",
        "",
        f"Machine: {machine()}.  ",
        f"Command: `{command}` ({elapsed / 60:.1f} min, {time.strftime('%Y-%m-%d %H:%M %Z')}).  ",
        "Versions: " + ", ".join(f"{k} {x}" for k, x in v.items()) + ".  ",
        f"Event loop: {args.loop}. Load average (1 min) before / after the run: "
        f"{args.load_before:.2f} / {os.getloadavg()[0]:.2f}. Every number below comes from this one run.",
        "",
        "Each library runs alone in its own process against the simulator (in the parent process, "
        "on the same machine: on this 2-core VM the simulator and the library share two cores). "
        "A recorded tape of the synthetic market is played to the library's connection once it "
        "is subscribed and in sync: as fast as it takes it (**max**), then at fixed rates of "
        "messages of the measured stream per second. msgs/s = tape messages / (consumer got the "
        "last - simulator wrote the first); CPU = the library process's CPU time (all threads) "
        "per message; latency = consumer has it (`time.time_ns()`) - the simulator started "
        "writing it (µs); peak RSS = the library process's high-water mark (`VmHWM`); book = its final book "
        "equals the simulator's true book, every level. Latency under **max** is mostly queueing "
        "(the simulator writes as fast as the socket takes it). "
        + (
            "Fixed rates are paced frame by frame (`--precise`: a simulator thread spins between "
            "frames, taking a core from the library on a small machine)."
            if args.precise
            else "Fixed rates are paced on the simulator's 1 ms timer: at 50,000 msg/s about 50 frames "
            "leave together every millisecond, so a frame's latency includes handling the frames "
            "written with it (`--precise` paces frame by frame)."
        ),
        "",
    ]
    if skipped:
        lines += ["Left out: " + "; ".join(skipped) + ".", ""]
    for scenario in ("trades", "book"):
        scenario_runs = [r for r in runs if r.scenario == scenario]
        if not scenario_runs:
            continue
        title = "Trades" if scenario == "trades" else "Order-book maintenance"
        lines += [f"## {title}", ""]
        for r in scenario_runs:
            if r.error:
                lines.append(f"- **{r.lib.name}**: failed ({r.error})")
        modes = ["max"] + [f"{x:,}/s" for x in args.rates]
        for mode in modes:
            lines += [
                "",
                f"### {mode}",
                "",
                "| library | stream · consumer | msgs/s | CPU µs/msg (main thread) | p50 µs | p99 µs "
                "| p99.9 µs | peak RSS MB | book equal | notes |",
                "|---|---|--:|--:|--:|--:|--:|--:|:-:|---|",
            ]
            for r in scenario_runs:
                p = r.play(mode)
                if p is None:
                    continue
                consumer = r.lib.trades if scenario == "trades" else r.lib.book
                equal = "-" if p.book_equal is None else ("yes" if p.book_equal else "**no**")
                lines.append(
                    f"| {r.lib.name} {r.version} | `{r.lib.stream(scenario)}` · {consumer} "
                    f"| {fmt(p.msgs_per_s)} | {fmt(p.cpu_us, 1)} ({fmt(p.main_cpu_us, 1)}) | {fmt(p.p50)} "
                    f"| {fmt(p.p99)} "
                    f"| {fmt(p.p999)} | {fmt(r.maxrss_mb)} | {equal} | {p.note} |"
                )
        splits = [
            f"- {r.lib.name}, {p.mode}: {p.split}"
            for r in scenario_runs
            if r.lib.name.startswith("tradewire")
            for p in r.plays
            if p.split
        ]
        if splits:
            lines += [
                "",
                "tradewire's latency split at the socket read in Rust (`local_time_ns`):",
                "",
                *splits,
            ]
        lines += ["", "Ratios (tradewire on the same venue ÷ peer, same run):", ""]
        top = modes[-1]
        lines += [
            f"| peer | throughput (max) | CPU per msg (peer ÷ tw) | p99 at {top} (peer ÷ tw) "
            "| peak RSS (peer ÷ tw) |",
            "|---|--:|--:|--:|--:|",
        ]
        for r in scenario_runs:
            if r.lib.name.startswith("tradewire"):
                continue
            tw = same_venue_tradewire(runs, r.lib, scenario)
            twmax, pmax = (tw.play("max") if tw else None), r.play("max")
            twtop, ptop = (tw.play(top) if tw else None), r.play(top)
            nan = math.nan
            lines.append(
                f"| {r.lib.name} vs {tw.lib.name if tw else '-'} "
                f"| {ratio(twmax.msgs_per_s if twmax else nan, pmax.msgs_per_s if pmax else nan)} "
                f"| {ratio(pmax.cpu_us if pmax else nan, twmax.cpu_us if twmax else nan)} "
                f"| {ratio(ptop.p99 if ptop else nan, twtop.p99 if twtop else nan)} "
                f"| {ratio(r.maxrss_mb, tw.maxrss_mb if tw else nan)} |"
            )
        lines.append("")
    lines += targets(runs, args)
    return "\n".join(lines) + "\n"


def targets(runs: list[Run], args: argparse.Namespace) -> list[str]:
    tw = next((r for r in runs if r.lib.name == "tradewire" and r.scenario == "book"), None)
    if tw is None:
        return []
    peers = [r for r in runs if r.scenario == "book" and not r.lib.name.startswith("tradewire")]
    lines = ["## Targets of the book-delta path (issue 9)", ""]
    twmax = tw.play("max")
    peer_maxes = [
        (p.msgs_per_s, r.lib.name) for r in peers if (p := r.play("max")) and p.msgs_per_s == p.msgs_per_s
    ]
    if twmax and peer_maxes:
        best, name = max(peer_maxes)
        x = twmax.msgs_per_s / best
        lines.append(
            f"- Throughput >= 10x the fastest Python peer: {fmt(twmax.msgs_per_s)} msg/s against "
            f"{name}'s {fmt(best)} = **{x:.1f}x** — " + ("met." if x >= 10 else "**missed**.")
        )
    at = tw.play("50,000/s")
    if at:
        ok = at.p99 < 100 and at.msgs_per_s >= 0.95 * 50_000
        lines.append(
            f"- p99 < 100 µs at 50,000 msg/s: p99 **{fmt(at.p99)} µs** (p50 {fmt(at.p50)}, "
            f"p99.9 {fmt(at.p999)}) at {fmt(at.msgs_per_s)} msg/s — " + ("met." if ok else "**missed**.")
        )
    lines.append(
        "- Flat memory over 10 minutes: see `memory.md` (`benches/peers.py --memory 600`); this run's "
        f"tradewire process peaked at {fmt(tw.maxrss_mb)} MB (RSS {fmt(tw.ready_rss_mb)} MB once in sync)."
    )
    lines.append("")
    lines.append(
        "Where the time goes and what would fix it: `benches/results/notes.md` (a profile of the book "
        "path, the simulator's limits on this machine, and what each peer does)."
    )
    return [*lines, ""]


def chart(runs: list[Run], args: argparse.Namespace, path: Path) -> None:
    matplotlib = load("matplotlib")
    matplotlib.use("Agg")
    plt = load("matplotlib.pyplot")
    scenarios = [s for s in ("trades", "book") if any(r.scenario == s for r in runs)]
    top = f"{args.rates[-1]:,}/s" if args.rates else "max"
    metrics: list[tuple[str, Callable[[Run], float], bool]] = [
        ("messages/s (max)", lambda r: getattr(r.play("max"), "msgs_per_s", math.nan), False),
        ("CPU µs per message (max)", lambda r: getattr(r.play("max"), "cpu_us", math.nan), False),
        (f"p99 latency µs at {top}", lambda r: getattr(r.play(top), "p99", math.nan), True),
        ("peak RSS MB", lambda r: r.maxrss_mb, False),
    ]
    fig, axes = plt.subplots(len(scenarios), len(metrics), figsize=(4.2 * len(metrics), 3.6 * len(scenarios)))
    if len(scenarios) == 1:
        axes = [axes]
    for row, scenario in zip(axes, scenarios, strict=True):
        scenario_runs = [r for r in runs if r.scenario == scenario and not r.error]
        names = [r.lib.name for r in scenario_runs]
        colors = ["#d95f02" if n.startswith("tradewire") else "#7570b3" for n in names]
        for ax, (title, value, log) in zip(row, metrics, strict=True):
            values = [value(r) for r in scenario_runs]
            ax.bar(range(len(names)), [0 if v != v else v for v in values], color=colors)
            ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
            ax.set_title(f"{scenario}: {title}", fontsize=9)
            if log:
                ax.set_yscale("log")
            for i, v in enumerate(values):
                if v == v:
                    ax.annotate(
                        f"{v:,.0f}" if v >= 10 else f"{v:.1f}", (i, v), ha="center", va="bottom", fontsize=7
                    )
    fig.suptitle(f"tradewire vs peers on the simulator · {machine()}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --- the memory run -----------------------------------------------------------------------------


def memory_run(bench: Bench, seconds: float, rate: int, command: str, out: Path) -> None:
    lib = BY_NAME["tradewire"]
    run = Run(lib, "book", importlib.metadata.version("tradewire"))
    native = bench.sim.native
    venue, market = bench.sim.native_venue("binance"), bench.sim.native_market("spot")
    native.pause(venue, market, False)
    child = bench.spawn(lib, "book")
    chunk = rate * 5
    latencies: list[int] = []
    per_chunk: list[tuple[float, float, float]] = []
    messages = 0
    started = time.monotonic()
    try:
        child.expect("ready", 120)
        native.pause(venue, market, True)
        time.sleep(bench.args.settle)
        bench.play(child, run, "warm-up", None, bench.args.warmup)
        ids, total = bench.record(lib, "depth", chunk)
        first_sent = 0
        last_end = 0
        while True:
            recv_file = bench.tmp / "recv.bin"
            child.send({"cmd": "arm", "first_id": ids[0], "last_id": ids[-1], "file": str(recv_file)})
            child.expect("armed", 10)
            native.play_tape(venue, market, rate=max(1, round(rate * total / len(ids))))
            current = ids
            more = time.monotonic() - started < seconds
            if more:  # the next chunk starts where this one leads: record it while this one plays
                ids, total = bench.record(lib, "depth", chunk)
            done = child.expect("done", 120)
            if not done["done"]:
                raise RuntimeError(f"chunk did not finish: {done['error']}")
            sends = native.tape_sends(venue, market, "depth")
            sent = {i: ns for _, i, ns in sends}
            first_sent = first_sent or sends[0][2]
            last_end = done["end_ns"]
            got_ids, got_times = array("q"), array("q")
            with recv_file.open("rb") as f:
                got_ids.fromfile(f, done["events"])
                got_times.fromfile(f, done["events"])
            chunk_lat = sorted(t - sent[i] for i, t in zip(got_ids, got_times, strict=True) if i in sent)
            per_chunk.append(
                (percentile(chunk_lat, 0.5), percentile(chunk_lat, 0.99), percentile(chunk_lat, 0.999))
            )
            latencies.extend(chunk_lat[::10])
            messages += len(current)
            elapsed = time.monotonic() - started
            print(f"  {elapsed:5.0f} s  {messages:>11,} msgs  p99 {per_chunk[-1][1]:,.0f} µs", flush=True)
            if not more:
                break
    finally:
        bye = child.close()
        native.pause(venue, market, False)
    samples = [(float(t), int(b)) for t, b in (bye or {}).get("rss", [])]
    latencies.sort()
    rss = [b / 2**20 for _, b in samples]
    after_warm = [b / 2**20 for t, b in samples if t >= 10] or rss
    rate_seen = messages / ((last_end - first_sent) / 1e9)
    text = [
        "# tradewire memory over a long run",
        "",
        f"Machine: {machine()}.  ",
        f"Command: `{command}` ({time.strftime('%Y-%m-%d %H:%M %Z')}).  ",
        f"tradewire {run.version}: Binance spot BTCUSDT book (`book()` + `book_updates()`), "
        f"tape chunks of {chunk:,} diffs played back to back at {rate:,} diffs/s for {seconds:.0f} s.",
        "",
        f"- messages: {messages:,} at {rate_seen:,.0f} msg/s overall (a few ms between chunks)",
        f"- RSS sampled every second: start {rss[0]:.1f} MB, at 10 s {after_warm[0]:.1f} MB, "
        f"end {rss[-1]:.1f} MB, peak {max(rss):.1f} MB, min after 10 s {min(after_warm):.1f} MB",
        f"- latency (1 in 10 sampled) p50 {percentile(latencies, 0.5):,.0f} µs, "
        f"p99 {percentile(latencies, 0.99):,.0f} µs, p99.9 {percentile(latencies, 0.999):,.0f} µs; "
        f"worst chunk p99 {max(c[1] for c in per_chunk):,.0f} µs",
        "",
    ]
    (out / "memory.md").write_text("\n".join(text))
    print("\n".join(text))
    try:
        matplotlib = load("matplotlib")
    except ImportError:
        print("no chart: matplotlib is not installed (`pip install -e '.[bench]'`)")
        return
    matplotlib.use("Agg")
    plt = load("matplotlib.pyplot")
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot([t for t, _ in samples], rss)
    ax.set_xlabel("seconds")
    ax.set_ylabel("RSS MB")
    ax.set_ylim(0, max(rss) * 1.2)
    ax.set_title(f"tradewire book at {rate:,} diffs/s: process RSS", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "memory.png", dpi=110)


# --- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--only", action="append", default=[], help="library to run (repeatable or a,b)")
    parser.add_argument("--scenario", choices=["trades", "book", "all"], default="all")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each measured play")
    parser.add_argument(
        "--rates", default="5000,50000", help="fixed rates, messages of the stream per second (a,b,...)"
    )
    parser.add_argument("--rate", type=int, help="one fixed rate (instead of --rates)")
    parser.add_argument("--warmup", type=int, default=3000, help="messages of the warm-up play")
    parser.add_argument(
        "--settle", type=float, default=0.5, help="seconds after pausing the live market (diffs every 100 ms)"
    )
    parser.add_argument("--stall", type=float, default=10.0, help="give up a play after this long idle")
    parser.add_argument("--quiet", type=float, default=0.3, help="seconds of quiet before each play")
    parser.add_argument(
        "--max-messages", type=int, default=400_000, help="most messages in a max-throughput play"
    )
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument(
        "--precise",
        action="store_true",
        help="pace fixed rates frame by frame (a simulator core spins) instead of 1 ms bursts",
    )
    parser.add_argument("--memory", type=float, metavar="SECONDS", help="tradewire's long memory run instead")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.child:
        child_main(json.loads(args.child))
        return
    args.rates = [args.rate] if args.rate else [int(x) for x in args.rates.split(",") if x]
    only = {name for item in args.only for name in item.split(",") if name}
    unknown = only - set(BY_NAME)
    if unknown:
        parser.error(f"unknown libraries {sorted(unknown)}; choose from {sorted(BY_NAME)}")
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    args.load_before = os.getloadavg()[0]
    from tradewire.testing import Simulator

    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmpdir,
        Simulator(seed=9, steps_per_second=50) as sim,
        tls_terminator(sim.endpoints("binance", "spot").ws_public, Path(tmpdir)) as tls,
    ):
        wss, cafile = tls if tls else (None, None)
        bench = Bench(args, sim, Path(tmpdir), wss, cafile)
        if args.memory:
            memory_run(bench, args.memory, args.rates[-1], command, args.out)
            return
        skipped: list[str] = []
        libs: list[tuple[Lib, str]] = []
        for lib in LIBS:
            if only and lib.name not in only:
                continue
            try:
                importlib.import_module(lib.module)
            except ImportError:
                skipped.append(f"{lib.name} (not installed: `pip install -e '.[bench]'`)")
                continue
            if lib.name == "cryptofeed" and wss is None:
                skipped.append("cryptofeed (accepts only wss:// and no openssl here to serve TLS)")
                continue
            libs.append((lib, importlib.metadata.version(lib.dist)))
        for note in skipped:
            print(f"skipped: {note}", flush=True)
        scenarios = ["trades", "book"] if args.scenario == "all" else [args.scenario]
        started = time.monotonic()
        runs = []
        for scenario in scenarios:
            for lib, version in libs:
                print(f"{scenario}: {lib.name} {version}", flush=True)
                runs.append(bench.run(lib, scenario, version))
        elapsed = time.monotonic() - started
    text = report(runs, skipped, args, command, elapsed)
    (args.out / "peers.md").write_text(text)
    try:
        chart(runs, args, args.out / "peers.png")
    except ImportError:
        print("no chart: matplotlib is not installed (`pip install -e '.[bench]'`)")
    print(text)


if __name__ == "__main__":
    main()
