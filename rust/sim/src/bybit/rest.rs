//! Bybit v5 REST: header signing (`X-BAPI-*`), the recv window, IP and per-UID limits with
//! `X-Bapi-Limit*` headers, and the market, order, account and position endpoints used by a
//! trading connector (PROTOCOLS.md 2.3, 3.4, 4.4, 5.3, 6.3, 7.3, 8).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{BybitState, Category, num, order_id_str, order_json, parse_order_id, side_str, uuid};
use crate::binance::rest::hmac_hex;
use crate::book::Side;
use crate::exchange::{Exchange, Kind, NewOrder, OrderKind, Reject, Tif};
use crate::limits::BybitVerdict;
use crate::market::take_one;

/// A `retCode` answer (HTTP 200 unless stated).
#[derive(Debug)]
struct Fail {
    http: StatusCode,
    code: i64,
    msg: String,
}

fn fail(code: i64, msg: impl Into<String>) -> Fail {
    Fail {
        http: StatusCode::OK,
        code,
        msg: msg.into(),
    }
}

type Answer = Result<Value, Fail>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Time,
    Instruments,
    Orderbook,
    Tickers,
    RecentTrades,
    Create,
    Cancel,
    CancelAll,
    Realtime,
    History,
    Executions,
    Wallet,
    Positions,
    SetLeverage,
    /// Account metadata clients read before trading (ccxt's load_markets and first private call).
    CoinInfo,
    ApiKeyInfo,
    AccountInfo,
}

/// A signed endpoint's per-UID limit: `(name, linear per second, spot per second)`.
type UidLimit = (&'static str, u32, u32);

/// The endpoint, and its per-UID limit when it is signed.
fn route(method: &Method, path: &str) -> Option<(Endpoint, Option<UidLimit>)> {
    use Endpoint::*;
    Some(match (method.as_str(), path) {
        ("GET", "/v5/market/time") => (Time, None),
        ("GET", "/v5/market/instruments-info") => (Instruments, None),
        ("GET", "/v5/market/orderbook") => (Orderbook, None),
        ("GET", "/v5/market/tickers") => (Tickers, None),
        ("GET", "/v5/market/recent-trade") => (RecentTrades, None),
        ("POST", "/v5/order/create") => (Create, Some(("order/create", 10, 20))),
        ("POST", "/v5/order/cancel") => (Cancel, Some(("order/cancel", 10, 20))),
        ("POST", "/v5/order/cancel-all") => (CancelAll, Some(("order/cancel-all", 10, 20))),
        ("GET", "/v5/order/realtime") => (Realtime, Some(("order/realtime", 50, 50))),
        ("GET", "/v5/order/history") => (History, Some(("order/history", 50, 50))),
        ("GET", "/v5/execution/list") => (Executions, Some(("execution/list", 50, 50))),
        ("GET", "/v5/account/wallet-balance") => (Wallet, Some(("account/wallet-balance", 50, 50))),
        ("GET", "/v5/position/list") => (Positions, Some(("position/list", 50, 50))),
        ("POST", "/v5/position/set-leverage") => {
            (SetLeverage, Some(("position/set-leverage", 10, 10)))
        }
        ("GET", "/v5/asset/coin/query-info") => (CoinInfo, Some(("asset/coin/query-info", 5, 5))),
        ("GET", "/v5/user/query-api") => (ApiKeyInfo, Some(("user/query-api", 10, 10))),
        ("GET", "/v5/account/info") => (AccountInfo, Some(("account/info", 50, 50))),
        _ => return None,
    })
}

fn envelope(result: Result<Value, Fail>, now: i64) -> (StatusCode, Value) {
    match result {
        Ok(result) => (
            StatusCode::OK,
            json!({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now}),
        ),
        Err(f) => (
            f.http,
            json!({"retCode": f.code, "retMsg": f.msg, "result": {}, "retExtInfo": {}, "time": now}),
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
            }),
            now,
        );
        return (status, body.to_string()).into_response();
    };
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
                        _ => continue,
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
    let (verdict, usage) = st.limits.check(limit);
    match verdict {
        BybitVerdict::Allowed => {}
        BybitVerdict::IpBanned { .. } => {
            return (StatusCode::FORBIDDEN, "access too frequent").into_response();
        }
        BybitVerdict::TooMany => {
            return reply(envelope(Err(fail(10006, "Too many visits!")), now), usage);
        }
    }
    let account = if uid_limit.is_some() {
        let signed_payload = if method == Method::POST {
            body_text.as_str()
        } else {
            query.as_str()
        };
        match authenticate(&st, &headers, signed_payload, now) {
            Ok(a) => Some(a),
            Err(f) => return reply(envelope(Err(f), now), usage),
        }
    } else {
        None
    };
    let answer = dispatch(&st, endpoint, category, account, &params, now);
    reply(envelope(answer, now), usage)
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

