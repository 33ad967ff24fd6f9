//! Venues. Each venue is a folder with the same files (`adapter`, `book`, `entry`, `market`,
//! `messages`, `orders`, `rest`, `sign`, `user`) implementing the traits declared here; its
//! [`Adapter`] is the one way core code reaches it, and [`adapter`] is where it is registered.
//! Outside this folder (and the `Venue` enum) the core names no venue.

pub mod binance;
pub mod bybit;
pub mod credentials;
#[deny(clippy::arithmetic_side_effects)]
pub mod fields;

pub use credentials::Credentials;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::Result;
use crate::book::sync::{BookDelta, SyncRule};
use crate::model::{
    AggTrade, Balance, BookView, Decimal, Fill, FundingRate, Id, Interval, Kline, Liquidation,
    MarginMode, MarkPrice, Market, OpenInterest, Order, Position, PositionMode, PositionSettings,
    Symbol, SymbolInfo, Ticker, TopOfBook, Trade, Venue,
};
use crate::net::http::Dialect;
use crate::net::{Request, WsConfig, WsDialect};
use crate::orders::{NewOrder, Oco, OrderRef};
use crate::resilience::{ClockSync, IdRule, LimitSpec};

/// The venue's adapter: the one place a venue is registered.
pub fn adapter(venue: Venue) -> &'static dyn Adapter {
    match venue {
        Venue::Binance => &binance::adapter::Adapter,
        Venue::Bybit => &bybit::adapter::Adapter,
    }
}

/// The caller's client order id checked against [`client_id_rule`], or a new one from `ids`.
pub fn client_order_id(
    ids: &crate::resilience::ClientIds,
    given: Option<&str>,
) -> crate::Result<crate::model::Id> {
    match given {
        Some(id) => {
            crate::resilience::validate_client_id(id, client_id_rule())?;
            Ok(crate::model::Id::new(id))
        }
        None => Ok(ids.next()),
    }
}

/// The client-id rule every registered venue accepts, so that an id a caller gives works on
/// whichever venue it trades.
pub fn client_id_rule() -> &'static IdRule {
    static COMMON: OnceLock<IdRule> = OnceLock::new();
    COMMON.get_or_init(|| {
        let rules: Vec<IdRule> = Venue::ALL
            .iter()
            .map(|v| adapter(*v).client_ids())
            .collect();
        IdRule::common(&rules)
    })
}

/// Which of a connector's configured URLs serves a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `ws_public`: market streams.
    Public,
    /// `ws_market`, where the venue splits market streams over two routes (`ws_public` if
    /// none is configured).
    Market,
    /// `ws_private`: the user stream on its own route.
    Private,
    /// `ws_api`: the user stream on the venue's WebSocket API.
    Api,
}

/// A market-stream frame in the core's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    Trade(Trade),
    Trades(Vec<Trade>),
    AggTrades(Vec<AggTrade>),
    Tickers(Vec<Ticker>),
    /// The best bid and offer, from a stream of its own.
    Top(TopOfBook),
    /// Mark prices and funding (Binance `markPriceUpdate`, one or an array).
    Marks(Vec<MarkPrice>),
    /// A derivative's ticker that also carries its mark price and funding (Bybit linear).
    Derivative(Ticker, MarkPrice),
    Liquidations(Vec<Liquidation>),
    Book(BookDelta),
    /// Candles of one symbol and interval, open or closed, oldest first.
    Klines(Vec<Kline>),
    /// A kind no reader takes (control replies, kinds we do not use).
    Other,
}

/// Reads one venue market's stream frames. One per connector: it may keep what the venue's
/// messages leave out (tickers sent as deltas).
pub trait MarketReader: Send + Sync + 'static {
    /// The stream or topic a frame belongs to, without parsing all of it where possible.
    fn topic_of<'a>(&self, text: &'a str) -> Option<Cow<'a, str>>;
    fn read(&self, text: &str, local_time_ns: i64) -> Result<MarketEvent>;
    /// The symbol a stream or topic is of, as the venue spells it in events (`None`: a stream
    /// of several symbols, or one this reader cannot name). An event of another symbol on it
    /// is not delivered.
    fn symbol_of<'a>(&self, topic: &'a str) -> Option<&'a str> {
        let _ = topic;
        None
    }
}

