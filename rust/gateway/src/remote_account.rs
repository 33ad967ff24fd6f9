//! The reading side of an account: its events from the label's JetStream stream, and
//! commands to the gateway that holds the venue session.
//!
//! - `order_updates`: every change from now on, in the stream's order (an ordered consumer,
//!   which re-creates itself on a loss). With a durable name the reader's place (a stream
//!   sequence) is saved in the KV bucket [`READERS_BUCKET`]: a reader that comes back under
//!   the same name, anywhere, starts right after it, so it gets every update after the last
//!   one it dealt with, none twice. (An update counts as dealt with once the reader asks for
//!   the next, or when it closes the stream; a reader killed mid-way gets the one it was
//!   working on, and those of the last 50 ms, again — never fewer.)
//! - `balance_updates` / `position_updates`: each asset's / symbol's latest first, then every
//!   change.
//! - `place`: a reply that does not come is never answered by placing again: the gateway is
//!   asked what became of the client order id (`resolve`) until it can tell.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tradewire_core::model::{Balance, Order, OrderUpdate, Position};
use tradewire_core::orders::{NewOrder, OrderRef};
use tradewire_core::resilience::Backoff;
use tradewire_core::stream::{self, Overflow, Receiver, Sender};
use tradewire_core::supervise::ChildContext;
use tradewire_core::{Error, Result};

use crate::gateway::to_json;
use crate::remote::{Remote, decode, denied};
use crate::subjects::token;
use crate::wire::{
    AmendMsg, BalanceMsg, BalancesMsg, OrderMsg, OrderRefMsg, OrderUpdateMsg, OrdersMsg, PlaceMsg,
    PositionMsg, PositionsMsg, ReplaceMsg, SCHEMA, ScopeMsg,
};

/// How long a place whose reply was lost is asked after before it is left UNKNOWN.
const RESOLVE_FOR: Duration = Duration::from_secs(60);
/// Never-drop account streams hold this many events for a slow reader (as a connector's).
const CAPACITY: usize = 1 << 20;
/// How often a durable reader's place is saved.
const SAVE_EVERY: Duration = Duration::from_millis(50);

impl Remote {
    /// Checks and places `order` through the gateway (its connector's checks, limits and
    /// state machine). A lost reply is resolved by client order id, never by sending again;
    /// if that too cannot tell within a minute, the order comes back UNKNOWN.
    pub async fn place(&self, order: NewOrder) -> Result<Order> {
        let payload = to_json(&PlaceMsg::from(&order));
        self.create("place", order, payload).await
    }

    /// Cancels `which` and places `new` in one request (where the venue has one); a lost reply
    /// is resolved by the new order's client id, like a place.
    pub async fn replace(&self, symbol: &str, which: &OrderRef, new: NewOrder) -> Result<Order> {
        let payload = to_json(&ReplaceMsg {
            v: SCHEMA,
            cancel: OrderRefMsg::new(symbol, which),
            place: PlaceMsg::from(&new),
        });
        self.create("replace", new, payload).await
    }

    /// Amends an open LIMIT order (see the connector's `amend`). A lost reply is an error:
    /// `order()` then tells whether the change was made.
    pub async fn amend(
        &self,
        symbol: &str,
        which: &OrderRef,
        qty: Option<tradewire_core::model::Decimal>,
        price: Option<tradewire_core::model::Decimal>,
        replacement: Option<tradewire_core::model::Id>,
    ) -> Result<Order> {
        let subject = self.subjects.command(&self.label, "amend")?;
        let payload = to_json(&AmendMsg {
            v: SCHEMA,
            order: OrderRefMsg::new(symbol, which),
            qty,
            price,
            replacement_client_order_id: replacement.map(|id| id.to_string()),
        });
        let m: OrderMsg = self.ask(&subject, payload, self.command_timeout()).await?;
        Ok(m.order.into())
    }

    /// A write that creates `order` (`verb`: place or replace), resolved by its client id if
    /// its reply is lost.
    async fn create(&self, verb: &str, order: NewOrder, payload: Vec<u8>) -> Result<Order> {
        let subject = self.subjects.command(&self.label, verb)?;
        match self
            .ask_raw(&subject, payload, self.command_timeout())
            .await
        {
            Ok(answer) => decode::<OrderMsg>(&subject, &answer)?
                .map(|m| m.order.into())
                .map_err(|e| e.into_error(&subject)),
            Err(lost) if lost.maybe_delivered => {
                tracing::warn!(client_order_id = %order.client_order_id, error = %lost.error,
                    "remote: a place's reply was lost; resolving it by client order id");
                self.resolve(&order).await
            }
            Err(lost) => Err(lost.error),
        }
    }

