//! The gateway's message schema, version 1: JSON objects readable from any language.
//!
//! Money is a decimal string exactly as the venue wrote it (`"65432.10"`, trailing zeros
//! kept); a reader that parses it as a float loses what tradewire keeps. Enumerations are
//! their tradewire names (`"binance"`, `"spot"`, `"BUY"`). Levels are `[price, qty]` pairs.
//! Every market-data message carries `epoch` (a number the gateway draws when it starts:
//! a new value means a restarted gateway, whose numbering starts over) and `seq` (1, 2, 3...
//! per subject within an epoch: a jump is a loss, which a reader reports as a gap).

use std::borrow::Cow;
use std::fmt::Display;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tradewire_core::model::{
    BookDiff, Id, Level, Market, Side, Source, Symbol, SymbolInfo, TEXT_MAX, Ticker, Trade, Venue,
    parse_decimal, write_decimal,
};

mod account;
pub use account::*;

/// The schema version every message states in `v`.
pub const SCHEMA: u32 = 1;

/// A market-data message's place in its stream (its `epoch` and `seq` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seq {
    pub epoch: u64,
    pub seq: u64,
}

/// A public trade (`...trades.<symbol>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeMsg {
    pub v: u32,
    pub epoch: u64,
    pub seq: u64,
    #[serde(with = "text")]
    pub venue: Venue,
    #[serde(with = "text")]
    pub market: Market,
    #[serde(with = "symbol")]
    pub symbol: Symbol,
    #[serde(with = "id")]
    pub trade_id: Id,
    #[serde(with = "money")]
    pub price: Decimal,
    #[serde(with = "money")]
    pub qty: Decimal,
    #[serde(with = "text")]
    pub side: Side,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

impl TradeMsg {
    pub fn new(at: Seq, t: &Trade) -> Self {
        TradeMsg {
            v: SCHEMA,
            epoch: at.epoch,
            seq: at.seq,
            venue: t.source.venue,
            market: t.source.market,
            symbol: t.symbol,
            trade_id: t.trade_id.clone(),
            price: t.price,
            qty: t.qty,
            side: t.side,
            exchange_time_ms: t.exchange_time_ms,
            local_time_ns: t.local_time_ns,
        }
    }

    pub fn into_event(self) -> Trade {
        Trade {
            source: Source {
                venue: self.venue,
                market: self.market,
            },
            symbol: self.symbol,
            trade_id: self.trade_id,
            price: self.price,
            qty: self.qty,
            side: self.side,
            exchange_time_ms: self.exchange_time_ms,
            local_time_ns: self.local_time_ns,
        }
    }
}

/// A 24 h ticker (`...tickers.<symbol>`); `bid`/`ask` are `null` where the venue's ticker
/// has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickerMsg {
    pub v: u32,
    pub epoch: u64,
    pub seq: u64,
    #[serde(with = "text")]
    pub venue: Venue,
    #[serde(with = "text")]
    pub market: Market,
    #[serde(with = "symbol")]
    pub symbol: Symbol,
    #[serde(with = "money")]
    pub last: Decimal,
    #[serde(with = "opt_money")]
    pub bid: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub bid_qty: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub ask: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub ask_qty: Option<Decimal>,
    #[serde(with = "money")]
    pub volume_24h: Decimal,
    #[serde(with = "money")]
    pub quote_volume_24h: Decimal,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

impl TickerMsg {
    pub fn new(at: Seq, t: &Ticker) -> Self {
        TickerMsg {
            v: SCHEMA,
            epoch: at.epoch,
            seq: at.seq,
            venue: t.source.venue,
            market: t.source.market,
            symbol: t.symbol,
            last: t.last,
            bid: t.bid,
            bid_qty: t.bid_qty,
            ask: t.ask,
            ask_qty: t.ask_qty,
            volume_24h: t.volume_24h,
            quote_volume_24h: t.quote_volume_24h,
            exchange_time_ms: t.exchange_time_ms,
            local_time_ns: t.local_time_ns,
        }
    }

