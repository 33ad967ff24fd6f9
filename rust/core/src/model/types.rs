//! Value types that cross into Python. Times: `exchange_time_ms` is the venue's Unix time in
//! milliseconds, `local_time_ns` our receive time in Unix nanoseconds.

use rust_decimal::Decimal;

use super::{
    Id, Market, OrderStatus, OrderType, PositionSide, Side, Symbol, TimeInForce, TriggerBy,
    TriggerDirection, Venue,
};

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source {
    pub venue: Venue,
    pub market: Market,
}

/// A public trade.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Trade {
    pub source: Source,
    pub symbol: Symbol,
    /// Binance ids are integers, Bybit's are UUIDs: kept as text.
    pub trade_id: Id,
    pub price: Decimal,
    pub qty: Decimal,
    /// The aggressor's side.
    pub side: Side,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

/// An aggregated trade (Binance `aggTrade`): the fills of one taker order at one price.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AggTrade {
    pub source: Source,
    pub symbol: Symbol,
    /// The aggregate's id (`a`; recordings without it: its first trade's id).
    pub agg_id: u64,
    /// The first and last trade ids it aggregates (`f`, `l`).
    pub first_trade_id: Option<u64>,
    pub last_trade_id: Option<u64>,
    pub price: Decimal,
    pub qty: Decimal,
    /// The aggressor's side.
    pub side: Side,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

/// The best bid and offer of one venue's book (Binance `bookTicker`, Bybit `orderbook.1`). A
/// side without a level is `None`; so are both while the book is out of sync.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopOfBook {
    pub source: Source,
    pub symbol: Symbol,
    pub bid: Option<Level>,
    pub ask: Option<Level>,
    /// The venue's update id (Binance `u`, Bybit `u`); `None` while out of sync.
    pub update_id: Option<u64>,
    /// 0 where the venue does not stamp it (Binance spot).
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

/// A derivative's mark price, index price and funding as the venue publishes them together
/// (Binance `markPriceUpdate` and premium index, Bybit linear tickers). A contract without
/// funding (a delivery future) has no rate and no next funding time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MarkPrice {
    pub source: Source,
    pub symbol: Symbol,
    pub mark_price: Decimal,
    pub index_price: Option<Decimal>,
    /// Binance's estimated settle price (`P`).
    pub estimated_settle_price: Option<Decimal>,
    /// The rate of the coming funding (Binance `r`, Bybit `fundingRate`).
    pub funding_rate: Option<Decimal>,
    pub next_funding_time_ms: Option<i64>,
    /// Open interest in contracts (base asset), where the same message carries it (Bybit).
    pub open_interest: Option<Decimal>,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

/// One funding that took place: its rate at its time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FundingRate {
    pub source: Source,
    pub symbol: Symbol,
    pub rate: Decimal,
    pub funding_time_ms: i64,
    /// The mark price then, where the venue says it (Binance).
    pub mark_price: Option<Decimal>,
}

/// The open interest of a derivative: contracts open, in the base asset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpenInterest {
    pub source: Source,
    pub symbol: Symbol,
    pub open_interest: Decimal,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

/// A forced liquidation: which position (`Long`: a long was closed by a sell), at what price
/// and size. Binance reports its liquidation order (`forceOrder`, a 1 s sample of the latest
/// per symbol), Bybit every liquidation (`allLiquidation`, its bankruptcy price).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Liquidation {
    pub source: Source,
    pub symbol: Symbol,
    pub position_side: PositionSide,
    pub price: Decimal,
    pub qty: Decimal,
    /// Binance's average fill price (`ap`).
    pub average_price: Option<Decimal>,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

/// A 24 h ticker. Bid/ask are absent where the venue's ticker lacks them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ticker {
    pub source: Source,
    pub symbol: Symbol,
    pub last: Decimal,
    pub bid: Option<Decimal>,
    pub bid_qty: Option<Decimal>,
    pub ask: Option<Decimal>,
    pub ask_qty: Option<Decimal>,
    pub volume_24h: Decimal,
    pub quote_volume_24h: Decimal,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

/// One price level of a book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level {
    pub price: Decimal,
    pub qty: Decimal,
}

/// One book at one update: its best levels and whether it is in sync with the venue. An
/// unsynced view has no levels (nothing is shown that might be wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookView {
    pub source: Source,
    pub symbol: Symbol,
    pub synced: bool,
    /// The venue's id of the last update applied (Binance `u`/`lastUpdateId`, Bybit `u`).
    pub update_id: Option<u64>,
    /// Best first.
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

