//! Supervised WebSocket connections (CONN-03..05, RESL-06).
//!
//! A [`WsPool`] spreads a set of topics over connections ("shards") to one URL, within the
//! venue's per-connection limit. Each shard is a task that owns its socket and, for as long as
//! the pool lives: connects (each attempt takes a token from the venue's connection-attempt
//! limiter, so a reconnect storm cannot trip the venue's limit), subscribes to its topics with
//! control messages paced to the venue's inbound limit, answers pings, sends its own heartbeat,
//! treats a connection that stays silent for `stale_after` as dead (the failure peer libraries
//! are most reported for: a socket that is open but delivers nothing), reconnects with capped
//! exponential backoff and full jitter, restores every subscription, and replaces the
//! connection before the venue's maximum lifetime: the new one is subscribed and delivering
//! before the old one closes (make before break), so nothing is lost; the overlap may deliver a
//! message twice, which sequence-checked consumers drop.
//!
//! Text frames go to one channel as [`Inbound`]; the venue's market layer parses them.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use crate::model::Venue;
use crate::resilience::{Backoff, LimitId, LimitSpec, Limiter, Priority, RequestIds};
use crate::supervise::{ChildContext, Supervisor};
use crate::{Error, Result};

/// A venue's stream conventions; each venue folder implements it.
pub trait WsDialect: Send + Sync + 'static {
    fn venue(&self) -> Venue;
    /// Control messages that (un)subscribe `topics`, split as the venue requires.
    fn subscribe(&self, topics: &[String], on: bool, ids: &RequestIds) -> Vec<String>;
    /// A client heartbeat message and how often to send it (Bybit's JSON ping); `None`: a
    /// WebSocket ping frame is used.
    fn heartbeat(&self, ids: &RequestIds) -> Option<String>;
    /// Whether a text frame is a control reply (ack, pong) rather than data.
    fn is_control(&self, text: &str) -> bool;
    /// Messages that authenticate a fresh connection before it subscribes (private streams).
    fn login(&self, _ids: &RequestIds) -> Vec<String> {
        Vec::new()
    }
}

/// A venue's connection limits and timers; each venue's adapter gives its own
/// (`venue/<name>/market.rs`).
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// Topics per connection.
    pub per_connection: usize,
    /// Control messages per second we send on one connection (below the venue's inbound limit).
    pub sends_per_second: u32,
    pub heartbeat_every: Duration,
    /// A connection that delivers nothing (no data, ping or pong) this long is dead.
    pub stale_after: Duration,
    /// A connection with subscriptions that delivers no data this long is dead too, even if
    /// its pings still flow (`None`: never, for topics that may be quiet for long).
    pub data_stale_after: Option<Duration>,
    /// The venue closes connections after this long; we replace them `rotate_margin` before.
    pub max_lifetime: Duration,
    pub rotate_margin: Duration,
    pub connect_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl Default for WsConfig {
    /// What both venues share: a heartbeat every 20 s, dead after 30 s silent (a heartbeat
    /// unanswered for 10 s; 120 s without data), connections of 24 h replaced 10 min early,
    /// reconnects from 200 ms to 30 s. A venue sets its own topic and send limits.
    fn default() -> Self {
        WsConfig {
            per_connection: 100,
            sends_per_second: 5,
            heartbeat_every: Duration::from_secs(20),
            stale_after: Duration::from_secs(30),
            data_stale_after: Some(Duration::from_secs(120)),
            max_lifetime: Duration::from_secs(24 * 3600),
            rotate_margin: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(30),
        }
    }
}

/// Requests on a connection that the venue counts against a limit of its REST side
/// (Binance's WebSocket API: connecting and each request weigh against the IP's request weight,
/// and a ban covers both). Each waits for room in the connector's limiter, and waits out a ban,
/// instead of being refused and deepening the ban.
#[derive(Clone)]
pub struct RequestGate {
    pub limiter: Arc<Limiter>,
    /// What one request (or connecting) costs, read at each use: the venue's limits can be
    /// replaced while we run.
    pub costs: Arc<dyn Fn() -> Vec<(LimitId, u64)> + Send + Sync>,
}

impl std::fmt::Debug for RequestGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestGate").finish_non_exhaustive()
    }
}

