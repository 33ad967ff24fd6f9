//! The reading side: a process anywhere reads what a gateway serves for one label
//! (`binance-spot`) with the connector's own types and stream semantics.
//!
//! - trades and tickers: a bounded stream with gap markers; a jump in a subject's numbering
//!   (a loss upstream or on the bus, a restarted gateway) is a gap.
//! - book diffs: never dropped, like a connector's `book_diffs`: the whole book first as a
//!   reset (the gateway's snapshot), then each numbered diff after it; a jump or a new epoch
//!   takes a fresh snapshot, delivered as a reset, so the reader's book is always exact.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tradewire_core::model::{BookDiff, Market, Source, SymbolInfo, Ticker, Trade, Venue};
use tradewire_core::resilience::{Backoff, ClientIds};
use tradewire_core::stream::{self, Overflow, Sender};
use tradewire_core::supervise::{ChildContext, RestartPolicy, Supervisor};
use tradewire_core::{Error, Result};

use crate::nats::NatsOptions;
use crate::subjects::{Subjects, token};
use crate::wire::{
    BookDiffMsg, BookSnapshotMsg, Reply, ServedMsg, SymbolInfoMsg, TickerMsg, TradeMsg,
};

/// How long a request waits for the gateway.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Something that happened to the gateway serving a remote's label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayEvent {
    pub kind: String,
    pub fields: Vec<(String, String)>,
}

/// A connection to a gateway's subjects for one label.
#[derive(Debug)]
pub struct Remote {
    pub(crate) client: async_nats::Client,
    pub(crate) js: async_nats::jetstream::Context,
    pub(crate) subjects: Subjects,
    pub(crate) label: String,
    /// The venue market the label names.
    pub(crate) source: Source,
    /// Client order ids for orders placed through this remote (unique across processes).
    pub(crate) client_ids: ClientIds,
    pub(crate) supervisor: Supervisor,
    /// The server's refusals ("Permissions Violation for Subscription to ..."), for the
    /// streams whose subject they name.
    pub(crate) refusals: broadcast::Sender<String>,
    symbols: std::sync::Mutex<HashMap<String, tradewire_core::model::Symbol>>,
    /// Live books kept from the gateway's diffs, by symbol (`remote_book.rs`).
    pub(crate) books: std::sync::Mutex<HashMap<String, Arc<tradewire_core::book::live::LiveBook>>>,
    /// How long a command waits for the gateway's reply (ms).
    pub(crate) command_timeout_ms: std::sync::atomic::AtomicU64,
}

