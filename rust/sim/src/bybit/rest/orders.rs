//! Bybit v5 REST orders: create, cancel, cancel-all, open and historical orders, executions,
//! the engine's rejects as `retCode`s, and the execution object the private stream reuses.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::routes::Endpoint;
use super::{Answer, Fail, bad_symbol, fail, need, unknown};
use crate::book::Side;
use crate::bybit::{
    BybitState, Category, num, order_id_str, order_json, parse_order_id, side_str, uuid,
};
use crate::exchange::{
    AmendRule, Exchange, Exit, Exits, Leg, NewOrder, OrderKind, Reject, Tif, Trigger, Watch,
};
use crate::market::Market;

/// A decimal parameter, if sent.
/// A price type word (`triggerBy`, `tpTriggerBy`, ...); absent or empty: the last price.
pub(super) fn watch(params: &HashMap<String, String>, key: &str) -> Result<Watch, Fail> {
    match params.get(key).map(String::as_str) {
        None | Some("" | "LastPrice") => Ok(Watch::Last),
        Some("MarkPrice") => Ok(Watch::Mark),
        Some("IndexPrice") => Ok(Watch::Index),
        Some(_) => Err(fail(10001, format!("params error: {key} invalid"))),
    }
}

/// A create's attached take-profit and stop-loss: `takeProfit` / `stopLoss` with their
/// `tp`/`sl` `TriggerBy`, `OrderType` and `LimitPrice`, and `tpslMode` (Full when absent).
fn exits(params: &HashMap<String, String>) -> Result<Exits, Fail> {
    let one = |[price, limit, kind, by]: [&str; 4]| -> Result<Option<Exit>, Fail> {
        let Some(trigger) = decimal(params, price)?.filter(|p| !p.is_zero()) else {
            return Ok(None);
        };
        let limit = match params.get(kind).map(String::as_str) {
            None | Some("Market") => None,
            Some("Limit") => Some(
                decimal(params, limit)?
                    .filter(|p| !p.is_zero())
                    .ok_or_else(|| fail(10001, format!("params error: {limit} is required")))?,
            ),
            Some(_) => return Err(fail(10001, format!("params error: {kind} invalid"))),
        };
        Ok(Some(Exit {
            trigger,
            by: watch(params, by)?,
            limit,
        }))
    };
    Ok(Exits {
        take_profit: one(["takeProfit", "tpLimitPrice", "tpOrderType", "tpTriggerBy"])?,
        stop_loss: one(["stopLoss", "slLimitPrice", "slOrderType", "slTriggerBy"])?,
        full: match params.get("tpslMode").map(String::as_str) {
            None | Some("" | "Full") => true,
            Some("Partial") => false,
            Some(_) => return Err(fail(10001, "params error: tpslMode invalid")),
        },
    })
}

fn decimal(params: &HashMap<String, String>, name: &str) -> Result<Option<Decimal>, Fail> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<Decimal>()
                .map_err(|_| fail(10001, format!("params error: {name} invalid")))
        })
        .transpose()
}

/// The order a request names: `orderId` and/or `orderLinkId` (one is required).
fn named(params: &HashMap<String, String>) -> Result<(Option<u64>, Option<&str>), Fail> {
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
    Ok((id, link))
}

pub(super) fn create(
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
    let dec = |name: &str| decimal(params, name);
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
    // A zero quantity with reduceOnly and closeOnTrigger closes the whole position.
    let close = !spot
        && qty.is_zero()
        && reduce_only
        && params.get("closeOnTrigger").map(String::as_str) == Some("true");
    let leg = match params.get("positionIdx").map(String::as_str) {
        None | Some("0") => Leg::Both,
        Some("1") if !spot => Leg::Long,
        Some("2") if !spot => Leg::Short,
        Some(_) => return Err(fail(10001, "params error: positionIdx invalid")),
    };
    let trigger = conditional(&ex, spot, &symbol, params)?;
    let link_for_reply = link.clone().unwrap_or_default();
    let req = NewOrder {
        symbol,
        side,
        kind,
        tif,
        price,
        qty: (!by_quote && !close).then_some(qty),
        quote_qty: by_quote.then_some(qty),
        // Bybit keeps an empty orderLinkId when none was given.
        client_id: Some(link.unwrap_or_default()),
        reduce_only,
        leg,
        trigger,
        algo: false,
        close,
        child: None,
        exits: exits(params)?,
        trail: None,
    };
    let id = ex.place(account, req, now).map_err(|r| reject(r, spot))?;
    Ok(json!({"orderId": order_id_str(id), "orderLinkId": link_for_reply}))
}

