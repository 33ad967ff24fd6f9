//! Bybit v5 public-topic messages read into the core's types: `publicTrade` (several trades per
//! message) and `orderbook.{depth}` snapshots and deltas with their `u` and `seq`. Numbers are
//! strings parsed exactly. `tickers` arrive as a snapshot then partial deltas (linear) holding
//! only what changed: [`TickerUpdate::merge`] folds them into full tickers. `kline.{interval}`
//! candles carry `confirm` (closed) per candle. Other topics and
//! control replies come back as [`TopicMessage::Other`].

use serde::Deserialize;

use crate::model::{
    FundingRate, Id, Interval, Kline, Level, Liquidation, MarkPrice, Market, OpenInterest,
    PositionSide, Side, Source, Symbol, SymbolInfo, Ticker, Trade, Venue, parse_decimal,
};
use crate::{Error, Result};

/// An `orderbook.{depth}.{symbol}` message: a snapshot replaces the book, a delta changes the
/// levels it names (quantity 0 removes). `update_id` is `u` (1 after a venue restart: a new
/// snapshot), `seq` the cross sequence that orders messages across depths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookUpdate {
    pub symbol: Symbol,
    pub depth: u32,
    pub snapshot: bool,
    pub update_id: u64,
    pub seq: Option<u64>,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    pub exchange_time_ms: i64,
}

/// A `tickers.{symbol}` message: every field a snapshot carries, or only the changed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickerUpdate {
    pub source: Source,
    pub symbol: Symbol,
    pub snapshot: bool,
    pub last: Option<rust_decimal::Decimal>,
    pub bid: Option<rust_decimal::Decimal>,
    pub bid_qty: Option<rust_decimal::Decimal>,
    pub ask: Option<rust_decimal::Decimal>,
    pub ask_qty: Option<rust_decimal::Decimal>,
    pub volume_24h: Option<rust_decimal::Decimal>,
    pub quote_volume_24h: Option<rust_decimal::Decimal>,
    /// Linear only: mark, index, funding and open interest as this message names them.
    pub mark_price: Option<rust_decimal::Decimal>,
    pub index_price: Option<rust_decimal::Decimal>,
    pub funding_rate: Option<rust_decimal::Decimal>,
    pub next_funding_time_ms: Option<i64>,
    pub open_interest: Option<rust_decimal::Decimal>,
    pub exchange_time_ms: i64,
}

impl TickerUpdate {
    /// The full mark and funding state after this update, given the one before (`None` until
    /// a mark price has been seen).
    pub fn merge_mark(
        &self,
        previous: Option<&MarkPrice>,
        local_time_ns: i64,
    ) -> Option<MarkPrice> {
        let base = if self.snapshot { None } else { previous };
        Some(MarkPrice {
            source: self.source,
            symbol: self.symbol,
            mark_price: self.mark_price.or(base.map(|m| m.mark_price))?,
            index_price: self.index_price.or(base.and_then(|m| m.index_price)),
            estimated_settle_price: None,
            funding_rate: self.funding_rate.or(base.and_then(|m| m.funding_rate)),
            next_funding_time_ms: self
                .next_funding_time_ms
                .or(base.and_then(|m| m.next_funding_time_ms)),
            open_interest: self.open_interest.or(base.and_then(|m| m.open_interest)),
            exchange_time_ms: self.exchange_time_ms,
            local_time_ns,
        })
    }