impl Remote {
    pub async fn connect(
        options: &NatsOptions,
        prefix: &str,
        label: &str,
        cancel: CancellationToken,
    ) -> Result<Arc<Remote>> {
        let subjects = Subjects::new(prefix)?;
        token("label", label)?;
        let source = label
            .split_once('-')
            .and_then(|(venue, market)| {
                let venue: Venue = venue.parse().ok()?;
                let market: Market = market.parse().ok()?;
                Market::of(venue).contains(&market).then_some(Source { venue, market })
            })
            .ok_or_else(|| {
                Error::invalid_argument(
                    "label",
                    format!("'{label}' is not a venue market's label (binance-spot, binance-usdm, bybit-spot, bybit-linear)"),
                )
            })?;
        let (refusals, _) = broadcast::channel(64);
        let heard = refusals.clone();
        let client = options
            .connect(move |event| {
                if let async_nats::Event::ServerError(error) = &event {
                    let _ = heard.send(error.to_string());
                }
                tracing::info!(%event, "remote: NATS");
            })
            .await?;
        Ok(Arc::new(Remote {
            js: async_nats::jetstream::new(client.clone()),
            client,
            subjects,
            label: label.to_owned(),
            source,
            client_ids: ClientIds::new("tw", tradewire_core::venue::client_id_rule())?,
            supervisor: Supervisor::new(
                format!("remote-{label}"),
                RestartPolicy::default(),
                cancel.child_token(),
            ),
            refusals,
            symbols: std::sync::Mutex::default(),
            books: std::sync::Mutex::default(),
            command_timeout_ms: std::sync::atomic::AtomicU64::new(30_000),
        }))
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// How long a command waits for the gateway's reply before it is resolved (a place) or
    /// fails with `Timeout` (30 s by default: the gateway's connector may be waiting out a
    /// rate limit or looking up a lost answer).
    pub fn set_command_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.command_timeout_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn command_timeout(&self) -> Duration {
        Duration::from_millis(
            self.command_timeout_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Public trades of `symbols`, with gap markers for losses and for a reader that falls
    /// `capacity` behind.
    pub fn trades(
        self: &Arc<Self>,
        symbols: &[String],
        capacity: usize,
    ) -> Result<stream::Receiver<Trade>> {
        let subjects = self.each(symbols, |s| self.subjects.trades(&self.label, s))?;
        self.numbered(subjects, capacity, |m: TradeMsg| {
            (m.epoch, m.seq, m.into_event())
        })
    }

    /// 24 h tickers of `symbols`, with gap markers.
    pub fn tickers(
        self: &Arc<Self>,
        symbols: &[String],
        capacity: usize,
    ) -> Result<stream::Receiver<Ticker>> {
        let subjects = self.each(symbols, |s| self.subjects.tickers(&self.label, s))?;
        self.numbered(subjects, capacity, |m: TickerMsg| {
            (m.epoch, m.seq, m.into_event())
        })
    }

    fn each(
        &self,
        symbols: &[String],
        subject: impl Fn(&str) -> Result<String>,
    ) -> Result<Vec<String>> {
        if symbols.is_empty() {
            return Err(Error::invalid_argument(
                "symbols",
                "name at least one symbol",
            ));
        }
        symbols.iter().map(|s| subject(s)).collect()
    }

    fn numbered<M, T>(
        self: &Arc<Self>,
        subjects: Vec<String>,
        capacity: usize,
        read: fn(M) -> (u64, u64, T),
    ) -> Result<stream::Receiver<T>>
    where
        M: DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = stream::channel(capacity.max(1), Overflow::GapMarker);
        let tx = Arc::new(tx);
        let name = subjects.join(",");
        let (client, refusals) = (self.client.clone(), self.refusals.clone());
        self.supervisor.spawn(name, move |ctx| {
            let (client, subjects, tx, refusals) = (
                client.clone(),
                subjects.clone(),
                tx.clone(),
                refusals.subscribe(),
            );
            async move { forward_numbered(ctx, client, subjects, tx, refusals, read).await }
        });
        Ok(rx)
    }

    /// Every change of `symbol`'s book, none dropped: the gateway's whole book first as a
    /// reset, then each diff; a reader `capacity` diffs behind gets `SlowConsumer`.
    pub fn book_diffs(
        self: &Arc<Self>,
        symbol: &str,
        capacity: usize,
    ) -> Result<stream::Receiver<BookDiff>> {
        let diffs = self.subjects.book(&self.label, symbol)?;
        let snapshot = self.subjects.snapshot(&self.label, symbol)?;
        let (tx, rx) = stream::channel(capacity.max(1), Overflow::NeverDrop);
        let tx = Arc::new(tx);
        let (client, refusals) = (self.client.clone(), self.refusals.clone());
        self.supervisor.spawn(diffs.clone(), move |ctx| {
            let (client, tx, refusals) = (client.clone(), tx.clone(), refusals.clone());
            let (diffs, snapshot) = (diffs.clone(), snapshot.clone());
            async move { forward_book(ctx, client, diffs, snapshot, tx, refusals).await }
        });
        Ok(rx)
    }

    /// What happens to the gateway serving this label: `gateway_failover` when another one
    /// takes over (fields `gateway`, `epoch`, `previous`: the epoch before).
    pub fn events(self: &Arc<Self>) -> Result<stream::Receiver<GatewayEvent>> {
        let subject = self.subjects.gateway(&self.label)?;
        let (tx, rx) = stream::channel(1024, Overflow::GapMarker);
        let tx = Arc::new(tx);
        let remote = Arc::downgrade(self);
        let known = Arc::new(std::sync::Mutex::new(None::<u64>));
        self.supervisor.spawn(subject.clone(), move |ctx| {
            let (remote, tx, subject, known) =
                (remote.clone(), tx.clone(), subject.clone(), known.clone());
            async move {
                let Some(r) = remote.upgrade() else {
                    return Ok(());
                };
                let mut announced =
                    subscribe_all(&r.client, std::slice::from_ref(&subject)).await?;
                if known.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
                    // The gateway serving now, if any: a later announcement is a change.
                    let now = r.served().await.ok().map(|s| s.epoch);
                    *known.lock().unwrap_or_else(|p| p.into_inner()) = now;
                }
                drop(r);
                loop {
                    let message = tokio::select! {
                        _ = ctx.cancel.cancelled() => return Ok(()),
                        _ = tx.consumer_gone() => return Ok(()),
                        message = announced.next() => message,
                    };
                    let Some(message) = message else {
                        return Err(Error::ConnectionLost("NATS subscription ended".into()));
                    };
                    let Ok(active) =
                        serde_json::from_slice::<crate::gateway_ha::ActiveMsg>(&message.payload)
                    else {
                        tracing::warn!(%subject, "remote: unreadable announcement skipped");
                        continue;
                    };
                    let previous = known
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .replace(active.epoch);
                    if let Some(previous) = previous
                        && previous != active.epoch
                    {
                        let event = GatewayEvent {
                            kind: "gateway_failover".into(),
                            fields: vec![
                                ("gateway".into(), active.gateway),
                                ("epoch".into(), active.epoch.to_string()),
                                ("previous".into(), previous.to_string()),
                            ],
                        };
                        if tx.send(event).is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        });
        Ok(rx)
    }

    /// A listed symbol by name (asked of the gateway once, then remembered).
    pub async fn symbol(&self, name: &str) -> Result<tradewire_core::model::Symbol> {
        if let Some(symbol) = self
            .symbols
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(*symbol);
        }
        let symbol = self.symbol_info(name).await?.symbol;
        self.symbols
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), symbol);
        Ok(symbol)
    }

    /// A symbol's trading rules, as the gateway's connector knows them.
    pub async fn symbol_info(&self, symbol: &str) -> Result<SymbolInfo> {
        let subject = self.subjects.symbol(&self.label, symbol)?;
        let info: SymbolInfoMsg = self.ask(&subject, Vec::new(), REQUEST_TIMEOUT).await?;
        Ok(info.into())
    }

    /// What the gateway serves for this label.
    pub async fn served(&self) -> Result<ServedMsg> {
        self.ask(
            &self.subjects.served(&self.label)?,
            Vec::new(),
            REQUEST_TIMEOUT,
        )
        .await
    }

    pub async fn close(&self) {
        self.supervisor.shutdown().await;
    }
}

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) struct Unanswered {
    pub(crate) error: Error,
    /// The request may have reached a gateway (a timeout, a lost connection): for a write,
    /// its outcome is unknown.
    pub(crate) maybe_delivered: bool,
}

