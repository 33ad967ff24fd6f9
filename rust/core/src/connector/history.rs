//! History over arbitrary time ranges, read page by page within each venue's paging rules:
//! candles from a start (Bybit's closed windows walked on when one is empty), funding rates
//! (Bybit's windows walked inside [`Connector::funding_rates`]), and listings of aggregated
//! trades and the account's own fills and orders ([`Listing`]): time windows of the venue's
//! longest span, walked on by id (Binance) or by the venue's cursor (Bybit). Every request goes
//! through the rate limiter; a refusal for the limits, a timeout or a lost connection is
//! retried with backoff. The walk's cursor is where it would go on: a new walk from it resumes.

use std::sync::Arc;
use std::time::Duration;

use super::Connector;
use crate::model::{AggTrade, Fill, FundingRate, Interval, Kline, Order, Symbol};
use crate::resilience::Backoff;
use crate::venue::{Listing, PageQuery, Paging};
use crate::{Error, Result};

/// Retries of one page before the walk gives up with the last error.
const PAGE_ATTEMPTS: u32 = 8;
/// The shortest window a cursor walk narrows to when a window holds more than a page.
const MIN_WINDOW_MS: i64 = 60_000;

/// What a walk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    Klines(Interval),
    Funding,
    AggTrades,
    /// The account's own executions.
    Fills,
    /// The account's orders, by creation time.
    Orders,
}

impl HistoryKind {
    fn listing(self) -> Option<Listing> {
        match self {
            HistoryKind::AggTrades => Some(Listing::AggTrades),
            HistoryKind::Fills => Some(Listing::Fills),
            HistoryKind::Orders => Some(Listing::Orders),
            HistoryKind::Klines(_) | HistoryKind::Funding => None,
        }
    }
}

/// One page of a walk, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    Klines(Vec<Kline>),
    Funding(Vec<FundingRate>),
    AggTrades(Vec<AggTrade>),
    Fills(Vec<Fill>),
    Orders(Vec<Order>),
}

/// `$body` for the items `$v` of whatever kind `$page` holds.
macro_rules! each {
    ($page:expr, $v:ident => $body:expr) => {
        match $page {
            Page::Klines($v) => $body,
            Page::Funding($v) => $body,
            Page::AggTrades($v) => $body,
            Page::Fills($v) => $body,
            Page::Orders($v) => $body,
        }
    };
}

/// An item of a listing: when it happened and, where the venue numbers them, its number.
trait Listed {
    fn at_ms(&self) -> i64;
    fn serial(&self) -> Option<u64>;
}

impl Listed for Kline {
    fn at_ms(&self) -> i64 {
        self.open_time_ms
    }
    fn serial(&self) -> Option<u64> {
        None
    }
}

impl Listed for FundingRate {
    fn at_ms(&self) -> i64 {
        self.funding_time_ms
    }
    fn serial(&self) -> Option<u64> {
        None
    }
}

impl Listed for AggTrade {
    fn at_ms(&self) -> i64 {
        self.exchange_time_ms
    }
    fn serial(&self) -> Option<u64> {
        Some(self.agg_id)
    }
}

impl Listed for Fill {
    fn at_ms(&self) -> i64 {
        self.exchange_time_ms
    }
    fn serial(&self) -> Option<u64> {
        self.trade_id.as_str().parse().ok()
    }
}

impl Listed for Order {
    fn at_ms(&self) -> i64 {
        self.created_time_ms
    }
    fn serial(&self) -> Option<u64> {
        self.order_id.as_str().parse().ok()
    }
}