/// Why an event read from a stream cannot be real, if it cannot: a trade at a price or of a
/// quantity not above zero, a book level of a negative quantity or price, an event of a symbol other than its
/// stream's (`symbol`, compared without case). Such an event is counted and skipped.
pub fn implausible(event: &MarketEvent, symbol: Option<&str>) -> Option<String> {
    use rust_decimal::Decimal;
    let foreign = |s: &str| symbol.is_some_and(|want| !want.eq_ignore_ascii_case(s));
    // A trade of another symbol, or not at a price and of a quantity above zero.
    let priced = |of: &str, price: Decimal, qty: Decimal| {
        if foreign(of) {
            Some(format!("a trade of {of} on a stream of {symbol:?}"))
        } else if price <= Decimal::ZERO || qty <= Decimal::ZERO {
            Some(format!("a trade of {qty} at {price}"))
        } else {
            None
        }
    };
    let trade = |t: &crate::model::Trade| priced(t.symbol.as_str(), t.price, t.qty);
    match event {
        MarketEvent::Trade(t) => trade(t),
        MarketEvent::Trades(list) => list.iter().find_map(trade),
        MarketEvent::AggTrades(list) => list
            .iter()
            .find_map(|t| priced(t.symbol.as_str(), t.price, t.qty)),
        MarketEvent::Marks(list) => list
            .iter()
            .find(|m| foreign(m.symbol.as_str()) || m.mark_price <= Decimal::ZERO)
            .map(|m| format!("a mark price of {} at {}", m.symbol, m.mark_price)),
        MarketEvent::Derivative(ticker, mark) => {
            if foreign(ticker.symbol.as_str()) || foreign(mark.symbol.as_str()) {
                Some(format!(
                    "a ticker of {} on a stream of {symbol:?}",
                    ticker.symbol
                ))
            } else if mark.mark_price <= Decimal::ZERO {
                Some(format!("a mark price of {}", mark.mark_price))
            } else {
                None
            }
        }
        MarketEvent::Liquidations(list) => list
            .iter()
            .find(|l| {
                foreign(l.symbol.as_str()) || l.price <= Decimal::ZERO || l.qty <= Decimal::ZERO
            })
            .map(|l| format!("a liquidation of {} {} at {}", l.symbol, l.qty, l.price)),
        MarketEvent::Top(top) => {
            if foreign(top.symbol.as_str()) {
                return Some(format!(
                    "a book top of {} on a stream of {symbol:?}",
                    top.symbol
                ));
            }
            top.bid
                .iter()
                .chain(&top.ask)
                .find(|l| l.qty < Decimal::ZERO || l.price < Decimal::ZERO)
                .map(|l| format!("a best level of {} at {}", l.qty, l.price))
        }
        MarketEvent::Tickers(list) => list
            .iter()
            .find(|t| foreign(t.symbol.as_str()))
            .map(|t| format!("a ticker of {} on a stream of {symbol:?}", t.symbol)),
        MarketEvent::Book(delta) => {
            if foreign(delta.symbol.as_str()) {
                return Some(format!(
                    "a book of {} on a stream of {symbol:?}",
                    delta.symbol
                ));
            }
            delta
                .bids
                .iter()
                .chain(&delta.asks)
                .find(|l| l.qty < Decimal::ZERO || l.price < Decimal::ZERO)
                .map(|l| format!("a book level of {} at {}", l.qty, l.price))
        }
        MarketEvent::Klines(list) => list.iter().find_map(|k| {
            if foreign(k.symbol.as_str()) {
                Some(format!(
                    "a candle of {} on a stream of {symbol:?}",
                    k.symbol
                ))
            } else if k.low > k.high
                || k.low <= Decimal::ZERO
                || k.volume < Decimal::ZERO
                || k.close_time_ms < k.open_time_ms
            {
                Some(format!(
                    "a candle of low {} high {} volume {} at {}..{}",
                    k.low, k.high, k.volume, k.open_time_ms, k.close_time_ms
                ))
            } else {
                None
            }
        }),
        MarketEvent::Other => None,
    }
}

/// How a venue keeps a book of one symbol.
pub struct BookPlan {
    /// The stream or topic it is kept from.
    pub topic: String,
    /// Levels a side it keeps.
    pub depth: usize,
    /// Topics of the symbol's other books that serve this depth as well (a deeper book).
    pub deeper: Vec<String>,
    pub rule: Box<dyn SyncRule>,
}

impl std::fmt::Debug for BookPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookPlan")
            .field("topic", &self.topic)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// A user stream as the venue opens it.
