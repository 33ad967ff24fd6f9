//! A request/answer WebSocket session: order entry on a venue's WebSocket API.
//!
//! One supervised task owns the socket: it connects (taking a token from the venue's
//! connection-attempt limiter), logs in where the venue wants a login, then writes each call's
//! frame and hands every answer to its caller by request id; it answers pings, sends the
//! venue's heartbeat, treats a silent connection as dead, reconnects with capped, jittered
//! backoff, and before the venue's connection lifetime ends it stops taking calls, lets the
//! ones in flight be answered and opens a fresh connection.
//!
//! A call never goes twice. What became of it is one of three things: answered; not sent (the
//! session was down or went down before the frame was written: the caller may use another
//! path); or lost (written, then the connection failed or no answer came in time: the venue may
//! have acted on it, and the caller finds out by looking the order up).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::ws::{RequestGate, WsConfig};
use crate::model::Venue;
use crate::resilience::{Backoff, LimitId, Limiter, Priority};
use crate::supervise::Supervisor;
use crate::{Error, Result};

/// A venue's session conventions: login, request ids in answers, heartbeat.
pub trait SessionDialect: Send + Sync + 'static {
    fn venue(&self) -> Venue;
    /// The message that logs a fresh connection in, under request id `id` (`None`: the venue
    /// authenticates each request instead).
    fn login(&self, id: &str) -> Option<String>;
    /// What a frame read while logging in says of the login: `None` if it is not its answer,
    /// else logged in, or the venue's words.
    fn logged_in(&self, answer: &str) -> Option<std::result::Result<(), String>>;
    /// The request id a frame answers (`None`: not an answer — a pong, an event).
    fn answer_id<'a>(&self, text: &'a str) -> Option<Cow<'a, str>>;
    /// A client heartbeat message (`None`: a WebSocket ping frame).
    fn heartbeat(&self, id: &str) -> Option<String>;
    /// Whether a frame announces that the venue will close this connection soon (Binance's
    /// `serverShutdown`): the session then moves to a fresh one, as before its lifetime ends.
    fn retiring(&self, text: &str) -> bool {
        let _ = text;
        false
    }
}

/// What became of a call that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unanswered {
    /// Never written: the venue cannot have acted on it.
    NotSent(String),
    /// Written, then the connection failed before its answer: the venue may have acted on it.
    Lost(String),
    /// Written, and no answer came in time (the connection still up): the same.
    TimedOut(Duration),
}

impl Unanswered {
    /// As the connector's errors: a lost call is a lost connection or a timeout (the outcome
    /// unknown either way), one not sent is `NotConnected`: refused before it left.
    pub fn into_error(self, what: &str) -> Error {
        match self {
            Unanswered::Lost(reason) => {
                Error::ConnectionLost(format!("{what}: answer lost ({reason})"))
            }
            Unanswered::TimedOut(after) => Error::Timeout {
                what: what.to_owned(),
                after,
            },
            Unanswered::NotSent(reason) => {
                Error::NotConnected(format!("{what}: nothing was sent ({reason})"))
            }
        }
    }
}

struct Call {
    id: String,
    text: String,
    answer: oneshot::Sender<std::result::Result<String, Unanswered>>,
}

/// The session as `health()` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionHealth {
    pub url: String,
    /// Connected, logged in and taking calls.
    pub up: bool,
    pub reconnects: u32,
    /// Since the last frame of any kind, if up.
    pub last_message_age: Option<Duration>,
    /// Calls written, answered, and lost (written, connection gone before the answer).
    pub sent: u64,
    pub answered: u64,
    pub lost: u64,
    /// The venue's words if it refused the last login.
    pub refused: Option<String>,
}

#[derive(Debug, Default)]
struct Counters {
    reconnects: u32,
    last_message: Option<Instant>,
    sent: u64,
    answered: u64,
    lost: u64,
    refused: Option<String>,
}

