//! Binance REST: the request pipeline of spot (`/api/v3`) and USD-M (`/fapi`) — faults, routing,
//! weights and limits with their `X-MBX-*` headers, authentication, dispatch, the JSON answer —
//! and the types every endpoint shares (`ApiError`, `Params`). Responses use the venue's JSON
//! shapes and error codes (PROTOCOLS.md sections 2.1, 3, 4.4, 5, 6, 8).

mod account;
mod algo;
mod auth;
mod listen_key;
mod market;
mod orders;
mod routes;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde_json::{Value, json};

pub use algo::algo_update;
pub use auth::{check_timestamp, hmac_hex};
pub use market::quote_decimals;
pub use orders::{OrderView, order_json};

use super::{BinanceState, interval_parts};
use crate::exchange::Exchange;
use crate::limits::{Path, Verdict};
use crate::market::take_one;
use auth::authenticate;
use routes::{Endpoint, dispatch, route, weight};

/// A Binance error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i64,
    pub msg: String,
    pub headers: Vec<(String, String)>,
    /// What a compound request did before failing (cancel-replace's `data`).
    pub data: Option<Box<Value>>,
}

impl ApiError {
    pub fn new(status: u16, code: i64, msg: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            msg: msg.into(),
            headers: Vec::new(),
            data: None,
        }
    }

    fn bad(code: i64, msg: impl Into<String>) -> ApiError {
        ApiError::new(400, code, msg)
    }

    fn mandatory(name: &str) -> ApiError {
        ApiError::bad(
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }
}

pub type Answer = Result<Value, ApiError>;

/// Request parameters from the query string and the form body (the query wins).
#[derive(Debug, Default, Clone)]
pub struct Params(pub(super) HashMap<String, String>);

impl Params {
    /// The parameters of a WebSocket API request: its JSON values as the text REST sends.
    pub fn of_json(params: &serde_json::Map<String, Value>) -> Params {
        Params(
            params
                .iter()
                .map(|(k, v)| {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), text)
                })
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::mandatory(name))
    }

    fn decimal(&self, name: &str) -> Result<Option<Decimal>, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        let valid = !text.is_empty()
            && text
                .split_once('.')
                .map_or(text.len() <= 20, |(i, f)| i.len() <= 20 && f.len() <= 20)
            && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && text.matches('.').count() <= 1;
        let value: Option<Decimal> = if valid { text.parse().ok() } else { None };
        value.map(Some).ok_or_else(|| {
            ApiError::bad(
                -1100,
                format!("Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."),
            )
        })
    }

    fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|t| t.parse::<i64>().map_err(|_| ApiError::bad(-1100, format!("Illegal characters found in parameter '{name}'; legal range is '^(-)?[0-9]{{1,20}}$'."))))
            .transpose()
    }
}

