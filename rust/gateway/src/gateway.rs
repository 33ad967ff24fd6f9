//! The publishing side: runs on the connectors it is given and publishes their market data.
//!
//! One supervised task per stream (a symbol's trades, tickers or book) reads the connector's
//! stream and publishes each event numbered ([`wire::Seq`]); a loss before the gateway (the
//! connector's gap marker) advances the number by what was lost, and a restarted task skips
//! one, so a reader always sees a loss as a jump. A book's task also answers snapshot
//! requests from the book it rebuilds from the very diffs it numbers, so a snapshot and the
//! diffs after it always fit.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tradewire_core::connector::Connector;
use tradewire_core::model::{BookDiff, Level, Market, Venue};
use tradewire_core::stream::{Drained, Item, Receiver};
use tradewire_core::supervise::{ChildContext, RestartPolicy, Supervisor};
use tradewire_core::{Error, Result};

use crate::nats::NatsOptions;
use crate::subjects::{Subjects, token};
use crate::wire::{
    BookDiffMsg, BookSnapshotMsg, ErrorMsg, SCHEMA, Seq, ServedMsg, SymbolInfoMsg, TickerMsg,
    TradeMsg,
};

/// Gateways answer requests as one queue group: while two overlap (a failover), each request
/// still gets one answer.
pub(crate) const QUEUE: &str = "tw-gateway";

/// Events a stream task takes from its connector stream at once.
const BATCH: usize = 256;

/// Events a connector stream holds for the gateway before it marks a gap (trades, tickers)
/// or fails as a slow consumer and is restarted from a reset (books).
const STREAM_CAPACITY: usize = 1 << 16;

/// What to publish of each symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channels {
    pub trades: bool,
    pub tickers: bool,
    pub book: bool,
}

impl Channels {
    pub const ALL: Channels = Channels {
        trades: true,
        tickers: true,
        book: true,
    };

    /// From names: `trades`, `tickers`, `book`.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Channels> {
        let mut channels = Channels {
            trades: false,
            tickers: false,
            book: false,
        };
        for name in names {
            match name.as_ref() {
                "trades" => channels.trades = true,
                "tickers" => channels.tickers = true,
                "book" => channels.book = true,
                other => {
                    return Err(Error::invalid_argument(
                        "channels",
                        format!("'{other}' is not one of trades, tickers, book"),
                    ));
                }
            }
        }
        if channels
            == (Channels {
                trades: false,
                tickers: false,
                book: false,
            })
        {
            return Err(Error::invalid_argument(
                "channels",
                "name at least one channel",
            ));
        }
        Ok(channels)
    }
}

/// Counters of what the gateway did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayStats {
    pub published: u64,
    /// Events the connectors dropped before the gateway took them (their streams' gaps).
    pub lost_upstream: u64,
    pub snapshots_served: u64,
    pub requests_served: u64,
    pub publish_errors: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) lost_upstream: AtomicU64,
    pub(crate) snapshots_served: AtomicU64,
    pub(crate) requests_served: AtomicU64,
    pub(crate) publish_errors: AtomicU64,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Served {
    pub(crate) venue: Option<Venue>,
    pub(crate) market: Option<Market>,
    trades: Vec<String>,
    tickers: Vec<String>,
    books: Vec<String>,
    /// Its account events and commands.
    pub(crate) account: bool,
}

/// A running gateway: a NATS connection and the streams it publishes.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) client: async_nats::Client,
    pub(crate) js: async_nats::jetstream::Context,
    pub(crate) subjects: Subjects,
    epoch: u64,
    /// Its name, in leases and announcements.
    pub(crate) name: String,
    /// The gateway's own tasks (the lease).
    pub(crate) supervisor: Supervisor,
    /// The tasks that serve, while this gateway is the active one; replaced at each activation.
    pub(crate) serving: Mutex<Arc<Supervisor>>,
    cancel: CancellationToken,
    pub(crate) active: std::sync::atomic::AtomicBool,
    /// What it was asked to serve, to start again when it becomes active.
    pub(crate) plans: Mutex<Vec<crate::gateway_ha::Plan>>,
    pub(crate) served: Arc<Mutex<HashMap<String, Served>>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) places: Mutex<crate::gateway_account::Places>,
    pub(crate) lease: crate::gateway_ha::Lease,
}

