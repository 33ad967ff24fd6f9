//! Bybit v5 public-topic messages read into the core's types: `publicTrade` (several trades per
//! message) and `orderbook.{depth}` snapshots and deltas with their `u` and `seq`. Numbers are
//! strings parsed exactly. Other topics (tickers, which arrive as partial deltas, are read by
//! the market layer) and control replies come back as [`TopicMessage::Other`].

use serde::Deserialize;

use crate::model::{Id, Level, Market, Side, Source, Symbol, Trade, Venue, parse_decimal};
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicMessage {
    Trades(Vec<Trade>),
    Book(BookUpdate),
    Other,
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
    Error::Protocol {
        venue: Venue::Bybit,
        reason: reason.into(),
    }
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
                    symbol: Symbol::new(t.s),
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
            symbol: Symbol::new(raw.s),
            depth,
            snapshot,
            update_id: raw.u,
            seq: raw.seq,
            bids: levels("b", &raw.b)?,
            asks: levels("a", &raw.a)?,
            exchange_time_ms: message.ts.unwrap_or(0),
        }));
    }
    Ok(TopicMessage::Other)
}

#[cfg(test)]
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
