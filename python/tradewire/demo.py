"""``tradewire demo``: BTC/USDT merged across Binance and Bybit spot, live in the terminal.

By default both venues run on the embedded simulator, and a scripted scenario places, cancels
and fills orders and cuts Bybit's connections, so a fresh machine with no keys sees every part
at work. ``live`` reads market data from the real public endpoints instead (no orders). With
``headless``, or when stdout is not a terminal, the view is plain text lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ._native import Balance, Bbo, Fill, Gap, MergedBook, MergedLevel, MergedView, Order, OrderUpdate, Quote
from .aggregate import Aggregator, AggregatorEvent
from .connectors import Binance, Bybit, ConnectorEvent
from .errors import StreamClosed, TradewireError
from .streams import Stream
from .testing import Simulator

SYMBOL = "BTC/USDT"
VENUE_SYMBOL = "BTCUSDT"
VENUES = ("binance-spot", "bybit-spot")
LIMIT_QTY = Decimal("0.001")
MARKET_QTY = Decimal("0.001")
#: The resting buy sits this many ticks under Binance's best bid, out of reach of the market.
TICKS_BELOW = 20
#: Seconds between frames of the live view.
FRAME = 0.125
#: Columns of the merged book panel when the terminal is wide enough to put panels beside it.
LADDER_WIDTH = 58
#: A scripted step runs only if the run lasts this much longer than the step's effect needs.
MARGIN = 0.5
#: When the Bybit cut happens in a run with no end (--duration 0).
CUT_WITHOUT_END = 10.0


@dataclass(frozen=True, slots=True)
class Options:
    #: Seconds to run; 0 runs until Ctrl-C.
    duration: float = 30.0
    #: Real public endpoints (market data only) instead of the simulator.
    live: bool = False
    #: Plain text lines instead of the live view.
    headless: bool = False
    #: The simulator's synthetic market.
    seed: int = 7


@dataclass(slots=True)
class Entry:
    """One line of the event log."""

    at: float
    source: str
    text: str
    style: str = ""


@dataclass(slots=True)
class Tracked:
    """One of the demo's orders as its updates told it."""

    order: Order
    statuses: list[str] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)


@dataclass(slots=True)
class Step:
    """One scripted action, ``at`` seconds into the run; its effect shows by ``until``."""

    at: float
    until: float
    label: str
    action: Callable[[], Awaitable[None]]
    requires: Step | None = None
    state: str = "waiting"  # waiting, running, done, failed, skipped


def run(options: Options, console: Console | None = None) -> int:
    """Runs the demo; returns the exit status (0 also after Ctrl-C or SIGTERM)."""
    demo = Demo(options, console or Console())
    try:
        status = asyncio.run(demo.main())
    except KeyboardInterrupt:
        # asyncio.run has already cancelled the demo's tasks and left every async with block.
        demo.stopped_by = "Ctrl-C"
        status = 0
    demo.print_summary()
    return status