impl Page {
    pub fn len(&self) -> usize {
        each!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn at_ms(&self, i: usize) -> Option<i64> {
        each!(self, v => v.get(i).map(Listed::at_ms))
    }

    fn serial(&self, i: usize) -> Option<u64> {
        each!(self, v => v.get(i).and_then(Listed::serial))
    }

    fn truncate(&mut self, n: usize) {
        each!(self, v => v.truncate(n))
    }

    /// Only the items in `from..=to`, oldest first (a stable sort: the venue's order within a
    /// millisecond is kept; an answer newest first is reversed before).
    fn order_within(&mut self, from: i64, to: i64, newest_first: bool) {
        each!(self, v => {
            if newest_first {
                v.reverse();
            }
            v.retain(|x| (from..=to).contains(&x.at_ms()));
            v.sort_by_key(Listed::at_ms);
        })
    }

    /// `more`'s items after this page's (both of one kind).
    fn extend(&mut self, more: Page) {
        match (self, more) {
            (Page::AggTrades(v), Page::AggTrades(mut m)) => v.append(&mut m),
            (Page::Fills(v), Page::Fills(mut m)) => v.append(&mut m),
            (Page::Orders(v), Page::Orders(mut m)) => v.append(&mut m),
            (Page::Klines(v), Page::Klines(mut m)) => v.append(&mut m),
            (Page::Funding(v), Page::Funding(mut m)) => v.append(&mut m),
            (page, more) => {
                debug_assert!(false, "{page:?} extended by {more:?}");
            }
        }
    }
}

/// A walk through `start..=end` of one symbol's history.
pub struct HistoryWalk {
    connector: Arc<Connector>,
    symbol: Symbol,
    kind: HistoryKind,
    start: i64,
    cursor: i64,
    end: i64,
    done: bool,
    backoff: Backoff,
    /// How the venue pages a listing (`None` for candles and fundings).
    paging: Option<Paging>,
    /// More than a page of items share millisecond `.1`: going on by id from `.0`.
    by_id: Option<(u64, i64)>,
    /// A cursor walk's window: narrowed while a window holds more than a page, widened back
    /// while they hold less.
    window_ms: i64,
    /// Items a request asks for: the venue's most unless the caller asked for fewer.
    page_size: usize,
}

impl std::fmt::Debug for HistoryWalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryWalk")
            .field("symbol", &self.symbol)
            .field("kind", &self.kind)
            .field("cursor", &self.cursor)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// A walk through the `kind` history of `symbol` from `start` to `end` (Unix ms; now if
    /// not given), `page_size` items a request (the venue's most if not given). The symbol, the
    /// interval, the keys, the page size and the range are checked here, before any request.
    pub fn history(
        self: &Arc<Self>,
        symbol: &str,
        kind: HistoryKind,
        start: i64,
        end: Option<i64>,
        page_size: Option<usize>,
    ) -> Result<HistoryWalk> {
        let info = self.listed_symbol(symbol)?;
        let paging = match kind {
            HistoryKind::Klines(interval) => {
                self.adapter
                    .kline_topic(self.market, info.symbol.as_str(), interval)?;
                None
            }
            HistoryKind::Funding => {
                self.adapter.mark_topic(self.market, info.symbol.as_str())?;
                None
            }
            HistoryKind::AggTrades => Some(self.adapter.agg_trades_paging(self.market)?),
            HistoryKind::Fills | HistoryKind::Orders => {
                if !self.http.has_credentials() {
                    return Err(Error::invalid_argument(
                        "api_key",
                        "the account's fills and orders need API keys: pass api_key and api_secret to the connector",
                    ));
                }
                let listing = kind.listing().unwrap_or(Listing::Fills);
                Some(self.trading.history_paging(listing))
            }
        };
        let most = match (kind, paging) {
            (_, Some(paging)) => paging.max,
            (HistoryKind::Klines(_), None) => self.adapter.klines_max(self.market),
            _ => self.adapter.funding_max(self.market),
        };
        let page_size = page_size.unwrap_or(most);
        if !(1..=most).contains(&page_size) {
            return Err(Error::invalid_argument(
                "page_size",
                format!("must be between 1 and {most} here"),
            ));
        }
        let end = end.unwrap_or_else(|| self.server_time_ms());
        if start > end {
            return Err(Error::invalid_argument("start", "is after end"));
        }
        let span = end.saturating_sub(start).saturating_add(1);
        Ok(HistoryWalk {
            connector: self.clone(),
            symbol: info.symbol,
            kind,
            start,
            cursor: start,
            end,
            done: false,
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(10)),
            paging,
            by_id: None,
            window_ms: paging.and_then(|p| p.window_ms).unwrap_or(span).max(1),
            page_size,
        })
    }
}

impl HistoryWalk {
    /// Where the walk goes on from (Unix ms): a new walk from here resumes it. (Only while more
    /// than a page of items share one millisecond may a walk resumed from here repeat some of
    /// that millisecond's.)
    pub fn cursor_ms(&self) -> i64 {
        self.cursor
    }

    pub fn start_ms(&self) -> i64 {
        self.start
    }

