//! Binance REST: routing, weights and limits, signature and timing checks, and the endpoint
//! handlers of spot (`/api/v3`) and USD-M (`/fapi`). Responses use the venue's JSON shapes and
//! error codes (PROTOCOLS.md sections 2.1, 3, 4.4, 5, 6, 8).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{
    BinanceState, decimals, exact, fixed, interval_parts, side_str, status_str, tif_str, type_str,
};
use crate::book::Side;
use crate::exchange::{Exchange, NewOrder, Order, OrderKind, Reject, Tif};
use crate::limits::Verdict;
use crate::market::take_one;

/// A Binance error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i64,
    pub msg: String,
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(status: u16, code: i64, msg: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            msg: msg.into(),
            headers: Vec::new(),
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

type Answer = Result<Value, ApiError>;

/// Request parameters from the query string and the form body (the query wins).
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
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

/// Removes `signature=...` from a raw query or body, returning what was signed and the value.
fn split_signature(raw: &str) -> (String, Option<String>) {
    let mut kept = Vec::new();
    let mut signature = None;
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        match part.strip_prefix("signature=") {
            Some(sig) => signature = Some(sig.to_owned()),
            None => kept.push(part),
        }
    }
    (kept.join("&"), signature)
}

pub fn hmac_hex(secret: &str, payload: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Ping,
    Time,
    ExchangeInfo,
    Depth,
    Trades,
    Ticker24h,
    BookTicker,
    PlaceOrder,
    CancelOrder,
    QueryOrder,
    OpenOrders,
    CancelAll,
    Account,
    MyTrades,
    RetiredListenKey,
    ListenKeyCreate,
    ListenKeyKeepalive,
    ListenKeyClose,
    Balance,
    PositionRisk,
    SymbolConfig,
    Leverage,
    /// Spot-host wallet and margin listings some clients read at start-up (ccxt's load_markets).
    CapitalConfig,
    MarginPairs,
    LeverageBracket,
}

/// `(endpoint, signed)` for a method and path of this market.
fn route(spot: bool, method: &Method, path: &str) -> Option<(Endpoint, bool)> {
    use Endpoint::*;
    let m = method.as_str();
    let found = if spot {
        match (m, path) {
            ("GET", "/api/v3/ping") => (Ping, false),
            ("GET", "/api/v3/time") => (Time, false),
            ("GET", "/api/v3/exchangeInfo") => (ExchangeInfo, false),
            ("GET", "/api/v3/depth") => (Depth, false),
            ("GET", "/api/v3/trades") => (Trades, false),
            ("GET", "/api/v3/ticker/24hr") => (Ticker24h, false),
            ("GET", "/api/v3/ticker/bookTicker") => (BookTicker, false),
            ("POST", "/api/v3/order") => (PlaceOrder, true),
            ("DELETE", "/api/v3/order") => (CancelOrder, true),
            ("GET", "/api/v3/order") => (QueryOrder, true),
            ("GET", "/api/v3/openOrders") => (OpenOrders, true),
            ("DELETE", "/api/v3/openOrders") => (CancelAll, true),
            ("GET", "/api/v3/account") => (Account, true),
            ("GET", "/api/v3/myTrades") => (MyTrades, true),
            (_, "/api/v3/userDataStream") => (RetiredListenKey, false),
            ("GET", "/sapi/v1/capital/config/getall") => (CapitalConfig, true),
            ("GET", "/sapi/v1/margin/allPairs" | "/sapi/v1/margin/isolated/allPairs") => {
                (MarginPairs, true)
            }
            _ => return None,
        }
    } else {
        match (m, path) {
            ("GET", "/fapi/v1/ping") => (Ping, false),
            ("GET", "/fapi/v1/time") => (Time, false),
            ("GET", "/fapi/v1/exchangeInfo") => (ExchangeInfo, false),
            ("GET", "/fapi/v1/depth") => (Depth, false),
            ("GET", "/fapi/v1/trades") => (Trades, false),
            ("GET", "/fapi/v1/ticker/24hr") => (Ticker24h, false),
            ("GET", "/fapi/v1/ticker/bookTicker") => (BookTicker, false),
            ("POST", "/fapi/v1/order") => (PlaceOrder, true),
            ("DELETE", "/fapi/v1/order") => (CancelOrder, true),
            ("GET", "/fapi/v1/order") => (QueryOrder, true),
            ("GET", "/fapi/v1/openOrders") => (OpenOrders, true),
            ("DELETE", "/fapi/v1/allOpenOrders") => (CancelAll, true),
            ("GET", "/fapi/v2/account" | "/fapi/v3/account") => (Account, true),
            ("GET", "/fapi/v2/balance" | "/fapi/v3/balance") => (Balance, true),
            ("GET", "/fapi/v2/positionRisk" | "/fapi/v3/positionRisk") => (PositionRisk, true),
            ("GET", "/fapi/v1/userTrades") => (MyTrades, true),
            ("GET", "/fapi/v1/symbolConfig") => (SymbolConfig, true),
            ("POST", "/fapi/v1/leverage") => (Leverage, true),
            ("GET", "/fapi/v1/leverageBracket") => (LeverageBracket, true),
            ("POST", "/fapi/v1/listenKey") => (ListenKeyCreate, false),
            ("PUT", "/fapi/v1/listenKey") => (ListenKeyKeepalive, false),
            ("DELETE", "/fapi/v1/listenKey") => (ListenKeyClose, false),
            _ => return None,
        }
    };
    Some(found)
}

