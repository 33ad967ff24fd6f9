//! Bybit v5 public topics: `subscribe` / `unsubscribe` ops (at most 10 args each, the spot
//! limit), the JSON `ping` heartbeat, and the acks and pongs to tell apart from data
//! (PROTOCOLS.md 3.4, 4.3).

use serde_json::json;

use crate::model::Venue;
use crate::net::ws::WsDialect;
use crate::resilience::RequestIds;

const PER_MESSAGE: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
pub struct BybitStreams;

impl WsDialect for BybitStreams {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn subscribe(&self, topics: &[String], on: bool, ids: &RequestIds) -> Vec<String> {
        let op = if on { "subscribe" } else { "unsubscribe" };
        topics
            .chunks(PER_MESSAGE)
            .map(|chunk| {
                json!({"op": op, "args": chunk, "req_id": ids.next().to_string()}).to_string()
            })
            .collect()
    }

    fn heartbeat(&self, ids: &RequestIds) -> Option<String> {
        Some(json!({"op": "ping", "req_id": ids.next().to_string()}).to_string())
    }

    fn is_control(&self, text: &str) -> bool {
        // Data messages have a topic; acks and pongs have an op.
        !text.contains("\"topic\"")
    }
}