    async fn resolve(&self, order: &NewOrder) -> Result<Order> {
        let subject = self.subjects.command(&self.label, "resolve")?;
        let which = OrderRef::ClientOrderId(order.client_order_id.clone());
        let payload = to_json(&OrderRefMsg::new(order.symbol.as_str(), &which));
        let deadline = Instant::now() + RESOLVE_FOR;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut attempt = 0;
        loop {
            let error = match self
                .ask_raw(&subject, payload.clone(), self.command_timeout())
                .await
            {
                Ok(answer) => match decode::<OrderMsg>(&subject, &answer)? {
                    Ok(m) => return Ok(m.order.into()),
                    Err(e) if e.error.kind == "not_placed" => {
                        return Err(Error::ConnectionLost(format!(
                            "the place of '{}' was lost before a gateway took it: nothing was placed ({})",
                            order.client_order_id, e.error.message
                        )));
                    }
                    Err(e) => e.into_error(&subject),
                },
                Err(lost) => lost.error,
            };
            if matches!(error, Error::Denied(_)) {
                return Err(error);
            }
            if Instant::now() >= deadline {
                tracing::warn!(client_order_id = %order.client_order_id, %error,
                    "remote: a place could not be resolved; it is UNKNOWN");
                let now_ms = tradewire_core::model::now_ns() / 1_000_000;
                return Ok(order.unanswered(self.source, now_ms));
            }
            tokio::time::sleep(backoff.delay(attempt)).await;
            attempt += 1;
        }
    }

    /// A new client order id, or the caller's checked.
    pub fn client_order_id(&self, given: Option<&str>) -> Result<tradewire_core::model::Id> {
        tradewire_core::venue::client_order_id(&self.client_ids, given)
    }

    pub async fn cancel(&self, symbol: &str, which: &OrderRef) -> Result<Order> {
        self.order_command("cancel", symbol, which).await
    }

    pub async fn order(&self, symbol: &str, which: &OrderRef) -> Result<Order> {
        self.order_command("order", symbol, which).await
    }

    async fn order_command(&self, verb: &str, symbol: &str, which: &OrderRef) -> Result<Order> {
        let subject = self.subjects.command(&self.label, verb)?;
        let payload = to_json(&OrderRefMsg::new(symbol, which));
        let m: OrderMsg = self.ask(&subject, payload, self.command_timeout()).await?;
        Ok(m.order.into())
    }

    pub async fn cancel_all(&self, symbol: &str) -> Result<Vec<Order>> {
        let m: OrdersMsg = self.scoped("cancel_all", Some(symbol)).await?;
        Ok(m.orders.into_iter().map(Order::from).collect())
    }

    pub async fn open_orders(&self, symbol: Option<&str>) -> Result<Vec<Order>> {
        let m: OrdersMsg = self.scoped("open_orders", symbol).await?;
        Ok(m.orders.into_iter().map(Order::from).collect())
    }

    pub async fn balances(&self) -> Result<Vec<Balance>> {
        let m: BalancesMsg = self.scoped("balances", None).await?;
        Ok(m.balances.into_iter().map(BalanceMsg::into_event).collect())
    }

    pub async fn positions(&self, symbol: Option<&str>) -> Result<Vec<Position>> {
        let m: PositionsMsg = self.scoped("positions", symbol).await?;
        Ok(m.positions
            .into_iter()
            .map(PositionMsg::into_event)
            .collect())
    }

    async fn scoped<T: DeserializeOwned>(&self, verb: &str, symbol: Option<&str>) -> Result<T> {
        let subject = self.subjects.command(&self.label, verb)?;
        let payload = to_json(&ScopeMsg {
            v: SCHEMA,
            symbol: symbol.map(str::to_owned),
        });
        self.ask(&subject, payload, self.command_timeout()).await
    }

    /// Every change of every order from now on, never dropped. With `durable`, the server
    /// keeps this reader's place under that name (see the module's notes).
    pub fn order_updates(self: &Arc<Self>, durable: Option<&str>) -> Result<Receiver<OrderUpdate>> {
        let from = match durable {
            Some(name) => From::Durable(token("durable", name)?.to_owned()),
            None => From::Now,
        };
        self.account_stream("order", from, |m: OrderUpdateMsg| m.into_event())
    }

    /// Each asset's latest funds, then every change.
    pub fn balance_updates(self: &Arc<Self>) -> Result<Receiver<Balance>> {
        self.account_stream("balance", From::Latest, BalanceMsg::into_event)
    }