/// Request weight (PROTOCOLS.md 3.1 and 3.3).
fn weight(spot: bool, endpoint: Endpoint, params: &Params) -> u32 {
    use Endpoint::*;
    let has_symbol = params.get("symbol").is_some();
    let limit = params.get("limit").and_then(|l| l.parse::<u32>().ok());
    match (spot, endpoint) {
        (_, Ping | Time) => 1,
        (true, ExchangeInfo) => 20,
        (false, ExchangeInfo) => 1,
        (true, Depth) => match limit.unwrap_or(100) {
            0..=100 => 5,
            101..=500 => 25,
            501..=1000 => 50,
            _ => 250,
        },
        (false, Depth) => match limit.unwrap_or(500) {
            0..=50 => 2,
            51..=100 => 5,
            101..=500 => 10,
            _ => 20,
        },
        (true, Trades) => 25,
        (false, Trades) => 5,
        (true, Ticker24h) => {
            if has_symbol {
                2
            } else {
                80
            }
        }
        (false, Ticker24h) => {
            if has_symbol {
                1
            } else {
                40
            }
        }
        (_, BookTicker) => {
            if has_symbol {
                2
            } else {
                4
            }
        }
        (true, PlaceOrder) => 1,
        (false, PlaceOrder) => 0,
        (_, CancelOrder) => 1,
        (true, QueryOrder) => 4,
        (false, QueryOrder) => 1,
        (true, OpenOrders) => {
            if has_symbol {
                6
            } else {
                80
            }
        }
        (false, OpenOrders) => {
            if has_symbol {
                1
            } else {
                40
            }
        }
        (_, CancelAll) => 1,
        (true, Account) => 20,
        (true, MyTrades) => {
            if params.get("orderId").is_some() {
                5
            } else {
                20
            }
        }
        (false, Account | Balance | PositionRisk | MyTrades) => 5,
        (_, SymbolConfig | Leverage | LeverageBracket) => 1,
        (_, CapitalConfig) => 10,
        (_, MarginPairs) => 1,
        (_, RetiredListenKey | ListenKeyCreate | ListenKeyKeepalive | ListenKeyClose) => 1,
        (true, Balance | PositionRisk) => 5,
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
    let query = uri.query().unwrap_or("");
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let mut params = Params::default();
    for raw in [&body_text, &query.to_owned()] {
        if let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(raw) {
            params.0.extend(pairs);
        }
    }
    let is_order = endpoint == Endpoint::PlaceOrder;
    let (verdict, usage) = st.limits.check(weight(spot, endpoint, &params), is_order);
    let (n, _, letter) = interval_parts(st.limits.weight_window);
    let mut extra = vec![(
        format!("X-MBX-USED-WEIGHT-{n}{letter}"),
        usage.weight.to_string(),
    )];
    if is_order {
        let (n, _, letter) = interval_parts(st.limits.order_window);
        extra.push((
            format!("X-MBX-ORDER-COUNT-{n}{letter}"),
            usage.orders.to_string(),
        ));
    }
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
            return respond(Err(err), extra);
        }
        Verdict::Banned {
            until_ms,
            retry_after_s,
        } => {
            let mut err = ApiError::new(
                418,
                -1003,
                format!(
                    "Way too much request weight used; IP banned until {until_ms}. Please use the websocket for live updates to avoid bans."
                ),
            );
            err.headers
                .push(("Retry-After".into(), retry_after_s.to_string()));
            return respond(Err(err), extra);
        }
    }
    let account = if signed {
        match authenticate(&st, &headers, query, &body_text, &params) {
            Ok(account) => Some(account),
            Err(e) => return respond(Err(e), extra),
        }
    } else {
        None
    };
    let answer = dispatch(&st, endpoint, account, &params, &headers);
    respond(answer, extra)
}

