//! A connector's market streams: WebSocket pools per URL, who reads each topic, one parse per
//! frame however many readers want it, and the books kept live from the depth streams —
//! snapshots fetched through the rate limiter, resyncs of one symbol at a time, events when a
//! book gains or loses sync.

use foldhash::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{Connector, ConnectorEvent, lock};
use crate::book::diffs::DiffFeed;
use crate::book::live::{BookHandle, LiveBook, Need, Step, ViewTicket};
use crate::model::{
    AggTrade, BookDiff, Kline, Liquidation, MarkPrice, Source, Ticker, TopOfBook, Trade,
};
use crate::net::ws::{Inbound, RequestGate, WsDialect, WsEvent, WsPool};
use crate::resilience::Backoff;
use crate::stream::{self, Overflow};
use crate::venue::{self, Endpoint, MarketEvent, MarketReader};
use crate::{Error, Result};

/// Who reads each topic (stream name or topic), by topic.
type Readers = Arc<Mutex<HashMap<String, Vec<Reader>>>>;

/// One subscriber of a topic.
#[derive(Clone)]
pub(super) enum Reader {
    /// The venue's text as is.
    Raw(Arc<stream::Sender<String>>),
    Trades(Arc<stream::Sender<Trade>>),
    AggTrades(Arc<stream::Sender<AggTrade>>),
    Tickers(Arc<stream::Sender<Ticker>>),
    /// The best bid and offer from a stream of its own.
    Tops(Arc<stream::Sender<TopOfBook>>),
    Marks(Arc<stream::Sender<MarkPrice>>),
    Liquidations(Arc<stream::Sender<Liquidation>>),
    /// Candles, each closed one delivered once (backfilled by REST where the stream missed it).
    Klines(Arc<super::klines::KlineFeed>),
    /// A live book (one per topic, shared by its handles and view streams).
    Book(Arc<LiveBook>),
}

/// State every frame of a connector may need, whoever reads it.
struct Shared {
    /// Messages that could not be read (logged and skipped).
    skipped: AtomicU64,
    /// The venue market's frame reader (and what it keeps between frames).
    reader: Box<dyn MarketReader>,
}

/// The WebSocket pools (one per URL) and who reads each topic.
pub(super) struct Streams {
    pools: HashMap<String, Arc<WsPool>>,
    readers: Readers,
    /// When each topic last delivered.
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    shared: Arc<Shared>,
}

impl Streams {
    pub(super) fn new(reader: Box<dyn MarketReader>) -> Streams {
        Streams {
            pools: HashMap::default(),
            readers: Readers::default(),
            seen: Arc::default(),
            shared: Arc::new(Shared {
                skipped: AtomicU64::new(0),
                reader,
            }),
        }
    }
}

/// What a raw stream's reader may fall behind by in bytes before frames are dropped (with a
/// gap marker): megabyte frames from a venue must not pile up into gigabytes.
pub const RAW_STREAM_BYTES: usize = 64 << 20;

/// One live book's state for `health()`.
#[derive(Debug, Clone)]
pub struct BookHealth {
    pub symbol: String,
    pub topic: String,
    pub synced: bool,
    pub update_id: Option<u64>,
    /// Since the book last changed (`None`: never).
    pub age: Option<Duration>,
    pub stats: crate::book::live::BookStats,
}

struct Frame<'a> {
    inbound: &'a Inbound,
    /// The stream or topic the frame came on.
    topic: &'a str,
    shared: &'a Shared,
    local_time_ns: i64,
    /// What the frame means, read at most once however many readers want it (`Other` if
    /// unreadable).
    parsed: Option<MarketEvent>,
    /// Book steps to act on once the readers are released.
    steps: Vec<(Arc<LiveBook>, Step)>,
}

