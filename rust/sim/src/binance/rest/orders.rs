//! Binance REST orders: place, cancel, query, open orders, cancel-all and the account's trades,
//! the engine's rejects as venue error codes, and the order object in each of its shapes.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Answer, ApiError, Params, symbol_of};
use crate::binance::{
    BinanceState, decimals, exact, fixed, side_str, status_str, tif_str, type_str,
};
use crate::book::Side;
use crate::exchange::{
    AmendRule, Exchange, Leg, NewOrder, Order, OrderKind, Reject, Status, Tif, Trail, Trigger,
    Watch,
};

/// The order a request names by its id (`id_name`) or client id (`client_name`): one of the
/// two is required.
pub(super) fn order_ids<'a>(
    params: &'a Params,
    id_name: &str,
    client_name: &str,
) -> Result<(Option<u64>, Option<&'a str>), ApiError> {
    let id = params.int(id_name)?.map(|i| i.max(0) as u64);
    let cid = params.get(client_name);
    if id.is_none() && cid.is_none() {
        return Err(ApiError::bad(
            -1102,
            format!("Param '{client_name}' or '{id_name}' must be sent, but both were empty/null!"),
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

/// The order a place request asks for: of the order endpoint, or (`algo`) of USD-M's algo
/// service, which takes the conditional types and names its fields apart.
pub(super) fn requested(
    ex: &Exchange,
    params: &Params,
    spot: bool,
    algo: bool,
) -> Result<NewOrder, ApiError> {
    let symbol = symbol_of(ex, params)?.to_owned();
    let side = match params.require("side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(ApiError::bad(-1117, "Invalid side.")),
    };
    let type_ = params.require("type")?;
    // A stop fires against the order's side (a BUY's on a rise), a take-profit its way.
    let stop = match (type_, spot, algo) {
        ("STOP_LOSS" | "STOP_LOSS_LIMIT", true, _) => Some(side == Side::Buy),
        ("TAKE_PROFIT" | "TAKE_PROFIT_LIMIT", true, _) => Some(side == Side::Sell),
        ("STOP" | "STOP_MARKET" | "TRAILING_STOP_MARKET", false, true) => Some(side == Side::Buy),
        ("TAKE_PROFIT" | "TAKE_PROFIT_MARKET", false, true) => Some(side == Side::Sell),
        (
            "STOP" | "STOP_MARKET" | "TAKE_PROFIT" | "TAKE_PROFIT_MARKET" | "TRAILING_STOP_MARKET",
            false,
            false,
        ) => {
            // Since 2025-12-09 conditional orders go through the algo-order service.
            return Err(ApiError::bad(
                -4120,
                "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
            ));
        }
        // The service takes only conditional types.
        _ if algo => return Err(ApiError::bad(-1116, "Invalid orderType.")),
        _ => None,
    };
    let (kind, mut tif) = match (type_, spot) {
        ("LIMIT" | "STOP_LOSS_LIMIT" | "TAKE_PROFIT_LIMIT", _)
        | ("STOP" | "TAKE_PROFIT", false) => (OrderKind::Limit, None),
        ("MARKET" | "STOP_LOSS" | "TAKE_PROFIT", _)
        | ("STOP_MARKET" | "TAKE_PROFIT_MARKET" | "TRAILING_STOP_MARKET", false) => {
            (OrderKind::Market, Some(Tif::Ioc))
        }
        ("LIMIT_MAKER", true) => (OrderKind::Limit, Some(Tif::PostOnly)),
        _ => return Err(ApiError::bad(-1116, "Invalid orderType.")),
    };
    let (trigger_key, client_key) = if algo {
        ("triggerPrice", "clientAlgoId")
    } else {
        ("stopPrice", "newClientOrderId")
    };
    let by = match params.get("workingType") {
        Some("MARK_PRICE") if algo => Watch::Mark,
        None | Some("CONTRACT_PRICE") => Watch::Last,
        Some(_) => return Err(ApiError::mandatory("workingType")),
    };
    let trail = trailing(ex, params, &symbol, type_, side, stop, by)?;
    let trigger = match (stop, trail) {
        // A trailing stop's trigger follows the price once active: unreachable till then
        // (a SELL's fires on a fall).
        (Some(_), Some(_)) => Some(Trigger {
            price: Trail::idle(side),
            rises: side == Side::Buy,
            by,
        }),
        (Some(rises), None) => Some(Trigger {
            price: params
                .decimal(trigger_key)?
                .ok_or_else(|| ApiError::mandatory(trigger_key))?,
            rises,
            by,
        }),
        (None, _) => None,
    };
    if kind == OrderKind::Limit && tif.is_none() {
        // The algo service defaults to GTC; the order endpoint requires it.
        let word = match params.get("timeInForce") {
            None if algo => "GTC",
            _ => params.require("timeInForce")?,
        };
        tif = Some(match word {
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
    // The algo service's `closePosition` closes the whole position: no quantity beside it.
    let close = algo && params.get("closePosition") == Some("true");
    if close && (qty.is_some() || params.get("reduceOnly").is_some()) {
        let name = if qty.is_some() {
            "quantity"
        } else {
            "reduceOnly"
        };
        return Err(ApiError::bad(
            -1106,
            format!("Parameter '{name}' sent when not required."),
        ));
    }
    if close && kind != OrderKind::Market {
        return Err(ApiError::bad(
            -1106,
            "Parameter 'closePosition' sent when not required.",
        ));
    }
    if qty.is_none() && quote_qty.is_none() && !close {
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
    let client_id = params.get(client_key).map(str::to_owned);
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
                "Illegal characters found in parameter '{client_key}'; legal range is '{range}'."
            ),
        ));
    }
    let reduce_only = params.get("reduceOnly") == Some("true");
    let leg = match (spot, params.get("positionSide")) {
        (true, _) | (false, None | Some("BOTH")) => Leg::Both,
        (false, Some("LONG")) => Leg::Long,
        (false, Some("SHORT")) => Leg::Short,
        (false, Some(_)) => return Err(ApiError::bad(-4006, "Invalid position side.")),
    };
    // A hedge-mode order closing its leg reduces by itself: the flag is refused beside a leg.
    if reduce_only && leg != Leg::Both {
        return Err(ApiError::bad(
            -1106,
            "Parameter 'reduceOnly' sent when not required.",
        ));
    }
    Ok(NewOrder {
        symbol,
        side,
        kind,
        tif: tif.unwrap_or(Tif::Gtc),
        price,
        qty,
        quote_qty,
        client_id,
        reduce_only,
        leg,
        trigger,
        algo,
        close,
        child: None,
        exits: Default::default(),
        trail,
    })
}

/// A trailing stop's terms: USD-M's `TRAILING_STOP_MARKET` (`callbackRate` 0.1 to 10 %, an
/// optional `activatePrice` a SELL's above the latest price, a BUY's below: it activates on
/// the way there), spot's `trailingDelta` (BIPS, within the TRAILING_DELTA filter) on a
/// STOP_LOSS[_LIMIT], active once its `stopPrice` condition is met if it has one. `None`: not
/// a trailing stop. (The simulator takes no spot TAKE_PROFIT trailing stops.)
fn trailing(
    ex: &Exchange,
    params: &Params,
    symbol: &str,
    type_: &str,
    side: Side,
    stop: Option<bool>,
    by: Watch,
) -> Result<Option<Trail>, ApiError> {
    let sell = side == Side::Sell;
    if type_ == "TRAILING_STOP_MARKET" {
        let rate = params
            .decimal("callbackRate")?
            .ok_or_else(|| ApiError::mandatory("callbackRate"))?;
        if rate < Decimal::new(1, 1) || rate > Decimal::TEN {
            return Err(ApiError::bad(-2007, "Invalid callBack rate."));
        }
        let activation = params.decimal("activatePrice")?;
        let latest = match by {
            Watch::Last => ex.symbols[symbol].last_price,
            _ => ex.mark(symbol),
        };
        if activation.is_some_and(|a| if sell { a <= latest } else { a >= latest }) {
            return Err(ApiError::bad(-2021, "Order would immediately trigger."));
        }
        return Ok(Some(Trail {
            distance: rate,
            percent: true,
            activation,
            rise_activates: sell,
            extreme: None,
        }));
    }
    let Some(bips) = params.decimal("trailingDelta")? else {
        return Ok(None);
    };
    let Some(stop_rises) = stop.filter(|_| type_.starts_with("STOP_LOSS")) else {
        return Err(ApiError::bad(
            -1106,
            "Parameter 'trailingDelta' sent when not required.",
        ));
    };
    if !bips.fract().is_zero() || bips < Decimal::TEN || bips > Decimal::from(2000) {
        return Err(ApiError::bad(-1013, "Filter failure: TRAILING_DELTA"));
    }
    Ok(Some(Trail {
        distance: bips / Decimal::ONE_HUNDRED,
        percent: true,
        activation: params.decimal("stopPrice")?.filter(|p| !p.is_zero()),
        // A stop's own condition activates it: a SELL stop-loss's is a fall to its price.
        rise_activates: stop_rises,
        extreme: None,
    }))
}

pub(super) fn place(st: &BinanceState, account: usize, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let mut ex = st.market.lock();
    let req = requested(&ex, params, spot, false)?;
    let symbol = req.symbol.clone();
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

pub(super) fn reject(r: Reject, spot: bool) -> ApiError {
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
        // Binance takes no attached exits (never asked of it).
        (Reject::ExitPrice { .. }, _) => ApiError::bad(-1102, "takeProfit"),
        (Reject::NoChange, true) => ApiError::bad(
            -2038,
            "The requested action would change no state; rejecting",
        ),
        (Reject::NoChange, false) => ApiError::bad(-5027, "No need to modify the order."),
        (Reject::AmendIncrease, _) => {
            ApiError::bad(-2038, "Order amend (quantity increase) is not supported.")
        }
        (Reject::ReduceOnly, _) => ApiError::bad(-2022, "ReduceOnly Order is rejected."),
        (Reject::OcoPrices, _) => ApiError::bad(
            -2010,
            "The relationship of the prices for the orders is not correct.",
        ),
        (Reject::WouldTrigger { .. }, true) => {
            ApiError::bad(-2010, "Order would trigger immediately.")
        }
        (Reject::WouldTrigger { .. }, false) => {
            ApiError::bad(-2021, "Order would immediately trigger.")
        }
        (Reject::LegMismatch, _) => ApiError::bad(
            -4061,
            "Order's position side does not match user's setting.",
        ),
        (Reject::Busy { position: true }, _) => ApiError::bad(
            -4048,
            "Margin type cannot be changed if there exists position.",
        ),
        (Reject::Busy { position: false }, _) => ApiError::bad(
            -4047,
            "Margin type cannot be changed if there exists open orders.",
        ),
    }
}

/// Spot `POST /api/v3/orderList/oco`: a LIMIT_MAKER and a STOP_LOSS[_LIMIT] (the simulator
/// takes these two of the venue's combinations), `above` and `below` the last price.
pub(super) fn place_oco(st: &BinanceState, account: usize, params: &Params, now: i64) -> Answer {
    let mut ex = st.market.lock();
    // Each leg read as an order of its own from its `above*` / `below*` fields.
    let leg = |prefix: &str| -> Result<NewOrder, ApiError> {
        let mut own = Params::default();
        for key in ["symbol", "side", "quantity"] {
            if let Some(v) = params.get(key) {
                own.0.insert(key.to_owned(), v.to_owned());
            }
        }
        for (from, to) in [
            ("Type", "type"),
            ("Price", "price"),
            ("StopPrice", "stopPrice"),
            ("TimeInForce", "timeInForce"),
            ("ClientOrderId", "newClientOrderId"),
        ] {
            if let Some(v) = params.get(&format!("{prefix}{from}")) {
                own.0.insert(to.to_owned(), v.to_owned());
            }
        }
        match own.get("type") {
            Some("LIMIT_MAKER" | "STOP_LOSS" | "STOP_LOSS_LIMIT") => {
                requested(&ex, &own, true, false)
            }
            Some(_) => Err(ApiError::bad(-1158, "Order type not supported in OCO.")),
            None => Err(ApiError::mandatory(&format!("{prefix}Type"))),
        }
    };
    let (above, below) = (leg("above")?, leg("below")?);
    let (limit, stop) = match (above.trigger.is_some(), below.trigger.is_some()) {
        (false, true) => (above, below),
        (true, false) => (below, above),
        _ => {
            return Err(ApiError::bad(
                -1168,
                "At least one OCO order must be contingent.",
            ));
        }
    };
    if limit.tif != Tif::PostOnly {
        return Err(ApiError::bad(-1158, "Order type not supported in OCO."));
    }
    let symbol = limit.symbol.clone();
    let list_client = params
        .get("listClientOrderId")
        .map_or_else(|| format!("sim-list-{now}"), str::to_owned);
    let (stop_id, limit_id) = ex
        .place_oco(account, limit, stop, list_client.clone(), now)
        .map_err(|r| reject(r, true))?;
    let legs = [&ex.orders[&stop_id], &ex.orders[&limit_id]];
    let view = match params.get("newOrderRespType") {
        Some("ACK" | "RESULT") => OrderView::Result(now),
        _ => OrderView::Full(now),
    };
    let list_id = legs[0].list.as_ref().map_or(-1, |l| l.id as i64);
    Ok(
        json!({"orderListId": list_id, "contingencyType": "OCO", "listStatusType": "EXEC_STARTED",
        "listOrderStatus": "EXECUTING", "listClientOrderId": list_client, "transactionTime": now, "symbol": symbol,
        "orders": legs.iter().map(|o| json!({"symbol": o.symbol, "orderId": o.id, "clientOrderId": o.client_id})).collect::<Vec<_>>(),
        "orderReports": legs.iter().map(|o| order_json(&ex, o, true, view)).collect::<Vec<_>>()}),
    )
}

/// Spot `PUT /api/v3/order/amend/keepPriority`: a quantity decrease in place.
pub(super) fn amend_keep_priority(
    st: &BinanceState,
    account: usize,
    params: &Params,
    now: i64,
) -> Answer {
    let mut ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?.to_owned();
    let (id, cid) = order_ids(params, "orderId", "origClientOrderId")?;
    let new_qty = params
        .decimal("newQty")?
        .ok_or_else(|| ApiError::mandatory("newQty"))?;
    let new_client = params.get("newClientOrderId").map(str::to_owned);
    if let Some(c) = &new_client
        && !client_id_ok(c, true)
    {
        return Err(ApiError::bad(
            -1100,
            "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.",
        ));
    }
    let rule = AmendRule::KeepPriority;
    let (oid, _) = ex
        .amend(account, &symbol, id, cid, Some(new_qty), None, rule, now)
        .map_err(|r| amend_reject(r, true))?;
    // Without a new client id the venue makes one up (ours is kept only when sent again).
    let client_id = new_client.unwrap_or_else(|| format!("amend-{oid}-{now}"));
    let order = ex.orders.get_mut(&oid).expect("amended");
    let orig = std::mem::replace(&mut order.client_id, client_id);
    let o = order.clone();
    let spec = &ex.symbols[&o.symbol].spec;
    let (pd, qd) = decimals(true, spec);
    Ok(
        json!({"transactTime": now, "executionId": now, "amendedOrder": {
        "symbol": o.symbol, "orderId": o.id, "orderListId": -1, "origClientOrderId": orig,
        "clientOrderId": o.client_id, "price": exact(o.price.map_or(Decimal::ZERO, |p| spec.price(p)), pd),
        "qty": exact(spec.qty(o.lots), qd), "executedQty": exact(spec.qty(o.filled), qd),
        "preventedQty": exact(Decimal::ZERO, qd), "quoteOrderQty": fixed(Decimal::ZERO, pd),
        "cumulativeQuoteQty": fixed(o.cum_quote, pd), "status": status_str(o.status),
        "timeInForce": tif_str(o.tif, true), "type": type_str(&o, true), "side": side_str(o.side),
        "workingTime": o.created_ms, "selfTradePreventionMode": "NONE"}}),
    )
}

/// USD-M `PUT /fapi/v1/order`: a new price and quantity (both required); the order is queued
/// again.
pub(super) fn modify(st: &BinanceState, account: usize, params: &Params, now: i64) -> Answer {
    let mut ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?.to_owned();
    let (id, cid) = order_ids(params, "orderId", "origClientOrderId")?;
    let side = match params.require("side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(ApiError::bad(-1117, "Invalid side.")),
    };
    let qty = params
        .decimal("quantity")?
        .ok_or_else(|| ApiError::mandatory("quantity"))?;
    let price = params
        .decimal("price")?
        .ok_or_else(|| ApiError::mandatory("price"))?;
    let current = ex
        .find_order(account, &symbol, id, cid)
        .filter(|o| o.on_order_service())
        .ok_or_else(|| ApiError::bad(-2013, "Order does not exist."))?;
    if current.side != side {
        return Err(ApiError::bad(-4123, "Side does not match the order."));
    }
    let rule = AmendRule::Requeue;
    let (oid, _) = ex
        .amend(account, &symbol, id, cid, Some(qty), Some(price), rule, now)
        .map_err(|r| amend_reject(r, false))?;
    let order = ex.orders[&oid].clone();
    Ok(order_json(&ex, &order, false, OrderView::Query))
}

fn amend_reject(r: Reject, spot: bool) -> ApiError {
    match r {
        Reject::UnknownOrder | Reject::AlreadyClosed if !spot => {
            ApiError::bad(-2013, "Order does not exist.")
        }
        Reject::Invalid(_) if spot => {
            ApiError::bad(-2038, "Order amend is not supported for this order type.")
        }
        Reject::Invalid(_) => ApiError::bad(-4028, "Only LIMIT orders can be modified."),
        other => reject(other, spot),
    }
}

/// Spot `POST /api/v3/order/cancelReplace`: cancels one order and places another in one
/// request. The new order's filters are checked before anything happens; after that a failed
/// cancel (STOP_ON_FAILURE) stops it, and a refused new order leaves the cancel done
/// (`-2021`, HTTP 409).
pub(super) fn cancel_replace(
    st: &BinanceState,
    account: usize,
    params: &Params,
    now: i64,
) -> Answer {
    let mode = params.require("cancelReplaceMode")?;
    let allow_failure = match mode {
        "STOP_ON_FAILURE" => false,
        "ALLOW_FAILURE" => true,
        _ => {
            return Err(ApiError::bad(
                -1100,
                "Illegal characters found in parameter 'cancelReplaceMode'.",
            ));
        }
    };
    let (cancel_id, cancel_cid) = order_ids(params, "cancelOrderId", "cancelOrigClientOrderId")?;
    // Filters and the request's own shape first: a bad new order touches nothing.
    {
        let ex = st.market.lock();
        let symbol = symbol_of(&ex, params)?.to_owned();
        let spec = ex.symbols[&symbol].spec.clone();
        if let Some(p) = params.decimal("price")?
            && spec.ticks(p).is_none()
        {
            return Err(reject(Reject::Filter("PRICE_FILTER"), true));
        }
        if let Some(q) = params.decimal("quantity")?
            && (spec.lots(q).is_none() || q < spec.min_qty || q > spec.max_qty)
        {
            return Err(reject(Reject::Filter("LOT_SIZE"), true));
        }
    }
    let canceled = {
        let mut ex = st.market.lock();
        let symbol = symbol_of(&ex, params)?.to_owned();
        match ex.cancel(account, &symbol, cancel_id, cancel_cid, now) {
            Ok(oid) => {
                let order = ex.orders[&oid].clone();
                let mut out = order_json(&ex, &order, true, OrderView::Cancel);
                out["transactTime"] = json!(now);
                if let Some(id) = params.get("cancelNewClientOrderId") {
                    out["clientOrderId"] = json!(id);
                }
                Ok(out)
            }
            Err(r) => Err(reject(r, true)),
        }
    };
    let as_json = |e: &ApiError| json!({"code": e.code, "msg": e.msg});
    if let Err(e) = &canceled
        && !allow_failure
    {
        let mut err = ApiError::bad(-2022, "Order cancel-replace failed.");
        err.data = Some(Box::new(
            json!({"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
            "cancelResponse": as_json(e), "newOrderResponse": null}),
        ));
        return Err(err);
    }
    let mut new_params = params.clone();
    new_params.0.retain(|k, _| {
        !matches!(
            k.as_str(),
            "cancelReplaceMode"
                | "cancelOrderId"
                | "cancelOrigClientOrderId"
                | "cancelNewClientOrderId"
        )
    });
    let placed = place(st, account, &new_params, now);
    let result = |ok: bool| if ok { "SUCCESS" } else { "FAILURE" };
    let body = |c: &Result<Value, ApiError>, p: &Result<Value, ApiError>| {
        json!({"cancelResult": result(c.is_ok()), "newOrderResult": result(p.is_ok()),
            "cancelResponse": c.as_ref().map_or_else(as_json, Clone::clone),
            "newOrderResponse": p.as_ref().map_or_else(as_json, Clone::clone)})
    };
    match (&canceled, &placed) {
        (Ok(_), Ok(_)) => Ok(body(&canceled, &placed)),
        (Err(_), Err(_)) => {
            let mut err = ApiError::bad(-2022, "Order cancel-replace failed.");
            err.data = Some(Box::new(body(&canceled, &placed)));
            Err(err)
        }
        _ => {
            let mut err = ApiError::new(409, -2021, "Order cancel-replace partially failed.");
            err.data = Some(Box::new(body(&canceled, &placed)));
            Err(err)
        }
    }
}

pub(super) fn cancel(st: &BinanceState, account: usize, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let mut ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?.to_owned();
    let (id, cid) = order_ids(params, "orderId", "origClientOrderId")?;
    if let (Some(id), Some(cid)) = (id, cid)
        && ex
            .find_order(account, &symbol, Some(id), None)
            .is_some_and(|o| o.client_id != cid)
    {
        return Err(ApiError::bad(-2039, "Client order id is not valid."));
    }
    if ex
        .find_order(account, &symbol, id, cid)
        .is_some_and(|o| !o.on_order_service())
    {
        return Err(reject(Reject::UnknownOrder, spot));
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

pub(super) fn query(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let (id, cid) = order_ids(params, "orderId", "origClientOrderId")?;
    let order = ex
        .find_order(account, symbol, id, cid)
        .filter(|o| o.on_order_service())
        .ok_or_else(|| ApiError::bad(-2013, "Order does not exist."))?;
    Ok(order_json(&ex, order, spot, OrderView::Query))
}

pub(super) fn open_orders(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = match params.get("symbol") {
        Some(_) => Some(symbol_of(&ex, params)?),
        None => None,
    };
    let list: Vec<Value> = ex
        .open_orders(account, symbol)
        .into_iter()
        .filter(|o| o.on_order_service())
        .map(|o| order_json(&ex, o, spot, OrderView::Query))
        .collect();
    Ok(Value::Array(list))
}

pub(super) fn cancel_all(st: &BinanceState, account: usize, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let mut ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?.to_owned();
    let ids: Vec<u64> = ex
        .open_orders(account, Some(&symbol))
        .iter()
        .filter(|o| o.on_order_service())
        .map(|o| o.id)
        .collect();
    let mut canceled = Vec::new();
    for id in ids {
        if ex.cancel(account, &symbol, Some(id), None, now).is_err() {
            continue; // the other leg of a list canceled already
        }
        let o = &ex.orders[&id];
        match &o.list {
            // An order list is one entry, with both legs' reports.
            Some(list) => {
                let legs = [o, &ex.orders[&list.partner]];
                canceled.push(json!({"orderListId": list.id, "contingencyType": "OCO", "listStatusType": "ALL_DONE",
                    "listOrderStatus": "ALL_DONE", "listClientOrderId": list.client_id, "transactionTime": now, "symbol": symbol,
                    "orders": legs.iter().map(|o| json!({"symbol": o.symbol, "orderId": o.id, "clientOrderId": o.client_id})).collect::<Vec<_>>(),
                    "orderReports": legs.iter().map(|o| order_json(&ex, o, spot, OrderView::Cancel)).collect::<Vec<_>>()}));
            }
            None => canceled.push(order_json(&ex, o, spot, OrderView::Cancel)),
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

/// Which shape of an order object to render.
#[derive(Debug, Clone, Copy)]
pub enum OrderView {
    Query,
    Cancel,
    Result(i64),
    Full(i64),
}

/// When a spot order started working on the book; -1 for a stop order not yet triggered.
pub fn working_time(o: &Order) -> i64 {
    if o.status == Status::Untriggered {
        -1
    } else {
        o.created_ms
    }
}

pub fn order_json(ex: &Exchange, o: &Order, spot: bool, view: OrderView) -> Value {
    let spec = &ex.symbols[&o.symbol].spec;
    let (pd, qd) = decimals(spot, spec);
    let price = o.price.map_or(Decimal::ZERO, |p| spec.price(p));
    let executed = spec.qty(o.filled);
    if spot {
        let list_id = o.list.as_ref().map_or(-1, |l| l.id as i64);
        let mut v = json!({"symbol": o.symbol, "orderId": o.id, "orderListId": list_id, "clientOrderId": o.client_id,
            "price": exact(price, pd), "origQty": exact(spec.qty(o.lots), qd), "executedQty": exact(executed, qd),
            "cummulativeQuoteQty": fixed(o.cum_quote, pd), "status": status_str(o.status),
            "timeInForce": tif_str(o.tif, true), "type": type_str(o, true), "side": side_str(o.side),
            "origQuoteOrderQty": fixed(o.quote_qty.unwrap_or_default(), pd), "selfTradePreventionMode": "NONE"});
        if let (Some(bips), Some(t)) = (crate::binance::trailing_bips(o), o.trail) {
            // -1 until it is active and tracking the price.
            v["trailingDelta"] = json!(bips);
            v["trailingTime"] = json!(if t.extreme.is_some() {
                o.updated_ms
            } else {
                -1
            });
        }
        match view {
            OrderView::Query => {
                v["stopPrice"] = json!(fixed(crate::binance::stop_price(o), pd));
                v["icebergQty"] = json!(fixed(Decimal::ZERO, qd));
                v["time"] = json!(o.created_ms);
                v["updateTime"] = json!(o.updated_ms);
                v["isWorking"] = json!(o.status != Status::Untriggered);
                v["workingTime"] = json!(working_time(o));
            }
            OrderView::Cancel => {
                v["origClientOrderId"] = json!(o.client_id);
            }
            OrderView::Result(t) | OrderView::Full(t) => {
                v["transactTime"] = json!(t);
                v["workingTime"] = json!(working_time(o));
                if o.trigger.is_some() {
                    v["stopPrice"] = json!(fixed(crate::binance::stop_price(o), pd));
                }
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
            "closePosition": false, "side": side_str(o.side), "positionSide": o.leg.word(), "stopPrice": fixed(Decimal::ZERO, pd),
            "workingType": "CONTRACT_PRICE", "priceProtect": false, "origType": type_str(o, false), "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE", "goodTillDate": 0, "updateTime": o.updated_ms});
        if let OrderView::Query = view {
            v["time"] = json!(o.created_ms);
        }
        v
    }
}

pub(super) fn my_trades(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let order_filter = params.int("orderId")?.map(|i| i as u64);
    let spec = &ex.symbols[symbol].spec;
    let (pd, qd) = decimals(spot, spec);
    let mut rows: Vec<(u64, i64, Value)> = Vec::new();
    for o in ex
        .orders
        .values()
        .filter(|o| o.account == account && o.symbol == symbol)
    {
        if order_filter.is_some_and(|id| id != o.id) {
            continue;
        }
        for f in &o.fills {
            let row = if spot {
                json!({"symbol": symbol, "id": f.trade_id, "orderId": o.id, "orderListId": -1, "price": exact(f.price, pd),
                    "qty": exact(f.qty, qd), "quoteQty": fixed(f.price * f.qty, pd), "commission": fixed(f.fee, 8),
                    "commissionAsset": f.fee_asset, "time": f.time_ms, "isBuyer": o.side == Side::Buy,
                    "isMaker": f.is_maker, "isBestMatch": true})
            } else {
                json!({"buyer": o.side == Side::Buy, "commission": fixed(f.fee, 8), "commissionAsset": f.fee_asset,
                    "id": f.trade_id, "maker": f.is_maker, "orderId": o.id, "price": exact(f.price, pd), "qty": exact(f.qty, qd),
                    "quoteQty": fixed(f.price * f.qty, pd), "realizedPnl": "0", "side": side_str(o.side),
                    "positionSide": o.leg.word(), "symbol": symbol, "time": f.time_ms})
            };
            rows.push((f.trade_id, f.time_ms, row));
        }
    }
    // Spot: "can't be longer than 24 hours"; USD-M: "cannot be longer than 7 days".
    let longest = if spot {
        (DAY_MS, "24 hours")
    } else {
        (7 * DAY_MS, "7 days")
    };
    super::paged(rows, params, "fromId", Some(longest))
}

const DAY_MS: i64 = 86_400_000;

/// `allOrders`: the account's orders of a symbol by `orderId` (from it on) or by creation time
/// (spot at most 24 hours a request, USD-M less than 7 days).
pub(super) fn all_orders(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let rows = ex
        .orders
        .values()
        .filter(|o| o.account == account && o.symbol == symbol && o.on_order_service())
        .map(|o| {
            (
                o.id,
                o.created_ms,
                order_json(&ex, o, spot, OrderView::Query),
            )
        })
        .collect();
    let longest = if spot {
        (DAY_MS, "24 hours")
    } else {
        (7 * DAY_MS - 1, "7 days")
    };
    super::paged(rows, params, "orderId", Some(longest))
}

/// USD-M `batchOrders`: up to 5 places (POST) or modifies (PUT), or up to 10 cancels (DELETE),
/// each handled as its single request would be; the answer lists one order object or one
/// `{"code", "msg"}` refusal per item, in order.
pub(super) fn batch(
    st: &BinanceState,
    endpoint: super::routes::Endpoint,
    account: usize,
    params: &Params,
    now: i64,
) -> Answer {
    use super::routes::Endpoint;
    let invalid = |name: &str| {
        ApiError::bad(
            -1130,
            format!("Data sent for parameter '{name}' is not valid."),
        )
    };
    let refusal = |e: ApiError| json!({"code": e.code, "msg": e.msg});
    let items: Vec<Params> = if endpoint == Endpoint::CancelBatch {
        let symbol = params.require("symbol")?.to_owned();
        // ccxt sends `orderidlist`, which the venue takes as well.
        let by_id = params.get("orderIdList").or(params.get("orderidlist"));
        let (key, list) = match (by_id, params.get("origClientOrderIdList")) {
            (Some(ids), None) => ("orderId", ids),
            (None, Some(ids)) => ("origClientOrderId", ids),
            _ => {
                return Err(ApiError::bad(
                    -1102,
                    "Param 'origClientOrderIdList' or 'orderIdList' must be sent, but both were empty/null!",
                ));
            }
        };
        let ids: Vec<Value> = serde_json::from_str(list).map_err(|_| invalid(key))?;
        if ids.is_empty() || ids.len() > 10 {
            return Err(invalid(key));
        }
        ids.iter()
            .map(|id| {
                let id = match id {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Params(
                    [("symbol".to_owned(), symbol.clone()), (key.to_owned(), id)]
                        .into_iter()
                        .collect(),
                )
            })
            .collect()
    } else {
        let list: Vec<serde_json::Map<String, Value>> =
            serde_json::from_str(params.require("batchOrders")?)
                .map_err(|_| invalid("batchOrders"))?;
        if list.is_empty() || list.len() > 5 {
            return Err(invalid("batchOrders"));
        }
        list.into_iter()
            .map(|item| {
                Params(
                    item.into_iter()
                        .map(|(k, v)| {
                            let v = match v {
                                Value::String(s) => s,
                                other => other.to_string(),
                            };
                            (k, v)
                        })
                        .collect(),
                )
            })
            .collect()
    };
    let answers = items
        .iter()
        .map(|item| {
            let answer = match endpoint {
                Endpoint::PlaceBatch => place(st, account, item, now),
                Endpoint::AmendBatch => modify(st, account, item, now),
                _ => cancel(st, account, item, now),
            };
            answer.unwrap_or_else(refusal)
        })
        .collect();
    Ok(Value::Array(answers))
}