impl RequestGate {
    /// Each request counted as the REST `request` on `http`'s limits.
    pub fn weighed_as(http: &Arc<crate::net::Http>, request: crate::net::Request) -> RequestGate {
        let costs_of = http.clone();
        RequestGate {
            limiter: http.limiter.clone(),
            costs: Arc::new(move || costs_of.costs(&request)),
        }
    }

    /// Waits for room (and out any ban), then spends one request.
    async fn pass(&self, cancel: &CancellationToken) -> std::result::Result<(), String> {
        let costs = (self.costs)();
        tokio::select! {
            _ = cancel.cancelled() => Err("closed".into()),
            r = self.limiter.acquire_after_ban(&costs, Priority::Data) => r.map_err(|e| e.to_string()),
        }
    }
}

/// A text frame and when it arrived. The text is the frame's own buffer, shared, not copied.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub shard: usize,
    /// Which of the shard's connections it came on (1, 2, ... as they are opened).
    pub connection: u32,
    pub text: Utf8Bytes,
    pub received: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    Connected {
        shard: usize,
    },
    Disconnected {
        shard: usize,
        reason: String,
    },
    Reconnecting {
        shard: usize,
        attempt: u32,
        delay: Duration,
    },
    Resubscribed {
        shard: usize,
        topics: usize,
    },
    Rotated {
        shard: usize,
    },
}

/// One shard as `health()` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardHealth {
    pub shard: usize,
    pub url: String,
    pub connected: bool,
    pub topics: Vec<String>,
    /// Since the last frame of any kind, if connected.
    pub last_message_age: Option<Duration>,
    pub reconnects: u32,
}

#[derive(Debug, Default)]
struct ShardState {
    connected: bool,
    last_message: Option<Instant>,
    reconnects: u32,
}

struct Shard {
    topics: watch::Sender<BTreeSet<String>>,
    /// Topics to unsubscribe and subscribe again on the live connection.
    refresh: Arc<Refreshes>,
    state: Arc<Mutex<ShardState>>,
}

/// Topics waiting to be subscribed afresh, kept outside the shard's runner so a run after a
/// restart finds what was asked before.
#[derive(Debug, Default)]
struct Refreshes {
    pending: Mutex<Vec<String>>,
    ready: tokio::sync::Notify,
}

impl Refreshes {
    fn push(&self, topics: Vec<String>) {
        lock(&self.pending).extend(topics);
        self.ready.notify_one();
    }

    /// Everything pending, now.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.pending))
    }

    /// Waits for topics, then takes all pending (cancel-safe: nothing is lost if dropped).
    async fn next(&self) -> Vec<String> {
        loop {
            let topics = self.take();
            if !topics.is_empty() {
                return topics;
            }
            self.ready.notified().await;
        }
    }
}

/// The shards of one URL.
pub struct WsPool {
    url: String,
    dialect: Arc<dyn WsDialect>,
    config: WsConfig,
    connects: (Arc<Limiter>, LimitId),
    requests: Option<RequestGate>,
    inbound: mpsc::Sender<Inbound>,
    events: broadcast::Sender<WsEvent>,
    shards: Mutex<Vec<Shard>>,
    ids: Arc<RequestIds>,
    cancel: CancellationToken,
    /// Runs each shard's connection as a child: a panic restarts it, and says so.
    supervisor: Arc<Supervisor>,
}

