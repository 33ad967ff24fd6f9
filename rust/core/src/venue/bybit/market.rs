//! Bybit v5 public topics: `subscribe` / `unsubscribe` ops (at most 10 args each, the spot
//! limit), the JSON `ping` heartbeat, and the acks and pongs to tell apart from data
//! (PROTOCOLS.md 3.4, 4.3).

use std::sync::Arc;

use serde_json::json;

use super::sign;
use crate::model::Venue;
use crate::net::ws::{WsConfig, WsDialect};
use crate::resilience::{ClockSync, RequestIds};
use crate::venue::Credentials;

const PER_MESSAGE: usize = 10;

/// Public topics: 200 a connection, a JSON ping every 20 s (idle cut after 10 min without
/// one), 24 h lifetime.
pub fn ws_config() -> WsConfig {
    WsConfig {
        per_connection: 200,
        sends_per_second: 10,
        ..WsConfig::default()
    }
}

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
        // Data messages have a topic; acks and pongs have an op. Anything else is passed on, to
        // be counted as unreadable.
        !text.contains("\"topic\"") && text.contains("\"op\"")
    }
}

/// Bybit's private stream (`/v5/private`): the same ops, after an `auth` signed with the
/// venue's time (PROTOCOLS.md 2.4); topics `order`, `execution`, `wallet`, `position`.
#[derive(Debug)]
pub struct BybitPrivate {
    pub credentials: Arc<Credentials>,
    pub clock: Arc<ClockSync>,
}

impl WsDialect for BybitPrivate {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn subscribe(&self, topics: &[String], on: bool, ids: &RequestIds) -> Vec<String> {
        BybitStreams.subscribe(topics, on, ids)
    }

    fn heartbeat(&self, ids: &RequestIds) -> Option<String> {
        BybitStreams.heartbeat(ids)
    }

    fn is_control(&self, text: &str) -> bool {
        // A refused auth or subscription is data, so that it is read and reported.
        BybitStreams.is_control(text) && !text.contains("\"success\":false")
    }

    fn login(&self, ids: &RequestIds) -> Vec<String> {
        // Valid for 10 s of venue time: long enough for a slow handshake, useless if replayed.
        let expires = self.clock.now_server_ms().saturating_add(10_000);
        let (key, expires, signature) = sign::ws_auth(&self.credentials, expires);
        vec![json!({"op": "auth", "args": [key, expires, signature], "req_id": ids.next().to_string()}).to_string()]
    }
}