    /// Each symbol's latest position, then every change (derivatives markets).
    pub fn position_updates(self: &Arc<Self>) -> Result<Receiver<Position>> {
        if !self.source.market.is_derivative() {
            return Err(Error::invalid_argument(
                "market",
                format!("{} has no positions", self.label),
            ));
        }
        self.account_stream("position", From::Latest, PositionMsg::into_event)
    }

    fn account_stream<M, T>(
        self: &Arc<Self>,
        kind: &'static str,
        from: From,
        read: fn(M) -> T,
    ) -> Result<Receiver<T>>
    where
        M: DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        let from = match from {
            // One place per label, kind and name.
            From::Durable(name) => From::Durable(format!("{}.{kind}.{name}", self.label)),
            other => other,
        };
        let feed = Feed {
            js: self.js.clone(),
            stream: self.subjects.account_stream(&self.label)?,
            filter: self.subjects.account_all(&self.label, Some(kind))?,
            from,
            cursor: Arc::default(),
        };
        let (tx, rx) = stream::channel(CAPACITY, Overflow::NeverDrop);
        let tx = Arc::new(tx);
        let refusals = self.refusals.clone();
        self.supervisor.spawn(feed.filter.clone(), move |ctx| {
            let (feed, tx, refusals) = (feed.clone(), tx.clone(), refusals.subscribe());
            async move { feed.forward(ctx, tx, refusals, read).await }
        });
        Ok(rx)
    }
}

/// Where a reader starts.
#[derive(Debug, Clone)]
enum From {
    /// What is stored from now on.
    Now,
    /// Each subject's last message, then what comes.
    Latest,
    /// Where the reader of this name stopped (from now on, the first time): its place is kept
    /// in the readers' KV bucket under this key.
    Durable(String),
}

type Messages = BoxStream<'static, std::result::Result<async_nats::jetstream::Message, String>>;

/// The KV bucket where durable readers keep their places.
pub const READERS_BUCKET: &str = "tw_readers";

/// A reader's place, kept across restarts of its task.
#[derive(Debug, Default)]
struct Cursor {
    /// Stream sequences not yet known dealt with, by how many events had been sent when each
    /// was read.
    pending: std::collections::VecDeque<(u64, u64)>,
    /// Events sent to the reader.
    sent: u64,
    /// The stream sequence of the last message read.
    last_seq: u64,
    /// The place last saved (durable readers).
    saved: u64,
}

#[derive(Debug, Clone)]
struct Feed {
    js: async_nats::jetstream::Context,
    stream: String,
    filter: String,
    from: From,
    cursor: Arc<std::sync::Mutex<Cursor>>,
}