impl Frame<'_> {
    fn parsed(&mut self) -> &MarketEvent {
        let (shared, text, ns) = (self.shared, &self.inbound.text, self.local_time_ns);
        let topic = self.topic;
        self.parsed.get_or_insert_with(|| {
            let event = shared.reader.read(text, ns).unwrap_or_else(|e| {
                // Counted and logged; a bad message never reaches a reader.
                shared.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "unreadable market message skipped");
                MarketEvent::Other
            });
            // Readable but impossible (a trade at price 0, a negative level, another symbol's
            // event): counted and skipped the same way.
            match venue::implausible(&event, shared.reader.symbol_of(topic)) {
                Some(reason) => {
                    shared.skipped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%reason, topic, "implausible market message skipped");
                    MarketEvent::Other
                }
                None => event,
            }
        })
    }

    fn trades(&mut self) -> &[Trade] {
        match self.parsed() {
            MarketEvent::Trade(t) => std::slice::from_ref(t),
            MarketEvent::Trades(t) => t,
            _ => &[],
        }
    }

    fn tickers(&mut self) -> &[Ticker] {
        match self.parsed() {
            MarketEvent::Tickers(t) => t,
            MarketEvent::Derivative(t, _) => std::slice::from_ref(t),
            _ => &[],
        }
    }

    fn marks(&mut self) -> &[MarkPrice] {
        match self.parsed() {
            MarketEvent::Marks(m) => m,
            MarketEvent::Derivative(_, m) => std::slice::from_ref(m),
            _ => &[],
        }
    }

    fn liquidations(&mut self) -> &[Liquidation] {
        match self.parsed() {
            MarketEvent::Liquidations(l) => l,
            _ => &[],
        }
    }

    fn agg_trades(&mut self) -> &[AggTrade] {
        match self.parsed() {
            MarketEvent::AggTrades(t) => t,
            _ => &[],
        }
    }

    fn top(&mut self) -> Option<&TopOfBook> {
        match self.parsed() {
            MarketEvent::Top(t) => Some(t),
            _ => None,
        }
    }

    fn klines(&mut self) -> &[Kline] {
        match self.parsed() {
            MarketEvent::Klines(k) => k,
            _ => &[],
        }
    }
}

impl Reader {
    /// Delivers the frame; `false` once the reader has gone.
    fn deliver(&self, frame: &mut Frame<'_>) -> bool {
        match self {
            Reader::Raw(tx) => tx.send(frame.inbound.text.to_string()).is_ok(),
            Reader::Trades(tx) => {
                let trades = frame.trades();
                trades.is_empty() || tx.send_batch(trades.iter().cloned()).is_ok()
            }
            Reader::Tickers(tx) => {
                let tickers = frame.tickers();
                tickers.is_empty() || tx.send_batch(tickers.iter().cloned()).is_ok()
            }
            Reader::AggTrades(tx) => {
                let trades = frame.agg_trades();
                trades.is_empty() || tx.send_batch(trades.iter().cloned()).is_ok()
            }
            Reader::Tops(tx) => frame.top().is_none_or(|t| tx.send(t.clone()).is_ok()),
            Reader::Marks(tx) => {
                let marks = frame.marks();
                marks.is_empty() || tx.send_batch(marks.iter().cloned()).is_ok()
            }
            Reader::Liquidations(tx) => {
                let all = frame.liquidations();
                all.is_empty() || tx.send_batch(all.iter().cloned()).is_ok()
            }
            Reader::Klines(feed) => feed.on_klines(frame.klines()),
            Reader::Book(book) => {
                if !book.in_use() {
                    return false;
                }
                let (shard, ns) = (frame.inbound.shard, frame.local_time_ns);
                let MarketEvent::Book(update) = frame.parsed() else {
                    return true;
                };
                let step = book.on_update(update, shard, ns);
                frame.steps.push((book.clone(), step));
                true
            }
        }
    }
}

impl Connector {
    /// Which URL serves `topic`: the venue's market route if it splits its streams over two
    /// (and one is configured), else the one market-stream URL.
    fn stream_url(&self, topic: &str) -> String {
        match (
            self.adapter.stream_endpoint(self.market, topic),
            &self.config.ws_market,
        ) {
            (Endpoint::Market, Some(market)) => market.clone(),
            _ => self.config.ws_public.clone(),
        }
    }

    /// The venue's messages of `topics` as received (in the venue's envelopes), on a
    /// stream bounded by `capacity` messages and [`RAW_STREAM_BYTES`] that marks gaps if the
    /// reader falls behind; the subscription ends when the reader goes away.
    pub fn raw_stream(
        self: &Arc<Self>,
        topics: &[String],
        capacity: usize,
    ) -> Result<stream::Receiver<String>> {
        if topics.is_empty() {
            return Err(Error::invalid_argument(
                "topics",
                "name at least one stream or topic",
            ));
        }
        let (tx, rx) = stream::weighed(capacity.max(1), RAW_STREAM_BYTES, Overflow::GapMarker);
        self.read_topics(topics, Reader::Raw(Arc::new(tx)))?;
        Ok(rx)
    }

