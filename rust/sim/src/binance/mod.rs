//! Binance spot (`/api/v3`, streams, WS API) and USD-M futures (`/fapi`, `/public` + `/market`
//! streams, listenKey user stream) on the wire. One server per market, as on the venue.

pub mod rest;
pub mod tape;
pub mod user;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;

use crate::book::Side;
use crate::config::Timing;
use crate::exchange::{Kind, Order, OrderKind, Status, Tif};
use crate::limits::BinanceLimits;
use crate::market::Market;

/// Everything the Binance handlers of one market share.
#[derive(Debug)]
pub struct BinanceState {
    pub market: Arc<Market>,
    pub limits: BinanceLimits,
    pub timing: Timing,
    /// USD-M listen keys: key → (account, expires at venue ms).
    pub listen_keys: std::sync::Mutex<std::collections::HashMap<String, (usize, i64)>>,
}

impl BinanceState {
    pub fn new(market: Arc<Market>, timing: &Timing) -> Arc<BinanceState> {
        let spot = market.kind == Kind::Spot;
        let limits = BinanceLimits::new(
            if spot {
                timing.spot_weight_limit
            } else {
                timing.usdm_weight_limit
            },
            timing.weight_window,
            if spot {
                timing.spot_orders_per_window
            } else {
                timing.usdm_orders_per_window
            },
            timing.order_window,
            timing.ban_base,
            timing.violations_before_ban,
        );
        Arc::new(BinanceState {
            market,
            limits,
            timing: timing.clone(),
            listen_keys: Default::default(),
        })
    }

    pub fn spot(&self) -> bool {
        self.market.kind == Kind::Spot
    }
}

/// Checks a request signature with the kind of key `api_key` is: HMAC-SHA256 hex for the
/// account's HMAC key, base64 Ed25519 for its Ed25519 key (PROTOCOLS.md 2.1).
pub fn signature_ok(
    account: &crate::exchange::Account,
    api_key: &str,
    payload: &str,
    signature: &str,
) -> bool {
    use base64::Engine;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    match &account.ed25519 {
        Some((key, public)) if key == api_key => {
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature) else {
                return false;
            };
            let (Ok(signature), Ok(verifier)) = (
                Signature::from_slice(&bytes),
                VerifyingKey::from_bytes(public),
            ) else {
                return false;
            };
            verifier.verify(payload.as_bytes(), &signature).is_ok()
        }
        _ => rest::hmac_hex(&account.secret, payload).eq_ignore_ascii_case(signature),
    }
}

/// `(intervalNum, interval, header letter)` of a window, as exchangeInfo and headers spell it.
pub fn interval_parts(window: Duration) -> (u64, &'static str, char) {
    let secs = window.as_secs().max(1);
    if secs.is_multiple_of(86_400) {
        (secs / 86_400, "DAY", 'D')
    } else if secs.is_multiple_of(3_600) {
        (secs / 3_600, "HOUR", 'H')
    } else if secs.is_multiple_of(60) {
        (secs / 60, "MINUTE", 'M')
    } else {
        (secs, "SECOND", 'S')
    }
}

pub fn side_str(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

pub fn status_str(status: Status) -> &'static str {
    match status {
        Status::New | Status::Untriggered | Status::Triggered => "NEW",
        Status::PartiallyFilled => "PARTIALLY_FILLED",
        Status::Filled => "FILLED",
        Status::Canceled => "CANCELED",
        Status::Rejected => "REJECTED",
        Status::Expired => "EXPIRED",
    }
}

/// A conditional order's stop price as reported: a trailing stop's activation price (0 when
/// active from placement), otherwise its trigger.
pub fn stop_price(o: &Order) -> Decimal {
    match (o.trail, o.trigger) {
        (Some(t), _) => t.activation.unwrap_or_default(),
        (None, Some(t)) => t.price,
        (None, None) => Decimal::ZERO,
    }
}

/// Spot's `trailingDelta` of a trailing stop: its rate in whole BIPS (100 = 1%).
pub fn trailing_bips(o: &Order) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    o.trail
        .and_then(|t| (t.distance * Decimal::ONE_HUNDRED).to_i64())
}

pub fn type_str(order: &Order, spot: bool) -> &'static str {
    if let (Some(t), true) = (order.trigger, spot) {
        // A stop fires against the order's side (a BUY's on a rise), a take-profit its way.
        let stop = t.rises == (order.side == Side::Buy);
        return match (order.kind, stop) {
            (OrderKind::Market, true) => "STOP_LOSS",
            (OrderKind::Limit, true) => "STOP_LOSS_LIMIT",
            (OrderKind::Market, false) => "TAKE_PROFIT",
            (OrderKind::Limit, false) => "TAKE_PROFIT_LIMIT",
        };
    }
    match (order.kind, order.tif, spot) {
        (OrderKind::Market, _, _) => "MARKET",
        (OrderKind::Limit, Tif::PostOnly, true) => "LIMIT_MAKER",
        (OrderKind::Limit, _, _) => "LIMIT",
    }
}

pub fn tif_str(tif: Tif, spot: bool) -> &'static str {
    match (tif, spot) {
        (Tif::Gtc, _) | (Tif::PostOnly, true) => "GTC",
        (Tif::Ioc, _) => "IOC",
        (Tif::Fok, _) => "FOK",
        (Tif::PostOnly, false) => "GTX",
    }
}

/// `(price, quantity)` decimals on the wire: spot prints 8, USD-M the symbol's precision.
pub fn decimals(spot: bool, spec: &crate::exchange::SymbolSpec) -> (u32, u32) {
    if spot {
        (8, 8)
    } else {
        (spec.price_decimals(), spec.qty_decimals())
    }
}

/// A USD-M order's figures as its answers and events print them.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Price and quantity decimals.
    pub pd: u32,
    pub qd: u32,
    /// Its limit price, executed quantity and average price (zeros where none).
    pub price: Decimal,
    pub executed: Decimal,
    pub avg: Decimal,
}

pub fn usdm_figures(ex: &crate::exchange::Exchange, o: &Order) -> Figures {
    let spec = &ex.symbols[&o.symbol].spec;
    let executed = spec.qty(o.filled);
    Figures {
        pd: spec.price_decimals(),
        qd: spec.qty_decimals(),
        price: o.price.map_or(Decimal::ZERO, |p| spec.price(p)),
        executed,
        avg: if o.filled > 0 {
            o.cum_quote / executed
        } else {
            Decimal::ZERO
        },
    }
}

/// Spot prints every number with 8 decimals; USD-M with the symbol's precision.
pub fn fixed(value: Decimal, decimals: u32) -> String {
    format!("{:.*}", decimals as usize, value)
}

/// A book price or quantity: `decimals` places, or as many as it has. A level or order from
/// before a tick or step change is finer than the symbol's precision; the venue prints it
/// exactly (USD-M CTKUSDT at tick 0.001 published "0.50579"), never rounded.
pub fn exact(value: Decimal, decimals: u32) -> String {
    fixed(value, decimals.max(value.normalize().scale()))
}
