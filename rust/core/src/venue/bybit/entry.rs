//! Bybit's trade WebSocket (`/v5/trade`, docs/order-entry.md): order entry for spot and linear.
//!
//! The session logs in once (`op: auth`, the private stream's `GET/realtime` signature); each
//! request is `{"reqId", "header": {"X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW"}, "op", "args":
//! [REST body]}` with `op` the REST path's tail (`order.create`, `order.amend`, `order.cancel`,
//! and their `-batch` forms); its answer's `data` is the REST answer's `result` and its
//! `header` the REST answer's `X-Bapi-*` headers, so it is read by the REST dialect.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::rest::{BybitRest, typed};
use super::sign;
use crate::model::Venue;
use crate::net::http::{Dialect, Failure, Method, Request};
use crate::net::session::SessionDialect;
use crate::resilience::{ClockSync, Limiter};
use crate::venue::{Credentials, OrderEntry};

/// The trade WebSocket of one account.
#[derive(Debug)]
pub struct BybitEntry {
    pub credentials: Arc<Credentials>,
    pub clock: Arc<ClockSync>,
}

/// The operation carrying a REST write: the paths the trade WebSocket serves.
fn op(request: &Request) -> Option<&'static str> {
    if request.method != Method::Post {
        return None;
    }
    Some(match request.path.as_str() {
        "/v5/order/create" => "order.create",
        "/v5/order/amend" => "order.amend",
        "/v5/order/cancel" => "order.cancel",
        "/v5/order/create-batch" => "order.create-batch",
        "/v5/order/amend-batch" => "order.amend-batch",
        "/v5/order/cancel-batch" => "order.cancel-batch",
        _ => return None,
    })
}

/// The trade WebSocket's own refusals: the service (not the order) said no.
const RESTARTING: [i64; 2] = [10016, 10019];
const THROTTLED: [i64; 3] = [10403, 10429, 20003];

impl SessionDialect for BybitEntry {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn login(&self, id: &str) -> Option<String> {
        // Valid for 10 s of venue time: long enough for a slow handshake, useless if replayed.
        let expires = self.clock.now_server_ms().saturating_add(10_000);
        let (key, expires, signature) = sign::ws_auth(&self.credentials, expires);
        Some(json!({"reqId": id, "op": "auth", "args": [key, expires, signature]}).to_string())
    }

    fn logged_in(&self, answer: &str) -> Option<Result<(), String>> {
        let value: Value = serde_json::from_str(answer).ok()?;
        if value.get("op").and_then(Value::as_str) != Some("auth") {
            return None;
        }
        Some(match value.get("retCode").and_then(Value::as_i64) {
            Some(0) => Ok(()),
            code => Err(format!(
                "{} (retCode {})",
                value.get("retMsg").and_then(Value::as_str).unwrap_or(""),
                code.map_or("none".into(), |c| c.to_string())
            )),
        })
    }

    fn answer_id<'a>(&self, text: &'a str) -> Option<Cow<'a, str>> {
        crate::venue::top_level_string(text, "{\"reqId\":\"", "reqId")
    }

    fn heartbeat(&self, id: &str) -> Option<String> {
        Some(json!({"reqId": id, "op": "ping"}).to_string())
    }
}

impl OrderEntry for BybitEntry {
    fn carries(&self, request: &Request) -> bool {
        op(request).is_some()
    }

    fn frame(
        &self,
        request: &Request,
        id: &str,
        now_ms: i64,
        recv_window: Duration,
    ) -> Option<String> {
        let op = op(request)?;
        let args: serde_json::Map<String, Value> = request
            .params
            .iter()
            .map(|(k, v)| (k.clone(), typed(k, v)))
            .collect();
        Some(
            json!({
                "reqId": id,
                "header": {
                    "X-BAPI-TIMESTAMP": now_ms.to_string(),
                    "X-BAPI-RECV-WINDOW": recv_window.as_millis().to_string(),
                },
                "op": op,
                "args": [args],
            })
            .to_string(),
        )
    }

