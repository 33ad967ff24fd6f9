//! Bybit v5 spot and linear as the core sees them: which dialect, topic, limit and rule each
//! part of a connector uses (PROTOCOLS.md 2.4–4.4, 7.3).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::book::{BybitSync, DEPTHS};
use super::market::{BybitPrivate, BybitStreams, ws_config};
use super::messages::{self, TopicMessage};
use super::orders::BybitTrading;
use super::rest::BybitRest;
use super::user;
use crate::book::sync::BookDelta;
use crate::model::{
    AggTrade, BookView, FundingRate, Interval, Kline, MarkPrice, Market, OpenInterest, Source,
    Symbol, SymbolInfo, Ticker, Venue,
};
use crate::net::http::{Dialect, Request};
use crate::net::{WsConfig, WsDialect};
use crate::resilience::{ClockSync, IdRule, LimitSpec, WindowKind};
use crate::venue::{
    self, BookPlan, Credentials, Endpoint, MarketEvent, MarketReader, PageQuery, Paging, Trading,
    UserEvent, UserStream,
};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, Default)]
pub struct Adapter;

impl venue::Adapter for Adapter {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    /// The trade WebSocket, spot and linear alike (`ws_api`: `wss://stream.bybit.com/v5/trade`).
    fn order_entry(
        &self,
        _market: Market,
        credentials: Arc<Credentials>,
        clock: Arc<ClockSync>,
    ) -> Option<Arc<dyn venue::OrderEntry>> {
        Some(Arc::new(super::entry::BybitEntry { credentials, clock }))
    }

    fn rest(&self, _market: Market) -> Arc<dyn Dialect> {
        Arc::new(BybitRest)
    }

    fn default_limits(&self, _market: Market) -> Vec<LimitSpec> {
        BybitRest.default_limits()
    }

    fn trading(&self, market: Market) -> Box<dyn Trading> {
        Box::new(BybitTrading { market })
    }

    /// instruments-info, 1000 a page.
    fn symbols_request(&self, market: Market, cursor: Option<&str>) -> Request {
        let request = Request::get("/v5/market/instruments-info")
            .param("category", market.as_str())
            .param("limit", 1000);
        match cursor {
            Some(cursor) if !cursor.is_empty() => request.param("cursor", cursor),
            _ => request,
        }
    }

