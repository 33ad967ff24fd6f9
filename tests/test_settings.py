"""Derivatives account settings against the simulator (issue 21, item 5): leverage, margin mode
and position mode on Binance USD-M and Bybit linear, each scoped as the venue scopes it, read
back from the venue, idempotent, refused while a position or order is open; the simulator then
refuses orders that do not fit the position mode, as the venues do."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .trading import SYMBOL, resting_buy, trader

pytestmark = pytest.mark.asyncio

DERIVATIVES = [("binance", "usdm"), ("bybit", "linear")]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


@pytest.mark.parametrize(("venue", "market"), DERIVATIVES)
async def test_leverage_is_set_and_read_back(sim: Simulator, venue: str, market: str) -> None:
    async with trader(sim, venue, market) as c:
        start = await c.settings(SYMBOL)
        assert (start.symbol, start.margin_mode, start.position_mode) == (
            SYMBOL,
            tw.MarginMode.CROSS,
            tw.PositionMode.ONE_WAY,
        )
        assert await c.set_leverage(SYMBOL, 7) == Decimal(7)
        assert (await c.settings(SYMBOL)).leverage == Decimal(7)
        assert await c.set_leverage(SYMBOL, "7") == Decimal(7), "setting it again succeeds"
        for bad in (0, "2.5", -3):
            with pytest.raises(tw.InvalidArgument):
                await c.set_leverage(SYMBOL, bad)
        with pytest.raises(TypeError):
            await c.set_leverage(SYMBOL, 2.0)  # type: ignore[arg-type]
        with pytest.raises(tw.InvalidArgument):
            await c.set_leverage("NOPEUSDT", 5)


@pytest.mark.parametrize(("venue", "market"), DERIVATIVES)
async def test_margin_mode_follows_the_venues_scope(sim: Simulator, venue: str, market: str) -> None:
    """Binance USD-M: per symbol; Bybit's unified account: the whole account."""
    async with trader(sim, venue, market) as c:
        right, wrong = (SYMBOL, None) if venue == "binance" else (None, SYMBOL)
        with pytest.raises(tw.InvalidArgument, match="symbol"):
            await c.set_margin_mode("ISOLATED", wrong)
        await c.set_margin_mode(tw.MarginMode.ISOLATED, right)
        assert (await c.settings(SYMBOL)).margin_mode == tw.MarginMode.ISOLATED
        await c.set_margin_mode("isolated", right)  # already set: succeeds
        await c.set_margin_mode("CROSS", right)
        assert (await c.settings(SYMBOL)).margin_mode == tw.MarginMode.CROSS
        with pytest.raises(tw.InvalidArgument):
            await c.set_margin_mode("SIDEWAYS", right)


@pytest.mark.parametrize(("venue", "market"), DERIVATIVES)
async def test_settings_do_not_change_under_an_open_order_or_position(
    sim: Simulator, venue: str, market: str
) -> None:
    async with trader(sim, venue, market) as c:
        scope = SYMBOL if venue == "binance" else None
        price, qty = await resting_buy(sim, c, venue, market)
        await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="busy-1")
        with pytest.raises(tw.ExchangeError) as refused:
            await c.set_margin_mode("ISOLATED", scope)
        assert refused.value.code is not None and "order" in str(refused.value).lower()
        pos_scope = None if venue == "binance" else SYMBOL
        with pytest.raises(tw.ExchangeError):
            await c.set_position_mode("HEDGE", pos_scope)
        await c.cancel(SYMBOL, client_order_id="busy-1")
        await c.place_market(SYMBOL, "BUY", qty)
        with pytest.raises(tw.ExchangeError) as refused:
            await c.set_position_mode("HEDGE", pos_scope)
        assert "position" in str(refused.value).lower()
        assert (await c.settings(SYMBOL)).position_mode == tw.PositionMode.ONE_WAY
        await c.place_market(SYMBOL, "SELL", qty, reduce_only=True)
        await c.set_position_mode("HEDGE", pos_scope)
        assert (await c.settings(SYMBOL)).position_mode == tw.PositionMode.HEDGE


@pytest.mark.parametrize(("venue", "market"), DERIVATIVES)
async def test_position_mode_follows_the_venues_scope(sim: Simulator, venue: str, market: str) -> None:
    """Binance USD-M: the account's; Bybit: per symbol, or every USDT perpetual at once."""
    async with trader(sim, venue, market) as c:
        if venue == "binance":
            with pytest.raises(tw.InvalidArgument, match="symbol"):
                await c.set_position_mode("HEDGE", SYMBOL)
            await c.set_position_mode(tw.PositionMode.HEDGE)
            assert (await c.settings("ETHUSDT")).position_mode == tw.PositionMode.HEDGE
        else:
            await c.set_position_mode("HEDGE", SYMBOL)
            assert (await c.settings(SYMBOL)).position_mode == tw.PositionMode.HEDGE
            assert (await c.settings("ETHUSDT")).position_mode == tw.PositionMode.ONE_WAY
            await c.set_position_mode("HEDGE")  # every USDT perpetual
            assert (await c.settings("ETHUSDT")).position_mode == tw.PositionMode.HEDGE
        await c.set_position_mode("HEDGE", None if venue == "binance" else SYMBOL)  # set already
        # A one-way order in hedge mode is refused by the venue, as on the real one.
        price, qty = await resting_buy(sim, c, venue, market)
        with pytest.raises(tw.ExchangeError):
            await c.place_limit(SYMBOL, "BUY", qty, price)
        await c.set_position_mode("ONE_WAY", None if venue == "binance" else SYMBOL)
        assert (await c.settings(SYMBOL)).position_mode == tw.PositionMode.ONE_WAY
        await c.cancel_all(SYMBOL)


async def test_spot_has_no_derivatives_settings(sim: Simulator) -> None:
    async with trader(sim, "binance", "spot") as c:
        with pytest.raises(tw.InvalidArgument, match="market"):
            await c.settings(SYMBOL)
        with pytest.raises(tw.InvalidArgument):
            await c.set_leverage(SYMBOL, 3)


@pytest.mark.parametrize(("venue", "market"), DERIVATIVES)
async def test_positions_carry_realized_pnl_and_margin_where_the_venue_reports_them(
    sim: Simulator, venue: str, market: str
) -> None:
    async with trader(sim, venue, market) as c:
        info = await c.symbol_info(SYMBOL)
        qty = info.step_size * 1000
        await c.place_market(SYMBOL, "BUY", qty * 2)
        await c.place_market(SYMBOL, "SELL", qty, reduce_only=True)
        mine = (await c.positions(SYMBOL))[SYMBOL]
        truth = sim.positions(venue, market)[SYMBOL]
        assert (mine.size, mine.entry_price) == (truth.size, truth.entry_price)
        assert mine.initial_margin is not None and mine.initial_margin > 0
        assert mine.maintenance_margin is not None and 0 < mine.maintenance_margin < mine.initial_margin
        if venue == "bybit":
            assert mine.realized_pnl == truth.realized_pnl, "cumRealisedPnl"
        else:
            assert mine.realized_pnl is None, "Binance's REST reports no realised PnL"
            assert truth.initial_margin is not None
            assert abs(mine.initial_margin - truth.initial_margin) < Decimal("1e-8")