class Demo:
    def __init__(self, options: Options, console: Console) -> None:
        self.options = options
        self.console = console
        self.headless = options.headless or not console.is_terminal
        self.t0 = time.monotonic()
        self.deadline: float | None = None  # monotonic time at which the run ends
        self.log: deque[Entry] = deque(maxlen=200)
        self.counts: Counter[str] = Counter()  # events by kind
        self.connectors: list[Binance | Bybit] = []
        self.book: MergedBook | None = None
        self.tick = Decimal("0.01")
        self.bbo: Bbo | None = None
        self.bbo_updates = 0
        self.orders: dict[str, Tracked] = {}
        self.funds: dict[str, Balance] = {}
        self.steps: list[Step] = []
        self.stopped_by: str | None = None  # Ctrl-C or SIGTERM
        self.errors: list[str] = []  # what stopped the run

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    @property
    def source(self) -> str:
        return "real public endpoints" if self.options.live else f"simulator (seed {self.options.seed})"

    def note(self, source: str, text: str, style: str = "") -> None:
        entry = Entry(self.elapsed(), source, text, style)
        self.log.append(entry)
        if self.headless:
            self.emit(f"{entry.source:<12} {entry.text}", entry.at)

    def emit(self, line: str, at: float | None = None) -> None:
        print(f"{self.elapsed() if at is None else at:6.2f}s  {line}", flush=True)

    # The run.

    async def main(self) -> int:
        self.t0 = time.monotonic()
        duration = self.options.duration or None
        self.deadline = None if duration is None else self.t0 + duration
        if self.headless:
            until = "until Ctrl-C" if duration is None else f"for {duration:g} s"
            venues = " + ".join(VENUES)
            self.emit(f"tradewire demo: {SYMBOL} merged across {venues} on the {self.source}, {until}")
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        with contextlib.suppress(NotImplementedError):  # loops without signal handlers (Windows)
            # SIGTERM (`timeout`, a process manager) ends the run as Ctrl-C does: cleanly.
            loop.add_signal_handler(signal.SIGTERM, self._terminate, task)
        timeout = asyncio.timeout(duration)
        try:
            async with timeout:
                await self._session()
        except TimeoutError:
            if not timeout.expired():
                raise
        except asyncio.CancelledError:
            if self.stopped_by != "SIGTERM":
                raise
            task.uncancel()
        finally:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signal.SIGTERM)
        return 1 if self.errors else 0

    def _terminate(self, task: asyncio.Task[int]) -> None:
        self.stopped_by = "SIGTERM"
        task.cancel()

    async def _session(self) -> None:
        try:
            if self.options.live:
                # No endpoints given: the connectors use the venues' real public presets.
                async with Binance("spot") as bn, Bybit("spot") as by:
                    await self._watch(bn, by, None)
            else:
                with Simulator(seed=self.options.seed, steps_per_second=50) as sim:
                    keys = sim.account("binance")
                    async with (
                        Binance(
                            "spot",
                            api_key=keys.api_key,
                            api_secret=keys.api_secret,
                            endpoints=sim.endpoints("binance", "spot"),
                        ) as bn,
                        Bybit("spot", endpoints=sim.endpoints("bybit", "spot")) as by,
                    ):
                        await self._watch(bn, by, sim)
        except* TradewireError as failure:
            for error in failure.exceptions:
                self.errors.append(f"{type(error).__name__}: {error}")
                self.note("demo", f"stopped: {self.errors[-1]}", "bold red")

    async def _watch(self, bn: Binance, by: Bybit, sim: Simulator | None) -> None:
        self.connectors = [bn, by]
        agg = Aggregator([bn, by], stale_after=5.0)
        async with asyncio.TaskGroup() as tasks:
            # Subscribed before the book opens, so the log shows the connections come up and the
            # venues join the merged book.
            tasks.create_task(self._follow_merged(agg.events()))
            for label, connector in zip(VENUES, (bn, by), strict=True):
                tasks.create_task(self._follow_connector(label, connector.events()))
            tasks.create_task(self._show_headless() if self.headless else self._show_live())
            book = self.book = await agg.book(SYMBOL)
            self.tick = book.tick
            self.note("demo", f"merged book {SYMBOL} open: {', '.join(book.snapshot(0).included)}", "bold")
            if self.headless:
                self._print_book(book.snapshot(5))
            tasks.create_task(self._follow_bbo(agg.bbo_updates(SYMBOL)))
            if sim is not None:
                # Opened before the first order, so none of its updates is missed.
                tasks.create_task(self._follow_orders(bn.order_updates()))
                tasks.create_task(self._follow_funds(bn.balance_updates()))
                tasks.create_task(self._scenario(sim, bn))

    async def _follow_merged(self, events: AsyncIterator[AggregatorEvent | Gap]) -> None:
        async for event in events:
            if isinstance(event, Gap):
                self.note("aggregator", f"{event.missed} events missed (the reader fell behind)", "yellow")
                continue
            self.counts[event.kind] += 1
            f = event.fields
            if event.kind == "crossed":
                bid, ask = self._price(Decimal(f["bid"])), self._price(Decimal(f["ask"]))
                text = f"crossed: {f['bid_venue']} bid {bid} >= {f['ask_venue']} ask {ask}"
                self.note("aggregator", text, "magenta")
            elif event.kind == "excluded":
                self.note("aggregator", f"{f['venue']} excluded: {f['reason']}", "bold red")
            elif event.kind == "included":
                self.note("aggregator", f"{f['venue']} included", "bold green")
            else:
                self.note("aggregator", " ".join([event.kind, *_pairs(f)]), "magenta")

    async def _follow_connector(self, label: str, events: AsyncIterator[ConnectorEvent]) -> None:
        styles = {"disconnected": "red", "reconnecting": "yellow", "book_unsynced": "red"}
        async for event in events:
            self.counts[event.kind] += 1
            self.note(label, " ".join([event.kind, *_pairs(event.fields)]), styles.get(event.kind, "cyan"))

    async def _follow_bbo(self, updates: Stream[Bbo]) -> None:
        async with updates:
            async for bbo in updates:
                self.bbo = bbo
                self.bbo_updates += 1

    async def _follow_orders(self, updates: Stream[OrderUpdate]) -> None:
        async with updates:
            async for update in updates:
                order = update.order
                tracked = self.orders.setdefault(order.client_order_id, Tracked(order))
                tracked.order = order
                status = order.status.value
                if not tracked.statuses or tracked.statuses[-1] != status:
                    tracked.statuses.append(status)
                text = f"order {order.order_id} {self._describe(order)}: {status}"
                if update.fill is not None:
                    tracked.fills.append(update.fill)
                    text += f", fill {self._fill(update.fill)}"
                style = "bold green" if status == "FILLED" else "green" if status == "NEW" else "yellow"
                self.note("binance-spot", text, style)

    async def _follow_funds(self, updates: Stream[Balance]) -> None:
        async with updates:
            async for balance in updates:
                if balance.asset in ("BTC", "USDT"):
                    self.funds[balance.asset] = balance

    async def _scenario(self, sim: Simulator, bn: Binance) -> None:
        info = await bn.symbol_info(VENUE_SYMBOL)
        resting: list[Order] = []

        async def place() -> None:
            price = self._venue_bid("binance-spot") - TICKS_BELOW * info.tick_size
            self.note("demo", f"placing LIMIT BUY {LIMIT_QTY} @ {self._price(price)} on binance-spot")
            resting.append(await bn.place_limit(VENUE_SYMBOL, "BUY", LIMIT_QTY, price))

        async def cancel() -> None:
            self.note("demo", f"canceling order {resting[0].order_id}")
            await bn.cancel(VENUE_SYMBOL, client_order_id=resting[0].client_order_id)

        async def buy() -> None:
            self.note("demo", f"placing MARKET BUY {MARKET_QTY} on binance-spot")
            await bn.place_market(VENUE_SYMBOL, "BUY", MARKET_QTY)

        async def cut() -> None:
            self.note("simulator", "cutting every bybit-spot connection", "bold red")
            sim.native.drop_connections(sim.native_venue("bybit"), sim.native_market("spot"))

        placing = Step(1.0, 3.0, f"LIMIT BUY {LIMIT_QTY}, {TICKS_BELOW} ticks under the bid", place)
        cut_at = self.options.duration / 2 if self.options.duration else CUT_WITHOUT_END
        self.steps = sorted(
            [
                placing,
                Step(3.0, 3.0, "cancel it", cancel, requires=placing),
                Step(4.0, 4.0, f"MARKET BUY {MARKET_QTY}", buy),
                # A second is plenty for the reconnect, resubscription and resync to show.
                Step(cut_at, cut_at + 1.0, "cut Bybit's connections", cut),
            ],
            key=lambda step: step.at,
        )
        for step in self.steps:
            if self.deadline is not None and self.t0 + step.until + MARGIN > self.deadline:
                step.state = "skipped"  # the run ends before its effect would show
        for step in self.steps:
            if step.state == "skipped" or (step.requires is not None and step.requires.state != "done"):
                step.state = "skipped"
                continue
            await asyncio.sleep(max(0.0, self.t0 + step.at - time.monotonic()))
            step.state = "running"
            try:
                await step.action()
            except (TradewireError, LookupError) as error:
                step.state = "failed"
                self.note("demo", f"{step.label}: {type(error).__name__}: {error}", "bold red")
            else:
                step.state = "done"

    def _venue_bid(self, venue: str) -> Decimal:
        """The venue's own best bid, read from the merged book."""
        assert self.book is not None
        for level in self.book.bids(50):
            if level.venues.get(venue):
                return level.price
        raise LookupError(f"{venue} has no bid in the merged book")

    # Formatting.

    def _price(self, price: Decimal) -> str:
        """To the book's tick at least, never rounded."""
        return f"{price:,.{max(_places(self.tick), _places(price))}f}"

    def _describe(self, order: Order) -> str:
        text = f"{order.order_type.value} {order.side.value} {_plain(order.qty or Decimal(0))}"
        return text if order.price is None else f"{text} @ {self._price(order.price)}"

    def _fill(self, fill: Fill) -> str:
        role = "maker" if fill.is_maker else "taker"
        fee = f"{_plain(fill.fee)} {fill.fee_asset}"
        return f"{_plain(fill.qty)} @ {self._price(fill.price)} ({role}, fee {fee})"

    def _quote(self, quote: Quote | None) -> str:
        if quote is None:
            return "-"
        text = f"{self._price(quote.price)} x {_plain(quote.qty)}"
        if len(quote.venues) <= 1:
            return f"{text} on {quote.venue}"
        parts = ", ".join(f"{venue} {_plain(qty)}" for venue, qty in _largest_first(quote.venues))
        return f"{text} [{parts}]"

    def _spread(self, bbo: Bbo | None) -> str:
        if bbo is None or bbo.bid is None or bbo.ask is None:
            return "-"
        spread = bbo.ask.price - bbo.bid.price
        ticks = spread / self.tick
        if bbo.crossed:  # one venue's bid at or above another's ask
            how = "bid = ask" if spread == 0 else f"by {-ticks:f} tick(s)"
            return f"{self._price(spread)} CROSSED ({how})"
        return f"{self._price(spread)} ({ticks:f} tick(s))"

    # Headless output.

    async def _show_headless(self) -> None:
        second = 1
        while True:
            await asyncio.sleep(max(0.0, self.t0 + second - time.monotonic()))
            second += 1
            if self.bbo is not None:
                self.emit(self._status_line())

    def _status_line(self) -> str:
        bbo = self.bbo
        assert bbo is not None
        excluded = ", ".join(f"{venue} ({reason})" for venue, reason in bbo.excluded.items()) or "-"
        included = [venue for venue in VENUES if venue not in bbo.excluded]
        return (
            f"{'bbo':<12} bid {self._quote(bbo.bid)} | ask {self._quote(bbo.ask)}"
            f" | spread {self._spread(bbo)} | included {', '.join(included) or '-'}"
            f" | excluded {excluded} | {self.bbo_updates} updates"
        )

    def _print_book(self, view: MergedView) -> None:
        self.emit(f"{'book':<12} {view.symbol}, {len(view.asks)} asks over {len(view.bids)} bids:")
        for side, levels in (("ask", reversed(view.asks)), ("bid", iter(view.bids))):
            for level in levels:
                parts = "  ".join(f"{venue} {_plain(qty)}" for venue, qty in _largest_first(level.venues))
                price, qty = self._price(level.price), _plain(level.qty)
                self.emit(f"{'':<12}   {side} {price:>12} {qty:>10}  {parts}")

    # The live view.

    async def _show_live(self) -> None:
        with Live(self._render(), console=self.console, auto_refresh=False) as live:
            try:
                while True:
                    await asyncio.sleep(FRAME)
                    live.update(self._render(), refresh=True)
            finally:
                live.update(self._render(), refresh=True)  # the final state stays on screen

    def _render(self) -> RenderableType:
        width, height = self.console.size
        wide = width >= LADDER_WIDTH + 50  # room for the side column beside the book
        header = self._header()
        # Under the header, less the line under the view that keeps the cursor.
        room = height - len(self.console.render_lines(header)) - 1
        view = self.book.snapshot(10) if self.book is not None else None
        panels: list[RenderableType] = [
            Panel(self._quotes(view), title="cross-venue best bid / ask", border_style="blue"),
            Panel(self._orders(), title="orders on binance-spot", border_style="blue"),
        ]
        options = self.console.options.update(width=width - LADDER_WIDTH if wide else width)
        used = sum(len(self.console.render_lines(panel, options)) for panel in panels)
        # The book takes 2 lines a level and 6 more; the event log takes whatever height is left.
        levels = max(3, min(10, ((room if wide else room - used - 5) - 6) // 2))
        log_lines = room - used - 2 if wide else room - used - (2 * levels + 6) - 2
        panels.append(Panel(self._log(max(3, log_lines)), title="events", border_style="blue"))
        ladder = Panel(
            self._ladder(view, levels),
            title=f"merged book {SYMBOL}",
            border_style="blue",
            width=LADDER_WIDTH if wide else None,
        )
        body = Table.grid(expand=True)
        if wide:
            body.add_column(width=LADDER_WIDTH)
            body.add_column(ratio=1)
            body.add_row(ladder, Group(*panels))
        else:
            body.add_column(ratio=1)
            for part in (ladder, *panels):
                body.add_row(part)
        return Group(header, body)

    def _header(self) -> Text:
        elapsed = f"{self.elapsed():.1f} s"
        if self.options.duration:
            elapsed += f" of {self.options.duration:g} s"
        return Text.assemble(
            ("tradewire demo", "bold"),
            f"  {SYMBOL} merged across {' + '.join(VENUES)} on the ",
            (self.source, "bold cyan"),
            f"  ·  {elapsed}  ·  Ctrl-C quits",
        )

    def _ladder(self, view: MergedView | None, levels: int) -> RenderableType:
        if view is None:
            return Text("waiting for the venues' books to sync…", style="dim")
        table = Table(box=box.SIMPLE_HEAD, expand=True, show_edge=False, pad_edge=False)
        table.add_column("price", justify="right", no_wrap=True)
        table.add_column("total", justify="right", no_wrap=True)
        for venue in VENUES:
            table.add_column(venue, justify="right", no_wrap=True)
        quantities = [q for level in (*view.bids, *view.asks) for q in (level.qty, *level.venues.values())]
        places = max((_places(q) for q in quantities), default=0)

        def row(level: MergedLevel | None, style: str) -> list[RenderableType]:
            if level is None:
                return ["" for _ in range(2 + len(VENUES))]
            largest = max(level.venues.values(), default=Decimal(0))
            cells: list[RenderableType] = [
                Text(self._price(level.price), style=style),
                Text(f"{level.qty:.{places}f}", style="bold"),
            ]
            for venue in VENUES:
                qty = level.venues.get(venue)
                # The venue with the most at a level stands out; absent venues leave the cell empty.
                emphasis = "" if qty == largest else "dim"
                cells.append("" if qty is None else Text(f"{qty:.{places}f}", style=emphasis))
            return cells

        asks: list[MergedLevel | None] = [*view.asks[:levels]]
        asks += [None] * (levels - len(asks))  # a steady height while a side is thin
        for level in reversed(asks):
            table.add_row(*row(level, "red"))
        bbo = self.bbo
        if bbo is not None and bbo.bid is not None and bbo.ask is not None:
            spread = Text(self._price(bbo.ask.price - bbo.bid.price), style="magenta")
            table.add_row(Text("spread", style="dim"), spread, end_section=True)
        for level in view.bids[:levels]:
            table.add_row(*row(level, "green"))
        return table

    def _quotes(self, view: MergedView | None) -> RenderableType:
        bbo = self.bbo
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row("best bid", Text(self._quote(bbo.bid if bbo else None), style="green"))
        grid.add_row("best ask", Text(self._quote(bbo.ask if bbo else None), style="red"))
        crossed = bbo is not None and bbo.crossed
        grid.add_row("spread", Text(self._spread(bbo), style="bold magenta" if crossed else ""))
        venues = Text()
        excluded = view.excluded if view is not None else {}
        for venue in VENUES:
            if venue in excluded:
                venues.append(f"✘ {venue} out: {excluded[venue]}  ", style="bold red")
            elif view is not None and venue in view.included:
                venues.append(f"✔ {venue} in  ", style="green")
            else:
                venues.append(f"… {venue} joining  ", style="dim")
        grid.add_row("venues", venues)
        grid.add_row("links", self._links())
        rate = self.bbo_updates / max(self.elapsed(), 1.0)
        grid.add_row("updates", f"{self.bbo_updates:,} best bid/ask changes ({rate:,.0f} a second)")
        return grid

    def _links(self) -> str:
        parts = []
        for label, connector in zip(VENUES, self.connectors, strict=False):
            try:
                connections = connector.health().connections
            except StreamClosed:  # closed while the last frame is drawn
                parts.append(f"{label} closed")
                continue
            up = sum(c.connected for c in connections)
            reconnects = sum(c.reconnects for c in connections)
            parts.append(f"{label} {up}/{len(connections)} up, reconnected {reconnects}x")
        return " · ".join(parts) or "-"

    def _orders(self) -> RenderableType:
        if self.options.live:
            return Text(
                "Market data only: orders need keys, so --live places none. "
                "Run `tradewire demo` without --live to see orders on the simulator.",
                style="dim",
            )
        if not self.steps:
            return Text("the scenario starts once the merged book is open", style="dim")
        steps = Table.grid(padding=(0, 1))
        steps.add_column(justify="right", style="dim")
        steps.add_column()
        for step in self.steps:
            label = step.label if step.state != "skipped" else f"{step.label} (skipped: the run is too short)"
            mark, style = _STEP_MARKS[step.state]
            steps.add_row(f"{step.at:g} s", Text(f"{mark} {label}", style=style))
        orders = Table(box=box.SIMPLE_HEAD, expand=True, show_edge=False, pad_edge=False)
        for column in ("order", "what", "statuses", "fills"):
            orders.add_column(column, overflow="fold")
        for tracked in self.orders.values():
            fills = ", ".join(self._fill(f).split(" (")[0] for f in tracked.fills) or "-"
            orders.add_row(
                tracked.order.order_id,
                self._describe(tracked.order),
                Text(" → ".join(tracked.statuses), style=_status_style(tracked.statuses[-1])),
                fills,
            )
        funds = Text(
            "funds: "
            + " · ".join(
                f"{b.asset} {_plain(b.free)} free, {_plain(b.locked)} locked" for b in self.funds.values()
            ),
            style="dim",
        )
        return Group(steps, orders, funds)

    def _log(self, lines: int) -> RenderableType:
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(justify="right", style="dim", no_wrap=True, min_width=6)
        grid.add_column(no_wrap=True, min_width=12)
        grid.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        for entry in list(self.log)[-lines:]:
            grid.add_row(f"{entry.at:.2f}s", entry.source, Text(entry.text, style=entry.style))
        return grid

    # The summary.

    def print_summary(self) -> None:
        ending = f"stopped by {self.stopped_by}" if self.stopped_by else "failed" if self.errors else "done"
        lines = [
            f"tradewire demo {ending} after {self.elapsed():.1f} s on the {self.source}",
            f"  best bid/ask updates seen: {self.bbo_updates:,}",
        ]
        for tracked in self.orders.values():
            order = tracked.order
            line = f"  order {order.order_id} {self._describe(order)}: {' -> '.join(tracked.statuses)}"
            if tracked.fills:
                line += f", {len(tracked.fills)} fill(s): " + ", ".join(self._fill(f) for f in tracked.fills)
            lines.append(line)
        if self.options.live:
            lines.append("  orders: none (--live is market data only)")
        elif not self.orders:
            lines.append("  orders: none (the run ended before the first)")
        counted = ", ".join(f"{kind} {n}" for kind, n in sorted(self.counts.items())) or "none"
        lines.append(f"  events: {counted}")
        lines += [f"  error: {error}" for error in self.errors]
        print("\n".join(lines), flush=True)


_STEP_MARKS = {
    "waiting": ("·", "dim"),
    "running": ("…", "yellow"),
    "done": ("✔", "green"),
    "failed": ("✘", "bold red"),
    "skipped": ("-", "dim"),
}


def _status_style(status: str) -> str:
    return {"NEW": "green", "FILLED": "bold green", "CANCELED": "yellow"}.get(status, "")


def _pairs(fields: Mapping[str, str]) -> list[str]:
    # The connector's label already says which venue; loopback URLs are noise on one line.
    return [f"{key}={value}" for key, value in fields.items() if key != "url"]


def _largest_first(venues: Mapping[str, Decimal]) -> list[tuple[str, Decimal]]:
    return sorted(venues.items(), key=lambda item: item[1], reverse=True)


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _plain(value: Decimal) -> str:
    """Exact, without trailing zeros or an exponent."""
    return f"{value.normalize():f}"