    /// A bounded stream with gap markers reading `topics` through `reader`.
    fn gapped<T>(
        self: &Arc<Self>,
        topics: &[String],
        capacity: usize,
        reader: impl FnOnce(Arc<stream::Sender<T>>) -> Reader,
    ) -> Result<stream::Receiver<T>> {
        let (tx, rx) = stream::channel(capacity.max(1), Overflow::GapMarker);
        self.read_topics(topics, reader(Arc::new(tx)))?;
        Ok(rx)
    }

    /// The public trades of `symbols`, typed, on a bounded stream that marks gaps if the reader
    /// falls behind; leaving the stream ends the subscription. Unknown symbols are refused.
    pub fn trades(
        self: &Arc<Self>,
        symbols: &[String],
        capacity: usize,
    ) -> Result<stream::Receiver<Trade>> {
        let topics = self.listed_topics(symbols, |s| Ok(self.adapter.trades_topic(s)))?;
        self.gapped(&topics, capacity, Reader::Trades)
    }

    /// The 24 h tickers of `symbols` (full tickers, where a venue sends deltas too), with gap
    /// markers for a reader that falls behind.
    pub fn tickers(
        self: &Arc<Self>,
        symbols: &[String],
        capacity: usize,
    ) -> Result<stream::Receiver<Ticker>> {
        let topics = self.listed_topics(symbols, |s| Ok(self.adapter.tickers_topic(s)))?;
        self.gapped(&topics, capacity, Reader::Tickers)
    }

    /// The aggregated trades of `symbols` (Binance `aggTrade`), with gap markers for a reader
    /// that falls behind; a venue without them is an `InvalidArgument`.
    pub fn agg_trades(
        self: &Arc<Self>,
        symbols: &[String],
        capacity: usize,
    ) -> Result<stream::Receiver<AggTrade>> {
        let topics = self.listed_topics(symbols, |s| {
            self.adapter.agg_trades_topic(s).ok_or_else(|| {
                Error::invalid_argument(
                    "agg_trades",
                    format!("{} has no aggregated trades: use trades()", self.venue),
                )
            })
        })?;
        self.gapped(&topics, capacity, Reader::AggTrades)
    }

    /// Mark and index prices and funding of `symbols` (derivatives only), with gap markers for
    /// a reader that falls behind.
    pub fn mark_prices(
        self: &Arc<Self>,
        symbols: &[String],
        capacity: usize,
    ) -> Result<stream::Receiver<MarkPrice>> {
        let topics = self.listed_topics(symbols, |s| self.adapter.mark_topic(self.market, s))?;
        self.gapped(&topics, capacity, Reader::Marks)
    }

    /// Forced liquidations of `symbols` (derivatives only), with gap markers.
    pub fn liquidations(
        self: &Arc<Self>,
        symbols: &[String],
        capacity: usize,
    ) -> Result<stream::Receiver<Liquidation>> {
        let topics =
            self.listed_topics(symbols, |s| self.adapter.liquidations_topic(self.market, s))?;
        self.gapped(&topics, capacity, Reader::Liquidations)
    }

    /// The best bid and offer of `symbols` after each change, with gap markers for a reader
    /// that falls behind: the venue's stream of it (Binance `bookTicker`), or the book of depth
    /// 1 kept in sync (Bybit `orderbook.1`), which reports no levels while out of sync.
    pub fn bbo(
        self: &Arc<Self>,
        symbols: &[String],
        capacity: usize,
    ) -> Result<stream::Receiver<TopOfBook>> {
        // The venue has a stream of it or has none, whatever the symbol.
        if let Some(symbol) = symbols.first()
            && self.adapter.top_topic(symbol).is_some()
        {
            let topics = self.listed_topics(symbols, |s| {
                self.adapter
                    .top_topic(s)
                    .ok_or_else(|| Error::Internal(format!("no top-of-book topic of {s}")))
            })?;
            return self.gapped(&topics, capacity, Reader::Tops);
        }
        // Every symbol checked before any book is kept.
        self.listed_topics(symbols, |s| Ok(s.to_owned()))?;
        let (tx, rx) = stream::channel(capacity.max(1), Overflow::GapMarker);
        let tx = Arc::new(tx);
        let source = Source {
            venue: self.venue,
            market: self.market,
        };
        for symbol in symbols {
            let info = self.listed_symbol(symbol)?;
            let feed = crate::book::top::TopFeed::new(source, info.symbol, tx.clone());
            self.attach_book(symbol, 1, |book| book.add_follower(Arc::new(feed)))?;
        }
        Ok(rx)
    }