fn respond(answer: Answer, headers: Vec<(String, String)>) -> Response {
    let (status, body, more) = match answer {
        Ok(value) => (StatusCode::OK, value.to_string(), Vec::new()),
        Err(e) => (
            e.status,
            json!({"code": e.code, "msg": e.msg}).to_string(),
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

/// Binance's SIGNED checks: API key, signature over query + body, then timestamp/recvWindow.
fn authenticate(
    st: &BinanceState,
    headers: &HeaderMap,
    query: &str,
    body: &str,
    params: &Params,
) -> Result<usize, ApiError> {
    let key = headers
        .get("X-MBX-APIKEY")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::new(401, -2014, "API-key format invalid."));
    }
    let account = st.market.lock().account_by_key(key);
    let Some(account) = account else {
        return Err(ApiError::new(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ));
    };
    let (signed_query, sig_q) = split_signature(query);
    let (signed_body, sig_b) = split_signature(body);
    let signature = sig_q
        .or(sig_b)
        .ok_or_else(|| ApiError::mandatory("signature"))?;
    // Ed25519 signatures are base64 and arrive percent-encoded.
    let signature = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("s={signature}"))
        .ok()
        .and_then(|mut v| v.pop())
        .map_or(signature, |(_, s)| s);
    let valid = {
        let ex = st.market.lock();
        super::signature_ok(
            &ex.accounts[account],
            key,
            &format!("{signed_query}{signed_body}"),
            &signature,
        )
    };
    if !valid {
        return Err(ApiError::bad(
            -1022,
            "Signature for this request is not valid.",
        ));
    }
    let timestamp = params
        .int("timestamp")?
        .ok_or_else(|| ApiError::mandatory("timestamp"))?;
    let recv_window = match params.get("recvWindow") {
        Some(text) => text.parse::<Decimal>().map_err(|_| {
            ApiError::bad(-1100, "Illegal characters found in parameter 'recvWindow'.")
        })?,
        None => Decimal::from(5000),
    };
    if recv_window > Decimal::from(60_000) {
        return Err(ApiError::bad(-1131, "recvWindow must be less than 60000"));
    }
    let server = st.market.clock.now_ms();
    if timestamp >= server + 1000 {
        return Err(ApiError::bad(
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if Decimal::from(server - timestamp) > recv_window {
        return Err(ApiError::bad(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(account)
}

fn symbol_of<'a>(ex: &Exchange, params: &'a Params) -> Result<&'a str, ApiError> {
    let symbol = params.require("symbol")?;
    if ex.symbols.contains_key(symbol) {
        Ok(symbol)
    } else {
        Err(ApiError::bad(-1121, "Invalid symbol."))
    }
}

fn dispatch(
    st: &BinanceState,
    endpoint: Endpoint,
    account: Option<usize>,
    params: &Params,
    headers: &HeaderMap,
) -> Answer {
    use Endpoint::*;
    let spot = st.spot();
    let now = st.market.clock.now_ms();
    let acct = || account.expect("signed endpoints carry an account");
    match endpoint {
        Ping => Ok(json!({})),
        Time => Ok(json!({"serverTime": now})),
        ExchangeInfo => exchange_info(st, params, now),
        Depth => depth(st, params, now),
        Trades => trades(st, params),
        Ticker24h => ticker(st, params, now),
        BookTicker => book_ticker(st, params, now),
        PlaceOrder => place(st, acct(), params, now),
        CancelOrder => cancel(st, acct(), params, now),
        QueryOrder => {
            let ex = st.market.lock();
            let symbol = symbol_of(&ex, params)?;
            let (id, cid) = order_ids(params, "origClientOrderId")?;
            let order = ex
                .find_order(acct(), symbol, id, cid)
                .ok_or_else(|| ApiError::bad(-2013, "Order does not exist."))?;
            Ok(order_json(&ex, order, spot, OrderView::Query))
        }
        OpenOrders => {
            let ex = st.market.lock();
            let symbol = match params.get("symbol") {
                Some(_) => Some(symbol_of(&ex, params)?),
                None => None,
            };
            let list: Vec<Value> = ex
                .open_orders(acct(), symbol)
                .into_iter()
                .map(|o| order_json(&ex, o, spot, OrderView::Query))
                .collect();
            Ok(Value::Array(list))
        }
        CancelAll => {
            let mut ex = st.market.lock();
            let symbol = symbol_of(&ex, params)?.to_owned();
            let ids: Vec<u64> = ex
                .open_orders(acct(), Some(&symbol))
                .iter()
                .map(|o| o.id)
                .collect();
            let mut canceled = Vec::new();
            for id in ids {
                if ex.cancel(acct(), &symbol, Some(id), None, now).is_ok() {
                    canceled.push(order_json(&ex, &ex.orders[&id], spot, OrderView::Cancel));
                }
            }
            if spot {
                if canceled.is_empty() {
                    return Err(ApiError::bad(-2011, "Unknown order sent."));
                }
                Ok(Value::Array(canceled))
            } else {
                Ok(json!({"code": 200, "msg": "The operation of cancel all open order is done."}))
            }
        }
        Account => account_json(st, acct(), now),
        Balance => {
            let ex = st.market.lock();
            let a = &ex.accounts[acct()];
            let list: Vec<Value> = a
                .balances
                .iter()
                .map(|(asset, b)| {
                    let upnl: Decimal = a.positions.keys().map(|s| ex.unrealized(acct(), s)).sum();
                    let wallet = b.free + b.locked;
                    json!({"accountAlias": "SgsR", "asset": asset, "balance": fixed(wallet, 8),
                        "crossWalletBalance": fixed(wallet, 8), "crossUnPnl": fixed(upnl, 8),
                        "availableBalance": fixed(b.free, 8), "maxWithdrawAmount": fixed(b.free, 8),
                        "marginAvailable": true, "updateTime": now})
                })
                .collect();
            Ok(Value::Array(list))
        }
        PositionRisk => {
            let ex = st.market.lock();
            let a = &ex.accounts[acct()];
            let filter = params.get("symbol");
            let list: Vec<Value> = ex
                .symbols
                .keys()
                .filter(|s| filter.is_none_or(|f| f == s.as_str()))
                .filter_map(|s| {
                    let p = a.positions.get(s)?;
                    if p.size.is_zero() && filter.is_none() {
                        return None;
                    }
                    let spec = &ex.symbols[s].spec;
                    let mark = ex.mark(s);
                    Some(json!({"symbol": s, "positionSide": "BOTH", "positionAmt": fixed(p.size, spec.qty_decimals()),
                        "entryPrice": p.entry.normalize().to_string(), "breakEvenPrice": p.entry.normalize().to_string(),
                        "markPrice": fixed(mark, 8), "unRealizedProfit": fixed(ex.unrealized(acct(), s), 8),
                        "liquidationPrice": "0", "isolatedMargin": "0", "notional": fixed(p.size * mark, 8),
                        "marginAsset": "USDT", "isolatedWallet": "0", "initialMargin": fixed((p.size * mark).abs() / p.leverage, 8),
                        "maintMargin": "0", "positionInitialMargin": fixed((p.size * mark).abs() / p.leverage, 8),
                        "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0", "askNotional": "0",
                        "leverage": p.leverage.normalize().to_string(), "marginType": "cross", "updateTime": p.updated_ms}))
                })
                .collect();
            Ok(Value::Array(list))
        }
        SymbolConfig => {
            let ex = st.market.lock();
            let a = &ex.accounts[acct()];
            let filter = params.get("symbol");
            let list: Vec<Value> = ex
                .symbols
                .keys()
                .filter(|s| filter.is_none_or(|f| f == s.as_str()))
                .map(|s| {
                    let lev = a.positions.get(s).map_or(Decimal::from(20), |p| p.leverage);
                    json!({"symbol": s, "marginType": "CROSSED", "isAutoAddMargin": false,
                        "leverage": lev.trunc().to_string().parse::<i64>().unwrap_or(20), "maxNotionalValue": "1000000"})
                })
                .collect();
            Ok(Value::Array(list))
        }
        Leverage => {
            let mut ex = st.market.lock();
            let symbol = symbol_of(&ex, params)?.to_owned();
            let leverage = params
                .int("leverage")?
                .ok_or_else(|| ApiError::mandatory("leverage"))?;
            ex.set_leverage(acct(), &symbol, Decimal::from(leverage))
                .map_err(|_| ApiError::bad(-4028, format!("Leverage {leverage} is not valid")))?;
            Ok(json!({"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}))
        }
        RetiredListenKey => Err(ApiError::new(
            410,
            -1000,
            "This endpoint has been retired. Use userDataStream.subscribe on the WebSocket API.",
        )),
        ListenKeyCreate | ListenKeyKeepalive | ListenKeyClose => {
            listen_key(st, endpoint, headers, now)
        }
        MyTrades => my_trades(st, acct(), params),
        CapitalConfig => {
            let ex = st.market.lock();
            let list: Vec<Value> = ex.accounts[acct()]
                .balances
                .iter()
                .map(|(asset, b)| {
                    json!({"coin": asset, "name": asset, "free": fixed(b.free, 8), "locked": fixed(b.locked, 8),
                        "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
                        "isLegalMoney": false, "trading": true, "depositAllEnable": false, "withdrawAllEnable": false,
                        "networkList": []})
                })
                .collect();
            Ok(Value::Array(list))
        }
        // No margin trading in the simulator.
        MarginPairs => Ok(json!([])),
        LeverageBracket => {
            let ex = st.market.lock();
            let filter = params.get("symbol");
            let list: Vec<Value> = ex
                .symbols
                .keys()
                .filter(|s| filter.is_none_or(|f| f == s.as_str()))
                .map(|s| json!({"symbol": s, "brackets": [{"bracket": 1, "initialLeverage": 125, "notionalCap": 1_000_000,
                    "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0}]}))
                .collect();
            Ok(Value::Array(list))
        }
    }
}

fn exchange_info(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let wanted: Option<Vec<String>> = match (params.get("symbol"), params.get("symbols")) {
        (Some(s), _) => Some(vec![s.to_owned()]),
        (None, Some(list)) => Some(serde_json::from_str(list).map_err(|_| {
            ApiError::bad(-1100, "Illegal characters found in parameter 'symbols'.")
        })?),
        _ => None,
    };
    if let Some(names) = &wanted
        && names.iter().any(|n| !ex.symbols.contains_key(n))
    {
        return Err(ApiError::bad(-1121, "Invalid symbol."));
    }
    let limit = |kind: &str, window: std::time::Duration, limit: u32| {
        let (n, unit, _) = interval_parts(window);
        json!({"rateLimitType": kind, "interval": unit, "intervalNum": n, "limit": limit})
    };
    let rate_limits = vec![
        limit(
            "REQUEST_WEIGHT",
            st.limits.weight_window,
            st.limits.weight_limit,
        ),
        limit("ORDERS", st.limits.order_window, st.limits.order_limit),
    ];
    let symbols: Vec<Value> = ex
        .symbols
        .values()
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.spec.name)))
        .map(|s| {
            let sp = &s.spec;
            if spot {
                let f = |d: Decimal| fixed(d, 8);
                json!({"symbol": sp.name, "status": "TRADING", "baseAsset": sp.base, "baseAssetPrecision": 8,
                    "quoteAsset": sp.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                    "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"], "icebergAllowed": false, "ocoAllowed": false,
                    "otoAllowed": false, "opoAllowed": false, "quoteOrderQtyMarketAllowed": true, "allowTrailingStop": false,
                    "cancelReplaceAllowed": false, "amendAllowed": false, "pegInstructionsAllowed": false,
                    "isSpotTradingAllowed": true, "isMarginTradingAllowed": false,
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": f(sp.tick), "maxPrice": f(Decimal::from(1_000_000)), "tickSize": f(sp.tick)},
                        {"filterType": "LOT_SIZE", "minQty": f(sp.min_qty), "maxQty": f(sp.max_qty), "stepSize": f(sp.step)},
                        {"filterType": "MARKET_LOT_SIZE", "minQty": f(Decimal::ZERO), "maxQty": f(sp.max_qty), "stepSize": f(Decimal::ZERO)},
                        {"filterType": "NOTIONAL", "minNotional": f(sp.min_notional), "applyMinToMarket": true,
                            "maxNotional": f(Decimal::from(9_000_000)), "applyMaxToMarket": false, "avgPriceMins": 5},
                        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200}
                    ],
                    "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "NONE",
                    "allowedSelfTradePreventionModes": ["NONE"]})
            } else {
                let (pd, qd) = (sp.price_decimals(), sp.qty_decimals());
                json!({"symbol": sp.name, "pair": sp.name, "contractType": "PERPETUAL", "deliveryDate": 4133404800000i64,
                    "onboardDate": 1569398400000i64, "status": "TRADING", "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000", "baseAsset": sp.base, "quoteAsset": sp.quote, "marginAsset": sp.quote,
                    "pricePrecision": pd, "quantityPrecision": qd, "baseAssetPrecision": 8, "quotePrecision": 8,
                    "underlyingType": "COIN", "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500", "marketTakeBound": "0.05",
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": fixed(sp.tick, pd), "maxPrice": fixed(Decimal::from(1_000_000), pd), "tickSize": fixed(sp.tick, pd)},
                        {"filterType": "LOT_SIZE", "minQty": fixed(sp.min_qty, qd), "maxQty": fixed(sp.max_qty, qd), "stepSize": fixed(sp.step, qd)},
                        {"filterType": "MARKET_LOT_SIZE", "minQty": fixed(sp.min_qty, qd), "maxQty": fixed(sp.max_qty, qd), "stepSize": fixed(sp.step, qd)},
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                        {"filterType": "MIN_NOTIONAL", "notional": sp.min_notional.normalize().to_string()},
                        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"}
                    ],
                    "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"]})
            }
        })
        .collect();
    let mut info = json!({"timezone": "UTC", "serverTime": now, "rateLimits": rate_limits, "exchangeFilters": [], "symbols": symbols});
    if !spot {
        info["futuresType"] = json!("U_MARGINED");
        info["assets"] =
            json!([{"asset": "USDT", "marginAvailable": true, "autoAssetExchange": "-10000"}]);
    }
    Ok(info)
}

fn levels(
    spec: &crate::exchange::SymbolSpec,
    levels: Vec<(i64, i64)>,
    decimals: Option<(u32, u32)>,
) -> Vec<Value> {
    levels
        .into_iter()
        .map(|(p, q)| {
            let (price, qty) = (spec.price(p), spec.qty(q));
            match decimals {
                Some((pd, qd)) => json!([exact(price, pd), exact(qty, qd)]),
                None => json!([fixed(price, 8), fixed(qty, 8)]),
            }
        })
        .collect()
}

fn depth(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let limit = params.int("limit")?.unwrap_or(if spot { 100 } else { 500 });
    let valid = if spot {
        (1..=5000).contains(&limit)
    } else {
        [5, 10, 20, 50, 100, 500, 1000].contains(&limit)
    };
    if !valid {
        return Err(ApiError::bad(
            -1100,
            "Illegal characters found in parameter 'limit'; legal range is '5, 10, 20, 50, 100, 500, 1000'.",
        ));
    }
    let s = &ex.symbols[symbol];
    let decimals = (!spot).then(|| (s.spec.price_decimals(), s.spec.qty_decimals()));
    let bids = levels(&s.spec, s.book.levels(Side::Buy, limit as usize), decimals);
    let asks = levels(&s.spec, s.book.levels(Side::Sell, limit as usize), decimals);
    let mut out = json!({"lastUpdateId": s.book.update_id, "bids": bids, "asks": asks});
    if !spot {
        out["E"] = json!(now);
        out["T"] = json!(now);
    }
    Ok(out)
}

fn trades(st: &BinanceState, params: &Params) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let limit = params.int("limit")?.unwrap_or(500).clamp(1, 1000) as usize;
    let s = &ex.symbols[symbol];
    let (pd, qd) = decimals(spot, &s.spec);
    let skip = s.recent_trades.len().saturating_sub(limit);
    let list: Vec<Value> = s
        .recent_trades
        .iter()
        .skip(skip)
        .map(|(id, p, q, taker, t)| {
            let mut v = json!({"id": id, "price": exact(*p, pd), "qty": exact(*q, qd), "quoteQty": fixed(*p * *q, pd),
                "time": t, "isBuyerMaker": *taker == Side::Sell});
            if spot {
                v["isBestMatch"] = json!(true);
            }
            v
        })
        .collect();
    Ok(Value::Array(list))
}

fn ticker(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let render = |s: &crate::exchange::SymbolState| {
        let (pd, qd) = decimals(spot, &s.spec);
        let st = s.stats();
        let (change, vwap, first, last, last_qty) = (
            st.change,
            st.vwap,
            st.first_trade,
            st.last_trade,
            st.last_qty,
        );
        let pct = (st.change_ratio * Decimal::from(100)).round_dp(3);
        let mut v = json!({"symbol": s.spec.name, "priceChange": fixed(change, pd), "priceChangePercent": fixed(pct, 3),
            "weightedAvgPrice": fixed(vwap, pd), "lastPrice": exact(s.last_price, pd), "lastQty": exact(last_qty, qd),
            "openPrice": fixed(s.open_24h, pd), "highPrice": fixed(s.high_24h, pd), "lowPrice": fixed(s.low_24h, pd),
            "volume": fixed(s.volume_24h, qd), "quoteVolume": fixed(s.quote_volume_24h, 2), "openTime": now - 86_400_000,
            "closeTime": now, "firstId": first, "lastId": last, "count": s.trade_count});
        if spot {
            let ((b, bq), (a, aq)) = (s.top(Side::Buy), s.top(Side::Sell));
            v["prevClosePrice"] = json!(fixed(s.open_24h, pd));
            v["bidPrice"] = json!(exact(b, pd));
            v["bidQty"] = json!(exact(bq, qd));
            v["askPrice"] = json!(exact(a, pd));
            v["askQty"] = json!(exact(aq, qd));
        }
        v
    };
    match params.get("symbol") {
        Some(_) => Ok(render(&ex.symbols[symbol_of(&ex, params)?])),
        None => Ok(Value::Array(ex.symbols.values().map(render).collect())),
    }
}

fn book_ticker(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let render = |s: &crate::exchange::SymbolState| {
        let (pd, qd) = decimals(spot, &s.spec);
        let ((b, bq), (a, aq)) = (s.top(Side::Buy), s.top(Side::Sell));
        let mut v = json!({"symbol": s.spec.name, "bidPrice": exact(b, pd), "bidQty": exact(bq, qd),
            "askPrice": exact(a, pd), "askQty": exact(aq, qd)});
        if !spot {
            v["time"] = json!(now);
            v["lastUpdateId"] = json!(s.book.update_id);
        }
        v
    };
    match params.get("symbol") {
        Some(_) => Ok(render(&ex.symbols[symbol_of(&ex, params)?])),
        None => Ok(Value::Array(ex.symbols.values().map(render).collect())),
    }
}

fn order_ids<'a>(
    params: &'a Params,
    client_name: &str,
) -> Result<(Option<u64>, Option<&'a str>), ApiError> {
    let id = params.int("orderId")?.map(|i| i.max(0) as u64);
    let cid = params.get(client_name);
    if id.is_none() && cid.is_none() {
        return Err(ApiError::bad(
            -1102,
            "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
                .to_string(),
        ));
    }
    Ok((id, cid))
}

fn client_id_ok(id: &str, spot: bool) -> bool {
    (1..=36).contains(&id.len())
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || b == b'-'
                || b == b'_'
                || (!spot && matches!(b, b'.' | b':' | b'/'))
        })
}