/// One change of a book as a diff stream delivers it (`book_diffs`): every sequence-checked
/// change, none conflated. A `reset` starts the book over (the first diff, each resync, a loss
/// of sync): drop every level, then apply this diff's. Out of sync, a diff carries no levels
/// until the next reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookDiff {
    pub source: Source,
    pub symbol: Symbol,
    pub synced: bool,
    pub reset: bool,
    /// The venue's id of the last update applied (`None` while out of sync).
    pub update_id: Option<u64>,
    /// Levels set by this diff, in the book's order of change; quantity 0 removes the level.
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

/// A symbol's trading rules, with the venue's raw filters kept for anything not modelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolInfo {
    pub source: Source,
    pub symbol: Symbol,
    pub base_asset: String,
    pub quote_asset: String,
    /// The venue's status word (`TRADING`, `Trading`, `HALT`, ...).
    pub status: String,
    pub trading: bool,
    pub tick_size: Decimal,
    pub step_size: Decimal,
    pub min_qty: Decimal,
    pub max_qty: Option<Decimal>,
    pub min_notional: Option<Decimal>,
    pub market_min_qty: Option<Decimal>,
    pub market_max_qty: Option<Decimal>,
    pub price_precision: u32,
    pub qty_precision: u32,
    /// The venue's filter objects as received (JSON text).
    pub raw_filters: String,
}

impl SymbolInfo {
    /// The venue-neutral name: `BASE/QUOTE` (spot), `BASE/QUOTE:SETTLE` (a linear perpetual,
    /// settled in its quote asset), as ccxt and the aggregator name instruments.
    pub fn canonical(&self) -> String {
        match self.source.market {
            Market::Spot => format!("{}/{}", self.base_asset, self.quote_asset),
            _ => format!(
                "{}/{}:{}",
                self.base_asset, self.quote_asset, self.quote_asset
            ),
        }
    }
}

/// What makes a conditional order go to the book: the watched price reaching `price` from
/// below (`Rise`) or from above (`Fall`). Until then the order is UNTRIGGERED; when it fires it
/// becomes an ordinary order of its type (MARKET, or LIMIT at its price).
///
/// A trailing stop (`trailing`: its callback rate, in percent) fires instead when the price
/// comes back that much from the best price since it became active: at `price` (its
/// activation price), or at once when `price` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trigger {
    pub price: Decimal,
    /// `None` where a venue's report does not say (Bybit spot infers it from the price at
    /// placement); the state machine keeps what was known.
    pub direction: Option<TriggerDirection>,
    pub by: TriggerBy,
    pub trailing: Option<Decimal>,
}

/// A take-profit or stop-loss attached to an entry order (Bybit linear): when the entry fills,
/// the venue places a reduce-only conditional order of the opposite side for the quantity
/// filled, firing when the `by` price reaches `trigger`, then MARKET, or LIMIT at `price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Exit {
    pub trigger: Decimal,
    pub price: Option<Decimal>,
    pub by: TriggerBy,
}

/// An order as last known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Order {
    pub source: Source,
    pub symbol: Symbol,
    /// Empty while the venue has not acknowledged the order.
    pub order_id: Id,
    pub client_order_id: Id,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: Option<TimeInForce>,
    pub price: Option<Decimal>,
    pub qty: Option<Decimal>,
    pub quote_qty: Option<Decimal>,
    pub filled_qty: Decimal,
    pub avg_price: Option<Decimal>,
    pub status: OrderStatus,
    /// Whether the order can only reduce a position: asked for, or a hedge-mode order that
    /// closes its leg (SELL on LONG, BUY on SHORT).
    pub reduce_only: bool,
    /// The hedge-mode position leg it trades (LONG or SHORT); `None` in one-way mode.
    pub position_side: Option<PositionSide>,
    /// A conditional order's trigger; `None` for an order that goes to the book at once.
    pub trigger: Option<Trigger>,
    /// An entry's attached take-profit and stop-loss, as the venue reports them.
    pub take_profit: Option<Exit>,
    pub stop_loss: Option<Exit>,
    /// A take-profit or stop-loss the venue placed for an entry: that entry's client id (Bybit
    /// `parentOrderLinkId`; such an order has no client id of its own and is named by its id).
    pub parent_client_order_id: Option<Id>,
    pub created_time_ms: i64,
    pub updated_time_ms: i64,
    /// Why it ended without trading, where known: the venue's own reason (Bybit
    /// `rejectReason`, Binance spot's execution report `r`), or why the place was refused.
    pub reject_reason: Option<String>,
}