pub struct UserStream {
    pub url: String,
    pub dialect: Arc<dyn WsDialect>,
    /// What to subscribe (with a listen key: nothing, the key is the topic).
    pub topics: Vec<String>,
    /// The REST path of a listen key that is the stream's one topic: created (and renewed)
    /// with POST, kept alive with PUT.
    pub listen_key: Option<&'static str>,
    /// Where the venue counts the stream's requests (connecting, subscribing) against its
    /// REST side's limits: the REST request each one weighs as (`None`: not counted there).
    pub weighed_as: Option<Request>,
}

impl std::fmt::Debug for UserStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Its topics can be a listen key, as good as a credential: not shown.
        f.debug_struct("UserStream")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Everything the core asks of a venue. Each venue implements it in `adapter.rs`; the
/// dialects it hands out live beside it (`rest.rs`, `market.rs`, `user.rs`, `orders.rs`,
/// `book.rs`).
pub trait Adapter: Send + Sync + 'static {
    fn venue(&self) -> Venue;

    // REST.
    fn rest(&self, market: Market) -> Arc<dyn Dialect>;
    /// The documented limits, until the venue publishes its own.
    fn default_limits(&self, market: Market) -> Vec<LimitSpec>;
    fn trading(&self, market: Market) -> Box<dyn Trading>;

    // Start-up reads.
    /// The request for one page of the symbol listing (`cursor`: the page after the first).
    fn symbols_request(&self, market: Market, cursor: Option<&str>) -> Request;
    /// The symbols of a listing page, and the cursor of the next page if any.
    fn symbols_of(
        &self,
        market: Market,
        answer: &Value,
    ) -> Result<(Vec<SymbolInfo>, Option<String>)>;
    /// `Some` where the listing also publishes the rate limits (they replace the defaults
    /// when not empty, and usage is then read afresh).
    fn published_limits(&self, _listing: &Value) -> Option<Vec<LimitSpec>> {
        None
    }

    // Connections.
    fn ws_config(&self, market: Market) -> WsConfig;
    /// Connection attempts per IP that every WebSocket of the venue shares.
    fn ws_connect_limit(&self) -> LimitSpec;

    // Market streams.
    fn market_reader(&self, market: Market) -> Box<dyn MarketReader>;
    /// The URL and dialect of a market-stream pool on the endpoint `base`.
    fn market_stream(&self, market: Market, base: &str) -> (String, Arc<dyn WsDialect>);
    /// Which endpoint serves `topic`.
    fn stream_endpoint(&self, _market: Market, _topic: &str) -> Endpoint {
        Endpoint::Public
    }
    fn trades_topic(&self, symbol: &str) -> String;
    fn tickers_topic(&self, symbol: &str) -> String;
    /// The book of `symbol` with at least `depth` levels a side; an impossible depth is an
    /// `InvalidArgument`.
    fn book(&self, market: Market, symbol: &str, depth: usize) -> Result<BookPlan>;
    /// The book topics, best first, that take a depth frame sent under `topic` when nobody
    /// subscribed to it (a recording or relay at another speed or depth with the same id chain).
    fn book_alias(&self, topic: &str) -> Vec<String>;
    /// The REST snapshot of a book whose rule fetches one (`None`: its rule resubscribes).
    fn snapshot_request(&self, market: Market, symbol: Symbol) -> Option<Request>;
    fn snapshot_of(&self, symbol: Symbol, answer: &Value) -> Result<BookDelta>;
    /// The REST book of `symbol` with at least `limit` levels a side (the venue's smallest
    /// depth that holds it); a depth beyond the venue's is an `InvalidArgument`.
    fn depth_request(&self, market: Market, symbol: Symbol, limit: usize) -> Result<Request>;
    /// A REST book answer as a synced view, best levels first.
    fn depth_of(&self, market: Market, symbol: Symbol, answer: &Value) -> Result<BookView>;

    // Derivatives data (a spot market has none: each is then an `InvalidArgument`).
    /// The mark-price and funding topic of `symbol`.
    fn mark_topic(&self, market: Market, symbol: &str) -> Result<String>;
    /// The liquidations topic of `symbol`.
    fn liquidations_topic(&self, market: Market, symbol: &str) -> Result<String>;
    fn mark_request(&self, market: Market, symbol: Symbol) -> Result<Request>;
    fn mark_of(&self, market: Market, symbol: Symbol, answer: &Value) -> Result<MarkPrice>;
    fn open_interest_request(&self, market: Market, symbol: Symbol) -> Result<Request>;
    fn open_interest_of(
        &self,
        market: Market,
        symbol: Symbol,
        answer: &Value,
    ) -> Result<OpenInterest>;
    /// Most fundings one REST request returns.
    fn funding_max(&self, market: Market) -> usize;
    /// How much time a request from a start covers where the venue cannot be asked for the
    /// oldest `limit` from a start (`None`: it can); a caller walks on window by window.
    fn funding_window_ms(&self, _limit: usize) -> Option<i64> {
        None
    }
    /// At most `limit` fundings of `symbol` in `start..=end`: from `start` on if given, else
    /// the latest up to `end` (or now).
    fn funding_request(
        &self,
        market: Market,
        symbol: Symbol,
        start: Option<i64>,
        end: Option<i64>,
        limit: usize,
    ) -> Result<Request>;
    /// The fundings of an answer, oldest first.
    fn funding_of(
        &self,
        market: Market,
        symbol: Symbol,
        answer: &Value,
    ) -> Result<Vec<FundingRate>>;

    // Other public streams.
    /// The aggregated-trades topic of `symbol` (`None`: the venue has none).
    fn agg_trades_topic(&self, _symbol: &str) -> Option<String> {
        None
    }
    /// How the aggregated-trades history pages (`InvalidArgument` where the venue has none).
    fn agg_trades_paging(&self, market: Market) -> Result<Paging>;
    fn agg_trades_request(
        &self,
        market: Market,
        symbol: Symbol,
        query: &PageQuery<'_>,
    ) -> Result<Request>;
    /// The aggregated trades of an answer, in the venue's order.
    fn agg_trades_of(
        &self,
        market: Market,
        symbol: Symbol,
        answer: &Value,
    ) -> Result<Vec<AggTrade>>;
    /// The best bid/offer topic of `symbol` where the venue has a stream of it (`None`: it is
    /// read from the symbol's book at depth 1).
    fn top_topic(&self, _symbol: &str) -> Option<String> {
        None
    }

    // Candles.
    /// The live candle topic of `symbol`; an interval the market lacks is an
    /// `InvalidArgument` naming the ones it has.
    fn kline_topic(&self, market: Market, symbol: &str, interval: Interval) -> Result<String>;
    /// Most candles one REST request returns.
    fn klines_max(&self, market: Market) -> usize;
    /// The REST request for at most `limit` candles opening in `start..=end` (Unix ms): from
    /// `start` on if given, else the latest up to `end` (or now).
    fn klines_request(
        &self,
        market: Market,
        symbol: Symbol,
        interval: Interval,
        start: Option<i64>,
        end: Option<i64>,
        limit: usize,
    ) -> Result<Request>;
    /// The candles of a REST answer, oldest first, each marked closed (the caller marks the
    /// venue's current candle open).
    fn klines_of(
        &self,
        market: Market,
        symbol: Symbol,
        interval: Interval,
        answer: &Value,
    ) -> Result<Vec<Kline>>;

    // The user stream.
    fn user_endpoint(&self, market: Market) -> Endpoint;
    fn user_stream(
        &self,
        market: Market,
        url: &str,
        credentials: Arc<Credentials>,
        clock: Arc<ClockSync>,
    ) -> UserStream;
    fn user_events(&self, market: Market, text: &str) -> Result<Vec<UserEvent>>;

    /// What the venue accepts as a client order id.
    fn client_ids(&self) -> IdRule;

    // Order entry on the venue's WebSocket API.
    /// The market's order-entry session for these keys (`None`: the market has none).
    fn order_entry(
        &self,
        _market: Market,
        _credentials: Arc<Credentials>,
        _clock: Arc<ClockSync>,
    ) -> Option<Arc<dyn OrderEntry>> {
        None
    }
    /// The REST request connecting the session weighs as, where the venue counts it there.
    fn entry_gate(&self, _market: Market) -> Option<Request> {
        None
    }
    /// The session's timers, from the market streams' (`streams`).
    fn entry_config(&self, _market: Market, streams: &WsConfig) -> WsConfig {
        streams.clone()
    }
}