fn place(st: &BinanceState, account: usize, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let mut ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?.to_owned();
    let side = match params.require("side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(ApiError::bad(-1117, "Invalid side.")),
    };
    let type_ = params.require("type")?;
    let (kind, mut tif) = match (type_, spot) {
        ("LIMIT", _) => (OrderKind::Limit, None),
        ("MARKET", _) => (OrderKind::Market, Some(Tif::Ioc)),
        ("LIMIT_MAKER", true) => (OrderKind::Limit, Some(Tif::PostOnly)),
        _ => return Err(ApiError::bad(-1116, "Invalid orderType.")),
    };
    if kind == OrderKind::Limit && tif.is_none() {
        tif = Some(match params.require("timeInForce")? {
            "GTC" => Tif::Gtc,
            "IOC" => Tif::Ioc,
            "FOK" => Tif::Fok,
            "GTX" if !spot => Tif::PostOnly,
            _ => return Err(ApiError::bad(-1115, "Invalid timeInForce.")),
        });
    }
    let price = params.decimal("price")?;
    let qty = params.decimal("quantity")?;
    let quote_qty = if spot {
        params.decimal("quoteOrderQty")?
    } else {
        None
    };
    if kind == OrderKind::Limit && price.is_none() {
        return Err(ApiError::mandatory("price"));
    }
    if qty.is_none() && quote_qty.is_none() {
        return Err(ApiError::mandatory("quantity"));
    }
    for (name, v) in [
        ("price", price),
        ("quantity", qty),
        ("quoteOrderQty", quote_qty),
    ] {
        if v.is_some_and(|d| d.scale() > 8) {
            return Err(ApiError::bad(
                -1111,
                format!("Parameter '{name}' has too much precision."),
            ));
        }
    }
    let client_id = params.get("newClientOrderId").map(str::to_owned);
    if let Some(cid) = &client_id
        && !client_id_ok(cid, spot)
    {
        let range = if spot {
            "^[a-zA-Z0-9-_]{1,36}$"
        } else {
            "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"
        };
        return Err(ApiError::bad(
            -1100,
            format!(
                "Illegal characters found in parameter 'newClientOrderId'; legal range is '{range}'."
            ),
        ));
    }
    let reduce_only = params.get("reduceOnly") == Some("true");
    let req = NewOrder {
        symbol: symbol.clone(),
        side,
        kind,
        tif: tif.unwrap_or(Tif::Gtc),
        price,
        qty,
        quote_qty,
        client_id,
        reduce_only,
    };
    let id = ex.place(account, req, now).map_err(|r| reject(r, spot))?;
    let order = ex.orders[&id].clone();
    let resp_type = params
        .get("newOrderRespType")
        .unwrap_or(if spot { "FULL" } else { "ACK" });
    Ok(match (spot, resp_type) {
        (true, "ACK") => {
            json!({"symbol": symbol, "orderId": id, "orderListId": -1, "clientOrderId": order.client_id, "transactTime": now})
        }
        (true, "RESULT") => order_json(&ex, &order, true, OrderView::Result(now)),
        (true, _) => order_json(&ex, &order, true, OrderView::Full(now)),
        (false, _) => order_json(&ex, &order, false, OrderView::Result(now)),
    })
}

