//! The gateway's account side: a connector's order updates, balances and positions stored in
//! a JetStream stream, and commands (place, cancel, queries) answered by request/reply with
//! the connector's one rate-limit budget, checks and state machine.
//!
//! Every account event is stored under a message id made from its content, so the stream
//! keeps one copy of each change however often it is published (a retry after a lost
//! acknowledgement, a task restarted, a standby gateway that took over).
//!
//! A `place` whose reply a reader lost is never placed again: the reader asks `resolve` with
//! the client order id. A place still running is waited for; one done is answered again; an
//! id never seen is marked used first (a place arriving late with it is refused) and then
//! looked up at the venue, so the answer "not placed" stays true.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use tokio::sync::{Semaphore, watch};
use tradewire_core::connector::Connector;
use tradewire_core::model::{Id, OrderUpdate};
use tradewire_core::orders::{NewOrder, OrderRef};
use tradewire_core::resilience::Backoff;
use tradewire_core::stream::{Item, Receiver};
use tradewire_core::supervise::ChildContext;
use tradewire_core::{Error, Result};

use crate::gateway::{Gateway, QUEUE, each_item, made_now, nats_error, to_json};
use crate::wire::{
    AmendMsg, BalanceMsg, BalancesMsg, ErrorMsg, OrderBody, OrderMsg, OrderRefMsg, OrderUpdateMsg,
    OrdersMsg, PlaceMsg, PositionMsg, PositionsMsg, ReplaceMsg, SCHEMA, ScopeMsg,
};

/// How long the account stream keeps events, and how long it remembers message ids.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Commands worked on at once; more wait in NATS's buffer (the venue's limits are the real
/// bound: the connector queues what they do not allow yet).
const COMMANDS_IN_FLIGHT: usize = 256;
/// How long a finished place's answer is kept for a `resolve` or a repeated place.
const PLACE_MEMORY: Duration = Duration::from_secs(600);
const BATCH: usize = 64;

/// What the gateway knows of a client order id it was asked about.
#[derive(Debug)]
enum Place {
    Running(watch::Receiver<Option<Arc<Vec<u8>>>>),
    Done(Arc<Vec<u8>>, Instant),
    /// Looked up before any place with it arrived: a later place is refused.
    Burned(Instant),
}

/// Places by client order id.
#[derive(Debug, Default)]
pub(crate) struct Places {
    by_id: HashMap<Id, Place>,
}

impl Places {
    fn forget_old(&mut self) {
        if self.by_id.len() < 4096 {
            return;
        }
        let now = Instant::now();
        self.by_id.retain(|_, place| match place {
            Place::Running(_) => true,
            Place::Done(_, at) | Place::Burned(at) => now.duration_since(*at) < PLACE_MEMORY,
        });
    }
}

/// Which account stream an event goes to, and its subject key and message id.
trait AccountEvent: Send + Sync + 'static {
    const KIND: &'static str;
    fn key(&self) -> std::borrow::Cow<'_, str>;
    fn message_id(&self) -> String;
    fn body(&self) -> Vec<u8>;
}

impl AccountEvent for OrderUpdate {
    const KIND: &'static str = "order";
    fn key(&self) -> std::borrow::Cow<'_, str> {
        self.order.symbol.as_str().into()
    }
    fn message_id(&self) -> String {
        OrderUpdateMsg::message_id(self)
    }
    fn body(&self) -> Vec<u8> {
        to_json(&OrderUpdateMsg::new(self))
    }
}

impl AccountEvent for tradewire_core::model::Balance {
    const KIND: &'static str = "balance";
    fn key(&self) -> std::borrow::Cow<'_, str> {
        self.asset.as_str().into()
    }
    fn message_id(&self) -> String {
        BalanceMsg::message_id(self)
    }
    fn body(&self) -> Vec<u8> {
        to_json(&BalanceMsg::new(self))
    }
}

