//! The network layer shared by every venue: signed REST (`http`) and supervised WebSockets.

pub mod http;
pub mod session;
pub mod ws;

pub use http::{Dialect, Encoded, Failure, Http, HttpConfig, Method, Request};
pub use session::{SessionDialect, SessionHealth, Unanswered, WsSession};
pub use ws::{Inbound, ShardHealth, WsConfig, WsDialect, WsEvent, WsPool};

/// Whether `url`'s host is this machine: 127.0.0.0/8, ::1 or `localhost`, read from the parsed
/// host (never a prefix of the text, which `ws://127.0.0.1.example.invalid` or
/// `ws://127.0.0.1@example.invalid` would pass). Plain http/ws is allowed only there.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Whether a WebSocket URL may be used: `wss`, or plain `ws` on loopback.
pub fn ws_url_allowed(url: &str) -> bool {
    reqwest::Url::parse(url)
        .is_ok_and(|u| u.scheme() == "wss" || (u.scheme() == "ws" && is_loopback(&u)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ws_is_allowed_only_on_a_parsed_loopback_host() {
        for ok in [
            "wss://stream.binance.com:9443/ws",
            "ws://127.0.0.1:9/ws",
            "ws://127.1.2.3:9",
            "ws://localhost:9/ws",
            "ws://LOCALHOST:9",
            "ws://[::1]:9/ws",
        ] {
            assert!(ws_url_allowed(ok), "{ok}");
        }
        for bad in [
            "ws://127.0.0.1.example.invalid/ws",
            "ws://127.0.0.1@example.invalid:9/ws",
            "ws://localhost.example.invalid",
            "ws://localhost@10.0.0.1:9",
            "ws://[::2]:9",
            "ws://10.0.0.1:9",
            "http://127.0.0.1:9",
            "not a url",
        ] {
            assert!(!ws_url_allowed(bad), "{bad}");
        }
        let http = |u: &str| is_loopback(&reqwest::Url::parse(u).unwrap());
        assert!(
            http("http://127.0.0.1:8080") && http("http://[::1]:1") && http("http://localhost")
        );
        assert!(
            !http("http://127.0.0.1.example.invalid") && !http("http://127.0.0.1@example.invalid")
        );
    }
}
