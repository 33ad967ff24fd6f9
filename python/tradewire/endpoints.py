"""Where a connector connects: named presets for the real venues, or any URLs (the simulator's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BinanceMarket = Literal["spot", "usdm"]
BybitMarket = Literal["spot", "linear"]


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URLs of one venue market.

    ``ws_public`` is the market-data stream base (Binance USD-M: its ``/public`` route);
    ``ws_market`` is Binance USD-M's ``/market`` route; ``ws_private`` the user-data stream
    base; ``ws_api`` Binance's WebSocket API.
    """

    rest: str
    ws_public: str
    ws_market: str | None = None
    ws_private: str | None = None
    ws_api: str | None = None

    @classmethod
    def binance(cls, market: BinanceMarket, testnet: bool = False) -> Endpoints:
        """Binance's production or testnet endpoints (PROTOCOLS.md 1.1, 1.2)."""
        if market == "spot":
            if testnet:
                return cls(
                    rest="https://testnet.binance.vision",
                    ws_public="wss://stream.testnet.binance.vision",
                    ws_api="wss://ws-api.testnet.binance.vision/ws-api/v3",
                )
            return cls(
                rest="https://api.binance.com",
                ws_public="wss://stream.binance.com:9443",
                ws_api="wss://ws-api.binance.com:443/ws-api/v3",
            )
        if market == "usdm":
            host = "fstream.binancefuture.com" if testnet else "fstream.binance.com"
            return cls(
                rest="https://testnet.binancefuture.com" if testnet else "https://fapi.binance.com",
                ws_public=f"wss://{host}/public",
                ws_market=f"wss://{host}/market",
                ws_private=f"wss://{host}/private",
            )
        raise ValueError(f"unknown Binance market {market!r}: use 'spot' or 'usdm'")

    @classmethod
    def bybit(cls, market: BybitMarket, testnet: bool = False) -> Endpoints:
        """Bybit v5 mainnet or testnet endpoints (PROTOCOLS.md 1.3)."""
        if market not in ("spot", "linear"):
            raise ValueError(f"unknown Bybit market {market!r}: use 'spot' or 'linear'")
        suffix = "-testnet" if testnet else ""
        return cls(
            rest=f"https://api{suffix}.bybit.com",
            ws_public=f"wss://stream{suffix}.bybit.com/v5/public/{market}",
            ws_private=f"wss://stream{suffix}.bybit.com/v5/private",
        )


@dataclass(frozen=True, slots=True)
class Credentials:
    """API keys. The secret never appears in ``repr`` or logs."""

    api_key: str
    api_secret: str = field(repr=False)


__all__ = ["Credentials", "Endpoints"]
