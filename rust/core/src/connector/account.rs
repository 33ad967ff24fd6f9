//! The live account: the venue's user stream, the updates handed to readers, and the REST
//! reconciliation that fills whatever the stream missed.
//!
//! Every order report — answer, stream event, reconciliation — goes through [`Connector::absorb`]
//! (the one state machine), and every change it makes is published once to `order_updates`
//! readers, so the stream a reader sees has no hole and no repeat. Balances and positions are
//! published when they differ from the last published value.
//!
//! The user stream is opened on first use. After every (re)connect, on a venue's "stream ended"
//! event, and every `reconcile_every`, open orders, each unfinished order, missing fills,
//! balances and positions are read by REST and applied the same way.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, Weak};
use std::time::Duration;

use crate::supervise::ChildContext;
use tokio::sync::broadcast;

use super::Connector;
use super::streams::PoolFeed;
use crate::model::{
    Balance, Decimal, Fill, Id, Order, OrderUpdate, Position, PositionSide, Symbol,
};
use crate::net::http::{Method, Request};
use crate::net::ws::RequestGate;
use crate::net::{WsEvent, WsPool};
use crate::orders::{Applied, OrderRef};
use crate::resilience::{Backoff, Priority, UNSAID_BAN};
use crate::stream::{self, Overflow, Receiver, Sender};
use crate::venue::{Credentials, Endpoint, UserEvent};
use crate::{Error, Result};

/// Never-drop buffers (DESIGN.md decision 7): a reader this far behind, in updates or in
/// bytes, gets `SlowConsumer` (about 200,000 order updates fill the bytes first).
const UPDATES_CAPACITY: usize = 1 << 20;
pub const UPDATES_BYTES: usize = 128 << 20;
/// The least time between two restarts of the user stream.
const RESTART_SPACING: Duration = Duration::from_secs(1);
/// A rate-limit refusal that does not say how long to wait: a second.
const BACK_OFF_UNSAID_MS: i64 = 1_000;
/// How long after a (re)connect the subscription is taken to be in place.
const SETTLE_AFTER_CONNECT: Duration = Duration::from_millis(300);

/// An idempotent job run one round at a time: asking while a round runs folds into one more
/// round after it (rounds piling up would spend the rate limits orders need).
#[derive(Debug, Default)]
pub(super) struct Coalesced {
    running: tokio::sync::Mutex<()>,
    wanted: std::sync::atomic::AtomicBool,
}

impl Coalesced {
    pub(super) async fn run<F, R>(&self, mut round: F)
    where
        F: FnMut() -> R,
        R: std::future::Future<Output = ()>,
    {
        use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
        self.wanted.store(true, Release);
        loop {
            let Ok(running) = self.running.try_lock() else {
                return; // the running round sees the request
            };
            while self.wanted.swap(false, AcqRel) {
                round().await;
            }
            drop(running);
            if !self.wanted.load(Acquire) {
                return;
            }
        }
    }
}

/// Readers of the account's updates and what they were last told.
#[derive(Default)]
pub(super) struct Publish {
    orders: Vec<Arc<Sender<OrderUpdate>>>,
    balances: Vec<Arc<Sender<Balance>>>,
    positions: Vec<Arc<Sender<Position>>>,
    last_balances: HashMap<String, Balance>,
    last_positions: HashMap<(Symbol, Option<PositionSide>), Position>,
}

