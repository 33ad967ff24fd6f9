//! Binance user data. Spot: only over the WebSocket API (`/ws-api/v3`,
//! `userDataStream.subscribe.signature`; events wrapped as `{"subscriptionId","event"}`).
//! USD-M: the listenKey stream on `/private` (`/private/ws/<key>`, `/private/stream?streams=<key>`
//! or SUBSCRIBE with the key), `ORDER_TRADE_UPDATE` / `ACCOUNT_UPDATE`, and `listenKeyExpired`
//! once a key is not kept alive (PROTOCOLS.md 7.1, 7.2).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, sleep_until};

use super::rest::{self, ApiError, Params, check_timestamp};
use super::{BinanceState, exact, fixed, interval_parts, side_str, status_str, tif_str, type_str};
use crate::exchange::{Event, Exchange, ExecKind, FillRec, Order, Status};
use crate::limits::Verdict;
use crate::market::take_one;

fn exec_str(kind: ExecKind, spot: bool) -> &'static str {
    match kind {
        ExecKind::Amended if spot => "REPLACED",
        ExecKind::Amended => "AMENDMENT",
        ExecKind::New => "NEW",
        ExecKind::Trade => "TRADE",
        ExecKind::Canceled => "CANCELED",
        ExecKind::Expired => "EXPIRED",
        ExecKind::Rejected => "REJECTED",
    }
}

fn execution_report(
    ex: &Exchange,
    o: &Order,
    kind: ExecKind,
    fill: Option<&FillRec>,
    seq: u64,
    now: i64,
) -> Value {
    let spec = &ex.symbols[&o.symbol].spec;
    let f8 = |d: Decimal| fixed(d, 8);
    let price = o.price.map_or(Decimal::ZERO, |p| spec.price(p));
    let (last_qty, last_price, fee, fee_asset, trade_id, maker) = match fill {
        Some(f) => (
            f.qty,
            f.price,
            f.fee,
            json!(f.fee_asset),
            f.trade_id as i64,
            f.is_maker,
        ),
        None => (
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
            Value::Null,
            -1,
            false,
        ),
    };
    // An amendment names the order's client id before it (kept the same by our client).
    let orig_client = if kind == ExecKind::Amended {
        o.client_id.as_str()
    } else {
        ""
    };
    let mut v = json!({"e": "executionReport", "E": now, "s": o.symbol, "c": o.client_id, "S": side_str(o.side),
        "o": type_str(o, true), "f": tif_str(o.tif, true), "q": f8(spec.qty(o.lots)), "p": f8(price),
        "P": f8(super::stop_price(o)), "F": f8(Decimal::ZERO), "g": o.list.as_ref().map_or(-1, |l| l.id as i64), "C": orig_client, "x": exec_str(kind, true), "X": status_str(o.status),
        "r": "NONE", "i": o.id, "l": f8(last_qty), "z": f8(spec.qty(o.filled)), "L": f8(last_price), "n": f8(fee),
        "N": fee_asset, "T": o.updated_ms, "t": trade_id, "I": seq, "w": o.status.is_open() && o.status != Status::Untriggered, "m": maker, "M": false,
        "O": o.created_ms, "Z": f8(o.cum_quote), "Y": f8(last_qty * last_price), "Q": f8(o.quote_qty.unwrap_or_default()),
        "W": o.created_ms, "V": "NONE"});
    if let (Status::Expired, Some(why)) = (o.status, o.reject) {
        v["eR"] = json!(why); // the expiry reason (an OCO's other leg traded or triggered)
    }
    // A trailing stop's delta, and the time it became active (once it is).
    if let (Some(bips), Some(t)) = (super::trailing_bips(o), o.trail) {
        v["d"] = json!(bips);
        if t.extreme.is_some() {
            v["D"] = json!(o.updated_ms);
        }
    }
    v
}

/// An order list's status as the spot stream tells it: started with its second leg's
/// placement (the list's legs are placed stop first).
fn list_status(ex: &Exchange, o: &Order, kind: ExecKind, now: i64) -> Option<Value> {
    let list = o.list.as_ref()?;
    let started = kind == ExecKind::New && o.status == Status::New && o.id > list.partner;
    let partner = ex
        .orders
        .get(&list.partner)
        .map_or("", |p| p.client_id.as_str());
    started.then(|| {
        json!({"e": "listStatus", "E": now, "s": o.symbol, "g": list.id, "c": "OCO", "l": "EXEC_STARTED",
            "L": "EXECUTING", "r": "NONE", "C": list.client_id, "T": o.updated_ms,
            "O": [{"s": o.symbol, "i": list.partner, "c": partner}, {"s": o.symbol, "i": o.id, "c": o.client_id}]})
    })
}