impl Gateway {
    /// Connects to NATS. `prefix` heads every subject (`tw` by default). With `standby`, the
    /// gateway serves only while it holds its group's lease (one active, the others waiting).
    pub async fn start(
        options: &NatsOptions,
        prefix: &str,
        cancel: CancellationToken,
        standby: Option<crate::gateway_ha::Standby>,
    ) -> Result<Arc<Gateway>> {
        let subjects = Subjects::new(prefix)?;
        let client = options
            .connect(|event| tracing::info!(%event, "gateway: NATS"))
            .await?;
        // Drawn at start: readers tell a restarted gateway (numbering from 1 again) by it.
        let epoch = fastrand::u64(1..u64::MAX >> 11);
        // Its own token: closing the gateway must not cancel the token it was given.
        let cancel = cancel.child_token();
        let gateway = Arc::new(Gateway {
            js: async_nats::jetstream::new(client.clone()),
            client,
            subjects,
            epoch,
            name: standby
                .as_ref()
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| format!("gateway-{epoch:x}")),
            supervisor: Supervisor::new("gateway", RestartPolicy::default(), cancel.clone()),
            serving: Mutex::new(Arc::new(Supervisor::new(
                "gateway",
                RestartPolicy::default(),
                cancel.child_token(),
            ))),
            cancel,
            active: std::sync::atomic::AtomicBool::new(standby.is_none()),
            plans: Mutex::default(),
            served: Arc::default(),
            counters: Arc::default(),
            places: Mutex::default(),
            lease: Mutex::default(),
        });
        if let Some(standby) = standby {
            gateway.start_lease(standby).await?;
        }
        Ok(gateway)
    }

    /// The supervisor of the serving tasks now.
    pub(crate) fn serving(&self) -> Arc<Supervisor> {
        self.serving
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A fresh supervisor for the serving tasks (the old one's tasks are stopped first).
    pub(crate) async fn new_serving(&self) -> Arc<Supervisor> {
        let fresh = Arc::new(Supervisor::new(
            "gateway",
            RestartPolicy::default(),
            self.cancel.child_token(),
        ));
        let old = std::mem::replace(
            &mut *self.serving.lock().unwrap_or_else(|p| p.into_inner()),
            fresh.clone(),
        );
        old.shutdown().await;
        fresh
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this gateway serves now (always, without a standby group).
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn stats(&self) -> GatewayStats {
        let c = &self.counters;
        GatewayStats {
            published: c.published.load(Ordering::Relaxed),
            lost_upstream: c.lost_upstream.load(Ordering::Relaxed),
            snapshots_served: c.snapshots_served.load(Ordering::Relaxed),
            requests_served: c.requests_served.load(Ordering::Relaxed),
            publish_errors: c.publish_errors.load(Ordering::Relaxed),
        }
    }

    /// Publishes `channels` of `symbols` from `connector` (each symbol must be listed), under
    /// the connector's label (`binance-spot`). Books are kept `book_depth` levels a side. A
    /// stream already served is left as it is.
    pub async fn serve(
        self: &Arc<Self>,
        connector: Arc<Connector>,
        symbols: &[String],
        channels: Channels,
        book_depth: usize,
    ) -> Result<()> {
        if symbols.is_empty() {
            return Err(Error::invalid_argument(
                "symbols",
                "name at least one symbol",
            ));
        }
        for symbol in symbols {
            token("symbol", symbol)?;
            connector.symbol_info(symbol).await?;
        }
        self.plans.lock().unwrap_or_else(|p| p.into_inner()).push(
            crate::gateway_ha::Plan::MarketData {
                connector: Arc::downgrade(&connector),
                symbols: symbols.to_vec(),
                channels,
                book_depth,
            },
        );
        if self.is_active() {
            self.run_market_data(&connector, symbols, channels, book_depth)
                .await?;
        }
        Ok(())
    }

    /// Starts what `serve` asked for (while active).
    pub(crate) async fn run_market_data(
        self: &Arc<Self>,
        connector: &Arc<Connector>,
        symbols: &[String],
        channels: Channels,
        book_depth: usize,
    ) -> Result<()> {
        let label = connector.label();
        let (first, fresh) = {
            let mut served = self.served.lock().unwrap_or_else(|p| p.into_inner());
            let first = !served.contains_key(&label);
            let entry = served.entry(label.clone()).or_default();
            entry.venue = Some(connector.venue);
            entry.market = Some(connector.market);
            let mut fresh = Vec::new();
            for symbol in symbols {
                for (on, list, kind) in [
                    (channels.trades, &mut entry.trades, Kind::Trades),
                    (channels.tickers, &mut entry.tickers, Kind::Tickers),
                    (channels.book, &mut entry.books, Kind::Book),
                ] {
                    if on && !list.contains(symbol) {
                        list.push(symbol.clone());
                        fresh.push((kind, symbol.clone()));
                    }
                }
            }
            (first, fresh)
        };
        for (kind, symbol) in fresh {
            self.start_stream(connector, &label, kind, symbol, book_depth)?;
        }
        if first {
            self.start_requests(connector, &label).await?;
        }
        Ok(())
    }

    fn start_stream(
        self: &Arc<Self>,
        connector: &Arc<Connector>,
        label: &str,
        kind: Kind,
        symbol: String,
        book_depth: usize,
    ) -> Result<()> {
        let subject = match kind {
            Kind::Trades => self.subjects.trades(label, &symbol)?,
            Kind::Tickers => self.subjects.tickers(label, &symbol)?,
            Kind::Book => self.subjects.book(label, &symbol)?,
        };
        let snapshot = match kind {
            Kind::Book => self.subjects.snapshot(label, &symbol)?,
            Kind::Trades | Kind::Tickers => String::new(),
        };
        let publisher = Publisher {
            client: self.client.clone(),
            subject,
            epoch: self.epoch,
            next: Arc::new(AtomicU64::new(1)),
            counters: self.counters.clone(),
        };
        let connector = Arc::downgrade(connector);
        self.serving()
            .spawn(format!("{label}/{}/{symbol}", kind.name()), move |ctx| {
                let (publisher, connector, symbol, snapshot) = (
                    publisher.clone(),
                    connector.clone(),
                    symbol.clone(),
                    snapshot.clone(),
                );
                async move {
                    let Some(connector) = connector.upgrade() else {
                        return Ok(());
                    };
                    if ctx.run > 0 {
                        // What the connector carried between the runs is not known: readers
                        // see a gap of one (at least) instead of nothing.
                        publisher.skip(1);
                    }
                    match kind {
                        Kind::Trades => {
                            let rx =
                                connector.trades(std::slice::from_ref(&symbol), STREAM_CAPACITY)?;
                            drop(connector);
                            publisher.relay(&ctx, rx, TradeMsg::new).await
                        }
                        Kind::Tickers => {
                            let rx = connector
                                .tickers(std::slice::from_ref(&symbol), STREAM_CAPACITY)?;
                            drop(connector);
                            publisher.relay(&ctx, rx, TickerMsg::new).await
                        }
                        Kind::Book => {
                            let rx = connector.book_diffs(&symbol, book_depth, STREAM_CAPACITY)?;
                            drop(connector);
                            publisher.relay_book(&ctx, rx, &snapshot).await
                        }
                    }
                }
            });
        Ok(())
    }

    /// Answers a label's requests: what is served, and symbols' rules.
    pub(crate) async fn start_requests(
        self: &Arc<Self>,
        connector: &Arc<Connector>,
        label: &str,
    ) -> Result<()> {
        let symbol_prefix = self.subjects.symbol_prefix(label)?;
        let served_subject = self.subjects.served(label)?;
        let client = self.client.clone();
        let connector = Arc::downgrade(connector);
        let served = self.served.clone();
        let counters = self.counters.clone();
        let (epoch, label) = (self.epoch, label.to_owned());
        let first = made_now(
            &client,
            subscribe_requests(&client, &symbol_prefix, &served_subject).await?,
        )
        .await;
        self.announce(&label).await;
        self.serving().spawn(format!("{label}/requests"), move |ctx| {
            let (client, connector, served, counters, label) = (
                client.clone(),
                connector.clone(),
                served.clone(),
                counters.clone(),
                label.clone(),
            );
            let (symbol_prefix, served_subject) = (symbol_prefix.clone(), served_subject.clone());
            let first = first.lock().unwrap_or_else(|p| p.into_inner()).take();
            async move {
                let (mut symbols, mut asked) = match first {
                    Some(subs) => subs,
                    None => subscribe_requests(&client, &symbol_prefix, &served_subject).await?,
                };
                loop {
                    tokio::select! {
                        _ = ctx.cancel.cancelled() => return Ok(()),
                        request = symbols.next() => {
                            let Some(request) = request else { return Err(Error::ConnectionLost("NATS subscription ended".into())) };
                            let Some(reply) = request.reply else { continue };
                            let Some(connector) = connector.upgrade() else { return Ok(()) };
                            let symbol = request.subject.as_str()[symbol_prefix.len()..].to_owned();
                            let body = match connector.symbol_info(&symbol).await {
                                Ok(info) => to_json(&SymbolInfoMsg::from(&info)),
                                Err(e) => to_json(&ErrorMsg::from_error(&e)),
                            };
                            drop(connector);
                            counters.requests_served.fetch_add(1, Ordering::Relaxed);
                            client.publish(reply, body.into()).await.map_err(nats_error)?;
                        }
                        request = asked.next() => {
                            let Some(request) = request else { return Err(Error::ConnectionLost("NATS subscription ended".into())) };
                            let Some(reply) = request.reply else { continue };
                            let now = served.lock().unwrap_or_else(|p| p.into_inner()).get(&label).cloned().unwrap_or_default();
                            let body = match (now.venue, now.market) {
                                (Some(venue), Some(market)) => to_json(&ServedMsg {
                                    v: SCHEMA,
                                    epoch,
                                    venue,
                                    market,
                                    trades: now.trades,
                                    tickers: now.tickers,
                                    books: now.books,
                                    account: now.account,
                                }),
                                _ => to_json(&ErrorMsg::new("not_served", format!("{label} is not served"))),
                            };
                            counters.requests_served.fetch_add(1, Ordering::Relaxed);
                            client.publish(reply, body.into()).await.map_err(nats_error)?;
                        }
                    }
                }
            }
        });
        Ok(())
    }

    /// Stops publishing and waits for the tasks; an active gateway of a standby group hands
    /// its lease over; the NATS connection is flushed last.
    pub async fn close(&self) {
        self.supervisor.shutdown().await;
        self.serving().shutdown().await;
        self.release_lease().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Trades,
    Tickers,
    Book,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Trades => "trades",
            Kind::Tickers => "tickers",
            Kind::Book => "book",
        }
    }
}

/// Subscriptions made before a task starts, so a reader may ask as soon as `serve` returns,
/// for the task's first run (a restarted run makes its own).
pub(crate) async fn made_now<S>(
    client: &async_nats::Client,
    subscriptions: S,
) -> Arc<Mutex<Option<S>>> {
    // A reader asking right after must not meet "no responders". A user not allowed to
    // publish to its own inbox only loses that guarantee.
    if let Err(error) = crate::nats::settled(client).await {
        tracing::warn!(%error, "gateway: subscriptions not confirmed by a round trip");
    }
    Arc::new(Mutex::new(Some(subscriptions)))
}

/// A label's request subscriptions: every symbol's rules, and what is served.
async fn subscribe_requests(
    client: &async_nats::Client,
    symbol_prefix: &str,
    served: &str,
) -> Result<(async_nats::Subscriber, async_nats::Subscriber)> {
    let symbols = client
        .queue_subscribe(format!("{symbol_prefix}*"), QUEUE.into())
        .await
        .map_err(nats_error)?;
    let asked = client
        .queue_subscribe(served.to_owned(), QUEUE.into())
        .await
        .map_err(nats_error)?;
    Ok((symbols, asked))
}

pub(crate) fn nats_error(e: impl std::fmt::Display) -> Error {
    Error::ConnectionLost(format!("NATS: {e}"))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("wire messages always serialize")
}

/// Hands every item of `rx` to `each`, in order, `max` taken at a time, until the connector
/// ends the stream (its failure returned) or the task is stopped.
pub(crate) async fn each_item<T, F, Fut>(
    ctx: &ChildContext,
    rx: &Receiver<T>,
    max: usize,
    mut each: F,
) -> Result<()>
where
    F: FnMut(Item<T>) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut batch = Vec::with_capacity(max);
    loop {
        ctx.checkpoint();
        let drained = tokio::select! {
            _ = ctx.cancel.cancelled() => return Ok(()),
            drained = rx.next_batch(max, &mut batch) => drained,
        };
        for item in batch.drain(..) {
            each(item).await?;
        }
        if let Drained::Ended(end) = drained {
            return end.map_or(Ok(()), Err);
        }
    }
}