/// The running user stream.
pub(super) struct UserFeed {
    pub(super) pool: Arc<WsPool>,
    /// What it subscribed (a listen key's stream: the key).
    topics: Vec<String>,
    /// A listen key's REST path and the key subscribed now.
    listen_key: Option<(&'static str, String)>,
}

impl Connector {
    /// Ends every account stream reader (orders, balances, positions) with `error`.
    pub(super) fn end_account_streams(&self, error: &Error) {
        let publish = self.publish();
        for tx in &publish.orders {
            tx.fail(error.clone());
        }
        for tx in &publish.balances {
            tx.fail(error.clone());
        }
        for tx in &publish.positions {
            tx.fail(error.clone());
        }
    }
}

fn send_all<T: Clone>(readers: &mut Vec<Arc<Sender<T>>>, event: &T) {
    readers.retain(|tx| tx.send(event.clone()).is_ok());
}

impl Connector {
    fn publish(&self) -> MutexGuard<'_, Publish> {
        self.publish.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies an order report and/or an execution, publishes the change if there is one, and
    /// returns the order as now known.
    pub(super) fn absorb(&self, report: Option<&Order>, fill: Option<&Fill>) -> Option<Order> {
        // Both locks for the whole step (publish first, always): updates leave in the order
        // their changes were applied, even when answers and stream events race.
        let mut publish = self.publish();
        let mut orders = self.orders_mut();
        // Every report is a moment to forget orders whose keeping time is over (one look at
        // the oldest ended order).
        orders.evict_ended(std::time::Instant::now(), self.config.keep_ended_orders);
        let mut updates: Vec<OrderUpdate> = Vec::new();
        let mut known = None;
        let mut orphans = Vec::new();
        if let Some(report) = report {
            if let Applied::Changed(order) = orders.apply(report) {
                orphans = orders.take_orphans(&order);
                updates.push(OrderUpdate { order, fill: None });
            }
            known = orders.current(report).cloned();
        }
        for fill in orphans.iter().chain(fill) {
            if let Applied::Changed(order) = orders.apply_fill(fill) {
                // The fill and the state it caused are one update.
                match updates.last_mut() {
                    Some(last)
                        if last.fill.is_none()
                            && last.order.client_order_id == order.client_order_id =>
                    {
                        last.order = order;
                        last.fill = Some(fill.clone());
                    }
                    _ => updates.push(OrderUpdate {
                        order,
                        fill: Some(fill.clone()),
                    }),
                }
            }
        }
        drop(orders);
        if let Some(last) = updates.last() {
            known = Some(last.order.clone());
        }
        for update in &updates {
            send_all(&mut publish.orders, update);
        }
        known
    }

    fn publish_balances(&self, balances: Vec<Balance>) {
        let mut publish = self.publish();
        for balance in balances {
            let same = publish
                .last_balances
                .get(&balance.asset)
                .is_some_and(|b| (b.free, b.locked) == (balance.free, balance.locked));
            if !same {
                send_all(&mut publish.balances, &balance);
                publish.last_balances.insert(balance.asset.clone(), balance);
            }
        }
    }

    /// Publishes positions that changed; with `complete`, a position published before and
    /// missing now is published flat (the venue lists open positions only).
    fn publish_positions(&self, positions: Vec<Position>, complete: bool) {
        let mut publish = self.publish();
        let listed: HashSet<_> = positions.iter().map(Position::key).collect();
        let mut all = positions;
        if complete {
            for (key, last) in &publish.last_positions {
                if !listed.contains(key) && last.side != PositionSide::Flat {
                    let mut flat = last.clone();
                    flat.side = PositionSide::Flat;
                    flat.size = Decimal::ZERO;
                    flat.unrealized_pnl = Decimal::ZERO;
                    all.push(flat);
                }
            }
        }
        for position in all {
            let same = publish
                .last_positions
                .get(&position.key())
                .is_some_and(|p| {
                    // What a holder acts on: its size and price, leverage, and its own exits.
                    let terms = |p: &Position| {
                        (
                            (p.side, p.size, p.entry_price, p.leverage),
                            (p.take_profit, p.stop_loss, p.trailing_stop),
                        )
                    };
                    terms(p) == terms(&position)
                });
            if !same {
                send_all(&mut publish.positions, &position);
                publish.last_positions.insert(position.key(), position);
            }
        }
    }