impl Feed {
    fn cursor(&self) -> std::sync::MutexGuard<'_, Cursor> {
        self.cursor.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn readers(&self) -> std::result::Result<async_nats::jetstream::kv::Store, String> {
        match self.js.get_key_value(READERS_BUCKET).await {
            Ok(kv) => Ok(kv),
            Err(_) => self
                .js
                .create_key_value(async_nats::jetstream::kv::Config {
                    bucket: READERS_BUCKET.to_owned(),
                    history: 1,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Opens an ordered consumer (in order, no gap: it re-creates itself on a loss) at the
    /// reader's place.
    async fn open(
        &self,
        kv: Option<&async_nats::jetstream::kv::Store>,
    ) -> std::result::Result<Messages, String> {
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(|e| e.to_string())?;
        let last_seq = self.cursor().last_seq;
        let after = |seq: u64| DeliverPolicy::ByStartSequence {
            start_sequence: seq + 1,
        };
        let deliver_policy = match (&self.from, kv) {
            (From::Latest, _) => DeliverPolicy::LastPerSubject,
            // A restarted task goes on after what it had read.
            _ if last_seq > 0 => after(last_seq),
            (From::Durable(key), Some(kv)) => {
                let saved = kv.get(key.clone()).await.map_err(|e| e.to_string())?;
                let place = match saved.and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok()) {
                    Some(place) => place,
                    None => {
                        // The first time: from now on, and "now" saved at once, so a reader that
                        // stops before its first update still resumes here.
                        let now = stream
                            .get_info()
                            .await
                            .map_err(|e| e.to_string())?
                            .state
                            .last_sequence;
                        kv.put(key.clone(), now.to_string().into())
                            .await
                            .map_err(|e| e.to_string())?;
                        now
                    }
                };
                self.cursor().saved = place;
                after(place)
            }
            _ => DeliverPolicy::New,
        };
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: self.filter.clone(),
                deliver_policy,
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        let messages = consumer.messages().await.map_err(|e| e.to_string())?;
        Ok(messages.map_err(|e| e.to_string()).boxed())
    }

    async fn forward<M, T>(
        self,
        ctx: ChildContext,
        tx: Arc<Sender<T>>,
        mut refusals: broadcast::Receiver<String>,
        read: fn(M) -> T,
    ) -> Result<()>
    where
        M: DeserializeOwned,
        T: Send + 'static,
    {
        // The server names the stream (or the readers' bucket) in a refused JetStream request.
        let watched = [self.stream.clone(), READERS_BUCKET.to_owned()];
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut attempt = 0;
        let (mut messages, kv) = loop {
            let opened = async {
                let kv = match self.from {
                    From::Durable(_) => Some(self.readers().await?),
                    _ => None,
                };
                let messages = self.open(kv.as_ref()).await?;
                Ok::<_, String>((messages, kv))
            };
            let opened = tokio::select! {
                _ = ctx.cancel.cancelled() => return Ok(()),
                _ = tx.consumer_gone() => return Ok(()),
                error = denied(&mut refusals, &watched) => {
                    tx.fail(error);
                    return Ok(());
                }
                opened = opened => opened,
            };
            match opened {
                Ok(opened) => break opened,
                Err(error) => {
                    // The gateway may not have created the stream yet.
                    tracing::warn!(%error, stream = %self.stream, "remote: account stream not open yet");
                    let delay = backoff.delay(attempt);
                    attempt += 1;
                    tokio::select! {
                        _ = ctx.cancel.cancelled() => return Ok(()),
                        _ = tx.consumer_gone() => return Ok(()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        };
        let place = Place {
            kv,
            key: match &self.from {
                From::Durable(key) => key.clone(),
                _ => String::new(),
            },
        };
        let mut tick = tokio::time::interval(SAVE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ctx.cancel.cancelled() => {
                    place.save(&self, &tx, true).await;
                    return Ok(());
                }
                _ = tx.consumer_gone() => {
                    place.save(&self, &tx, true).await;
                    return Ok(());
                }
                _ = tick.tick(), if place.kv.is_some() => place.save(&self, &tx, false).await,
                error = denied(&mut refusals, &watched) => {
                    tx.fail(error);
                    return Ok(());
                }
                message = messages.next() => {
                    let message = match message {
                        Some(Ok(message)) => message,
                        Some(Err(error)) => {
                            tracing::warn!(%error, stream = %self.stream, "remote: account stream");
                            continue;
                        }
                        None => return Err(Error::ConnectionLost("the account stream ended".into())),
                    };
                    let Ok(seq) = message.info().map(|i| i.stream_sequence) else { continue };
                    if seq <= self.cursor().last_seq {
                        continue; // read before a restart of this task
                    }
                    let event = match serde_json::from_slice::<M>(&message.payload) {
                        Ok(body) => Some(read(body)),
                        Err(error) => {
                            tracing::warn!(%error, subject = %message.subject, "remote: unreadable account event skipped");
                            None
                        }
                    };
                    // An unreadable message is dealt with once the events before it are.
                    let sent = event.is_some();
                    if let Some(event) = event && tx.send(event).is_err() {
                        // The reader left while this message came: what it was handed counts
                        // as dealt with, as at any clean end.
                        place.save(&self, &tx, true).await;
                        return Ok(());
                    }
                    let mut cursor = self.cursor();
                    cursor.sent += u64::from(sent);
                    cursor.last_seq = seq;
                    let sent = cursor.sent;
                    if place.kv.is_some() {
                        cursor.pending.push_back((sent, seq));
                    }
                }
            }
        }
    }
}

/// Where a durable reader's place is saved.
struct Place {
    kv: Option<async_nats::jetstream::kv::Store>,
    key: String,
}

impl Place {
    /// Saves the place after the last event the reader is done with (`at_end`, a clean end:
    /// every event handed over).
    async fn save<T>(&self, feed: &Feed, tx: &Sender<T>, at_end: bool) {
        let Some(kv) = &self.kv else { return };
        let stats = tx.stats();
        let done = if at_end {
            stats.taken.load(std::sync::atomic::Ordering::Acquire)
        } else {
            stats.finished.load(std::sync::atomic::Ordering::Acquire)
        };
        let place = {
            let mut cursor = feed.cursor();
            let mut place = None;
            while cursor.pending.front().is_some_and(|(n, _)| *n <= done) {
                place = cursor.pending.pop_front().map(|(_, seq)| seq);
            }
            match place {
                Some(seq) if seq > cursor.saved => {
                    cursor.saved = seq;
                    seq
                }
                _ => return,
            }
        };
        // `put` waits for JetStream's acknowledgement: the place is stored when it returns.
        if let Err(error) = kv.put(self.key.clone(), place.to_string().into()).await {
            tracing::warn!(%error, key = %self.key, "remote: a reader's place was not saved");
        }
    }
}
