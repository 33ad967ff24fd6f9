//! Binance spot and USD-M as the core sees them: which dialect, topic, limit and rule each
//! part of a connector uses (PROTOCOLS.md 2.1–4.2, 7.1–7.2).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::book::{BinanceSync, Chain, KEEP, snapshot_delta};
use super::market::{BinanceStreams, ws_config};
use super::messages::{self, MarketMessage};
use super::orders::BinanceTrading;
use super::rest::BinanceRest;
use super::user::{self, BinanceSpotUser, BinanceUsdmUser};
use crate::book::sync::BookDelta;
use crate::model::{
    AggTrade, BookView, FundingRate, Interval, Kline, Level, MarkPrice, Market, OpenInterest,
    Source, Symbol, SymbolInfo, TopOfBook, Venue,
};
use crate::net::http::{Dialect, Request};
use crate::net::{WsConfig, WsDialect};
use crate::resilience::{ClockSync, IdRule, LimitSpec, WindowKind};
use crate::venue::{
    self, BookPlan, Credentials, Endpoint, MarketEvent, MarketReader, PageQuery, Paging, Trading,
    UserEvent, UserStream,
};
use crate::{Error, Result};

/// The spot user stream's one subscription (the account), named for the pool.
const USER_TOPIC: &str = "user";

#[derive(Debug, Clone, Copy, Default)]
pub struct Adapter;

fn prefix(market: Market) -> &'static str {
    if market == Market::Spot {
        "/api/v3"
    } else {
        "/fapi/v1"
    }
}

impl venue::Adapter for Adapter {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    /// The WebSocket API (`ws_api`: spot `wss://ws-api.binance.com:443/ws-api/v3`, USD-M
    /// `wss://ws-fapi.binance.com/ws-fapi/v1`).
    fn order_entry(
        &self,
        market: Market,
        credentials: Arc<Credentials>,
        clock: Arc<ClockSync>,
    ) -> Option<Arc<dyn venue::OrderEntry>> {
        Some(Arc::new(super::entry::BinanceEntry {
            market,
            credentials,
            clock,
        }))
    }

    /// Connecting weighs on the IP's request weight, shared with REST (spot 2, USD-M 5).
    fn entry_gate(&self, _market: Market) -> Option<Request> {
        Some(Request::get(super::rest::WS_API_CONNECT))
    }

    fn rest(&self, market: Market) -> Arc<dyn Dialect> {
        Arc::new(BinanceRest::new(market))
    }

    fn default_limits(&self, market: Market) -> Vec<LimitSpec> {
        BinanceRest::new(market).default_limits()
    }

    fn trading(&self, market: Market) -> Box<dyn Trading> {
        Box::new(BinanceTrading { market })
    }

    /// exchangeInfo: every symbol in one answer, with the rate limits.
    fn symbols_request(&self, market: Market, _cursor: Option<&str>) -> Request {
        Request::get(&format!("{}/exchangeInfo", prefix(market)))
    }

    fn symbols_of(
        &self,
        market: Market,
        answer: &Value,
    ) -> Result<(Vec<SymbolInfo>, Option<String>)> {
        Ok((messages::symbols(market, answer)?, None))
    }

    fn published_limits(&self, listing: &Value) -> Option<Vec<LimitSpec>> {
        Some(BinanceRest::limits_of(listing))
    }

    fn ws_config(&self, market: Market) -> WsConfig {
        ws_config(market)
    }

    /// 300 attempts per 5 minutes per IP; a tenth kept spare for other processes.
    fn ws_connect_limit(&self) -> LimitSpec {
        LimitSpec {
            name: "WS connects 5M".into(),
            kind: WindowKind::Rolling,
            length: Duration::from_secs(300),
            limit: 270,
        }
    }

    fn market_reader(&self, market: Market) -> Box<dyn MarketReader> {
        Box::new(Reader { market })
    }

    /// Combined streams name each message's stream, which routes it to its readers.
    fn market_stream(&self, _market: Market, base: &str) -> (String, Arc<dyn WsDialect>) {
        (
            format!("{}/stream", base.trim_end_matches('/')),
            Arc::new(BinanceStreams),
        )
    }

    /// USD-M serves book streams on `/public` and the rest on `/market`.
    fn stream_endpoint(&self, market: Market, topic: &str) -> Endpoint {
        let book = topic.contains("@depth") || topic.ends_with("@bookTicker");
        if market == Market::Usdm && !book {
            Endpoint::Market
        } else {
            Endpoint::Public
        }
    }