    /// A live book of `symbol` with at least `depth` levels a side, kept in sync in Rust; waits
    /// until it is in sync (at most `wait`). Books of one symbol are shared.
    pub async fn book(
        self: &Arc<Self>,
        symbol: &str,
        depth: usize,
        wait: Duration,
    ) -> Result<BookHandle> {
        let handle = self.book_handle(symbol, depth)?;
        let synced = tokio::select! {
            _ = self.cancel.cancelled() => return Err(self.closed_error()),
            synced = tokio::time::timeout(wait, handle.book.wait_synced()) => synced,
        };
        if synced.is_err() {
            let reason = handle.book.stats().last_reason;
            return Err(Error::Timeout {
                what: format!(
                    "the {symbol} book to sync{}",
                    reason.map(|r| format!(" (last: {r})")).unwrap_or_default()
                ),
                after: wait,
            });
        }
        Ok(handle)
    }

    /// A handle on the live book of `symbol` (started and subscribed if new), in sync or not.
    pub fn book_handle(self: &Arc<Self>, symbol: &str, depth: usize) -> Result<BookHandle> {
        self.attach_book(symbol, depth, LiveBook::handle)
    }

    /// Views of the books of `symbols` (best `depth` levels a side) after each change,
    /// conflated per symbol: a slow reader sees the latest state, never a backlog. The current
    /// view of each comes first.
    pub fn book_updates(
        self: &Arc<Self>,
        symbols: &[String],
        depth: usize,
    ) -> Result<stream::Receiver<ViewTicket>> {
        if symbols.is_empty() {
            return Err(Error::invalid_argument(
                "symbols",
                "name at least one symbol",
            ));
        }
        for symbol in symbols {
            self.listed_symbol(symbol)?;
        }
        let (tx, rx) = stream::conflating(symbols.len().max(1), ViewTicket::key);
        let tx = Arc::new(tx);
        for symbol in symbols {
            self.attach_book(symbol, depth, |book| {
                book.add_view_reader(tx.clone(), depth);
            })?;
        }
        Ok(rx)
    }

    /// Every change of the book of `symbol` (at least `depth` levels a side), none conflated:
    /// the whole book first as a reset, then each message's changes as the book applies them
    /// ([`BookDiff`]). A reader that falls `capacity` diffs behind gets
    /// [`Error::SlowConsumer`].
    pub fn book_diffs(
        self: &Arc<Self>,
        symbol: &str,
        depth: usize,
        capacity: usize,
    ) -> Result<stream::Receiver<BookDiff>> {
        let info = self.listed_symbol(symbol)?;
        let source = Source {
            venue: self.venue,
            market: self.market,
        };
        let (feed, rx) = DiffFeed::new(source, info.symbol, capacity);
        self.attach_book(symbol, depth, |book| book.add_follower(Arc::new(feed)))?;
        Ok(rx)
    }

    /// The book of `symbol` deep enough for `depth`, found or started (and subscribed), and
    /// claimed by `claim` (a handle, a view stream) under the lock that also decides whether an
    /// unused book is dropped: a claimed book is never dropped.
    fn attach_book<T>(
        self: &Arc<Self>,
        symbol: &str,
        depth: usize,
        claim: impl FnOnce(&Arc<LiveBook>) -> T,
    ) -> Result<T> {
        let info = self.listed_symbol(symbol)?;
        let plan = self
            .adapter
            .book(self.market, info.symbol.as_str(), depth)?;
        let topic = plan.topic;
        if self.cancel.is_cancelled() {
            return Err(self.closed_error());
        }
        let mut streams = lock(&self.streams);
        let claimed = {
            let mut readers = lock(&streams.readers);
            // A book already kept for the symbol serves if it is deep enough (a deeper topic
            // than the one this depth needs), rather than a second subscription.
            let found = std::iter::once(&topic)
                .chain(&plan.deeper)
                .filter_map(|t| readers.get(t))
                .flatten()
                .find_map(|r| match r {
                    Reader::Book(b) => Some(b.clone()),
                    _ => None,
                });
            if let Some(book) = found {
                return Ok(claim(&book));
            }
            let list = readers.entry(topic.clone()).or_default();
            let source = Source {
                venue: self.venue,
                market: self.market,
            };
            let book = Arc::new(LiveBook::new(
                source,
                info.symbol,
                topic.clone(),
                plan.depth,
                plan.rule,
            ));
            list.push(Reader::Book(book.clone()));
            claim(&book)
        };
        self.subscribe_locked(&mut streams, std::slice::from_ref(&topic))?;
        Ok(claimed)
    }

