"""Real recorded venue sessions, replayed on loopback, and an independent reference book.

A session (``tests/fixtures/real/sessions/<name>/``, sources in the fixtures MANIFEST) is what
one venue really sent for one symbol: the REST depth snapshot (Binance) and the depth frames
of the stream, each line the exact recorded text. :class:`ReplayVenue` serves it to a
connector through ``tw.Endpoints``: the symbol's rules, the clock, the snapshot (held back
until a chosen number of frames has gone out), and the frames in their recorded order and
text. By default only the envelope is the subscriber's: a Binance frame's ``data`` goes out
under the stream name the client subscribed to, and a Bybit frame's ``topic`` depth becomes
the subscribed one (real sessions were recorded on ``@depth@0ms`` or ``orderbook.500``, which
a client today does not subscribe); ``exact=True`` sends the recorded text as it is.

:func:`reference_books` is the venues' own algorithm, written from their documentation
(Binance "How to manage a local order book correctly", spot and USD-M; Bybit v5 orderbook),
independent of tradewire's book code: plain dicts of ``Decimal``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import tradewire as tw
import websockets
from websockets.asyncio.server import ServerConnection

SESSIONS = Path(__file__).parent / "fixtures" / "real" / "sessions"
FIXTURES = Path(__file__).parent / "fixtures" / "real"


@dataclass
class Session:
    """One recorded sync: the venue's snapshot (Binance) and depth frames, as recorded."""

    name: str
    venue: str
    market: str
    symbol: str
    meta: dict[str, Any]
    frames: list[str]
    snapshot: str | None

    @classmethod
    def load(cls, name: str) -> Session:
        folder = SESSIONS / name
        meta = json.loads((folder / "session.json").read_text())
        if (folder / "frames.jsonl.gz").exists():
            text = gzip.decompress((folder / "frames.jsonl.gz").read_bytes()).decode()
        else:
            text = (folder / "frames.jsonl").read_text()
        snapshot = folder / "snapshot.json"
        return cls(
            name=name,
            venue=meta["venue"],
            market=meta["market"],
            symbol=meta["symbol"],
            meta=meta,
            frames=[line for line in text.splitlines() if line],
            snapshot=snapshot.read_text().strip() if snapshot.exists() else None,
        )

    @classmethod
    def from_recording(cls, directory: Path, symbol: str | None = None) -> Session:
        """A recording (``tradewire record``) as a session: the book stream's frames of
        ``symbol`` (the recording's first if None) and its first REST snapshot."""
        reading = tw.read_recording(directory)
        meta = reading.meta
        symbol = symbol or meta["symbols"][0]
        binance = meta["venue"] == "binance"
        frames, snapshot = [], None
        for e in reading:
            if e.kind == "rest" and snapshot is None and "/depth" in e.path and f"symbol={symbol}" in e.path:
                snapshot = e.text
            elif e.kind == "ws":
                value = json.loads(e.text)
                name = value.get("stream" if binance else "topic", "")
                if (binance and name.startswith(f"{symbol.lower()}@depth")) or (
                    not binance and name.startswith("orderbook.") and name.endswith(f".{symbol}")
                ):
                    frames.append(e.text)
        assert not reading.damage, reading.damage
        return cls(
            name=directory.name,
            venue=meta["venue"],
            market=meta["market"],
            symbol=symbol,
            meta=meta,
            frames=frames,
            snapshot=snapshot,
        )

    def events(self) -> list[dict[str, Any]]:
        """Each frame's event (Binance: the envelope's ``data``; Bybit: the message)."""
        out = []
        for frame in self.frames:
            value = json.loads(frame)
            out.append(value["data"] if self.venue == "binance" else value)
        return out

    def bridge_index(self) -> int:
        """The index of the first frame a client keeps after the snapshot (Binance)."""
        assert self.snapshot is not None
        last = json.loads(self.snapshot)["lastUpdateId"]
        for k, e in enumerate(self.events()):
            if self.market == "spot" and e["U"] <= last + 1 <= e["u"]:
                return k
            if self.market != "spot" and e["U"] <= last <= e["u"]:
                return k
        raise AssertionError(f"{self.name}: no frame bridges snapshot {last}")


def _levels(side: list[list[str]]) -> dict[Decimal, Decimal]:
    return {Decimal(p): Decimal(q) for p, q in side}


def _apply(book: dict[Decimal, Decimal], side: list[list[str]]) -> None:
    for p, q in side:
        if Decimal(q) == 0:
            book.pop(Decimal(p), None)
        else:
            book[Decimal(p)] = Decimal(q)


Book = tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]