fn authenticate(
    st: &BybitState,
    headers: &HeaderMap,
    payload: &str,
    now: i64,
) -> Result<usize, Fail> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (key, timestamp, sign) = (
        header("X-BAPI-API-KEY"),
        header("X-BAPI-TIMESTAMP"),
        header("X-BAPI-SIGN"),
    );
    let recv_window = header("X-BAPI-RECV-WINDOW");
    if key.is_empty() || timestamp.is_empty() || sign.is_empty() {
        return Err(Fail {
            http: StatusCode::UNAUTHORIZED,
            code: 10003,
            msg: "API key is invalid.".into(),
        });
    }
    let account = st
        .spot
        .lock()
        .account_by_key(&key)
        .ok_or_else(|| fail(10003, "API key is invalid."))?;
    let window: i64 = if recv_window.is_empty() {
        5000
    } else {
        recv_window
            .parse()
            .map_err(|_| fail(10001, "recv_window invalid"))?
    };
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| fail(10001, "timestamp invalid"))?;
    let origin = format!("{timestamp}{key}{recv_window}{payload}");
    let secret = st.spot.lock().accounts[account].secret.clone();
    if !hmac_hex(&secret, &origin).eq_ignore_ascii_case(&sign) {
        return Err(fail(10004, format!("error sign! origin_string[{origin}]")));
    }
    if !(now - window <= ts && ts < now + 1000) {
        return Err(fail(
            10002,
            format!(
                "invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts}],server_timestamp[{now}],recv_window[{window}]"
            ),
        ));
    }
    Ok(account)
}

fn need<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Fail> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| fail(10001, format!("params error: {name} is required")))
}