    /// The full ticker after this update, given the one before (`None` until a snapshot with a
    /// last price has been seen: a delta alone cannot make a ticker).
    pub fn merge(&self, previous: Option<&Ticker>, local_time_ns: i64) -> Option<Ticker> {
        let base = if self.snapshot { None } else { previous };
        let pick =
            |new: Option<rust_decimal::Decimal>, old: Option<rust_decimal::Decimal>| new.or(old);
        Some(Ticker {
            source: self.source,
            symbol: self.symbol,
            last: self.last.or(base.map(|t| t.last))?,
            bid: pick(self.bid, base.and_then(|t| t.bid)),
            bid_qty: pick(self.bid_qty, base.and_then(|t| t.bid_qty)),
            ask: pick(self.ask, base.and_then(|t| t.ask)),
            ask_qty: pick(self.ask_qty, base.and_then(|t| t.ask_qty)),
            volume_24h: pick(self.volume_24h, base.map(|t| t.volume_24h)).unwrap_or_default(),
            quote_volume_24h: pick(self.quote_volume_24h, base.map(|t| t.quote_volume_24h))
                .unwrap_or_default(),
            exchange_time_ms: self.exchange_time_ms,
            local_time_ns,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicMessage {
    Trades(Vec<Trade>),
    Book(BookUpdate),
    Ticker(TickerUpdate),
    Klines(Vec<Kline>),
    Liquidations(Vec<Liquidation>),
    Other,
}

/// One liquidation of an `allLiquidation.{symbol}` message (`S`: the liquidated position's
/// side, `p`: its bankruptcy price).
#[derive(Deserialize)]
struct RawLiquidation<'a> {
    #[serde(rename = "T")]
    time: i64,
    s: &'a str,
    #[serde(rename = "S")]
    side: &'a str,
    v: &'a str,
    p: &'a str,
}

/// Bybit's name of an interval (`1` … `720`, `D`, `W`, `M`); `None` where it has none.
pub fn interval_name(interval: Interval) -> Option<&'static str> {
    Some(match interval {
        Interval::M1 => "1",
        Interval::M3 => "3",
        Interval::M5 => "5",
        Interval::M15 => "15",
        Interval::M30 => "30",
        Interval::H1 => "60",
        Interval::H2 => "120",
        Interval::H4 => "240",
        Interval::H6 => "360",
        Interval::H12 => "720",
        Interval::D1 => "D",
        Interval::W1 => "W",
        Interval::Mo1 => "M",
        Interval::S1 | Interval::H8 | Interval::D3 => return None,
    })
}

fn interval_of(name: &str) -> Option<Interval> {
    Interval::ALL
        .iter()
        .copied()
        .find(|i| interval_name(*i) == Some(name))
}

/// One candle of a `kline.{interval}.{symbol}` message.
#[derive(Deserialize)]
struct RawKline<'a> {
    start: i64,
    end: i64,
    interval: &'a str,
    open: &'a str,
    close: &'a str,
    high: &'a str,
    low: &'a str,
    volume: &'a str,
    turnover: &'a str,
    confirm: bool,
    timestamp: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTicker<'a> {
    symbol: &'a str,
    last_price: Option<&'a str>,
    bid1_price: Option<&'a str>,
    bid1_size: Option<&'a str>,
    ask1_price: Option<&'a str>,
    ask1_size: Option<&'a str>,
    volume24h: Option<&'a str>,
    turnover24h: Option<&'a str>,
    mark_price: Option<&'a str>,
    index_price: Option<&'a str>,
    funding_rate: Option<&'a str>,
    next_funding_time: Option<&'a str>,
    open_interest: Option<&'a str>,
    /// Since 2026-06 `openInterest` counts both sides; this is one side, as Binance counts.
    single_open_interest: Option<&'a str>,
}

#[derive(Deserialize)]
struct Message<'a> {
    topic: Option<&'a str>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    ts: Option<i64>,
    #[serde(borrow)]
    data: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct RawTrade<'a> {
    #[serde(rename = "T")]
    time: i64,
    s: &'a str,
    #[serde(rename = "S")]
    side: &'a str,
    v: &'a str,
    p: &'a str,
    i: &'a str,
}

#[derive(Deserialize)]
struct RawBook<'a> {
    s: &'a str,
    #[serde(borrow)]
    b: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    a: Vec<[&'a str; 2]>,
    u: u64,
    seq: Option<u64>,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::protocol(Venue::Bybit, reason)
}

fn number(field: &str, text: &str) -> Result<rust_decimal::Decimal> {
    parse_decimal(text).map_err(|e| bad(format!("'{field}' = {text:?}: {e}")))
}

fn levels(field: &str, raw: &[[&str; 2]]) -> Result<Vec<Level>> {
    raw.iter()
        .map(|[p, q]| {
            Ok(Level {
                price: number(field, p)?,
                qty: number(field, q)?,
            })
        })
        .collect()
}