    /// Every change of every order from now on, never dropped (a reader that falls a million
    /// updates or 128 MiB of them behind gets `SlowConsumer`). Opens the user stream if needed.
    pub fn order_updates(self: &Arc<Self>) -> Result<Receiver<OrderUpdate>> {
        self.start_user()?;
        let (tx, rx) = stream::weighed(UPDATES_CAPACITY, UPDATES_BYTES, Overflow::NeverDrop);
        self.publish().orders.push(Arc::new(tx));
        Ok(rx)
    }

    /// Each asset's funds when they change; the current funds first.
    pub fn balance_updates(self: &Arc<Self>) -> Result<Receiver<Balance>> {
        self.start_user()?;
        let (tx, rx) = stream::weighed(UPDATES_CAPACITY, UPDATES_BYTES, Overflow::NeverDrop);
        let tx = Arc::new(tx);
        let mut publish = self.publish();
        let mut current: Vec<&Balance> = publish.last_balances.values().collect();
        current.sort_by(|a, b| a.asset.cmp(&b.asset));
        for b in current {
            let _ = tx.send(b.clone());
        }
        publish.balances.push(tx);
        Ok(rx)
    }

    /// Each position when it changes (derivatives markets); the current ones first.
    pub fn position_updates(self: &Arc<Self>) -> Result<Receiver<Position>> {
        if !self.market.is_derivative() {
            return Err(Error::invalid_argument(
                "market",
                format!("{} {} has no positions", self.venue, self.market),
            ));
        }
        self.start_user()?;
        let (tx, rx) = stream::weighed(UPDATES_CAPACITY, UPDATES_BYTES, Overflow::NeverDrop);
        let tx = Arc::new(tx);
        let mut publish = self.publish();
        let mut current: Vec<&Position> = publish.last_positions.values().collect();
        current.sort_by_key(|p| (p.symbol.as_str(), p.position_side));
        for p in current {
            let _ = tx.send(p.clone());
        }
        publish.positions.push(tx);
        Ok(rx)
    }

    /// Checks what the user stream needs, then opens it in the background (once), retrying
    /// with backoff until it is up or the connector closes.
    fn start_user(self: &Arc<Self>) -> Result<()> {
        let credentials = self.user_credentials()?;
        self.user_url()?;
        if self
            .user_started
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return Ok(());
        }
        let this = Arc::downgrade(self);
        // Until it is open: a child (restarted if it panics), not a one-shot.
        self.supervisor.spawn("user stream/open", move |ctx| {
            let (this, credentials) = (this.clone(), credentials.clone());
            async move {
                let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
                let mut attempt = 0;
                loop {
                    let Some(c) = this.upgrade() else {
                        return Ok(());
                    };
                    if ctx.cancel.is_cancelled() {
                        return Ok(());
                    }
                    match c.open_user(credentials.clone()).await {
                        Ok(()) => return Ok(()),
                        Err(error) => {
                            tracing::warn!(%error, "user stream not opened; trying again");
                        }
                    }
                    drop(c);
                    attempt += 1;
                    tokio::time::sleep(backoff.delay(attempt)).await;
                }
            }
        });
        Ok(())
    }

    fn user_credentials(&self) -> Result<Arc<Credentials>> {
        self.credentials.clone().ok_or_else(|| {
            Error::invalid_argument(
                "api_key",
                "the user stream needs API keys: pass api_key and api_secret to the connector",
            )
        })
    }

    /// The user stream's endpoint: the venue's WebSocket API or its private route.
    fn user_url(&self) -> Result<String> {
        let (url, name) = match self.adapter.user_endpoint(self.market) {
            Endpoint::Api => (&self.config.ws_api, "ws_api"),
            _ => (&self.config.ws_private, "ws_private"),
        };
        url.clone().ok_or_else(|| {
            Error::invalid_argument(
                "endpoints",
                format!(
                    "{} {}'s user stream needs endpoints.{name}",
                    self.venue, self.market
                ),
            )
        })
    }