/// One subject's numbered publishing.
#[derive(Debug, Clone)]
struct Publisher {
    client: async_nats::Client,
    subject: String,
    epoch: u64,
    /// The next number; kept across restarts of the task.
    next: Arc<AtomicU64>,
    counters: Arc<Counters>,
}

impl Publisher {
    fn skip(&self, n: u64) {
        self.next.fetch_add(n, Ordering::Relaxed);
    }

    fn take(&self) -> Seq {
        Seq {
            epoch: self.epoch,
            seq: self.next.fetch_add(1, Ordering::Relaxed),
        }
    }

    async fn publish(&self, subject: &str, body: Vec<u8>) -> Result<()> {
        match self.client.publish(subject.to_owned(), body.into()).await {
            Ok(()) => {
                self.counters.published.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.counters.publish_errors.fetch_add(1, Ordering::Relaxed);
                Err(nats_error(e))
            }
        }
    }

    fn on_gap(&self, missed: u64) {
        self.counters
            .lost_upstream
            .fetch_add(missed, Ordering::Relaxed);
        self.skip(missed);
    }

    /// Publishes every event of `rx` until the connector ends it or the task is stopped.
    async fn relay<T, M: Serialize>(
        &self,
        ctx: &ChildContext,
        rx: Receiver<T>,
        message: fn(Seq, &T) -> M,
    ) -> Result<()> {
        each_item(ctx, &rx, BATCH, |item| async move {
            match item {
                Item::Event(event) => {
                    let body = to_json(&message(self.take(), &event));
                    self.publish(&self.subject, body).await
                }
                Item::Gap { missed } => {
                    self.on_gap(missed);
                    Ok(())
                }
            }
        })
        .await
    }

