//! Binance's WebSocket API as order entry (PROTOCOLS.md 2.2, docs/order-entry.md): spot
//! `ws-api/v3`, USD-M `ws-fapi/v1`.
//!
//! A request is `{"id", "method", "params"}` with the REST request's parameters as `params`;
//! its answer is `{"id", "status", "result" | "error", "rateLimits"}`, where `result` is the REST
//! answer's body, `error` the REST error body, and `rateLimits` the REST usage headers, so it is
//! read by the REST dialect. An HMAC key signs each request (`apiKey`, `timestamp`, `signature`
//! in `params`, over the parameters sorted by name, not URL-encoded); an Ed25519 key logs the
//! session in once (`session.logon`) and its requests carry only the `timestamp`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::rest::BinanceRest;
use crate::model::{Market, Venue};
use crate::net::http::{Dialect, Failure, Method, Request};
use crate::net::session::SessionDialect;
use crate::resilience::{ClockSync, Limiter};
use crate::venue::{Credentials, OrderEntry};

/// The WebSocket API of one account on one market.
#[derive(Debug)]
pub struct BinanceEntry {
    pub market: Market,
    pub credentials: Arc<Credentials>,
    pub clock: Arc<ClockSync>,
}

/// The method carrying a REST write, where the market's WebSocket API has one.
fn method(market: Market, request: &Request) -> Option<&'static str> {
    use Method::*;
    Some(match (market, request.method, request.path.as_str()) {
        (Market::Spot, Post, "/api/v3/order") => "order.place",
        (Market::Spot, Delete, "/api/v3/order") => "order.cancel",
        (Market::Spot, Put, "/api/v3/order/amend/keepPriority") => "order.amend.keepPriority",
        (Market::Spot, Post, "/api/v3/order/cancelReplace") => "order.cancelReplace",
        (Market::Spot, Post, "/api/v3/orderList/oco") => "orderList.place.oco",
        (Market::Spot, Delete, "/api/v3/openOrders") => "openOrders.cancelAll",
        (Market::Usdm, Post, "/fapi/v1/order") => "order.place",
        (Market::Usdm, Put, "/fapi/v1/order") => "order.modify",
        (Market::Usdm, Delete, "/fapi/v1/order") => "order.cancel",
        (Market::Usdm, Post, "/fapi/v1/algoOrder") => "algoOrder.place",
        (Market::Usdm, Delete, "/fapi/v1/algoOrder") => "algoOrder.cancel",
        _ => return None,
    })
}

/// Parameters the API takes as JSON integers ("INT parameters such as timestamp are expected
/// as JSON integers"); decimals and words go as strings.
fn integer(key: &str) -> bool {
    matches!(
        key,
        "timestamp"
            | "recvWindow"
            | "orderId"
            | "cancelOrderId"
            | "algoId"
            | "trailingDelta"
            | "strategyId"
            | "strategyType"
            | "goodTillDate"
    )
}

/// The answer's `rateLimits` as the REST usage headers they mirror (`REQUEST_WEIGHT` a minute
/// is `X-MBX-USED-WEIGHT-1M`, `ORDERS` in 10 s `X-MBX-ORDER-COUNT-10S`).
fn usage_headers(answer: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for limit in answer
        .get("rateLimits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = match limit.get("rateLimitType").and_then(Value::as_str) {
            Some("REQUEST_WEIGHT") => "x-mbx-used-weight",
            Some("ORDERS") => "x-mbx-order-count",
            _ => continue,
        };
        let letter = match limit.get("interval").and_then(Value::as_str) {
            Some("SECOND") => 's',
            Some("MINUTE") => 'm',
            Some("HOUR") => 'h',
            Some("DAY") => 'd',
            _ => continue,
        };
        let (Some(num), Some(count)) = (
            limit.get("intervalNum").and_then(Value::as_u64),
            limit.get("count").and_then(Value::as_u64),
        ) else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(format!("{kind}-{num}{letter}").as_bytes()),
            HeaderValue::from_str(&count.to_string()),
        ) {
            headers.insert(name, value);
        }
    }
    headers
}