    /// Opens the user stream: connects, subscribes, reconciles, and keeps it so.
    async fn open_user(self: &Arc<Self>, credentials: Arc<Credentials>) -> Result<()> {
        let url = self.user_url()?;
        let stream =
            self.adapter
                .user_stream(self.market, &url, credentials, self.http.clock.clone());
        let (topics, listen_key) = match stream.listen_key {
            Some(path) => {
                let key = self.listen_key(path, Method::Post).await?;
                (vec![key.clone()], Some((path, key)))
            }
            None => (stream.topics, None),
        };
        // A quiet account is normal: only silence of pings means a dead connection.
        let config = crate::net::WsConfig {
            data_stale_after: None,
            ..self.config.ws.clone()
        };
        let requests = stream
            .weighed_as
            .map(|request| RequestGate::weighed_as(&self.http, request));
        let (pool, feed) = self.ws_pool(&stream.url, stream.dialect, config, requests)?;
        pool.subscribe(&topics);
        *self.user.lock().await = Some(UserFeed {
            pool,
            topics,
            listen_key,
        });
        // Reading starts now; the first reconciliation gives readers the current state.
        let this = Arc::downgrade(self);
        self.supervisor.spawn("user stream", move |ctx| {
            let (this, feed) = (this.clone(), feed.clone());
            async move {
                run_user(this, &feed, &ctx).await;
                Ok(())
            }
        });
        self.reconcile().await;
        Ok(())
    }

    /// Creates (POST: returns the live key, extended) or keeps alive (PUT) the listen key at
    /// `path`.
    async fn listen_key(&self, path: &str, method: Method) -> Result<String> {
        let request = Request {
            method,
            path: path.into(),
            params: Vec::new(),
            signed: false,
            priority: Priority::Order,
        };
        let answer = self.request(&request).await?;
        Ok(answer
            .get("listenKey")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_owned())
    }

    /// The stream ended on the venue's side: subscribe it again (a listen key's with a fresh
    /// key). At
    /// most once a second, so a venue refusing every subscription is not asked in a loop.
    async fn restart_user(&self) -> Result<()> {
        let wait = {
            let mut last = self.last_restart.lock().unwrap_or_else(|p| p.into_inner());
            let now = tokio::time::Instant::now();
            let next = last.map_or(now, |at| (at + RESTART_SPACING).max(now));
            *last = Some(next);
            next - now
        };
        tokio::time::sleep(wait).await;
        let (pool, topics, old) = {
            let user = self.user.lock().await;
            let Some(feed) = user.as_ref() else {
                return Ok(());
            };
            (
                feed.pool.clone(),
                feed.topics.clone(),
                feed.listen_key.clone(),
            )
        };
        match old {
            Some((path, old)) => {
                let key = self.listen_key(path, Method::Post).await?;
                pool.unsubscribe(std::slice::from_ref(&old));
                pool.subscribe(std::slice::from_ref(&key));
                if let Some(feed) = self.user.lock().await.as_mut() {
                    feed.topics = vec![key.clone()];
                    feed.listen_key = Some((path, key));
                }
            }
            None => pool.refresh(&topics),
        }
        Ok(())
    }

    /// Keeps a listen key alive; a key the venue no longer knows is replaced.
    async fn keep_alive(&self) {
        let path = self
            .user
            .lock()
            .await
            .as_ref()
            .and_then(|f| f.listen_key.as_ref().map(|(path, _)| *path));
        let Some(path) = path else {
            return;
        };
        if self.listen_key(path, Method::Put).await.is_err() {
            tracing::warn!("listen key keepalive refused; subscribing a new key");
            if let Err(error) = self.restart_user().await {
                tracing::warn!(%error, "user stream restart failed");
            }
        }
    }