fn reject(r: Reject, spot: bool) -> ApiError {
    match (r, spot) {
        (Reject::UnknownSymbol, _) => ApiError::bad(-1121, "Invalid symbol."),
        (Reject::Filter(name), true) => ApiError::bad(-1013, format!("Filter failure: {name}")),
        (Reject::Filter("PRICE_FILTER"), false) => {
            ApiError::bad(-4014, "Price not increased by tick size.")
        }
        (Reject::Filter("NOTIONAL"), false) => ApiError::bad(
            -4164,
            "Order's notional must be no smaller than 5 (unless you choose reduce only).",
        ),
        (Reject::Filter(_), false) => ApiError::bad(
            -1111,
            "Precision is over the maximum defined for this asset.",
        ),
        (Reject::InsufficientBalance, true) => ApiError::bad(
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        (Reject::InsufficientBalance, false) => ApiError::bad(-2019, "Margin is insufficient."),
        (Reject::WouldTake, true) => {
            ApiError::bad(-2010, "Order would immediately match and take.")
        }
        (Reject::WouldTake, false) => ApiError::bad(
            -5022,
            "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history",
        ),
        (Reject::DuplicateClientId, true) => ApiError::bad(-2010, "Duplicate order sent."),
        (Reject::DuplicateClientId, false) => ApiError::bad(-4116, "ClientOrderId is duplicated."),
        (Reject::UnknownOrder | Reject::AlreadyClosed, true) => {
            ApiError::bad(-2011, "Unknown order sent.")
        }
        (Reject::UnknownOrder | Reject::AlreadyClosed, false) => {
            ApiError::bad(-2011, "Unknown order sent.")
        }
        (Reject::Invalid(name), _) => ApiError::mandatory(&name),
    }
}

fn cancel(st: &BinanceState, account: usize, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let mut ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?.to_owned();
    let (id, cid) = order_ids(params, "origClientOrderId")?;
    if let (Some(id), Some(cid)) = (id, cid)
        && ex
            .find_order(account, &symbol, Some(id), None)
            .is_some_and(|o| o.client_id != cid)
    {
        return Err(ApiError::bad(-2039, "Client order id is not valid."));
    }
    let oid = ex
        .cancel(account, &symbol, id, cid, now)
        .map_err(|r| reject(r, spot))?;
    let order = ex.orders[&oid].clone();
    let mut out = order_json(&ex, &order, spot, OrderView::Cancel);
    if spot {
        out["transactTime"] = json!(now);
        if let Some(new_id) = params.get("newClientOrderId") {
            out["clientOrderId"] = json!(new_id);
        }
    }
    Ok(out)
}

/// Which shape of an order object to render.
#[derive(Debug, Clone, Copy)]
pub enum OrderView {
    Query,
    Cancel,
    Result(i64),
    Full(i64),
}

pub fn order_json(ex: &Exchange, o: &Order, spot: bool, view: OrderView) -> Value {
    let spec = &ex.symbols[&o.symbol].spec;
    let (pd, qd) = decimals(spot, spec);
    let price = o.price.map_or(Decimal::ZERO, |p| spec.price(p));
    let executed = spec.qty(o.filled);
    if spot {
        let mut v = json!({"symbol": o.symbol, "orderId": o.id, "orderListId": -1, "clientOrderId": o.client_id,
            "price": exact(price, pd), "origQty": exact(spec.qty(o.lots), qd), "executedQty": exact(executed, qd),
            "cummulativeQuoteQty": fixed(o.cum_quote, pd), "status": status_str(o.status),
            "timeInForce": tif_str(o.tif, true), "type": type_str(o, true), "side": side_str(o.side),
            "origQuoteOrderQty": fixed(o.quote_qty.unwrap_or_default(), pd), "selfTradePreventionMode": "NONE"});
        match view {
            OrderView::Query => {
                v["stopPrice"] = json!(fixed(Decimal::ZERO, pd));
                v["icebergQty"] = json!(fixed(Decimal::ZERO, qd));
                v["time"] = json!(o.created_ms);
                v["updateTime"] = json!(o.updated_ms);
                v["isWorking"] = json!(o.kind == OrderKind::Limit);
                v["workingTime"] = json!(o.created_ms);
            }
            OrderView::Cancel => {
                v["origClientOrderId"] = json!(o.client_id);
            }
            OrderView::Result(t) | OrderView::Full(t) => {
                v["transactTime"] = json!(t);
                v["workingTime"] = json!(o.created_ms);
                if let OrderView::Full(_) = view {
                    let fills: Vec<Value> = o
                        .fills
                        .iter()
                        .map(|f| json!({"price": exact(f.price, pd), "qty": exact(f.qty, qd), "commission": fixed(f.fee, 8),
                            "commissionAsset": f.fee_asset, "tradeId": f.trade_id}))
                        .collect();
                    v["fills"] = Value::Array(fills);
                }
            }
        }
        v
    } else {
        let avg = if o.filled > 0 {
            o.cum_quote / executed
        } else {
            Decimal::ZERO
        };
        let mut v = json!({"orderId": o.id, "symbol": o.symbol, "status": status_str(o.status), "clientOrderId": o.client_id,
            "price": exact(price, pd), "avgPrice": fixed(avg, pd.max(2)), "origQty": exact(spec.qty(o.lots), qd),
            "executedQty": exact(executed, qd), "cumQty": exact(executed, qd), "cumQuote": fixed(o.cum_quote, pd.max(2)),
            "timeInForce": tif_str(o.tif, false), "type": type_str(o, false), "reduceOnly": o.reduce_only,
            "closePosition": false, "side": side_str(o.side), "positionSide": "BOTH", "stopPrice": fixed(Decimal::ZERO, pd),
            "workingType": "CONTRACT_PRICE", "priceProtect": false, "origType": type_str(o, false), "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE", "goodTillDate": 0, "updateTime": o.updated_ms});
        if let OrderView::Query = view {
            v["time"] = json!(o.created_ms);
        }
        v
    }
}

fn account_json(st: &BinanceState, account: usize, now: i64) -> Answer {
    let ex = st.market.lock();
    let a = &ex.accounts[account];
    if st.spot() {
        let balances: Vec<Value> = a
            .balances
            .iter()
            .map(|(asset, b)| json!({"asset": asset, "free": fixed(b.free, 8), "locked": fixed(b.locked, 8)}))
            .collect();
        return Ok(
            json!({"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": true, "canWithdraw": true, "canDeposit": true, "brokered": false, "requireSelfTradePrevention": false,
            "preventSor": false, "updateTime": now, "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"],
            "uid": 1000 + account}),
        );
    }
    let upnl: Decimal = a.positions.keys().map(|s| ex.unrealized(account, s)).sum();
    let usdt = a.balances.get("USDT").cloned().unwrap_or_default();
    let wallet = usdt.free + usdt.locked;
    let positions: Vec<Value> = a
        .positions
        .iter()
        .filter(|(_, p)| !p.size.is_zero())
        .map(|(s, p)| {
            let mark = ex.mark(s);
            json!({"symbol": s, "positionSide": "BOTH", "positionAmt": p.size.normalize().to_string(),
                "unrealizedProfit": fixed(ex.unrealized(account, s), 8), "isolatedMargin": "0", "notional": fixed(p.size * mark, 8),
                "isolatedWallet": "0", "initialMargin": fixed((p.size * mark).abs() / p.leverage, 8), "maintMargin": "0",
                "updateTime": p.updated_ms})
        })
        .collect();
    Ok(
        json!({"totalInitialMargin": fixed(usdt.locked, 8), "totalMaintMargin": "0.00000000",
        "totalWalletBalance": fixed(wallet, 8), "totalUnrealizedProfit": fixed(upnl, 8),
        "totalMarginBalance": fixed(wallet + upnl, 8), "totalPositionInitialMargin": "0.00000000",
        "totalOpenOrderInitialMargin": fixed(usdt.locked, 8), "totalCrossWalletBalance": fixed(wallet, 8),
        "totalCrossUnPnl": fixed(upnl, 8), "availableBalance": fixed(usdt.free, 8), "maxWithdrawAmount": fixed(usdt.free, 8),
        "assets": [{"asset": "USDT", "walletBalance": fixed(wallet, 8), "unrealizedProfit": fixed(upnl, 8),
            "marginBalance": fixed(wallet + upnl, 8), "maintMargin": "0.00000000", "initialMargin": fixed(usdt.locked, 8),
            "positionInitialMargin": "0.00000000", "openOrderInitialMargin": fixed(usdt.locked, 8),
            "crossWalletBalance": fixed(wallet, 8), "crossUnPnl": fixed(upnl, 8), "availableBalance": fixed(usdt.free, 8),
            "maxWithdrawAmount": fixed(usdt.free, 8), "updateTime": now}],
        "positions": positions}),
    )
}

