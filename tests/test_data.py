"""Lists of events as columns (issue 22 item 6): Arrow tables with exact decimals and pandas
frames holding Decimals, from events read over loopback; nothing imported until called."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import connect, take


def test_importing_tradewire_imports_neither_pandas_nor_arrow() -> None:
    code = "import sys, tradewire; assert 'pandas' not in sys.modules and 'pyarrow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.asyncio
async def test_klines_and_trades_become_exact_columns() -> None:
    import pyarrow as pa

    with Simulator(seed=67, steps_per_second=100) as sim:
        async with connect(sim, "binance", "spot") as c:
            await asyncio.sleep(2.2)
            klines = await c.klines("BTCUSDT", "1s", limit=3)
            async with c.trades("BTCUSDT") as stream:
                trades = [t for t in await take(stream, 5) if isinstance(t, tw.Trade)]
    table = tw.to_arrow(klines)
    assert table.num_rows == len(klines) and table.column_names[:4] == [
        "venue",
        "market",
        "symbol",
        "interval",
    ]
    assert pa.types.is_decimal(table.schema.field("close").type)
    assert [Decimal(str(v)) for v in table.column("close").to_pylist()] == [k.close for k in klines]
    assert table.column("interval").to_pylist() == ["1s"] * len(klines)
    frame = tw.to_pandas(trades)
    assert list(frame["price"]) == [t.price for t in trades]
    assert all(isinstance(p, Decimal) for p in frame["price"])
    assert list(frame["side"]) == [str(t.side) for t in trades]
    assert frame["exchange_time_ms"].dtype.kind == "i"


def test_mixed_or_unknown_events_are_refused_and_empty_is_empty() -> None:
    trade = tw.Trade(
        venue=tw.Venue.BINANCE,
        market=tw.Market.SPOT,
        symbol="BTCUSDT",
        trade_id="1",
        price="1.5",
        qty="2",
        side=tw.Side.BUY,
        exchange_time_ms=1,
    )
    level = tw.Level("1", "2")
    with pytest.raises(tw.InvalidArgument, match="one type"):
        tw.to_arrow([trade, level])
    with pytest.raises(tw.InvalidArgument, match="no columns"):
        tw.to_pandas([level])
    assert tw.to_arrow([]).num_rows == 0
    # A value wider than 38 digits goes to a 256-bit decimal, exactly.
    wide = tw.Trade(
        venue=tw.Venue.BINANCE,
        market=tw.Market.SPOT,
        symbol="BTCUSDT",
        trade_id="2",
        price="1234567890123456789012345678",
        qty="0.0000000000000000000000000001",
        side=tw.Side.SELL,
        exchange_time_ms=2,
    )
    table = tw.to_arrow([trade, wide])
    assert [Decimal(str(v)) for v in table.column("qty").to_pylist()] == [Decimal("2"), wide.qty]
