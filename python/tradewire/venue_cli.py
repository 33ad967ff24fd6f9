"""What the commands reading one venue market share (``tradewire history``, ``tradewire
record``): the ``--venue VENUE:MARKET`` and ``--sim`` options and the connector they name."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connectors import _Connector


def add_venue(parser: Any, sim_help: str) -> None:
    parser.add_argument(
        "--venue",
        required=True,
        metavar="VENUE:MARKET",
        help="binance:spot, binance:usdm, bybit:spot or bybit:linear",
    )
    parser.add_argument("--sim", action="store_true", help=sim_help)


def venue_market(args: argparse.Namespace, command: str) -> tuple[str, str] | None:
    """``(venue, market)`` of ``--venue``; None (and the error said) if it names none."""
    venue, _, market = args.venue.partition(":")
    if venue not in ("binance", "bybit") or not market:
        print(
            f"tradewire {command}: --venue {args.venue!r}: give VENUE:MARKET, e.g. binance:spot",
            file=sys.stderr,
        )
        return None
    return venue, market


def connector(stack: ExitStack, venue: str, market: str, *, sim: bool, keyed: bool = False) -> _Connector:
    """A connector to the venue market (not yet started), or with ``sim`` to an embedded
    simulator kept for the life of ``stack``. ``keyed``: with API keys, the simulator's or
    ``TRADEWIRE_API_KEY`` / ``TRADEWIRE_API_SECRET``."""
    from .connectors import Binance, Bybit

    options: dict[str, Any] = {}
    if sim:
        from .testing import Simulator

        simulator = stack.enter_context(Simulator())
        options["endpoints"] = simulator.endpoints(venue, market)
        if keyed:
            keys = simulator.account(venue)
            options.update(api_key=keys.api_key, api_secret=keys.api_secret)
    elif keyed:
        options.update(
            api_key=os.environ.get("TRADEWIRE_API_KEY"), api_secret=os.environ.get("TRADEWIRE_API_SECRET")
        )
    if venue == "binance":
        return Binance(market, **options)  # type: ignore[arg-type]
    return Bybit(market, **options)  # type: ignore[arg-type]
