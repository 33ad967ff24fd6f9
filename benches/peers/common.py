"""What the parent and the children share: the libraries compared, the symbol, the protocol marker
of the child's lines, and importing peers by name."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARK = "@@peers "


SYMBOL = "BTCUSDT"


# The simulator numbers Bybit spot trades 2.29e18 + its trade sequence (as the venue's ids look).
BYBIT_SPOT_TRADE_ID_BASE = 2_290_000_000_000_000_000


RESULTS = Path(__file__).parents[1] / "results"


#: The Rust baseline reader (benches/src/bin/raw_reader.rs), built by `make bench`.
RAW_READER = Path(__file__).parents[2] / "target" / "release" / "raw_reader"


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
    #: A baseline (what the machine allows, no library): a row outside the ratios.
    baseline: bool = False
    #: The scenarios it runs (a variant of another library's book path runs only that).
    scenarios: tuple[str, ...] = ("trades", "book")

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
    Lib(
        "tradewire",
        "tradewire",
        "tradewire",
        "binance",
        "trades(capacity=2^20)",
        "book() + book_updates(depth=10)",
    ),
    Lib(
        "tradewire-diffs",
        "tradewire",
        "tradewire",
        "binance",
        "(as tradewire)",
        "book_diffs(capacity=2^20): every diff into Python, SortedDict book in the consumer",
        scenarios=("book",),
    ),
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
    Lib(
        "binance-sdk-raw",
        "binance-sdk-spot",
        "binance_sdk_spot",
        "binance",
        "websocket_streams subscribe(streams), payload dicts (no model)",
        "subscribe(diff stream), payload dicts + REST depth; dict book in the consumer",
    ),
    Lib("ccxt", "ccxt", "ccxt", "binance", "ccxt.pro watch_trades", "ccxt.pro watch_order_book"),
    Lib(
        "cryptofeed",
        "cryptofeed",
        "cryptofeed",
        "binance",
        "TRADES (aggTrade), on uvloop (its default)",
        "L2_BOOK, on uvloop (its default)",
    ),
    Lib(
        "nautilus_trader",
        "nautilus_trader",
        "nautilus_trader",
        "binance",
        "TradingNode + Actor.on_trade_tick, on uvloop (its default)",
        "TradingNode + Actor.on_order_book_deltas (L2_MBP, its data engine's book), on uvloop",
    ),
    Lib(
        "tradewire-bybit",
        "tradewire",
        "tradewire",
        "bybit",
        "trades(capacity=2^20)",
        "book(depth=200) + book_updates(depth=200)",
    ),
    Lib(
        "pybit", "pybit", "pybit", "bybit", "WebSocket.trade_stream", "WebSocket.orderbook_stream (its book)"
    ),
    Lib(
        "raw-rust",
        "tokio-tungstenite",
        "",
        "binance",
        "tokio-tungstenite + serde_json, Decimal price and qty (baseline)",
        "tokio-tungstenite + serde_json, BTreeMap book, best levels read (baseline)",
        baseline=True,
    ),
    Lib(
        "raw-websockets",
        "websockets",
        "websockets",
        "binance",
        "websockets + orjson (baseline)",
        "websockets + orjson, unsorted dict book (baseline)",
        baseline=True,
    ),
    Lib(
        "raw-picows",
        "picows",
        "picows",
        "binance",
        "picows + orjson (baseline)",
        "picows + orjson, unsorted dict book (baseline)",
        baseline=True,
    ),
]


BY_NAME = {lib.name: lib for lib in LIBS}


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(message) + "\n")
    sys.stdout.flush()


def load(name: str) -> Any:
    """Peer libraries are imported by name: they need not be installed (or typed) for mypy."""
    return importlib.import_module(name)
