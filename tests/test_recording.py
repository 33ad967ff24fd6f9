"""Recording (issue 24): what a connector receives, kept exactly and read back.

Real recorded venue sessions are served on loopback (tests/replay.py) while a recorder is
attached: the recording must hold every frame the venue sent, in order and byte for byte, and
the REST answers the connector read (the symbol listing, the book snapshot). Segments rotate by
size and are indexed by time; a recorder killed with SIGKILL mid-write loses at most its last
second and never corrupts what came before; a damaged tail is skipped and reported."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import connect, until
from .replay import ReplayVenue, Session, reference_books
from .test_real_sessions import check, connector

SESSIONS = [
    "binance-spot-BTCUSDT-2024-08-08",
    "binance-usdm-CTKUSDT-2021-07",
    "bybit-linear-XRPUSDT-2024-12-01",
]


@pytest.mark.asyncio
@pytest.mark.parametrize("name", SESSIONS)
async def test_a_recording_holds_every_frame_and_rest_answer_exactly(name: str, tmp_path: Path) -> None:
    session = Session.load(name)
    venue = ReplayVenue(session, pace=0.0005, snapshot_after=3 if session.snapshot else 0)
    out = tmp_path / "rec"
    depth = 5000 if session.venue == "binance" else 500
    async with venue.running(), connector(session, venue) as c:
        recorder = tw.Recorder(
            c, out, symbols=[session.symbol], channels=["book"], depth=depth, rotate_mb=0.05
        )
        async with recorder:
            await venue.finished()
            await until(
                # The frames, the listing and (Binance) the snapshot.
                lambda: recorder.stats["entries"] >= len(session.frames) + 1 + (session.snapshot is not None),
                30,
                lambda: f"{len(session.frames)} frames recorded ({recorder.stats})",
            )
        stats = recorder.stats
    reading = tw.read_recording(out)
    entries = list(reading)
    assert reading.damage == [] and stats["lost"] == 0 and stats["error"] is None
    assert reading.meta["venue"] == session.venue and reading.meta["symbols"] == [session.symbol]
    frames = [e for e in entries if e.kind == "ws"]
    (stream,) = venue.subscribed
    assert [e.text for e in frames] == [venue._wire(f, stream) for f in session.frames]
    assert len({e.conn for e in frames}) == 1, "one connection"
    times = [e.at_ns for e in frames]
    assert times == sorted(times)
    rest = {e.path.split("?")[0]: e.text for e in entries if e.kind == "rest"}
    assert any(p.endswith(("exchangeInfo", "instruments-info")) for p in rest), rest.keys()
    if session.snapshot is not None:
        (snapshot,) = [text for path, text in rest.items() if path.endswith("/depth")]
        assert snapshot == session.snapshot
    # Every segment closed and in the index with its time range and count.
    assert stats["files"] == len(reading.segments)
    ranges = [(first or 0, last or 0) for _, first, last, _ in reading.segments]
    assert all(0 < first <= last for first, last in ranges)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges))
    assert sum(n or 0 for *_, n in reading.segments) == len(entries)
    # A time range selects by receive time.
    middle = frames[len(frames) // 2].at_ns
    later = list(tw.read_recording(out, start_ns=middle))
    assert later == [e for e in entries if e.at_ns >= middle]


@pytest.mark.asyncio
async def test_a_recorder_refuses_bad_arguments_and_an_existing_recording(tmp_path: Path) -> None:
    with Simulator(seed=3) as sim:
        async with connect(sim, "binance", "spot") as c:
            with pytest.raises(tw.InvalidArgument, match="channels"):
                tw.Recorder(c, tmp_path / "a", symbols=["BTCUSDT"], channels=["candles"])  # type: ignore[list-item]
            with pytest.raises(tw.InvalidArgument, match="symbol"):
                tw.Recorder(c, tmp_path / "a", symbols=[])
            async with tw.Recorder(c, tmp_path / "a", symbols=["BTCUSDT"], channels=["trades"]):
                pass
            with pytest.raises(tw.InvalidArgument, match="already holds a recording"):
                async with tw.Recorder(c, tmp_path / "a", symbols=["BTCUSDT"]):
                    pass
            with pytest.raises(tw.InvalidArgument, match="NOPEUSDT"):
                async with tw.Recorder(c, tmp_path / "b", symbols=["NOPEUSDT"], channels=["trades"]):
                    pass
    with pytest.raises(tw.InvalidArgument, match="not a recording"):
        tw.read_recording(tmp_path / "nothing")


def record_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tradewire", "record", "--sim", "--venue", "binance:spot",
            "--symbols", "BTCUSDT,ETHUSDT", "--out", str(out), *extra]  # fmt: skip


def test_a_recorder_killed_mid_write_loses_at_most_its_last_second(tmp_path: Path) -> None:
    """SIGKILL while segments rotate every few kilobytes: every closed segment reads whole, the
    last one up to its torn tail, and nothing reported written more than a second before the kill
    is missing."""
    out = tmp_path / "rec"
    proc = subprocess.Popen(
        record_command(out, "--rotate-mb", "0.002"), stderr=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stderr is not None
    reported: list[tuple[float, int]] = []
    try:
        for line in proc.stderr:
            if line.startswith("recording"):
                reported.append((time.monotonic(), int(line.split(": ")[1].split()[0])))
            if len(reported) >= 6:
                break
        assert len(reported) >= 6, "the recorder reported its progress"
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    reading = tw.read_recording(out)
    entries = list(reading)
    # Whatever was reported more than a second (and a flush) before the kill is on disk.
    safe = max(n for at, n in reported if at <= killed - 1.2)
    assert len([e for e in entries if e.kind != "lost"]) >= safe
    closed = [s for s in reading.segments if s[1] is not None]
    assert len(closed) >= 2, "rotation happened before the kill"
    assert all(file == reading.segments[-1][0] for file, _, _ in reading.damage), reading.damage
    for e in entries:
        json.loads(e.text) if e.kind != "lost" else int(e.text)


def test_a_damaged_tail_is_skipped_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    done = subprocess.run(
        record_command(out, "--duration", "2.5", "--quiet"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    whole = list(tw.read_recording(out))
    assert len(whole) > 10
    (segment,) = sorted(out.glob("*.jsonl.zst"))
    size = segment.stat().st_size
    with segment.open("ab") as f:
        f.write(b"\x28\xb5\x2f\xfd" + os.urandom(64))  # a zstd frame's magic, then noise
    reading = tw.read_recording(out)
    assert list(reading) == whole
    ((file, offset, reason),) = reading.damage
    assert (file, offset) == (segment.name, size) and reason
    # Cut inside the last frame instead: the frames before it still read.
    segment.write_bytes(segment.read_bytes()[: size - 5])
    reading = tw.read_recording(out)
    cut = list(reading)
    assert 0 < len(cut) < len(whole) and cut == whole[: len(cut)]
    assert len(reading.damage) == 1


def test_record_help_names_every_option() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tradewire", "record", "--help"], capture_output=True, text=True, check=True
    )
    for option in (
        "--venue",
        "--symbols",
        "--channels",
        "--out",
        "--rotate-mb",
        "--rotate-minutes",
        "--duration",
    ):
        assert option in done.stdout


@pytest.mark.asyncio
async def test_a_recording_follows_reconnects_on_a_new_connection(tmp_path: Path) -> None:
    """A dropped connection: frames after the reconnect carry a new connection id, and the book's
    new snapshot is recorded too."""
    with Simulator(seed=11, steps_per_second=50) as sim:
        async with connect(sim, "binance", "spot") as c:
            rec = tw.Recorder(c, tmp_path / "rec", symbols=["BTCUSDT"], channels=["book", "trades"])
            async with rec:
                await asyncio.sleep(1.0)
                sim.native.drop_connections(tw.Venue.BINANCE, tw.Market.SPOT)
                await until(lambda: c.health().connections[0].reconnects >= 1, 20, lambda: "a reconnect")
                before = rec.stats["entries"]
                await until(lambda: rec.stats["entries"] > before + 20, 20, lambda: "frames after it")
    entries = list(tw.read_recording(tmp_path / "rec"))
    conns = [e.conn for e in entries if e.kind == "ws"]
    assert len(set(conns)) >= 2 and conns[-1].endswith(".2") and conns[0].endswith(".1")
    snapshots = [e for e in entries if e.kind == "rest" and "/depth" in e.path]
    assert len(snapshots) >= 2


async def record_session(name: str, out: Path) -> Session:
    """A real session served on loopback and recorded by a connector's book."""
    session = Session.load(name)
    venue = ReplayVenue(session, pace=0.0005, snapshot_after=3 if session.snapshot else 0)
    depth = 5000 if session.venue == "binance" else 500
    async with venue.running(), connector(session, venue) as c:
        recorder = tw.Recorder(c, out, symbols=[session.symbol], channels=["book"], depth=depth)
        async with recorder:
            await venue.finished()
            want = len(session.frames) + 1 + (session.snapshot is not None)
            await until(lambda: recorder.stats["entries"] >= want, 30, lambda: str(recorder.stats))
    return session