fn dispatch(
    st: &BybitState,
    endpoint: Endpoint,
    category: Option<Category>,
    account: Option<usize>,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    use Endpoint::*;
    if endpoint == Time {
        return Ok(
            json!({"timeSecond": (now / 1000).to_string(), "timeNano": format!("{}000000", now)}),
        );
    }
    match endpoint {
        Wallet => return wallet(st, account.expect("signed"), params),
        CoinInfo => {
            let ex = st.spot.lock();
            let rows: Vec<Value> = ex.accounts[account.expect("signed")]
                .balances
                .keys()
                .map(|c| json!({"name": c, "coin": c, "remainAmount": "1000000", "chains": []}))
                .collect();
            return Ok(json!({"rows": rows}));
        }
        ApiKeyInfo => {
            let key = st.spot.lock().accounts[account.expect("signed")]
                .api_key
                .clone();
            return Ok(
                json!({"id": "1", "note": "tradewire-sim", "apiKey": key, "readOnly": 0, "secret": "",
                "permissions": {"ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"], "Wallet": [],
                    "Options": [], "Derivatives": [], "CopyTrading": [], "BlockTrade": [], "Exchange": [], "NFT": []},
                "ips": ["*"], "type": 1, "deadlineDay": -1, "expiredAt": "", "createdAt": "", "unified": 1, "uta": 1,
                "userID": 1000 + account.expect("signed"), "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0",
                "affiliateID": 0, "rsaPublicKey": "", "isMaster": true}),
            );
        }
        AccountInfo => {
            return Ok(
                json!({"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": false,
                "spotHedgingStatus": "OFF", "updatedTime": now.to_string(), "dcpStatus": "OFF", "timeWindow": 10,
                "smpGroup": 0}),
            );
        }
        _ => {}
    }
    let category = category.ok_or_else(|| fail(10001, "params error: category is invalid"))?;
    let market = st.market(category);
    let symbol = params
        .get("symbol")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    let unknown = |ex: &Exchange, s: &str| !ex.symbols.contains_key(s);
    let bad_symbol = || {
        if category == Category::Spot {
            fail(170121, "Invalid symbol.")
        } else {
            fail(10001, "params error: symbol invalid")
        }
    };
    match endpoint {
        Instruments => {
            let ex = market.lock();
            if symbol.is_some_and(|s| unknown(&ex, s)) {
                return Ok(
                    json!({"category": category.as_str(), "list": [], "nextPageCursor": ""}),
                );
            }
            let list: Vec<Value> = ex
                .symbols
                .values()
                .filter(|s| symbol.is_none_or(|f| f == s.spec.name))
                .map(|s| instrument(&s.spec, category))
                .collect();
            Ok(json!({"category": category.as_str(), "list": list, "nextPageCursor": ""}))
        }
        Orderbook => {
            let ex = market.lock();
            let name = need(params, "symbol")?;
            if unknown(&ex, name) {
                return Err(bad_symbol());
            }
            let default = if category == Category::Spot { 1 } else { 25 };
            let limit: usize = params
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(default)
                .clamp(1, 1000);
            let s = &ex.symbols[name];
            let side = |side| -> Vec<Value> {
                s.book
                    .levels(side, limit)
                    .into_iter()
                    .map(|(p, q)| json!([num(s.spec.price(p)), num(s.spec.qty(q))]))
                    .collect()
            };
            Ok(
                json!({"s": name, "b": side(Side::Buy), "a": side(Side::Sell), "ts": now, "u": s.book.update_id,
                "seq": s.book.update_id, "cts": now}),
            )
        }
        Tickers => {
            let ex = market.lock();
            if symbol.is_some_and(|s| unknown(&ex, s)) {
                return Err(bad_symbol());
            }
            let list: Vec<Value> = ex
                .symbols
                .values()
                .filter(|s| symbol.is_none_or(|f| f == s.spec.name))
                .map(|s| ticker(&ex, &s.spec.name, category, false))
                .collect();
            Ok(json!({"category": category.as_str(), "list": list}))
        }
        RecentTrades => {
            let ex = market.lock();
            let name = need(params, "symbol")?;
            if unknown(&ex, name) {
                return Err(bad_symbol());
            }
            let limit: usize = params
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(60)
                .clamp(1, 1000);
            let list: Vec<Value> = ex.symbols[name]
                .recent_trades
                .iter()
                .rev()
                .take(limit)
                .map(|(id, p, q, taker, t)| json!({"execId": trade_id(category, *id), "symbol": name, "price": num(*p),
                    "size": num(*q), "side": side_str(*taker), "time": t.to_string(), "isBlockTrade": false}))
                .collect();
            Ok(json!({"category": category.as_str(), "list": list}))
        }
        Create => create(st, category, account.expect("signed"), params, now),
        Cancel => {
            let mut ex = market.lock();
            let name = need(params, "symbol")?;
            if unknown(&ex, name) {
                return Err(bad_symbol());
            }
            let id = params.get("orderId").and_then(|t| parse_order_id(t));
            let link = params
                .get("orderLinkId")
                .map(String::as_str)
                .filter(|s| !s.is_empty());
            if id.is_none() && link.is_none() {
                return Err(fail(
                    10001,
                    "params error: orderId or orderLinkId is required",
                ));
            }
            match ex.cancel(account.expect("signed"), name, id, link, now) {
                Ok(oid) => Ok(
                    json!({"orderId": order_id_str(oid), "orderLinkId": ex.orders[&oid].client_id}),
                ),
                Err(_) if category == Category::Spot => Err(fail(170213, "Order does not exist.")),
                Err(_) => Err(fail(110001, "order not exists or too late to cancel")),
            }
        }
        CancelAll => {
            let mut ex = market.lock();
            let acct = account.expect("signed");
            if symbol.is_some_and(|s| unknown(&ex, s)) {
                return Err(bad_symbol());
            }
            let open: Vec<(u64, String)> = ex
                .open_orders(acct, symbol)
                .iter()
                .map(|o| (o.id, o.symbol.clone()))
                .collect();
            let mut list = Vec::new();
            for (id, sym) in open {
                if ex.cancel(acct, &sym, Some(id), None, now).is_ok() {
                    list.push(json!({"orderId": order_id_str(id), "orderLinkId": ex.orders[&id].client_id}));
                }
            }
            Ok(json!({"list": list, "success": "1"}))
        }
        Realtime | History => {
            let ex = market.lock();
            let acct = account.expect("signed");
            if category == Category::Linear
                && symbol.is_none()
                && params.get("settleCoin").is_none()
                && params.get("baseCoin").is_none()
            {
                return Err(fail(
                    10001,
                    "params error: symbol, settleCoin or baseCoin is required",
                ));
            }
            let id = params.get("orderId").and_then(|t| parse_order_id(t));
            let link = params
                .get("orderLinkId")
                .map(String::as_str)
                .filter(|s| !s.is_empty());
            let closed =
                endpoint == History || params.get("openOnly").map(String::as_str) == Some("1");
            let limit: usize = params
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(20)
                .clamp(1, 50);
            let mut orders: Vec<&crate::exchange::Order> = ex
                .orders
                .values()
                .filter(|o| o.account == acct && symbol.is_none_or(|s| s == o.symbol))
                .filter(|o| id.is_none_or(|i| i == o.id) && link.is_none_or(|l| l == o.client_id))
                .filter(|o| {
                    if id.is_some() || link.is_some() {
                        true
                    } else {
                        o.status.is_open() != closed
                    }
                })
                .collect();
            orders.sort_by_key(|o| std::cmp::Reverse((o.created_ms, o.id)));
            let list: Vec<Value> = orders
                .into_iter()
                .take(limit)
                .map(|o| order_json(&ex, o, category))
                .collect();
            Ok(json!({"category": category.as_str(), "list": list, "nextPageCursor": ""}))
        }
        Executions => {
            let ex = market.lock();
            let acct = account.expect("signed");
            let limit: usize = params
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(50)
                .clamp(1, 100);
            let mut rows: Vec<(i64, u64, Value)> = Vec::new();
            for o in ex
                .orders
                .values()
                .filter(|o| o.account == acct && symbol.is_none_or(|s| s == o.symbol))
            {
                for f in &o.fills {
                    rows.push((f.time_ms, f.trade_id, execution_json(&ex, o, f, category)));
                }
            }
            rows.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
            Ok(
                json!({"category": category.as_str(), "list": rows.into_iter().take(limit).map(|r| r.2).collect::<Vec<_>>(), "nextPageCursor": ""}),
            )
        }
        Positions => {
            if category != Category::Linear {
                return Err(fail(10001, "params error: category only support linear"));
            }
            let ex = market.lock();
            if symbol.is_none() && params.get("settleCoin").is_none() {
                return Err(fail(
                    10001,
                    "params error: symbol or settleCoin is required",
                ));
            }
            if symbol.is_some_and(|s| unknown(&ex, s)) {
                return Err(bad_symbol());
            }
            let acct = account.expect("signed");
            let list: Vec<Value> = ex
                .symbols
                .keys()
                .filter(|s| symbol.is_none_or(|f| f == s.as_str()))
                .filter(|s| {
                    symbol.is_some()
                        || ex.accounts[acct]
                            .positions
                            .get(*s)
                            .is_some_and(|p| !p.size.is_zero())
                })
                .map(|s| position_json(&ex, acct, s))
                .collect();
            Ok(json!({"category": "linear", "list": list, "nextPageCursor": ""}))
        }
        SetLeverage => {
            let mut ex = market.lock();
            let name = need(params, "symbol")?.to_owned();
            let buy: Decimal = need(params, "buyLeverage")?
                .parse()
                .map_err(|_| fail(10001, "params error: buyLeverage"))?;
            ex.set_leverage(account.expect("signed"), &name, buy)
                .map_err(|_| fail(10001, "params error: leverage invalid"))?;
            Ok(json!({}))
        }
        Time | Wallet | CoinInfo | ApiKeyInfo | AccountInfo => unreachable!("handled above"),
    }
}