    /// The venue's topic names of `symbols` (by their venue names), each checked against the
    /// listed symbols and by `topic` (a kind the market lacks is its error).
    pub(super) fn listed_topics(
        &self,
        symbols: &[String],
        topic: impl Fn(&str) -> Result<String>,
    ) -> Result<Vec<String>> {
        if symbols.is_empty() {
            return Err(Error::invalid_argument(
                "symbols",
                "name at least one symbol",
            ));
        }
        symbols
            .iter()
            .map(|s| topic(self.listed_symbol(s)?.symbol.as_str()))
            .collect()
    }

    pub(super) fn read_topics(self: &Arc<Self>, topics: &[String], reader: Reader) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(self.closed_error());
        }
        let mut streams = lock(&self.streams);
        {
            let mut readers = lock(&streams.readers);
            for topic in topics {
                readers
                    .entry(topic.clone())
                    .or_default()
                    .push(reader.clone());
            }
        }
        self.subscribe_locked(&mut streams, topics)
    }

    /// Subscribes `topics` on the pool of their URL (opened on first use).
    fn subscribe_locked(self: &Arc<Self>, streams: &mut Streams, topics: &[String]) -> Result<()> {
        let mut by_url: HashMap<String, Vec<String>> = HashMap::default();
        for topic in topics {
            by_url
                .entry(self.stream_url(topic))
                .or_default()
                .push(topic.clone());
        }
        for (url, topics) in by_url {
            let pool = match streams.pools.get(&url) {
                Some(pool) => pool.clone(),
                None => {
                    let pool = self.open_pool(&url, streams)?;
                    streams.pools.insert(url, pool.clone());
                    pool
                }
            };
            pool.subscribe(&topics);
        }
        Ok(())
    }

    /// A WebSocket pool on `url` whose socket events reach `events()`; with its inbound frames
    /// and socket events for the reader that serves it.
    pub(super) fn ws_pool(
        &self,
        url: &str,
        dialect: Arc<dyn WsDialect>,
        config: crate::net::WsConfig,
        requests: Option<RequestGate>,
    ) -> Result<(Arc<WsPool>, PoolFeed)> {
        let (inbound_tx, inbound) = tokio::sync::mpsc::channel::<Inbound>(4096);
        let (ws_events, _) = broadcast::channel(256);
        let feed = PoolFeed {
            inbound: Arc::new(tokio::sync::Mutex::new(inbound)),
            first: Arc::new(Mutex::new(Some(ws_events.subscribe()))),
            events: ws_events.clone(),
        };
        let pool = Arc::new(
            WsPool::new(
                url,
                dialect,
                config,
                self.connects.clone(),
                inbound_tx,
                ws_events.clone(),
                self.cancel.child_token(),
                self.supervisor.clone(),
            )?
            .with_request_gate(requests),
        );
        let name = format!("events/sockets {url}");
        let url: Arc<str> = url.into();
        self.forward(
            &name,
            move || ws_events.subscribe(),
            move |e| Some(ConnectorEvent::Socket(url.clone(), e)),
        );
        Ok((pool, feed))
    }

    fn open_pool(self: &Arc<Self>, base: &str, streams: &Streams) -> Result<Arc<WsPool>> {
        let (url, dialect) = self.adapter.market_stream(self.market, base);
        let (pool, feed) = self.ws_pool(&url, dialect, self.config.ws.clone(), None)?;
        let dispatch = Arc::new(Dispatch {
            connector: Arc::downgrade(self),
            url: base.to_owned(),
            pool: Arc::downgrade(&pool),
            readers: streams.readers.clone(),
            seen: streams.seen.clone(),
            shared: streams.shared.clone(),
            adapter: self.adapter,
        });
        self.supervisor
            .spawn(format!("dispatch {base}"), move |ctx| {
                let (dispatch, feed) = (dispatch.clone(), feed.clone());
                async move {
                    dispatch.run(&feed, &ctx).await;
                    Ok(())
                }
            });
        Ok(pool)
    }

    /// Acts on what a message did to a book: views, events, snapshot or resubscription.
    fn after_step(self: &Arc<Self>, book: &Arc<LiveBook>, step: Step) {
        if step.changed || step.synced {
            book.publish();
        }
        let symbol = || book.symbol.as_str().to_owned();
        if let Some(reason) = step.unsynced {
            let stats = book.stats();
            let retry_in = stats.retry_in.unwrap_or_default();
            tracing::warn!(
                topic = %book.topic, %reason, failures = stats.failures, ?retry_in,
                "book out of sync; resyncing"
            );
            let _ = self.events.send(ConnectorEvent::BookUnsynced {
                symbol: symbol(),
                reason,
                failures: stats.failures,
                retry_in,
            });
        } else if let Some(idle) = step.stale {
            tracing::warn!(topic = %book.topic, ?idle, "book in sync but nothing applied: stale");
            let _ = self.events.send(ConnectorEvent::BookStale {
                symbol: symbol(),
                idle,
            });
        } else if step.fresh {
            tracing::info!(topic = %book.topic, "stale book updated again");
            let _ = self
                .events
                .send(ConnectorEvent::BookFresh { symbol: symbol() });
        } else if step.synced {
            let update_id = book.update_id().unwrap_or_default();
            tracing::debug!(topic = %book.topic, update_id, "book in sync");
            let _ = self.events.send(ConnectorEvent::BookSynced {
                symbol: symbol(),
                update_id,
            });
        }
        match step.need {
            Need::Nothing => {}
            Need::Snapshot(ticket) => self.fetch_snapshot(book, ticket),
            Need::Resubscribe => {
                let pool = lock(&self.streams)
                    .pools
                    .get(&self.stream_url(&book.topic))
                    .cloned();
                if let Some(pool) = pool {
                    pool.refresh(std::slice::from_ref(&book.topic));
                }
            }
        }
    }

    /// Fetches the venue's REST snapshot (weighed by the limiter like every request) until
    /// one arrives or the book stops wanting it.
    fn fetch_snapshot(self: &Arc<Self>, book: &Arc<LiveBook>, ticket: u64) {
        let Some(request) = self.adapter.snapshot_request(self.market, book.symbol) else {
            // The venue has none (its rule never asks): the book may ask again.
            book.snapshot_failed(ticket);
            return;
        };
        let name = format!("snapshot {}", book.topic);
        let (connector, book) = (Arc::downgrade(self), Arc::downgrade(book));
        let cancel = self.cancel.clone();
        // Dropped however the fetch ends (a panic included): the book may ask again.
        let release = Release {
            book: book.clone(),
            ticket,
        };
        let fetch = self.supervisor.observe(&name, async move {
            let _release = release;
            let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
            for attempt in 0.. {
                let Some(c) = connector.upgrade() else {
                    return;
                };
                let http = c.http.clone();
                // A retry that had to wait (the book failed more than once in a row) also
                // waits for room in the share such retries have together.
                if book.upgrade().is_some_and(|b| b.stats().failures > 1) {
                    let costs = http.costs(&request);
                    while let Err(wait) = c.resync.take(&http.limiter, &costs) {
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = tokio::time::sleep(wait) => {}
                        }
                        if !book.upgrade().is_some_and(|b| b.wants(ticket)) {
                            return;
                        }
                    }
                }
                drop(c);
                let answer = tokio::select! {
                    _ = cancel.cancelled() => return,
                    answer = http.send(&request) => answer,
                };
                let (Some(connector), Some(live)) = (connector.upgrade(), book.upgrade()) else {
                    return;
                };
                match answer.and_then(|a| connector.adapter.snapshot_of(live.symbol, &a)) {
                    Ok(snapshot) => {
                        let step = live.on_snapshot(ticket, &snapshot, crate::model::now_ns());
                        connector.after_step(&live, step);
                        return;
                    }
                    Err(e) if live.wants(ticket) => {
                        tracing::warn!(topic = %live.topic, error = %e, "book snapshot failed");
                    }
                    Err(_) => return,
                }
                drop((connector, live));
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff.delay(attempt)) => {}
                }
            }
        });
        drop(fetch);
    }

    /// Every live book, for `health()`.
    pub(super) fn book_health(&self, streams: &Streams) -> (Vec<BookHealth>, u64) {
        let readers = lock(&streams.readers);
        let mut books: Vec<BookHealth> = readers
            .values()
            .flatten()
            .filter_map(|r| match r {
                Reader::Book(b) => Some(BookHealth {
                    symbol: b.symbol.as_str().to_owned(),
                    topic: b.topic.clone(),
                    synced: b.is_synced(),
                    update_id: b.update_id(),
                    age: b.age(),
                    stats: b.stats(),
                }),
                _ => None,
            })
            .collect();
        books.sort_by(|a, b| a.topic.cmp(&b.topic));
        (books, streams.shared.skipped.load(Ordering::Relaxed))
    }

    /// Every subscription and how long since it last delivered.
    pub(super) fn subscription_health(streams: &Streams) -> Vec<(String, Option<Duration>)> {
        let seen = lock(&streams.seen);
        let mut topics: Vec<(String, Option<Duration>)> = lock(&streams.readers)
            .keys()
            .map(|t| (t.clone(), seen.get(t).map(|at| at.elapsed())))
            .collect();
        topics.sort();
        topics
    }

    /// Every WebSocket: the market pools', then the user stream's (if open and not being
    /// replaced right now).
    pub(super) fn connection_health(&self, streams: &Streams) -> Vec<crate::net::ws::ShardHealth> {
        let mut all: Vec<_> = streams.pools.values().flat_map(|p| p.health()).collect();
        if let Ok(user) = self.user.try_lock()
            && let Some(feed) = user.as_ref()
        {
            // Its topic can be a listen key, which is as good as a credential: not shown.
            all.extend(feed.pool.health().into_iter().map(|mut shard| {
                shard.topics = vec!["user stream".to_owned()];
                shard
            }));
        }
        all
    }

    /// Ends every market stream reader (raw, trades, tickers, book views) with `error`.
    pub(super) fn end_streams(&self, streams: &Streams, error: &Error) {
        for reader in lock(&streams.readers).values().flatten() {
            match reader {
                Reader::Raw(tx) => tx.fail(error.clone()),
                Reader::Trades(tx) => tx.fail(error.clone()),
                Reader::Tickers(tx) => tx.fail(error.clone()),
                Reader::AggTrades(tx) => tx.fail(error.clone()),
                Reader::Tops(tx) => tx.fail(error.clone()),
                Reader::Marks(tx) => tx.fail(error.clone()),
                Reader::Liquidations(tx) => tx.fail(error.clone()),
                Reader::Klines(feed) => feed.tx.fail(error.clone()),
                Reader::Book(book) => book.fail_readers(error),
            }
        }
    }

    /// Marks every book unsynced (the connector is closing: nothing will keep them).
    pub(super) fn unsync_books(&self, streams: &Streams) {
        for reader in lock(&streams.readers).values().flatten() {
            if let Reader::Book(book) = reader {
                let step = book.unsync("the connector closed");
                if step.changed {
                    book.publish();
                }
            }
        }
    }
}