pub async fn handle(
    State(st): State<Arc<BinanceState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let faults = &st.market.faults;
    if take_one(&faults.rest_hang) {
        // Never answer: the client must time out on its own.
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    if take_one(&faults.rest_5xx) {
        return respond(
            Err(ApiError::new(
                503,
                -1008,
                "Server is currently overloaded with other requests. Please try again in a few minutes.",
            )),
            Vec::new(),
        );
    }
    let spot = st.spot();
    let path = uri.path();
    let Some((endpoint, signed)) = route(spot, &method, path) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    st.market.count_request(method.as_str(), path);
    let query = uri.query().unwrap_or("");
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let mut params = Params::default();
    for raw in [&body_text, &query.to_owned()] {
        if let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(raw) {
            params.0.extend(pairs);
        }
    }
    let (answer, usage) = serve(
        &st,
        endpoint,
        signed,
        &params,
        Path::Rest,
        || authenticate(&st, &headers, query, &body_text, &params),
        &headers,
    );
    let (n, _, letter) = interval_parts(st.limits.weight_window);
    let mut extra = vec![(
        format!("X-MBX-USED-WEIGHT-{n}{letter}"),
        usage.weight.to_string(),
    )];
    if usage.placed {
        let (n, _, letter) = interval_parts(st.limits.order_window);
        extra.push((
            format!("X-MBX-ORDER-COUNT-{n}{letter}"),
            usage.orders.to_string(),
        ));
    }
    respond(answer, extra)
}

/// A WebSocket API request as the REST request it mirrors (the two are "functionally
/// equivalent": same parameters, answers and errors): `None` if no endpoint is `method path`.
/// `authenticate` is the API's own (a signature in the parameters, or the session's logon).
pub fn call(
    st: &BinanceState,
    method: &Method,
    path: &str,
    params: &Params,
    authenticate: impl FnOnce(&Params) -> Result<usize, ApiError>,
) -> Option<(Answer, Used)> {
    let (endpoint, signed) = route(st.spot(), method, path)?;
    st.market.count_request(&format!("WS {method}"), path);
    Some(serve(
        st,
        endpoint,
        signed,
        params,
        Path::WsApi,
        || authenticate(params),
        &HeaderMap::new(),
    ))
}

/// What a request used of the limits: the weight, the order count, and whether it counts orders.
#[derive(Debug)]
pub struct Used {
    pub weight: u32,
    pub orders: u32,
    pub placed: bool,
}

/// The pipeline past the transport, REST's and the WebSocket API's alike: the limits, the
/// authentication of a signed request, the endpoint's answer.
fn serve(
    st: &BinanceState,
    endpoint: Endpoint,
    signed: bool,
    params: &Params,
    path: Path,
    authenticate: impl FnOnce() -> Result<usize, ApiError>,
    headers: &HeaderMap,
) -> (Answer, Used) {
    let spot = st.spot();
    // What counts against the order-count limits: a new order (cancel-replace's included) and
    // a USD-M modify; spot's keep-priority amend counts 0.
    let orders = match endpoint {
        Endpoint::PlaceOrder | Endpoint::CancelReplace | Endpoint::AlgoPlace => 1,
        // An OCO's two orders count two.
        Endpoint::PlaceOco => 2,
        Endpoint::AmendOrder if !spot => 1,
        // USD-M batches count 5 on the 10-second order window.
        Endpoint::PlaceBatch | Endpoint::AmendBatch => 5,
        _ => 0,
    };
    let (verdict, usage) = st
        .limits
        .check_on(weight(spot, endpoint, params), orders, path);
    let used = Used {
        weight: usage.weight,
        orders: usage.orders,
        placed: orders > 0,
    };
    match verdict {
        Verdict::Allowed => {}
        Verdict::TooMany {
            retry_after_s,
            orders,
        } => {
            let (msg, code) = if orders {
                let (n, unit, _) = interval_parts(st.limits.order_window);
                (
                    format!(
                        "Too many new orders; current limit is {} orders per {n} {unit}.",
                        st.limits.order_limit
                    ),
                    -1015,
                )
            } else {
                let (n, unit, _) = interval_parts(st.limits.weight_window);
                (
                    format!(
                        "Too much request weight used; current limit is {} request weight per {n} {unit}. Please use WebSocket Streams for live updates to avoid polling the API.",
                        st.limits.weight_limit
                    ),
                    -1003,
                )
            };
            let mut err = ApiError::new(429, code, msg);
            err.headers
                .push(("Retry-After".into(), retry_after_s.to_string()));
            return (Err(err), used);
        }
        Verdict::Banned {
            until_ms,
            retry_after_s,
        } => {
            // The venue names the end on its own clock (skewed by a clock fault).
            let until_ms = until_ms.saturating_add(st.market.clock.offset_ms());
            let mut err = ApiError::new(
                418,
                -1003,
                format!(
                    "Way too much request weight used; IP banned until {until_ms}. Please use the websocket for live updates to avoid bans."
                ),
            );
            err.headers
                .push(("Retry-After".into(), retry_after_s.to_string()));
            return (Err(err), used);
        }
    }
    let account = if signed {
        match authenticate() {
            Ok(account) => Some(account),
            Err(e) => return (Err(e), used),
        }
    } else {
        None
    };
    (dispatch(st, endpoint, account, params, headers), used)
}

fn respond(answer: Answer, headers: Vec<(String, String)>) -> Response {
    let (status, body, more) = match answer {
        Ok(value) => (StatusCode::OK, value.to_string(), Vec::new()),
        Err(e) => (
            e.status,
            match &e.data {
                Some(data) => json!({"code": e.code, "msg": e.msg, "data": data}),
                None => json!({"code": e.code, "msg": e.msg}),
            }
            .to_string(),
            e.headers,
        ),
    };
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    for (k, v) in headers.into_iter().chain(more) {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(k),
            axum::http::HeaderValue::try_from(v),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A history listing as Binance pages it (rows `(id, time, json)`): from an id on (`id_key`,
/// without times), or the oldest from `startTime` (to `endTime`), or the latest up to
/// `endTime`, or the latest; oldest first, at most `limit` (<= 1000). A window longer than
/// `longest` ms (`endTime - startTime`) is refused as the venue words it (`span`).
fn paged(
    mut rows: Vec<(u64, i64, Value)>,
    params: &Params,
    id_key: &str,
    longest: Option<(i64, &str)>,
) -> Answer {
    let limit = params.int("limit")?.unwrap_or(500).clamp(1, 1000) as usize;
    let from = params.int(id_key)?;
    let (start, end) = (params.int("startTime")?, params.int("endTime")?);
    if from.is_some() && (start.is_some() || end.is_some()) {
        return Err(ApiError::bad(
            -1128,
            "Combination of optional parameters invalid.",
        ));
    }
    if let (Some(s), Some(e), Some((most, span))) = (start, end, longest)
        && e - s > most
    {
        return Err(ApiError::bad(
            -1127,
            format!("More than {span} between startTime and endTime."),
        ));
    }
    rows.sort_by_key(|r| r.0);
    let take: Vec<Value> = if let Some(from) = from {
        rows.into_iter()
            .filter(|r| r.0 as i64 >= from)
            .take(limit)
            .map(|r| r.2)
            .collect()
    } else if let Some(start) = start {
        rows.into_iter()
            .filter(|r| r.1 >= start && end.is_none_or(|e| r.1 <= e))
            .take(limit)
            .map(|r| r.2)
            .collect()
    } else {
        let kept: Vec<_> = rows
            .into_iter()
            .filter(|r| end.is_none_or(|e| r.1 <= e))
            .collect();
        let skip = kept.len().saturating_sub(limit);
        kept.into_iter().skip(skip).map(|r| r.2).collect()
    };
    Ok(Value::Array(take))
}

fn symbol_of<'a>(ex: &Exchange, params: &'a Params) -> Result<&'a str, ApiError> {
    let symbol = params.require("symbol")?;
    if ex.symbols.contains_key(symbol) {
        Ok(symbol)
    } else {
        Err(ApiError::bad(-1121, "Invalid symbol."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_render_as_the_venue_does() {
        assert_eq!(
            interval_parts(std::time::Duration::from_secs(60)),
            (1, "MINUTE", 'M')
        );
        assert_eq!(
            interval_parts(std::time::Duration::from_secs(10)),
            (10, "SECOND", 'S')
        );
        assert_eq!(
            interval_parts(std::time::Duration::from_secs(86_400)),
            (1, "DAY", 'D')
        );
    }
}