    /// Publishes a book's diffs and answers its snapshot requests, from one task.
    async fn relay_book(
        &self,
        ctx: &ChildContext,
        rx: Receiver<BookDiff>,
        snapshot: &str,
    ) -> Result<()> {
        let mut requests = self
            .client
            .queue_subscribe(snapshot.to_owned(), QUEUE.into())
            .await
            .map_err(nats_error)?;
        let mut book = Mirror::default();
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            ctx.checkpoint();
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Ok(()),
                drained = rx.next_batch(BATCH, &mut batch) => {
                    for item in batch.drain(..) {
                        match item {
                            Item::Event(diff) => {
                                book.apply(&diff);
                                let body = to_json(&BookDiffMsg::new(self.take(), &diff));
                                self.publish(&self.subject, body).await?;
                            }
                            // A never-drop stream has no gaps; it fails instead (and restarts).
                            Item::Gap { missed } => self.on_gap(missed),
                        }
                    }
                    if let Drained::Ended(end) = drained {
                        return end.map_or(Ok(()), Err);
                    }
                }
                request = requests.next() => {
                    let Some(request) = request else {
                        return Err(Error::ConnectionLost("NATS subscription ended".into()));
                    };
                    let Some(reply) = request.reply else { continue };
                    let at = Seq { epoch: self.epoch, seq: self.next.load(Ordering::Relaxed) - 1 };
                    let body = match book.snapshot(at) {
                        Some(message) => to_json(&message),
                        None => to_json(&ErrorMsg::new("not_ready", "the book has not started yet")),
                    };
                    self.counters.snapshots_served.fetch_add(1, Ordering::Relaxed);
                    self.publish(reply.as_str(), body).await?;
                }
            }
        }
    }
}