async def replay_and_check(directory: Path) -> None:
    """The regression check of a recording: replayed (as fast as read) through a connector, its
    book goes through the venue's states, checked against the venues' own algorithm run on the
    recording (tests/replay.py, independent of tradewire's book code), and ends where the
    venue's did; ``book_updates`` views on the way are states the venue had."""
    session = Session.from_recording(directory)
    books = reference_books(session)
    last = max(books)
    depth = 5000 if session.venue == "binance" else 500
    async with tw.Replay(directory, speed=None) as c:
        assert (await c.symbol_info(session.symbol)).symbol == session.symbol
        # Bybit's views must follow the recorded topic (orderbook.500): the same depth.
        view_depth = 100 if session.venue == "binance" else depth
        views = c.book_updates(session.symbol, depth=view_depth)
        seen: list[tw.BookView] = []

        async def watch() -> None:
            async for view in views:
                if view.is_synced:
                    seen.append(view)

        task = asyncio.create_task(watch())
        with await c.book(session.symbol, depth=depth) as book:
            await until(lambda: book.update_id == last, 30, lambda: f"the last update ({book.update_id})")
            check(book.snapshot(depth), books, depth)
        await until(lambda: bool(seen) and seen[-1].update_id == last, 10, "the last view")
        task.cancel()
    for view in seen:
        check(view, books, view_depth)