impl std::fmt::Debug for WsPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsPool")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl WsPool {
    /// `connects` is the venue's connection-attempt limit (shared by every pool of the venue).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        url: &str,
        dialect: Arc<dyn WsDialect>,
        config: WsConfig,
        connects: (Arc<Limiter>, LimitId),
        inbound: mpsc::Sender<Inbound>,
        events: broadcast::Sender<WsEvent>,
        cancel: CancellationToken,
        supervisor: Arc<Supervisor>,
    ) -> Result<WsPool> {
        if !super::ws_url_allowed(url) {
            return Err(Error::invalid_argument(
                "endpoints.ws_public",
                format!("'{url}': wss is required (plain ws only on loopback)"),
            ));
        }
        crate::net::http::install_crypto_provider();
        Ok(WsPool {
            url: url.to_owned(),
            dialect,
            config,
            connects,
            requests: None,
            inbound,
            events,
            shards: Mutex::new(Vec::new()),
            ids: Arc::new(RequestIds::new()),
            cancel,
            supervisor,
        })
    }

    /// Counts this pool's connecting and requests against `gate` (see [`RequestGate`]).
    #[must_use]
    pub fn with_request_gate(mut self, gate: Option<RequestGate>) -> WsPool {
        self.requests = gate;
        self
    }

    /// Adds topics, filling shards that have room before opening new ones.
    pub fn subscribe(&self, topics: &[String]) {
        let mut shards = lock(&self.shards);
        let mut pending: Vec<&String> = topics
            .iter()
            .filter(|t| !shards.iter().any(|s| s.topics.borrow().contains(*t)))
            .collect();
        pending.dedup();
        for shard in shards.iter() {
            let room = self
                .config
                .per_connection
                .saturating_sub(shard.topics.borrow().len());
            let take: Vec<String> = pending.drain(..room.min(pending.len())).cloned().collect();
            if !take.is_empty() {
                shard.topics.send_modify(|t| t.extend(take));
            }
        }
        for chunk in pending.chunks(self.config.per_connection.max(1)) {
            let topics: BTreeSet<String> = chunk.iter().map(|t| (*t).clone()).collect();
            let index = shards.len();
            shards.push(self.spawn_shard(index, topics));
        }
    }

    /// Removes topics wherever they are; an emptied shard keeps its connection for reuse.
    pub fn unsubscribe(&self, topics: &[String]) {
        for shard in lock(&self.shards).iter() {
            if topics.iter().any(|t| shard.topics.borrow().contains(t)) {
                shard.topics.send_modify(|set| {
                    for t in topics {
                        set.remove(t);
                    }
                });
            }
        }
    }

    /// Has the venue send `topics` afresh (unsubscribe, then subscribe): a Bybit book that lost
    /// its sequence gets a new snapshot this way without a new connection.
    pub fn refresh(&self, topics: &[String]) {
        for shard in lock(&self.shards).iter() {
            let mine: Vec<String> = {
                let held = shard.topics.borrow();
                topics
                    .iter()
                    .filter(|t| held.contains(*t))
                    .cloned()
                    .collect()
            };
            if !mine.is_empty() {
                shard.refresh.push(mine);
            }
        }
    }

    pub fn health(&self) -> Vec<ShardHealth> {
        lock(&self.shards)
            .iter()
            .enumerate()
            .map(|(k, shard)| {
                let state = lock(&shard.state);
                ShardHealth {
                    shard: k,
                    url: self.url.clone(),
                    connected: state.connected,
                    topics: shard.topics.borrow().iter().cloned().collect(),
                    last_message_age: state
                        .last_message
                        .filter(|_| state.connected)
                        .map(|t| t.elapsed()),
                    reconnects: state.reconnects,
                }
            })
            .collect()
    }

    fn spawn_shard(&self, index: usize, topics: BTreeSet<String>) -> Shard {
        let (topics, wanted) = watch::channel(topics);
        let refresh = Arc::new(Refreshes::default());
        let state = Arc::new(Mutex::new(ShardState::default()));
        let runner = ShardRunner {
            index,
            url: self.url.clone(),
            dialect: self.dialect.clone(),
            config: self.config.clone(),
            connects: self.connects.clone(),
            requests: self.requests.clone(),
            inbound: self.inbound.clone(),
            events: self.events.clone(),
            ids: self.ids.clone(),
            state: state.clone(),
            wanted,
            sent: BTreeSet::new(),
            refreshes: refresh.clone(),
            ctx: None,
            opened: Arc::new(AtomicU32::new(0)),
        };
        let cancel = self.cancel.child_token();
        self.supervisor
            .spawn(format!("socket {} #{index}", self.url), move |ctx| {
                // The pool's token, a child of the connector's: the pool going ends the run.
                let (mut runner, cancel) = (runner.clone(), cancel.clone());
                if ctx.run > 0 {
                    // The last run's connection went with it: its readers must know.
                    runner.emit(WsEvent::Disconnected {
                        shard: index,
                        reason: "its connection task was restarted".into(),
                    });
                }
                runner.ctx = Some(ctx);
                async move {
                    lock(&runner.state).connected = false;
                    runner.run(cancel).await;
                    Ok(())
                }
            });
        Shard {
            topics,
            refresh,
            state,
        }
    }
}