fn order_trade_update(
    ex: &Exchange,
    o: &Order,
    kind: ExecKind,
    fill: Option<&FillRec>,
    now: i64,
) -> Value {
    let spec = &ex.symbols[&o.symbol].spec;
    let super::Figures {
        pd,
        qd,
        price,
        executed: filled,
        avg,
    } = super::usdm_figures(ex, o);
    let (last_qty, last_price, fee, fee_asset, trade_id, maker) = match fill {
        Some(f) => (
            f.qty,
            f.price,
            f.fee,
            f.fee_asset.clone(),
            f.trade_id as i64,
            f.is_maker,
        ),
        None => (
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
            spec.quote.clone(),
            0,
            false,
        ),
    };
    json!({"e": "ORDER_TRADE_UPDATE", "E": now, "T": o.updated_ms, "o": {
        "s": o.symbol, "c": o.client_id, "S": side_str(o.side), "o": type_str(o, false), "f": tif_str(o.tif, false),
        "q": exact(spec.qty(o.lots), qd), "p": exact(price, pd), "ap": fixed(avg, pd.max(2)), "sp": "0",
        "x": exec_str(kind, false), "X": status_str(o.status), "i": o.id, "l": exact(last_qty, qd), "z": exact(filled, qd),
        "L": exact(last_price, pd), "N": fee_asset, "n": fixed(fee, 8), "T": o.updated_ms, "t": trade_id,
        "b": "0", "a": "0", "m": maker, "R": o.reduce_only, "wt": "CONTRACT_PRICE", "ot": type_str(o, false),
        "ps": o.leg.word(), "cp": false, "rp": "0", "pP": false, "si": 0, "ss": 0, "V": "NONE", "pm": "NONE", "gtd": 0}})
}

/// The USD-M events of one execution report. An algo-service order speaks `ALGO_UPDATE` until
/// it triggers (NEW, TRIGGERING; CANCELED before it); the order it became then speaks
/// `ORDER_TRADE_UPDATE`, followed by the algo order's TRIGGERED once it works and FINISHED once
/// it ended (EXPIRED, without an order, when it could not be placed).
fn usdm_order_events(
    ex: &Exchange,
    o: &Order,
    kind: ExecKind,
    fill: Option<&FillRec>,
    now: i64,
) -> Vec<Value> {
    let algo = |o: &Order| json!({"e": "ALGO_UPDATE", "T": o.updated_ms, "E": now, "o": super::rest::algo_update(ex, o)});
    if o.algo.is_none() {
        return vec![order_trade_update(ex, o, kind, fill, now)];
    }
    if !o.became() {
        return vec![algo(o)];
    }
    let mut out = vec![order_trade_update(ex, o, kind, fill, now)];
    if (kind == ExecKind::New && o.status == Status::New) || !o.status.is_open() {
        out.push(algo(o));
    }
    out
}

fn balances_spot(assets: &[(String, crate::exchange::Balance)], now: i64) -> Value {
    let b: Vec<Value> = assets
        .iter()
        .map(|(a, b)| json!({"a": a, "f": fixed(b.free, 8), "l": fixed(b.locked, 8)}))
        .collect();
    json!({"e": "outboundAccountPosition", "E": now, "u": now, "B": b})
}

fn account_update(ex: &Exchange, account: usize, symbol: Option<&str>, now: i64) -> Value {
    let a = &ex.accounts[account];
    let usdt = a.balances.get("USDT").cloned().unwrap_or_default();
    let wallet = usdt.free + usdt.locked;
    // The symbol's legs (one-way: BOTH; hedge: LONG and SHORT), as the venue lists them.
    let positions: Vec<Value> = symbol
        .into_iter()
        .flat_map(|s| ex.legs(account, s).iter().map(move |leg| (s, *leg)))
        .map(|(s, leg)| {
            let p = ex.position(account, s, leg);
            let margin = if a.settings.isolated.contains(s) { "isolated" } else { "cross" };
            json!({"s": s, "pa": p.size.normalize().to_string(), "ep": p.entry.normalize().to_string(),
                "bep": p.entry.normalize().to_string(), "cr": p.realized.normalize().to_string(),
                "up": fixed(ex.unrealized(account, s, leg), 8), "mt": margin, "iw": "0", "ps": leg.word()})
        })
        .collect();
    json!({"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": "ORDER",
        "B": [{"a": "USDT", "wb": fixed(wallet, 8), "cw": fixed(wallet, 8), "bc": "0"}], "P": positions}})
}