@pytest.mark.asyncio
@pytest.mark.parametrize("name", SESSIONS)
async def test_a_replay_rebuilds_the_recorded_books_every_time(name: str, tmp_path: Path) -> None:
    """A real session recorded, then replayed twice: the same book states both times."""
    await record_session(name, tmp_path / "rec")
    for _ in range(2):
        await replay_and_check(tmp_path / "rec")


CORPUS = sorted(p for p in (Path(__file__).parent / "fixtures" / "recordings").iterdir() if p.is_dir())


@pytest.mark.asyncio
@pytest.mark.parametrize("directory", CORPUS, ids=[p.name for p in CORPUS])
async def test_every_recording_of_the_corpus_replays_to_the_venues_books(directory: Path) -> None:
    """tests/fixtures/recordings: recordings kept as regression tests (README there)."""
    await replay_and_check(directory)


@pytest.mark.asyncio
async def test_the_simulator_serves_a_recording_to_any_client(tmp_path: Path) -> None:
    """A recording rotated over several segments, served on Binance's wire protocol: a plain
    WebSocket client subscribing to a recorded stream receives the recorded frames, in order,
    byte for byte; a plain HTTP GET of a recorded path gets the recorded answer."""
    import urllib.request

    import websockets

    out = tmp_path / "rec"
    with Simulator(seed=13, steps_per_second=50) as sim:
        async with (
            connect(sim, "binance", "spot") as c,
            tw.Recorder(c, out, symbols=["BTCUSDT"], channels=["trades", "tickers"], rotate_mb=0.002) as rec,
        ):
            await until(lambda: rec.stats["files"] >= 3, 30, lambda: str(rec.stats))
    reading = tw.read_recording(out)
    entries = list(reading)
    assert len(reading.segments) >= 3, "rotated"
    frames: dict[str, list[str]] = {}
    for e in entries:
        if e.kind == "ws":
            frames.setdefault(json.loads(e.text)["stream"], []).append(e.text)
    stream = next(s for s in frames if s.endswith("@trade"))
    listing = next(e for e in entries if e.path.startswith("/api/v3/exchangeInfo"))
    with Simulator(seed=1) as sim:
        endpoints = sim.load_recording(out, speed=None)

        def get(url: str) -> str:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return str(answer.read().decode())

        assert await asyncio.to_thread(get, endpoints.rest + listing.path) == listing.text
        async with websockets.connect(endpoints.ws_public + "/stream") as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [stream], "id": 1}))
            assert json.loads(await ws.recv()) == {"result": None, "id": 1}
            got = [await asyncio.wait_for(ws.recv(), 10) for _ in frames[stream]]
    assert got == frames[stream]


