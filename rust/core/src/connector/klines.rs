//! Candles: REST pages, and the live candle stream whose closed candles reach the reader once
//! each and in order. A closed candle the stream never delivered (a reconnect, a lost frame, a
//! venue that skips) shows as a later candle arriving early; the ones between are then read by
//! REST while the live ones wait behind them.

use foldhash::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::{Connector, lock};
use crate::model::{Interval, Kline, Symbol, now_ns};
use crate::resilience::Backoff;
use crate::stream::{self, Overflow};
use crate::{Error, Result};

impl Connector {
    /// At most `limit` candles of `symbol` (default 500, or the venue's most if smaller)
    /// opening in `start..=end` (Unix ms): from `start` on if given, else the latest up to
    /// `end` (or now). Oldest first; the venue's current candle, if included, is open.
    pub async fn klines(
        &self,
        symbol: &str,
        interval: Interval,
        start: Option<i64>,
        end: Option<i64>,
        limit: Option<usize>,
    ) -> Result<Vec<Kline>> {
        let info = self.listed_symbol(symbol)?;
        let most = self.adapter.klines_max(self.market);
        let limit = checked_page(limit.unwrap_or(most.min(500)), most, start, end)?;
        let request =
            self.adapter
                .klines_request(self.market, info.symbol, interval, start, end, limit)?;
        let answer = self.rest_request(&request).await?;
        let mut klines = self
            .adapter
            .klines_of(self.market, info.symbol, interval, &answer)?;
        // A venue answering more than asked (or outside the window) is trimmed, not trusted.
        klines.retain(|k| {
            start.is_none_or(|s| k.open_time_ms >= s) && end.is_none_or(|e| k.open_time_ms <= e)
        });
        klines.truncate(limit);
        let (now_ms, local) = (self.server_time_ms(), now_ns());
        for k in &mut klines {
            k.local_time_ns = local;
        }
        if let Some(last) = klines.last_mut()
            && last.close_time_ms >= now_ms
        {
            last.closed = false;
            last.exchange_time_ms = now_ms;
        }
        Ok(klines)
    }

    /// The live candles of `symbols` at `interval`, open ones as they change and each closed
    /// one exactly once, in order: closed candles the stream missed are read by REST first. A
    /// reader that falls `capacity` candles behind gets [`Error::SlowConsumer`].
    pub fn kline_updates(
        self: &Arc<Self>,
        symbols: &[String],
        interval: Interval,
        capacity: usize,
    ) -> Result<stream::Receiver<Kline>> {
        let topics = self.listed_topics(symbols, |s| {
            self.adapter.kline_topic(self.market, s, interval)
        })?;
        let (tx, rx) = stream::channel(capacity.max(1), Overflow::NeverDrop);
        let feed = Arc::new(KlineFeed {
            tx,
            interval,
            connector: Arc::downgrade(self),
            symbols: Mutex::default(),
        });
        self.read_topics(&topics, super::streams::Reader::Klines(feed))?;
        Ok(rx)
    }
}

/// A page request's `limit` (at most the venue's `most`) and window checked.
pub(super) fn checked_page(
    limit: usize,
    most: usize,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<usize> {
    if !(1..=most).contains(&limit) {
        return Err(Error::invalid_argument(
            "limit",
            format!("must be between 1 and {most} here"),
        ));
    }
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(Error::invalid_argument("start", "is after end"));
    }
    Ok(limit)
}

/// One reader's candle stream and what it is owed per symbol.
pub(super) struct KlineFeed {
    pub(super) tx: stream::Sender<Kline>,
    interval: Interval,
    connector: Weak<Connector>,
    symbols: Mutex<HashMap<Symbol, Owed>>,
}

#[derive(Debug, Default)]
struct Owed {
    /// The open time of the next closed candle the reader is owed (`None`: none seen yet).
    next: Option<i64>,
    /// While a backfill runs: the live candles that came after the gap, in arrival order.
    held: Option<Vec<Kline>>,
}

impl KlineFeed {
    /// Passes a frame's candles on; `false` once the reader has gone.
    pub(super) fn on_klines(self: &Arc<Self>, klines: &[Kline]) -> bool {
        if self.tx.is_closed() {
            return false;
        }
        let mut out = Vec::new();
        {
            let mut symbols = lock(&self.symbols);
            for k in klines.iter().filter(|k| k.interval == self.interval) {
                let owed = symbols.entry(k.symbol).or_default();
                self.admit(owed, k.clone(), &mut out);
            }
        }
        out.is_empty() || self.tx.send_batch(out).is_ok()
    }