impl SessionDialect for BinanceEntry {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    /// Only Ed25519 keys may log a session in; HMAC keys sign each request instead.
    fn login(&self, id: &str) -> Option<String> {
        if !self.credentials.is_ed25519() {
            return None;
        }
        let params = super::sign::ws_api_auth(&self.credentials, self.clock.now_server_ms());
        Some(json!({"id": id, "method": "session.logon", "params": params}).to_string())
    }

    fn logged_in(&self, answer: &str) -> Option<Result<(), String>> {
        let value: Value = serde_json::from_str(answer).ok()?;
        let status = value.get("status")?.as_u64()?;
        if status == 200 {
            return Some(Ok(()));
        }
        let error = value.get("error");
        Some(Err(format!(
            "{} (code {}, HTTP {status})",
            error
                .and_then(|e| e.get("msg"))
                .and_then(Value::as_str)
                .unwrap_or(""),
            error
                .and_then(|e| e.get("code"))
                .map_or("none".into(), Value::to_string)
        )))
    }

    fn answer_id<'a>(&self, text: &'a str) -> Option<Cow<'a, str>> {
        crate::venue::top_level_string(text, "{\"id\":\"", "id")
    }

    /// The venue pings; a ping frame of ours keeps a quiet connection's liveness measured.
    fn heartbeat(&self, _id: &str) -> Option<String> {
        None
    }

    /// `{"event":{"e":"serverShutdown","E":...}}`: "establish a new connection as soon as
    /// possible".
    fn retiring(&self, text: &str) -> bool {
        text.contains("serverShutdown")
            && serde_json::from_str::<Value>(text).is_ok_and(|v| {
                v.get("event")
                    .and_then(|e| e.get("e"))
                    .and_then(Value::as_str)
                    == Some("serverShutdown")
            })
    }
}

impl OrderEntry for BinanceEntry {
    fn carries(&self, request: &Request) -> bool {
        method(self.market, request).is_some()
    }

    fn frame(
        &self,
        request: &Request,
        id: &str,
        now_ms: i64,
        recv_window: Duration,
    ) -> Option<String> {
        let method = method(self.market, request)?;
        let mut params = request.params.clone();
        params.push(("recvWindow".into(), recv_window.as_millis().to_string()));
        params.push(("timestamp".into(), now_ms.to_string()));
        let hmac = !self.credentials.is_ed25519();
        if hmac {
            params.push(("apiKey".into(), self.credentials.api_key().to_owned()));
            let signature = super::sign::ws_api_signature(&self.credentials, &params);
            params.push(("signature".into(), signature));
        }
        let object: serde_json::Map<String, Value> = params
            .into_iter()
            .map(|(k, v)| {
                let value = match v.parse::<i64>() {
                    Ok(n) if integer(&k) => Value::from(n),
                    _ => Value::String(v),
                };
                (k, value)
            })
            .collect();
        Some(json!({"id": id, "method": method, "params": object}).to_string())
    }

