//! Binance USD-M's algo service (since 2025-12-09 the home of conditional orders): `POST`,
//! `GET` and `DELETE /fapi/v1/algoOrder`, `GET /fapi/v1/openAlgoOrders`, `DELETE
//! /fapi/v1/algoOpenOrders`. An algo order is named by its algo id and client algo id until
//! it triggers; the order it becomes keeps the client id under an order id of its own, and is
//! the order endpoints' from then on. Shapes follow the official SDK's models.

use serde_json::{Value, json};

use super::orders::{order_ids, reject, requested};
use super::{Answer, ApiError, Params, symbol_of};
use crate::binance::{
    BinanceState, Figures, exact, fixed, side_str, stop_price, tif_str, usdm_figures,
};
use crate::book::Side;
use crate::exchange::{Exchange, Order, OrderKind, Status, Watch};

/// The algo service's type word of a conditional order.
pub fn algo_type(o: &Order) -> &'static str {
    if o.trail.is_some() {
        return "TRAILING_STOP_MARKET";
    }
    let stop = o.trigger.is_some_and(|t| t.rises == (o.side == Side::Buy));
    match (o.kind, stop) {
        (OrderKind::Market, true) => "STOP_MARKET",
        (OrderKind::Limit, true) => "STOP",
        (OrderKind::Market, false) => "TAKE_PROFIT_MARKET",
        (OrderKind::Limit, false) => "TAKE_PROFIT",
    }
}

/// `algoStatus` / `X`: NEW until it triggers, TRIGGERING on the way, TRIGGERED while the
/// order it became works, FINISHED once that ended; CANCELED before its trigger, EXPIRED when
/// the order it became could not be placed.
pub fn algo_status(o: &Order) -> &'static str {
    match o.status {
        Status::Untriggered => "NEW",
        Status::Triggered => "TRIGGERING",
        Status::New | Status::PartiallyFilled => "TRIGGERED",
        Status::Canceled if !o.triggered => "CANCELED",
        _ if o.reject.is_some() => "EXPIRED",
        Status::Rejected => "REJECTED",
        _ => "FINISHED",
    }
}

/// The order it became, once there is one working or worked ("" before).
pub fn actual_id(o: &Order) -> String {
    if o.became() {
        o.id.to_string()
    } else {
        String::new()
    }
}

fn working_type(o: &Order) -> &'static str {
    match o.trigger.map(|t| t.by) {
        Some(Watch::Mark | Watch::Index) => "MARK_PRICE",
        _ => "CONTRACT_PRICE",
    }
}

/// An algo order as the REST answers show it.
pub fn algo_json(ex: &Exchange, o: &Order) -> Value {
    let spec = &ex.symbols[&o.symbol].spec;
    let Figures {
        pd,
        qd,
        price,
        executed,
        avg,
    } = usdm_figures(ex, o);
    json!({"algoId": o.algo, "clientAlgoId": o.client_id, "algoType": "CONDITIONAL", "orderType": algo_type(o),
        "symbol": o.symbol, "side": side_str(o.side), "positionSide": o.leg.word(), "timeInForce": tif_str(o.tif, false),
        "quantity": exact(spec.qty(o.lots), qd), "algoStatus": algo_status(o), "actualOrderId": actual_id(o),
        "actualPrice": fixed(avg, pd.max(2)), "actualQty": exact(executed, qd),
        "triggerPrice": exact(stop_price(o), pd), "price": exact(price, pd),
        "activatePrice": o.trail.and_then(|t| t.activation).map_or_else(String::new, |a| exact(a, pd)),
        "callbackRate": o.trail.map_or_else(String::new, |t| t.distance.normalize().to_string()),
        "icebergQuantity": null, "tpOrderType": "", "selfTradePreventionMode": "NONE", "workingType": working_type(o),
        "priceMatch": "NONE", "closePosition": o.close, "priceProtect": false, "reduceOnly": o.reduce_only,
        "createTime": o.created_ms, "updateTime": o.updated_ms, "triggerTime": if o.triggered { o.updated_ms } else { 0 },
        "goodTillDate": 0})
}