    /// Reads the account by REST and applies it: open orders, every unfinished order the cache
    /// holds, fills missing from orders that filled more than their known fills, funds and
    /// positions. Failures are logged; the next round tries again.
    ///
    /// One round at a time: a round asked for while one runs is folded into one more round
    /// after it (rounds piling up would spend the rate limits orders need).
    pub(super) async fn reconcile(&self) {
        self.reconciling.run(|| self.reconcile_round()).await;
    }

    /// A reconciliation in the background, supervised (folded with a round under way).
    fn reconcile_soon(self: &Arc<Self>) {
        let this = self.clone();
        drop(
            self.supervisor
                .observe("reconcile", async move { this.reconcile().await }),
        );
    }

    async fn reconcile_round(&self) {
        let evicted = self
            .orders_mut()
            .evict_ended(std::time::Instant::now(), self.config.keep_ended_orders);
        if evicted > 0 {
            tracing::debug!(evicted, "ended orders forgotten");
        }
        if let Err(error) = self.reconcile_orders().await
            && !matches!(error, Error::Closed)
        {
            // A connector closing mid-round is not a failure worth a warning.
            tracing::warn!(%error, "order reconciliation incomplete");
        }
        self.funds_round().await;
    }

    /// Reads funds and positions by REST and publishes what changed.
    async fn funds_round(&self) {
        match self.balances().await {
            Ok(balances) => self.publish_balances(balances),
            Err(Error::Closed) => {}
            Err(error) => tracing::warn!(%error, "balance reconciliation failed"),
        }
        self.refresh_positions().await;
    }

    async fn refresh_positions(&self) {
        if !self.market.is_derivative() {
            return;
        }
        match self.positions(None).await {
            Ok(positions) => self.publish_positions(positions, true),
            Err(Error::Closed) => {}
            Err(error) => tracing::warn!(%error, "position reconciliation failed"),
        }
    }