    fn symbols_of(
        &self,
        market: Market,
        answer: &Value,
    ) -> Result<(Vec<SymbolInfo>, Option<String>)> {
        let list = messages::symbols(market, answer)?;
        let next = answer["result"]["nextPageCursor"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok((list, next))
    }

    fn ws_config(&self, _market: Market) -> WsConfig {
        ws_config()
    }

    /// 500 attempts per 5 minutes per IP; a tenth kept spare for other processes.
    fn ws_connect_limit(&self) -> LimitSpec {
        LimitSpec {
            name: "WS connects 5M".into(),
            kind: WindowKind::Rolling,
            length: Duration::from_secs(300),
            limit: 450,
        }
    }

    fn market_reader(&self, market: Market) -> Box<dyn MarketReader> {
        Box::new(Reader {
            market,
            tickers: Mutex::default(),
            marks: Mutex::default(),
        })
    }

    fn market_stream(&self, _market: Market, base: &str) -> (String, Arc<dyn WsDialect>) {
        (base.to_owned(), Arc::new(BybitStreams))
    }

    fn trades_topic(&self, symbol: &str) -> String {
        format!("publicTrade.{symbol}")
    }

    /// Deltas are folded into full tickers by the reader.
    fn tickers_topic(&self, symbol: &str) -> String {
        format!("tickers.{symbol}")
    }

    /// The shallowest `orderbook.{depth}` topic deep enough; any deeper one serves too.
    fn book(&self, _market: Market, symbol: &str, depth: usize) -> Result<BookPlan> {
        let Some(topic_depth) = DEPTHS.iter().copied().find(|d| *d >= depth.max(1)) else {
            return Err(Error::invalid_argument(
                "depth",
                "Bybit books go to 1000 levels a side at most",
            ));
        };
        Ok(BookPlan {
            topic: format!("orderbook.{topic_depth}.{symbol}"),
            depth: topic_depth,
            deeper: DEPTHS
                .iter()
                .filter(|d| **d >= topic_depth)
                .map(|d| format!("orderbook.{d}.{symbol}"))
                .collect(),
            rule: Box::new(BybitSync::new(topic_depth)),
        })
    }

    fn book_alias(&self, topic: &str) -> Vec<String> {
        let Some((depth, symbol)) = topic
            .strip_prefix("orderbook.")
            .and_then(|rest| rest.split_once('.'))
        else {
            return Vec::new();
        };
        let Ok(depth) = depth.parse::<usize>() else {
            return Vec::new();
        };
        // Only depths not offered live (the historical `orderbook.500`), into a book at least
        // as deep (a shallower snapshot would replace a deeper book).
        if DEPTHS.contains(&depth) {
            return Vec::new();
        }
        DEPTHS
            .iter()
            .filter(|d| **d >= depth)
            .map(|d| format!("orderbook.{d}.{symbol}"))
            .collect()
    }

    /// Books resubscribe for a snapshot: nothing is fetched.
    fn snapshot_request(&self, _market: Market, _symbol: Symbol) -> Option<Request> {
        None
    }

    fn snapshot_of(&self, _symbol: Symbol, _answer: &Value) -> Result<BookDelta> {
        Err(Error::Protocol {
            venue: Venue::Bybit,
            reason: "books have no REST snapshot here".into(),
        })
    }

    /// Up to 1000 levels a side, spot and linear (docs `market/orderbook.mdx`, 2026; older
    /// docs said 200 and 500).
    fn depth_request(&self, market: Market, symbol: Symbol, limit: usize) -> Result<Request> {
        let most = 1000;
        if !(1..=most).contains(&limit) {
            return Err(Error::invalid_argument(
                "limit",
                format!("must be between 1 and {most} here"),
            ));
        }
        Ok(Request::get("/v5/market/orderbook")
            .param("category", market.as_str())
            .param("symbol", symbol.as_str())
            .param("limit", limit))
    }

    fn depth_of(&self, market: Market, symbol: Symbol, answer: &Value) -> Result<BookView> {
        let (update_id, time, bids, asks) = messages::depth_snapshot(answer)?;
        Ok(BookView {
            source: Source {
                venue: Venue::Bybit,
                market,
            },
            symbol,
            synced: true,
            update_id: Some(update_id),
            bids,
            asks,
            exchange_time_ms: time,
            local_time_ns: 0,
        })
    }

    /// The linear `tickers.{symbol}` topic, which carries mark, index, funding and open
    /// interest (read into full state from its deltas).
    fn mark_topic(&self, market: Market, symbol: &str) -> Result<String> {
        venue::derivatives_only(Venue::Bybit, market, "mark prices")?;
        Ok(format!("tickers.{symbol}"))
    }

    /// `allLiquidation.{symbol}`: every liquidation.
    fn liquidations_topic(&self, market: Market, symbol: &str) -> Result<String> {
        venue::derivatives_only(Venue::Bybit, market, "liquidations")?;
        Ok(format!("allLiquidation.{symbol}"))
    }

    fn mark_request(&self, market: Market, symbol: Symbol) -> Result<Request> {
        venue::derivatives_only(Venue::Bybit, market, "mark prices")?;
        Ok(Request::get("/v5/market/tickers")
            .param("category", market.as_str())
            .param("symbol", symbol.as_str()))
    }

    fn mark_of(&self, market: Market, _symbol: Symbol, answer: &Value) -> Result<MarkPrice> {
        messages::mark_price(market, answer, 0)
    }

    /// The latest 5-minute entry.
    fn open_interest_request(&self, market: Market, symbol: Symbol) -> Result<Request> {
        venue::derivatives_only(Venue::Bybit, market, "open interest")?;
        Ok(Request::get("/v5/market/open-interest")
            .param("category", market.as_str())
            .param("symbol", symbol.as_str())
            .param("intervalTime", "5min")
            .param("limit", 1))
    }

    fn open_interest_of(
        &self,
        market: Market,
        symbol: Symbol,
        answer: &Value,
    ) -> Result<OpenInterest> {
        messages::open_interest(market, symbol, answer)
    }

    fn funding_max(&self, _market: Market) -> usize {
        200
    }

    /// A window holding at most `limit` fundings (one an hour, the shortest interval), so the
    /// venue's newest-first answer cannot skip any.
    fn funding_window_ms(&self, limit: usize) -> Option<i64> {
        Some(3_600_000_i64.saturating_mul(i64::try_from(limit).unwrap_or(i64::MAX)))
    }

    /// A lone `startTime` is refused by the venue: a window from `start` is closed at
    /// [`Self::funding_window_ms`].
    fn funding_request(
        &self,
        market: Market,
        symbol: Symbol,
        start: Option<i64>,
        end: Option<i64>,
        limit: usize,
    ) -> Result<Request> {
        venue::derivatives_only(Venue::Bybit, market, "funding rates")?;
        let request = Request::get("/v5/market/funding/history")
            .param("category", market.as_str())
            .param("symbol", symbol.as_str());
        let span = self.funding_window_ms(limit).unwrap_or(i64::MAX);
        let request = match (start, end) {
            (Some(start), end) => {
                let last = start.saturating_add(span).saturating_sub(1);
                request
                    .param("startTime", start)
                    .param("endTime", end.map_or(last, |e| e.min(last)))
            }
            (None, Some(end)) => request.param("endTime", end),
            (None, None) => request,
        };
        Ok(request.param("limit", limit))
    }

    fn funding_of(
        &self,
        market: Market,
        symbol: Symbol,
        answer: &Value,
    ) -> Result<Vec<FundingRate>> {
        messages::funding_rates(market, symbol, answer)
    }

    fn agg_trades_paging(&self, _market: Market) -> Result<Paging> {
        Err(no_agg_trades())
    }

    fn agg_trades_request(
        &self,
        _market: Market,
        _symbol: Symbol,
        _query: &PageQuery<'_>,
    ) -> Result<Request> {
        Err(no_agg_trades())
    }

    fn agg_trades_of(
        &self,
        _market: Market,
        _symbol: Symbol,
        _answer: &Value,
    ) -> Result<Vec<AggTrade>> {
        Err(no_agg_trades())
    }

    /// `kline.{interval}.{symbol}` with Bybit's interval names (no `1s`, `8h` or `3d`).
    fn kline_topic(&self, _market: Market, symbol: &str, interval: Interval) -> Result<String> {
        Ok(format!("kline.{}.{symbol}", bybit_interval(interval)?))
    }

    /// 1000 a request (200 if not asked).
    fn klines_max(&self, _market: Market) -> usize {
        1000
    }

    /// Always a closed window (`start` and `end` no more than `limit` candles apart): the
    /// venue lists newest first and does not document which end a lone `start` anchors.
    fn klines_request(
        &self,
        market: Market,
        symbol: Symbol,
        interval: Interval,
        start: Option<i64>,
        end: Option<i64>,
        limit: usize,
    ) -> Result<Request> {
        let name = bybit_interval(interval)?;
        let span = interval
            .max_ms()
            .saturating_mul(i64::try_from(limit).unwrap_or(i64::MAX));
        let request = Request::get("/v5/market/kline")
            .param("category", market.as_str())
            .param("symbol", symbol.as_str())
            .param("interval", name);
        let request = match (start, end) {
            (Some(start), end) => {
                let last = start.saturating_add(span).saturating_sub(1);
                request
                    .param("start", start)
                    .param("end", end.map_or(last, |e| e.min(last)))
            }
            (None, Some(end)) => request.param("end", end),
            (None, None) => request,
        };
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

    fn user_endpoint(&self, _market: Market) -> Endpoint {
        Endpoint::Private
    }

    fn user_stream(
        &self,
        market: Market,
        url: &str,
        credentials: Arc<Credentials>,
        clock: Arc<ClockSync>,
    ) -> UserStream {
        UserStream {
            url: url.to_owned(),
            dialect: Arc::new(BybitPrivate { credentials, clock }),
            topics: user::topics(market),
            listen_key: None,
            weighed_as: None,
        }
    }

    fn user_events(&self, market: Market, text: &str) -> Result<Vec<UserEvent>> {
        user::parse(market, text)
    }

    /// `orderLinkId`: up to 36 letters, digits, `-` and `_`.
    fn client_ids(&self) -> IdRule {
        IdRule {
            max_len: 36,
            symbols: "-_".into(),
        }
    }
}

/// Bybit publishes each trade (`publicTrade`), never aggregates.
fn no_agg_trades() -> Error {
    Error::invalid_argument("agg_trades", "Bybit has no aggregated trades: use trades()")
}

fn bybit_interval(interval: Interval) -> Result<&'static str> {
    messages::interval_name(interval).ok_or_else(|| {
        Error::invalid_argument(
            "interval",
            format!("Bybit has no {interval} candles (it has 1m to 12h, 1d, 1w, 1M, not 8h)"),
        )
    })
}

/// Public-topic frames of one category, with the latest full ticker per symbol (ticker deltas
/// name only what changed).
struct Reader {
    market: Market,
    tickers: Mutex<HashMap<Symbol, Ticker>>,
    /// Linear: the latest full mark and funding state per symbol.
    marks: Mutex<HashMap<Symbol, MarkPrice>>,
}

impl MarketReader for Reader {
    fn topic_of<'a>(&self, text: &'a str) -> Option<Cow<'a, str>> {
        venue::top_level_string(text, r#"{"topic":""#, "topic")
    }