@pytest.mark.asyncio
async def test_ccxt_reads_a_recording_served_by_the_simulator(tmp_path: Path) -> None:
    """A judge pointed at recorded reality (URLs only): ccxt.pro loads Bybit linear's markets
    from the recorded listing and watches the recorded book and trades."""
    import ccxt.pro as ccxtpro

    out = tmp_path / "rec"
    with Simulator(seed=17, steps_per_second=50) as sim:
        async with (
            connect(sim, "bybit", "linear") as c,
            tw.Recorder(c, out, symbols=["BTCUSDT"], channels=["trades", "book"], depth=50) as rec,
        ):
            await until(lambda: rec.stats["entries"] > 100, 30, lambda: str(rec.stats))
    frames = [json.loads(e.text) for e in tw.read_recording(out) if e.kind == "ws"]
    # Every best bid the venue's book had (by the venues' own algorithm on the recording).
    tops = {
        (float(max(bids)), float(bids[max(bids)]))
        for bids, _ in reference_books(Session.from_recording(out)).values()
    }
    first_trade = next(f for f in frames if f["topic"] == "publicTrade.BTCUSDT")["data"][0]
    with Simulator(seed=1) as sim:
        endpoints = sim.load_recording(out, speed=None)
        ex = ccxtpro.bybit()
        ex.options["fetchMarkets"] = {"types": ["linear"]}
        ex.options["fetchCurrencies"] = False
        ex.urls["api"]["public"] = ex.urls["api"]["private"] = endpoints.rest
        ex.urls["api"]["ws"]["public"]["linear"] = endpoints.ws_public
        try:
            assert "BTC/USDT:USDT" in await ex.load_markets()
            book = await asyncio.wait_for(ex.watch_order_book("BTC/USDT:USDT"), 15)
            assert tuple(book["bids"][0]) in tops
            trades = await asyncio.wait_for(ex.watch_trades("BTC/USDT:USDT"), 15)
            assert trades[0]["id"] == first_trade["i"] and trades[0]["price"] == float(first_trade["p"])
        finally:
            await ex.close()


@pytest.mark.asyncio
async def test_a_replay_gives_the_recorded_trades_and_tickers_at_the_recorded_pace(tmp_path: Path) -> None:
    """Trades and tickers recorded from the simulator, replayed at the recorded pace: each
    trade once, in order, equal to the recorded frame; the tickers too; the replay takes about
    as long as the recording did."""
    out = tmp_path / "rec"
    with Simulator(seed=19, steps_per_second=50) as sim:
        async with (
            connect(sim, "binance", "usdm") as c,
            tw.Recorder(c, out, symbols=["BTCUSDT"], channels=["trades", "tickers"]) as rec,
        ):
            await until(lambda: rec.stats["entries"] > 80, 30, lambda: str(rec.stats))
    frames = [(e.at_ns, json.loads(e.text)) for e in tw.read_recording(out) if e.kind == "ws"]
    recorded = [f["data"] for _, f in frames if f["stream"].endswith("@trade")]
    tickers = [f["data"] for _, f in frames if f["stream"].endswith("@ticker")]
    span = (frames[-1][0] - frames[0][0]) / 1e9
    assert recorded and tickers and span > 1
    started = time.monotonic()
    async with tw.Replay(out, speed=1.0) as c:
        trades, seen_tickers = c.trades("BTCUSDT"), c.tickers("BTCUSDT")
        got = [t async for t in _take(trades, len(recorded))]
        got_tickers = [t async for t in _take(seen_tickers, len(tickers))]
    elapsed = time.monotonic() - started
    assert [(t.trade_id, str(t.price), str(t.qty), t.exchange_time_ms) for t in got] == [
        (str(r["t"]), r["p"], r["q"], r["T"]) for r in recorded
    ]
    assert [(str(t.last), t.exchange_time_ms) for t in got_tickers] == [(r["c"], r["E"]) for r in tickers]
    assert elapsed >= span * 0.8, f"paced: {elapsed:.2f} s for {span:.2f} s recorded"


async def _take(stream: tw.Stream[Any], n: int) -> AsyncIterator[Any]:
    taken = 0
    async for item in stream:
        if isinstance(item, tw.Gap):
            raise AssertionError(f"a gap after {taken}")
        yield item
        taken += 1
        if taken == n:
            return