/// A book's snapshot ticket, given back if the fetch ends without handing the book a snapshot
/// (the book would otherwise wait for it forever).
struct Release {
    book: Weak<LiveBook>,
    ticket: u64,
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(book) = self.book.upgrade() {
            book.snapshot_failed(self.ticket);
        }
    }
}

/// What a pool's reader takes: its inbound frames (one queue, kept across a restart of the
/// reader, so nothing queued is lost) and its socket events.
#[derive(Clone)]
pub(super) struct PoolFeed {
    pub inbound: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Inbound>>>,
    /// Subscribed when the pool was made, for the first run (it must not miss the first
    /// connection); later runs subscribe anew.
    first: Arc<Mutex<Option<broadcast::Receiver<WsEvent>>>>,
    events: broadcast::Sender<WsEvent>,
}

impl PoolFeed {
    pub fn events(&self) -> broadcast::Receiver<WsEvent> {
        lock(&self.first)
            .take()
            .unwrap_or_else(|| self.events.subscribe())
    }
}

/// Frames a dispatch takes from its queue in one go.
const FRAME_BATCH: usize = 64;

/// One pool's frames to their readers, and its connection losses to its books.
struct Dispatch {
    connector: Weak<Connector>,
    /// The URL its pool serves (shard numbers are per pool).
    url: String,
    pool: Weak<WsPool>,
    readers: Readers,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    shared: Arc<Shared>,
    adapter: &'static dyn crate::venue::Adapter,
}