/// An order-entry answer as JSON; one that is not is a protocol failure naming `what` it was.
pub(crate) fn entry_json(
    venue: Venue,
    what: &str,
    text: &str,
) -> std::result::Result<Value, Box<crate::net::Failure>> {
    serde_json::from_str(text).map_err(|e| {
        crate::net::Failure::plain(crate::Error::protocol(venue, format!("{what} answer: {e}")))
    })
}

/// A venue's WebSocket order entry: which writes its session carries, on what wire, and how
/// their answers read as their REST counterparts'. Each venue implements it in `entry.rs`.
pub trait OrderEntry: crate::net::SessionDialect {
    /// Whether the session carries the write `request` (one it does not goes by REST).
    fn carries(&self, request: &Request) -> bool;
    /// The frame carrying the write `request` under request id `id`, signed at `now_ms` where
    /// the venue signs each request (`None`: the session does not carry it; it goes by REST).
    fn frame(
        &self,
        request: &Request,
        id: &str,
        now_ms: i64,
        recv_window: std::time::Duration,
    ) -> Option<String>;
    /// The answer as the REST answer's payload, or what went wrong as REST's verdict says it;
    /// the usage it reports corrects `limiter`.
    fn answer(
        &self,
        request: &Request,
        text: &str,
        limiter: &crate::resilience::Limiter,
        now_ms: i64,
    ) -> std::result::Result<Value, Box<crate::net::Failure>>;
}