/// A create's trigger. Linear: `triggerPrice` with `triggerDirection` (documented optional,
/// refused without) and `triggerBy` (the simulator watches the last price for all three).
/// Spot: `triggerPrice` counts only with `orderFilter=StopOrder` (without it the venue books
/// a plain order), the direction inferred from the last price.
fn conditional(
    ex: &Exchange,
    spot: bool,
    symbol: &str,
    params: &HashMap<String, String>,
) -> Result<Option<Trigger>, Fail> {
    let Some(price) = decimal(params, "triggerPrice")?.filter(|p| !p.is_zero()) else {
        return Ok(None);
    };
    if spot {
        return match params.get("orderFilter").map(String::as_str) {
            None | Some("Order") => Ok(None),
            Some("StopOrder") => Ok(Some(Trigger {
                price,
                rises: price > ex.symbols[symbol].last_price,
                by: Watch::Last,
            })),
            Some(_) => Err(fail(170201, "Invalid orderFilter parameter")),
        };
    }
    let rises = match params.get("triggerDirection").map(String::as_str) {
        Some("1") => true,
        Some("2") => false,
        _ => return Err(fail(10001, "params error: TriggerDirection invalid")),
    };
    let by = watch(params, "triggerBy")?;
    Ok(Some(Trigger { price, rises, by }))
}

/// Spot keeps conditional orders apart until they trigger: a request reaches them only with
/// `orderFilter=StopOrder`, and ordinary orders only without it.
fn filtered(
    category: Category,
    params: &HashMap<String, String>,
    o: &crate::exchange::Order,
) -> bool {
    let apart = o.trigger.is_some() && o.status == crate::exchange::Status::Untriggered;
    match (category, params.get("orderFilter").map(String::as_str)) {
        (Category::Spot, Some("StopOrder")) => apart,
        (Category::Spot, _) => !apart,
        (_, Some("StopOrder")) => o.trigger.is_some(),
        _ => true,
    }
}

pub(super) fn reject(r: Reject, spot: bool) -> Fail {
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
        (Reject::LegMismatch, _) => fail(10001, "position idx not match position mode"),
        (Reject::ReduceOnly, _) => fail(110017, "orderQty will be truncated to zero"),
        (Reject::WouldTrigger { rises: true }, false) => {
            fail(110092, "expect Rising, but trigger_price <= current")
        }
        (Reject::WouldTrigger { rises: false }, false) => {
            fail(110093, "expect Falling, but trigger_price >= current")
        }
        // Bybit takes no order lists.
        (Reject::OcoPrices, _) => fail(10001, "params error"),
        // The venue's words (its prices scaled to integers there).
        (
            Reject::ExitPrice {
                take_profit,
                long,
                trigger,
                base,
            },
            _,
        ) => {
            let should = match (take_profit, long) {
                (true, true) => "should be higher than",
                (true, false) | (false, true) => "should lower than",
                (false, false) => "should greater",
            };
            let (what, side) = (
                if take_profit { "tp" } else { "sl" },
                if long { "Buy" } else { "Sell" },
            );
            fail(
                10001,
                format!(
                    "{what}:{trigger} set for {side} position {should} base_price:{base}??LastPrice"
                ),
            )
        }
        (Reject::WouldTrigger { .. }, true) => fail(
            10001,
            "params error: triggerPrice cannot be the current price",
        ),
        (Reject::Busy { position: true }, _) => fail(
            110024,
            "You have an existing position, so the position mode cannot be switched.",
        ),
        (Reject::Busy { position: false }, _) => fail(
            110028,
            "You have existing open orders, so the position mode cannot be switched.",
        ),
        (Reject::NoChange | Reject::AmendIncrease, _) => fail(
            10001,
            "The order remains unchanged as the parameters entered match the existing ones.",
        ),
    }
}

/// `POST /v5/order/amend`: a new quantity and/or price in place; answered with the ids only
/// (the order's state comes on the stream or a query, like every Bybit write).
pub(super) fn amend(
    market: &Market,
    category: Category,
    account: usize,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    let spot = category == Category::Spot;
    let mut ex = market.lock();
    let name = need(params, "symbol")?;
    if unknown(&ex, name) {
        return Err(bad_symbol(category));
    }
    let (id, link) = named(params)?;
    let dec = |name: &str| decimal(params, name);
    let (qty, price) = (dec("qty")?, dec("price")?);
    let rule = AmendRule::KeepOnDecrease;
    match ex.amend(account, name, id, link, qty, price, rule, now) {
        Ok((oid, _)) => {
            Ok(json!({"orderId": order_id_str(oid), "orderLinkId": ex.orders[&oid].client_id}))
        }
        Err(Reject::UnknownOrder | Reject::AlreadyClosed) if spot => {
            Err(fail(170213, "Order does not exist."))
        }
        Err(Reject::UnknownOrder | Reject::AlreadyClosed) => {
            Err(fail(110001, "order not exists or too late to replace"))
        }
        Err(r) => Err(reject(r, spot)),
    }
}