impl Drop for WsPool {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Frames read in one go before the connection's other duties are looked at again.
const READ_BATCH: usize = 64;

/// Why a connection ended.
enum End {
    Cancelled,
    Rotate(Box<Socket>),
    Failed(String),
}

#[derive(Clone)]
struct ShardRunner {
    index: usize,
    url: String,
    dialect: Arc<dyn WsDialect>,
    config: WsConfig,
    connects: (Arc<Limiter>, LimitId),
    requests: Option<RequestGate>,
    inbound: mpsc::Sender<Inbound>,
    events: broadcast::Sender<WsEvent>,
    ids: Arc<RequestIds>,
    state: Arc<Mutex<ShardState>>,
    wanted: watch::Receiver<BTreeSet<String>>,
    /// What the last `open` subscribed: where the next `serve` starts from, so topics wanted
    /// while that connection was opening are subscribed once it serves (not taken as sent).
    sent: BTreeSet<String>,
    refreshes: Arc<Refreshes>,
    /// The supervisor's view of this run (its checkpoints).
    ctx: Option<ChildContext>,
    /// Connections opened so far (across restarts of the task): the newest one's number.
    opened: Arc<AtomicU32>,
}

impl ShardRunner {
    fn emit(&self, event: WsEvent) {
        tracing::debug!(url = %self.url, ?event, "websocket");
        let _ = self.events.send(event);
    }

    async fn run(mut self, cancel: CancellationToken) {
        let mut backoff = Backoff::new(self.config.backoff_base, self.config.backoff_cap);
        let mut attempt = 0u32;
        let mut next: Option<Box<Socket>> = None;
        loop {
            let opened = match next.take() {
                Some(socket) => Ok(socket),
                None => self.open(&cancel).await,
            };
            let reason = match opened {
                Err(_) if cancel.is_cancelled() => return,
                Err(reason) => reason,
                Ok(socket) => {
                    lock(&self.state).connected = true;
                    match self.serve(*socket, &cancel).await {
                        End::Cancelled => return,
                        End::Rotate(fresh) => {
                            attempt = 0;
                            next = Some(fresh);
                            self.emit(WsEvent::Rotated { shard: self.index });
                            continue;
                        }
                        End::Failed(reason) => {
                            let mut state = lock(&self.state);
                            state.connected = false;
                            state.reconnects += 1;
                            reason
                        }
                    }
                }
            };
            // Lost, or never connected: wait a jittered, growing delay, then try again.
            let delay = backoff.delay(attempt);
            attempt += 1;
            self.emit(WsEvent::Disconnected {
                shard: self.index,
                reason,
            });
            self.emit(WsEvent::Reconnecting {
                shard: self.index,
                attempt,
                delay,
            });
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = sleep(delay) => {}
            }
        }
    }

    /// Connects and subscribes to every wanted topic.
    async fn open(
        &mut self,
        cancel: &CancellationToken,
    ) -> std::result::Result<Box<Socket>, String> {
        if let Some(gate) = &self.requests {
            gate.pass(cancel).await?;
        }
        let (limiter, id) = &self.connects;
        let cost = [(*id, 1)];
        tokio::select! {
            _ = cancel.cancelled() => return Err("closed".into()),
            acquired = limiter.acquire(&cost, Priority::Data) => acquired.map_err(|e| e.to_string())?,
        }
        // No Nagle: a small frame (a pong, a subscription, a WS-API request) goes at once
        // instead of waiting for the venue's delayed ACK.
        let connect = tokio_tungstenite::connect_async_with_config(self.url.as_str(), None, true);
        let (mut socket, _) = tokio::select! {
            _ = cancel.cancelled() => return Err("closed".into()),
            r = tokio::time::timeout(self.config.connect_timeout, connect) => match r {
                Err(_) => return Err(format!("connect timed out after {:?}", self.config.connect_timeout)),
                Ok(Err(e)) => return Err(format!("connect failed: {e}")),
                Ok(Ok(ok)) => ok,
            },
        };
        self.opened.fetch_add(1, Ordering::Relaxed);
        self.emit(WsEvent::Connected { shard: self.index });
        let login = self.dialect.login(&self.ids);
        self.send_paced(&mut socket, login, cancel).await?;
        self.sent = self.wanted.borrow_and_update().clone();
        let topics: Vec<String> = self.sent.iter().cloned().collect();
        // A fresh subscription brings everything a pending refresh would.
        self.refreshes.take();
        if !topics.is_empty() {
            self.send_paced(
                &mut socket,
                self.dialect.subscribe(&topics, true, &self.ids),
                cancel,
            )
            .await?;
            self.emit(WsEvent::Resubscribed {
                shard: self.index,
                topics: topics.len(),
            });
        }
        Ok(Box::new(socket))
    }