/// One order-entry session to one URL.
pub struct WsSession {
    url: String,
    calls: mpsc::Sender<Call>,
    up: watch::Receiver<bool>,
    ids: AtomicU64,
    counters: Arc<Mutex<Counters>>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for WsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSession")
            .field("url", &self.url)
            .field("up", &*self.up.borrow())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Calls waiting for the task to take them: a burst larger than this waits in `call`.
const QUEUE: usize = 1024;
/// Calls written together before one flush.
const WRITE_BATCH: usize = 64;

impl WsSession {
    /// Starts the session's task under `supervisor` (it runs until `cancel`). `connects` is
    /// the venue's connection-attempt limit; `gate`, where the venue counts connecting against
    /// its REST side's limits.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        url: &str,
        field: &str,
        dialect: Arc<dyn SessionDialect>,
        config: WsConfig,
        connects: (Arc<Limiter>, LimitId),
        gate: Option<RequestGate>,
        cancel: CancellationToken,
        supervisor: &Supervisor,
    ) -> Result<WsSession> {
        if !super::ws_url_allowed(url) {
            return Err(Error::invalid_argument(
                field,
                format!("'{url}': wss is required (plain ws only on loopback)"),
            ));
        }
        crate::net::http::install_crypto_provider();
        let (calls, queue) = mpsc::channel(QUEUE);
        let (up_tx, up) = watch::channel(false);
        let counters = Arc::new(Mutex::new(Counters::default()));
        let queue = Arc::new(tokio::sync::Mutex::new(queue));
        let runner = Runner {
            url: url.to_owned(),
            dialect,
            config,
            connects,
            gate,
            up: Arc::new(up_tx),
            counters: counters.clone(),
            ids: Arc::new(AtomicU64::new(0)),
        };
        let task_cancel = cancel.child_token();
        supervisor.spawn(format!("order entry {url}"), move |ctx| {
            let (runner, queue, cancel) = (runner.clone(), queue.clone(), task_cancel.clone());
            async move {
                runner.up.send_replace(false);
                // One runner at a time holds the queue (a restarted run waits for the last).
                let mut queue = queue.lock().await;
                runner.run(&mut queue, &cancel, &ctx).await;
                runner.up.send_replace(false);
                Ok(())
            }
        });
        Ok(WsSession {
            url: url.to_owned(),
            calls,
            up,
            ids: AtomicU64::new(u64::from(fastrand::u32(..))),
            counters,
            cancel,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connected, logged in and taking calls.
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Waits up to `within` for the session to be up; whether it is.
    pub async fn wait_up(&self, within: Duration) -> bool {
        let mut up = self.up.clone();
        tokio::select! {
            r = tokio::time::timeout(within, up.wait_for(|u| *u)) => matches!(r, Ok(Ok(_))),
            _ = self.cancel.cancelled() => false,
        }
    }

    /// A request id no other call of this session has had.
    pub fn next_id(&self) -> String {
        format!("tw{}", self.ids.fetch_add(1, Ordering::Relaxed))
    }

    /// Sends `text` (the request under `id`) and waits up to `timeout` for its answer. A
    /// call that is not answered in time counts as lost: it was written.
    pub async fn call(
        &self,
        id: String,
        text: String,
        timeout: Duration,
    ) -> std::result::Result<String, Unanswered> {
        if !self.is_up() {
            return Err(Unanswered::NotSent("the session is not connected".into()));
        }
        let (answer, waiting) = oneshot::channel();
        let call = Call { id, text, answer };
        if self.calls.send(call).await.is_err() {
            return Err(Unanswered::NotSent("the session is closed".into()));
        }
        match tokio::time::timeout(timeout, waiting).await {
            Ok(Ok(outcome)) => outcome,
            // The task dropped it without a word (a panic mid-call): it may have been written.
            Ok(Err(_)) => Err(Unanswered::Lost("the session's task ended".into())),
            Err(_) => {
                lock(&self.counters).lost += 1;
                Err(Unanswered::TimedOut(timeout))
            }
        }
    }

    pub fn health(&self) -> SessionHealth {
        let c = lock(&self.counters);
        let up = self.is_up();
        SessionHealth {
            url: self.url.clone(),
            up,
            reconnects: c.reconnects,
            last_message_age: c.last_message.filter(|_| up).map(|t| t.elapsed()),
            sent: c.sent,
            answered: c.answered,
            lost: c.lost,
            refused: c.refused.clone(),
        }
    }
}

impl Drop for WsSession {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Runs `work` while the session is not up, answering the calls that queue meanwhile "not
/// sent" at once (one that raced the session going down must not wait out a backoff);
/// `None` if cancelled first.
async fn refusing<T>(
    queue: &mut mpsc::Receiver<Call>,
    cancel: &CancellationToken,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return None,
            out = &mut work => return Some(out),
            Some(call) = queue.recv() => {
                let _ = call.answer.send(Err(Unanswered::NotSent("the session is not up".into())));
            }
        }
    }
}

type Pending = HashMap<String, oneshot::Sender<std::result::Result<String, Unanswered>>>;

#[derive(Clone)]
struct Runner {
    url: String,
    dialect: Arc<dyn SessionDialect>,
    config: WsConfig,
    connects: (Arc<Limiter>, LimitId),
    gate: Option<RequestGate>,
    up: Arc<watch::Sender<bool>>,
    counters: Arc<Mutex<Counters>>,
    ids: Arc<AtomicU64>,
}

/// Why a connection ended.
enum End {
    Cancelled,
    /// Due for replacement: open the next one at once.
    Rotate,
    Failed(String),
}

impl Runner {
    fn id(&self) -> String {
        format!("twc{}", self.ids.fetch_add(1, Ordering::Relaxed))
    }

    async fn run(
        &self,
        queue: &mut mpsc::Receiver<Call>,
        cancel: &CancellationToken,
        ctx: &crate::supervise::ChildContext,
    ) {
        let mut backoff = Backoff::new(self.config.backoff_base, self.config.backoff_cap);
        let mut attempt = 0u32;
        loop {
            let end = match self.open(queue, cancel).await {
                Ok(socket) => {
                    attempt = 0;
                    lock(&self.counters).refused = None;
                    self.up.send_replace(true);
                    let end = self.serve(socket, queue, cancel, ctx).await;
                    self.up.send_replace(false);
                    end
                }
                Err(end) => end,
            };
            // Calls that queued while it went down were never written.
            while let Ok(call) = queue.try_recv() {
                let _ = call
                    .answer
                    .send(Err(Unanswered::NotSent("the session went down".into())));
            }
            let reason = match end {
                End::Cancelled => return,
                End::Rotate => continue,
                End::Failed(reason) => reason,
            };
            let delay = backoff.delay(attempt);
            attempt = attempt.saturating_add(1);
            lock(&self.counters).reconnects += 1;
            tracing::info!(url = %self.url, %reason, ?delay, "order-entry session lost: reconnecting");
            if refusing(queue, cancel, sleep(delay)).await.is_none() {
                return;
            }
        }
    }

    /// Connects and logs in. Calls that arrive meanwhile are answered "not sent".
    async fn open(
        &self,
        queue: &mut mpsc::Receiver<Call>,
        cancel: &CancellationToken,
    ) -> std::result::Result<Socket, End> {
        let failed = |reason: String| {
            if cancel.is_cancelled() {
                End::Cancelled
            } else {
                End::Failed(reason)
            }
        };
        if let Some(gate) = &self.gate {
            let costs = (gate.costs)();
            let wait = gate.limiter.acquire_after_ban(&costs, Priority::Order);
            refusing(queue, cancel, wait)
                .await
                .ok_or(End::Cancelled)?
                .map_err(|e| End::Failed(e.to_string()))?;
        }
        let (limiter, id) = &self.connects;
        let cost = [(*id, 1)];
        refusing(queue, cancel, limiter.acquire(&cost, Priority::Order))
            .await
            .ok_or(End::Cancelled)?
            .map_err(|e| End::Failed(e.to_string()))?;
        let connect = tokio_tungstenite::connect_async_with_config(self.url.as_str(), None, true);
        let connect = tokio::time::timeout(self.config.connect_timeout, connect);
        let mut socket = match refusing(queue, cancel, connect).await {
            None => return Err(End::Cancelled),
            Some(Err(_)) => {
                return Err(failed(format!(
                    "connect timed out after {:?}",
                    self.config.connect_timeout
                )));
            }
            Some(Ok(Err(e))) => return Err(failed(format!("connect failed: {e}"))),
            Some(Ok(Ok((socket, _)))) => socket,
        };
        lock(&self.counters).last_message = Some(Instant::now());
        let id = self.id();
        let Some(login) = self.dialect.login(&id) else {
            return Ok(socket);
        };
        socket
            .send(Message::text(login))
            .await
            .map_err(|e| failed(format!("login send failed: {e}")))?;
        let deadline = Instant::now() + self.config.connect_timeout;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Err(End::Cancelled),
                _ = sleep_until(deadline) => return Err(failed("no answer to the login".into())),
                Some(call) = queue.recv() => {
                    let _ = call.answer.send(Err(Unanswered::NotSent("the session is logging in".into())));
                }
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        let Some(verdict) = self.dialect.logged_in(text.as_str()) else {
                            continue;
                        };
                        return match verdict {
                            Ok(()) => Ok(socket),
                            Err(reason) => {
                                tracing::error!(url = %self.url, %reason, "order-entry login refused");
                                lock(&self.counters).refused = Some(reason.clone());
                                Err(failed(format!("login refused: {reason}")))
                            }
                        };
                    }
                    Some(Ok(_)) => {}
                    None => return Err(failed("closed during login".into())),
                    Some(Err(e)) => return Err(failed(format!("read failed during login: {e}"))),
                },
            }
        }
    }

    fn deliver(&self, pending: &mut Pending, text: &str) {
        let Some(id) = self.dialect.answer_id(text) else {
            return;
        };
        if let Some(waiter) = pending.remove(id.as_ref()) {
            lock(&self.counters).answered += 1;
            let _ = waiter.send(Ok(text.to_owned()));
        }
    }

    /// Stops taking calls (new ones go elsewhere), lets those in flight be answered for up
    /// to a connect timeout, and closes: the next connection opens at once.
    async fn retire(&self, socket: &mut Socket, pending: &mut Pending) -> End {
        self.up.send_replace(false);
        let drain = Instant::now() + self.config.connect_timeout;
        while !pending.is_empty() && Instant::now() < drain {
            match tokio::time::timeout_at(drain, socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => self.deliver(pending, text.as_str()),
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        let _ = socket.close(None).await;
        End::Rotate
    }

    async fn serve(
        &self,
        mut socket: Socket,
        queue: &mut mpsc::Receiver<Call>,
        cancel: &CancellationToken,
        ctx: &crate::supervise::ChildContext,
    ) -> End {
        let rotate_at = Instant::now()
            + self
                .config
                .max_lifetime
                .saturating_sub(self.config.rotate_margin);
        let mut pending = Pending::new();
        let mut last_frame = Instant::now();
        let mut next_heartbeat = last_frame + self.config.heartbeat_every;
        let end = loop {
            ctx.checkpoint();
            tokio::select! {
                _ = cancel.cancelled() => {
                    let _ = socket.close(None).await;
                    break End::Cancelled;
                }
                _ = sleep_until(last_frame + self.config.stale_after) => {
                    break End::Failed(format!("stale: nothing received for {:?}", self.config.stale_after));
                }
                _ = sleep_until(rotate_at) => break self.retire(&mut socket, &mut pending).await,
                _ = sleep_until(next_heartbeat) => {
                    next_heartbeat = Instant::now() + self.config.heartbeat_every;
                    let beat = match self.dialect.heartbeat(&self.id()) {
                        Some(text) => Message::text(text),
                        None => Message::Ping(Vec::new().into()),
                    };
                    if let Err(e) = socket.send(beat).await {
                        break End::Failed(format!("heartbeat failed: {e}"));
                    }
                }
                call = queue.recv() => {
                    let Some(call) = call else {
                        break End::Cancelled;
                    };
                    pending.retain(|_, waiter| !waiter.is_closed());
                    // The calls already queued go out with it: one flush for a burst.
                    let mut batch = vec![call];
                    while batch.len() < WRITE_BATCH {
                        match queue.try_recv() {
                            Ok(call) => batch.push(call),
                            Err(_) => break,
                        }
                    }
                    let mut failed = None;
                    let mut written = 0u64;
                    for call in batch {
                        if call.answer.is_closed() {
                            continue;
                        }
                        if failed.is_some() {
                            let _ = call.answer.send(Err(Unanswered::NotSent("the session went down".into())));
                            continue;
                        }
                        // One that fails may have left in part: lost, not "not sent".
                        if let Err(e) = socket.feed(Message::text(call.text)).await {
                            failed = Some(e);
                        }
                        written += 1;
                        pending.insert(call.id, call.answer);
                    }
                    if failed.is_none()
                        && let Err(e) = socket.flush().await
                    {
                        failed = Some(e);
                    }
                    lock(&self.counters).sent += written;
                    if let Some(e) = failed {
                        break End::Failed(format!("send failed: {e}"));
                    }
                }
                frame = socket.next() => {
                    last_frame = Instant::now();
                    lock(&self.counters).last_message = Some(last_frame);
                    match frame {
                        None => break End::Failed("closed by the venue".into()),
                        Some(Err(e)) => break End::Failed(format!("read failed: {e}")),
                        Some(Ok(Message::Text(text))) => {
                            if self.dialect.retiring(text.as_str()) {
                                tracing::info!(url = %self.url, "the venue retires the order-entry connection: moving to a fresh one");
                                break self.retire(&mut socket, &mut pending).await;
                            }
                            self.deliver(&mut pending, text.as_str());
                        }
                        Some(Ok(Message::Close(frame))) => {
                            let reason = frame.map_or_else(String::new, |f| f.reason.to_string());
                            break End::Failed(format!("closed by the venue {reason}").trim_end().to_owned());
                        }
                        // Pings are answered by tungstenite on the next read or write.
                        Some(Ok(_)) => {}
                    }
                }
            }
        };
        let reason = match &end {
            End::Failed(reason) => reason.clone(),
            End::Cancelled => "the connector closed".into(),
            End::Rotate => "the connection was replaced".into(),
        };
        let lost = pending.values().filter(|w| !w.is_closed()).count() as u64;
        for (_, waiter) in pending.drain() {
            let _ = waiter.send(Err(Unanswered::Lost(reason.clone())));
        }
        lock(&self.counters).lost += lost;
        end
    }
}