/// Reads one text frame of a public topic.
pub fn parse(market: Market, text: &str, local_time_ns: i64) -> Result<TopicMessage> {
    let message: Message = serde_json::from_str(text).map_err(|e| bad(format!("{e}")))?;
    let (Some(topic), Some(data)) = (message.topic, message.data) else {
        return Ok(TopicMessage::Other);
    };
    let source = Source {
        venue: Venue::Bybit,
        market,
    };
    if topic.starts_with("publicTrade.") {
        let raw: Vec<RawTrade> =
            serde_json::from_str(data.get()).map_err(|e| bad(format!("{topic}: {e}")))?;
        let trades = raw
            .into_iter()
            .map(|t| {
                Ok(Trade {
                    source,
                    symbol: Symbol::from_wire(t.s).map_err(bad)?,
                    trade_id: Id::new(t.i),
                    price: number("p", t.p)?,
                    qty: number("v", t.v)?,
                    side: match t.side {
                        "Buy" => Side::Buy,
                        "Sell" => Side::Sell,
                        other => return Err(bad(format!("trade side {other:?}"))),
                    },
                    exchange_time_ms: t.time,
                    local_time_ns,
                })
            })
            .collect::<Result<Vec<Trade>>>()?;
        return Ok(TopicMessage::Trades(trades));
    }
    if let Some(rest) = topic.strip_prefix("orderbook.") {
        let depth = rest
            .split('.')
            .next()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| bad(format!("topic {topic}")))?;
        let raw: RawBook =
            serde_json::from_str(data.get()).map_err(|e| bad(format!("{topic}: {e}")))?;
        let snapshot = match message.kind {
            Some("snapshot") => true,
            Some("delta") => false,
            other => return Err(bad(format!("{topic}: type {other:?}"))),
        };
        return Ok(TopicMessage::Book(BookUpdate {
            symbol: Symbol::from_wire(raw.s).map_err(bad)?,
            depth,
            snapshot,
            update_id: raw.u,
            seq: raw.seq,
            bids: levels("b", &raw.b)?,
            asks: levels("a", &raw.a)?,
            exchange_time_ms: message.ts.unwrap_or(0),
        }));
    }
    if let Some(rest) = topic.strip_prefix("kline.") {
        // The candles name no symbol: the topic does.
        let (_, symbol) = rest
            .split_once('.')
            .ok_or_else(|| bad(format!("topic {topic}")))?;
        let symbol = Symbol::from_wire(symbol).map_err(bad)?;
        let raw: Vec<RawKline> =
            serde_json::from_str(data.get()).map_err(|e| bad(format!("{topic}: {e}")))?;
        let klines = raw
            .into_iter()
            .map(|k| {
                Ok(Kline {
                    source,
                    symbol,
                    interval: interval_of(k.interval)
                        .ok_or_else(|| bad(format!("{topic}: interval {:?}", k.interval)))?,
                    open_time_ms: k.start,
                    close_time_ms: k.end,
                    open: number("open", k.open)?,
                    high: number("high", k.high)?,
                    low: number("low", k.low)?,
                    close: number("close", k.close)?,
                    volume: number("volume", k.volume)?,
                    quote_volume: number("turnover", k.turnover)?,
                    trades: None,
                    taker_buy_volume: None,
                    taker_buy_quote_volume: None,
                    closed: k.confirm,
                    exchange_time_ms: k.timestamp.or(message.ts).unwrap_or(0),
                    local_time_ns,
                })
            })
            .collect::<Result<Vec<Kline>>>()?;
        return Ok(TopicMessage::Klines(klines));
    }
    if topic.starts_with("allLiquidation.") {
        let raw: Vec<RawLiquidation> =
            serde_json::from_str(data.get()).map_err(|e| bad(format!("{topic}: {e}")))?;
        let all = raw
            .into_iter()
            .map(|l| {
                Ok(Liquidation {
                    source,
                    symbol: Symbol::from_wire(l.s).map_err(bad)?,
                    // A Buy update is a long position liquidated.
                    position_side: match l.side {
                        "Buy" => PositionSide::Long,
                        "Sell" => PositionSide::Short,
                        other => return Err(bad(format!("liquidation side {other:?}"))),
                    },
                    price: number("p", l.p)?,
                    qty: number("v", l.v)?,
                    average_price: None,
                    exchange_time_ms: l.time,
                    local_time_ns,
                })
            })
            .collect::<Result<Vec<Liquidation>>>()?;
        return Ok(TopicMessage::Liquidations(all));
    }
    if topic.starts_with("tickers.") {
        let raw: RawTicker =
            serde_json::from_str(data.get()).map_err(|e| bad(format!("{topic}: {e}")))?;
        // Bybit sends "" for a value it does not have.
        let opt = |field: &str, v: Option<&str>| -> Result<Option<rust_decimal::Decimal>> {
            v.filter(|t| !t.is_empty())
                .map(|t| number(field, t))
                .transpose()
        };
        return Ok(TopicMessage::Ticker(TickerUpdate {
            source,
            symbol: Symbol::from_wire(raw.symbol).map_err(bad)?,
            snapshot: message.kind != Some("delta"),
            last: opt("lastPrice", raw.last_price)?,
            bid: opt("bid1Price", raw.bid1_price)?,
            bid_qty: opt("bid1Size", raw.bid1_size)?,
            ask: opt("ask1Price", raw.ask1_price)?,
            ask_qty: opt("ask1Size", raw.ask1_size)?,
            volume_24h: opt("volume24h", raw.volume24h)?,
            quote_volume_24h: opt("turnover24h", raw.turnover24h)?,
            mark_price: opt("markPrice", raw.mark_price)?,
            index_price: opt("indexPrice", raw.index_price)?,
            funding_rate: opt("fundingRate", raw.funding_rate)?,
            // "" or "0" where the contract has no funding.
            next_funding_time_ms: raw
                .next_funding_time
                .filter(|t| !t.is_empty() && *t != "0")
                .map(|t| {
                    t.parse::<i64>()
                        .map_err(|_| bad(format!("nextFundingTime {t:?}")))
                })
                .transpose()?,
            open_interest: match opt("singleOpenInterest", raw.single_open_interest)? {
                Some(one_side) => Some(one_side),
                None => opt("openInterest", raw.open_interest)?,
            },
            exchange_time_ms: message.ts.unwrap_or(0),
        }));
    }
    Ok(TopicMessage::Other)
}

