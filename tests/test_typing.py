"""The typed Python boundary: keywords and values a checker and the runtime both refuse."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
import tradewire as tw
from mypy import api as mypy_api


def test_mypy_flags_misspelled_keywords_wrong_types_and_unknown_names(tmp_path: Path) -> None:
    snippet = tmp_path / "strategy.py"
    snippet.write_text(
        textwrap.dedent(
            """
            import tradewire as tw

            async def main() -> None:
                tw.Binance("spot", recv_windw_ms=5000)
                tw.Bybit("linear", timeout="10")
                tw.Binance("spto")
                async with tw.Binance("usdm") as c:
                    await c.place_limit("BTCUSDT", "BYU", 1, 2)
            """
        )
    )
    out, err, status = mypy_api.run(["--strict", "--no-incremental", "--follow-imports=silent", str(snippet)])
    assert status == 1, (out, err)
    assert 'Unexpected keyword argument "recv_windw_ms" for "Binance"' in out, out
    assert 'Argument "timeout" to "Bybit" has incompatible type "str"; expected "float"' in out, out
    assert 'Argument 1 to "Binance" has incompatible type "Literal[\'spto\']"' in out, out
    assert 'Argument 2 to "place_limit" of "_Trading" has incompatible type "Literal[\'BYU\']"' in out, out
    assert out.count("error:") == 4, out


def test_the_runtime_refuses_the_same_mistakes() -> None:
    with pytest.raises(TypeError, match="recv_windw_ms"):
        tw.Binance("spot", recv_windw_ms=5000)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="timeout must be a number of seconds, not str"):
        tw.Bybit("linear", timeout="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="recv_window_ms must be an int, not float"):
        tw.Binance("spot", recv_window_ms=5000.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="api_key must be a str"):
        tw.Binance("spot", api_key=b"key")  # type: ignore[arg-type]
    with pytest.raises(tw.InvalidArgument, match="has no market 'spto'"):
        tw.Binance("spto")  # type: ignore[arg-type]
    with pytest.raises(tw.InvalidArgument, match="between 1 and 60000"):
        tw.Binance("spot", recv_window_ms=0)
    with pytest.raises(TypeError, match="book_stale_after must be a number of seconds"):
        tw.Bybit("spot", book_stale_after="60")  # type: ignore[arg-type]
    # None: a book is never flagged stale.
    assert tw.Bybit("spot", book_stale_after=None)._options["book_stale_after_ms"] == 0


@pytest.mark.parametrize(
    ("keyword", "value", "ceiling"),
    [
        ("timeout", 10_000, "600"),
        ("breaker_cool_down", 30_000, "600"),
        ("clock_interval", 30_000, "3600"),
        ("book_stale_after", 60_000, "3600"),
    ],
)
def test_durations_that_look_like_milliseconds_are_refused(keyword: str, value: int, ceiling: str) -> None:
    with pytest.raises(tw.InvalidArgument, match=f"{keyword}={value} is more than {ceiling} s") as refused:
        tw.Binance("spot", **{keyword: value})  # type: ignore[arg-type]
    assert f"pass {keyword}={value / 1000:g}" in str(refused.value)
    assert refused.value.field == keyword
    with pytest.raises(tw.InvalidArgument, match="positive"):
        tw.Binance("spot", **{keyword: 0})  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_connector_not_started_or_closed_raises_a_tradewire_error() -> None:
    connector = tw.Binance("spot")
    with pytest.raises(tw.StreamClosed, match="not started") as refused:
        connector.health()
    assert isinstance(refused.value, tw.TradewireError)
    with pytest.raises(tw.StreamClosed):
        await connector.balances()


@pytest.mark.asyncio
async def test_health_and_events_are_typed_values() -> None:
    from tradewire.testing import Simulator

    with Simulator() as sim:
        async with tw.Binance("spot", endpoints=sim.endpoints("binance", "spot")) as c:
            events = c.events()
            with await c.book("BTCUSDT", depth=5):
                health = c.health()
                assert health.venue is tw.Venue.BINANCE and health.market == "spot"
                assert all(isinstance(limit, tw.LimitHealth) for limit in health.limits)
                (book,) = health.books
                assert isinstance(book, tw.BookHealth) and book.symbol == "BTCUSDT" and book.is_synced
                assert all(isinstance(conn.topics, tuple) for conn in health.connections)
                async with asyncio.timeout(5):
                    async for event in events:
                        assert isinstance(event.kind, tw.ConnectorEventKind)
                        if event.kind is tw.ConnectorEventKind.BOOK_SYNCED:
                            assert event.fields["symbol"] == "BTCUSDT"
                            break