    pub fn into_event(self) -> Ticker {
        Ticker {
            source: Source {
                venue: self.venue,
                market: self.market,
            },
            symbol: self.symbol,
            last: self.last,
            bid: self.bid,
            bid_qty: self.bid_qty,
            ask: self.ask,
            ask_qty: self.ask_qty,
            volume_24h: self.volume_24h,
            quote_volume_24h: self.quote_volume_24h,
            exchange_time_ms: self.exchange_time_ms,
            local_time_ns: self.local_time_ns,
        }
    }
}

/// One change of a book (`...book.<symbol>`), as the gateway's book applied it: `reset`
/// starts the book over (drop every level, then set this message's); a quantity of 0 removes
/// the level. Out of sync (`synced: false`) a diff carries no levels until the next reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookDiffMsg {
    pub v: u32,
    pub epoch: u64,
    pub seq: u64,
    #[serde(with = "text")]
    pub venue: Venue,
    #[serde(with = "text")]
    pub market: Market,
    #[serde(with = "symbol")]
    pub symbol: Symbol,
    pub reset: bool,
    pub synced: bool,
    /// The venue's id of the last update applied.
    pub update_id: Option<u64>,
    #[serde(with = "levels")]
    pub bids: Vec<Level>,
    #[serde(with = "levels")]
    pub asks: Vec<Level>,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

impl BookDiffMsg {
    pub fn new(at: Seq, d: &BookDiff) -> Self {
        BookDiffMsg {
            v: SCHEMA,
            epoch: at.epoch,
            seq: at.seq,
            venue: d.source.venue,
            market: d.source.market,
            symbol: d.symbol,
            reset: d.reset,
            synced: d.synced,
            update_id: d.update_id,
            bids: d.bids.clone(),
            asks: d.asks.clone(),
            exchange_time_ms: d.exchange_time_ms,
            local_time_ns: d.local_time_ns,
        }
    }

    pub fn into_event(self) -> BookDiff {
        BookDiff {
            source: Source {
                venue: self.venue,
                market: self.market,
            },
            symbol: self.symbol,
            synced: self.synced,
            reset: self.reset,
            update_id: self.update_id,
            bids: self.bids,
            asks: self.asks,
            exchange_time_ms: self.exchange_time_ms,
            local_time_ns: self.local_time_ns,
        }
    }
}

/// The whole book as of diff `seq` (`...snapshot.<symbol>`, request/reply; the request's
/// payload is ignored): apply the diffs numbered after it. Levels best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookSnapshotMsg {
    pub v: u32,
    pub epoch: u64,
    pub seq: u64,
    #[serde(with = "text")]
    pub venue: Venue,
    #[serde(with = "text")]
    pub market: Market,
    #[serde(with = "symbol")]
    pub symbol: Symbol,
    pub synced: bool,
    pub update_id: Option<u64>,
    #[serde(with = "levels")]
    pub bids: Vec<Level>,
    #[serde(with = "levels")]
    pub asks: Vec<Level>,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

impl BookSnapshotMsg {
    /// The snapshot as the reset diff that starts a reader's book.
    pub fn into_reset(self) -> BookDiff {
        BookDiff {
            source: Source {
                venue: self.venue,
                market: self.market,
            },
            symbol: self.symbol,
            synced: self.synced,
            reset: true,
            update_id: self.update_id,
            bids: self.bids,
            asks: self.asks,
            exchange_time_ms: self.exchange_time_ms,
            local_time_ns: self.local_time_ns,
        }
    }
}

/// A symbol's trading rules (`...symbol.<symbol>`, request/reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolInfoMsg {
    pub v: u32,
    #[serde(with = "text")]
    pub venue: Venue,
    #[serde(with = "text")]
    pub market: Market,
    #[serde(with = "symbol")]
    pub symbol: Symbol,
    pub base_asset: String,
    pub quote_asset: String,
    pub status: String,
    pub trading: bool,
    #[serde(with = "money")]
    pub tick_size: Decimal,
    #[serde(with = "money")]
    pub step_size: Decimal,
    #[serde(with = "money")]
    pub min_qty: Decimal,
    #[serde(with = "opt_money")]
    pub max_qty: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub min_notional: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub market_min_qty: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub market_max_qty: Option<Decimal>,
    pub price_precision: u32,
    pub qty_precision: u32,
    /// The venue's filter objects as received (JSON text).
    pub raw_filters: String,
}