fn my_trades(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let order_filter = params.int("orderId")?.map(|i| i as u64);
    let from = params.int("fromId")?.unwrap_or(0).max(0) as u64;
    let limit = params.int("limit")?.unwrap_or(500).clamp(1, 1000) as usize;
    let spec = &ex.symbols[symbol].spec;
    let (pd, qd) = decimals(spot, spec);
    let mut rows: Vec<(u64, Value)> = Vec::new();
    for o in ex
        .orders
        .values()
        .filter(|o| o.account == account && o.symbol == symbol)
    {
        if order_filter.is_some_and(|id| id != o.id) {
            continue;
        }
        for f in o.fills.iter().filter(|f| f.trade_id >= from) {
            let row = if spot {
                json!({"symbol": symbol, "id": f.trade_id, "orderId": o.id, "orderListId": -1, "price": exact(f.price, pd),
                    "qty": exact(f.qty, qd), "quoteQty": fixed(f.price * f.qty, pd), "commission": fixed(f.fee, 8),
                    "commissionAsset": f.fee_asset, "time": f.time_ms, "isBuyer": o.side == Side::Buy,
                    "isMaker": f.is_maker, "isBestMatch": true})
            } else {
                json!({"buyer": o.side == Side::Buy, "commission": fixed(f.fee, 8), "commissionAsset": f.fee_asset,
                    "id": f.trade_id, "maker": f.is_maker, "orderId": o.id, "price": exact(f.price, pd), "qty": exact(f.qty, qd),
                    "quoteQty": fixed(f.price * f.qty, pd), "realizedPnl": "0", "side": side_str(o.side),
                    "positionSide": "BOTH", "symbol": symbol, "time": f.time_ms})
            };
            rows.push((f.trade_id, row));
        }
    }
    rows.sort_by_key(|r| r.0);
    let skip = if params.get("fromId").is_some() {
        0
    } else {
        rows.len().saturating_sub(limit)
    };
    Ok(Value::Array(
        rows.into_iter()
            .skip(skip)
            .take(limit)
            .map(|r| r.1)
            .collect(),
    ))
}

