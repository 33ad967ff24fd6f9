//! Binance market streams: `SUBSCRIBE` / `UNSUBSCRIBE` control messages (chunked so one
//! message stays small) and the replies to tell apart from data (PROTOCOLS.md 3.2, 4.1).

use serde_json::json;

use crate::model::{Market, Venue};
use crate::net::ws::{WsConfig, WsDialect};
use crate::resilience::RequestIds;

/// Stream names per control message.
const PER_MESSAGE: usize = 200;

#[derive(Debug, Clone, Copy, Default)]
pub struct BinanceStreams;

impl WsDialect for BinanceStreams {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    fn subscribe(&self, topics: &[String], on: bool, ids: &RequestIds) -> Vec<String> {
        let method = if on { "SUBSCRIBE" } else { "UNSUBSCRIBE" };
        topics
            .chunks(PER_MESSAGE)
            .map(|chunk| json!({"method": method, "params": chunk, "id": ids.next()}).to_string())
            .collect()
    }

    /// Binance's server pings; a client ping frame just proves the path is alive.
    fn heartbeat(&self, _ids: &RequestIds) -> Option<String> {
        None
    }

    fn is_control(&self, text: &str) -> bool {
        // Replies carry the request id and no event: `{"result":null,"id":1}`, `{"code":2,...}`.
        text.starts_with("{\"result\"")
            || text.starts_with("{\"code\"")
            || text.starts_with("{\"id\"")
    }
}

/// Market streams: 1024 streams and 5 (spot) / 10 (USD-M) inbound messages a second per
/// connection, 24 h lifetime, server pings every 20 s (spot) / 3 min (USD-M).
pub fn ws_config(market: Market) -> WsConfig {
    WsConfig {
        per_connection: 1024,
        sends_per_second: if market == Market::Spot { 4 } else { 8 },
        ..WsConfig::default()
    }
}