    async fn reconcile_orders(&self) -> Result<()> {
        // The listing of untriggered orders (where the venue lists them apart) costs a request
        // of its own: asked only while some are held.
        let waiting = self.orders_mut().unfinished().any(|o| {
            o.trigger.is_some()
                && !matches!(
                    o.status,
                    crate::model::OrderStatus::New | crate::model::OrderStatus::PartiallyFilled
                )
        });
        let open = self.list_open(None, waiting).await?;
        let open_ids: HashSet<Id> = open.iter().map(|o| o.client_order_id.clone()).collect();
        let unfinished: Vec<(Symbol, Id)> = self
            .orders_mut()
            .unfinished()
            .filter(|o| !open_ids.contains(&o.client_order_id) && !o.symbol.as_str().is_empty())
            .map(|o| (o.symbol, o.client_order_id.clone()))
            .collect();
        // One order's failure does not hold up the others; the next round retries it.
        let mut failed = None;
        for (symbol, client_id) in unfinished {
            let which = OrderRef::ClientOrderId(client_id);
            match self.query_venue(symbol, &which).await {
                Ok(_) | Err(Error::OrderNotFound(_)) => {}
                Err(error) => failed = Some(error),
            }
        }
        let short: Vec<Order> = self.orders_mut().short_of_fills();
        for order in short {
            let request = self.trading.trades(order.symbol, &order.order_id);
            let fills = match self.request(&request).await {
                Ok(answer) => self.trading.trades_of(&answer, &order),
                Err(error) => Err(error),
            };
            match fills {
                Ok(fills) => {
                    for fill in &fills {
                        self.absorb(None, Some(fill));
                    }
                }
                Err(error) => failed = Some(error),
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// One user-stream message.
    async fn on_user_message(self: &Arc<Self>, text: &str) {
        let events = match self.user_events(text) {
            Ok(events) => events,
            Err(error) => {
                // It may have been an order's change or a fill: counted, and the account read
                // by REST (folded with any round under way) so nothing it said is lost.
                self.skipped_user_messages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "unreadable user-stream message skipped; reconciling");
                self.reconcile_soon();
                return;
            }
        };
        for event in events {
            match event {
                UserEvent::Order(order, fill) => {
                    self.absorb(Some(&order), fill.as_ref());
                }
                UserEvent::Fill(fill) => {
                    self.absorb(None, Some(&fill));
                }
                UserEvent::Balances(balances) => self.publish_balances(balances),
                UserEvent::Positions(positions) => self.publish_positions(positions, false),
                UserEvent::AccountChanged => {
                    // Read in the background, folded: a burst of fills costs one or two reads,
                    // and the stream is never held up by REST.
                    let this = self.clone();
                    drop(self.supervisor.observe("funds", async move {
                        this.refreshing.run(|| this.funds_round()).await
                    }));
                }
                UserEvent::Refused(reason) => {
                    tracing::error!(%reason, "the venue refused the user stream");
                }
                UserEvent::Limited {
                    banned,
                    until_ms,
                    reason,
                } => {
                    // The venue's limit is the one REST spends too: the whole connector waits
                    // (and says `banned` / `rate_limited`), then the stream subscribes again;
                    // its request waits in the stream's gate until then.
                    let limiter = &self.http.limiter;
                    let now = self.http.clock.now_server_ms();
                    if banned {
                        let unsaid = now.saturating_add(UNSAID_BAN.as_millis() as i64);
                        limiter.ban_until(until_ms.unwrap_or(unsaid));
                    } else {
                        limiter.back_off_until(
                            until_ms.unwrap_or(now.saturating_add(BACK_OFF_UNSAID_MS)),
                        );
                    }
                    tracing::warn!(%reason, "user stream request refused for the rate limit");
                    if let Err(error) = self.restart_user().await {
                        tracing::warn!(%error, "user stream restart failed");
                    }
                }
                UserEvent::Ended(reason) => {
                    tracing::info!(%reason, "user stream ended by the venue; subscribing again");
                    if let Err(error) = self.restart_user().await {
                        tracing::warn!(%error, "user stream restart failed");
                    }
                    self.reconcile_soon();
                }
            }
        }
    }

    fn user_events(&self, text: &str) -> Result<Vec<UserEvent>> {
        self.adapter.user_events(self.market, text)
    }
}

/// Reads the user stream, reconciles after each (re)connect and every `reconcile_every`, and
/// keeps a listen key alive. Ends with the connector.
async fn run_user(connector: Weak<Connector>, feed: &PoolFeed, ctx: &ChildContext) {
    let cancel = &ctx.cancel;
    let mut inbound = feed.inbound.lock().await;
    let mut socket_events = feed.events();
    let Some((mut reconcile_tick, mut keepalive_tick)) = connector.upgrade().map(|c| {
        let every = |d| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        };
        (
            every(c.config.reconcile_every),
            every(c.config.listen_key_keepalive),
        )
    }) else {
        return;
    };
    loop {
        ctx.checkpoint();
        tokio::select! {
            _ = cancel.cancelled() => return,
            message = inbound.recv() => {
                let (Some(message), Some(c)) = (message, connector.upgrade()) else { return };
                c.on_user_message(&message.text).await;
            }
            event = socket_events.recv() => {
                match event {
                    Ok(WsEvent::Connected { .. }) => {
                        // Once the subscription has had a moment to take effect, whatever
                        // happened while there was none is read by REST.
                        if let Some(c) = connector.upgrade() {
                            let supervisor = c.supervisor.clone();
                            drop(supervisor.observe("reconcile", async move {
                                tokio::time::sleep(SETTLE_AFTER_CONNECT).await;
                                c.reconcile().await;
                            }));
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
            _ = reconcile_tick.tick() => {
                let Some(c) = connector.upgrade() else { return };
                c.reconcile_soon();
            }
            _ = keepalive_tick.tick() => {
                let Some(c) = connector.upgrade() else { return };
                c.keep_alive().await;
            }
        }
    }
}