impl From<&SymbolInfo> for SymbolInfoMsg {
    fn from(s: &SymbolInfo) -> Self {
        SymbolInfoMsg {
            v: SCHEMA,
            venue: s.source.venue,
            market: s.source.market,
            symbol: s.symbol,
            base_asset: s.base_asset.clone(),
            quote_asset: s.quote_asset.clone(),
            status: s.status.clone(),
            trading: s.trading,
            tick_size: s.tick_size,
            step_size: s.step_size,
            min_qty: s.min_qty,
            max_qty: s.max_qty,
            min_notional: s.min_notional,
            market_min_qty: s.market_min_qty,
            market_max_qty: s.market_max_qty,
            price_precision: s.price_precision,
            qty_precision: s.qty_precision,
            raw_filters: s.raw_filters.clone(),
        }
    }
}

impl From<SymbolInfoMsg> for SymbolInfo {
    fn from(s: SymbolInfoMsg) -> Self {
        SymbolInfo {
            source: Source {
                venue: s.venue,
                market: s.market,
            },
            symbol: s.symbol,
            base_asset: s.base_asset,
            quote_asset: s.quote_asset,
            status: s.status,
            trading: s.trading,
            tick_size: s.tick_size,
            step_size: s.step_size,
            min_qty: s.min_qty,
            max_qty: s.max_qty,
            min_notional: s.min_notional,
            market_min_qty: s.market_min_qty,
            market_max_qty: s.market_max_qty,
            price_precision: s.price_precision,
            qty_precision: s.qty_precision,
            raw_filters: s.raw_filters,
        }
    }
}

/// What the gateway serves for one label (`...served`, request/reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedMsg {
    pub v: u32,
    pub epoch: u64,
    #[serde(with = "text")]
    pub venue: Venue,
    #[serde(with = "text")]
    pub market: Market,
    pub trades: Vec<String>,
    pub tickers: Vec<String>,
    pub books: Vec<String>,
    /// Its account events and commands are served.
    #[serde(default)]
    pub account: bool,
}

/// A request the gateway could not answer: `kind` is the error's class
/// (`invalid_argument`, `not_served`, `failed`), `message` says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMsg {
    pub v: u32,
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub kind: String,
    pub message: String,
    /// `invalid_argument`: the value at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `invalid_order`: the rule broken (`tick_size`, `insufficient_funds`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The venue's own answer, where it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<VenueReplyBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// `banned`: until when (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "account::opt_text"
    )]
    pub venue: Option<Venue>,
}

impl ErrorMsg {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        ErrorMsg {
            v: SCHEMA,
            error: ErrorBody {
                kind: kind.to_owned(),
                message: message.into(),
                field: None,
                rule: None,
                reply: None,
                retry_after_ms: None,
                until_ms: None,
                venue: None,
            },
        }
    }
}

/// A reply: the answer, or the gateway's error (told apart by the `error` key).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Reply<T> {
    Error(Box<ErrorMsg>),
    Ok(T),
}

/// Enumerations by their tradewire names.
mod text {
    use super::*;

    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let text = Cow::<str>::deserialize(d)?;
        text.parse().map_err(D::Error::custom)
    }
}

/// Symbols are interned for the process's life, so names read from the bus go through the
/// same bound as names read from a venue ([`Symbol::from_wire`]).
mod symbol {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Symbol, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Symbol, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        Symbol::from_wire(&text).map_err(D::Error::custom)
    }
}

mod id {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Id, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        Ok(Id::new(&Cow::<str>::deserialize(d)?))
    }
}

/// Decimals as text, read back exactly (never rounded: see [`parse_decimal`]).
mod money {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0; TEXT_MAX];
        s.serialize_str(write_decimal(*value, &mut buf))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        parse_decimal(&text).map_err(D::Error::custom)
    }
}

mod opt_money {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::money::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        match Option::<Cow<str>>::deserialize(d)? {
            Some(text) => parse_decimal(&text).map(Some).map_err(D::Error::custom),
            None => Ok(None),
        }
    }
}

/// Levels as `[price, qty]` pairs of decimal strings.
mod levels {
    use super::*;
    use serde::ser::SerializeSeq;