    fn trades_topic(&self, symbol: &str) -> String {
        format!("{}@trade", symbol.to_ascii_lowercase())
    }

    fn tickers_topic(&self, symbol: &str) -> String {
        format!("{}@ticker", symbol.to_ascii_lowercase())
    }

    /// The diff-depth stream, kept to [`KEEP`] levels whatever depth is asked.
    fn book(&self, market: Market, symbol: &str, depth: usize) -> Result<BookPlan> {
        if !(1..=KEEP).contains(&depth) {
            let reason = format!("must be between 1 and {KEEP}");
            return Err(Error::invalid_argument("depth", reason));
        }
        Ok(BookPlan {
            topic: format!("{}@depth@100ms", symbol.to_ascii_lowercase()),
            depth: KEEP,
            deeper: Vec::new(),
            rule: Box::new(BinanceSync::new(Chain::of(market))),
        })
    }

    fn book_alias(&self, topic: &str) -> Vec<String> {
        let Some((symbol, speed)) = topic.split_once("@depth") else {
            return Vec::new();
        };
        // Partial books (`@depth5`, `@depth20@100ms`) are snapshots, not diffs.
        if !(speed.is_empty() || speed.starts_with('@')) {
            return Vec::new();
        }
        vec![format!("{symbol}@depth@100ms")]
    }

    /// `limit=1000` (Decision 9), weighed by the limiter like every request.
    fn snapshot_request(&self, market: Market, symbol: Symbol) -> Option<Request> {
        let path = format!("{}/depth", prefix(market));
        Some(
            Request::get(&path)
                .param("symbol", symbol.as_str())
                .param("limit", 1000),
        )
    }

    fn snapshot_of(&self, symbol: Symbol, answer: &Value) -> Result<BookDelta> {
        messages::depth_snapshot(answer).map(|s| snapshot_delta(symbol, s))
    }

    /// Spot takes any limit up to 5000; USD-M one of 5, 10, 20, 50, 100, 500, 1000.
    fn depth_request(&self, market: Market, symbol: Symbol, limit: usize) -> Result<Request> {
        const USDM: [usize; 7] = [5, 10, 20, 50, 100, 500, 1000];
        let limit = if market == Market::Spot {
            Some(limit).filter(|l| (1..=5000).contains(l))
        } else {
            USDM.iter().copied().find(|l| *l >= limit.max(1))
        };
        let most = if market == Market::Spot { 5000 } else { 1000 };
        let limit = limit.ok_or_else(|| {
            Error::invalid_argument("limit", format!("must be between 1 and {most} here"))
        })?;
        Ok(Request::get(&format!("{}/depth", prefix(market)))
            .param("symbol", symbol.as_str())
            .param("limit", limit))
    }

    fn depth_of(&self, market: Market, symbol: Symbol, answer: &Value) -> Result<BookView> {
        let s = messages::depth_snapshot(answer)?;
        Ok(BookView {
            source: Source {
                venue: Venue::Binance,
                market,
            },
            symbol,
            synced: true,
            update_id: Some(s.last_update_id),
            bids: s.bids,
            asks: s.asks,
            exchange_time_ms: s.exchange_time_ms.unwrap_or(0),
            local_time_ns: 0,
        })
    }

    /// `<symbol>@markPrice@1s` (the 1 s stream; the plain one pushes every 3 s).
    fn mark_topic(&self, market: Market, symbol: &str) -> Result<String> {
        venue::derivatives_only(Venue::Binance, market, "mark prices")?;
        Ok(format!("{}@markPrice@1s", symbol.to_ascii_lowercase()))
    }

    /// `<symbol>@forceOrder`: the latest liquidation order per second.
    fn liquidations_topic(&self, market: Market, symbol: &str) -> Result<String> {
        venue::derivatives_only(Venue::Binance, market, "liquidations")?;
        Ok(format!("{}@forceOrder", symbol.to_ascii_lowercase()))
    }

    fn mark_request(&self, market: Market, symbol: Symbol) -> Result<Request> {
        venue::derivatives_only(Venue::Binance, market, "mark prices")?;
        Ok(Request::get("/fapi/v1/premiumIndex").param("symbol", symbol.as_str()))
    }

    fn mark_of(&self, market: Market, _symbol: Symbol, answer: &Value) -> Result<MarkPrice> {
        messages::premium_index(market, answer)
    }

    fn open_interest_request(&self, market: Market, symbol: Symbol) -> Result<Request> {
        venue::derivatives_only(Venue::Binance, market, "open interest")?;
        Ok(Request::get("/fapi/v1/openInterest").param("symbol", symbol.as_str()))
    }

