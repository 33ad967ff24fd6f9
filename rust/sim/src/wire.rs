//! What every simulated WebSocket session shares: honouring the freeze fault and sending what
//! it queued (with the delay fault).

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use tokio::sync::watch;

use crate::market::Faults;

/// Waits while the market's connections are frozen: nothing read, nothing sent, no pings.
/// Returns `false` when the connection was dropped meanwhile.
pub async fn thawed(
    frozen: &mut watch::Receiver<bool>,
    dropped: &mut watch::Receiver<u64>,
) -> bool {
    while *frozen.borrow_and_update() {
        tokio::select! {
            changed = frozen.changed() => if changed.is_err() { return false },
            _ = dropped.changed() => return false,
        }
    }
    true
}

/// Sends the queued frames in order, each after the configured delay. `false` if the socket
/// is gone.
pub async fn flush(socket: &mut WebSocket, out: &mut Vec<String>, faults: &Faults) -> bool {
    let delay = faults.delay_ms.load(std::sync::atomic::Ordering::Relaxed);
    for text in out.drain(..) {
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if socket.send(Message::Text(text.into())).await.is_err() {
            return false;
        }
    }
    true
}