pub fn trade_id(category: Category, id: u64) -> String {
    match category {
        Category::Spot => (2_290_000_000_000_000_000u64 + id).to_string(),
        Category::Linear => uuid(0x7ade, id),
    }
}

fn instrument(spec: &crate::exchange::SymbolSpec, category: Category) -> Value {
    match category {
        Category::Spot => {
            json!({"symbol": spec.name, "baseCoin": spec.base, "quoteCoin": spec.quote, "innovation": "0",
            "status": "Trading", "marginTrading": "none", "stTag": "0",
            "lotSizeFilter": {"basePrecision": num(spec.step), "quotePrecision": "0.00000001", "minOrderQty": num(spec.min_qty),
                "maxOrderQty": num(spec.max_qty), "minOrderAmt": num(spec.min_notional), "maxOrderAmt": "2000000",
                "maxLimitOrderQty": num(spec.max_qty), "maxMarketOrderQty": num(spec.max_qty), "postOnlyMaxLimitOrderSize": num(spec.max_qty)},
            "priceFilter": {"tickSize": num(spec.tick)}, "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"},
            "symbolType": ""})
        }
        Category::Linear => {
            json!({"symbol": spec.name, "contractType": "LinearPerpetual", "status": "Trading",
            "baseCoin": spec.base, "quoteCoin": spec.quote, "launchTime": "1585526400000", "deliveryTime": "0",
            "deliveryFeeRate": "", "priceScale": spec.price_decimals().to_string(),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": num(spec.tick), "maxPrice": "1999999.80", "tickSize": num(spec.tick)},
            "lotSizeFilter": {"maxOrderQty": num(spec.max_qty), "minOrderQty": num(spec.min_qty), "qtyStep": num(spec.step),
                "postOnlyMaxOrderQty": num(spec.max_qty), "maxMktOrderQty": num(spec.max_qty), "minNotionalValue": num(spec.min_notional)},
            "unifiedMarginTrade": true, "fundingInterval": 480, "settleCoin": spec.quote, "copyTrading": "both",
            "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": false, "preListingInfo": null,
            "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"}, "symbolType": "", "displayName": ""})
        }
    }
}