    fn open_interest_of(
        &self,
        market: Market,
        _symbol: Symbol,
        answer: &Value,
    ) -> Result<OpenInterest> {
        messages::open_interest(market, answer)
    }

    fn funding_max(&self, _market: Market) -> usize {
        1000
    }

    /// `startTime` anchors ("return as startTime + limit ... in ascending order").
    fn funding_request(
        &self,
        market: Market,
        symbol: Symbol,
        start: Option<i64>,
        end: Option<i64>,
        limit: usize,
    ) -> Result<Request> {
        venue::derivatives_only(Venue::Binance, market, "funding rates")?;
        let mut request = Request::get("/fapi/v1/fundingRate").param("symbol", symbol.as_str());
        if let Some(start) = start {
            request = request.param("startTime", start);
        }
        if let Some(end) = end {
            request = request.param("endTime", end);
        }
        Ok(request.param("limit", limit))
    }

    fn funding_of(
        &self,
        market: Market,
        _symbol: Symbol,
        answer: &Value,
    ) -> Result<Vec<FundingRate>> {
        messages::funding_rates(market, answer)
    }

    fn agg_trades_topic(&self, symbol: &str) -> Option<String> {
        Some(format!("{}@aggTrade", symbol.to_ascii_lowercase()))
    }

    /// 1000 a page; USD-M asks for less than an hour at a time ("time between startTime and
    /// endTime must be less than 1 hour"), spot for any span (its docs set no bound).
    fn agg_trades_paging(&self, market: Market) -> Result<Paging> {
        Ok(Paging {
            max: 1000,
            window_ms: (market != Market::Spot).then_some(3_600_000),
            cursor: false,
        })
    }

    /// `fromId` alone or a time window: USD-M warns that both together may time out.
    fn agg_trades_request(
        &self,
        market: Market,
        symbol: Symbol,
        query: &PageQuery<'_>,
    ) -> Result<Request> {
        let request =
            Request::get(&format!("{}/aggTrades", prefix(market))).param("symbol", symbol.as_str());
        Ok(super::windowed(request, "fromId", query))
    }

    fn agg_trades_of(
        &self,
        market: Market,
        symbol: Symbol,
        answer: &Value,
    ) -> Result<Vec<AggTrade>> {
        messages::agg_trades(market, symbol, answer)
    }

    fn top_topic(&self, symbol: &str) -> Option<String> {
        Some(format!("{}@bookTicker", symbol.to_ascii_lowercase()))
    }

    /// `<symbol>@kline_<interval>` with Binance's own interval names (USD-M has no `1s`).
    fn kline_topic(&self, market: Market, symbol: &str, interval: Interval) -> Result<String> {
        intervals_of(market, interval)?;
        Ok(format!(
            "{}@kline_{}",
            symbol.to_ascii_lowercase(),
            interval.as_str()
        ))
    }

    /// Spot 1000, USD-M 1500.
    fn klines_max(&self, market: Market) -> usize {
        if market == Market::Spot { 1000 } else { 1500 }
    }

    /// Start-anchored when `startTime` is given, else the latest up to `endTime` (BS
    /// rest-api.md "Data is returned in chronological order").
    fn klines_request(
        &self,
        market: Market,
        symbol: Symbol,
        interval: Interval,
        start: Option<i64>,
        end: Option<i64>,
        limit: usize,
    ) -> Result<Request> {
        intervals_of(market, interval)?;
        let mut request = Request::get(&format!("{}/klines", prefix(market)))
            .param("symbol", symbol.as_str())
            .param("interval", interval.as_str());
        if let Some(start) = start {
            request = request.param("startTime", start);
        }
        if let Some(end) = end {
            request = request.param("endTime", end);
        }
        Ok(request.param("limit", limit))
    }

    fn klines_of(
        &self,
        market: Market,
        symbol: Symbol,
        interval: Interval,
        answer: &Value,
    ) -> Result<Vec<Kline>> {
        messages::klines(market, symbol, interval, answer)
    }

    /// Spot's user stream is on the WebSocket API (Decision 2); USD-M's on `/private`.
    fn user_endpoint(&self, market: Market) -> Endpoint {
        if market == Market::Spot {
            Endpoint::Api
        } else {
            Endpoint::Private
        }
    }