pub(super) fn cancel(
    market: &Market,
    category: Category,
    account: usize,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    let mut ex = market.lock();
    let name = need(params, "symbol")?;
    if unknown(&ex, name) {
        return Err(bad_symbol(category));
    }
    let (id, link) = named(params)?;
    let reachable = ex
        .find_order(account, name, id, link)
        .is_none_or(|o| filtered(category, params, o));
    if !reachable {
        return Err(fail(170213, "Order does not exist."));
    }
    match ex.cancel(account, name, id, link, now) {
        Ok(oid) => {
            Ok(json!({"orderId": order_id_str(oid), "orderLinkId": ex.orders[&oid].client_id}))
        }
        Err(_) if category == Category::Spot => Err(fail(170213, "Order does not exist.")),
        Err(_) => Err(fail(110001, "order not exists or too late to cancel")),
    }
}

pub(super) fn cancel_all(
    market: &Market,
    category: Category,
    acct: usize,
    symbol: Option<&str>,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    let mut ex = market.lock();
    if symbol.is_some_and(|s| unknown(&ex, s)) {
        return Err(bad_symbol(category));
    }
    let open: Vec<(u64, String)> = ex
        .open_orders(acct, symbol)
        .iter()
        .filter(|o| filtered(category, params, o))
        .map(|o| (o.id, o.symbol.clone()))
        .collect();
    let mut list = Vec::new();
    for (id, sym) in open {
        if ex.cancel(acct, &sym, Some(id), None, now).is_ok() {
            list.push(
                json!({"orderId": order_id_str(id), "orderLinkId": ex.orders[&id].client_id}),
            );
        }
    }
    Ok(json!({"list": list, "success": "1"}))
}

/// Open orders (`order/realtime`) or closed ones (`order/history`).
pub(super) fn list(
    market: &Market,
    endpoint: Endpoint,
    category: Category,
    acct: usize,
    symbol: Option<&str>,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    let ex = market.lock();
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
        endpoint == Endpoint::History || params.get("openOnly").map(String::as_str) == Some("1");
    let orders: Vec<&crate::exchange::Order> = ex
        .orders
        .values()
        .filter(|o| o.account == acct && symbol.is_none_or(|s| s == o.symbol))
        .filter(|o| id.is_none_or(|i| i == o.id) && link.is_none_or(|l| l == o.client_id))
        // Listing: every kind unless a filter names one (the documented default).
        .filter(|o| params.get("orderFilter").is_none() || filtered(category, params, o))
        .filter(|o| {
            if id.is_some() || link.is_some() {
                true
            } else {
                o.status.is_open() != closed
            }
        })
        .collect();
    let rows = orders
        .into_iter()
        .map(|o| (o.created_ms, o.id, order_json(&ex, o, category)))
        .collect();
    // `order/history` selects by creation time (a 7-day window); `realtime` lists what is open.
    let window = endpoint == Endpoint::History && id.is_none() && link.is_none();
    let (list, next) = page(rows, params, (20, 50), window.then_some(now))?;
    Ok(json!({"category": category.as_str(), "list": list, "nextPageCursor": next}))
}

const WEEK_MS: i64 = 7 * 86_400_000;

/// A private listing as Bybit pages it (rows `(time, id, json)`): newest first, `limit` a page
/// (`(default, most)`), over an opaque `nextPageCursor` ("" on the last page). With `now`, only
/// the rows of the 7-day window `startTime`/`endTime` select: both at most 7 days apart, one
/// alone 7 days from it, neither the last 7 days.
fn page(
    mut rows: Vec<(i64, u64, Value)>,
    params: &HashMap<String, String>,
    (default, most): (usize, usize),
    now: Option<i64>,
) -> Result<(Vec<Value>, String), Fail> {
    use super::market::int_param;
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(default)
        .clamp(1, most);
    if let Some(now) = now {
        let (start, end) = match (
            int_param(params, "startTime")?,
            int_param(params, "endTime")?,
        ) {
            (Some(s), Some(e)) if e < s => {
                return Err(fail(10001, "startTime should be less than endTime"));
            }
            (Some(s), Some(e)) if e - s > WEEK_MS => {
                return Err(fail(
                    10001,
                    "The time range between startTime and endTime cannot exceed 7 days",
                ));
            }
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, s + WEEK_MS),
            (None, Some(e)) => (e - WEEK_MS, e),
            (None, None) => (now - WEEK_MS, now),
        };
        rows.retain(|r| (start..=end).contains(&r.0));
    }
    rows.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
    let offset = match params.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => c
            .strip_prefix("page%3A")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| fail(10001, "params error: cursor invalid"))?,
        None => 0,
    };
    let after = offset.saturating_add(limit);
    let next = if after < rows.len() {
        format!("page%3A{after}")
    } else {
        String::new()
    };
    let list = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| r.2)
        .collect();
    Ok((list, next))
}