def reference_books(session: Session) -> dict[int, Book]:
    """The venue's book after each update id of the session, by the venue's documented rule.

    Binance: start from the snapshot (``lastUpdateId`` L); drop events with ``u <= L`` (spot)
    or ``u < L`` (USD-M); the first kept has ``U <= L+1 <= u`` (spot) or ``U <= L <= u``
    (USD-M); each later one has ``U == previous u + 1`` (spot) or ``pu == previous u``
    (USD-M); a quantity of 0 removes the level. Bybit: a snapshot replaces the book, each
    delta has ``u == previous u + 1``.
    """
    books: dict[int, Book] = {}
    events = session.events()
    if session.venue == "binance":
        assert session.snapshot is not None
        snap = json.loads(session.snapshot)
        last = snap["lastUpdateId"]
        bids, asks = _levels(snap["bids"]), _levels(snap["asks"])
        books[last] = (dict(bids), dict(asks))
        prev: int | None = None
        for e in events:
            if (session.market == "spot" and e["u"] <= last) or (session.market != "spot" and e["u"] < last):
                continue
            if prev is None:
                bridges = (
                    e["U"] <= last + 1 <= e["u"] if session.market == "spot" else e["U"] <= last <= e["u"]
                )
                assert bridges, f"{session.name}: the recording does not bridge its snapshot"
            elif session.market == "spot":
                assert e["U"] == prev + 1, f"{session.name}: gap after {prev}"
            else:
                assert e["pu"] == prev, f"{session.name}: gap after {prev}"
            _apply(bids, e["b"])
            _apply(asks, e["a"])
            prev = e["u"]
            books[prev] = (dict(bids), dict(asks))
        return books
    bids, asks = {}, {}
    prev = None
    for e in events:
        data = e["data"]
        if e["type"] == "snapshot" or data["u"] == 1:
            bids, asks = _levels(data["b"]), _levels(data["a"])
        else:
            assert prev is not None and data["u"] == prev + 1, f"{session.name}: gap"
            _apply(bids, data["b"])
            _apply(asks, data["a"])
        prev = data["u"]
        books[prev] = (dict(bids), dict(asks))
    return books


def top(book: Book, depth: int) -> tuple[list[tuple[Decimal, Decimal]], ...]:
    bids = sorted(book[0].items(), reverse=True)[:depth]
    asks = sorted(book[1].items())[:depth]
    return bids, asks


def symbol_entry(session: Session) -> dict[str, Any]:
    """The symbol as the venue listed it: recorded with the session where it was, else a
    recorded listing of another symbol of the same market under this symbol's name."""
    if "symbol_info" in session.meta:
        return dict(session.meta["symbol_info"])
    if session.venue == "binance":
        path = {
            "spot": "binance-spot/rest/nt-2021-10-exchangeInfo-BTCUSDT.json",
            "usdm": "binance-usdm/rest/nt-2022-02-exchangeInfo.json",
        }[session.market]
        listed = json.loads((FIXTURES / path).read_text())["symbols"]
        return dict(next(s for s in listed if s["symbol"] == session.symbol))
    listed = json.loads((FIXTURES / "bybit-linear/rest/nt-2023-09-instruments-linear.json").read_text())
    entry = dict(listed["result"]["list"][0])
    base = session.symbol.removesuffix("USDT")
    entry.update(symbol=session.symbol, baseCoin=base)
    entry["priceFilter"] = dict(entry["priceFilter"], tickSize=session.meta["tick_size"])
    entry["lotSizeFilter"] = dict(entry["lotSizeFilter"], qtyStep=session.meta["step_size"])
    return entry