/// A `GET /v5/market/kline` answer: `result.list` rows of `[startTime, open, high, low, close,
/// volume, turnover]`, all strings, newest first; returned oldest first, every candle marked
/// closed, its close time the next candle's open less 1 ms.
pub fn klines(
    market: Market,
    symbol: Symbol,
    interval: Interval,
    answer: &serde_json::Value,
) -> Result<Vec<Kline>> {
    let rows = answer["result"]["list"]
        .as_array()
        .ok_or_else(|| bad(format!("kline: no result.list in {answer:.100}")))?;
    let source = Source {
        venue: Venue::Bybit,
        market,
    };
    let mut klines = rows
        .iter()
        .map(|row| {
            let cell = |i: usize, field: &str| {
                row.get(i)
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| bad(format!("kline {field} in {row}")))
            };
            let open_time_ms: i64 = cell(0, "startTime")?
                .parse()
                .map_err(|_| bad(format!("kline startTime in {row}")))?;
            let close_time_ms = interval.close_of(open_time_ms);
            Ok(Kline {
                source,
                symbol,
                interval,
                open_time_ms,
                close_time_ms,
                open: number("open", cell(1, "open")?)?,
                high: number("high", cell(2, "high")?)?,
                low: number("low", cell(3, "low")?)?,
                close: number("close", cell(4, "close")?)?,
                volume: number("volume", cell(5, "volume")?)?,
                quote_volume: number("turnover", cell(6, "turnover")?)?,
                trades: None,
                taker_buy_volume: None,
                taker_buy_quote_volume: None,
                closed: true,
                exchange_time_ms: close_time_ms,
                local_time_ns: 0,
            })
        })
        .collect::<Result<Vec<Kline>>>()?;
    klines.sort_by_key(|k| k.open_time_ms);
    Ok(klines)
}

/// A `GET /v5/market/orderbook` answer: `result` `{s, b, a, ts, u, seq}`, levels best first.
pub fn depth_snapshot(answer: &serde_json::Value) -> Result<(u64, i64, Vec<Level>, Vec<Level>)> {
    let result = &answer["result"];
    let side = |key: &str| -> Result<Vec<Level>> {
        let rows = result[key]
            .as_array()
            .ok_or_else(|| bad(format!("orderbook without {key}")))?;
        rows.iter()
            .map(|row| {
                let cell = |k: usize| {
                    row.get(k)
                        .and_then(serde_json::Value::as_str)
                        .ok_or_else(|| bad(format!("orderbook level {row}")))
                };
                Ok(Level {
                    price: number(key, cell(0)?)?,
                    qty: number(key, cell(1)?)?,
                })
            })
            .collect()
    };
    let update_id = result["u"]
        .as_u64()
        .ok_or_else(|| bad("orderbook without u"))?;
    let time = result["ts"].as_i64().unwrap_or(0);
    Ok((update_id, time, side("b")?, side("a")?))
}