    async fn send_paced(
        &self,
        socket: &mut Socket,
        messages: Vec<String>,
        cancel: &CancellationToken,
    ) -> std::result::Result<(), String> {
        let gap = Duration::from_secs(1) / self.config.sends_per_second.max(1);
        for (k, message) in messages.into_iter().enumerate() {
            if k > 0 {
                sleep(gap).await;
            }
            if let Some(gate) = &self.requests {
                gate.pass(cancel).await?;
            }
            socket
                .send(Message::text(message))
                .await
                .map_err(|e| format!("send failed: {e}"))?;
        }
        Ok(())
    }

    /// Passes a data frame on; `false` once nobody listens.
    async fn deliver(&self, text: Utf8Bytes, received: Instant, connection: u32) -> bool {
        let inbound = Inbound {
            shard: self.index,
            connection,
            text,
            received,
        };
        self.inbound.send(inbound).await.is_ok()
    }

    /// Keeps delivering from the old connection until the new one delivers data (or for
    /// `stale_after` if its topics are quiet), so nothing published meanwhile is missed.
    async fn hand_over(&self, mut old: Socket, mut fresh: Box<Socket>) -> End {
        let deadline = Instant::now() + self.config.stale_after;
        let fresh_no = self.opened.load(Ordering::Relaxed);
        let old_no = fresh_no.saturating_sub(1);
        let mut old_open = true;
        loop {
            tokio::select! {
                _ = sleep_until(deadline) => break,
                frame = old.next(), if old_open => match frame {
                    Some(Ok(Message::Text(text))) if !self.dialect.is_control(text.as_str()) => {
                        if !self.deliver(text, Instant::now(), old_no).await {
                            return End::Cancelled;
                        }
                    }
                    // Passed on empty to be counted as skipped, as outside a hand-over.
                    Some(Ok(Message::Binary(_))) => {
                        if !self.deliver(Utf8Bytes::default(), Instant::now(), old_no).await {
                            return End::Cancelled;
                        }
                    }
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => old_open = false,
                },
                frame = fresh.next() => match frame {
                    Some(Ok(Message::Text(text))) if !self.dialect.is_control(text.as_str()) => {
                        if !self.deliver(text, Instant::now(), fresh_no).await {
                            return End::Cancelled;
                        }
                        break;
                    }
                    Some(Ok(Message::Binary(_))) => {
                        if !self.deliver(Utf8Bytes::default(), Instant::now(), fresh_no).await {
                            return End::Cancelled;
                        }
                    }
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => return End::Failed("the replacement connection closed".into()),
                },
            }
        }
        let _ = old.close(None).await;
        End::Rotate(fresh)
    }