// ---------------------------------------------------------------------------------------------
// USD-M listenKey stream

pub async fn private_raw(
    State(st): State<Arc<BinanceState>>,
    Path(key): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| listen_key_session(st, socket, vec![key], false))
}

pub async fn private_combined(
    State(st): State<Arc<BinanceState>>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    // A listen key is named like a stream: `/private/stream?streams=<key>`.
    let keys = super::ws::streams_of(query);
    ws.on_upgrade(move |socket| listen_key_session(st, socket, keys, true))
}

/// `/private/ws`, optionally with `?listenKey=` (the form ccxt.pro uses).
pub async fn private_bare(
    State(st): State<Arc<BinanceState>>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(&query.unwrap_or_default()).unwrap_or_default();
    let keys: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "listenKey")
        .map(|(_, v)| v)
        .collect();
    let combined = keys.is_empty();
    ws.on_upgrade(move |socket| listen_key_session(st, socket, keys, combined))
}

fn key_account(st: &BinanceState, key: &str, now: i64) -> Option<(usize, i64)> {
    let keys = st.listen_keys.lock().unwrap_or_else(|p| p.into_inner());
    keys.get(key).copied().filter(|(_, expires)| *expires > now)
}

async fn listen_key_session(
    st: Arc<BinanceState>,
    mut socket: WebSocket,
    initial: Vec<String>,
    combined: bool,
) {
    let now = st.market.clock.now_ms();
    // key → account, for keys that are live; an expired one gets `listenKeyExpired` once.
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for key in initial {
        match key_account(&st, &key, now) {
            Some((account, _)) => {
                keys.insert(key, account);
            }
            None => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    }
    let faults = &st.market.faults;
    let mut user_events = crate::wire::UserEvents::default();
    let mut link = crate::wire::Link::open(&st.market, "user", keys.keys().cloned().collect());
    let mut events = st.market.lock().subscribe();
    let ping_every = st.timing.usdm_ping_interval;
    let end_of_life = Instant::now() + st.timing.max_connection_lifetime;
    let mut next_ping = Instant::now() + ping_every;
    let mut check = tokio::time::interval(
        Duration::from_millis(20)
            .min(st.timing.listen_key_validity / 4)
            .max(Duration::from_millis(1)),
    );
    let mut out: Vec<String> = Vec::new();
    let frame = |key: &str, data: Value| {
        if combined {
            json!({"stream": key, "data": data}).to_string()
        } else {
            data.to_string()
        }
    };
    loop {
        if !link.thawed().await {
            return;
        }
        tokio::select! {
            _ = link.changed() => continue,
            _ = sleep_until(end_of_life) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            _ = sleep_until(next_ping) => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
                next_ping = Instant::now() + ping_every;
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                match message {
                    Message::Text(text) => {
                        let request: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                        let id = request.get("id").cloned().unwrap_or(Value::Null);
                        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
                        let params: Vec<String> = request.get("params").and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default();
                        let now = st.market.clock.now_ms();
                        let reply = match method {
                            "SUBSCRIBE" => {
                                let mut ok = true;
                                for key in params {
                                    match key_account(&st, &key, now) {
                                        Some((account, _)) => { keys.insert(key, account); }
                                        None => ok = false,
                                    }
                                }
                                if ok { json!({"result": null, "id": id}) } else { json!({"code": 2, "msg": "Invalid request: invalid listenKey", "id": id}) }
                            }
                            "UNSUBSCRIBE" => {
                                for key in params { keys.remove(&key); }
                                json!({"result": null, "id": id})
                            }
                            "LIST_SUBSCRIPTIONS" => json!({"result": keys.keys().collect::<Vec<_>>(), "id": id}),
                            _ => json!({"code": 2, "msg": format!("Invalid request: unknown variant `{method}`"), "id": id}),
                        };
                        link.set_streams(keys.keys().cloned());
                        out.push(reply.to_string());
                    }
                    Message::Close(_) => return,
                    _ => {}
                }
            }
            _ = check.tick() => {
                let now = st.market.clock.now_ms();
                let expired: Vec<String> = keys.keys().filter(|k| key_account(&st, k, now).is_none()).cloned().collect();
                if !expired.is_empty() {
                    for key in &expired {
                        keys.remove(key);
                    }
                    link.set_streams(keys.keys().cloned());
                }
                for key in expired {
                    out.push(frame(&key, json!({"e": "listenKeyExpired", "E": now, "listenKey": key})));
                }
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let now = st.market.clock.now_ms();
                    let ex = st.market.lock();
                    for (key, account) in &keys {
                        match &*event {
                            Event::Execution { account: a, order, kind, fill, .. } if a == account => {
                                for event in usdm_order_events(&ex, order, *kind, fill.as_ref(), now) {
                                    user_events.push(faults, frame(key, event), &mut out);
                                }
                            }
                            Event::Position { account: a, symbol, .. } if a == account => {
                                user_events.push(faults, frame(key, account_update(&ex, *account, Some(symbol), now)), &mut out);
                            }
                            _ => {}
                        }
                    }
                }
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
        }
        if !crate::wire::flush(&mut socket, &mut out, faults).await {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket API: order entry (spot `ws-api/v3`, USD-M `ws-fapi/v1`) and spot user data

/// The REST endpoint a WebSocket API method mirrors.
fn rest_of(spot: bool, method: &str) -> Option<(axum::http::Method, &'static str)> {
    use axum::http::Method as M;
    Some(match (spot, method) {
        (true, "order.place") => (M::POST, "/api/v3/order"),
        (true, "order.cancel") => (M::DELETE, "/api/v3/order"),
        (true, "order.status") => (M::GET, "/api/v3/order"),
        (true, "order.amend.keepPriority") => (M::PUT, "/api/v3/order/amend/keepPriority"),
        (true, "order.cancelReplace") => (M::POST, "/api/v3/order/cancelReplace"),
        (true, "orderList.place.oco") => (M::POST, "/api/v3/orderList/oco"),
        (true, "openOrders.status") => (M::GET, "/api/v3/openOrders"),
        (true, "openOrders.cancelAll") => (M::DELETE, "/api/v3/openOrders"),
        (false, "order.place") => (M::POST, "/fapi/v1/order"),
        (false, "order.modify") => (M::PUT, "/fapi/v1/order"),
        (false, "order.cancel") => (M::DELETE, "/fapi/v1/order"),
        (false, "order.status") => (M::GET, "/fapi/v1/order"),
        (false, "algoOrder.place") => (M::POST, "/fapi/v1/algoOrder"),
        (false, "algoOrder.cancel") => (M::DELETE, "/fapi/v1/algoOrder"),
        _ => return None,
    })
}

/// A WebSocket API request's account: its own signature (any key type), else the session's
/// `session.logon` (then only the `timestamp` is checked).
fn api_account(
    st: &BinanceState,
    params: &Params,
    raw: &serde_json::Map<String, Value>,
    logged_on: Option<usize>,
) -> Result<usize, ApiError> {
    let Some(signature) = params.get("signature") else {
        let account = logged_on.ok_or_else(|| {
            ApiError::new(
                401,
                -2015,
                "Invalid API-key, IP, or permissions for action.",
            )
        })?;
        check_timestamp(st, params)?;
        return Ok(account);
    };
    let key = params.get("apiKey").unwrap_or("");
    let ex = st.market.lock();
    let account = ex.account_by_key(key).ok_or_else(|| {
        ApiError::new(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    })?;
    if !super::signature_ok(&ex.accounts[account], key, &ws_api_payload(raw), signature) {
        return Err(ApiError::new(
            400,
            -1022,
            "Signature for this request is not valid.",
        ));
    }
    drop(ex);
    check_timestamp(st, params)?;
    Ok(account)
}

/// An order-entry request served as its REST endpoint, in the API's envelope: the REST body as
/// `result` (or its error as `error`), the usage as `rateLimits` unless `returnRateLimits` is
/// false.
fn order_entry(
    st: &BinanceState,
    verb: &axum::http::Method,
    path: &str,
    raw: &serde_json::Map<String, Value>,
    logged_on: Option<usize>,
    id: Value,
) -> Value {
    let params = Params::of_json(raw);
    let now = st.market.clock.now_ms();
    let Some((answer, used)) = rest::call(st, verb, path, &params, |p| {
        api_account(st, p, raw, logged_on)
    }) else {
        return json!({"id": id, "status": 400, "error": {"code": -1020, "msg": "This operation is not supported."}});
    };
    let mut reply = match answer {
        Ok(result) => json!({"id": id, "status": 200, "result": result}),
        Err(e) => {
            let mut error = json!({"code": e.code, "msg": e.msg});
            if let Some(data) = e.data {
                error["data"] = *data;
            }
            // REST's Retry-After (seconds) is the API's `data.retryAfter` (venue ms).
            if let Some(secs) = e
                .headers
                .iter()
                .find(|(k, _)| k == "Retry-After")
                .and_then(|(_, v)| v.parse::<i64>().ok())
            {
                error["data"] = json!({"serverTime": now, "retryAfter": now.saturating_add(secs.saturating_mul(1000))});
            }
            json!({"id": id, "status": e.status.as_u16(), "error": error})
        }
    };
    if raw.get("returnRateLimits") != Some(&Value::Bool(false)) {
        let (n, unit, _) = interval_parts(st.limits.weight_window);
        let mut limits = vec![
            json!({"rateLimitType": "REQUEST_WEIGHT", "interval": unit, "intervalNum": n,
            "limit": st.limits.weight_limit, "count": used.weight}),
        ];
        if used.placed {
            let (n, unit, _) = interval_parts(st.limits.order_window);
            limits.push(
                json!({"rateLimitType": "ORDERS", "interval": unit, "intervalNum": n,
                "limit": st.limits.order_limit, "count": used.orders}),
            );
        }
        reply["rateLimits"] = Value::Array(limits);
    }
    reply
}

pub async fn ws_api(State(st): State<Arc<BinanceState>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| ws_api_session(st, socket))
}

/// WS-API request signing: every param but `signature`, sorted by name, `k=v` joined by `&`.
fn ws_api_payload(params: &serde_json::Map<String, Value>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "signature")
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

async fn ws_api_session(st: Arc<BinanceState>, mut socket: WebSocket) {
    let faults = &st.market.faults;
    let mut user_events = crate::wire::UserEvents::default();
    let mut link = crate::wire::Link::open(&st.market, "api", Vec::new());
    let mut events = st.market.lock().subscribe();
    let connected = st.market.clock.now_ms();
    let end_of_life = Instant::now() + st.timing.max_connection_lifetime;
    // subscriptionId → account.
    let mut subscriptions: BTreeMap<u64, usize> = BTreeMap::new();
    let mut next_subscription = 0u64;
    // (account, api key, since) of a `session.logon`, and the subscription made under it.
    let mut logged_on: Option<(usize, String, i64)> = None;
    let mut logon_subscription: Option<u64> = None;
    let mut out: Vec<String> = Vec::new();
    let mut notices = faults.shutdown_notice.subscribe();
    notices.mark_unchanged();
    let mut closing_at = end_of_life;
    loop {
        if !link.thawed().await {
            return;
        }
        tokio::select! {
            _ = link.changed() => continue,
            _ = sleep_until(closing_at) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            Ok(()) = notices.changed() => {
                // "Please establish a new connection as soon as possible": it closes later.
                let delay = notices.borrow_and_update().1;
                closing_at = closing_at.min(Instant::now() + delay);
                let now = st.market.clock.now_ms();
                out.push(json!({"event": {"e": "serverShutdown", "E": now}}).to_string());
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                let Message::Text(text) = message else {
                    if matches!(message, Message::Close(_)) { return; }
                    continue;
                };
                let request: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                let id = request.get("id").cloned().unwrap_or(Value::Null);
                let method = request.get("method").and_then(Value::as_str).unwrap_or("");
                let method = method.strip_prefix("v3/").unwrap_or(method);
                let params = request.get("params").and_then(Value::as_object).cloned().unwrap_or_default();
                if let Some((verb, path)) = rest_of(st.spot(), method) {
                    if take_one(&faults.rest_hang) {
                        // Swallowed: never carried out, never answered.
                        continue;
                    }
                    let logged = logged_on.as_ref().map(|l| l.0);
                    let reply = order_entry(&st, &verb, path, &params, logged, id);
                    if verb != axum::http::Method::GET && take_one(&faults.lose_write_answers) {
                        // Carried out; its answer is lost with the connection.
                        return;
                    }
                    out.insert(0, reply.to_string());
                    if !crate::wire::flush(&mut socket, &mut out, faults).await {
                        return;
                    }
                    continue;
                }
                let weight = match method {
                    "userDataStream.subscribe.signature" | "userDataStream.subscribe" | "session.status" | "session.logon" => 2,
                    _ => 1,
                };
                let (verdict, usage) = st.limits.check_on(weight, 0, crate::limits::Path::WsApi);
                let (n, unit, _) = interval_parts(st.limits.weight_window);
                let rate_limits = json!([{"rateLimitType": "REQUEST_WEIGHT", "interval": unit, "intervalNum": n,
                    "limit": st.limits.weight_limit, "count": usage.weight}]);
                let now = st.market.clock.now_ms();
                // A refusal for the limits names when to retry as `data.retryAfter` (epoch ms on
                // the venue's clock), as the docs' answers do.
                let mut retry = None;
                let result: Result<Value, (u16, i64, String)> = match verdict {
                    Verdict::TooMany { retry_after_s, .. } => {
                        retry = Some(now.saturating_add(retry_after_s as i64 * 1000));
                        Err((429, -1003, "Too much request weight used.".into()))
                    }
                    Verdict::Banned { until_ms, .. } => {
                        let until = until_ms.saturating_add(st.market.clock.offset_ms());
                        retry = Some(until);
                        Err((418, -1003, format!("Way too much request weight used; IP banned until {until}. Please use WebSocket Streams for live updates to avoid bans.")))
                    }
                    Verdict::Allowed => match method {
                        "ping" => Ok(json!({})),
                        "time" => Ok(json!({"serverTime": now})),
                        "session.status" => Ok(json!({"apiKey": logged_on.as_ref().map(|l| l.1.clone()),
                            "authorizedSince": logged_on.as_ref().map(|l| l.2), "connectedSince": connected,
                            "returnRateLimits": true, "serverTime": now, "userDataStream": !subscriptions.is_empty()})),
                        "session.logon" => {
                            let key = params.get("apiKey").and_then(Value::as_str).unwrap_or("");
                            let signature = params.get("signature").and_then(Value::as_str).unwrap_or("");
                            let ts = params.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
                            let window = params.get("recvWindow").and_then(Value::as_i64).unwrap_or(5000);
                            let ex = st.market.lock();
                            match ex.account_by_key(key) {
                                None => Err((401, -2015, "Invalid API-key, IP, or permissions for action.".into())),
                                Some(a) if ex.accounts[a].ed25519.as_ref().is_none_or(|(k, _)| k != key) => {
                                    Err((400, -4056, "HMAC_SHA256 API key is not supported.".into()))
                                }
                                Some(a) if !super::signature_ok(&ex.accounts[a], key, &ws_api_payload(&params), signature) => {
                                    Err((400, -1022, "Signature for this request is not valid.".into()))
                                }
                                Some(_) if ts >= now + 1000 || now - ts > window => {
                                    Err((400, -1021, "Timestamp for this request is outside of the recvWindow.".into()))
                                }
                                Some(a) => {
                                    logged_on = Some((a, key.to_owned(), now));
                                    Ok(json!({"apiKey": key, "authorizedSince": now, "connectedSince": connected,
                                        "returnRateLimits": true, "serverTime": now, "userDataStream": !subscriptions.is_empty()}))
                                }
                            }
                        }
                        "session.logout" => {
                            logged_on = None;
                            // The logon-based subscription ends with the session's authority.
                            if let Some(sid) = logon_subscription.take() {
                                subscriptions.remove(&sid);
                                out.push(json!({"subscriptionId": sid, "event": {"e": "eventStreamTerminated", "E": now}}).to_string());
                            }
                            Ok(json!({"apiKey": null, "authorizedSince": null, "connectedSince": connected,
                                "returnRateLimits": true, "serverTime": now, "userDataStream": !subscriptions.is_empty()}))
                        }
                        "userDataStream.subscribe" => match &logged_on {
                            None => Err((401, -2015, "Invalid API-key, IP, or permissions for action.".into())),
                            Some((account, _, _)) if subscriptions.values().any(|a| a == account) => {
                                Err((400, -2035, "User Data Stream subscription already active.".into()))
                            }
                            Some((account, _, _)) => {
                                let sid = next_subscription;
                                next_subscription += 1;
                                subscriptions.insert(sid, *account);
                                logon_subscription = Some(sid);
                                Ok(json!({"subscriptionId": sid}))
                            }
                        },
                        "userDataStream.subscribe.signature" => {
                            let key = params.get("apiKey").and_then(Value::as_str).unwrap_or("");
                            let account = st.market.lock().account_by_key(key);
                            match account {
                                None => Err((401, -2015, "Invalid API-key, IP, or permissions for action.".into())),
                                Some(account) => {
                                    let signature = params.get("signature").and_then(Value::as_str).unwrap_or("");
                                    let ts = params.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
                                    let window = params.get("recvWindow").and_then(Value::as_i64).unwrap_or(5000);
                                    let valid = super::signature_ok(&st.market.lock().accounts[account], key, &ws_api_payload(&params), signature);
                                    if !valid {
                                        Err((400, -1022, "Signature for this request is not valid.".into()))
                                    } else if ts >= now + 1000 || now - ts > window {
                                        Err((400, -1021, "Timestamp for this request is outside of the recvWindow.".into()))
                                    } else if subscriptions.values().any(|a| *a == account) {
                                        Err((400, -2035, "User Data Stream subscription already active.".into()))
                                    } else {
                                        let sid = next_subscription;
                                        next_subscription += 1;
                                        subscriptions.insert(sid, account);
                                        Ok(json!({"subscriptionId": sid}))
                                    }
                                }
                            }
                        }
                        "userDataStream.unsubscribe" => {
                            let ids: Vec<u64> = match params.get("subscriptionId").and_then(Value::as_u64) {
                                Some(sid) => vec![sid],
                                None => subscriptions.keys().copied().collect(),
                            };
                            for sid in &ids {
                                if subscriptions.remove(sid).is_some() {
                                    out.push(json!({"subscriptionId": sid, "event": {"e": "eventStreamTerminated", "E": now}}).to_string());
                                }
                            }
                            Ok(json!({}))
                        }
                        "session.subscriptions" => Ok(Value::Array(subscriptions.keys().map(|s| json!({"subscriptionId": s})).collect())),
                        _ => Err((400, -1020, "This operation is not supported.".into())),
                    },
                };
                let reply = match result {
                    Ok(result) => json!({"id": id, "status": 200, "result": result, "rateLimits": rate_limits}),
                    Err((status, code, msg)) => {
                        let mut error = json!({"code": code, "msg": msg});
                        if let Some(retry) = retry {
                            error["data"] = json!({"serverTime": now, "retryAfter": retry});
                        }
                        json!({"id": id, "status": status, "error": error, "rateLimits": rate_limits})
                    }
                };
                // The reply goes before any termination events it caused.
                out.insert(0, reply.to_string());
                link.set_streams(subscriptions.keys().map(|sid| format!("userDataStream#{sid}")));
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let now = st.market.clock.now_ms();
                    let ex = st.market.lock();
                    for (sid, account) in &subscriptions {
                        let payload = match &*event {
                            Event::Execution { account: a, order, kind, fill, seq } if a == account => {
                                let report = execution_report(&ex, order, *kind, fill.as_ref(), *seq, now);
                                std::iter::once(report).chain(list_status(&ex, order, *kind, now)).collect()
                            }
                            Event::Balances { account: a, assets, .. } if a == account => vec![balances_spot(assets, now)],
                            _ => Vec::new(),
                        };
                        for event in payload {
                            user_events.push(faults, json!({"subscriptionId": sid, "event": event}).to_string(), &mut out);
                        }
                    }
                }
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
        }
        if !crate::wire::flush(&mut socket, &mut out, faults).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_api_signs_sorted_unencoded_params() {
        let params = serde_json::from_value::<serde_json::Map<String, Value>>(json!({
            "timestamp": 1, "apiKey": "k", "signature": "x", "recvWindow": 100
        }))
        .unwrap();
        assert_eq!(
            ws_api_payload(&params),
            "apiKey=k&recvWindow=100&timestamp=1"
        );
    }
}