/// A listing a history walk reads page by page: the aggregated trades of a symbol, or the
/// account's own fills or orders of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    AggTrades,
    Fills,
    Orders,
}

/// How a venue pages a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Most items one request returns.
    pub max: usize,
    /// The longest `startTime..=endTime` one request may ask for, in ms (`None`: any).
    pub window_ms: Option<i64>,
    /// `true`: a window's items come newest first over the venue's page cursor (Bybit);
    /// `false`: the oldest `max` from `startTime`, and an id (`fromId`) goes on from any item
    /// without times (Binance).
    pub cursor: bool,
}

/// One page's question: a time window, or an id to go on from (without times), or the venue's
/// cursor within the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageQuery<'a> {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub from_id: Option<u64>,
    pub cursor: Option<&'a str>,
    pub limit: usize,
}

/// `Ok` on a derivatives market; on spot the `InvalidArgument` naming `what` it lacks.
pub fn derivatives_only(venue: Venue, market: Market, what: &str) -> Result<()> {
    if market.is_derivative() {
        Ok(())
    } else {
        Err(crate::Error::invalid_argument(
            what,
            format!("{venue} {market} has none: it is a spot market"),
        ))
    }
}

/// The string a message opens with after `prefix` (`{"stream":"`): how a frame's stream or
/// topic is read without a second parse when the venue writes that key first. `None` if it does
/// not, or if the string has escapes (the caller then parses).
pub fn leading_string<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(prefix)?;
    let end = rest.find(['"', '\\'])?;
    (rest.as_bytes()[end] == b'"').then(|| &rest[..end])
}

/// The string value of the frame's top-level `key` (a stream or topic name): read from the
/// frame's start when the venue writes `{"<key>":"` first, else by parsing the frame.
pub fn top_level_string<'a>(text: &'a str, prefix: &str, key: &str) -> Option<Cow<'a, str>> {
    if let Some(value) = leading_string(text, prefix) {
        return Some(Cow::Borrowed(value));
    }
    let fields: HashMap<Cow<'a, str>, &'a serde_json::value::RawValue> =
        serde_json::from_str(text).ok()?;
    serde_json::from_str::<Cow<'a, str>>(fields.get(key)?.get()).ok()
}

/// What one user-stream message says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // consumed at once
pub enum UserEvent {
    /// An order's state, and the execution the message reports, if any.
    Order(Order, Option<Fill>),
    /// An execution reported on its own (Bybit's `execution` topic).
    Fill(Fill),
    Balances(Vec<Balance>),
    Positions(Vec<Position>),
    /// Funds or positions changed in a way the message does not fully say: read them again.
    AccountChanged,
    /// The venue ended the stream (expired key, terminated subscription): open it again.
    Ended(String),
    /// The venue refused the subscription or login (keys, permissions): it will not heal alone.
    Refused(String),
    /// The venue refused a request of the stream for its rate limits: banned (or to back off)
    /// until `until_ms` on its clock (`None`: it did not say). Its REST side shares the limit.
    Limited {
        banned: bool,
        until_ms: Option<i64>,
        reason: String,
    },
}

/// The batch endpoints a venue may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    Place,
    Amend,
    Cancel,
}

/// What a write's answer says of the order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // returned and consumed at once
pub enum Written {
    /// The order's state (and, for a place, the fills it made at once).
    Order(Order, Vec<Fill>),
    /// Only an acknowledgement with the venue's id: the state comes from a query or the
    /// user stream (Bybit's writes are asynchronous).
    Ack { order_id: String },
}

