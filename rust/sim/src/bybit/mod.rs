//! Bybit v5 on the wire: REST (`/v5/...`, categories `spot` and `linear`), public streams
//! (`/v5/public/spot`, `/v5/public/linear`) and the private stream (`/v5/private`). One server,
//! one unified account over both categories, as on the venue.

pub mod book;
pub mod rest;
pub mod tape;
pub mod trade;
pub mod ws;

use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::book::Side;
use crate::config::Timing;
use crate::exchange::{Exchange, Kind, Order, OrderKind, Status, Tif, Watch};
use crate::limits::BybitLimits;
use crate::market::Market;

#[derive(Debug)]
pub struct BybitState {
    pub spot: Arc<Market>,
    pub linear: Arc<Market>,
    pub books: Arc<book::Topics>,
    pub limits: BybitLimits,
    pub timing: Timing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Spot,
    Linear,
}

impl Category {
    pub fn parse(text: &str) -> Option<Category> {
        match text {
            "spot" => Some(Category::Spot),
            "linear" => Some(Category::Linear),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Spot => "spot",
            Category::Linear => "linear",
        }
    }
}

impl BybitState {
    pub fn market(&self, category: Category) -> &Arc<Market> {
        match category {
            Category::Spot => &self.spot,
            Category::Linear => &self.linear,
        }
    }
}

pub fn side_str(side: Side) -> &'static str {
    match side {
        Side::Buy => "Buy",
        Side::Sell => "Sell",
    }
}

pub fn status_str(order: &Order) -> &'static str {
    match order.status {
        Status::Untriggered => "Untriggered",
        Status::Triggered => "Triggered",
        // Spot conditional orders canceled before they trigger.
        // Spot conditional orders, and the venue's own exits, ended before they trigger.
        Status::Canceled | Status::Expired
            if order.trigger.is_some()
                && !order.triggered
                && (is_spot_id(order.id) || order.child.is_some()) =>
        {
            "Deactivated"
        }
        Status::New => "New",
        Status::PartiallyFilled => "PartiallyFilled",
        Status::Filled => "Filled",
        // Spot orders cancelled after a partial fill have their own status there.
        Status::Canceled | Status::Expired if order.filled > 0 && is_spot_id(order.id) => {
            "PartiallyFilledCanceled"
        }
        Status::Canceled | Status::Expired => "Cancelled",
        Status::Rejected => "Rejected",
    }
}

pub fn tif_str(tif: Tif) -> &'static str {
    match tif {
        Tif::Gtc => "GTC",
        Tif::Ioc => "IOC",
        Tif::Fok => "FOK",
        Tif::PostOnly => "PostOnly",
    }
}

/// Spot order ids are numbers; linear ones are UUIDs. Our engine numbers every order; spot
/// orders start above this bound so the two never collide.
const SPOT_IDS: u64 = 1_000_000_000_000_000_000;

pub fn is_spot_id(id: u64) -> bool {
    id >= SPOT_IDS
}

pub fn first_order_id(kind: Kind) -> u64 {
    if kind == Kind::Spot { SPOT_IDS + 1 } else { 1 }
}

pub fn order_id_str(id: u64) -> String {
    if is_spot_id(id) {
        id.to_string()
    } else {
        uuid(0x0de0, id)
    }
}

pub fn parse_order_id(text: &str) -> Option<u64> {
    text.parse::<u64>()
        .ok()
        .or_else(|| u64::from_str_radix(text.rsplit('-').next()?, 16).ok())
}

/// A deterministic UUID-shaped id (`8-4-4-4-12` hex) from a tag and a number.
pub fn uuid(tag: u16, n: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8000-{:012x}",
        n.rotate_left(17) as u32,
        tag,
        (n >> 48) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

/// Bybit prints numbers without padding.
pub fn num(d: Decimal) -> String {
    d.normalize().to_string()
}

fn watch_word(w: Watch) -> &'static str {
    match w {
        Watch::Last => "LastPrice",
        Watch::Mark => "MarkPrice",
        Watch::Index => "IndexPrice",
    }
}