impl Dispatch {
    /// Reads until the pool goes (or `cancel`); a run after a restart takes the same queue.
    async fn run(&self, feed: &PoolFeed, ctx: &crate::supervise::ChildContext) {
        let mut inbound = feed.inbound.lock().await;
        let mut events = feed.events();
        let mut nudges = tokio::time::interval(Duration::from_secs(1));
        // Frames already queued are taken together: a round of this select costs more than a
        // frame, and a burst would pay it per frame.
        let mut frames = Vec::with_capacity(FRAME_BATCH);
        loop {
            ctx.checkpoint();
            tokio::select! {
                _ = ctx.cancel.cancelled() => return,
                _ = nudges.tick() => self.nudge_books(),
                taken = inbound.recv_many(&mut frames, FRAME_BATCH) => {
                    if taken == 0 {
                        return;
                    }
                    self.record(&frames);
                    for frame in frames.drain(..) {
                        self.on_frame(&frame);
                    }
                }
                event = events.recv() => match event {
                    Ok(WsEvent::Disconnected { shard, .. }) => self.on_disconnect(shard),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    /// Hands a batch to the connector's recorder, if one is attached, each frame stamped with
    /// its receive time and named by its connection (`<url>#<shard>.<connection>`).
    fn record(&self, frames: &[Inbound]) {
        let Some(tap) = self.connector.upgrade().and_then(|c| c.http.tap.get()) else {
            return;
        };
        let (wall, now) = (crate::model::now_ns(), Instant::now());
        for f in frames {
            let age = now.saturating_duration_since(f.received).as_nanos();
            let at = wall.saturating_sub(i64::try_from(age).unwrap_or(0));
            let conn = format!("{}#{}.{}", self.url, f.shard, f.connection);
            tap.frame(&conn, at, f.text.as_str());
        }
    }

    fn on_frame(&self, inbound: &Inbound) {
        let Some(topic) = self.shared.reader.topic_of(&inbound.text) else {
            // Control replies are filtered before here: a frame that names no stream (or a
            // binary one, passed on empty) is one nobody can read.
            self.shared.skipped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(frame = %format_args!("{:.200}", inbound.text), "market frame without a stream skipped");
            return;
        };
        {
            let mut seen = lock(&self.seen);
            match seen.get_mut(topic.as_ref()) {
                Some(at) => *at = inbound.received,
                None => {
                    seen.insert(topic.to_string(), inbound.received);
                }
            }
        }
        let mut frame = Frame {
            inbound,
            topic: &topic,
            shared: &self.shared,
            local_time_ns: crate::model::now_ns(),
            parsed: None,
            steps: Vec::new(),
        };
        {
            let mut readers = lock(&self.readers);
            if !readers.contains_key(topic.as_ref()) {
                if let Some(alias) = self.book_alias(&topic, &readers)
                    && let Some(list) = readers.get(&alias)
                {
                    for reader in list.iter().filter(|r| matches!(r, Reader::Book(_))) {
                        reader.deliver(&mut frame);
                    }
                }
                drop(readers);
                self.act(frame.steps);
                return;
            }
            let Some(list) = readers.get_mut(topic.as_ref()) else {
                return;
            };
            list.retain(|reader| reader.deliver(&mut frame));
            if list.is_empty() {
                readers.remove(topic.as_ref());
                if let Some(pool) = self.pool.upgrade() {
                    pool.unsubscribe(&[topic.to_string()]);
                }
            }
        }
        self.act(frame.steps);
    }

    /// The book topic that takes a depth frame sent under a name nobody subscribed to. A
    /// recording or relay taken at another speed or at a depth the venue no longer offers live
    /// carries the same update-id chain as the book's own topic, so the book follows it by the
    /// same rules. A venue itself sends only what was subscribed, so this never mixes two
    /// streams.
    fn book_alias(&self, topic: &str, readers: &HashMap<String, Vec<Reader>>) -> Option<String> {
        let is_book = |t: &String| {
            readers
                .get(t)
                .is_some_and(|l| l.iter().any(|r| matches!(r, Reader::Book(_))))
        };
        self.adapter.book_alias(topic).into_iter().find(is_book)
    }

    /// The books this pool's connections feed.
    fn books(&self) -> Vec<Arc<LiveBook>> {
        let Some(connector) = self.connector.upgrade() else {
            return Vec::new();
        };
        lock(&self.readers)
            .values()
            .flatten()
            .filter_map(|r| match r {
                Reader::Book(b) if connector.stream_url(&b.topic) == self.url => Some(b.clone()),
                _ => None,
            })
            .collect()
    }

    fn on_disconnect(&self, shard: usize) {
        let steps = self
            .books()
            .into_iter()
            .map(|b| {
                let step = b.on_disconnect(shard);
                (b, step)
            })
            .collect();
        self.act(steps);
    }

    fn nudge_books(&self) {
        let stale_after = self
            .connector
            .upgrade()
            .and_then(|c| c.config.book_stale_after);
        let steps = self
            .books()
            .into_iter()
            .map(|b| {
                let step = b.nudge(stale_after);
                (b, step)
            })
            .collect();
        self.act(steps);
    }

    fn act(&self, steps: Vec<(Arc<LiveBook>, Step)>) {
        if steps.is_empty() {
            return;
        }
        let Some(connector) = self.connector.upgrade() else {
            return;
        };
        for (book, step) in steps {
            if step != Step::default() {
                connector.after_step(&book, step);
            }
        }
    }
}