/// A venue's order and account endpoints: requests to send and how to read their answers.
/// Each venue implements it in `orders.rs`.
pub trait Trading: Send + Sync + 'static {
    fn place(&self, order: &NewOrder) -> Request;
    /// The prices a conditional order (a `trigger`) on this market can watch (empty: none
    /// are placed).
    fn trigger_prices(&self) -> &'static [crate::model::TriggerBy] {
        use crate::model::TriggerBy::*;
        &[Last, Mark, Index]
    }
    /// The callback rates (percent) a trailing stop may have here: `(min, max, step)`, a bound
    /// or step `None` where the venue publishes none. `None`: the market takes no trailing
    /// stop orders.
    fn callback_rates(&self) -> Option<(Decimal, Option<Decimal>, Option<Decimal>)> {
        None
    }
    /// Whether an entry may carry an attached take-profit / stop-loss (`NewOrder::take_profit`).
    fn attaches_exits(&self) -> bool {
        false
    }
    /// Whether the batch place takes `order` (one it does not is placed on its own).
    fn batch_takes(&self, order: &NewOrder) -> bool {
        let _ = order;
        true
    }
    /// Whether the venue refused an order for one of the symbol's filters (tick, step,
    /// minimums): our checks passed it, so the rules we hold may be stale.
    fn names_a_filter(&self, error: &crate::Error) -> bool;
    /// An order the venue accepted and at once ended in a way other venues refuse it (Bybit
    /// cancels a post-only order that would take): the refusal to give the caller instead.
    fn refusal(&self, _order: &Order) -> Option<crate::Error> {
        None
    }
    fn placed(&self, answer: &Value) -> Result<Written>;
    fn cancel(&self, symbol: Symbol, which: &OrderRef) -> Request;
    fn canceled(&self, answer: &Value) -> Result<Written>;
    /// The request that amends the open LIMIT order `current` in place to `qty` (total, the
    /// filled part included) at `price`; `None` where the venue cannot make this change in
    /// place (the connector then replaces the order, where the venue can).
    fn amend(&self, current: &Order, qty: Decimal, price: Decimal) -> Option<Request>;
    fn amended(&self, answer: &Value) -> Result<Written>;
    /// A one-cancels-the-other pair in one request (`None`: the venue has none).
    fn place_oco(&self, oco: &Oco) -> Option<Request> {
        let _ = oco;
        None
    }
    /// The legs in a one-cancels-the-other answer, each as the venue reports it.
    fn placed_oco(&self, answer: &Value) -> Result<Vec<Written>> {
        let _ = answer;
        Err(crate::Error::Internal("this venue has no OCO".into()))
    }
    /// An atomic cancel-replace: cancels `which` and places `new` in one request (`None`: the
    /// venue has none).
    fn replace(&self, which: &OrderRef, new: &NewOrder) -> Option<Request> {
        let _ = (which, new);
        None
    }
    /// Orders one batch request takes at most (0: the venue has no such batch; the connector
    /// sends single requests instead).
    fn batch_limit(&self, batch: Batch) -> usize {
        let _ = batch;
        0
    }
    /// One request placing `orders` (at most [`Trading::batch_limit`]).
    fn place_batch(&self, orders: &[NewOrder]) -> Option<Request> {
        let _ = orders;
        None
    }
    /// Each order's outcome in a batch place's answer, in the order sent (`n` of them).
    fn placed_batch(&self, answer: &Value, n: usize) -> Result<Vec<Result<Written>>> {
        let _ = (answer, n);
        Err(crate::Error::Internal(
            "this venue has no batch place".into(),
        ))
    }
    /// One request amending each open LIMIT order to its quantity and price (as
    /// [`Trading::amend`], all in place).
    fn amend_batch(&self, items: &[(Order, Decimal, Decimal)]) -> Option<Request> {
        let _ = items;
        None
    }
    /// Each amendment's outcome in a batch amend's answer, in the order sent.
    fn amended_batch(&self, answer: &Value, n: usize) -> Result<Vec<Result<Written>>> {
        let _ = (answer, n);
        Err(crate::Error::Internal(
            "this venue has no batch amend".into(),
        ))
    }
    /// One request canceling orders of `symbol` all named the same way (ids, or client ids).
    fn cancel_batch(&self, symbol: Symbol, which: &[OrderRef]) -> Option<Request> {
        let _ = (symbol, which);
        None
    }
    /// Each order's outcome in a batch cancel's answer, in the order sent.
    fn canceled_batch(&self, answer: &Value, n: usize) -> Result<Vec<Result<Written>>> {
        let _ = (answer, n);
        Err(crate::Error::Internal(
            "this venue has no batch cancel".into(),
        ))
    }
    /// Sets or removes (a zero trigger or distance) a position's own exits, each closing the
    /// whole position at MARKET when it fires; `None` leaves one as it is. `None`: the market
    /// has none.
    fn position_exits(
        &self,
        symbol: Symbol,
        exits: &crate::orders::PositionExits,
    ) -> Option<Request> {
        let _ = (symbol, exits);
        None
    }
    /// Derivatives settings: `None` (or `Ok(None)`) on spot markets, which have none.
    fn set_leverage(&self, symbol: Symbol, leverage: Decimal) -> Option<Request> {
        let _ = (symbol, leverage);
        None
    }
    /// Margin mode, per symbol or account-wide as the venue scopes it (the wrong scope is an
    /// `InvalidArgument` saying which).
    fn set_margin_mode(&self, symbol: Option<Symbol>, mode: MarginMode) -> Result<Option<Request>> {
        let _ = (symbol, mode);
        Ok(None)
    }
    /// Position mode, per symbol or account-wide as the venue scopes it.
    fn set_position_mode(
        &self,
        symbol: Option<Symbol>,
        mode: PositionMode,
    ) -> Result<Option<Request>> {
        let _ = (symbol, mode);
        Ok(None)
    }
    /// The reads that tell a symbol's settings, answered in order to [`Trading::settings_of`].
    fn settings(&self, symbol: Symbol) -> Vec<Request> {
        let _ = symbol;
        Vec::new()
    }
    fn settings_of(&self, symbol: Symbol, answers: &[Value]) -> Result<PositionSettings> {
        let _ = (symbol, answers);
        Err(crate::Error::Internal("no settings on this market".into()))
    }
    /// Whether a settings write was refused only because nothing would change.
    fn unchanged(&self, error: &crate::Error) -> bool {
        let _ = error;
        false
    }
    /// The canceled order and the new one in a cancel-replace's answer.
    fn replaced(&self, answer: &Value) -> Result<(Written, Written)> {
        let _ = answer;
        Err(crate::Error::Internal(
            "this venue has no cancel-replace".into(),
        ))
    }
    /// The requests that look one order up, asked in turn until one finds it.
    fn query(&self, symbol: Symbol, which: &OrderRef) -> Vec<Request>;
    /// The order in a query's answer; `None` if this answer does not have it.
    fn queried(&self, answer: &Value) -> Result<Option<Order>>;
    /// Open orders, of one symbol or all; `cursor` pages on where the venue pages.
    fn open_orders(&self, symbol: Option<Symbol>, cursor: Option<&str>) -> Request;
    /// The orders in an open-orders answer, and the cursor of the next page if any.
    fn orders_of(&self, answer: &Value) -> Result<(Vec<Order>, Option<String>)>;
    fn cancel_all(&self, symbol: Symbol) -> Request;
    /// Where a venue keeps conditional orders apart until they trigger (Bybit spot's
    /// `orderFilter=StopOrder`, Binance USD-M's algo service): the cancel of one such order...
    fn cancel_untriggered(&self, symbol: Symbol, which: &OrderRef) -> Option<Request> {
        let _ = (symbol, which);
        None
    }
    /// ...the lookup of one (its answer read as `queried`)...
    fn query_untriggered(&self, symbol: Symbol, which: &OrderRef) -> Option<Request> {
        let _ = (symbol, which);
        None
    }
    /// ...the cancel of all of a symbol's (its answer read as `all_canceled`)...
    fn cancel_all_untriggered(&self, symbol: Symbol) -> Option<Request> {
        let _ = symbol;
        None
    }
    /// ...and their listing (read as `orders_of`).
    fn open_untriggered(&self, symbol: Option<Symbol>, cursor: Option<&str>) -> Option<Request> {
        let _ = (symbol, cursor);
        None
    }
    /// Whether the cancel-all answer names the orders it canceled (else they are listed first).
    fn cancel_all_lists(&self) -> bool;
    /// What a cancel-all answer says: orders in full, or acknowledgements.
    fn all_canceled(&self, answer: &Value) -> Result<Vec<Written>>;
    fn balances(&self) -> Request;
    fn balances_of(&self, answer: &Value, now_ms: i64) -> Result<Vec<Balance>>;
    /// `None` on spot markets (no positions).
    fn positions(&self, symbol: Option<Symbol>) -> Option<Request>;
    /// A second request whose answer completes positions (Binance USD-M's leverage).
    fn position_extras(&self, symbol: Option<Symbol>) -> Option<Request>;
    fn positions_of(&self, answer: &Value, extras: Option<&Value>) -> Result<Vec<Position>>;
    /// How the account's fills or orders of a symbol page (`Listing::Fills` or `Orders`).
    fn history_paging(&self, listing: Listing) -> Paging;
    /// One page of the account's fills or orders of `symbol`.
    fn history_request(&self, listing: Listing, symbol: Symbol, query: &PageQuery<'_>) -> Request;
    /// The fills of a fills page in the venue's order, and the cursor of the next page if any
    /// (an orders page is read by `orders_of`).
    fn fills_of(&self, answer: &Value) -> Result<(Vec<Fill>, Option<String>)>;
    /// The executions of one order (for fills a stream missed).
    fn trades(&self, symbol: Symbol, order_id: &Id) -> Request;
    fn trades_of(&self, answer: &Value, order: &Order) -> Result<Vec<Fill>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_name_is_read_wherever_the_venue_writes_it() {
        let prefix = r#"{"stream":""#;
        let first = r#"{"stream":"btcusdt@trade","data":{}}"#;
        assert!(matches!(
            top_level_string(first, prefix, "stream"),
            Some(Cow::Borrowed("btcusdt@trade"))
        ));
        let later = r#"{"data":{"stream":"inner"},"stream":"ethusdt@depth"}"#;
        assert_eq!(
            top_level_string(later, prefix, "stream").as_deref(),
            Some("ethusdt@depth")
        );
        let escaped = r#"{"stream":"a\/b","data":1}"#;
        assert_eq!(
            top_level_string(escaped, prefix, "stream").as_deref(),
            Some("a/b")
        );
        assert_eq!(
            top_level_string(r#"{"result":null,"id":1}"#, prefix, "stream"),
            None
        );
        assert_eq!(top_level_string("not json", prefix, "stream"), None);
    }

    #[test]
    fn implausible_events_are_named_and_real_ones_pass() {
        let spot = binance::adapter::Adapter.market_reader(Market::Spot);
        let read = |text: &str| {
            let topic = spot.topic_of(text).unwrap().into_owned();
            let event = spot.read(text, 0).unwrap();
            implausible(&event, spot.symbol_of(&topic))
        };
        let trade = |s: &str, p: &str, q: &str| {
            format!(
                r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1,"s":"{s}","t":7,"p":"{p}","q":"{q}","T":2,"m":true}}}}"#
            )
        };
        assert_eq!(read(&trade("BTCUSDT", "4100.01", "0.0010")), None);
        for bad in [
            trade("BTCUSDT", "0", "1"),
            trade("BTCUSDT", "-1", "1"),
            trade("BTCUSDT", "1", "0"),
            trade("BTCUSDT", "1", "-0.5"),
            trade("ETHUSDT", "1", "1"),
        ] {
            assert!(read(&bad).is_some(), "{bad}");
        }
        let depth = |q: &str| {
            format!(
                r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["100.0","{q}"]],"a":[]}}}}"#
            )
        };
        assert_eq!(read(&depth("0")), None, "0 removes a level");
        assert!(read(&depth("-1")).is_some());
        // `!ticker@arr` is of every symbol.
        assert_eq!(spot.symbol_of("!ticker@arr"), None);

        let linear = bybit::adapter::Adapter.market_reader(Market::Linear);
        assert_eq!(linear.symbol_of("orderbook.50.BTCUSDT"), Some("BTCUSDT"));
        assert_eq!(linear.symbol_of("publicTrade.BTCUSDT"), Some("BTCUSDT"));
        let trades = |s: &str, q: &str| {
            format!(
                r#"{{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{{"T":1,"s":"{s}","S":"Buy","v":"{q}","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}}]}}"#
            )
        };
        let read = |text: &str| {
            let topic = linear.topic_of(text).unwrap().into_owned();
            let event = linear.read(text, 0).unwrap();
            implausible(&event, linear.symbol_of(&topic))
        };
        assert_eq!(read(&trades("BTCUSDT", "0.001")), None);
        assert!(read(&trades("ETHUSDT", "0.001")).is_some());
        assert!(read(&trades("BTCUSDT", "0")).is_some());
    }
}
