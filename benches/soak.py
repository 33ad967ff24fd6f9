"""Chaos soak (issue 25, item 7): ``make soak``, not in CI.

One simulator, four connectors (Binance spot and USD-M, Bybit spot and linear) with keys, 50
live books spread over the four markets, trade streams and an order flow on every market, and
a chaos loop that injects every fault kind the simulator has, at random (seeded) moments on
random markets, each healed after a random while. At the end the chaos stops, everything is
healed, and the run must show:

- every book equal to the simulator's true book (as ``tests/books.equals_truth``: the market
  paused, the best levels equal, Binance at the true update id);
- the local orders, fills, balances and positions (what the streams delivered) equal to the
  simulator's ledger, field by field (as ``tests/test_soak_orders.py``);
- zero rate-limit violations counted by the venues, and no request refused by a ban that
  reached the venue after the client had been told of the ban (the simulator stamps each
  refusal; the client says ``banned``);
- a bounded RSS (sampled every 10 s): the simulator runs in a child process
  (``benches/simproc.py``), so the RSS is tradewire's and the soak's own;
- no connector gave up, no follower died, no fill delivered twice.

It prints a summary and writes it as JSON to ``benches/results/soak-<date>.json``; the exit
status is 1 if a check failed.

    .venv/bin/python -m benches.soak [--minutes 30] [--seed 25] [--books 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_UP
from pathlib import Path
from typing import Any

import tradewire as tw
from tradewire import _native

from benches.simproc import SimProcess
from tests.trading import Local, differences

MARKETS = (("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear"))
#: Symbols the order flow trades: the funded ones (the extra S<i>USDT have no spot balance).
TRADED = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
#: The simulator's windows and timers run 20 times faster (as the order soak), so the venues'
#: limits let the flow through and bans, pings and key lifetimes come round within minutes.
TIME_SCALE = 20
#: Per symbol: 13 symbols on each of 4 markets keep the simulator near half a core.
STEPS_PER_SECOND = 40
#: Open orders a market keeps at most: resting orders far from a moving touch would pile up
#: over 30 minutes and lock every fund.
MAX_OPEN = 40
#: Order-flow workers a market, each acting every 0.1-0.6 s (some 5 places or cancels a second a
#: market): enough to meet every fault often, little CPU.
WORKERS = 2
RESULTS = Path(__file__).resolve().parent / "results"

FAULTS = (
    "drop",
    "freeze",
    "depth_skip",
    "depth_duplicate",
    "depth_reorder",
    "user_drop",
    "user_duplicate",
    "user_reorder",
    "rest_5xx",
    "rest_hang",
    "lost_write_answers",
    "clock_jump",
    "rate_limit_429",
    "ban_418",
    "ban_403",
    "restart",
    "listen_key_expiry",
    "delay",
    "task_panic",
)
#: Supervised tasks of a connector (``<venue>-<market>/<task>``) a panic may hit: ones that pass
#: a checkpoint within seconds, so an armed panic does not wait to hit the final checks.
PANIC_TASKS = ("dispatch", "socket", "user stream", "reconcile", "clock")
#: Bybit's 403 names no end: the connector stops all its HTTP for Bybit's documented 10 minutes
#: (real time; the simulator's time scale is unknown to it). A 403 is only injected while more
#: than that is left of the chaos, so the final reconciliation can run, and once a run: each
#: one silences Bybit's REST (orders, reconciliation) for those 10 minutes.
BYBIT_BAN_LOCKOUT = 600.0


#: A request that passed the client's ban gate before it learnt of a ban may reach the venue
#: after it did (signed, waiting for a pooled connection, on two busy cores): within this many
#: ms (seen: up to 287). Forced bans last longer, so a client that sent on regardless would be
#: refused again after it.
IN_FLIGHT_MS = 1000


def rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Trader:
    """One connector with its books, streams, order flow and local view."""

    venue: str
    market: str
    connector: tw.Binance | tw.Bybit
    books: list[tw.OrderBook] = field(default_factory=list)
    local: Local = field(default_factory=Local)
    infos: dict[str, tw.SymbolInfo] = field(default_factory=dict)
    open_ids: list[tuple[str, str]] = field(default_factory=list)
    listed: int = 0
    events: Counter[str] = field(default_factory=Counter)
    #: When the connector said ``banned`` (Unix ms, as received).
    told_banned: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    trades: int = 0
    trade_gaps: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.venue} {self.market}"


async def until(condition: Callable[[], bool], within: float) -> bool:
    """Polls `condition` (state kept in Rust has nothing to await) for `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


class Soak:
    def __init__(self, sim: SimProcess, args: argparse.Namespace) -> None:
        self.sim = sim
        self.args = args
        self.chaos_rng = random.Random(args.seed)
        self.flow_rng = random.Random(args.seed + 1)
        self.venues: list[Trader] = []
        self.faults: list[dict[str, Any]] = []
        self.fault_errors: Counter[str] = Counter()
        self.heals: set[asyncio.Task[None]] = set()
        self.rss: list[tuple[float, int]] = []
        self.py_blocks: list[tuple[float, int]] = []
        #: The simulator process's, for the record.
        self.sim_rss: list[tuple[float, int]] = []
        self.started = time.monotonic()
        self.stop_chaos = asyncio.Event()
        self.stop_flow = asyncio.Event()

    def now(self) -> float:
        return round(time.monotonic() - self.started, 2)

    def say(self, what: str) -> None:
        print(f"[{self.now():7.1f}s] {what}", flush=True)

    # ---- setup -------------------------------------------------------------------------

    def connector(self, venue: str, market: str) -> tw.Binance | tw.Bybit:
        keys = self.sim.account(venue)
        options: tw.ConnectorOptions = {
            "endpoints": self.sim.endpoints(venue, market),
            "api_key": keys.api_key,
            "api_secret": keys.api_secret,
            # Hung requests end within 2 s; two busy cores can delay a signed request past
            # a second, so the venue's default recvWindow stays.
            "timeout": 2.0,
            "recv_window_ms": 5000,
            "reconcile_every": 2.0,
            "breaker_cool_down": 0.5,
            # Scaled listen keys live 3 min; the default keepalive (30 min) would let them lapse.
            "listen_key_keepalive": 30.0,
            # Ended orders are forgotten within the run, so that path is soaked too.
            "keep_ended_orders": 60.0,
        }
        if venue == "binance":
            return tw.Binance(market, **options)  # type: ignore[arg-type]
        return tw.Bybit(market, **options)  # type: ignore[arg-type]

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        for venue, market in MARKETS:
            c = self.connector(venue, market)
            await stack.enter_async_context(c)
            self.venues.append(Trader(venue, market, c))
        for v in self.venues:
            v.tasks.append(asyncio.create_task(self.count_events(v)))
            v.tasks.append(asyncio.create_task(v.local.follow_orders(v.connector.order_updates())))
            v.tasks.append(asyncio.create_task(v.local.follow_balances(v.connector.balance_updates())))
            if v.market != "spot":
                v.tasks.append(asyncio.create_task(v.local.follow_positions(v.connector.position_updates())))
            v.tasks.append(asyncio.create_task(self.count_trades(v)))
            v.infos = {s: await v.connector.symbol_info(s) for s in TRADED}
        # Books spread over the markets in turn, from each market's own listing.
        listed = [sorted(s.symbol for s in await v.connector.symbols()) for v in self.venues]
        for v, names in zip(self.venues, listed, strict=True):
            v.listed = len(names)
        wanted: list[list[str]] = [[] for _ in self.venues]
        k = 0
        while sum(map(len, wanted)) < self.args.books:
            if all(len(w) == len(names) for w, names in zip(wanted, listed, strict=True)):
                break  # fewer symbols listed than books asked for
            i = k % len(self.venues)
            if len(wanted[i]) < len(listed[i]):
                wanted[i].append(listed[i][len(wanted[i])])
            k += 1
        for v, symbols in zip(self.venues, wanted, strict=True):
            v.books = list(
                await asyncio.gather(*(v.connector.book(s, depth=20, sync_timeout=60) for s in symbols))
            )

    async def count_events(self, v: Trader) -> None:
        async for event in v.connector.events():
            v.events[event.kind] += 1
            if event.kind == tw.ConnectorEventKind.BANNED:
                v.told_banned.append(time.time() * 1000)

    async def count_trades(self, v: Trader) -> None:
        async for t in v.connector.trades(*TRADED):
            if isinstance(t, tw.Gap):
                v.trade_gaps += t.missed
            else:
                v.trades += 1

    # ---- order flow --------------------------------------------------------------------

    async def flow(self, v: Trader) -> None:
        rng = self.flow_rng
        while not self.stop_flow.is_set():
            await asyncio.sleep(rng.uniform(0.1, 0.6))
            try:
                await self.act(v, rng)
            except tw.TradewireError as e:
                # Expected under chaos (timeouts, bans, open breaker, refused clocks): counted;
                # the ledger comparison at the end is what decides.
                v.errors[type(e).__name__] += 1

    async def act(self, v: Trader, rng: random.Random) -> None:
        c = v.connector
        if v.open_ids and (len(v.open_ids) >= MAX_OPEN or rng.random() < 0.3):
            sym, cid = v.open_ids.pop(rng.randrange(len(v.open_ids)))
            v.actions["cancel"] += 1
            with contextlib.suppress(tw.OrderNotFound):  # filled or canceled meanwhile
                await c.cancel(sym, client_order_id=cid)
            return
        symbol = rng.choice(TRADED)
        info = v.infos[symbol]
        side = rng.choice(list(tw.Side))
        bid, ask = self.sim.best(v.venue, v.market, symbol)
        floor = info.min_qty
        if info.min_notional is not None:  # twice the minimum notional, in whole steps
            steps = (info.min_notional * 2 / ask / info.step_size).to_integral_value(ROUND_UP)
            floor = max(floor, steps * info.step_size)
        qty = floor + info.step_size * rng.randint(0, 20)
        if rng.random() < 0.2:
            v.actions["place_market"] += 1
            with contextlib.suppress(tw.InvalidOrder):  # the notional minimum, or funds
                await c.place_market(symbol, side, qty)
            return
        # Around the touch: some cross and fill at once, most rest and fill later or not.
        offset = info.tick_size * rng.randint(-3, 8)
        price = bid - offset if side == "BUY" else ask + offset
        v.actions["place_limit"] += 1
        try:
            order = await c.place_limit(symbol, side, qty, price)
        except tw.InvalidOrder:
            return
        if order.status in (tw.OrderStatus.NEW, tw.OrderStatus.PARTIALLY_FILLED, tw.OrderStatus.UNKNOWN):
            v.open_ids.append((symbol, order.client_order_id))

    # ---- chaos -------------------------------------------------------------------------

    def later(self, delay: float, heal: Callable[[], None]) -> None:
        async def run() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(delay)
            with contextlib.suppress(tw.InvalidArgument):  # e.g. a connection gone meanwhile
                heal()

        task = asyncio.create_task(run())
        self.heals.add(task)
        task.add_done_callback(self.heals.discard)

    def inject(self, left: float) -> None:
        rng = self.chaos_rng
        sim, native = self.sim, self.sim.native
        kind = rng.choice(FAULTS)
        venue, market = rng.choice(MARKETS)
        if kind == "listen_key_expiry":  # Binance USD-M's listen keys only
            venue, market = "binance", "usdm"
        elif kind == "ban_418":  # Binance's ban, with its end in the answer
            venue, market = rng.choice(MARKETS[:2])
        elif kind == "ban_403":  # Bybit's IP ban
            if left < BYBIT_BAN_LOCKOUT + 60 or any(f["kind"] == kind for f in self.faults):
                kind, (venue, market) = "ban_418", rng.choice(MARKETS[:2])
            else:
                venue, market = rng.choice(MARKETS[2:])
        v, m = sim.native_venue(venue), sim.native_market(market)
        # Bybit serves both categories from one REST host and one private stream: their REST,
        # user-event and limit faults are kept with spot.
        account_m = sim.native_market("spot") if venue == "bybit" else m
        detail: dict[str, Any] = {}
        if kind == "drop":
            links = sim.connections(venue, market)
            if links and rng.random() < 0.5:
                link = rng.choice(links)
                detail = {"connection": link.kind}
                native.drop_connections(v, m, connection=link.id)
            else:
                native.drop_connections(v, m)
        elif kind == "freeze":
            links = sim.connections(venue, market)
            seconds = rng.uniform(0.5, 5.0)
            detail = {"seconds": round(seconds, 2)}
            # A connection frozen by id is thawed by id only: the market-wide switch is another.
            if links and rng.random() < 0.5:
                link = rng.choice(links)
                detail["connection"] = link.kind
                native.freeze(v, m, True, connection=link.id)
                self.later(seconds, lambda: native.freeze(v, m, False, connection=link.id))
            else:
                native.freeze(v, m, True)
                self.later(seconds, lambda: native.freeze(v, m, False))
        elif kind.startswith("depth_"):
            count = rng.randint(1, 5)
            symbol = None
            if rng.random() < 0.5:
                books = self.venue_of(venue, market).books
                symbol = rng.choice(books).symbol if books else None
            detail = {"count": count, "symbol": symbol}
            how = kind.removeprefix("depth_")
            if how == "skip":
                native.corrupt_depth(v, m, skip=count, symbol=symbol)
            elif how == "duplicate":
                native.corrupt_depth(v, m, duplicate=count, symbol=symbol)
            else:
                native.corrupt_depth(v, m, reorder=count, symbol=symbol)
        elif kind.startswith("user_"):
            count = rng.randint(1, 5)
            detail = {"count": count}
            how = kind.removeprefix("user_")
            if how == "drop":
                native.fail_user_events(v, account_m, drop=count)
            elif how == "duplicate":
                native.fail_user_events(v, account_m, duplicate=count)
            else:
                native.fail_user_events(v, account_m, reorder=count)
        elif kind == "rest_5xx":
            count = rng.randint(1, 20)
            detail = {"count": count}
            native.fail_rest(v, account_m, status_5xx=count)
            self.later(rng.uniform(1, 4), lambda: native.fail_rest(v, account_m))
        elif kind == "rest_hang":
            count = rng.randint(1, 3)
            detail = {"count": count}
            native.fail_rest(v, account_m, hang=count)
            self.later(rng.uniform(1, 4), lambda: native.fail_rest(v, account_m))
        elif kind == "lost_write_answers":
            count = rng.randint(1, 3)
            detail = {"count": count}
            native.fail_rest(v, account_m, lose_write_answers=count)
        elif kind == "clock_jump":
            skew = rng.choice([-1, 1]) * rng.randint(1_000, 9_000)
            detail = {"skew_ms": skew}
            native.set_clock(v, skew_ms=skew)
            self.later(rng.uniform(2, 10), lambda: native.set_clock(v, skew_ms=0))
        elif kind == "rate_limit_429":
            count = rng.randint(1, 5)
            detail = {"count": count}
            native.force_rate_limit(v, account_m, count)
        elif kind in ("ban_418", "ban_403"):
            ms = rng.randint(2 * IN_FLIGHT_MS, 5_000)
            detail = {"ms": ms, "unix_ms": time.time() * 1000}
            native.force_ban(v, account_m, ms)
        elif kind == "restart":
            native.restart(v)
        elif kind == "listen_key_expiry":
            native.expire_listen_keys()
        elif kind == "delay":
            ms = rng.randint(20, 800)
            detail = {"ms": ms}
            native.set_delay_ms(v, m, ms)
            self.later(rng.uniform(1, 5), lambda: native.set_delay_ms(v, m, 0))
        elif kind == "task_panic":
            task = rng.choice(PANIC_TASKS)
            detail = {"task": task}
            _native.arm_fault(f"{venue}-{market}/{task}")
        self.faults.append({"t": self.now(), "kind": kind, "venue": venue, "market": market, **detail})

    def venue_of(self, venue: str, market: str) -> Trader:
        return next(v for v in self.venues if (v.venue, v.market) == (venue, market))

    async def chaos(self, end: float) -> None:
        while not self.stop_chaos.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_chaos.wait(), self.chaos_rng.uniform(0.3, 4.0))
            if self.stop_chaos.is_set():
                break
            try:
                self.inject(end - time.monotonic())
            except tw.InvalidArgument as e:  # a connection closed between listing and fault
                self.fault_errors[str(e)[:80]] += 1

    def heal_all(self) -> None:
        native = self.sim.native
        for task in list(self.heals):
            task.cancel()
        for venue, market in MARKETS:
            v, m = self.sim.native_venue(venue), self.sim.native_market(market)
            native.fail_rest(v, m)
            native.fail_user_events(v, m)
            native.corrupt_depth(v, m)
            native.freeze(v, m, False)
            for link in self.sim.connections(venue, market):
                with contextlib.suppress(tw.InvalidArgument):  # closed meanwhile
                    native.freeze(v, m, False, connection=link.id)
            native.set_delay_ms(v, m, 0)
            native.lift_ban(v, m)
            native.set_clock(v, skew_ms=0)

    # ---- measurement -------------------------------------------------------------------

    async def sample_rss(self) -> None:
        while True:
            self.rss.append((self.now(), rss_kib()))
            if self.sim.pid is not None:
                with contextlib.suppress(OSError):
                    self.sim_rss.append((self.now(), rss_kib(self.sim.pid)))
            # Python's share of the memory, to tell a Python-side growth from a native one.
            self.py_blocks.append((self.now(), sys.getallocatedblocks()))
            await asyncio.sleep(10)

    async def first_panic(self) -> int:
        """Panics one task before the RSS baseline and returns what it cost (KiB): with
        RUST_BACKTRACE set, the first panic's backtrace loads the extension's debug symbols
        (over 100 MiB, once); later panics cost nothing more."""
        v = self.venues[0]
        before, restarts = rss_kib(), v.events["task_restarted"]
        _native.arm_fault(f"{v.venue}-{v.market}/dispatch")
        await until(lambda: v.events["task_restarted"] > restarts, 10)
        await asyncio.sleep(1)
        self.faults.append({"t": self.now(), "kind": "task_panic", "venue": v.venue, "market": v.market})
        return rss_kib() - before

    def late_refusals(self, venue: str, market: str) -> dict[str, Any]:
        """Requests the venue refused because of a ban we forced, against when the client was
        told: every refusal tells the connector that sent it, so any after that (beyond the
        requests already on the wire, `IN_FLIGHT_MS`) was sent by a client that knew. Bybit's
        one IP ban covers both connectors: a refusal counts as late only after both were told
        (their requests cannot be told apart at the venue)."""

        def covered(v: str, m: str) -> bool:
            return v == venue and (venue == "bybit" or m == market)

        sharing = [x for x in self.venues if covered(x.venue, x.market)]
        starts = sorted(
            f["unix_ms"]
            for f in self.faults
            if f["kind"] in ("ban_418", "ban_403") and covered(f["venue"], f["market"])
        )
        refusals = self.sim.native.ban_refusals(self.sim.native_venue(venue), self.sim.native_market(market))
        late: list[tuple[float, str]] = []
        worst = 0.0
        for at, path in refusals:
            start = max((b for b in starts if b <= at + 1), default=None)  # ms rounding
            if start is None:
                late.append((at, path))  # no ban of ours
                continue
            told = [[t for t in x.told_banned if t >= start] for x in sharing]
            known = [min(ts) for ts in told if ts]  # each connector's first `banned` since
            if not known:
                late.append((at, path))  # the client never said it knew
                continue
            worst = max(worst, at - max(known))
            if at > max(known) + IN_FLIGHT_MS:
                late.append((at - max(known), path))
        return {
            "forced": len(starts),
            "refused": len(refusals),
            "refused_ws_api": sum(1 for _, path in refusals if path == "ws-api"),
            "told": sum(len(x.told_banned) for x in sharing),
            "most_after_told_ms": round(worst),
            "late": late[:10],
        }

    def ban_ends(self) -> bool:
        now = time.time() * 1000
        return all((v.connector.health().banned_until_ms or 0) < now for v in self.venues)

    def healthy(self) -> bool:
        return not self.unhealthy()

    def unhealthy(self) -> list[str]:
        """Connections down and books out of sync, with what the connector says of them."""
        out: list[str] = []
        for v in self.venues:
            h = v.connector.health()
            out += [
                f"{v.name} {c.url}: down ({c.reconnects} reconnects)"
                for c in h.connections
                if not c.connected
            ]
            mine = {b.symbol for b in v.books if not b.is_synced}
            out += [
                f"{v.name} {b.symbol}: unsynced ({b.last_reason}; {b.failures} failed, retry in {b.retry_in})"
                for b in h.books
                if b.symbol in mine
            ]
        return out

    async def books_equal_truth(self, v: Trader) -> list[str]:
        """Each book shows the true best 20 levels a side (Binance: at the true update id);
        the market is paused by the caller, so the truth holds still."""
        native = self.sim.native
        nv, nm = self.sim.native_venue(v.venue), self.sim.native_market(v.market)
        out: list[str] = []
        deadline = time.monotonic() + 20  # for the market's books together: one slow is enough
        for book in v.books:
            while True:
                update_id, bids, asks = native.book(nv, nm, book.symbol, 20)
                view = book.snapshot(20)
                same_id = v.venue == "bybit" or view.update_id == update_id
                mine = [(x.price, x.qty) for x in view.bids + view.asks]
                same = mine == [(x.price, x.qty) for x in bids + asks]
                if view.is_synced and same_id and same:
                    break
                if time.monotonic() > deadline:
                    health = [b for b in v.connector.health().books if b.symbol == book.symbol]
                    out.append(f"{v.name} {book.symbol}: {view} != truth at {update_id}; {health}")
                    break
                await asyncio.sleep(0.05)
        return out


async def bounded(what: Awaitable[Any], within: float) -> None:
    with contextlib.suppress(TimeoutError, tw.TradewireError):
        await asyncio.wait_for(what, within)


async def run(args: argparse.Namespace) -> int:
    started_at = datetime.now(UTC)
    failures: list[str] = []
    with SimProcess(
        seed=args.seed,
        steps_per_second=STEPS_PER_SECOND,
        time_scale=TIME_SCALE,
        extra_symbols=max(0, -(-args.books // len(MARKETS)) - len(TRADED)),
    ) as sim:
        soak = Soak(sim, args)
        async with contextlib.AsyncExitStack() as stack:
            sampler = asyncio.create_task(soak.sample_rss())
            await soak.start(stack)
            books = sum(len(v.books) for v in soak.venues)
            print(f"[{soak.now():7.1f}s] {books} books in sync; chaos for {args.minutes} min", flush=True)
            panic_cost = await soak.first_panic()
            rss_ready = rss_kib()
            end = time.monotonic() + args.minutes * 60
            chaos = asyncio.create_task(soak.chaos(end))
            flows = [asyncio.create_task(soak.flow(v)) for v in soak.venues for _ in range(WORKERS)]
            while (left := end - time.monotonic()) > 0:
                await asyncio.sleep(min(60, left))
                kinds = Counter(f["kind"] for f in soak.faults)
                placed = sum(v.actions["place_limit"] + v.actions["place_market"] for v in soak.venues)
                print(
                    f"[{soak.now():7.1f}s] faults {len(soak.faults)} ({len(kinds)} kinds), "
                    f"orders sent {placed}, RSS {rss_kib() // 1024} MiB",
                    flush=True,
                )

            # Stop the chaos, heal everything, let the flow end and the connectors recover.
            soak.say("chaos stopped; healing")
            soak.stop_chaos.set()
            await chaos
            soak.heal_all()
            soak.stop_flow.set()
            await asyncio.wait(flows, timeout=30)
            for task in flows:
                task.cancel()  # one still waiting on an answer must not place after the cancels
            healed_in = time.monotonic()
            if not await until(soak.healthy, 120):
                down = soak.unhealthy()
                failures.append(f"120 s after the chaos: {len(down)} still down, e.g. {down[:5]}")
            healed_in = time.monotonic() - healed_in
            if not await until(soak.ban_ends, 60):
                failures.append("a connector still holds itself banned 60 s after the chaos stopped")
            for v in soak.venues:
                for symbol in TRADED:
                    for _ in range(3):
                        try:
                            await v.connector.cancel_all(symbol)
                            break
                        except tw.TradewireError as e:
                            v.errors[f"cancel_all {type(e).__name__}"] += 1
                            await asyncio.sleep(1)
            # Once more: a connection lost meanwhile leaves Binance books that a paused market
            # (no diff to bridge the snapshot) cannot bring back in sync.
            if not await until(soak.healthy, 60):
                down = soak.unhealthy()
                failures.append(f"after the cancels: {len(down)} still down, e.g. {down[:5]}")
            soak.say(f"healthy after {healed_in:.1f} s; open orders canceled; checking")
            # A still market: the true books and the ledger stop moving.
            for venue, market in MARKETS:
                sim.native.pause(sim.native_venue(venue), sim.native_market(market), True)
            book_diffs: list[str] = []
            for v in soak.venues:
                book_diffs += await soak.books_equal_truth(v)
            if book_diffs:
                failures.append(f"{len(book_diffs)} books differ from the truth, e.g. {book_diffs[:3]}")
            ledger_diffs: dict[str, list[str]] = {}
            for v in soak.venues:
                last: list[str] = []

                def settled(v: Trader = v) -> bool:
                    nonlocal last
                    last = differences(sim, v.venue, v.market, v.local, TRADED)
                    return not last

                if not await until(settled, 30):
                    ledger_diffs[v.name] = last
                    failures.append(f"{v.name}: {len(last)} differences from the ledger, e.g. {last[:5]}")
                if v.local.repeated:
                    failures.append(f"{v.name}: fills delivered twice: {v.local.repeated[:3]}")
                for task in v.tasks:
                    if task.done():
                        exc = None if task.cancelled() else task.exception()
                        failures.append(f"{v.name}: a follower ended: {exc!r}")
                if v.events["task_gave_up"]:
                    failures.append(f"{v.name}: a supervised task gave up")
            violations = {}
            late: dict[str, dict[str, Any]] = {}
            for venue, market in MARKETS:
                got = sim.native.violations(sim.native_venue(venue), sim.native_market(market))
                violations[f"{venue} {market}"] = got
                rate_limited, bans, _ = got
                if rate_limited or bans:
                    failures.append(f"{venue} {market}: the client earned {rate_limited} 429s, {bans} bans")
                late[f"{venue} {market}"] = soak.late_refusals(venue, market)
                if late[f"{venue} {market}"]["late"]:
                    failures.append(f"{venue} {market}: sent on while banned: {late[f'{venue} {market}']}")
            soak.rss.append((soak.now(), rss_kib()))
            sampler.cancel()
            summary = summarize(soak, args, started_at, rss_ready, healed_in, violations, book_diffs)
            summary["rss"]["first_panic_cost_mib"] = round(panic_cost / 1024, 1)
            summary["ban_refusals"] = late
            summary["ledger_differences"] = {k: d[:20] for k, d in ledger_diffs.items()}
            rss_failure = rss_check(summary["rss"])
            if rss_failure:
                failures.append(rss_failure)
            summary["failures"] = failures
            summary["passed"] = not failures
            for v in soak.venues:
                for task in v.tasks:
                    task.cancel()
    brief = {k: v for k, v in summary.items() if k not in ("fault_log", "markets")}
    brief["rss"] = {
        k: v for k, v in summary["rss"].items() if k not in ("samples", "python_blocks", "simulator_mib")
    }
    print(json.dumps(brief, indent=1, default=str))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"soak-{started_at:%Y-%m-%d-%H%M%S}.json"
    out.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    print(f"\n{'PASSED' if not failures else 'FAILED'}: written to {out}")
    for f in failures:
        print(f"  - {f}")
    return 0 if not failures else 1


def rss_check(rss: dict[str, Any]) -> str | None:
    """Bounded: past the warm-up (books synced, first minute of flow), RSS may grow by at most a
    quarter or 64 MiB, whichever is more. The simulator is another process; the local views
    (what the soak keeps of every order and fill, as a user's ledger would) grow slowly with the
    flow and count here."""
    base, peak = rss["after_warmup_mib"], rss["max_after_warmup_mib"]
    allowed = base + max(64.0, base / 4)
    if peak > allowed:
        return f"RSS grew from {base} MiB after warm-up to {peak} MiB (allowed {allowed:.0f})"
    return None


def summarize(
    soak: Soak,
    args: argparse.Namespace,
    started_at: datetime,
    rss_ready: int,
    healed_in: float,
    violations: dict[str, tuple[int, int, int]],
    book_diffs: list[str],
) -> dict[str, Any]:
    sim = soak.sim
    mib = [(t, round(k / 1024, 1)) for t, k in soak.rss]
    warm = min(60.0, args.minutes * 60 / 3)
    after = [r for t, r in mib if t >= warm] or [mib[-1][1]]
    per_market: dict[str, Any] = {}
    events: Counter[str] = Counter()
    resyncs = reconnects = skipped = 0
    for v in soak.venues:
        h = v.connector.health()
        truth = sim.orders(v.venue, v.market)
        statuses = Counter(str(o.status) for o in truth)
        b_resyncs = sum(b.resyncs for b in h.books)
        c_reconnects = sum(c.reconnects for c in h.connections)
        resyncs += b_resyncs
        reconnects += c_reconnects
        skipped += h.skipped_messages
        events.update(v.events)
        per_market[v.name] = {
            "books": len(v.books),
            "book_resyncs": b_resyncs,
            "reconnects": c_reconnects,
            "skipped_messages": h.skipped_messages,
            "order_reports": h.order_reports,
            "orders_held": h.orders_held,
            "actions": dict(v.actions),
            "errors": dict(v.errors),
            "orders_at_venue": len(truth),
            "orders_by_status": dict(statuses),
            "filled_orders": sum(1 for o in truth if o.filled_qty > 0),
            "fills_local": sum(len(f) for f in v.local.fills.values()),
            "trades_seen": v.trades,
            "trade_gaps_missed": v.trade_gaps,
            "events": dict(v.events),
        }
    all_orders = [o for v in soak.venues for o in sim.orders(v.venue, v.market)]
    return {
        "started": started_at.isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "seed": args.seed,
        "simulator": {
            "steps_per_second": STEPS_PER_SECOND,
            "time_scale": TIME_SCALE,
            "symbols_listed": {v.name: v.listed for v in soak.venues},
        },
        "books": sum(len(v.books) for v in soak.venues),
        "books_equal_truth": not book_diffs,
        "healed_in_s": round(healed_in, 1),
        "faults": len(soak.faults),
        "faults_by_kind": dict(Counter(f["kind"] for f in soak.faults).most_common()),
        "faults_by_market": dict(Counter(f"{f['venue']} {f['market']}" for f in soak.faults)),
        "fault_injection_errors": dict(soak.fault_errors),
        "events_by_kind": dict(events.most_common()),
        "book_resyncs": resyncs,
        "reconnects": reconnects,
        "skipped_messages": skipped,
        "orders": {
            "placed": len(all_orders),
            "filled": sum(1 for o in all_orders if o.status == tw.OrderStatus.FILLED),
            "partially_filled": sum(1 for o in all_orders if 0 < o.filled_qty < (o.qty or 0)),
            "canceled": sum(1 for o in all_orders if o.status == tw.OrderStatus.CANCELED),
        },
        "violations": violations,
        "rss": {
            "start_mib": mib[0][1],
            "books_ready_mib": round(rss_ready / 1024, 1),
            "after_warmup_mib": after[0],
            "max_after_warmup_mib": max(after),
            "max_mib": max(r for _, r in mib),
            "end_mib": mib[-1][1],
            "growth_after_warmup_mib": round(mib[-1][1] - after[0], 1),
            "samples": mib,
            "python_blocks": soak.py_blocks,
            "simulator_mib": [(t, round(k / 1024, 1)) for t, k in soak.sim_rss],
        },
        "markets": per_market,
        "fault_log": soak.faults,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--books", type=int, default=50)
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