    /// Reads until the connection fails, is cancelled, or is due for rotation.
    async fn serve(&mut self, mut socket: Socket, cancel: &CancellationToken) -> End {
        let connection = self.opened.load(Ordering::Relaxed);
        let opened = Instant::now();
        let rotate_at = opened
            + self
                .config
                .max_lifetime
                .saturating_sub(self.config.rotate_margin);
        let mut subscribed: BTreeSet<String> = std::mem::take(&mut self.sent);
        // Control messages wait here for their turn under the venue's inbound limit while the
        // connection keeps being read (a long (re)subscription must not stall the data).
        let mut outbox: VecDeque<String> = VecDeque::new();
        let gap = Duration::from_secs(1) / self.config.sends_per_second.max(1);
        let mut next_send = Instant::now() + gap;
        let mut last_frame = Instant::now();
        let mut last_data = last_frame;
        let mut next_heartbeat = Instant::now() + self.config.heartbeat_every;
        let touch =
            |state: &Arc<Mutex<ShardState>>, at: Instant| lock(state).last_message = Some(at);
        touch(&self.state, last_frame);
        loop {
            if let Some(ctx) = &self.ctx {
                ctx.checkpoint();
            }
            let mut stale_at = last_frame + self.config.stale_after;
            if let Some(quiet) = self
                .config
                .data_stale_after
                .filter(|_| !subscribed.is_empty())
            {
                stale_at = stale_at.min(last_data + quiet);
            }
            tokio::select! {
                _ = cancel.cancelled() => {
                    let _ = socket.close(None).await;
                    return End::Cancelled;
                }
                _ = sleep_until(stale_at) => {
                    let silent = stale_at.duration_since(last_data.min(last_frame));
                    let what = if last_frame > last_data { "no data" } else { "nothing" };
                    return End::Failed(format!("stale: {what} received for {silent:?}"));
                }
                _ = sleep_until(rotate_at) => {
                    // Make before break: the successor is connected and subscribed first.
                    match self.open(cancel).await {
                        Ok(fresh) => return self.hand_over(socket, fresh).await,
                        Err(reason) => return End::Failed(format!("rotation failed: {reason}")),
                    }
                }
                _ = sleep_until(next_heartbeat) => {
                    next_heartbeat = Instant::now() + self.config.heartbeat_every;
                    let beat = match self.dialect.heartbeat(&self.ids) {
                        Some(text) => Message::text(text),
                        None => Message::Ping(Vec::new().into()),
                    };
                    if let Err(e) = socket.send(beat).await {
                        return End::Failed(format!("heartbeat failed: {e}"));
                    }
                }
                changed = self.wanted.changed() => {
                    if changed.is_err() {
                        return End::Cancelled;
                    }
                    let wanted = self.wanted.borrow_and_update().clone();
                    let added: Vec<String> = wanted.difference(&subscribed).cloned().collect();
                    let removed: Vec<String> = subscribed.difference(&wanted).cloned().collect();
                    if !added.is_empty() {
                        outbox.extend(self.dialect.subscribe(&added, true, &self.ids));
                    }
                    if !removed.is_empty() {
                        outbox.extend(self.dialect.subscribe(&removed, false, &self.ids));
                    }
                    if subscribed.is_empty() {
                        last_data = Instant::now();
                    }
                    subscribed = wanted;
                }
                mut topics = self.refreshes.next() => {
                    // Whatever else is pending came in the same take (200 books that lost
                    // their sequence at once are a few messages, not 400).
                    topics.sort();
                    topics.dedup();
                    topics.retain(|t| subscribed.contains(t));
                    if !topics.is_empty() {
                        outbox.extend(self.dialect.subscribe(&topics, false, &self.ids));
                        outbox.extend(self.dialect.subscribe(&topics, true, &self.ids));
                    }
                }
                _ = sleep_until(next_send), if !outbox.is_empty() => {
                    // A counted request waits for room (or out a ban) in the queue, while the
                    // connection keeps being read.
                    let held = self.requests.as_ref().and_then(|gate| {
                        match gate.limiter.try_acquire(&(gate.costs)(), Priority::Data) {
                            Ok(Ok(())) => None,
                            Ok(Err(wait)) => Some(wait),
                            Err(error) => {
                                tracing::warn!(%error, "request not counted");
                                None
                            }
                        }
                    });
                    if let Some(wait) = held {
                        next_send = Instant::now() + wait;
                        continue;
                    }
                    if let Some(message) = outbox.pop_front()
                        && let Err(e) = socket.send(Message::text(message)).await
                    {
                        return End::Failed(format!("send failed: {e}"));
                    }
                    next_send = Instant::now() + gap;
                }
                frame = socket.next() => {
                    // Frames that are already read take their turn together: a round of this
                    // select (timers, watches) costs more than a frame, and a burst would pay
                    // it per frame. The batch is bounded so the other arms still get theirs.
                    let (mut frame, mut left) = (frame, READ_BATCH);
                    loop {
                        let received = Instant::now();
                        match frame {
                            None => return End::Failed("closed by the venue".into()),
                            Some(Err(e)) => return End::Failed(format!("read failed: {e}")),
                            Some(Ok(Message::Text(text))) => {
                                last_frame = received;
                                if !self.dialect.is_control(text.as_str()) {
                                    last_data = received;
                                    if !self.deliver(text, received, connection).await {
                                        return End::Cancelled;
                                    }
                                }
                            }
                            // No venue sends data in binary: passed on empty, which names no
                            // stream or event, so the reader counts it as skipped.
                            Some(Ok(Message::Binary(_))) => {
                                last_frame = received;
                                if !self.deliver(Utf8Bytes::default(), received, connection).await {
                                    return End::Cancelled;
                                }
                            }
                            Some(Ok(Message::Close(frame))) => {
                                let reason = frame.map_or_else(String::new, |f| f.reason.to_string());
                                return End::Failed(format!("closed by the venue {reason}").trim_end().to_owned());
                            }
                            // Pings are answered by tungstenite on the next read or write.
                            Some(Ok(_)) => last_frame = received,
                        }
                        left -= 1;
                        if left == 0 {
                            break;
                        }
                        match socket.next().now_or_never() {
                            Some(next) => frame = next,
                            None => break,
                        }
                    }
                    // Once per batch: `health()`'s last-message age, under a lock.
                    touch(&self.state, last_frame);
                }
            }
        }
    }
}