pub(super) fn executions(
    market: &Market,
    category: Category,
    acct: usize,
    symbol: Option<&str>,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    let ex = market.lock();
    let (id, link) = (
        params.get("orderId").and_then(|t| parse_order_id(t)),
        params.get("orderLinkId").filter(|s| !s.is_empty()),
    );
    let mut rows: Vec<(i64, u64, Value)> = Vec::new();
    for o in ex.orders.values().filter(|o| {
        o.account == acct
            && symbol.is_none_or(|s| s == o.symbol)
            && id.is_none_or(|i| i == o.id)
            && link.is_none_or(|l| *l == o.client_id)
    }) {
        for f in &o.fills {
            rows.push((f.time_ms, f.trade_id, execution_json(&ex, o, f, category)));
        }
    }
    // Every simulated execution is a `Trade`: an `execType` filter of another kind finds none.
    if params.get("execType").is_some_and(|t| t != "Trade") {
        rows.clear();
    }
    let window = id.is_none() && link.is_none();
    let (list, next) = page(rows, params, (50, 100), window.then_some(now))?;
    Ok(json!({"category": category.as_str(), "list": list, "nextPageCursor": next}))
}

/// The `execId` of an order's execution: one per order and trade (both sides of a self-trade
/// differ).
pub fn exec_id(order_id: u64, trade_id: u64) -> String {
    uuid(0xe4ec, trade_id ^ (order_id << 32))
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
        "execFee": num(f.fee), "execId": exec_id(o.id, f.trade_id), "execPrice": num(f.price),
        "execQty": num(f.qty), "execType": "Trade", "execValue": num(f.price * f.qty), "execTime": f.time_ms.to_string(),
        "isMaker": f.is_maker, "feeRate": num(rate), "tradeIv": "", "markIv": "", "markPrice": num(ex.mark(&o.symbol)),
        "indexPrice": "", "underlyingPrice": "", "blockTradeId": "", "closedSize": "", "seq": f.trade_id,
        "feeCurrency": f.fee_asset, "isLeverage": "0", "createType": "CreateByUser"})
}

/// `create-batch`, `amend-batch`, `cancel-batch`: up to 20 orders (linear) or 10 (spot), each
/// handled as its single request would be. `granted` of them fit the rate limit; the rest fail
/// with 10006 on their own. The answer pairs `result.list` with `retExtInfo.list`, in order.
pub(super) fn batch(
    st: &BybitState,
    endpoint: Endpoint,
    category: Category,
    account: usize,
    params: &HashMap<String, String>,
    granted: usize,
    now: i64,
) -> Answer {
    let items: Vec<serde_json::Map<String, Value>> = need(params, "request")
        .ok()
        .and_then(|r| serde_json::from_str(r).ok())
        .ok_or_else(|| fail(10001, "params error: request invalid"))?;
    let most = if category == Category::Spot { 10 } else { 20 };
    if items.is_empty() || items.len() > most {
        return Err(fail(
            10001,
            format!("params error: a batch holds 1 to {most} orders"),
        ));
    }
    let mut done = Vec::with_capacity(items.len());
    let mut said = Vec::with_capacity(items.len());
    for (at, item) in items.into_iter().enumerate() {
        let mut one: HashMap<String, String> = item
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        one.insert("category".into(), category.as_str().into());
        let answer = if at >= granted {
            Err(fail(10006, "Too many visits!"))
        } else {
            match endpoint {
                Endpoint::CreateBatch => create(st, category, account, &one, now),
                Endpoint::AmendBatch => amend(st.market(category), category, account, &one, now),
                _ => cancel(st.market(category), category, account, &one, now),
            }
        };
        let text = |k: &str| one.get(k).cloned().unwrap_or_default();
        let (order_id, link) = match &answer {
            Ok(v) => (v["orderId"].clone(), v["orderLinkId"].clone()),
            Err(_) => (json!(""), json!(text("orderLinkId"))),
        };
        let mut entry = json!({"category": category.as_str(), "symbol": text("symbol"),
            "orderId": order_id, "orderLinkId": link});
        if endpoint == Endpoint::CreateBatch {
            entry["createAt"] = json!(now.to_string());
        }
        done.push(entry);
        said.push(match answer {
            Ok(_) => json!({"code": 0, "msg": "OK"}),
            Err(f) => json!({"code": f.code, "msg": f.msg}),
        });
    }
    Ok(json!({"list": done, "retExtInfo": {"list": said}}))
}
