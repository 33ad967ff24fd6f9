//! Bybit's trade WebSocket (`/v5/trade`): order entry on a session logged in once (`op: auth`,
//! the private stream's signature). Each request names its REST endpoint by `op`
//! (`order.create` is `POST /v5/order/create`, batches `order.create-batch`) and carries the
//! REST body as `args[0]` and the timestamp in `header`; its answer is the REST answer's
//! `result` as `data` and its `X-Bapi-*` headers as `header` (docs/order-entry.md).

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep_until};

use super::BybitState;
use super::ws::{conn_id, ws_auth};
use crate::market::take_one;

pub async fn session(State(st): State<Arc<BybitState>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| run(st, socket))
}

/// The REST path an order operation mirrors.
fn path_of(op: &str) -> Option<&'static str> {
    Some(match op {
        "order.create" => "/v5/order/create",
        "order.amend" => "/v5/order/amend",
        "order.cancel" => "/v5/order/cancel",
        "order.create-batch" => "/v5/order/create-batch",
        "order.amend-batch" => "/v5/order/amend-batch",
        "order.cancel-batch" => "/v5/order/cancel-batch",
        _ => return None,
    })
}

/// A request's `header` timestamp against its recv window: "Bybit_server_time -
/// X-BAPI-RECV-WINDOW <= X-BAPI-TIMESTAMP < Bybit_server_time + 1000".
fn timely(request: &Value, now: i64) -> Result<(), String> {
    let header = |name: &str| {
        request
            .get("header")
            .and_then(|h| h.get(name))
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
    };
    let Some(ts) = header("X-BAPI-TIMESTAMP") else {
        return Err("params error: X-BAPI-TIMESTAMP is required".into());
    };
    let window = header("X-BAPI-RECV-WINDOW").unwrap_or(5000);
    if now - window <= ts && ts < now + 1000 {
        Ok(())
    } else {
        Err(format!(
            "invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts}],server_timestamp[{now}],recv_window[{window}]"
        ))
    }
}

/// One order operation's answer: the REST envelope's `result` as `data`, its usage headers as
/// `header`.
fn order_op(st: &BybitState, op: &str, request: &Value, account: usize, conn: &str) -> Value {
    let now = st.spot.clock.now_ms();
    let refuse = |code: i64, msg: String| json!({"retCode": code, "retMsg": msg, "op": op, "data": {}, "retExtInfo": {}, "connId": conn});
    if let Err(why) = timely(request, now) {
        return refuse(10002, why);
    }
    let args = request
        .get("args")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(path) = path_of(op) else {
        return refuse(10404, format!("op type is not found: {op}"));
    };
    let Some(((_, envelope), usage)) = super::rest::call(st, path, &args, account, now) else {
        return refuse(10404, format!("op type is not found: {op}"));
    };
    let mut header =
        json!({"Traceid": format!("{:032x}", fastrand::u128(..)), "Timenow": now.to_string()});
    if let Some(u) = usage {
        header["X-Bapi-Limit"] = json!(u.limit.to_string());
        header["X-Bapi-Limit-Status"] = json!(u.remaining.to_string());
        header["X-Bapi-Limit-Reset-Timestamp"] = json!(u.reset_ms.to_string());
    }
    json!({
        "retCode": envelope.get("retCode").cloned().unwrap_or(json!(10016)),
        "retMsg": envelope.get("retMsg").cloned().unwrap_or(json!("")),
        "op": op,
        "data": envelope.get("result").cloned().unwrap_or_else(|| json!({})),
        "retExtInfo": envelope.get("retExtInfo").cloned().unwrap_or_else(|| json!({})),
        "header": header,
        "connId": conn,
    })
}

async fn run(st: Arc<BybitState>, mut socket: WebSocket) {
    let faults = &st.spot.faults;
    let mut link = crate::wire::Link::open(&st.spot, "trade", Vec::new());
    let conn = conn_id();
    let mut account: Option<usize> = None;
    let mut last_inbound = Instant::now();
    let end_of_life = Instant::now() + st.timing.max_connection_lifetime;
    let mut out: Vec<String> = Vec::new();
    loop {
        if !link.thawed().await {
            return;
        }
        let idle_deadline = last_inbound + st.timing.bybit_idle_timeout;
        tokio::select! {
            _ = link.changed() => continue,
            _ = sleep_until(end_of_life.min(idle_deadline)) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                last_inbound = Instant::now();
                let Message::Text(text) = message else { continue };
                let request: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                let op = request.get("op").and_then(Value::as_str).unwrap_or("");
                let mut reply = match (op, account) {
                    ("ping", _) => json!({"retCode": 0, "retMsg": "OK", "op": "pong",
                        "data": [st.spot.clock.now_ms().to_string()], "connId": conn}),
                    ("auth", _) => {
                        let args = request.get("args").and_then(Value::as_array).cloned().unwrap_or_default();
                        match ws_auth(&st, &args) {
                            Ok(a) => {
                                account = Some(a);
                                json!({"retCode": 0, "retMsg": "OK", "op": "auth", "connId": conn})
                            }
                            Err(why) => json!({"retCode": 10004, "retMsg": why, "op": "auth", "connId": conn}),
                        }
                    }
                    (op, Some(_)) if path_of(op).is_some() && take_one(&faults.rest_hang) => {
                        // Swallowed: never carried out, never answered.
                        continue;
                    }
                    (op, Some(a)) if op.starts_with("order.") => {
                        let reply = order_op(&st, op, &request, a, &conn);
                        if path_of(op).is_some() && take_one(&faults.lose_write_answers) {
                            // Carried out; its answer is lost with the connection.
                            return;
                        }
                        reply
                    }
                    (op, None) if op.starts_with("order.") => json!({"retCode": 10003,
                        "retMsg": "Request not authorized", "op": op, "connId": conn}),
                    (op, _) => json!({"retCode": 10404, "retMsg": format!("op type is not found: {op}"),
                        "op": op, "connId": conn}),
                };
                if let Some(id) = request.get("reqId") {
                    reply["reqId"] = id.clone();
                }
                out.push(reply.to_string());
            }
        }
        if !crate::wire::flush(&mut socket, &mut out, faults).await {
            return;
        }
    }
}