@dataclass
class ReplayVenue:
    """A loopback venue serving one recorded session.

    ``snapshot_after``: the Binance snapshot is answered once this many frames have gone out,
    and the stream then waits for the answer to be sent before going on, so the snapshot
    lands at a known place among the frames. ``start``: the first frame served.
    """

    session: Session
    snapshot_after: int = 0
    start: int = 0
    #: Seconds between frames (0: as fast as the socket takes them), so a reader of a
    #: conflated stream sees many of the states.
    pace: float = 0.0
    #: Send each frame exactly as recorded, envelope and topic included (a recording taken
    #: on ``@depth@0ms`` or ``orderbook.500``), not under the subscribed name.
    exact: bool = False
    #: Frames sent as they are just before the session's frame of each index (after ``start``):
    #: what a hostile or broken venue adds. ``{stream}`` in a text frame becomes the
    #: subscribed stream or topic.
    hostile: dict[int, list[str | bytes]] = field(default_factory=dict)
    sent: int = 0
    snapshot_requests: int = 0
    subscribed: list[str] = field(default_factory=list)
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _done: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set once ``snapshot_after`` frames have gone out.
    _due: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _servers: list[Any] = field(default_factory=list)
    rest_url: str = ""
    ws_url: str = ""

    def endpoints(self) -> tw.Endpoints:
        if self.session.venue == "binance":
            if self.session.market == "spot":
                return tw.Endpoints(rest=self.rest_url, ws_public=self.ws_url)
            return tw.Endpoints(
                rest=self.rest_url,
                ws_public=f"{self.ws_url}/public",
                ws_market=f"{self.ws_url}/market",
            )
        return tw.Endpoints(rest=self.rest_url, ws_public=f"{self.ws_url}/v5/public/{self.session.market}")

    async def finished(self) -> None:
        """Waits until every frame has been sent."""
        await self._done.wait()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ReplayVenue]:
        rest = await asyncio.start_server(self._http, "127.0.0.1", 0)
        ws = await websockets.serve(self._ws, "127.0.0.1", 0, ping_interval=None)
        self._servers = [rest, ws]
        self.rest_url = f"http://127.0.0.1:{rest.sockets[0].getsockname()[1]}"
        self.ws_url = f"ws://127.0.0.1:{next(iter(ws.sockets)).getsockname()[1]}"
        if self.session.venue != "binance" or self.snapshot_after <= 0:
            self._released.set()
        try:
            yield self
        finally:
            ws.close()
            rest.close()
            await ws.wait_closed()

    # REST ---------------------------------------------------------------------------------

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].decode()
                _method, target, _ = line.split(" ", 2)
                url = urlsplit(target)
                status, body = await self._answer(url.path, parse_qs(url.query))
                data = body.encode()
                writer.write(
                    f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        writer.close()

    async def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str]:
        now = int(time.time() * 1000)
        session = self.session
        if path in ("/api/v3/time", "/fapi/v1/time"):
            return 200, json.dumps({"serverTime": now})
        if path == "/v5/market/time":
            result = {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}
            return 200, json.dumps({"retCode": 0, "retMsg": "OK", "result": result, "time": now})
        if path in ("/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo"):
            info: dict[str, Any] = {
                "timezone": "UTC",
                "serverTime": now,
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}
                ],
                "exchangeFilters": [],
                "symbols": [symbol_entry(session)],
            }
            return 200, json.dumps(info)
        if path == "/v5/market/instruments-info":
            listing: dict[str, Any] = {
                "category": session.market,
                "list": [symbol_entry(session)],
                "nextPageCursor": "",
            }
            return 200, json.dumps({"retCode": 0, "retMsg": "OK", "result": listing, "time": now})
        if path in ("/api/v3/depth", "/fapi/v1/depth") and session.snapshot is not None:
            assert query["symbol"] == [session.symbol]
            self.snapshot_requests += 1
            if self.snapshot_after > 0:
                await self._due.wait()
            self._answered.set()
            return 200, session.snapshot
        return 404, json.dumps({"code": -1, "msg": f"not served: {path}"})

    # Streams ------------------------------------------------------------------------------

    async def _ws(self, ws: ServerConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in ws:
                request = json.loads(message)
                if self.session.venue == "binance":
                    await ws.send(json.dumps({"result": None, "id": request["id"]}))
                    if request["method"] == "SUBSCRIBE":
                        for name in request["params"]:
                            if "@depth" in name and name not in self.subscribed:
                                self._start(ws, name)
                    continue
                op = request.get("op")
                reply = {
                    "success": True,
                    "ret_msg": "",
                    "conn_id": "replay",
                    "req_id": request.get("req_id", ""),
                    "op": op,
                }
                await ws.send(json.dumps(reply))
                if op == "subscribe":
                    for topic in request["args"]:
                        if topic.startswith("orderbook.") and topic not in self.subscribed:
                            self._start(ws, topic)

    def _wire(self, frame: str, subscribed: str) -> str:
        if self.exact:
            return frame
        if self.session.venue == "binance":
            data = re.sub(r'^\{"stream":"[^"]*","data":', "", frame, count=1)[:-1]
            return f'{{"stream":"{subscribed}","data":{data}}}'
        depth = subscribed.split(".")[1]
        return re.sub(r'"topic":"orderbook\.\d+\.', f'"topic":"orderbook.{depth}.', frame, count=1)

    async def _play(self, ws: ServerConnection, name: str) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            for index, frame in enumerate(self.session.frames[self.start :]):
                for extra in self.hostile.get(index, []):
                    await ws.send(extra.replace("{stream}", name) if isinstance(extra, str) else extra)
                if self.sent == self.snapshot_after and not self._released.is_set():
                    # The snapshot goes out at this point of the stream, and nothing after it
                    # until it has.
                    await self._answered.wait()
                    await asyncio.sleep(0.05)
                    self._released.set()
                await ws.send(self._wire(frame, name))
                self.sent += 1
                if self.sent >= self.snapshot_after:
                    self._due.set()
                if self.pace:
                    await asyncio.sleep(self.pace)
                elif self.sent % 64 == 0:
                    await asyncio.sleep(0)
        self._done.set()
        self._due.set()

    def _start(self, ws: ServerConnection, name: str) -> None:
        self.subscribed.append(name)
        task = asyncio.ensure_future(self._play(ws, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
