//! Binance market streams: raw (`/ws/<name>`) and combined (`/stream?streams=a/b`) connections,
//! SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY, server pings with the venue's
//! timeouts, the 24 h lifetime (scaled), the inbound message limit, and the USD-M route split
//! (`/public` for depth and bookTicker, `/market` for the rest; a stream on the wrong route is
//! accepted and never delivers, as on the venue).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, sleep_until};

use super::{BinanceState, decimals, exact, fixed};
use crate::book::Side;
use crate::exchange::candles::{Candle, KlinePacer, Span};
use crate::exchange::{Event, Exchange};
use crate::market::DepthDiff;
use crate::tape::{Deck, Frame};

/// Where a connection was opened, which decides what it may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Spot: every stream on one connection.
    Any,
    Public,
    Market,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Trade,
    AggTrade,
    /// Diff depth at speed index.
    Depth(usize),
    /// Partial book of 5/10/20 levels, every `Duration`.
    Partial(usize, Duration),
    BookTicker,
    Ticker,
    MiniTicker,
    /// `kline_<interval>`.
    Kline(Span),
    /// `markPrice` (every 3 s) or `markPrice@1s`, USD-M.
    MarkPrice(Duration),
    /// `forceOrder`, USD-M.
    ForceOrder,
}

impl Kind {
    /// The tape route a stream of this kind plays (partial books have none).
    fn route(&self) -> Option<&'static str> {
        Some(match self {
            Kind::Trade => "trade",
            Kind::AggTrade => "aggTrade",
            Kind::Depth(_) => "depth",
            Kind::Partial(..) => return None,
            Kind::BookTicker => "bookTicker",
            Kind::Ticker => "ticker",
            Kind::MiniTicker => "miniTicker",
            Kind::Kline(_) => "kline",
            Kind::MarkPrice(_) => "markPrice",
            Kind::ForceOrder => "forceOrder",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Stream {
    name: String,
    symbol: String,
    kind: Kind,
}

fn parse_stream(st: &BinanceState, name: &str) -> Option<Stream> {
    let spot = st.spot();
    let (symbol, rest) = name.split_once('@')?;
    if symbol.is_empty() || symbol.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let speed_index = |d: Duration| st.market.speeds.iter().position(|s| *s == d);
    let timing = &st.timing;
    let scale_ms = |ms: u64| -> Duration {
        // Speeds are named in venue milliseconds; the simulator may run them scaled.
        let default = if spot {
            timing.depth_spot_default
        } else {
            timing.depth_usdm_default
        };
        let venue_default = if spot { 1000 } else { 250 };
        default * ms as u32 / venue_default
    };
    let kind = match rest {
        "trade" => Kind::Trade,
        "aggTrade" => Kind::AggTrade,
        "bookTicker" => Kind::BookTicker,
        "ticker" => Kind::Ticker,
        "miniTicker" => Kind::MiniTicker,
        "markPrice" if !spot => Kind::MarkPrice(timing.ticker_interval * 3),
        "markPrice@1s" if !spot => Kind::MarkPrice(timing.ticker_interval),
        "forceOrder" if !spot => Kind::ForceOrder,
        kline if kline.starts_with("kline_") => {
            Kind::Kline(Span::binance(kline.strip_prefix("kline_")?, spot)?)
        }
        "depth" => Kind::Depth(speed_index(if spot {
            timing.depth_spot_default
        } else {
            timing.depth_usdm_default
        })?),
        "depth@100ms" => Kind::Depth(speed_index(timing.depth_fast)?),
        "depth@1000ms" if spot => Kind::Depth(speed_index(timing.depth_spot_default)?),
        "depth@500ms" if !spot => Kind::Depth(speed_index(scale_ms(500))?),
        "depth@250ms" if !spot => Kind::Depth(speed_index(timing.depth_usdm_default)?),
        other => {
            let (levels, speed) = match other.strip_prefix("depth")?.split_once('@') {
                Some((n, s)) => (n, Some(s)),
                None => (other.strip_prefix("depth")?, None),
            };
            let levels: usize = levels.parse().ok().filter(|n| [5, 10, 20].contains(n))?;
            let every = match (speed, spot) {
                (None, true) => scale_ms(1000),
                (None, false) => scale_ms(250),
                (Some("100ms"), _) => scale_ms(100),
                (Some("1000ms"), true) => scale_ms(1000),
                (Some("500ms"), false) => scale_ms(500),
                _ => return None,
            };
            Kind::Partial(levels, every)
        }
    };
    let symbol = symbol.to_ascii_uppercase();
    if !st.market.lock().symbols.contains_key(&symbol) {
        return None;
    }
    Some(Stream {
        name: name.to_owned(),
        symbol,
        kind,
    })
}

fn delivers(route: Route, kind: &Kind) -> bool {
    let book = matches!(kind, Kind::Depth(_) | Kind::Partial(..) | Kind::BookTicker);
    match route {
        Route::Any => true,
        Route::Public => book,
        Route::Market => !book,
    }
}

pub async fn raw(
    State(st): State<Arc<BinanceState>>,
    Path(name): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    let route = unrouted(&st);
    let deck = Deck::new(&st.market);
    ws.on_upgrade(move |socket| session(st, socket, route, initial_stream(name), false, deck))
}

/// `/ws/<n>` with a number is a bare connection some clients open per subscription group
/// (ccxt.pro); anything else names a stream.
fn initial_stream(name: String) -> Vec<String> {
    if name.bytes().all(|b| b.is_ascii_digit()) {
        Vec::new()
    } else {
        vec![name]
    }
}

/// USD-M without a routed path behaves as `/public` (PROTOCOLS.md section 0).
fn unrouted(st: &BinanceState) -> Route {
    if st.spot() { Route::Any } else { Route::Public }
}

pub async fn combined(
    State(st): State<Arc<BinanceState>>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let route = unrouted(&st);
    let deck = Deck::new(&st.market);
    ws.on_upgrade(move |socket| session(st, socket, route, streams_of(query), true, deck))
}

pub async fn bare(State(st): State<Arc<BinanceState>>, ws: WebSocketUpgrade) -> Response {
    let route = unrouted(&st);
    let deck = Deck::new(&st.market);
    ws.on_upgrade(move |socket| session(st, socket, route, Vec::new(), false, deck))
}

/// USD-M routed paths: `/{public|market}/ws[/<name>]` and `/{public|market}/stream?streams=`.
pub async fn routed_raw(
    State(st): State<Arc<BinanceState>>,
    Path((route, name)): Path<(String, String)>,
    ws: WebSocketUpgrade,
) -> Response {
    let route = if route == "market" {
        Route::Market
    } else {
        Route::Public
    };
    let deck = Deck::new(&st.market);
    ws.on_upgrade(move |socket| session(st, socket, route, initial_stream(name), false, deck))
}

pub async fn routed_combined(
    State(st): State<Arc<BinanceState>>,
    Path(route): Path<String>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let route = if route == "market" {
        Route::Market
    } else {
        Route::Public
    };
    let deck = Deck::new(&st.market);
    ws.on_upgrade(move |socket| session(st, socket, route, streams_of(query), true, deck))
}

/// The names in a combined-stream URL's `streams=a/b/c`.
pub fn streams_of(query: Option<String>) -> Vec<String> {
    let query = query.unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap_or_default();
    pairs
        .into_iter()
        .filter(|(k, _)| k == "streams")
        .flat_map(|(_, v)| {
            v.split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

const MAX_STREAMS: usize = 1024;

struct Session {
    st: Arc<BinanceState>,
    route: Route,
    combined: bool,
    streams: BTreeSet<Stream>,
    last_book_top: HashMap<String, (Decimal, Decimal, Decimal, Decimal)>,
    partial_due: HashMap<String, Instant>,
    partial_last_u: HashMap<String, u64>,
    klines: KlinePacer,
}

impl Session {
    fn frame(&self, stream: &str, data: Value) -> String {
        if self.combined {
            json!({"stream": stream, "data": data}).to_string()
        } else {
            data.to_string()
        }
    }

    fn subscribed<'a>(
        &'a self,
        symbol: &'a str,
        want: impl Fn(&Kind) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Stream> + 'a {
        self.streams
            .iter()
            .filter(move |s| s.symbol == symbol && want(&s.kind) && delivers(self.route, &s.kind))
    }

    /// Handles a control message; returns the reply.
    fn control(&mut self, text: &str) -> Value {
        let Ok(request) = serde_json::from_str::<Value>(text) else {
            return json!({"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"});
        };
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let valid_id = match &id {
            Value::Null => true,
            Value::Number(n) => n.is_i64(),
            // The docs say alphanumeric; the venue also takes the UUIDs Binance's own SDK sends.
            Value::String(s) => {
                s.len() <= 36 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }
            _ => false,
        };
        if !valid_id {
            return json!({"code": 2, "msg": "Invalid request: invalid id", "id": id});
        }
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let params: Vec<Value> = request
            .get("params")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match method {
            "SUBSCRIBE" | "UNSUBSCRIBE" => {
                let mut parsed = Vec::new();
                for p in &params {
                    let Some(name) = p.as_str() else {
                        return json!({"code": 2, "msg": "Invalid request: stream names must be strings", "id": id});
                    };
                    match parse_stream(&self.st, name) {
                        Some(s) => parsed.push(s),
                        None => {
                            return json!({"code": 2, "msg": format!("Invalid request: unknown stream '{name}'"), "id": id});
                        }
                    }
                }
                if method == "SUBSCRIBE" {
                    if self.streams.len() + parsed.len() > MAX_STREAMS {
                        return json!({"code": 2, "msg": "Invalid request: too many streams", "id": id});
                    }
                    self.streams.extend(parsed);
                } else {
                    for s in parsed {
                        self.klines.forget(&s.name);
                        self.streams.remove(&s);
                    }
                }
                json!({"result": null, "id": id})
            }
            "LIST_SUBSCRIPTIONS" => {
                let names: Vec<&str> = self.streams.iter().map(|s| s.name.as_str()).collect();
                json!({"result": names, "id": id})
            }
            "SET_PROPERTY" => match (
                params.first().and_then(Value::as_str),
                params.get(1).and_then(Value::as_bool),
            ) {
                (Some("combined"), Some(on)) => {
                    self.combined = on;
                    json!({"result": null, "id": id})
                }
                _ => json!({"code": 0, "msg": "Unknown property", "id": id}),
            },
            "GET_PROPERTY" => match params.first().and_then(Value::as_str) {
                Some("combined") => json!({"result": self.combined, "id": id}),
                _ => json!({"code": 0, "msg": "Unknown property", "id": id}),
            },
            _ => {
                json!({"code": 2, "msg": format!("Invalid request: unknown variant `{method}`"), "id": id})
            }
        }
    }

    fn on_event(&self, event: &Event, now: i64, out: &mut Vec<String>) {
        if let Event::Liquidation {
            symbol,
            side,
            price,
            qty,
            time_ms,
        } = event
        {
            let decimals = decimals(false, &self.st.market.lock().symbols[symbol].spec);
            for s in self.subscribed(symbol, |k| *k == Kind::ForceOrder) {
                let data = force_order_event(symbol, *side, *price, *qty, *time_ms, decimals, now);
                out.push(self.frame(&s.name, data));
            }
            return;
        }
        let Event::Trade { symbol, .. } = event else {
            return;
        };
        let spot = self.st.spot();
        let decimals = decimals(spot, &self.st.market.lock().symbols[symbol].spec);
        for s in self.subscribed(symbol, |k| matches!(k, Kind::Trade | Kind::AggTrade)) {
            let data = trade_event(s.kind == Kind::Trade, spot, decimals, event, now);
            out.push(self.frame(&s.name, data));
        }
    }

    fn on_depth(&self, diff: &DepthDiff, now: i64, out: &mut Vec<String>) {
        let spot = self.st.spot();
        let wanted: Vec<&Stream> = self
            .subscribed(&diff.symbol, |k| *k == Kind::Depth(diff.speed))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let decimals = decimals(spot, &self.st.market.lock().symbols[&diff.symbol].spec);
        let data = depth_event(spot, decimals, diff, now);
        for s in wanted {
            out.push(self.frame(&s.name, data.clone()));
        }
    }

    /// A tape frame, to every subscribed stream of its kind (any speed); whether any took it.
    fn on_frame(&self, frame: &Frame, out: &mut Vec<String>) -> bool {
        let before = out.len();
        for s in self.subscribed(&frame.symbol, |k| k.route() == Some(frame.route.as_str())) {
            out.push(if self.combined {
                format!(r#"{{"stream":"{}","data":{}}}"#, s.name, frame.text)
            } else {
                frame.text.clone()
            });
        }
        out.len() > before
    }

    /// Periodic streams: tickers, partial books, book tickers.
    fn on_tick(&mut self, now: i64, ticker_due: bool, out: &mut Vec<String>) {
        let spot = self.st.spot();
        let instant = Instant::now();
        let streams: Vec<Stream> = self
            .streams
            .iter()
            .filter(|s| delivers(self.route, &s.kind))
            .cloned()
            .collect();
        let ex = self.st.market.lock();
        for s in streams {
            let state = &ex.symbols[&s.symbol];
            let spec = &state.spec;
            let (pd, qd) = decimals(spot, spec);
            match &s.kind {
                Kind::BookTicker => {
                    let (b, bq) = state.top(Side::Buy);
                    let (a, aq) = state.top(Side::Sell);
                    let top = (b, bq, a, aq);
                    if self.last_book_top.get(&s.symbol) == Some(&top) {
                        continue;
                    }
                    self.last_book_top.insert(s.symbol.clone(), top);
                    let data = book_ticker_event(spot, (pd, qd), &s.symbol, state, now);
                    out.push(self.frame(&s.name, data));
                }
                Kind::Partial(levels, every) => {
                    let due = self.partial_due.entry(s.name.clone()).or_insert(instant);
                    if instant < *due {
                        continue;
                    }
                    *due = instant + *every;
                    let render = |side| -> Vec<Value> {
                        state
                            .book
                            .levels(side, *levels)
                            .into_iter()
                            .map(|(p, q)| json!([exact(spec.price(p), pd), exact(spec.qty(q), qd)]))
                            .collect()
                    };
                    let u = state.book.update_id;
                    let data = if spot {
                        json!({"lastUpdateId": u, "bids": render(Side::Buy), "asks": render(Side::Sell)})
                    } else {
                        let pu = self.partial_last_u.insert(s.name.clone(), u).unwrap_or(u);
                        json!({"e": "depthUpdate", "E": now, "T": now, "s": s.symbol, "U": pu + 1, "u": u, "pu": pu,
                            "b": render(Side::Buy), "a": render(Side::Sell)})
                    };
                    out.push(self.frame(&s.name, data));
                }
                Kind::Kline(span) => {
                    // Spot pushes every 2 s (1 s candles every second), USD-M every 250 ms.
                    let every = match (spot, span) {
                        (true, Span::Ms(1_000)) => self.st.timing.kline_interval / 2,
                        (true, _) => self.st.timing.kline_interval,
                        (false, _) => self.st.timing.kline_interval / 8,
                    };
                    for (candle, closed) in
                        self.klines.due(&s.name, *span, &state.candles, now, every)
                    {
                        let vd = super::rest::quote_decimals(spot);
                        let data = kline_event(&s, (pd, qd, vd), &candle, closed, now);
                        out.push(self.frame(&s.name, data));
                    }
                }
                Kind::MarkPrice(every) => {
                    let due = self.partial_due.entry(s.name.clone()).or_insert(instant);
                    if instant < *due {
                        continue;
                    }
                    *due = instant + *every;
                    let symbol = s.symbol.as_str();
                    let data = json!({"e": "markPriceUpdate", "E": now, "s": symbol,
                        "p": fixed(ex.mark(symbol), 8), "i": fixed(ex.index_price(symbol), 8),
                        "P": fixed(ex.index_price(symbol), 8), "r": fixed(ex.funding_rate(symbol), 8),
                        "T": crate::exchange::derivs::next_funding_ms(now)});
                    out.push(self.frame(&s.name, data));
                }
                Kind::Ticker | Kind::MiniTicker if ticker_due => {
                    out.push(self.frame(
                        &s.name,
                        ticker_json(&ex, &s.symbol, s.kind == Kind::MiniTicker, spot, now),
                    ));
                }
                _ => {}
            }
        }
    }
}

/// A `forceOrder` event: the liquidation order, filled at once at its price.
fn force_order_event(
    symbol: &str,
    side: Side,
    price: Decimal,
    qty: Decimal,
    time_ms: i64,
    (pd, qd): (u32, u32),
    now: i64,
) -> Value {
    let side = if side == Side::Buy { "BUY" } else { "SELL" };
    json!({"e": "forceOrder", "E": now, "o": {"s": symbol, "S": side, "o": "LIMIT", "f": "IOC",
        "q": exact(qty, qd), "p": exact(price, pd), "ap": exact(price, pd), "X": "FILLED",
        "l": exact(qty, qd), "z": exact(qty, qd), "T": time_ms}})
}

/// A `kline` event; `f`/`L` are -1 for a candle without trades.
fn kline_event(
    s: &Stream,
    (pd, qd, vd): (u32, u32, u32),
    c: &Candle,
    closed: bool,
    now: i64,
) -> Value {
    let interval = s.name.rsplit_once("kline_").map_or("", |(_, i)| i);
    let id = |id: Option<u64>| id.map_or(-1, |i| i as i64);
    json!({"e": "kline", "E": now, "s": s.symbol, "k": {"t": c.open_ms, "T": c.close_ms, "s": s.symbol,
        "i": interval, "f": id(c.first_id), "L": id(c.last_id), "o": exact(c.open, pd), "c": exact(c.close, pd),
        "h": exact(c.high, pd), "l": exact(c.low, pd), "v": exact(c.volume, qd), "n": c.trades, "x": closed,
        "q": exact(c.quote_volume, vd), "V": exact(c.taker_buy_volume, qd), "Q": exact(c.taker_buy_quote_volume, vd),
        "B": "0"}})
}

/// A `trade` (or `aggTrade`) event of a trade.
pub(crate) fn trade_event(
    raw: bool,
    spot: bool,
    (pd, qd): (u32, u32),
    trade: &Event,
    now: i64,
) -> Value {
    let Event::Trade {
        symbol,
        id,
        price,
        qty,
        taker,
        time_ms,
    } = trade
    else {
        return Value::Null;
    };
    let maker_is_buyer = *taker == Side::Sell;
    match (raw, spot) {
        (true, true) => {
            json!({"e": "trade", "E": now, "s": symbol, "t": id, "p": exact(*price, pd),
            "q": exact(*qty, qd), "T": time_ms, "m": maker_is_buyer, "M": true})
        }
        (true, false) => {
            json!({"e": "trade", "E": now, "T": time_ms, "s": symbol, "t": id,
            "p": exact(*price, pd), "q": exact(*qty, qd), "X": "MARKET", "m": maker_is_buyer})
        }
        (false, true) => {
            json!({"e": "aggTrade", "E": now, "s": symbol, "a": id, "p": exact(*price, pd),
            "q": exact(*qty, qd), "f": id, "l": id, "T": time_ms, "m": maker_is_buyer, "M": true})
        }
        (false, false) => {
            json!({"e": "aggTrade", "E": now, "s": symbol, "a": id, "p": exact(*price, pd),
            "q": exact(*qty, qd), "nq": exact(*qty, qd), "f": id, "l": id, "T": time_ms, "m": maker_is_buyer})
        }
    }
}

/// A `bookTicker` event: the symbol's best bid and ask.
pub(crate) fn book_ticker_event(
    spot: bool,
    (pd, qd): (u32, u32),
    symbol: &str,
    state: &crate::exchange::SymbolState,
    now: i64,
) -> Value {
    let (b, bq) = state.top(Side::Buy);
    let (a, aq) = state.top(Side::Sell);
    let u = state.book.update_id;
    let mut data = json!({"u": u, "s": symbol, "b": exact(b, pd), "B": exact(bq, qd), "a": exact(a, pd), "A": exact(aq, qd)});
    if !spot {
        data["e"] = json!("bookTicker");
        data["E"] = json!(now);
        data["T"] = json!(now);
    }
    data
}

/// A `depthUpdate` event of a diff (USD-M adds `T` and `pu`, and lists bids ascending).
pub(crate) fn depth_event(spot: bool, (pd, qd): (u32, u32), diff: &DepthDiff, now: i64) -> Value {
    let render = |levels: &[(Decimal, Decimal)]| -> Vec<Value> {
        levels
            .iter()
            .map(|(p, q)| json!([exact(*p, pd), exact(*q, qd)]))
            .collect()
    };
    let mut bids = diff.bids.clone();
    if !spot {
        // USD-M sends diff bids in ascending price order (seen in every recording).
        bids.sort_by_key(|a| a.0);
    }
    let mut data = json!({"e": "depthUpdate", "E": now, "s": diff.symbol, "U": diff.first_id, "u": diff.last_id,
        "b": render(&bids), "a": render(&diff.asks)});
    if !spot {
        data["T"] = json!(diff.time_ms);
        data["pu"] = json!(diff.prev_last_id);
    }
    data
}

fn ticker_json(ex: &Exchange, symbol: &str, mini: bool, spot: bool, now: i64) -> Value {
    let s = &ex.symbols[symbol];
    let spec = &s.spec;
    let (pd, qd) = decimals(spot, spec);
    let f = |d: Decimal| fixed(d, pd);
    if mini {
        return json!({"e": "24hrMiniTicker", "E": now, "s": symbol, "c": f(s.last_price), "o": f(s.open_24h),
            "h": f(s.high_24h), "l": f(s.low_24h), "v": fixed(s.volume_24h, qd), "q": fixed(s.quote_volume_24h, 2)});
    }
    let st = s.stats();
    let (change, vwap, first, last, last_qty) = (
        st.change,
        st.vwap,
        st.first_trade,
        st.last_trade,
        st.last_qty,
    );
    let pct = (st.change_ratio * Decimal::from(100)).round_dp(3);
    let mut v = json!({"e": "24hrTicker", "E": now, "s": symbol, "p": f(change), "P": fixed(pct, 3), "w": f(vwap),
        "c": f(s.last_price), "Q": exact(last_qty, qd), "o": f(s.open_24h), "h": f(s.high_24h), "l": f(s.low_24h),
        "v": fixed(s.volume_24h, qd), "q": fixed(s.quote_volume_24h, 2), "O": now - 86_400_000, "C": now,
        "F": first, "L": last, "n": s.trade_count});
    if spot {
        let ((b, bq), (a, aq)) = (s.top(Side::Buy), s.top(Side::Sell));
        v["x"] = json!(f(s.open_24h));
        v["b"] = json!(f(b));
        v["B"] = json!(exact(bq, qd));
        v["a"] = json!(f(a));
        v["A"] = json!(exact(aq, qd));
    }
    v
}

async fn session(
    st: Arc<BinanceState>,
    mut socket: WebSocket,
    route: Route,
    initial: Vec<String>,
    combined: bool,
    // Made when the upgrade was requested, so a play started right after the handshake is seen.
    mut deck: Deck,
) {
    let spot = st.spot();
    let mut streams = BTreeSet::new();
    for name in &initial {
        match parse_stream(&st, name) {
            Some(s) => {
                streams.insert(s);
            }
            None => {
                // The venue refuses the connection for an unknown stream in the URL.
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    }
    let mut session = Session {
        st: st.clone(),
        route,
        combined,
        streams,
        last_book_top: HashMap::new(),
        partial_due: HashMap::new(),
        partial_last_u: HashMap::new(),
        klines: KlinePacer::default(),
    };
    let faults = &st.market.faults;
    let mut link = crate::wire::Link::open(
        &st.market,
        if route == Route::Market {
            "market"
        } else {
            "public"
        },
        initial.clone(),
    );
    let mut events = st.market.lock().subscribe();
    let mut depth = st.market.depth.subscribe();
    let timing = &st.timing;
    let (ping_every, pong_timeout, inbound_limit) = if spot {
        (timing.spot_ping_interval, timing.spot_pong_timeout, 5)
    } else {
        (timing.usdm_ping_interval, timing.usdm_pong_timeout, 10)
    };
    let started = Instant::now();
    let end_of_life = started + timing.max_connection_lifetime;
    let mut next_ping = started + ping_every;
    let mut outstanding_ping: Option<(Vec<u8>, Instant)> = None;
    let tick_every = timing
        .depth_fast
        .min(timing.ticker_interval)
        .max(Duration::from_millis(1));
    let mut tick = tokio::time::interval(tick_every);
    let mut next_ticker = started + timing.ticker_interval;
    let mut inbound_window = (started, 0u32);
    let mut out: Vec<String> = Vec::new();
    loop {
        if !link.thawed().await {
            return;
        }
        let pong_deadline = outstanding_ping.as_ref().map(|(_, at)| *at + pong_timeout);
        tokio::select! {
            _ = link.changed() => continue,
            _ = sleep_until(end_of_life) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            _ = sleep_until(pong_deadline.unwrap_or(end_of_life)), if pong_deadline.is_some() => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            _ = sleep_until(next_ping) => {
                let payload = st.market.clock.now_ms().to_string().into_bytes();
                if socket.send(Message::Ping(payload.clone().into())).await.is_err() {
                    return;
                }
                if outstanding_ping.is_none() {
                    outstanding_ping = Some((payload, Instant::now()));
                }
                next_ping = Instant::now() + ping_every;
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                let now = Instant::now();
                if now.duration_since(inbound_window.0) >= Duration::from_secs(1) {
                    inbound_window = (now, 0);
                }
                inbound_window.1 += 1;
                if inbound_window.1 > inbound_limit {
                    // Over the venue's inbound message rate: disconnected.
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                match message {
                    Message::Text(text) => {
                        let reply = session.control(text.as_str());
                        link.set_streams(session.streams.iter().map(|s| s.name.clone()));
                        out.push(reply.to_string());
                    }
                    Message::Pong(payload)
                        if outstanding_ping.as_ref().is_some_and(|(p, _)| p.as_slice() == payload.as_ref()) => {
                            outstanding_ping = None;
                        }
                    Message::Close(_) => return,
                    _ => {}
                }
            }
            event = events.recv() => match event {
                Ok(event) => session.on_event(&event, st.market.clock.now_ms(), &mut out),
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
            diff = depth.recv() => match diff {
                Ok(diff) => session.on_depth(&diff, st.market.clock.now_ms(), &mut out),
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
            _ = deck.turn() => deck.take(|frame| session.on_frame(frame, &mut out)),
            _ = tick.tick() => {
                let now = Instant::now();
                let ticker_due = now >= next_ticker;
                if ticker_due {
                    next_ticker = now + timing.ticker_interval;
                }
                session.on_tick(st.market.clock.now_ms(), ticker_due, &mut out);
            }
        }
        deck.writing();
        if !crate::wire::flush(&mut socket, &mut out, faults).await {
            return;
        }
    }
}