/// A ticker; `stream` leaves out what the spot `tickers` topic does not carry (bid/ask).
pub fn ticker(ex: &Exchange, symbol: &str, category: Category, stream: bool) -> Value {
    let s = &ex.symbols[symbol];
    let spec = &s.spec;
    let pct = s.stats().change_ratio.round_dp(6);
    let mut v = json!({"symbol": symbol, "lastPrice": num(s.last_price), "highPrice24h": num(s.high_24h),
        "lowPrice24h": num(s.low_24h), "prevPrice24h": num(s.open_24h), "volume24h": num(s.volume_24h),
        "turnover24h": num(s.quote_volume_24h.round_dp(8)), "price24hPcnt": num(pct)});
    let ((b, bq), (a, aq)) = (s.top(Side::Buy), s.top(Side::Sell));
    if !(stream && category == Category::Spot) {
        v["bid1Price"] = json!(num(b));
        v["bid1Size"] = json!(num(bq));
        v["ask1Price"] = json!(num(a));
        v["ask1Size"] = json!(num(aq));
    }
    match category {
        Category::Spot => {
            v["usdIndexPrice"] = json!(num(s.last_price));
        }
        Category::Linear => {
            let mark = ex.mark(symbol).round_dp(spec.price_decimals());
            for (k, val) in [
                ("tickDirection", json!("ZeroPlusTick")),
                ("prevPrice1h", json!(num(s.open_24h))),
                ("markPrice", json!(num(mark))),
                ("indexPrice", json!(num(mark))),
                ("openInterest", json!("0")),
                ("openInterestValue", json!("0")),
                ("fundingRate", json!("0.0001")),
                ("nextFundingTime", json!("0")),
                ("fundingIntervalHour", json!("8")),
                ("fundingCap", json!("0.005")),
                ("predictedDeliveryPrice", json!("")),
                ("basisRate", json!("")),
                ("deliveryFeeRate", json!("")),
                ("deliveryTime", json!("0")),
                ("basis", json!("")),
            ] {
                v[k] = val;
            }
        }
    }
    v
}