    fn user_stream(
        &self,
        market: Market,
        url: &str,
        credentials: Arc<Credentials>,
        clock: Arc<ClockSync>,
    ) -> UserStream {
        if market == Market::Spot {
            UserStream {
                url: url.to_owned(),
                dialect: Arc::new(BinanceSpotUser { credentials, clock }),
                topics: vec![USER_TOPIC.to_owned()],
                listen_key: None,
                // The WebSocket API's weight is the IP's request weight, shared with REST
                // (connecting and `userDataStream.subscribe.signature` weigh 2 each).
                weighed_as: Some(Request::get(super::rest::WS_API_REQUEST)),
            }
        } else {
            UserStream {
                url: format!("{}/ws", url.trim_end_matches('/')),
                dialect: Arc::new(BinanceUsdmUser),
                topics: Vec::new(),
                listen_key: Some("/fapi/v1/listenKey"),
                weighed_as: None,
            }
        }
    }

    fn user_events(&self, market: Market, text: &str) -> Result<Vec<UserEvent>> {
        user::parse(market, text)
    }

    /// `newClientOrderId`: `^[\.A-Z\:/a-z0-9_-]{1,36}$`.
    fn client_ids(&self) -> IdRule {
        IdRule {
            max_len: 36,
            symbols: "-_.:/".into(),
        }
    }
}

/// Checks that the market has `interval` (every Binance name; USD-M lacks `1s`).
fn intervals_of(market: Market, interval: Interval) -> Result<()> {
    if market == Market::Usdm && interval == Interval::S1 {
        return Err(Error::invalid_argument(
            "interval",
            "Binance USD-M has no 1s candles (its smallest is 1m)",
        ));
    }
    Ok(())
}

/// Market-stream frames of one market.
struct Reader {
    market: Market,
}

impl MarketReader for Reader {
    fn topic_of<'a>(&self, text: &'a str) -> Option<Cow<'a, str>> {
        venue::top_level_string(text, r#"{"stream":""#, "stream")
    }

    /// `btcusdt@trade` is BTCUSDT's; `!ticker@arr` is every symbol's.
    fn symbol_of<'a>(&self, topic: &'a str) -> Option<&'a str> {
        let (symbol, _) = topic.split_once('@')?;
        (!symbol.is_empty() && !symbol.starts_with('!')).then_some(symbol)
    }

    fn read(&self, text: &str, local_time_ns: i64) -> Result<MarketEvent> {
        Ok(match messages::parse(self.market, text, local_time_ns)? {
            MarketMessage::Trade(t) => MarketEvent::Trade(t),
            MarketMessage::AggTrade(t) => MarketEvent::AggTrades(vec![t]),
            MarketMessage::Marks(m) => MarketEvent::Marks(m),
            MarketMessage::Liquidation(l) => MarketEvent::Liquidations(vec![l]),
            MarketMessage::BookTop(top) => {
                // An empty side is sent as price and quantity 0.
                let side = |l: Level| (!(l.price.is_zero() && l.qty.is_zero())).then_some(l);
                MarketEvent::Top(TopOfBook {
                    source: Source {
                        venue: Venue::Binance,
                        market: self.market,
                    },
                    symbol: top.symbol,
                    bid: side(top.bid),
                    ask: side(top.ask),
                    update_id: Some(top.update_id),
                    exchange_time_ms: top.exchange_time_ms.unwrap_or(0),
                    local_time_ns,
                })
            }
            MarketMessage::Depth(diff) => MarketEvent::Book(diff.into()),
            MarketMessage::Tickers(t) => MarketEvent::Tickers(t),
            MarketMessage::Kline(k) => MarketEvent::Klines(vec![k]),
            MarketMessage::Other => MarketEvent::Other,
        })
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_read_the_same_with_or_without_the_fast_path() {
        let reader = Reader {
            market: Market::Spot,
        };
        let cases = [
            (
                r#"{"stream":"btcusdt@depth@100ms","data":{"u":1}}"#,
                Some("btcusdt@depth@100ms"),
            ),
            // Not first, spaced or escaped: the full parse decides.
            (
                r#"{"data":{"u":1},"stream":"btcusdt@trade"}"#,
                Some("btcusdt@trade"),
            ),
            (r#"{ "stream": "btcusdt@ticker" }"#, Some("btcusdt@ticker")),
            (r#"{"stream":"a\u0040b","data":{}}"#, Some("a@b")),
            (r#"{"stream":"unterminated"#, None),
            (r#"{"result":null,"id":1}"#, None),
            ("not json", None),
        ];
        for (text, want) in cases {
            assert_eq!(reader.topic_of(text).as_deref(), want, "{text}");
        }
    }
}