    pub fn end_ms(&self) -> i64 {
        self.end
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next page with anything in it, oldest first; `None` once the range is read.
    pub async fn next_page(&mut self) -> Result<Option<Page>> {
        let mut attempt = 0;
        loop {
            if self.done || (self.cursor > self.end && self.by_id.is_none()) {
                self.done = true;
                return Ok(None);
            }
            let page = match (self.kind, self.kind.listing(), self.paging) {
                (HistoryKind::Klines(interval), ..) => self.klines(interval).await,
                (HistoryKind::Funding, ..) => self.funding().await,
                (_, Some(listing), Some(paging)) if paging.cursor => {
                    self.by_cursor(listing, paging).await
                }
                (_, Some(listing), Some(paging)) => self.by_window(listing, paging).await,
                _ => {
                    return Err(Error::Internal(format!(
                        "{:?} walked without paging",
                        self.kind
                    )));
                }
            };
            match page {
                Ok(Some(page)) => return Ok(Some(page)),
                Ok(None) => attempt = 0,
                Err(e) if e.is_retryable() && attempt < PAGE_ATTEMPTS => {
                    tracing::warn!(symbol = %self.symbol, error = %e, "history page failed; retrying");
                    // A refusal for the limits says how long to keep off: a walk waits it out.
                    let wait = match &e {
                        Error::RateLimited {
                            retry_after: Some(after),
                            ..
                        } => (*after).max(self.backoff.delay(attempt)),
                        _ => self.backoff.delay(attempt),
                    };
                    tokio::select! {
                        _ = self.connector.cancel.cancelled() => return Err(self.connector.closed_error()),
                        _ = tokio::time::sleep(wait) => {}
                    }
                    attempt = attempt.saturating_add(1);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One page of candles from the cursor; `None` (and the cursor moved past the window) if
    /// the window held none.
    async fn klines(&mut self, interval: Interval) -> Result<Option<Page>> {
        let c = &self.connector;
        let most = self.page_size;
        let page = c
            .klines(
                self.symbol.as_str(),
                interval,
                Some(self.cursor),
                Some(self.end),
                Some(most),
            )
            .await?;
        match page.last() {
            Some(last) => {
                self.cursor = last.close_time_ms.saturating_add(1);
                Ok(Some(Page::Klines(page)))
            }
            None => {
                let window = interval
                    .max_ms()
                    .saturating_mul(i64::try_from(most).unwrap_or(i64::MAX));
                self.cursor = self.cursor.saturating_add(window);
                self.stop_past_now();
                Ok(None)
            }
        }
    }

    async fn funding(&mut self) -> Result<Option<Page>> {
        let page = self
            .connector
            .funding_rates(
                self.symbol.as_str(),
                Some(self.cursor),
                Some(self.end),
                Some(self.page_size),
            )
            .await?;
        match page.last() {
            Some(last) => {
                self.cursor = last.funding_time_ms.saturating_add(1);
                Ok(Some(Page::Funding(page)))
            }
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }

    /// Nothing after now can come.
    fn stop_past_now(&mut self) {
        if self.cursor > self.connector.server_time_ms() {
            self.done = true;
        }
    }

    /// The last millisecond of the window from the cursor.
    fn window_end(&self, window_ms: Option<i64>) -> i64 {
        match window_ms {
            Some(w) => self
                .cursor
                .saturating_add(w.saturating_sub(1))
                .min(self.end),
            None => self.end,
        }
    }

    /// Binance: the oldest page of the window from the cursor. A full page's last millisecond
    /// is held back for the next page (it may go on past the page), so the cursor is exact;
    /// a full page all of one millisecond goes on by id.
    async fn by_window(&mut self, listing: Listing, paging: Paging) -> Result<Option<Page>> {
        if let Some((from_id, ms)) = self.by_id {
            let query = PageQuery {
                from_id: Some(from_id),
                limit: self.page_size,
                ..PageQuery::default()
            };
            let (mut page, _) = self.fetch(listing, &query).await?;
            let asked = page.len();
            let next = page.serial(asked.saturating_sub(1));
            page.order_within(ms, ms, false);
            match next {
                Some(last) if asked >= self.page_size && page.len() == asked => {
                    self.by_id = Some((last.saturating_add(1), ms));
                }
                _ => {
                    self.by_id = None;
                    self.cursor = ms.saturating_add(1);
                }
            }
            return Ok((!page.is_empty()).then_some(page));
        }
        let end = self.window_end(paging.window_ms);
        let query = PageQuery {
            start: Some(self.cursor),
            end: Some(end),
            limit: self.page_size,
            ..PageQuery::default()
        };
        let (mut page, _) = self.fetch(listing, &query).await?;
        let full = page.len() >= self.page_size;
        page.order_within(self.cursor, end, false);
        let (Some(first), Some(last)) = (page.at_ms(0), page.at_ms(page.len().saturating_sub(1)))
        else {
            self.cursor = end.saturating_add(1);
            self.stop_past_now();
            return Ok(None);
        };
        if !full {
            self.cursor = end.saturating_add(1);
            self.stop_past_now();
        } else if first == last {
            match page.serial(page.len().saturating_sub(1)) {
                Some(id) => {
                    // Everything before `last` is read: a resumed walk repeats only `last`'s.
                    self.cursor = last;
                    self.by_id = Some((id.saturating_add(1), last));
                }
                None => {
                    return Err(Error::protocol(
                        self.connector.venue,
                        format!(
                            "more than {} items at {last} ms, without ids to go on by",
                            self.page_size
                        ),
                    ));
                }
            }
        } else {
            let before = (0..page.len())
                .take_while(|&i| page.at_ms(i).is_some_and(|t| t < last))
                .count();
            page.truncate(before);
            self.cursor = last;
        }
        Ok(Some(page))
    }

    /// Bybit: every page of the window from the cursor over the venue's cursor (newest first),
    /// delivered oldest first. A window holding more than a page is narrowed first (to keep a
    /// page's memory bounded), down to a minute.
    async fn by_cursor(&mut self, listing: Listing, paging: Paging) -> Result<Option<Page>> {
        let most = paging.window_ms.unwrap_or(self.window_ms);
        let end = self.window_end(Some(self.window_ms));
        let mut all: Option<Page> = None;
        let mut next: Option<String> = None;
        loop {
            let query = PageQuery {
                start: Some(self.cursor),
                end: Some(end),
                cursor: next.as_deref(),
                limit: self.page_size,
                from_id: None,
            };
            let (page, more) = self.fetch(listing, &query).await?;
            let more = more.filter(|c| !c.is_empty() && !page.is_empty());
            if all.is_none() && more.is_some() && self.window_ms > MIN_WINDOW_MS {
                self.window_ms = (self.window_ms / 2).max(MIN_WINDOW_MS);
                return Ok(None);
            }
            let first = all.is_none();
            match &mut all {
                Some(all) => all.extend(page),
                None => all = Some(page),
            }
            match more {
                Some(cursor) if next.as_deref() != Some(cursor.as_str()) => next = Some(cursor),
                Some(_) => {
                    return Err(Error::protocol(
                        self.connector.venue,
                        "a history page's cursor did not move",
                    ));
                }
                None => {
                    if first {
                        self.window_ms = self.window_ms.saturating_mul(2).min(most);
                    }
                    break;
                }
            }
        }
        let Some(mut page) = all else {
            return Ok(None);
        };
        page.order_within(self.cursor, end, true);
        self.cursor = end.saturating_add(1);
        self.stop_past_now();
        Ok((!page.is_empty()).then_some(page))
    }

    /// One answer of a listing, and the venue's cursor of the next page if any.
    async fn fetch(
        &self,
        listing: Listing,
        query: &PageQuery<'_>,
    ) -> Result<(Page, Option<String>)> {
        let c = &self.connector;
        let symbol = self.symbol;
        let request = match listing {
            Listing::AggTrades => c.adapter.agg_trades_request(c.market, symbol, query)?,
            Listing::Fills | Listing::Orders => c.trading.history_request(listing, symbol, query),
        };
        let answer = c.rest_request(&request).await?;
        Ok(match listing {
            Listing::AggTrades => {
                let mut trades = c.adapter.agg_trades_of(c.market, symbol, &answer)?;
                let local = crate::model::now_ns();
                for t in &mut trades {
                    t.local_time_ns = local;
                }
                (Page::AggTrades(trades), None)
            }
            Listing::Fills => {
                let (fills, next) = c.trading.fills_of(&answer)?;
                (Page::Fills(fills), next)
            }
            Listing::Orders => {
                let (orders, next) = c.trading.orders_of(&answer)?;
                (Page::Orders(orders), next)
            }
        })
    }
}