/// The book as the published diffs make it: what a snapshot is taken from.
#[derive(Debug, Default)]
struct Mirror {
    last: Option<BookDiff>,
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
}

impl Mirror {
    fn apply(&mut self, diff: &BookDiff) {
        if diff.reset {
            self.bids.clear();
            self.asks.clear();
        }
        for (side, levels) in [(&mut self.bids, &diff.bids), (&mut self.asks, &diff.asks)] {
            for level in levels {
                if level.qty.is_zero() {
                    side.remove(&level.price);
                } else {
                    side.insert(level.price, level.qty);
                }
            }
        }
        // Only the header matters from here on: the levels are in the maps.
        let mut header = diff.clone();
        header.bids = Vec::new();
        header.asks = Vec::new();
        self.last = Some(header);
    }

    fn snapshot(&self, at: Seq) -> Option<BookSnapshotMsg> {
        let last = self.last.as_ref()?;
        let level = |(price, qty): (&Decimal, &Decimal)| Level {
            price: *price,
            qty: *qty,
        };
        Some(BookSnapshotMsg {
            v: SCHEMA,
            epoch: at.epoch,
            seq: at.seq,
            venue: last.source.venue,
            market: last.source.market,
            symbol: last.symbol,
            synced: last.synced,
            update_id: last.update_id,
            bids: self.bids.iter().rev().map(level).collect(),
            asks: self.asks.iter().map(level).collect(),
            exchange_time_ms: last.exchange_time_ms,
            local_time_ns: last.local_time_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradewire_core::model::{Source, Symbol, parse_decimal};

    fn level(p: &str, q: &str) -> Level {
        Level {
            price: parse_decimal(p).unwrap(),
            qty: parse_decimal(q).unwrap(),
        }
    }

    fn diff(reset: bool, bids: Vec<Level>, asks: Vec<Level>) -> BookDiff {
        BookDiff {
            source: Source {
                venue: Venue::Binance,
                market: Market::Spot,
            },
            symbol: Symbol::new("BTCUSDT"),
            synced: true,
            reset,
            update_id: Some(1),
            bids,
            asks,
            exchange_time_ms: 0,
            local_time_ns: 0,
        }
    }

    #[test]
    fn a_snapshot_is_the_book_the_diffs_made_best_first() {
        let mut book = Mirror::default();
        let at = Seq { epoch: 1, seq: 0 };
        assert!(book.snapshot(at).is_none(), "nothing before the first diff");
        book.apply(&diff(
            true,
            vec![level("10", "1"), level("9", "2")],
            vec![level("11", "1")],
        ));
        book.apply(&diff(
            false,
            vec![level("10", "0"), level("9.5", "3")],
            vec![level("12", "4")],
        ));
        let s = book.snapshot(Seq { epoch: 1, seq: 2 }).unwrap();
        assert_eq!(s.bids, vec![level("9.5", "3"), level("9", "2")]);
        assert_eq!(s.asks, vec![level("11", "1"), level("12", "4")]);
        book.apply(&diff(true, vec![level("1", "1")], vec![]));
        let s = book.snapshot(Seq { epoch: 1, seq: 3 }).unwrap();
        assert_eq!(s.bids, vec![level("1", "1")]);
        assert!(s.asks.is_empty(), "a reset drops every level");
    }

    #[test]
    fn channels_are_named() {
        assert_eq!(
            Channels::parse(&["book"]).unwrap(),
            Channels {
                trades: false,
                tickers: false,
                book: true
            }
        );
        assert!(Channels::parse(&["candles"]).is_err());
        assert!(Channels::parse::<&str>(&[]).is_err());
    }
}