/// The linear ticker of a `GET /v5/market/tickers` answer as mark, index and funding.
pub fn mark_price(
    market: Market,
    answer: &serde_json::Value,
    local_time_ns: i64,
) -> Result<MarkPrice> {
    let item = &answer["result"]["list"][0];
    let text = item.to_string();
    let wrapped = format!(
        r#"{{"topic":"tickers.X","type":"snapshot","ts":{},"data":{text}}}"#,
        answer["time"].as_i64().unwrap_or(0)
    );
    match parse(market, &wrapped, local_time_ns)? {
        TopicMessage::Ticker(update) => update
            .merge_mark(None, local_time_ns)
            .ok_or_else(|| bad(format!("ticker without markPrice: {text:.200}"))),
        _ => Err(bad(format!(
            "tickers answer without a ticker: {answer:.200}"
        ))),
    }
}

/// A `GET /v5/market/open-interest` answer's latest entry (`{openInterest, timestamp}`).
pub fn open_interest(
    market: Market,
    symbol: Symbol,
    answer: &serde_json::Value,
) -> Result<OpenInterest> {
    let list = answer["result"]["list"]
        .as_array()
        .ok_or_else(|| bad(format!("open-interest: no result.list in {answer:.100}")))?;
    let latest = list
        .iter()
        .max_by_key(|e| e["timestamp"].as_str().and_then(|t| t.parse::<i64>().ok()))
        .ok_or_else(|| bad("open-interest: an empty list"))?;
    let text = |k: &str| {
        latest[k]
            .as_str()
            .ok_or_else(|| bad(format!("open-interest {k} in {latest}")))
    };
    // Since 2026-06 `openInterest` counts both sides; `singleOpenInterest` is one side, as
    // Binance counts (older answers have only the one-sided `openInterest`).
    let one_side = match latest["singleOpenInterest"].as_str() {
        Some(single) if !single.is_empty() => ("singleOpenInterest", single),
        _ => ("openInterest", text("openInterest")?),
    };
    Ok(OpenInterest {
        source: Source {
            venue: Venue::Bybit,
            market,
        },
        symbol,
        open_interest: number(one_side.0, one_side.1)?,
        exchange_time_ms: text("timestamp")?
            .parse()
            .map_err(|_| bad(format!("timestamp in {latest}")))?,
        local_time_ns: 0,
    })
}

/// A `GET /v5/market/funding/history` answer (newest first), oldest first.
pub fn funding_rates(
    market: Market,
    symbol: Symbol,
    answer: &serde_json::Value,
) -> Result<Vec<FundingRate>> {
    let list = answer["result"]["list"]
        .as_array()
        .ok_or_else(|| bad(format!("funding/history: no result.list in {answer:.100}")))?;
    let mut all = list
        .iter()
        .map(|e| {
            let text = |k: &str| {
                e[k].as_str()
                    .ok_or_else(|| bad(format!("funding {k} in {e}")))
            };
            Ok(FundingRate {
                source: Source {
                    venue: Venue::Bybit,
                    market,
                },
                symbol,
                rate: number("fundingRate", text("fundingRate")?)?,
                funding_time_ms: text("fundingRateTimestamp")?
                    .parse()
                    .map_err(|_| bad(format!("fundingRateTimestamp in {e}")))?,
                mark_price: None,
            })
        })
        .collect::<Result<Vec<FundingRate>>>()?;
    all.sort_by_key(|f| f.funding_time_ms);
    Ok(all)
}