/// One execution of an order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fill {
    pub source: Source,
    pub symbol: Symbol,
    pub order_id: Id,
    pub client_order_id: Id,
    pub trade_id: Id,
    pub side: Side,
    pub price: Decimal,
    pub qty: Decimal,
    pub fee: Decimal,
    pub fee_asset: String,
    pub is_maker: bool,
    pub exchange_time_ms: i64,
}

/// A change of one order, wherever it was learnt (an answer, the user stream, a
/// reconciliation): its state after the change, and the execution that caused it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderUpdate {
    pub order: Order,
    pub fill: Option<Fill>,
}

/// Funds of one asset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Balance {
    pub venue: Venue,
    pub market: Market,
    pub asset: String,
    pub free: Decimal,
    pub locked: Decimal,
    pub exchange_time_ms: i64,
}

impl Balance {
    pub fn total(&self) -> Decimal {
        // Both come from the wire: extreme values saturate rather than panic.
        self.free.saturating_add(self.locked)
    }
}

/// A position on a derivatives market: a symbol's one position in one-way mode, or one of its
/// two legs in hedge mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    pub source: Source,
    pub symbol: Symbol,
    /// The direction of the size held (FLAT when none).
    pub side: PositionSide,
    /// The hedge-mode leg (LONG or SHORT) this is; `None` in one-way mode.
    pub position_side: Option<PositionSide>,
    /// Absolute size; the direction is `side`.
    pub size: Decimal,
    pub entry_price: Decimal,
    pub unrealized_pnl: Decimal,
    pub leverage: Decimal,
    pub liquidation_price: Option<Decimal>,
    pub mark_price: Option<Decimal>,
    /// PnL realised by the position so far, where the venue reports it (Bybit
    /// `cumRealisedPnl`; Binance's REST does not).
    pub realized_pnl: Option<Decimal>,
    /// Margin the position holds, and the least it must keep, where the venue reports them
    /// (Binance `initialMargin` / `maintMargin`, Bybit `positionIM` / `positionMM`).
    pub initial_margin: Option<Decimal>,
    pub maintenance_margin: Option<Decimal>,
    /// The position's own take-profit and stop-loss trigger prices, where set (Bybit
    /// `takeProfit` / `stopLoss`, set by `set_position_exits` or a full-position entry's).
    pub take_profit: Option<Decimal>,
    pub stop_loss: Option<Decimal>,
    /// The position's trailing stop, as the price distance it trails by, where set (Bybit
    /// `trailingStop`).
    pub trailing_stop: Option<Decimal>,
    pub exchange_time_ms: i64,
}

impl Position {
    /// What names it among an account's positions: its symbol and hedge-mode leg.
    pub fn key(&self) -> (Symbol, Option<PositionSide>) {
        (self.symbol, self.position_side)
    }

    /// The key as text: the symbol, or for a hedge-mode leg `BTCUSDT-LONG` / `BTCUSDT-SHORT`.
    pub fn key_text(&self) -> String {
        match self.position_side {
            Some(leg) => format!("{}-{leg}", self.symbol),
            None => self.symbol.to_string(),
        }
    }
}

/// A derivatives symbol's account settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionSettings {
    pub symbol: Symbol,
    pub leverage: Decimal,
    pub margin_mode: super::MarginMode,
    pub position_mode: super::PositionMode,
}

/// The sizes that bound the never-drop account streams ([`crate::stream::weighed`]).
mod weights {
    use super::{Balance, OrderUpdate, Position};
    use crate::stream::Weigh;
    use std::mem::size_of;

    impl Weigh for OrderUpdate {
        fn weight(&self) -> usize {
            let owned = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
            let fee_asset = self.fill.as_ref().map_or(0, |f| f.fee_asset.capacity());
            size_of::<OrderUpdate>()
                .saturating_add(owned(&self.order.reject_reason))
                .saturating_add(fee_asset)
        }
    }

    impl Weigh for Balance {
        fn weight(&self) -> usize {
            size_of::<Balance>().saturating_add(self.asset.capacity())
        }
    }

    impl Weigh for Position {
        fn weight(&self) -> usize {
            size_of::<Position>()
        }
    }
}