impl Remote {
    /// Asks the gateway; a refusal of the subject by the server is `Denied` at once.
    pub(crate) async fn ask_raw(
        &self,
        subject: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> std::result::Result<bytes::Bytes, Unanswered> {
        ask_raw(&self.client, &self.refusals, subject, payload, timeout).await
    }

    /// Asks the gateway and reads its answer (or its error).
    pub(crate) async fn ask<T: DeserializeOwned>(
        &self,
        subject: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<T> {
        ask(&self.client, &self.refusals, subject, payload, timeout).await
    }
}

/// Asks on `subject`; the server's refusal of it (heard on `refusals`) is `Denied` at once.
async fn ask_raw(
    client: &async_nats::Client,
    refusals: &broadcast::Sender<String>,
    subject: &str,
    payload: Vec<u8>,
    timeout: Duration,
) -> std::result::Result<bytes::Bytes, Unanswered> {
    let mut refusals = refusals.subscribe();
    let watched = [subject.to_owned()];
    let asked = client.request(subject.to_owned(), payload.into());
    let lost = |error, maybe_delivered| Unanswered {
        error,
        maybe_delivered,
    };
    tokio::select! {
        answer = tokio::time::timeout(timeout, asked) => match answer {
            Err(_) => Err(lost(Error::Timeout { what: format!("the gateway's answer on {subject}"), after: timeout }, true)),
            Ok(Err(e)) => {
                let no_one = matches!(e.kind(), async_nats::RequestErrorKind::NoResponders);
                Err(lost(request_error(subject, e, timeout), !no_one))
            }
            Ok(Ok(message)) => Ok(message.payload),
        },
        denied = denied(&mut refusals, &watched) => Err(lost(denied, false)),
    }
}

/// Asks and reads the answer (or the gateway's error).
async fn ask<T: DeserializeOwned>(
    client: &async_nats::Client,
    refusals: &broadcast::Sender<String>,
    subject: &str,
    payload: Vec<u8>,
    timeout: Duration,
) -> Result<T> {
    let answer = ask_raw(client, refusals, subject, payload, timeout)
        .await
        .map_err(|u| u.error)?;
    decode::<T>(subject, &answer)?.map_err(|e| e.into_error(subject))
}

/// An answer, or the gateway's error reply.
pub(crate) fn decode<T: DeserializeOwned>(
    subject: &str,
    answer: &[u8],
) -> Result<std::result::Result<T, crate::wire::ErrorMsg>> {
    match serde_json::from_slice::<Reply<T>>(answer) {
        Ok(Reply::Ok(value)) => Ok(Ok(value)),
        Ok(Reply::Error(e)) => Ok(Err(*e)),
        Err(e) => Err(Error::Failed(format!(
            "the gateway's answer on {subject} is unreadable: {e}"
        ))),
    }
}

fn request_error(subject: &str, e: async_nats::RequestError, after: Duration) -> Error {
    use async_nats::RequestErrorKind as K;
    match e.kind() {
        K::NoResponders => Error::ConnectionLost(format!(
            "no gateway answers on {subject} (none running, or it does not serve this label)"
        )),
        K::TimedOut => Error::Timeout {
            what: format!("the gateway's answer on {subject}"),
            after,
        },
        _ => Error::ConnectionLost(format!("NATS: {e}")),
    }
}

/// Waits for the server's refusal of one of `subjects`.
pub(crate) async fn denied(
    refusals: &mut broadcast::Receiver<String>,
    subjects: &[String],
) -> Error {
    loop {
        match refusals.recv().await {
            Ok(reason) => {
                if let Some(error) = refused(&reason, subjects) {
                    return error;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// Fails `tx` with `Denied` if the server refused one of `subjects`.
pub(crate) fn refused(reason: &str, subjects: &[String]) -> Option<Error> {
    let lower = reason.to_ascii_lowercase();
    (lower.contains("permissions violation")
        && subjects.iter().any(|s| reason.contains(s.as_str())))
    .then(|| Error::Denied(reason.to_owned()))
}

async fn subscribe_all(
    client: &async_nats::Client,
    subjects: &[String],
) -> Result<futures_util::stream::SelectAll<async_nats::Subscriber>> {
    let mut all = futures_util::stream::SelectAll::new();
    for subject in subjects {
        all.push(
            client
                .subscribe(subject.clone())
                .await
                .map_err(|e| Error::ConnectionLost(format!("NATS: {e}")))?,
        );
    }
    // Sent now; a refusal comes back as a server event. (A round trip through our own inbox
    // would need a publish grant on it, which a reader's user may lack.)
    client
        .flush()
        .await
        .map_err(|e| Error::ConnectionLost(format!("NATS: {e}")))?;
    Ok(all)
}

async fn forward_numbered<M, T>(
    ctx: ChildContext,
    client: async_nats::Client,
    subjects: Vec<String>,
    tx: Arc<Sender<T>>,
    mut refusals: broadcast::Receiver<String>,
    read: fn(M) -> (u64, u64, T),
) -> Result<()>
where
    M: DeserializeOwned,
    T: Send + 'static,
{
    let mut messages = subscribe_all(&client, &subjects).await?;
    let mut last: HashMap<String, (u64, u64)> = HashMap::new();
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Ok(()),
            _ = tx.consumer_gone() => return Ok(()),
            error = denied(&mut refusals, &subjects) => {
                tx.fail(error);
                return Ok(());
            }
            message = messages.next() => {
                let Some(message) = message else {
                    return Err(Error::ConnectionLost("NATS subscription ended".into()));
                };
                let Ok(body) = serde_json::from_slice::<M>(&message.payload) else {
                    tracing::warn!(subject = %message.subject, "remote: unreadable message skipped");
                    continue;
                };
                let (epoch, seq, event) = read(body);
                let missed = match last.insert(message.subject.to_string(), (epoch, seq)) {
                    Some((e, s)) if e == epoch && seq > s + 1 => seq - s - 1,
                    // A restarted gateway: what it carried meanwhile is not known.
                    Some((e, _)) if e != epoch => 1,
                    _ => 0,
                };
                if missed > 0 {
                    tx.mark_gap(missed);
                }
                if tx.send(event).is_err() {
                    return Ok(());
                }
            }
        }
    }
}

async fn forward_book(
    ctx: ChildContext,
    client: async_nats::Client,
    diffs: String,
    snapshot: String,
    tx: Arc<Sender<BookDiff>>,
    heard: broadcast::Sender<String>,
) -> Result<()> {
    // Before subscribing: the server's refusal of the subscription comes after it.
    let mut refusals = heard.subscribe();
    let watched = [diffs.clone()];
    let mut messages = subscribe_all(&client, std::slice::from_ref(&diffs)).await?;
    // A book not started yet at the gateway is seconds away: ask again soon.
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    let mut attempt = 0;
    // (epoch, seq) of the last diff the reader has; None: a snapshot is needed.
    let mut at: Option<(u64, u64)> = None;
    loop {
        if at.is_none() {
            let asked =
                ask::<BookSnapshotMsg>(&client, &heard, &snapshot, Vec::new(), REQUEST_TIMEOUT);
            match asked.await {
                Ok(book) => {
                    attempt = 0;
                    at = Some((book.epoch, book.seq));
                    if tx.send(book.into_reset()).is_err() {
                        return Ok(());
                    }
                }
                Err(error @ Error::Denied(_)) => {
                    tx.fail(error);
                    return Ok(());
                }
                Err(error) => {
                    tracing::warn!(%error, subject = %snapshot, "remote: no book snapshot yet");
                    let delay = backoff.delay(attempt);
                    attempt += 1;
                    tokio::select! {
                        _ = ctx.cancel.cancelled() => return Ok(()),
                        _ = tx.consumer_gone() => return Ok(()),
                        error = denied(&mut refusals, &watched) => {
                            tx.fail(error);
                            return Ok(());
                        }
                        _ = tokio::time::sleep(delay) => continue,
                    }
                }
            }
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Ok(()),
            _ = tx.consumer_gone() => return Ok(()),
            error = denied(&mut refusals, &watched) => {
                tx.fail(error);
                return Ok(());
            }
            message = messages.next() => {
                let Some(message) = message else {
                    return Err(Error::ConnectionLost("NATS subscription ended".into()));
                };
                let Ok(diff) = serde_json::from_slice::<BookDiffMsg>(&message.payload) else {
                    tracing::warn!(subject = %diffs, "remote: unreadable book diff; taking a snapshot");
                    at = None;
                    continue;
                };
                let Some((epoch, seq)) = at else { continue };
                if diff.epoch == epoch && diff.seq <= seq {
                    continue; // already in the snapshot
                }
                if diff.epoch != epoch || diff.seq != seq + 1 {
                    // A diff lost (or a restarted gateway): the book would be wrong.
                    tracing::warn!(subject = %diffs, from = seq, to = diff.seq, "remote: book diffs skipped a number; resyncing");
                    at = None;
                    continue;
                }
                at = Some((diff.epoch, diff.seq));
                if tx.send(diff.into_event()).is_err() {
                    return Ok(());
                }
            }
        }
    }
}