/// Every instrument of an instruments-info answer with its trading rules (spot steps are
/// `basePrecision`, linear `qtyStep`); the raw filters are kept as received.
pub fn symbols(market: Market, instruments: &serde_json::Value) -> Result<Vec<SymbolInfo>> {
    use serde_json::Value;
    let list = instruments["result"]["list"]
        .as_array()
        .ok_or_else(|| bad("instruments-info without result.list"))?;
    list.iter()
        .map(|s| {
            let text = |key: &str| s.get(key).and_then(Value::as_str).unwrap_or_default();
            let name = text("symbol");
            let field = |filter: &str, key: &str| -> Result<Option<rust_decimal::Decimal>> {
                s[filter]
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                    .map(|v| number(key, v))
                    .transpose()
            };
            let required = |filter: &str, key: &str| -> Result<rust_decimal::Decimal> {
                field(filter, key)?.ok_or_else(|| bad(format!("{name}: no {filter}.{key}")))
            };
            let tick_size = required("priceFilter", "tickSize")?;
            let step_size = match field("lotSizeFilter", "qtyStep")? {
                Some(step) => step,
                None => required("lotSizeFilter", "basePrecision")?,
            };
            let min_notional = field("lotSizeFilter", "minNotionalValue")?
                .or(field("lotSizeFilter", "minOrderAmt")?);
            let raw_filters = serde_json::json!({
                "priceFilter": s["priceFilter"], "lotSizeFilter": s["lotSizeFilter"],
                "leverageFilter": s.get("leverageFilter").cloned().unwrap_or(Value::Null),
            });
            Ok(SymbolInfo {
                source: Source {
                    venue: Venue::Bybit,
                    market,
                },
                symbol: Symbol::new(name),
                base_asset: text("baseCoin").to_owned(),
                quote_asset: text("quoteCoin").to_owned(),
                status: text("status").to_owned(),
                trading: text("status") == "Trading",
                tick_size,
                step_size,
                min_qty: required("lotSizeFilter", "minOrderQty")?,
                max_qty: field("lotSizeFilter", "maxOrderQty")?,
                min_notional,
                market_min_qty: None,
                market_max_qty: field("lotSizeFilter", "maxMktOrderQty")?,
                price_precision: tick_size.normalize().scale(),
                qty_precision: step_size.normalize().scale(),
                raw_filters: raw_filters.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;

    #[test]
    fn a_delta_keeps_u_seq_and_digits() {
        let text = r#"{"topic":"orderbook.1.BTCUSDT","ts":1680652806615,"type":"delta","data":{"s":"BTCUSDT","b":[["28165.07","0.166754"]],"a":[],"u":20404755,"seq":4281281}}"#;
        let TopicMessage::Book(b) = parse(Market::Spot, text, 0).unwrap() else {
            panic!("not a book")
        };
        assert_eq!(
            (b.depth, b.snapshot, b.update_id, b.seq),
            (1, false, 20404755, Some(4281281))
        );
        assert_eq!(b.bids[0].qty.to_string(), "0.166754");
        assert!(b.asks.is_empty());
    }

    #[test]
    fn ticker_deltas_fold_into_the_snapshot() {
        let snapshot = r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","lastPrice":"17216.00","bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020","volume24h":"91705.276","turnover24h":"1570383121.943499","fundingRate":""},"cs":1,"ts":10}"#;
        let delta = r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"17215.00","bid1Size":"1.000"},"cs":2,"ts":11}"#;
        let read = |text| match parse(Market::Linear, text, 0).unwrap() {
            TopicMessage::Ticker(t) => t,
            other => panic!("{other:?}"),
        };
        let (snapshot, delta) = (read(snapshot), read(delta));
        assert_eq!(delta.merge(None, 0), None, "a delta alone makes no ticker");
        let first = snapshot.merge(None, 0).unwrap();
        let second = delta.merge(Some(&first), 0).unwrap();
        assert_eq!(second.last.to_string(), "17216.00");
        assert_eq!(second.bid.unwrap().to_string(), "17215.00");
        assert_eq!(second.ask_qty.unwrap().to_string(), "83.020");
        assert_eq!(
            (second.quote_volume_24h.to_string(), second.exchange_time_ms),
            ("1570383121.943499".into(), 11)
        );
    }

    #[test]
    fn bad_sides_and_numbers_are_typed_errors() {
        let text = r#"{"topic":"publicTrade.X","type":"snapshot","ts":1,"data":[{"T":1,"s":"X","S":"Up","v":"1","p":"1","i":"a"}]}"#;
        assert!(matches!(
            parse(Market::Linear, text, 0),
            Err(Error::Protocol { .. })
        ));
        let ack = r#"{"success":true,"ret_msg":"","conn_id":"x","op":"subscribe"}"#;
        assert_eq!(parse(Market::Linear, ack, 0).unwrap(), TopicMessage::Other);
    }
}