fn listen_key(st: &BinanceState, endpoint: Endpoint, headers: &HeaderMap, now: i64) -> Answer {
    let key = headers
        .get("X-MBX-APIKEY")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let account = st.market.lock().account_by_key(key).ok_or_else(|| {
        ApiError::new(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    })?;
    let validity = st.timing.listen_key_validity.as_millis() as i64;
    let mut keys = st.listen_keys.lock().unwrap_or_else(|p| p.into_inner());
    let existing = keys
        .iter()
        .find(|(_, (a, exp))| *a == account && *exp > now)
        .map(|(k, _)| k.clone());
    match endpoint {
        Endpoint::ListenKeyCreate => {
            let key = existing.unwrap_or_else(|| {
                let mut rng = fastrand::Rng::new();
                (0..64).map(|_| rng.alphanumeric()).collect()
            });
            keys.insert(key.clone(), (account, now + validity));
            Ok(json!({"listenKey": key}))
        }
        Endpoint::ListenKeyKeepalive => match existing {
            Some(key) => {
                keys.insert(key.clone(), (account, now + validity));
                Ok(json!({"listenKey": key}))
            }
            None => Err(ApiError::bad(-1125, "This listenKey does not exist.")),
        },
        _ => {
            if let Some(key) = existing {
                keys.insert(key, (account, now));
            }
            Ok(json!({}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_hmac_test_vector() {
        // PROTOCOLS.md 2.1 (Binance's own example).
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            hmac_hex(secret, payload),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn the_signature_is_taken_out_of_what_was_signed() {
        let (rest, sig) = split_signature("a=1&signature=abc&b=2");
        assert_eq!((rest.as_str(), sig.as_deref()), ("a=1&b=2", Some("abc")));
        assert_eq!(split_signature("").1, None);
    }

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
