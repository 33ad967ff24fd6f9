"""Lists of events as columns: an Arrow table or a pandas DataFrame, for analysis and storage.

Optional (``pip install 'tradewire[data]'``): pyarrow and pandas are imported only when one of
these is called. Money stays exact: Arrow columns are decimals at the largest scale the values
have (``decimal128``, or ``decimal256`` beyond 38 digits), pandas columns hold
:class:`decimal.Decimal` objects; enums are their text, times integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ._native import AggTrade, Fill, FundingRate, Kline, Liquidation, MarkPrice, OpenInterest, Order, Trade
from .errors import InvalidArgument

_SOURCED = ("venue", "market", "symbol")
#: The columns of each event type, in order.
COLUMNS: dict[type, tuple[str, ...]] = {
    Trade: (*_SOURCED, "trade_id", "price", "qty", "side", "exchange_time_ms", "local_time_ns"),
    AggTrade: (
        *_SOURCED,
        "agg_id",
        "first_trade_id",
        "last_trade_id",
        "price",
        "qty",
        "side",
        "exchange_time_ms",
        "local_time_ns",
    ),
    Kline: (
        *_SOURCED,
        "interval",
        "open_time_ms",
        "close_time_ms",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "quote_volume",
        "trades",
        "taker_buy_volume",
        "taker_buy_quote_volume",
        "closed",
        "exchange_time_ms",
        "local_time_ns",
    ),
    Fill: (
        *_SOURCED,
        "order_id",
        "client_order_id",
        "trade_id",
        "side",
        "price",
        "qty",
        "fee",
        "fee_asset",
        "is_maker",
        "exchange_time_ms",
    ),
    FundingRate: (*_SOURCED, "rate", "funding_time_ms", "mark_price"),
    # An order's flat fields (its attached exits are objects: read them off the Order).
    Order: (
        *_SOURCED,
        "order_id",
        "client_order_id",
        "side",
        "order_type",
        "time_in_force",
        "price",
        "qty",
        "quote_qty",
        "filled_qty",
        "avg_price",
        "status",
        "reduce_only",
        "position_side",
        "trigger_price",
        "trigger_by",
        "created_time_ms",
        "updated_time_ms",
        "reject_reason",
    ),
    MarkPrice: (
        *_SOURCED,
        "mark_price",
        "index_price",
        "estimated_settle_price",
        "funding_rate",
        "next_funding_time_ms",
        "open_interest",
        "exchange_time_ms",
        "local_time_ns",
    ),
    OpenInterest: (*_SOURCED, "open_interest", "exchange_time_ms", "local_time_ns"),
    Liquidation: (
        *_SOURCED,
        "position_side",
        "price",
        "qty",
        "average_price",
        "exchange_time_ms",
        "local_time_ns",
    ),
}


def columns(items: Sequence[object]) -> dict[str, list[Any]]:
    """The events' fields as columns (enums as their text), all of one type; an empty list has
    none."""
    kinds = {type(item) for item in items}
    if len(kinds) > 1:
        names = ", ".join(sorted(k.__name__ for k in kinds))
        raise InvalidArgument(f"events of one type only, not {names}", field="items")
    if not kinds:
        return {}
    (kind,) = kinds
    fields = COLUMNS.get(kind)
    if fields is None:
        known = ", ".join(k.__name__ for k in COLUMNS)
        raise InvalidArgument(f"{kind.__name__} has no columns (these do: {known})", field="items")

    def cell(value: object) -> object:
        # Enums (StrEnum) cross as their text.
        return str(value) if isinstance(value, str) else value

    return {name: [cell(getattr(item, name)) for item in items] for name in fields}


def to_arrow(items: Sequence[object]) -> Any:
    """The events as a ``pyarrow.Table``, money as exact decimals."""
    try:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    except ImportError as e:
        raise ImportError("to_arrow needs pyarrow: pip install 'tradewire[data]'") from e
    arrays = {}
    for name, values in columns(items).items():
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, Decimal) for v in present):
            arrays[name] = pa.array(values, type=_decimal_type(pa, present))
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def to_pandas(items: Sequence[object]) -> Any:
    """The events as a ``pandas.DataFrame``; money columns hold exact :class:`Decimal` values."""
    try:
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    except ImportError as e:
        raise ImportError("to_pandas needs pandas: pip install 'tradewire[data]'") from e
    return pd.DataFrame(columns(items))


def _decimal_type(pa: Any, values: list[Decimal]) -> Any:
    """An Arrow decimal that holds every value exactly: the largest scale, and room for the
    largest integer part."""

    def exponent(v: Decimal) -> int:
        return int(v.as_tuple().exponent)

    scale = max(max(-exponent(v), 0) for v in values)
    whole = max(max(len(v.as_tuple().digits) + exponent(v), 0) for v in values)
    if whole + scale <= 38:
        return pa.decimal128(38, scale)
    if whole + scale <= 76:
        return pa.decimal256(76, scale)
    raise InvalidArgument(f"a value of {whole + scale} digits does not fit an Arrow decimal", field="items")


__all__ = ["COLUMNS", "columns", "to_arrow", "to_pandas"]