    /// One live candle: passed on, dropped as already delivered (a repeated close, an update
    /// of a closed candle), or held behind a backfill (started here) of the closed candles
    /// missed before it.
    fn admit(self: &Arc<Self>, owed: &mut Owed, k: Kline, out: &mut Vec<Kline>) {
        if let Some(held) = &mut owed.held {
            held.push(k);
            return;
        }
        match owed.next {
            Some(next) if k.open_time_ms < next => {}
            Some(next) if k.open_time_ms > next => {
                let (symbol, until) = (k.symbol, k.open_time_ms);
                owed.held = Some(vec![k]);
                self.backfill(symbol, next, until);
            }
            _ => {
                owed.next = Some(if k.closed {
                    k.close_time_ms.saturating_add(1)
                } else {
                    k.open_time_ms
                });
                out.push(k);
            }
        }
    }

    /// Reads the closed candles of `symbol` opening in `from..until` by REST (retrying with
    /// backoff), then delivers them and the candles held meanwhile.
    fn backfill(self: &Arc<Self>, symbol: Symbol, from: i64, until: i64) {
        let Some(connector) = self.connector.upgrade() else {
            return;
        };
        let name = format!("kline backfill {symbol} {}", self.interval);
        let (feed, cancel) = (Arc::downgrade(self), connector.cancel.clone());
        let interval = self.interval;
        let mut unfinished = Unfinished {
            feed: Arc::downgrade(self),
            done: false,
        };
        let task = connector.supervisor.observe(&name, async move {
            let unfinished = &mut unfinished;
            let mut fetched: Vec<Kline> = Vec::new();
            let mut cursor = from;
            let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
            let mut attempt = 0u32;
            while cursor < until {
                let Some(c) = feed.upgrade().and_then(|f| f.connector.upgrade()) else {
                    return;
                };
                let most = c.adapter.klines_max(c.market);
                let page = tokio::select! {
                    _ = cancel.cancelled() => return,
                    page = c.klines(symbol.as_str(), interval, Some(cursor), Some(until.saturating_sub(1)), Some(most)) => page,
                };
                drop(c);
                match page {
                    Ok(page) => {
                        attempt = 0;
                        let before = fetched.len();
                        fetched.extend(page.into_iter().filter(|k| k.open_time_ms >= cursor));
                        cursor = match fetched.get(before..).and_then(<[Kline]>::last) {
                            Some(last) => interval.next_open(last.open_time_ms),
                            // None in this window (a halted market): the next window.
                            None => cursor.saturating_add(
                                interval
                                    .max_ms()
                                    .saturating_mul(i64::try_from(most).unwrap_or(1)),
                            ),
                        };
                    }
                    Err(e) => {
                        tracing::warn!(%symbol, %interval, error = %e, "candle backfill failed; retrying");
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = tokio::time::sleep(backoff.delay(attempt)) => {}
                        }
                        attempt = attempt.saturating_add(1);
                    }
                }
            }
            unfinished.done = true;
            if let Some(feed) = feed.upgrade() {
                feed.backfilled(symbol, until, fetched);
            }
        });
        drop(task);
    }

    /// Delivers the backfilled candles (all closed: a later one has opened), then the held
    /// ones through [`KlineFeed::admit`] again.
    fn backfilled(self: &Arc<Self>, symbol: Symbol, until: i64, fetched: Vec<Kline>) {
        let mut out = Vec::new();
        {
            let mut symbols = lock(&self.symbols);
            let owed = symbols.entry(symbol).or_default();
            let held = owed.held.take().unwrap_or_default();
            let mut next = owed.next.unwrap_or(i64::MIN);
            for mut k in fetched.into_iter().filter(|k| k.open_time_ms < until) {
                if k.open_time_ms >= next {
                    next = k.close_time_ms.saturating_add(1);
                    k.closed = true;
                    out.push(k);
                }
            }
            // Candles the venue does not have are not owed.
            owed.next = Some(next.max(until));
            for k in held {
                self.admit(owed, k, &mut out);
            }
        }
        if !out.is_empty() {
            let _ = self.tx.send_batch(out);
        }
    }
}

/// A backfill that ended without delivering (a panic, the connector closing) fails the stream:
/// its reader would otherwise wait on held candles forever.
struct Unfinished {
    feed: Weak<KlineFeed>,
    done: bool,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.done
            && let Some(feed) = self.feed.upgrade()
        {
            feed.tx.fail(Error::Internal(
                "a candle backfill ended before it delivered; open the stream again".into(),
            ));
        }
    }
}