    fn answer(
        &self,
        request: &Request,
        text: &str,
        limiter: &Limiter,
        now_ms: i64,
    ) -> Result<Value, Box<Failure>> {
        let value = crate::venue::entry_json(Venue::Binance, "WebSocket API", text)?;
        let rest = BinanceRest::new(self.market);
        let mut headers = usage_headers(&value);
        rest.observe(limiter, request, &headers);
        let status = value
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0);
        let body = match (status, value.get("result"), value.get("error")) {
            (200, Some(result), _) => result.clone(),
            (_, _, Some(error)) => {
                // A refusal for the limits names its end as `data.retryAfter` (venue ms): the
                // Retry-After REST sends.
                if let Some(at) = error
                    .get("data")
                    .and_then(|d| d.get("retryAfter"))
                    .and_then(Value::as_i64)
                {
                    let secs = at.saturating_sub(now_ms).max(0).saturating_add(999) / 1000;
                    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                        headers.insert("retry-after", v);
                    }
                }
                error.clone()
            }
            _ => {
                return Err(Failure::plain(crate::Error::protocol(
                    Venue::Binance,
                    format!(
                        "WebSocket API answer without result or error: {}",
                        crate::error::snippet(text)
                    ),
                )));
            }
        };
        rest.verdict(status, &headers, body.to_string().as_bytes(), now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    fn entry(market: Market, secret: &str) -> BinanceEntry {
        BinanceEntry {
            market,
            credentials: Arc::new(
                Credentials::new(
                    "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                    secret,
                )
                .unwrap(),
            ),
            clock: Arc::new(ClockSync::new()),
        }
    }

    fn write(method: Method, path: &str, params: &[(&str, &str)]) -> Request {
        Request {
            method,
            path: path.into(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            signed: true,
            priority: crate::resilience::Priority::Order,
        }
    }

    #[test]
    fn an_hmac_request_is_signed_as_the_docs_example() {
        // web-socket-api.md's signed-request example: its signature, its parameter types.
        let request = write(
            Method::Post,
            "/api/v3/order",
            &[
                ("symbol", "BTCUSDT"),
                ("side", "SELL"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.01000000"),
                ("price", "52000.00"),
            ],
        );
        let frame = entry(Market::Spot, SECRET)
            .frame(
                &request,
                "4885f793",
                1645423376532,
                Duration::from_millis(100),
            )
            .unwrap();
        let v: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(v["method"], "order.place");
        assert_eq!(v["id"], "4885f793");
        assert_eq!(
            v["params"]["signature"],
            "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
        );
        assert_eq!(v["params"]["timestamp"], 1645423376532_i64);
        assert_eq!(v["params"]["recvWindow"], 100);
        assert_eq!(v["params"]["price"], "52000.00");
        assert_eq!(v["params"]["quantity"], "0.01000000");
        // Writes the API lacks (USD-M batches) and reads go by REST.
        let batch = write(Method::Post, "/fapi/v1/batchOrders", &[]);
        assert!(
            entry(Market::Usdm, SECRET)
                .frame(&batch, "x", 1, Duration::ZERO)
                .is_none()
        );
        let read = Request::get("/api/v3/order");
        assert!(
            entry(Market::Spot, SECRET)
                .frame(&read, "x", 1, Duration::ZERO)
                .is_none()
        );
        assert!(
            entry(Market::Spot, SECRET).login("1").is_none(),
            "HMAC keys sign each request"
        );
        // The docs' shutdown notice moves the session; an answer naming it does not.
        let e = entry(Market::Spot, SECRET);
        assert!(e.retiring(r#"{"event":{"e":"serverShutdown","E":1770123456789}}"#));
        assert!(
            !e.retiring(r#"{"id":"1","status":400,"error":{"code":-1,"msg":"serverShutdown"}}"#)
        );
    }

    #[test]
    fn an_ed25519_key_logs_the_session_in_and_requests_carry_only_the_timestamp() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----";
        let e = entry(Market::Usdm, pem);
        let login: Value = serde_json::from_str(&e.login("tw1").unwrap()).unwrap();
        assert_eq!(login["method"], "session.logon");
        assert!(login["params"]["signature"].is_string());
        let request = write(
            Method::Delete,
            "/fapi/v1/order",
            &[("symbol", "BTCUSDT"), ("orderId", "42")],
        );
        let frame: Value = serde_json::from_str(
            &e.frame(&request, "tw2", 7, Duration::from_millis(5000))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            frame,
            json!({"id": "tw2", "method": "order.cancel", "params": {"symbol": "BTCUSDT",
                "orderId": 42, "recvWindow": 5000, "timestamp": 7}})
        );
        assert_eq!(
            e.logged_in(r#"{"id":"tw1","status":200,"result":{"apiKey":"k","authorizedSince":1}}"#),
            Some(Ok(()))
        );
        assert!(matches!(
            e.logged_in(r#"{"id":"tw1","status":400,"error":{"code":-4056,"msg":"HMAC_SHA256 API key is not supported."}}"#),
            Some(Err(words)) if words.contains("-4056")
        ));
    }

    #[test]
    fn answers_read_as_the_rest_answers_they_mirror() {
        let e = entry(Market::Spot, SECRET);
        let limiter = Limiter::new(Venue::Binance, Arc::new(|| 1_000), 0.0);
        for spec in BinanceRest::new(Market::Spot).default_limits() {
            limiter.set_limit(spec);
        }
        let request = write(Method::Post, "/api/v3/order", &[("symbol", "BTCUSDT")]);
        let ok = r#"{"id":"tw9","status":200,"result":{"symbol":"BTCUSDT","orderId":12569099453,"orderListId":-1,"clientOrderId":"4d96324ff9d44481926157ec08158a40","transactTime":1660801715639},"rateLimits":[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":1},{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":321}]}"#;
        assert_eq!(e.answer_id(ok).as_deref(), Some("tw9"));
        let value = e.answer(&request, ok, &limiter, 1_000).unwrap();
        assert_eq!(value["orderId"], 12569099453_u64);
        let used = limiter
            .usage()
            .into_iter()
            .find(|u| u.name == "REQUEST_WEIGHT 1M")
            .unwrap();
        assert_eq!(used.used, 321, "the answer's usage corrects the limiter");
        // The docs' refusal, typed as REST's.
        let refused = r#"{"id":"tw9","status":400,"error":{"code":-2010,"msg":"Account has insufficient balance for requested action."},"rateLimits":[]}"#;
        let failure = e.answer(&request, refused, &limiter, 1_000).unwrap_err();
        assert!(
            matches!(&failure.error, crate::Error::InvalidOrder { rule, .. } if rule == crate::orders::rule::INSUFFICIENT_FUNDS),
            "{:?}",
            failure.error
        );
        // Unknown order on cancel, a stale timestamp, a throttle with its end, an unknown outcome.
        let cancel = write(Method::Delete, "/api/v3/order", &[]);
        let unknown =
            r#"{"id":"1","status":400,"error":{"code":-2011,"msg":"Unknown order sent."}}"#;
        assert!(matches!(
            e.answer(&cancel, unknown, &limiter, 1_000)
                .unwrap_err()
                .error,
            crate::Error::OrderNotFound(_)
        ));
        let stale = r#"{"id":"1","status":400,"error":{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}}"#;
        assert!(
            e.answer(&request, stale, &limiter, 1_000)
                .unwrap_err()
                .clock_rejected
        );
        let throttled = r#"{"id":"1","status":429,"error":{"code":-1003,"msg":"Too much request weight used.","data":{"serverTime":1000,"retryAfter":4000}}}"#;
        let failure = e.answer(&request, throttled, &limiter, 1_000).unwrap_err();
        assert_eq!(failure.back_off_until, Some(4_000));
        let timeout = r#"{"id":"1","status":503,"error":{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}}"#;
        let failure = e.answer(&request, timeout, &limiter, 1_000).unwrap_err();
        assert!(crate::connector::outcome_unknown(&failure.error));
        let banned = r#"{"id":"1","status":418,"error":{"code":-1003,"msg":"Way too much request weight used; IP banned until 1659146400000. Please use WebSocket Streams for live updates to avoid bans.","data":{"serverTime":1000,"retryAfter":1659146400000}}}"#;
        let now = 1659146000000;
        assert_eq!(
            e.answer(&request, banned, &limiter, now)
                .unwrap_err()
                .banned_until,
            Some(1659146400000)
        );
    }
}
