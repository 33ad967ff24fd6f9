"""One module per peer library: its consumer of the ``trades`` and ``book`` scenarios."""

from __future__ import annotations

from .base import Adapter
from .binance_sdk import BinanceSdk, BinanceSdkRaw
from .ccxt import Ccxt
from .cryptofeed import Cryptofeed
from .nautilus import Nautilus
from .pybit import Pybit
from .python_binance import PythonBinance
from .raw import RawPicows, RawWebsockets
from .tradewire import Tradewire, TradewireDiffs

ADAPTERS: dict[str, type[Adapter]] = {
    "tradewire": Tradewire,
    "tradewire-bybit": Tradewire,
    "tradewire-diffs": TradewireDiffs,
    "python-binance": PythonBinance,
    "binance-sdk": BinanceSdk,
    "binance-sdk-raw": BinanceSdkRaw,
    "ccxt": Ccxt,
    "cryptofeed": Cryptofeed,
    "pybit": Pybit,
    "nautilus_trader": Nautilus,
    "raw-websockets": RawWebsockets,
    "raw-picows": RawPicows,
}