/// `ALGO_UPDATE`'s order object (`o`).
pub fn algo_update(ex: &Exchange, o: &Order) -> Value {
    let spec = &ex.symbols[&o.symbol].spec;
    let Figures {
        pd,
        qd,
        price,
        executed,
        avg,
    } = usdm_figures(ex, o);
    let actual = match o.kind {
        OrderKind::Market => "MARKET",
        OrderKind::Limit => "LIMIT",
    };
    let mut v = json!({"caid": o.client_id, "aid": o.algo, "at": "CONDITIONAL", "o": algo_type(o), "s": o.symbol,
        "S": side_str(o.side), "ps": o.leg.word(), "f": tif_str(o.tif, false), "q": exact(spec.qty(o.lots), qd),
        "X": algo_status(o), "ai": actual_id(o), "ap": fixed(avg, pd.max(2)), "aq": exact(executed, qd),
        "act": if o.triggered { actual } else { "0" },
        "tp": exact(stop_price(o), pd), "p": exact(price, pd), "V": "NONE",
        "ia": o.trail.is_some_and(|t| t.extreme.is_some()),
        "wt": working_type(o), "pm": "NONE", "cp": o.close, "pP": false, "R": o.reduce_only,
        "tt": if o.triggered { o.updated_ms } else { 0 }, "gtd": 0});
    if let Some(why) = o.reject {
        v["rm"] = json!(why);
    }
    v
}

/// The account's algo order named by `algoId` or `clientAlgoId` (the latest of that id).
fn find<'a>(ex: &'a Exchange, account: usize, params: &Params) -> Result<&'a Order, ApiError> {
    let (id, cid) = order_ids(params, "algoId", "clientAlgoId")?;
    ex.orders
        .values()
        .filter(|o| o.account == account && o.algo.is_some())
        .filter(|o| id.is_none_or(|id| o.algo == Some(id)) && cid.is_none_or(|c| o.client_id == c))
        .max_by_key(|o| o.algo)
        .ok_or_else(|| ApiError::bad(-2013, "Order does not exist."))
}

pub(super) fn place(st: &BinanceState, account: usize, params: &Params, now: i64) -> Answer {
    let mut ex = st.market.lock();
    if params.get("algoType") != Some("CONDITIONAL") {
        return Err(ApiError::mandatory("algoType"));
    }
    let req = requested(&ex, params, false, true)?;
    let id = ex.place(account, req, now).map_err(|r| reject(r, false))?;
    Ok(algo_json(&ex, &ex.orders[&id]))
}

pub(super) fn query(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let ex = st.market.lock();
    let o = find(&ex, account, params)?;
    Ok(algo_json(&ex, o))
}

pub(super) fn cancel(st: &BinanceState, account: usize, params: &Params, now: i64) -> Answer {
    let mut ex = st.market.lock();
    let o = find(&ex, account, params)?;
    // Only an order still waiting for its trigger is the service's to cancel.
    if o.status != Status::Untriggered {
        return Err(ApiError::bad(-2011, "Unknown order sent."));
    }
    let (id, algo, cid, symbol) = (o.id, o.algo, o.client_id.clone(), o.symbol.clone());
    ex.cancel(account, &symbol, Some(id), None, now)
        .map_err(|r| reject(r, false))?;
    Ok(json!({"algoId": algo, "clientAlgoId": cid, "code": "200", "msg": "success"}))
}

fn waiting(o: &Order, account: usize, symbol: Option<&str>) -> bool {
    o.account == account
        && o.algo.is_some()
        && matches!(o.status, Status::Untriggered | Status::Triggered)
        && symbol.is_none_or(|s| o.symbol == s)
}

pub(super) fn open(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let ex = st.market.lock();
    let symbol = match params.get("symbol") {
        Some(_) => Some(symbol_of(&ex, params)?),
        None => None,
    };
    let mut list: Vec<&Order> = ex
        .orders
        .values()
        .filter(|o| waiting(o, account, symbol))
        .collect();
    list.sort_by_key(|o| o.algo);
    Ok(Value::Array(
        list.into_iter().map(|o| algo_json(&ex, o)).collect(),
    ))
}

pub(super) fn cancel_all(st: &BinanceState, account: usize, params: &Params, now: i64) -> Answer {
    let mut ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?.to_owned();
    let mut ids: Vec<u64> = ex
        .orders
        .values()
        .filter(|o| waiting(o, account, Some(&symbol)) && o.status == Status::Untriggered)
        .map(|o| o.id)
        .collect();
    ids.sort_unstable();
    for id in ids {
        let _ = ex.cancel(account, &symbol, Some(id), None, now);
    }
    Ok(json!({"code": 200, "msg": "The operation of cancel all open order is done."}))
}