impl AccountEvent for tradewire_core::model::Position {
    const KIND: &'static str = "position";
    /// A hedge-mode leg has its own subject (`BTCUSDT-LONG`), so each leg's latest is kept.
    fn key(&self) -> std::borrow::Cow<'_, str> {
        self.key_text().into()
    }
    fn message_id(&self) -> String {
        PositionMsg::message_id(self)
    }
    fn body(&self) -> Vec<u8> {
        to_json(&PositionMsg::new(self))
    }
}

impl Gateway {
    /// Stores `connector`'s account events (order updates, balances, positions) in the
    /// label's JetStream stream and answers its commands. Needs the connector's API keys.
    pub async fn serve_account(self: &Arc<Self>, connector: Arc<Connector>) -> Result<()> {
        self.plans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(crate::gateway_ha::Plan::Account(Arc::downgrade(&connector)));
        if self.is_active() {
            self.run_account(connector).await?;
        }
        Ok(())
    }

    /// Starts what `serve_account` asked for (while active).
    pub(crate) async fn run_account(self: &Arc<Self>, connector: Arc<Connector>) -> Result<()> {
        let label = connector.label();
        let Some(new_label) = self.claim_account(&label, &connector) else {
            return Ok(());
        };
        if new_label {
            // Readers ask for symbols' rules before they place.
            self.start_requests(&connector, &label).await?;
        }
        let stream = self.subjects.account_stream(&label)?;
        self.js
            .get_or_create_stream(jetstream::stream::Config {
                name: stream.clone(),
                subjects: vec![self.subjects.account_all(&label, None)?],
                max_age: RETENTION,
                duplicate_window: DUPLICATE_WINDOW,
                storage: jetstream::stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error(format!("creating the stream {stream}: {e}")))?;
        // Opened before anything is spawned: nothing that happens from here on is missed.
        let orders = connector.order_updates()?;
        let balances = connector.balance_updates()?;
        let positions = if connector.market.is_derivative() {
            Some(connector.position_updates()?)
        } else {
            None
        };
        self.spawn_store(&connector, &label, Some(orders), |c| c.order_updates());
        self.spawn_store(&connector, &label, Some(balances), |c| c.balance_updates());
        if let Some(positions) = positions {
            self.spawn_store(&connector, &label, Some(positions), |c| {
                c.position_updates()
            });
        }
        self.start_commands(&connector, &label).await
    }

    /// Stores one account stream; a restarted task opens it again and, for orders, stores
    /// the open orders' states (the ones already stored are dropped as duplicates).
    fn spawn_store<T: AccountEvent>(
        self: &Arc<Self>,
        connector: &Arc<Connector>,
        label: &str,
        first: Option<Receiver<T>>,
        open: fn(&Arc<Connector>) -> Result<Receiver<T>>,
    ) {
        let first = Arc::new(Mutex::new(first));
        let (js, subjects, counters) = (
            self.js.clone(),
            self.subjects.clone(),
            self.counters.clone(),
        );
        let connector = Arc::downgrade(connector);
        let label = label.to_owned();
        self.serving()
            .spawn(format!("{label}/account/{}", T::KIND), move |ctx| {
                let first = first.lock().unwrap_or_else(|p| p.into_inner()).take();
                let (js, subjects, counters, connector, label) = (
                    js.clone(),
                    subjects.clone(),
                    counters.clone(),
                    connector.clone(),
                    label.clone(),
                );
                async move {
                    let Some(connector) = connector.upgrade() else {
                        return Ok(());
                    };
                    let rx = match first {
                        Some(rx) => rx,
                        None => open(&connector)?,
                    };
                    let store = Store {
                        js,
                        counters,
                        subjects,
                        label,
                    };
                    if ctx.run > 0 && T::KIND == "order" {
                        store.open_orders(&ctx, &connector).await;
                    }
                    drop(connector);
                    store.relay(&ctx, rx).await
                }
            });
    }

    /// Marks `label`'s account served: `None` if it was already, else whether the label is
    /// new to this gateway.
    fn claim_account(&self, label: &str, connector: &Arc<Connector>) -> Option<bool> {
        let mut served = self.served.lock().unwrap_or_else(|p| p.into_inner());
        let new_label = !served.contains_key(label);
        let entry = served.entry(label.to_owned()).or_default();
        entry.venue = Some(connector.venue);
        entry.market = Some(connector.market);
        (!std::mem::replace(&mut entry.account, true)).then_some(new_label)
    }

    /// Answers `...cmd.<label>.<verb>` requests, each in its own task.
    async fn start_commands(
        self: &Arc<Self>,
        connector: &Arc<Connector>,
        label: &str,
    ) -> Result<()> {
        let subject = format!("{}*", self.subjects.command_prefix(label)?);
        let first = made_now(
            &self.client,
            subscribe_commands(&self.client, &subject).await?,
        )
        .await;
        let gateway = Arc::downgrade(self);
        let connector = Arc::downgrade(connector);
        let in_flight = Arc::new(Semaphore::new(COMMANDS_IN_FLIGHT));
        self.serving().spawn(format!("{label}/commands"), move |ctx| {
            let first = first.lock().unwrap_or_else(|p| p.into_inner()).take();
            let (gateway, connector, in_flight, subject) = (
                gateway.clone(),
                connector.clone(),
                in_flight.clone(),
                subject.clone(),
            );
            async move {
                let mut requests = match first {
                    Some(sub) => sub,
                    None => {
                        let Some(g) = gateway.upgrade() else { return Ok(()) };
                        subscribe_commands(&g.client, &subject).await?
                    }
                };
                loop {
                    let request = tokio::select! {
                        _ = ctx.cancel.cancelled() => return Ok(()),
                        request = requests.next() => request,
                    };
                    let Some(request) = request else {
                        return Err(Error::ConnectionLost("NATS subscription ended".into()));
                    };
                    let Some(reply) = request.reply.clone() else { continue };
                    let (Some(g), Some(c)) = (gateway.upgrade(), connector.upgrade()) else {
                        return Ok(());
                    };
                    let permit = tokio::select! {
                        _ = ctx.cancel.cancelled() => return Ok(()),
                        permit = in_flight.clone().acquire_owned() => permit.map_err(|_| Error::Closed)?,
                    };
                    let verb = request.subject.as_str().rsplit('.').next().unwrap_or("").to_owned();
                    let task = format!("command/{verb}");
                    let worker = g.clone();
                    // Detached: a command runs to its end even if this loop restarts.
                    drop(g.serving().observe(&task, async move {
                        let body = worker.command(&c, &verb, &request.payload).await;
                        worker.counters.requests_served.fetch_add(1, Ordering::Relaxed);
                        if let Err(error) = worker.client.publish(reply, body.into()).await {
                            tracing::warn!(%error, %verb, "gateway: a command's reply was not sent");
                        }
                        drop(permit);
                    }));
                }
            }
        });
        Ok(())
    }

    /// One command's reply body.
    async fn command(&self, connector: &Arc<Connector>, verb: &str, payload: &[u8]) -> Vec<u8> {
        let answer = async {
            Ok(match verb {
                "place" => return Ok(self.place(connector, read(payload)?).await.to_vec()),
                "resolve" => return Ok(self.resolve(connector, read(payload)?).await.to_vec()),
                "replace" => {
                    let m: ReplaceMsg = read(payload)?;
                    let which = m.cancel.order_ref()?;
                    let symbol = m.cancel.symbol.clone();
                    let new = NewOrder::from(m.place);
                    let id = new.client_order_id.clone();
                    let work = async move { connector.replace(&symbol, &which, new).await };
                    return Ok(self.once(connector, id, work).await.to_vec());
                }
                "amend" => {
                    let m: AmendMsg = read(payload)?;
                    let which = m.order.order_ref()?;
                    let replacement = match m.replacement_client_order_id.as_deref() {
                        Some(id) => Some(connector.client_order_id(Some(id))?),
                        None => None,
                    };
                    order_reply(
                        &connector
                            .amend(&m.order.symbol, &which, m.qty, m.price, replacement)
                            .await?,
                    )
                }
                "cancel" | "order" => {
                    let m: OrderRefMsg = read(payload)?;
                    let which = m.order_ref()?;
                    let order = if verb == "cancel" {
                        connector.cancel(&m.symbol, &which).await?
                    } else {
                        connector.order(&m.symbol, &which).await?
                    };
                    order_reply(&order)
                }
                "cancel_all" => {
                    let symbol = read::<ScopeMsg>(payload)?.symbol.ok_or_else(|| {
                        Error::invalid_argument("symbol", "cancel_all needs a symbol")
                    })?;
                    orders_reply(&connector.cancel_all(&symbol).await?)
                }
                "open_orders" => {
                    let m: ScopeMsg = read(payload)?;
                    orders_reply(&connector.open_orders(m.symbol.as_deref()).await?)
                }
                "balances" => to_json(&BalancesMsg {
                    v: SCHEMA,
                    balances: connector
                        .balances()
                        .await?
                        .iter()
                        .map(BalanceMsg::new)
                        .collect(),
                }),
                "positions" => {
                    let m: ScopeMsg = read(payload)?;
                    let all = connector.positions(m.symbol.as_deref()).await?;
                    to_json(&PositionsMsg {
                        v: SCHEMA,
                        positions: all.iter().map(PositionMsg::new).collect(),
                    })
                }
                other => {
                    return Err(Error::invalid_argument(
                        "command",
                        format!("'{other}' is not a command of this gateway"),
                    ));
                }
            })
        };
        answer.await.unwrap_or_else(|e| error_reply(&e))
    }

    /// Places once per client order id: a repeat gets the first answer.
    async fn place(&self, connector: &Arc<Connector>, place: PlaceMsg) -> Arc<Vec<u8>> {
        let id = place.client_order_id.clone();
        let new = NewOrder::from(place);
        let work = async { connector.place(new).await };
        self.once(connector, id, work).await
    }

    /// Runs `work`, a write that creates the order `id`, once per id: a repeat gets the first
    /// answer, and `resolve` finds it.
    async fn once(
        &self,
        connector: &Arc<Connector>,
        id: tradewire_core::model::Id,
        work: impl std::future::Future<Output = Result<tradewire_core::model::Order>>,
    ) -> Arc<Vec<u8>> {
        if let Err(e) = connector.client_order_id(Some(id.as_str())) {
            return Arc::new(error_reply(&e));
        }
        let done = {
            let mut places = self.places();
            places.forget_old();
            match places.by_id.get(&id) {
                Some(Place::Running(rx)) => Err(rx.clone()),
                Some(Place::Done(body, _)) => return body.clone(),
                Some(Place::Burned(_)) => {
                    return Arc::new(error_reply(&Error::invalid_argument(
                        "client_order_id",
                        format!("'{id}' was looked up as never placed; place with a new id"),
                    )));
                }
                None => {
                    let (tx, rx) = watch::channel(None);
                    places.by_id.insert(id.clone(), Place::Running(rx));
                    Ok(tx)
                }
            }
        };
        let tx = match done {
            Ok(tx) => tx,
            Err(running) => return wait(running).await,
        };
        let body = Arc::new(match work.await {
            Ok(order) => order_reply(&order),
            Err(e) => error_reply(&e),
        });
        self.places()
            .by_id
            .insert(id, Place::Done(body.clone(), Instant::now()));
        let _ = tx.send(Some(body.clone()));
        body
    }

    /// The outcome of a place whose reply a reader did not get.
    async fn resolve(&self, connector: &Arc<Connector>, asked: OrderRefMsg) -> Arc<Vec<u8>> {
        let id = match asked.order_ref() {
            Ok(OrderRef::ClientOrderId(id)) => id,
            Ok(OrderRef::OrderId(_)) | Err(_) => {
                return Arc::new(error_reply(&Error::invalid_argument(
                    "client_order_id",
                    "resolve names the order by its client_order_id",
                )));
            }
        };
        let running = {
            let mut places = self.places();
            match places.by_id.get(&id) {
                Some(Place::Running(rx)) => Some(rx.clone()),
                Some(Place::Done(body, _)) => return body.clone(),
                Some(Place::Burned(_)) => None,
                None => {
                    places
                        .by_id
                        .insert(id.clone(), Place::Burned(Instant::now()));
                    None
                }
            }
        };
        if let Some(running) = running {
            return wait(running).await;
        }
        // Never seen here (another gateway may have placed it): the venue knows.
        let which = OrderRef::ClientOrderId(id.clone());
        Arc::new(match connector.order(&asked.symbol, &which).await {
            Ok(order) => order_reply(&order),
            Err(Error::OrderNotFound(_)) => to_json(&ErrorMsg::new(
                "not_placed",
                format!("no order '{id}' reached the gateway or the venue; it will not be placed"),
            )),
            Err(e) => error_reply(&e),
        })
    }

    fn places(&self) -> std::sync::MutexGuard<'_, Places> {
        self.places.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A label's commands, as one queue group: an overlap of two gateways runs each once.
async fn subscribe_commands(
    client: &async_nats::Client,
    subject: &str,
) -> Result<async_nats::Subscriber> {
    client
        .queue_subscribe(subject.to_owned(), QUEUE.into())
        .await
        .map_err(nats_error)
}

async fn wait(mut running: watch::Receiver<Option<Arc<Vec<u8>>>>) -> Arc<Vec<u8>> {
    match running.wait_for(Option::is_some).await {
        Ok(body) => body.clone().unwrap_or_default(),
        Err(_) => Arc::new(error_reply(&Error::Closed)),
    }
}

fn read<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T> {
    serde_json::from_slice(payload)
        .map_err(|e| Error::invalid_argument("request", format!("unreadable command: {e}")))
}

fn error_reply(error: &Error) -> Vec<u8> {
    to_json(&ErrorMsg::from_error(error))
}

fn order_reply(order: &tradewire_core::model::Order) -> Vec<u8> {
    to_json(&OrderMsg {
        v: SCHEMA,
        order: OrderBody::from(order),
    })
}

fn orders_reply(orders: &[tradewire_core::model::Order]) -> Vec<u8> {
    to_json(&OrdersMsg {
        v: SCHEMA,
        orders: orders.iter().map(OrderBody::from).collect(),
    })
}

/// Stores one account stream's events, in order, each until JetStream confirms it.
struct Store {
    js: jetstream::Context,
    counters: Arc<crate::gateway::Counters>,
    subjects: crate::subjects::Subjects,
    label: String,
}

impl Store {
    async fn relay<T: AccountEvent>(&self, ctx: &ChildContext, rx: Receiver<T>) -> Result<()> {
        each_item(ctx, &rx, BATCH, |item| async move {
            match item {
                Item::Event(event) => self.store(ctx, &event).await,
                // Never-drop streams have no gaps; they fail instead (and restart).
                Item::Gap { missed } => {
                    self.counters
                        .lost_upstream
                        .fetch_add(missed, Ordering::Relaxed);
                    Ok(())
                }
            }
        })
        .await
    }

    /// Publishes until stored: a retry with the same message id cannot store it twice.
    async fn store<T: AccountEvent>(&self, ctx: &ChildContext, event: &T) -> Result<()> {
        let subject = self.subjects.account(&self.label, T::KIND, &event.key())?;
        let id = event.message_id();
        let body = bytes::Bytes::from(event.body());
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
        let mut attempt = 0;
        loop {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.as_str());
            let stored = match self
                .js
                .publish_with_headers(subject.clone(), headers, body.clone())
                .await
            {
                Ok(ack) => ack.await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match stored {
                Ok(ack) => {
                    if !ack.duplicate {
                        self.counters.published.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(());
                }
                Err(error) => {
                    self.counters.publish_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, %subject, "gateway: an account event is not stored yet; retrying");
                }
            }
            let delay = backoff.delay(attempt);
            attempt += 1;
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// The open orders' states, for what a restarted task may have missed.
    async fn open_orders(&self, ctx: &ChildContext, connector: &Arc<Connector>) {
        match connector.open_orders(None).await {
            Ok(orders) => {
                for order in orders {
                    let update = OrderUpdate { order, fill: None };
                    if self.store(ctx, &update).await.is_err() {
                        return;
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "gateway: open orders not read after a restart"),
        }
    }
}
