//! Binance market-stream messages (spot and USD-M, raw or combined-stream envelopes) read into
//! the core's types. Every number arrives as a string and is parsed exactly; ids are 64-bit
//! integers, never floats. Kinds we do not use (mark prices, partial books) come back as
//! [`MarketMessage::Other`] so the caller can count and skip them.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::model::{
    AggTrade, FundingRate, Id, Interval, Kline, Level, Liquidation, MarkPrice, Market,
    OpenInterest, PositionSide, Side, Source, Symbol, SymbolInfo, Ticker, Trade, Venue,
    parse_decimal,
};
use crate::{Error, Result};

/// A diff-depth event (`depthUpdate`): levels changed between update ids `first_id..=last_id`;
/// USD-M also names the previous event's last id (`pu`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthDiff {
    pub symbol: Symbol,
    pub first_id: u64,
    pub last_id: u64,
    pub prev_last_id: Option<u64>,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    pub exchange_time_ms: i64,
}

/// A best bid/offer event (`bookTicker`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookTop {
    pub symbol: Symbol,
    pub update_id: u64,
    pub bid: Level,
    pub ask: Level,
    /// USD-M stamps it; spot does not.
    pub exchange_time_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketMessage {
    Trade(Trade),
    AggTrade(AggTrade),
    Depth(DepthDiff),
    BookTop(BookTop),
    /// One or several (`!ticker@arr`) 24 h tickers.
    Tickers(Vec<Ticker>),
    Kline(Kline),
    /// One or several (`!markPrice@arr`) mark prices.
    Marks(Vec<MarkPrice>),
    Liquidation(Liquidation),
    /// A kind we do not read (mark prices, partial books, control replies).
    Other,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct Event<'a> {
    e: Option<&'a str>,
    #[serde(rename = "E")]
    event_time: Option<i64>,
    s: Option<&'a str>,
    // trade / aggTrade
    t: Option<u64>,
    #[serde(borrow, default)]
    a: Option<Mixed<'a>>,
    /// aggTrade: its first trade id (some recordings lack `a`; the range identifies it too).
    f: Option<u64>,
    /// aggTrade: its last trade id (a 24 h ticker's `l` is its low price).
    #[serde(borrow, default)]
    l: Option<Mixed<'a>>,
    p: Option<&'a str>,
    q: Option<&'a str>,
    #[serde(rename = "T")]
    trade_time: Option<i64>,
    m: Option<bool>,
    // depthUpdate
    #[serde(rename = "U")]
    first_id: Option<u64>,
    u: Option<u64>,
    pu: Option<u64>,
    #[serde(borrow, default)]
    b: Option<Mixed<'a>>,
    // bookTicker / 24hrTicker
    #[serde(rename = "B")]
    bid_qty: Option<&'a str>,
    #[serde(rename = "A")]
    ask_qty: Option<&'a str>,
    c: Option<&'a str>,
    v: Option<&'a str>,
    // kline
    #[serde(borrow)]
    k: Option<RawKline<'a>>,
    // markPriceUpdate (`T` is then the next funding time)
    i: Option<&'a str>,
    #[serde(rename = "P")]
    settle: Option<&'a str>,
    r: Option<&'a str>,
    /// forceOrder: the liquidation order (a 24 h ticker's `o` is its open price).
    #[serde(borrow)]
    o: Option<&'a RawValue>,
}

/// A forceOrder event's order.
#[derive(Deserialize)]
struct RawForceOrder<'a> {
    s: &'a str,
    #[serde(rename = "S")]
    side: &'a str,
    q: &'a str,
    p: &'a str,
    ap: Option<&'a str>,
    #[serde(rename = "T")]
    time: Option<i64>,
}

/// A kline event's candle (`k`); trade ids (`f`, `L`) and the ignored `B` are not read.
#[derive(Deserialize)]
struct RawKline<'a> {
    t: i64,
    #[serde(rename = "T")]
    close_time: i64,
    i: &'a str,
    o: &'a str,
    h: &'a str,
    l: &'a str,
    c: &'a str,
    v: &'a str,
    q: Option<&'a str>,
    n: Option<u64>,
    x: bool,
    #[serde(rename = "V")]
    taker_base: Option<&'a str>,
    #[serde(rename = "Q")]
    taker_quote: Option<&'a str>,
}