/// The connection-attempt limit of one venue deployment (a venue and the host of its
/// streams), shared by every connector of the process: venues count attempts per IP, so
/// connectors opened at once must share one budget, not each take the whole of it (350
/// connectors opened together were refused by the venue when each had its own). Kept for the
/// process's life, so connectors opened after others closed still see their attempts.
pub fn connect_limit(venue: Venue, url: &str, spec: LimitSpec) -> (Arc<Limiter>, LimitId) {
    type Registry = Mutex<HashMap<(Venue, String), (Arc<Limiter>, LimitId)>>;
    static SHARED: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_ascii_lowercase();
            Some(match u.port_or_known_default() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| url.to_owned());
    let mut shared = SHARED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    shared
        .entry((venue, host))
        .or_insert_with(|| {
            // The venue counts on its clock; a rolling window of minutes does not mind ours.
            let wall = || crate::model::now_ns() / 1_000_000;
            let limiter = Arc::new(Limiter::new(venue, Arc::new(wall), 0.0));
            let id = limiter.set_limit(spec);
            (limiter, id)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::WindowKind;

    #[tokio::test]
    async fn connectors_of_one_venue_deployment_share_one_connection_budget() {
        let spec = || LimitSpec {
            name: "WS connects 5M".into(),
            kind: WindowKind::Rolling,
            length: Duration::from_secs(300),
            limit: 3,
        };
        let a = connect_limit(Venue::Binance, "wss://stream.binance.com:9443/ws", spec());
        let b = connect_limit(
            Venue::Binance,
            "wss://STREAM.binance.com:9443/stream",
            spec(),
        );
        assert!(Arc::ptr_eq(&a.0, &b.0), "same host and port: one budget");
        let other_port = connect_limit(Venue::Binance, "wss://stream.binance.com/ws", spec());
        let futures = connect_limit(Venue::Binance, "wss://fstream.binance.com/ws", spec());
        let bybit = connect_limit(Venue::Bybit, "wss://stream.binance.com:9443/ws", spec());
        for separate in [&other_port, &futures, &bybit] {
            assert!(!Arc::ptr_eq(&a.0, &separate.0));
        }
        // What one connector spends, the other no longer has.
        let cost = [(a.1, 1)];
        for _ in 0..3 {
            a.0.acquire(&cost, Priority::Data).await.unwrap();
        }
        let other = [(b.1, 1)];
        let fourth = b.0.acquire(&other, Priority::Data);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), fourth)
                .await
                .is_err(),
            "the fourth attempt waits for the window"
        );
    }
}