    fn answer(
        &self,
        request: &Request,
        text: &str,
        limiter: &Limiter,
        now_ms: i64,
    ) -> Result<Value, Box<Failure>> {
        let value = crate::venue::entry_json(Venue::Bybit, "trade WebSocket", text)?;
        // The answer's `header` holds what REST sends as headers.
        let mut headers = HeaderMap::new();
        if let Some(fields) = value.get("header").and_then(Value::as_object) {
            for (name, v) in fields {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                if let (Ok(name), Ok(v)) = (
                    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
                    HeaderValue::from_str(&text),
                ) {
                    headers.insert(name, v);
                }
            }
        }
        BybitRest.observe(limiter, request, &headers);
        let code = value.get("retCode").and_then(Value::as_i64);
        let body = json!({
            "retCode": code,
            "retMsg": value.get("retMsg").cloned().unwrap_or(Value::Null),
            "result": value.get("data").cloned().unwrap_or_else(|| json!({})),
            "retExtInfo": value.get("retExtInfo").cloned().unwrap_or_else(|| json!({})),
            "time": value.get("header").and_then(|h| h.get("Timenow")).cloned().unwrap_or(Value::Null),
        });
        // The service's own refusals read as REST's: a throttle as a 429, a restart as a fault.
        let status = match code {
            Some(c) if THROTTLED.contains(&c) => 429,
            Some(c) if RESTARTING.contains(&c) => 503,
            _ => 200,
        };
        let mut verdict = BybitRest.verdict(status, &headers, body.to_string().as_bytes(), now_ms);
        if let (Err(failure), Some(10019)) = (&mut verdict, code) {
            // "Does not accept new requests": refused, not lost.
            if let crate::Error::Exchange(reply) = &mut failure.error {
                reply.http_status = None;
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::LimitSpec;

    fn entry() -> BybitEntry {
        BybitEntry {
            credentials: Arc::new(Credentials::new("key", "secret").unwrap()),
            clock: Arc::new(ClockSync::new()),
        }
    }

    fn limiter() -> Limiter {
        let limiter = Limiter::new(Venue::Bybit, Arc::new(|| 1_000), 0.0);
        for spec in BybitRest.default_limits() {
            let _: LimitSpec = spec.clone();
            limiter.set_limit(spec);
        }
        limiter
    }

    #[test]
    fn a_write_goes_as_the_docs_request_with_its_rest_body() {
        let request = Request {
            method: Method::Post,
            path: "/v5/order/create".into(),
            params: vec![
                ("category".into(), "linear".into()),
                ("symbol".into(), "ETHUSDT".into()),
                ("qty".into(), "0.2".into()),
                ("reduceOnly".into(), "false".into()),
                ("positionIdx".into(), "1".into()),
            ],
            signed: true,
            priority: crate::resilience::Priority::Order,
        };
        let frame = entry()
            .frame(&request, "tw7", 1711001595207, Duration::from_millis(8000))
            .unwrap();
        let v: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(
            v,
            json!({"reqId": "tw7", "header": {"X-BAPI-TIMESTAMP": "1711001595207", "X-BAPI-RECV-WINDOW": "8000"},
                "op": "order.create", "args": [{"category": "linear", "symbol": "ETHUSDT", "qty": "0.2",
                "reduceOnly": false, "positionIdx": 1}]})
        );
        // Reads and writes the trade WebSocket does not serve go by REST.
        let all = Request {
            path: "/v5/order/cancel-all".into(),
            ..request.clone()
        };
        assert!(entry().frame(&all, "x", 1, Duration::ZERO).is_none());
        let read = Request::get("/v5/order/realtime");
        assert!(entry().frame(&read, "x", 1, Duration::ZERO).is_none());
    }

    #[test]
    fn answers_read_as_the_rest_answers_they_mirror() {
        let request = Request {
            method: Method::Post,
            path: "/v5/order/create".into(),
            params: vec![("category".into(), "linear".into())],
            signed: true,
            priority: crate::resilience::Priority::Order,
        };
        // The docs' answer.
        let ok = r#"{"reqId":"test-005","retCode":0,"retMsg":"OK","op":"order.create","data":{"orderId":"a4c1718e-fe53-4659-a118-1f6ecce04ad9","orderLinkId":""},"retExtInfo":{},"header":{"X-Bapi-Limit":"10","X-Bapi-Limit-Status":"9","X-Bapi-Limit-Reset-Timestamp":"1711001595208","Traceid":"38b7977b430f9bd228f4b19724794dfd","Timenow":"1711001595209"},"connId":"cnt5leec0hvan15eukcg-2v"}"#;
        let e = entry();
        assert_eq!(e.answer_id(ok).as_deref(), Some("test-005"));
        let value = e.answer(&request, ok, &limiter(), 1_000).unwrap();
        assert_eq!(
            value["result"]["orderId"],
            "a4c1718e-fe53-4659-a118-1f6ecce04ad9"
        );
        // ccxt's recorded refusal: typed as REST's 170131.
        let refused = r#"{"reqId":"1","retCode":170131,"retMsg":"Insufficient balance.","op":"order.create","data":{},"header":{"X-Bapi-Limit":"20","X-Bapi-Limit-Status":"19","X-Bapi-Limit-Reset-Timestamp":"1714236608944","Traceid":"3d7168a137bf32a947b7e5e6a575ac7f","Timenow":"1714236608946"},"connId":"cojifin88smerbj9t560-406"}"#;
        let failure = e.answer(&request, refused, &limiter(), 1_000).unwrap_err();
        assert!(
            matches!(&failure.error, crate::Error::InvalidOrder { rule, .. } if rule == crate::orders::rule::INSUFFICIENT_FUNDS),
            "{:?}",
            failure.error
        );
        // The service's throttle backs off; a restart refuses without a lost outcome.
        let throttled = r#"{"reqId":"2","retCode":10429,"retMsg":"System level frequency protection","op":"order.create","data":{}}"#;
        let failure = e
            .answer(&request, throttled, &limiter(), 1_000)
            .unwrap_err();
        assert!(matches!(failure.error, crate::Error::RateLimited { .. }));
        assert!(failure.back_off_until.is_some());
        let restarting = r#"{"reqId":"3","retCode":10019,"retMsg":"ws trade service is restarting","op":"order.create","data":{}}"#;
        let failure = e
            .answer(&request, restarting, &limiter(), 1_000)
            .unwrap_err();
        assert!(!crate::connector::outcome_unknown(&failure.error));
        let internal = r#"{"reqId":"4","retCode":10016,"retMsg":"internal server error","op":"order.create","data":{}}"#;
        let failure = e.answer(&request, internal, &limiter(), 1_000).unwrap_err();
        assert!(crate::connector::outcome_unknown(&failure.error));
        // The login's answer, and a ping's.
        assert_eq!(
            e.logged_in(r#"{"retCode":0,"retMsg":"OK","op":"auth","connId":"c"}"#),
            Some(Ok(()))
        );
        assert!(matches!(
            e.logged_in(r#"{"retCode":10005,"retMsg":"Permission denied for current apikey","op":"auth","connId":"c"}"#),
            Some(Err(words)) if words.contains("Permission denied")
        ));
        assert_eq!(
            e.logged_in(r#"{"retCode":0,"retMsg":"OK","op":"pong","data":["1"]}"#),
            None
        );
    }
}