pub fn execution_json(
    ex: &Exchange,
    o: &crate::exchange::Order,
    f: &crate::exchange::FillRec,
    category: Category,
) -> Value {
    let spec = &ex.symbols[&o.symbol].spec;
    let price = o.price.map_or(Decimal::ZERO, |p| spec.price(p));
    let leaves = if o.status.is_open() {
        spec.qty(o.lots - o.filled)
    } else {
        Decimal::ZERO
    };
    let rate = if f.is_maker {
        ex.maker_fee
    } else {
        ex.taker_fee
    };
    json!({"category": category.as_str(), "symbol": o.symbol, "orderId": order_id_str(o.id), "orderLinkId": o.client_id,
        "side": side_str(o.side), "orderPrice": num(price), "orderQty": num(spec.qty(o.lots)), "leavesQty": num(leaves),
        "orderType": if o.kind == OrderKind::Market { "Market" } else { "Limit" }, "stopOrderType": "",
        "execFee": num(f.fee), "execId": uuid(0xe4ec, f.trade_id ^ (o.id << 32)), "execPrice": num(f.price),
        "execQty": num(f.qty), "execType": "Trade", "execValue": num(f.price * f.qty), "execTime": f.time_ms.to_string(),
        "isMaker": f.is_maker, "feeRate": num(rate), "tradeIv": "", "markIv": "", "markPrice": num(ex.mark(&o.symbol)),
        "indexPrice": "", "underlyingPrice": "", "blockTradeId": "", "closedSize": "", "seq": f.trade_id,
        "feeCurrency": f.fee_asset, "isLeverage": "0", "createType": "CreateByUser"})
}

pub fn position_json(ex: &Exchange, account: usize, symbol: &str) -> Value {
    let p = ex.accounts[account]
        .positions
        .get(symbol)
        .cloned()
        .unwrap_or_default();
    let mark = ex.mark(symbol);
    let side = if p.size.is_zero() {
        ""
    } else if p.size.is_sign_positive() {
        "Buy"
    } else {
        "Sell"
    };
    let value = p.size.abs() * p.entry;
    json!({"positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": symbol, "side": side,
        "size": num(p.size.abs()), "avgPrice": num(p.entry), "entryPrice": num(p.entry), "positionValue": num(value), "tradeMode": 0,
        "positionStatus": "Normal", "autoAddMargin": 0, "adlRankIndicator": if p.size.is_zero() { 0 } else { 2 },
        "leverage": num(p.leverage), "positionBalance": num(value / p.leverage), "markPrice": num(mark), "liqPrice": "",
        "bustPrice": "", "positionMM": "0", "positionIM": num(value / p.leverage), "tpslMode": "Full", "takeProfit": "0",
        "stopLoss": "0", "trailingStop": "0", "unrealisedPnl": num(ex.unrealized(account, symbol)),
        "curRealisedPnl": num(p.realized), "cumRealisedPnl": num(p.realized), "seq": p.updated_ms, "isReduceOnly": false,
        "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "createdTime": p.updated_ms.to_string(),
        "updatedTime": p.updated_ms.to_string(), "breakEvenPrice": num(p.entry), "category": "linear"})
}

