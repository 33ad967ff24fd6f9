//! History over arbitrary time ranges, read page by page within each venue's paging rules:
//! candles from a start (Bybit's closed windows walked on when one is empty), funding rates
//! (Bybit's windows walked inside [`Connector::funding_rates`]). Every request goes through the
//! rate limiter; a refusal for the limits, a timeout or a lost connection is retried with
//! backoff. The walk's cursor is where it would go on: a new walk from it resumes.

use std::sync::Arc;
use std::time::Duration;

use super::Connector;
use crate::model::{FundingRate, Interval, Kline};
use crate::resilience::Backoff;
use crate::{Error, Result};

/// Retries of one page before the walk gives up with the last error.
const PAGE_ATTEMPTS: u32 = 8;

/// What a walk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    Klines(Interval),
    Funding,
}

/// One page of a walk, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    Klines(Vec<Kline>),
    Funding(Vec<FundingRate>),
}

/// A walk through `start..=end` of one symbol's history.
pub struct HistoryWalk {
    connector: Arc<Connector>,
    symbol: String,
    kind: HistoryKind,
    start: i64,
    cursor: i64,
    end: i64,
    done: bool,
    backoff: Backoff,
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
    /// not given). The symbol, the interval and the range are checked here, before any request.
    pub fn history(
        self: &Arc<Self>,
        symbol: &str,
        kind: HistoryKind,
        start: i64,
        end: Option<i64>,
    ) -> Result<HistoryWalk> {
        let info = self.listed_symbol(symbol)?;
        match kind {
            HistoryKind::Klines(interval) => {
                self.adapter
                    .kline_topic(self.market, info.symbol.as_str(), interval)?;
            }
            HistoryKind::Funding => {
                self.adapter.mark_topic(self.market, info.symbol.as_str())?;
            }
        }
        let end = end.unwrap_or_else(|| self.server_time_ms());
        if start > end {
            return Err(Error::invalid_argument("start", "is after end"));
        }
        Ok(HistoryWalk {
            connector: self.clone(),
            symbol: info.symbol.as_str().to_owned(),
            kind,
            start,
            cursor: start,
            end,
            done: false,
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(10)),
        })
    }
}

impl HistoryWalk {
    /// Where the walk goes on from (Unix ms): a new walk from here resumes it.
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
            if self.done || self.cursor > self.end {
                self.done = true;
                return Ok(None);
            }
            let page = match self.kind {
                HistoryKind::Klines(interval) => self.klines(interval).await,
                HistoryKind::Funding => self.funding().await,
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
        let most = c.adapter.klines_max(c.market);
        let page = c
            .klines(
                &self.symbol,
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
                // Nothing after now can come.
                if self.cursor > c.server_time_ms() {
                    self.done = true;
                }
                Ok(None)
            }
        }
    }

    async fn funding(&mut self) -> Result<Option<Page>> {
        let page = self
            .connector
            .funding_rates(&self.symbol, Some(self.cursor), Some(self.end), None)
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
}