/// What kind of order it is (`stopOrderType`) and what made it (`createType`).
fn made_as(o: &Order) -> (&'static str, &'static str) {
    match (&o.child, o.trigger) {
        (Some(_), _) if o.trail.is_some() => ("TrailingStop", "CreateByTrailingStop"),
        (Some(c), _) => match (c.take_profit, c.full) {
            (true, true) => ("TakeProfit", "CreateByTakeProfit"),
            (false, true) => ("StopLoss", "CreateByStopLoss"),
            (true, false) => ("PartialTakeProfit", "CreateByPartialTakeProfit"),
            (false, false) => ("PartialStopLoss", "CreateByPartialStopLoss"),
        },
        (None, Some(_)) => ("Stop", "CreateByUser"),
        (None, None) => ("", "CreateByUser"),
    }
}

pub fn order_json(ex: &Exchange, o: &Order, category: Category) -> Value {
    let spec = &ex.symbols[&o.symbol].spec;
    let price = o.price.map_or(Decimal::ZERO, |p| spec.price(p));
    let qty = spec.qty(o.lots);
    let filled = spec.qty(o.filled);
    let leaves = if o.status.is_open() {
        qty - filled
    } else {
        Decimal::ZERO
    };
    let avg = if o.filled > 0 {
        num((o.cum_quote / filled).round_dp(spec.price_decimals() + 2))
    } else {
        String::new()
    };
    let fee: Decimal = o.fills.iter().map(|f| f.fee).sum();
    let fee_coin = o
        .fills
        .first()
        .map_or_else(|| spec.quote.clone(), |f| f.fee_asset.clone());
    let (stop_order_type, create_type) = made_as(o);
    // A trailing stop not yet active shows its activation price (the docs' word), else where
    // its trigger has moved to.
    let trigger_price = match (o.trail, o.trigger) {
        (Some(t), _) if t.extreme.is_none() => t.activation.map(num).unwrap_or_default(),
        (_, Some(t)) => num(t.price),
        (_, None) => String::new(),
    };
    let exit = |e: Option<crate::exchange::Exit>| {
        e.map_or((String::new(), "", String::new()), |e| {
            (
                num(e.trigger),
                watch_word(e.by),
                e.limit.map(num).unwrap_or_default(),
            )
        })
    };
    let (tp, tp_by, tp_limit) = exit(o.exits.take_profit);
    let (sl, sl_by, sl_limit) = exit(o.exits.stop_loss);
    let tpsl_mode = match (&o.child, o.exits.any()) {
        (Some(c), _) if c.full => "Full",
        (Some(_), _) => "Partial",
        (None, true) if o.exits.full => "Full",
        (None, true) => "Partial",
        (None, false) => "",
    };
    let parent = o.child.as_ref().map_or("", |c| c.parent_client_id.as_str());
    json!({
        "orderId": order_id_str(o.id), "orderLinkId": o.client_id, "parentOrderLinkId": parent, "blockTradeId": "", "symbol": o.symbol,
        "price": num(price), "qty": num(qty), "side": side_str(o.side), "isLeverage": "0", "positionIdx": o.leg.idx(),
        "orderStatus": status_str(o), "createType": create_type,
        "cancelType": if matches!(o.status, Status::Canceled) && o.reject.is_none() { "CancelByUser" } else { "UNKNOWN" },
        "rejectReason": o.reject.unwrap_or("EC_NoError"), "avgPrice": avg, "leavesQty": num(leaves),
        "leavesValue": num(leaves * price), "cumExecQty": num(filled), "cumExecValue": num(o.cum_quote),
        "cumExecFee": num(fee), "cumFeeDetail": {fee_coin: num(fee)}, "timeInForce": tif_str(o.tif),
        "orderType": if o.kind == OrderKind::Market { "Market" } else { "Limit" },
        "stopOrderType": stop_order_type,
        "orderIv": "", "triggerPrice": trigger_price, "takeProfit": tp,
        "stopLoss": sl, "tpTriggerBy": tp_by, "slTriggerBy": sl_by,
        // Spot names no direction (it is inferred at placement).
        "triggerDirection": match o.trigger { Some(t) if !is_spot_id(o.id) => if t.rises { 1 } else { 2 }, _ => 0 },
        "triggerBy": match o.trigger {
            Some(t) if !is_spot_id(o.id) => watch_word(t.by),
            _ => "",
        },
        "lastPriceOnCreated": "", "reduceOnly": o.reduce_only || o.close,
        "closeOnTrigger": o.close, "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": tpsl_mode,
        "tpLimitPrice": tp_limit, "slLimitPrice": sl_limit, "placeType": "", "createdTime": o.created_ms.to_string(),
        "updatedTime": o.updated_ms.to_string(), "category": category.as_str(),
    })
}