fn wallet(st: &BybitState, account: usize, params: &HashMap<String, String>) -> Answer {
    if params.get("accountType").map(String::as_str) != Some("UNIFIED") {
        return Err(fail(
            10001,
            "params error: accountType only support UNIFIED",
        ));
    }
    let wanted: Option<Vec<&str>> = params.get("coin").map(|c| c.split(',').collect());
    let mut coins: std::collections::BTreeMap<String, (Decimal, Decimal)> = Default::default();
    let mut upnl = Decimal::ZERO;
    for market in [&st.spot, &st.linear] {
        let ex = market.lock();
        for (asset, b) in &ex.accounts[account].balances {
            let entry = coins.entry(asset.clone()).or_default();
            entry.0 += b.free + b.locked;
            entry.1 += b.locked;
        }
        if ex.kind == Kind::Perp {
            upnl += ex.accounts[account]
                .positions
                .keys()
                .map(|s| ex.unrealized(account, s))
                .sum::<Decimal>();
        }
    }
    let list: Vec<Value> = coins
        .iter()
        .filter(|(c, (w, _))| wanted.as_ref().map_or(!w.is_zero(), |list| list.contains(&c.as_str())))
        .map(|(c, (w, locked))| {
            let pnl = if c == "USDT" { upnl } else { Decimal::ZERO };
            json!({"coin": c, "equity": num(w + pnl), "usdValue": num(*w), "walletBalance": num(*w), "locked": num(*locked),
                "availableToWithdraw": "", "availableToBorrow": "", "borrowAmount": "0", "accruedInterest": "0",
                "totalOrderIM": num(*locked), "totalPositionIM": "0", "totalPositionMM": "0", "unrealisedPnl": num(pnl),
                "cumRealisedPnl": "0", "bonus": "0", "collateralSwitch": true, "marginCollateral": true, "spotBorrow": "0",
                "free": num(w - locked)})
        })
        .collect();
    let total: Decimal = coins.get("USDT").map_or(Decimal::ZERO, |c| c.0);
    Ok(
        json!({"list": [{"accountType": "UNIFIED", "accountIMRate": "0", "accountMMRate": "0", "accountLTV": "0",
        "totalEquity": num(total + upnl), "totalWalletBalance": num(total), "totalMarginBalance": num(total + upnl),
        "totalAvailableBalance": num(total), "totalPerpUPL": num(upnl), "totalInitialMargin": "0",
        "totalMaintenanceMargin": "0", "coin": list}]}),
    )
}

