//! Bybit v5 REST: the request pipeline — faults, routing, IP and per-UID limits with
//! `X-Bapi-Limit*` headers, authentication, dispatch, the `retCode` envelope — and what every
//! endpoint shares (`Fail`, required parameters, the unknown-symbol answer)
//! (PROTOCOLS.md 2.3, 3.4, 4.4, 5.3, 6.3, 7.3, 8).

mod account;
mod auth;
mod market;
mod orders;
mod routes;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

pub use account::positions_json;
pub use market::{kline_json, ticker, trade_id};
pub use orders::{exec_id, execution_json};

use super::{BybitState, Category};
use crate::exchange::Exchange;
use crate::limits::BybitVerdict;
use crate::market::take_one;
use auth::authenticate;
use routes::{dispatch, route};

/// A `retCode` answer (HTTP 200 unless stated).
#[derive(Debug)]
pub(super) struct Fail {
    http: StatusCode,
    code: i64,
    msg: String,
    /// What the refusal's `result` holds (set-margin-mode's reasons), if anything.
    result: Option<Value>,
}

fn fail(code: i64, msg: impl Into<String>) -> Fail {
    Fail {
        http: StatusCode::OK,
        code,
        msg: msg.into(),
        result: None,
    }
}

type Answer = Result<Value, Fail>;

fn envelope(result: Result<Value, Fail>, now: i64) -> (StatusCode, Value) {
    match result {
        Ok(mut result) => {
            // A batch hands its per-item verdicts up beside its result.
            let ext = result
                .as_object_mut()
                .and_then(|o| o.remove("retExtInfo"))
                .unwrap_or_else(|| json!({}));
            (
                StatusCode::OK,
                json!({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": ext, "time": now}),
            )
        }
        Err(f) => (
            f.http,
            json!({"retCode": f.code, "retMsg": f.msg, "result": f.result.unwrap_or_else(|| json!({})),
                "retExtInfo": {}, "time": now}),
        ),
    }
}

pub async fn handle(
    State(st): State<Arc<BybitState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let faults = &st.spot.faults;
    if take_one(&faults.rest_hang) {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    let now = st.spot.clock.now_ms();
    if take_one(&faults.rest_5xx) {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    let Some((endpoint, uid_limit)) = route(&method, uri.path()) else {
        let (status, body) = envelope(
            Err(Fail {
                http: StatusCode::NOT_FOUND,
                code: 10017,
                msg: "route not found".into(),
                result: None,
            }),
            now,
        );
        return (status, body.to_string()).into_response();
    };
    st.spot.count_request(method.as_str(), uri.path());
    let query = uri.query().unwrap_or("").to_owned();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let mut params: HashMap<String, String> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(&query)
            .unwrap_or_default()
            .into_iter()
            .collect();
    if method == Method::POST {
        match serde_json::from_str::<Map<String, Value>>(&body_text) {
            Ok(map) => {
                for (k, v) in map {
                    let text = match v {
                        Value::String(s) => s,
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        Value::Null => continue,
                        // A batch's `request` list, kept as its JSON text.
                        other => other.to_string(),
                    };
                    params.insert(k, text);
                }
            }
            Err(_) => {
                return reply(
                    envelope(Err(fail(10001, "request body is not valid JSON")), now),
                    None,
                );
            }
        }
    }
    let signed_payload = if method == Method::POST {
        body_text.as_str()
    } else {
        query.as_str()
    };
    let (answer, usage) = serve(
        &st,
        endpoint,
        uid_limit,
        &params,
        || authenticate(&st, &headers, signed_payload, now),
        now,
    );
    if answer.0 == StatusCode::FORBIDDEN {
        return (StatusCode::FORBIDDEN, "access too frequent").into_response();
    }
    reply(answer, usage)
}

/// A trade-WebSocket request (`order.create`, ...) as the REST request it mirrors (`args[0]` is
/// the REST body): the REST envelope and the usage, `None` if no endpoint is at `path`. The
/// session authenticated `account` at login.
pub fn call(
    st: &BybitState,
    path: &str,
    args: &Map<String, Value>,
    account: usize,
    now: i64,
) -> Option<((StatusCode, Value), Option<crate::limits::BybitUsage>)> {
    let (endpoint, uid_limit) = route(&Method::POST, path)?;
    st.spot.count_request("WS POST", path);
    let params: HashMap<String, String> = args
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (k.clone(), text)
        })
        .collect();
    Some(serve(st, endpoint, uid_limit, &params, || Ok(account), now))
}

/// The pipeline past the transport, REST's and the trade WebSocket's alike: the per-UID limit
/// (a batch by its orders), authentication, the endpoint's answer in its envelope. An IP ban
/// is a bare 403.
fn serve(
    st: &BybitState,
    endpoint: routes::Endpoint,
    uid_limit: Option<routes::UidLimit>,
    params: &HashMap<String, String>,
    authenticate: impl FnOnce() -> Result<usize, Fail>,
    now: i64,
) -> ((StatusCode, Value), Option<crate::limits::BybitUsage>) {
    let category = params.get("category").and_then(|c| Category::parse(c));
    let limit = uid_limit.map(|(name, linear, spot)| {
        (
            name,
            if category == Some(Category::Spot) {
                spot
            } else {
                linear
            },
        )
    });
    // A batch consumes the limit by its orders; those past it fail on their own.
    let orders = params
        .get("request")
        .and_then(|r| serde_json::from_str::<Vec<Value>>(r).ok())
        .map_or(1, |l| l.len() as u32);
    let (verdict, mut usage, granted) = st.limits.check_n(limit, orders);
    // The reset is written on the venue's clock, as its other timestamps.
    if let Some(u) = usage.as_mut() {
        u.reset_ms = u.reset_ms.saturating_add(st.spot.clock.offset_ms());
    }
    match verdict {
        BybitVerdict::Allowed => {}
        BybitVerdict::IpBanned { .. } => {
            return ((StatusCode::FORBIDDEN, json!("access too frequent")), usage);
        }
        BybitVerdict::TooMany => {
            return (envelope(Err(fail(10006, "Too many visits!")), now), usage);
        }
    }
    let account = if uid_limit.is_some() {
        match authenticate() {
            Ok(a) => Some(a),
            Err(f) => return (envelope(Err(f), now), usage),
        }
    } else {
        None
    };
    let answer = dispatch(
        st,
        endpoint,
        category,
        account,
        params,
        granted as usize,
        now,
    );
    (envelope(answer, now), usage)
}

fn reply(
    (status, body): (StatusCode, Value),
    usage: Option<crate::limits::BybitUsage>,
) -> Response {
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(u) = usage {
        let h = response.headers_mut();
        for (name, value) in [
            ("X-Bapi-Limit", u.limit.to_string()),
            ("X-Bapi-Limit-Status", u.remaining.to_string()),
            ("X-Bapi-Limit-Reset-Timestamp", u.reset_ms.to_string()),
        ] {
            if let Ok(v) = axum::http::HeaderValue::try_from(value) {
                h.insert(name, v);
            }
        }
    }
    response
}

fn need<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Fail> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| fail(10001, format!("params error: {name} is required")))
}

/// Whether the market lists no such symbol.
fn unknown(ex: &Exchange, s: &str) -> bool {
    !ex.symbols.contains_key(s)
}

/// The answer to a symbol the category does not list.
fn bad_symbol(category: Category) -> Fail {
    if category == Category::Spot {
        fail(170121, "Invalid symbol.")
    } else {
        fail(10001, "params error: symbol invalid")
    }
}