    /// The last part of `publicTrade.BTCUSDT`, `orderbook.50.BTCUSDT`, `tickers.BTCUSDT`.
    fn symbol_of<'a>(&self, topic: &'a str) -> Option<&'a str> {
        let (_, symbol) = topic.rsplit_once('.')?;
        (!symbol.is_empty()).then_some(symbol)
    }

    fn read(&self, text: &str, local_time_ns: i64) -> Result<MarketEvent> {
        Ok(match messages::parse(self.market, text, local_time_ns)? {
            TopicMessage::Trades(t) => MarketEvent::Trades(t),
            TopicMessage::Book(update) => MarketEvent::Book(update.into()),
            TopicMessage::Ticker(update) => {
                let mut latest = self.tickers.lock().unwrap_or_else(|p| p.into_inner());
                let full = update.merge(latest.get(&update.symbol), local_time_ns);
                if let Some(t) = &full {
                    latest.insert(t.symbol, t.clone());
                }
                drop(latest);
                let mark = if self.market.is_derivative() {
                    let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
                    let mark = update.merge_mark(marks.get(&update.symbol), local_time_ns);
                    if let Some(m) = &mark {
                        marks.insert(m.symbol, m.clone());
                    }
                    mark
                } else {
                    None
                };
                match (full, mark) {
                    (Some(ticker), Some(mark)) => MarketEvent::Derivative(ticker, mark),
                    (full, _) => MarketEvent::Tickers(full.into_iter().collect()),
                }
            }
            TopicMessage::Liquidations(l) => MarketEvent::Liquidations(l),
            TopicMessage::Klines(k) => MarketEvent::Klines(k),
            TopicMessage::Other => MarketEvent::Other,
        })
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;

    #[test]
    fn the_topic_is_read_the_same_with_or_without_the_fast_path() {
        let reader = venue::Adapter::market_reader(&Adapter, Market::Linear);
        let cases = [
            (
                r#"{"topic":"orderbook.50.BTCUSDT","ts":1,"data":{}}"#,
                Some("orderbook.50.BTCUSDT"),
            ),
            // Not first, spaced or escaped: the full parse decides.
            (
                r#"{ "topic": "tickers.BTCUSDT", "data": {} }"#,
                Some("tickers.BTCUSDT"),
            ),
            (r#"{"topic":"a\u002eb","data":{}}"#, Some("a.b")),
            (r#"{"topic":"unterminated"#, None),
            (r#"{"op":"pong"}"#, None),
            ("not json", None),
        ];
        for (text, want) in cases {
            assert_eq!(reader.topic_of(text).as_deref(), want, "{text}");
        }
    }
}