/// `a` is the aggTrade id (or, on older trades, the seller's order id), the best ask, or the
/// depth asks; `b` is the best bid price, the depth bids, or (older trades) the buyer's order id.
/// Read by the JSON token's kind, without serde's buffering of untagged enums (the hot path of
/// every depth diff).
enum Mixed<'a> {
    Id(u64),
    Price(&'a str),
    Levels(Vec<[&'a str; 2]>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Mixed<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Kind<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Kind<'a> {
            type Value = Mixed<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an id, a price or a list of [price, quantity]")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
                Ok(Mixed::Id(v))
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(Mixed::Price(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut levels = Vec::with_capacity(seq.size_hint().unwrap_or(8));
                while let Some(level) = seq.next_element::<[&'de str; 2]>()? {
                    levels.push(level);
                }
                Ok(Mixed::Levels(levels))
            }
        }
        deserializer.deserialize_any(Kind(std::marker::PhantomData))
    }
}

fn bad(reason: impl Into<String>) -> Error {
    Error::protocol(Venue::Binance, reason)
}

/// The aggressor's side from `m` (the buyer was the maker: the aggressor sold).
fn aggressor(maker_is_buyer: Option<bool>) -> Result<Side> {
    match maker_is_buyer {
        Some(true) => Ok(Side::Sell),
        Some(false) => Ok(Side::Buy),
        None => Err(bad("'m' missing")),
    }
}

fn number(field: &str, text: Option<&str>) -> Result<rust_decimal::Decimal> {
    let text = text.ok_or_else(|| bad(format!("'{field}' missing")))?;
    parse_decimal(text).map_err(|e| bad(format!("'{field}' = {text:?}: {e}")))
}

fn levels(field: &str, raw: &[[&str; 2]]) -> Result<Vec<Level>> {
    raw.iter()
        .map(|[p, q]| {
            Ok(Level {
                price: number(field, Some(p))?,
                qty: number(field, Some(q))?,
            })
        })
        .collect()
}

/// Reads one text frame of a market stream (raw event or combined envelope).
pub fn parse(market: Market, text: &str, local_time_ns: i64) -> Result<MarketMessage> {
    let full = || match serde_json::from_str::<Envelope>(text) {
        Ok(envelope) => envelope.data.get(),
        Err(_) => text,
    };
    match sliced_payload(text) {
        // A frame the slice misreads (keys after `data`) fails there and is read in full.
        Some(data) => parse_payload(market, data, local_time_ns)
            .or_else(|_| parse_payload(market, full(), local_time_ns)),
        None => parse_payload(market, full(), local_time_ns),
    }
}

/// The `data` of a combined-stream envelope as Binance writes it, `{"stream":"…","data":…}`
/// unspaced and in this order, sliced out without a first pass over the event.
fn sliced_payload(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(r#"{"stream":""#)?;
    let end = rest.find(['"', '\\'])?;
    let data = rest[end..]
        .strip_prefix(r#"","data":"#)?
        .strip_suffix('}')?;
    (data.starts_with(['{', '[']) && data.ends_with(['}', ']'])).then_some(data)
}

fn parse_payload(market: Market, data: &str, local_time_ns: i64) -> Result<MarketMessage> {
    if data.starts_with('[') {
        // An array (`!ticker@arr`) holds events, one level deep: nothing here recurses, so a
        // frame of nested arrays is one unreadable message, never a deep stack.
        let events: Vec<&RawValue> =
            serde_json::from_str(data).map_err(|e| bad(format!("array: {e}")))?;
        let mut tickers = Vec::with_capacity(events.len());
        let mut marks = Vec::new();
        for event in events {
            let event = event.get();
            if !event.starts_with('{') {
                return Err(bad(format!("array of non-events: {event:.50}")));
            }
            match parse_event(market, event, local_time_ns)? {
                MarketMessage::Tickers(mut one) => tickers.append(&mut one),
                MarketMessage::Marks(mut one) => marks.append(&mut one),
                _ => {}
            }
        }
        return Ok(match (tickers.is_empty(), marks.is_empty()) {
            (false, _) => MarketMessage::Tickers(tickers),
            (true, false) => MarketMessage::Marks(marks),
            (true, true) => MarketMessage::Other,
        });
    }
    parse_event(market, data, local_time_ns)
}

/// One event object (not an array).
fn parse_event(market: Market, data: &str, local_time_ns: i64) -> Result<MarketMessage> {
    let event: Event = serde_json::from_str(data).map_err(|e| bad(format!("{e}: {data:.200}")))?;
    let source = Source {
        venue: Venue::Binance,
        market,
    };
    let symbol = || {
        event
            .s
            .ok_or_else(|| bad("'s' (symbol) missing"))
            .and_then(|s| Symbol::from_wire(s).map_err(bad))
    };
    Ok(match event.e {
        Some("trade") => {
            let id = event.t.ok_or_else(|| bad("trade without its id"))?;
            MarketMessage::Trade(Trade {
                source,
                symbol: symbol()?,
                trade_id: Id::from_u64(id),
                price: number("p", event.p)?,
                qty: number("q", event.q)?,
                side: aggressor(event.m)?,
                exchange_time_ms: event.trade_time.or(event.event_time).unwrap_or(0),
                local_time_ns,
            })
        }
        Some("aggTrade") => {
            // Some recordings lack `a`: the first trade id then names it.
            let agg_id = match &event.a {
                Some(Mixed::Id(id)) => Some(*id),
                _ => event.f,
            };
            let last = match &event.l {
                Some(Mixed::Id(id)) => Some(*id),
                _ => None,
            };
            MarketMessage::AggTrade(AggTrade {
                source,
                symbol: symbol()?,
                agg_id: agg_id.ok_or_else(|| bad("aggTrade without its id"))?,
                first_trade_id: event.f,
                last_trade_id: last,
                price: number("p", event.p)?,
                qty: number("q", event.q)?,
                side: aggressor(event.m)?,
                exchange_time_ms: event.trade_time.or(event.event_time).unwrap_or(0),
                local_time_ns,
            })
        }
        Some("depthUpdate") => {
            let (Some(first_id), Some(last_id)) = (event.first_id, event.u) else {
                return Err(bad("depthUpdate without U/u"));
            };
            let bids = match &event.b {
                Some(Mixed::Levels(raw)) => levels("b", raw)?,
                _ => return Err(bad("depthUpdate without bids")),
            };
            let asks = match &event.a {
                Some(Mixed::Levels(raw)) => levels("a", raw)?,
                _ => return Err(bad("depthUpdate without asks")),
            };
            MarketMessage::Depth(DepthDiff {
                symbol: symbol()?,
                first_id,
                last_id,
                prev_last_id: event.pu,
                bids,
                asks,
                exchange_time_ms: event.trade_time.or(event.event_time).unwrap_or(0),
            })
        }
        Some("24hrTicker") => {
            let price = |v: &Option<&str>| v.map(|t| number("ticker", Some(t))).transpose();
            let bid = match &event.b {
                Some(Mixed::Price(p)) => Some(*p),
                _ => None,
            };
            let ask = match &event.a {
                Some(Mixed::Price(p)) => Some(*p),
                _ => None,
            };
            MarketMessage::Tickers(vec![Ticker {
                source,
                symbol: symbol()?,
                last: number("c", event.c)?,
                bid: price(&bid)?,
                bid_qty: price(&event.bid_qty)?,
                ask: price(&ask)?,
                ask_qty: price(&event.ask_qty)?,
                volume_24h: number("v", event.v)?,
                quote_volume_24h: number("q", event.q)?,
                exchange_time_ms: event.event_time.unwrap_or(0),
                local_time_ns,
            }])
        }
        Some("kline") => {
            let k = event.k.as_ref().ok_or_else(|| bad("kline without 'k'"))?;
            let optional =
                |field: &str, v: Option<&str>| v.map(|t| number(field, Some(t))).transpose();
            MarketMessage::Kline(Kline {
                source,
                symbol: symbol()?,
                interval: k
                    .i
                    .parse()
                    .map_err(|_| bad(format!("kline interval {:?}", k.i)))?,
                open_time_ms: k.t,
                close_time_ms: k.close_time,
                open: number("o", Some(k.o))?,
                high: number("h", Some(k.h))?,
                low: number("l", Some(k.l))?,
                close: number("c", Some(k.c))?,
                volume: number("v", Some(k.v))?,
                quote_volume: number("q", k.q)?,
                trades: k.n,
                taker_buy_volume: optional("V", k.taker_base)?,
                taker_buy_quote_volume: optional("Q", k.taker_quote)?,
                closed: k.x,
                exchange_time_ms: event.event_time.unwrap_or(0),
                local_time_ns,
            })
        }
        Some("markPriceUpdate") => {
            let optional =
                |field: &str, v: Option<&str>| v.map(|t| number(field, Some(t))).transpose();
            // A delivery contract has no funding: `"r":"0.00000000","T":0`.
            let funds = event.trade_time.is_some_and(|t| t > 0);
            MarketMessage::Marks(vec![MarkPrice {
                source,
                symbol: symbol()?,
                mark_price: number("p", event.p)?,
                index_price: optional("i", event.i)?,
                estimated_settle_price: optional("P", event.settle)?,
                funding_rate: if funds { optional("r", event.r)? } else { None },
                next_funding_time_ms: event.trade_time.filter(|_| funds),
                open_interest: None,
                exchange_time_ms: event.event_time.unwrap_or(0),
                local_time_ns,
            }])
        }
        Some("forceOrder") => {
            let raw = event.o.ok_or_else(|| bad("forceOrder without 'o'"))?;
            let order: RawForceOrder =
                serde_json::from_str(raw.get()).map_err(|e| bad(format!("forceOrder: {e}")))?;
            MarketMessage::Liquidation(Liquidation {
                source,
                symbol: Symbol::from_wire(order.s).map_err(bad)?,
                // The liquidation order sells a long, buys back a short.
                position_side: match order.side {
                    "SELL" => PositionSide::Long,
                    "BUY" => PositionSide::Short,
                    other => return Err(bad(format!("forceOrder side {other:?}"))),
                },
                price: number("p", Some(order.p))?,
                qty: number("q", Some(order.q))?,
                average_price: order.ap.map(|a| number("ap", Some(a))).transpose()?,
                exchange_time_ms: order.time.or(event.event_time).unwrap_or(0),
                local_time_ns,
            })
        }
        Some("bookTicker") | None if event.u.is_some() && event.bid_qty.is_some() => {
            let (Some(Mixed::Price(bid)), Some(Mixed::Price(ask))) = (&event.b, &event.a) else {
                return Err(bad("bookTicker without b/a"));
            };
            MarketMessage::BookTop(BookTop {
                symbol: symbol()?,
                update_id: event.u.unwrap_or(0),
                bid: Level {
                    price: number("b", Some(bid))?,
                    qty: number("B", event.bid_qty)?,
                },
                ask: Level {
                    price: number("a", Some(ask))?,
                    qty: number("A", event.ask_qty)?,
                },
                exchange_time_ms: event.event_time,
            })
        }
        _ => MarketMessage::Other,
    })
}

/// A `GET /fapi/v1/premiumIndex?symbol=` answer.
pub fn premium_index(market: Market, answer: &serde_json::Value) -> Result<MarkPrice> {
    let text = |k: &str| answer.get(k).and_then(serde_json::Value::as_str);
    let optional = |k: &str| {
        text(k)
            .filter(|t| !t.is_empty())
            .map(|t| number(k, Some(t)))
            .transpose()
    };
    let next = answer
        .get("nextFundingTime")
        .and_then(serde_json::Value::as_i64)
        .filter(|t| *t > 0);
    Ok(MarkPrice {
        source: Source {
            venue: Venue::Binance,
            market,
        },
        symbol: Symbol::from_wire(
            text("symbol").ok_or_else(|| bad("premiumIndex without symbol"))?,
        )
        .map_err(bad)?,
        mark_price: number("markPrice", text("markPrice"))?,
        index_price: optional("indexPrice")?,
        estimated_settle_price: optional("estimatedSettlePrice")?,
        funding_rate: if next.is_some() {
            optional("lastFundingRate")?
        } else {
            None
        },
        next_funding_time_ms: next,
        open_interest: None,
        exchange_time_ms: answer
            .get("time")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0),
        local_time_ns: 0,
    })
}

/// A `GET /fapi/v1/openInterest` answer (`{openInterest, symbol, time}`).
pub fn open_interest(market: Market, answer: &serde_json::Value) -> Result<OpenInterest> {
    let text = |k: &str| answer.get(k).and_then(serde_json::Value::as_str);
    Ok(OpenInterest {
        source: Source {
            venue: Venue::Binance,
            market,
        },
        symbol: Symbol::from_wire(
            text("symbol").ok_or_else(|| bad("openInterest without symbol"))?,
        )
        .map_err(bad)?,
        open_interest: number("openInterest", text("openInterest"))?,
        exchange_time_ms: answer
            .get("time")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0),
        local_time_ns: 0,
    })
}

/// A `GET aggTrades` answer: `[{a, p, q, f, l, T, m}]` (spot adds `M`, USD-M `nq`), the
/// symbol being the one asked for.
pub fn agg_trades(
    market: Market,
    symbol: Symbol,
    answer: &serde_json::Value,
) -> Result<Vec<AggTrade>> {
    let rows = answer
        .as_array()
        .ok_or_else(|| bad(format!("aggTrades: not a list: {answer:.100}")))?;
    rows.iter()
        .map(|row| {
            let id = |k: &str| row.get(k).and_then(serde_json::Value::as_u64);
            let text = |k: &str| row.get(k).and_then(serde_json::Value::as_str);
            Ok(AggTrade {
                source: Source {
                    venue: Venue::Binance,
                    market,
                },
                symbol,
                agg_id: id("a").ok_or_else(|| bad(format!("aggTrade without 'a': {row}")))?,
                first_trade_id: id("f"),
                last_trade_id: id("l"),
                price: number("p", text("p"))?,
                qty: number("q", text("q"))?,
                side: aggressor(row.get("m").and_then(serde_json::Value::as_bool))?,
                exchange_time_ms: row
                    .get("T")
                    .and_then(serde_json::Value::as_i64)
                    .ok_or_else(|| bad(format!("aggTrade without 'T': {row}")))?,
                local_time_ns: 0,
            })
        })
        .collect()
}

/// A `GET /fapi/v1/fundingRate` answer (oldest first): `[{symbol, fundingRate, fundingTime,
/// markPrice}]`; `markPrice` is missing from older rows.
pub fn funding_rates(market: Market, answer: &serde_json::Value) -> Result<Vec<FundingRate>> {
    let rows = answer
        .as_array()
        .ok_or_else(|| bad(format!("fundingRate: not a list: {answer:.100}")))?;
    let mut all = rows
        .iter()
        .map(|row| {
            let text = |k: &str| row.get(k).and_then(serde_json::Value::as_str);
            Ok(FundingRate {
                source: Source {
                    venue: Venue::Binance,
                    market,
                },
                symbol: Symbol::from_wire(
                    text("symbol").ok_or_else(|| bad(format!("funding without symbol: {row}")))?,
                )
                .map_err(bad)?,
                rate: number("fundingRate", text("fundingRate"))?,
                funding_time_ms: row
                    .get("fundingTime")
                    .and_then(serde_json::Value::as_i64)
                    .ok_or_else(|| bad(format!("funding without fundingTime: {row}")))?,
                mark_price: text("markPrice")
                    .filter(|t| !t.is_empty())
                    .map(|t| number("markPrice", Some(t)))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<FundingRate>>>()?;
    all.sort_by_key(|f| f.funding_time_ms);
    Ok(all)
}

/// A REST klines answer (`GET /api/v3/klines`, `/fapi/v1/klines`): rows of
/// `[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteVolume", trades,
/// "takerBuyBase", "takerBuyQuote", "ignore"]`, oldest first; every candle marked closed.
pub fn klines(
    market: Market,
    symbol: Symbol,
    interval: Interval,
    answer: &serde_json::Value,
) -> Result<Vec<Kline>> {
    let rows = answer
        .as_array()
        .ok_or_else(|| bad(format!("klines: not a list: {answer:.100}")))?;
    let source = Source {
        venue: Venue::Binance,
        market,
    };
    rows.iter()
        .map(|row| {
            let cell = |i: usize| row.get(i).ok_or_else(|| bad(format!("kline row {row}")));
            let time = |i: usize| {
                cell(i)?
                    .as_i64()
                    .ok_or_else(|| bad(format!("kline time in {row}")))
            };
            let price = |i: usize, field: &str| number(field, cell(i)?.as_str());
            let close_time_ms = time(6)?;
            Ok(Kline {
                source,
                symbol,
                interval,
                open_time_ms: time(0)?,
                close_time_ms,
                open: price(1, "open")?,
                high: price(2, "high")?,
                low: price(3, "low")?,
                close: price(4, "close")?,
                volume: price(5, "volume")?,
                quote_volume: price(7, "quote volume")?,
                trades: Some(
                    cell(8)?
                        .as_u64()
                        .ok_or_else(|| bad(format!("kline trade count in {row}")))?,
                ),
                taker_buy_volume: Some(price(9, "taker buy volume")?),
                taker_buy_quote_volume: Some(price(10, "taker buy quote volume")?),
                closed: true,
                exchange_time_ms: close_time_ms,
                local_time_ns: 0,
            })
        })
        .collect()
}

/// A REST depth snapshot (`GET /api/v3/depth`, `/fapi/v1/depth`): `lastUpdateId`, the venue's
/// time if it stamps one (USD-M `E`), bids and asks best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthSnapshot {
    pub last_update_id: u64,
    pub exchange_time_ms: Option<i64>,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
}

pub fn depth_snapshot(answer: &serde_json::Value) -> Result<DepthSnapshot> {
    use serde_json::Value;
    let side = |key: &str| -> Result<Vec<Level>> {
        let rows = answer
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("depth snapshot without {key}")))?;
        rows.iter()
            .map(|row| {
                let cell = |k: usize| row.get(k).and_then(Value::as_str);
                Ok(Level {
                    price: number(key, cell(0))?,
                    qty: number(key, cell(1))?,
                })
            })
            .collect()
    };
    Ok(DepthSnapshot {
        last_update_id: answer
            .get("lastUpdateId")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("depth snapshot without lastUpdateId"))?,
        exchange_time_ms: answer.get("E").and_then(Value::as_i64),
        bids: side("bids")?,
        asks: side("asks")?,
    })
}

/// Every symbol of an exchangeInfo answer (spot or USD-M) with its trading rules; the raw
/// filters are kept as received.
pub fn symbols(market: Market, exchange_info: &serde_json::Value) -> Result<Vec<SymbolInfo>> {
    use serde_json::Value;
    let list = exchange_info
        .get("symbols")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("exchangeInfo without symbols"))?;
    list.iter()
        .map(|s| {
            let text = |key: &str| s.get(key).and_then(Value::as_str).unwrap_or_default();
            let filters = s
                .get("filters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let filter = |kind: &str| filters.iter().find(|f| f["filterType"] == kind);
            let field = |kind: &str, key: &str| -> Result<Option<rust_decimal::Decimal>> {
                filter(kind)
                    .and_then(|f| f.get(key))
                    .and_then(Value::as_str)
                    .map(|v| number(key, Some(v)))
                    .transpose()
            };
            let required = |kind: &str, key: &str| -> Result<rust_decimal::Decimal> {
                field(kind, key)?.ok_or_else(|| bad(format!("{}: no {kind}.{key}", text("symbol"))))
            };
            let positive = |v: Option<rust_decimal::Decimal>| v.filter(|d| !d.is_zero());
            let tick_size = required("PRICE_FILTER", "tickSize")?;
            let step_size = required("LOT_SIZE", "stepSize")?;
            let min_notional = match field("MIN_NOTIONAL", "minNotional")? {
                Some(v) => Some(v),
                // Spot's newer NOTIONAL filter; USD-M spells it `notional`.
                None => field("NOTIONAL", "minNotional")?.or(field("MIN_NOTIONAL", "notional")?),
            };
            Ok(SymbolInfo {
                source: Source {
                    venue: Venue::Binance,
                    market,
                },
                symbol: Symbol::new(text("symbol")),
                base_asset: text("baseAsset").to_owned(),
                quote_asset: text("quoteAsset").to_owned(),
                status: text("status").to_owned(),
                trading: text("status") == "TRADING",
                tick_size,
                step_size,
                min_qty: required("LOT_SIZE", "minQty")?,
                max_qty: positive(field("LOT_SIZE", "maxQty")?),
                min_notional: positive(min_notional),
                market_min_qty: positive(field("MARKET_LOT_SIZE", "minQty")?),
                market_max_qty: positive(field("MARKET_LOT_SIZE", "maxQty")?),
                price_precision: tick_size.normalize().scale(),
                qty_precision: step_size.normalize().scale(),
                raw_filters: Value::Array(filters.clone()).to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;

    #[test]
    fn an_envelope_reads_the_same_sliced_or_parsed() {
        let event =
            r#"{"e":"trade","E":1,"s":"ETHUSDT","t":7,"p":"4100.01","q":"0.0010","T":2,"m":true}"#;
        let want = parse(Market::Spot, event, 0).unwrap();
        for text in [
            format!(r#"{{"stream":"ethusdt@trade","data":{event}}}"#),
            // Spaced, reordered, an extra key after the data, an escaped stream name: the
            // slice does not apply or misreads, and the full parse reads them.
            format!(r#"{{ "stream": "ethusdt@trade", "data": {event} }}"#),
            format!(r#"{{"data":{event},"stream":"ethusdt@trade"}}"#),
            format!(r#"{{"stream":"ethusdt@trade","data":{event},"x":{{"y":1}}}}"#),
            format!(r#"{{"stream":"eth\u0075sdt@trade","data":{event}}}"#),
        ] {
            assert_eq!(parse(Market::Spot, &text, 0).unwrap(), want, "{text}");
        }
        let broken = r#"{"stream":"ethusdt@trade","data":{"e":"trade","p":"4100.0.1"}}"#;
        assert!(matches!(
            parse(Market::Spot, broken, 0),
            Err(Error::Protocol { .. })
        ));
    }

    #[test]
    fn usdm_depth_keeps_pu_and_every_digit() {
        let text = r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1622371244693,"T":1622371244687,"s":"BTCUSDT","U":475776377463,"u":475776380184,"pu":475776377452,"b":[["35729.77","1.600"],["35750.00","5.106"]],"a":[["35819.20","0.211"]]}}"#;
        let MarketMessage::Depth(d) = parse(Market::Usdm, text, 0).unwrap() else {
            panic!("not a depth diff")
        };
        assert_eq!(
            (d.first_id, d.last_id, d.prev_last_id),
            (475776377463, 475776380184, Some(475776377452))
        );
        assert_eq!(d.bids[0].qty.to_string(), "1.600");
        assert_eq!(d.asks[0].price.to_string(), "35819.20");
        assert_eq!(d.exchange_time_ms, 1622371244687);
    }

    #[test]
    fn the_aggressor_side_comes_from_the_maker_flag() {
        let text = r#"{"e":"trade","E":1,"s":"ETHUSDT","t":705291099,"p":"4100.01","q":"0.0010","T":2,"m":true,"M":true}"#;
        let MarketMessage::Trade(t) = parse(Market::Spot, text, 5).unwrap() else {
            panic!("not a trade")
        };
        assert_eq!(
            (t.side, t.trade_id.as_str(), t.exchange_time_ms),
            (Side::Sell, "705291099", 2)
        );
        assert_eq!(t.qty.to_string(), "0.0010");
    }

    #[test]
    fn malformed_numbers_are_typed_errors_not_panics() {
        let text =
            r#"{"e":"trade","E":1,"s":"ETHUSDT","t":1,"p":"4100.0.1","q":"1","T":2,"m":true}"#;
        assert!(matches!(
            parse(Market::Spot, text, 0),
            Err(Error::Protocol { .. })
        ));
        assert!(matches!(
            parse(Market::Spot, "{not json", 0),
            Err(Error::Protocol { .. })
        ));
        assert_eq!(
            parse(Market::Spot, r#"{"result":null,"id":1}"#, 0).unwrap(),
            MarketMessage::Other
        );
    }
    #[test]
    fn a_frame_of_deeply_nested_arrays_is_an_error_not_a_stack_overflow() {
        // ~4 KB of nesting: before, every level was a recursive call (SIGSEGV).
        let depth = 2_000;
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let text = format!(r#"{{"stream":"btcusdt@trade","data":{nested}}}"#);
        // Run on a small stack, as a worker thread's, so a recursion shows even if shallow.
        let outcome = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || parse(Market::Spot, &text, 0))
            .unwrap()
            .join()
            .expect("the parser must not overflow its stack");
        assert!(
            matches!(outcome, Err(Error::Protocol { .. })),
            "{outcome:?}"
        );
        // Deep objects and mixed nesting inside a real event are bounded by serde_json.
        let deep_object = format!(
            r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","x":{}1{}}}}}"#,
            r#"{"a":"#.repeat(depth),
            "}".repeat(depth)
        );
        assert!(parse(Market::Spot, &deep_object, 0).is_err());
        let deep_levels = format!(
            r#"{{"stream":"btcusdt@depth","data":{{"e":"depthUpdate","b":{}{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(parse(Market::Spot, &deep_levels, 0).is_err());
    }
}
