//! What every simulated WebSocket session shares: its entry in the market's connection registry
//! (so a test can list, drop or freeze one connection or all), and sending what it queued
//! (with the delay fault).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
use serde::Serialize;
use tokio::sync::watch;

use crate::market::{Faults, Market};

/// One open connection as the control API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LinkInfo {
    pub id: u64,
    /// `market` / `public` (Binance market-stream routes, Bybit public), `user` (USD-M
    /// listenKey stream), `api` (Binance WS API), `private` (Bybit private).
    pub kind: &'static str,
    /// Streams or topics it is subscribed to, as the client named them.
    pub streams: Vec<String>,
    /// Venue clock when it opened.
    pub opened_ms: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct LinkSwitches {
    dropped: bool,
    frozen: bool,
}

/// The open connections of one market, each with its own drop / freeze switches.
#[derive(Debug, Default)]
pub struct Links {
    next_id: AtomicU64,
    /// Topics clients unsubscribed from (a client should not churn a healthy subscription).
    pub unsubscribed: AtomicU64,
    open: Mutex<BTreeMap<u64, (LinkInfo, watch::Sender<LinkSwitches>)>>,
}

impl Links {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, (LinkInfo, watch::Sender<LinkSwitches>)>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn list(&self) -> Vec<LinkInfo> {
        self.lock().values().map(|(info, _)| info.clone()).collect()
    }

    /// Drops connection `id`; false if no such connection is open.
    pub fn drop_one(&self, id: u64) -> bool {
        self.switch(id, |s| s.dropped = true)
    }

    /// Freezes or thaws connection `id`; false if no such connection is open.
    pub fn freeze_one(&self, id: u64, frozen: bool) -> bool {
        self.switch(id, |s| s.frozen = frozen)
    }

    /// Thaws every connection frozen one by one.
    pub fn thaw_all(&self) {
        for (_, switches) in self.lock().values() {
            switches.send_if_modified(|s| std::mem::take(&mut s.frozen));
        }
    }

    fn switch(&self, id: u64, change: impl FnOnce(&mut LinkSwitches)) -> bool {
        match self.lock().get(&id) {
            Some((_, switches)) => {
                switches.send_modify(change);
                true
            }
            None => false,
        }
    }
}

/// A session's handle on its registry entry and on the market-wide and per-connection fault
/// switches; leaves the registry when dropped.
#[derive(Debug)]
pub struct Link {
    id: u64,
    market: Arc<Market>,
    generation: u64,
    market_dropped: watch::Receiver<u64>,
    market_frozen: watch::Receiver<bool>,
    own: watch::Receiver<LinkSwitches>,
}

impl Link {
    pub fn open(market: &Arc<Market>, kind: &'static str, streams: Vec<String>) -> Link {
        let faults = &market.faults;
        let id = faults.links.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (switches, own) = watch::channel(LinkSwitches::default());
        let info = LinkInfo {
            id,
            kind,
            streams,
            opened_ms: market.clock.now_ms(),
        };
        faults.links.lock().insert(id, (info, switches));
        let market_dropped = faults.drop_generation.subscribe();
        let generation = *market_dropped.borrow();
        Link {
            id,
            market: market.clone(),
            generation,
            market_dropped,
            market_frozen: faults.frozen.subscribe(),
            own,
        }
    }

    /// Records what the connection is subscribed to now.
    pub fn set_streams(&self, streams: impl IntoIterator<Item = String>) {
        if let Some((info, _)) = self.market.faults.links.lock().get_mut(&self.id) {
            info.streams = streams.into_iter().collect();
        }
    }

    fn dropped(&self) -> bool {
        *self.market_dropped.borrow() != self.generation || self.own.borrow().dropped
    }

    fn frozen(&self) -> bool {
        *self.market_frozen.borrow() || self.own.borrow().frozen
    }

    /// Resolves when a switch that concerns this connection changes.
    pub async fn changed(&mut self) {
        tokio::select! {
            _ = self.market_dropped.changed() => {}
            _ = self.market_frozen.changed() => {}
            _ = self.own.changed() => {}
        }
    }

    /// Waits while the connection is frozen (nothing read, nothing sent, no pings). Returns
    /// `false` once it is dropped.
    pub async fn thawed(&mut self) -> bool {
        loop {
            if self.dropped() {
                return false;
            }
            if !self.frozen() {
                return true;
            }
            self.changed().await;
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.market.faults.links.lock().remove(&self.id);
    }
}

/// Sends the queued frames in order, each after the configured delay, flushing once. `false`
/// if the socket is gone.
pub async fn flush(socket: &mut WebSocket, out: &mut Vec<String>, faults: &Faults) -> bool {
    if out.is_empty() {
        return true;
    }
    let delay = faults.delay_ms.load(Ordering::Relaxed);
    for text in out.drain(..) {
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if socket.send(Message::Text(text.into())).await.is_err() {
                return false;
            }
        } else if socket.feed(Message::Text(text.into())).await.is_err() {
            return false;
        }
    }
    socket.flush().await.is_ok()
}

/// One user-data session's events under its market's user-event faults.
#[derive(Debug, Default)]
pub struct UserEvents {
    held: Option<String>,
}

impl UserEvents {
    /// Queues `event` as the faults say: dropped, garbled, sent twice, or held back until the
    /// next one.
    pub fn push(&mut self, faults: &Faults, event: String, out: &mut Vec<String>) {
        use crate::market::take_one;
        if take_one(&faults.user_drop) {
            return;
        }
        if take_one(&faults.user_garble) {
            let half = (0..=event.len() / 2)
                .rev()
                .find(|&k| event.is_char_boundary(k))
                .unwrap_or(0);
            out.push(event[..half].to_owned());
            return;
        }
        if self.held.is_none() && take_one(&faults.user_reorder) {
            self.held = Some(event);
            return;
        }
        if take_one(&faults.user_duplicate) {
            out.push(event.clone());
        }
        out.push(event);
        out.extend(self.held.take());
    }
}

/// Middleware over a venue's routes: a write (any request but GET) the market's faults say to
/// lose is carried out but never answered, so the client cannot tell whether it happened.
pub async fn lose_write_answers(
    axum::extract::State(market): axum::extract::State<Arc<Market>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let write = request.method() != axum::http::Method::GET;
    let response = next.run(request).await;
    if write && crate::market::take_one(&market.faults.lose_write_answers) {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    response
}