    struct Pair<'a>(&'a Level);

    impl Serialize for Pair<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(2))?;
            let (mut p, mut q) = ([0; TEXT_MAX], [0; TEXT_MAX]);
            seq.serialize_element(write_decimal(self.0.price, &mut p))?;
            seq.serialize_element(write_decimal(self.0.qty, &mut q))?;
            seq.end()
        }
    }

    pub fn serialize<S: Serializer>(value: &[Level], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(value.iter().map(Pair))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Level>, D::Error> {
        let pairs = Vec::<(Cow<str>, Cow<str>)>::deserialize(d)?;
        pairs
            .into_iter()
            .map(|(p, q)| {
                Ok(Level {
                    price: parse_decimal(&p).map_err(D::Error::custom)?,
                    qty: parse_decimal(&q).map_err(D::Error::custom)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade() -> Trade {
        Trade {
            source: Source {
                venue: Venue::Binance,
                market: Market::Spot,
            },
            symbol: Symbol::new("BTCUSDT"),
            trade_id: Id::from_u64(42),
            price: parse_decimal("65432.10").unwrap(),
            qty: parse_decimal("0.00100000").unwrap(),
            side: Side::Sell,
            exchange_time_ms: 1_700_000_000_123,
            local_time_ns: 1_700_000_000_123_456_789,
        }
    }

    #[test]
    fn a_trade_reads_back_exactly_with_every_trailing_zero() {
        let at = Seq { epoch: 7, seq: 1 };
        let text = serde_json::to_string(&TradeMsg::new(at, &trade())).unwrap();
        assert_eq!(
            text,
            r#"{"v":1,"epoch":7,"seq":1,"venue":"binance","market":"spot","symbol":"BTCUSDT","trade_id":"42","price":"65432.10","qty":"0.00100000","side":"SELL","exchange_time_ms":1700000000123,"local_time_ns":1700000000123456789}"#
        );
        let back: TradeMsg = serde_json::from_str(&text).unwrap();
        assert_eq!((back.epoch, back.seq), (at.epoch, at.seq));
        let event = back.into_event();
        assert_eq!(event, trade());
        assert_eq!(event.qty.to_string(), "0.00100000");
    }

    #[test]
    fn a_book_diff_keeps_its_levels_in_order() {
        let level = |p: &str, q: &str| Level {
            price: parse_decimal(p).unwrap(),
            qty: parse_decimal(q).unwrap(),
        };
        let diff = BookDiff {
            source: Source {
                venue: Venue::Bybit,
                market: Market::Linear,
            },
            symbol: Symbol::new("ETHUSDT"),
            synced: true,
            reset: false,
            update_id: Some(9),
            bids: vec![level("3000.5", "0"), level("3000.40", "1.5")],
            asks: vec![],
            exchange_time_ms: 1,
            local_time_ns: 2,
        };
        let at = Seq { epoch: 1, seq: 5 };
        let text = serde_json::to_string(&BookDiffMsg::new(at, &diff)).unwrap();
        assert!(text.contains(r#""bids":[["3000.5","0"],["3000.40","1.5"]],"asks":[]"#));
        let back: BookDiffMsg = serde_json::from_str(&text).unwrap();
        assert_eq!(back.into_event(), diff);
    }

    #[test]
    fn money_that_would_be_rounded_or_a_float_is_refused() {
        let at = Seq { epoch: 1, seq: 1 };
        let text = serde_json::to_string(&TradeMsg::new(at, &trade())).unwrap();
        let rounded = text.replace("65432.10", "1.00000000000000000000000000001");
        assert!(serde_json::from_str::<TradeMsg>(&rounded).is_err());
        let float = text.replace(r#""65432.10""#, "65432.1");
        assert!(serde_json::from_str::<TradeMsg>(&float).is_err());
        let venue = text.replace(r#""binance""#, r#""kraken""#);
        assert!(serde_json::from_str::<TradeMsg>(&venue).is_err());
    }

    #[test]
    fn a_reply_is_told_from_an_error() {
        let error = serde_json::to_string(&ErrorMsg::new("not_served", "no book of XYZ")).unwrap();
        match serde_json::from_str::<Reply<ServedMsg>>(&error).unwrap() {
            Reply::Error(e) => assert_eq!(e.error.kind, "not_served"),
            Reply::Ok(_) => panic!("an error read as an answer"),
        }
    }
}