fn create(
    st: &BybitState,
    category: Category,
    account: usize,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    let spot = category == Category::Spot;
    let mut ex = st.market(category).lock();
    let symbol = need(params, "symbol")?.to_owned();
    if !ex.symbols.contains_key(&symbol) {
        return Err(if spot {
            fail(170121, "Invalid symbol.")
        } else {
            fail(10001, "params error: symbol invalid")
        });
    }
    let side = match need(params, "side")? {
        "Buy" => Side::Buy,
        "Sell" => Side::Sell,
        _ => return Err(fail(10001, "params error: side invalid")),
    };
    let kind = match need(params, "orderType")? {
        "Limit" => OrderKind::Limit,
        "Market" => OrderKind::Market,
        _ => return Err(fail(10001, "params error: orderType invalid")),
    };
    let tif = match (
        kind,
        params
            .get("timeInForce")
            .map(String::as_str)
            .unwrap_or("GTC"),
    ) {
        (OrderKind::Market, _) => Tif::Ioc,
        (_, "GTC") => Tif::Gtc,
        (_, "IOC") => Tif::Ioc,
        (_, "FOK") => Tif::Fok,
        (_, "PostOnly") => Tif::PostOnly,
        _ => return Err(fail(10001, "params error: timeInForce invalid")),
    };
    let dec = |name: &str| -> Result<Option<Decimal>, Fail> {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<Decimal>()
                    .map_err(|_| fail(10001, format!("params error: {name} invalid")))
            })
            .transpose()
    };
    let qty = dec("qty")?.ok_or_else(|| fail(10001, "params error: qty is required"))?;
    let price = dec("price")?;
    if kind == OrderKind::Limit && price.is_none() {
        return Err(fail(
            10001,
            "params error: price is required for a limit order",
        ));
    }
    // Spot market buys are in the quote coin unless marketUnit says otherwise.
    let by_quote = spot
        && kind == OrderKind::Market
        && match params.get("marketUnit").map(String::as_str) {
            Some("baseCoin") => false,
            Some("quoteCoin") => true,
            _ => side == Side::Buy,
        };
    let link = params.get("orderLinkId").cloned().filter(|l| !l.is_empty());
    if let Some(l) = &link {
        if l.len() > 36
            || !l
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(fail(10001, "params error: orderLinkId invalid"));
        }
        if ex
            .orders
            .values()
            .any(|o| o.account == account && o.client_id == *l)
        {
            return Err(if spot {
                fail(170141, "Duplicate clientOrderId.")
            } else {
                fail(110072, "OrderLinkedID is duplicate")
            });
        }
    }
    let reduce_only = params.get("reduceOnly").map(String::as_str) == Some("true");
    let link_for_reply = link.clone().unwrap_or_default();
    let req = NewOrder {
        symbol,
        side,
        kind,
        tif,
        price,
        qty: (!by_quote).then_some(qty),
        quote_qty: by_quote.then_some(qty),
        // Bybit keeps an empty orderLinkId when none was given.
        client_id: Some(link.unwrap_or_default()),
        reduce_only,
    };
    let id = ex.place(account, req, now).map_err(|r| reject(r, spot))?;
    Ok(json!({"orderId": order_id_str(id), "orderLinkId": link_for_reply}))
}

fn reject(r: Reject, spot: bool) -> Fail {
    match (r, spot) {
        (Reject::UnknownSymbol, true) => fail(170121, "Invalid symbol."),
        (Reject::Filter("PRICE_FILTER"), true) => {
            fail(170134, "Order price has too many decimals.")
        }
        (Reject::Filter("LOT_SIZE"), true) => fail(170137, "Order quantity has too many decimals."),
        (Reject::Filter(_), true) => fail(170140, "Order value exceeded lower limit."),
        (Reject::InsufficientBalance, true) => fail(170131, "Insufficient balance."),
        (Reject::DuplicateClientId, true) => fail(170141, "Duplicate clientOrderId."),
        (Reject::Filter("NOTIONAL"), false) => {
            fail(110094, "Order does not meet minimum order value 5USDT")
        }
        (Reject::Filter(_), false) => fail(10001, "params error: price or qty invalid"),
        (Reject::InsufficientBalance, false) => fail(110007, "ab not enough for new order"),
        (Reject::DuplicateClientId, false) => fail(110072, "OrderLinkedID is duplicate"),
        (Reject::UnknownSymbol, false) => fail(10001, "params error: symbol invalid"),
        (Reject::WouldTake, _) => fail(10001, "post only order would take"),
        (Reject::UnknownOrder | Reject::AlreadyClosed, _) => {
            fail(110001, "order not exists or too late to cancel")
        }
        (Reject::Invalid(name), _) => fail(10001, format!("params error: {name} invalid")),
    }
}
