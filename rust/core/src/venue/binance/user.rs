//! Binance user data (PROTOCOLS.md 7.1, 7.2). Spot: the WebSocket API's
//! `userDataStream.subscribe.signature` on a session of its own, events wrapped as
//! `{"subscriptionId", "event"}`. USD-M: a listen key (REST `POST /fapi/v1/listenKey`, kept
//! alive with `PUT`) subscribed on the `/private` route; `listenKeyExpired` ends it.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::model::{
    Balance, Decimal, Fill, Id, Market, Order, OrderStatus, OrderType, PositionSide, Side, Source,
    TimeInForce, TriggerBy, Venue,
};
use crate::net::ws::WsDialect;
use crate::resilience::{ClockSync, RequestIds};
use crate::venue::binance::market::BinanceStreams;
use crate::venue::binance::orders::{ALGO_EVENT, algo_order, fill, order_kind, order_status};
use crate::venue::binance::rest::banned_until_in;
use crate::venue::fields::Fields;
use crate::venue::{Credentials, UserEvent};
use crate::{Error, Result};

/// The spot user stream on the WebSocket API: the subscription is the login (any key type).
#[derive(Debug)]
pub struct BinanceSpotUser {
    pub credentials: Arc<Credentials>,
    pub clock: Arc<ClockSync>,
}

impl WsDialect for BinanceSpotUser {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    /// The account is the one "topic": subscribing it is `userDataStream.subscribe.signature`
    /// (signed now, so a refresh after `eventStreamTerminated` subscribes afresh).
    fn subscribe(&self, _topics: &[String], on: bool, ids: &RequestIds) -> Vec<String> {
        if !on {
            // Ended subscriptions need no unsubscribe; an explicit one would end a live one
            // with `eventStreamTerminated`, which reads as "subscribe again".
            return Vec::new();
        }
        let params = super::sign::ws_api_auth(&self.credentials, self.clock.now_server_ms());
        vec![
            json!({"id": ids.next(), "method": "userDataStream.subscribe.signature", "params": params})
                .to_string(),
        ]
    }

    fn heartbeat(&self, _ids: &RequestIds) -> Option<String> {
        None
    }

    fn is_control(&self, text: &str) -> bool {
        // Answers to our requests: `{"id":..,"status":200,"result":..}`; a refusal is data, so
        // that it is read and reported.
        text.starts_with("{\"id\"") && text.contains("\"status\":200")
    }
}

/// The USD-M user stream: the listen key is the one topic, subscribed like a market stream. A
/// refused subscription (`{"code":2,"msg":"Invalid request: invalid listenKey"}`, a key that
/// expired while the connection was down) is data, so that a new key is subscribed.
#[derive(Debug, Clone, Copy, Default)]
pub struct BinanceUsdmUser;

impl WsDialect for BinanceUsdmUser {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    fn subscribe(&self, topics: &[String], on: bool, ids: &RequestIds) -> Vec<String> {
        BinanceStreams.subscribe(topics, on, ids)
    }

    fn heartbeat(&self, ids: &RequestIds) -> Option<String> {
        BinanceStreams.heartbeat(ids)
    }

    fn is_control(&self, text: &str) -> bool {
        BinanceStreams.is_control(text) && !text.starts_with("{\"code\"")
    }
}

fn bad(reason: impl Into<String>) -> Error {
    Error::protocol(Venue::Binance, reason)
}

fn side(word: &str) -> Result<Side> {
    match word {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(bad(format!("side {other:?}"))),
    }
}

fn tif(kind: &str, order_type: OrderType, word: Option<&str>) -> Option<TimeInForce> {
    match (kind, word) {
        ("LIMIT_MAKER", _) | (_, Some("GTX")) => Some(TimeInForce::PostOnly),
        _ if order_type == OrderType::Market => None,
        (_, Some(w)) => w.parse().ok(),
        _ => None,
    }
}

/// Reads one user-stream message; kinds we do not use (order lists, config changes,
/// `TRADE_LITE` — its fill also comes in `ORDER_TRADE_UPDATE`) give nothing.
pub fn parse(market: Market, text: &str) -> Result<Vec<UserEvent>> {
    let value: Value = serde_json::from_str(text).map_err(|e| bad(format!("user stream: {e}")))?;
    // Spot wraps events in `event`, a combined stream in `data`.
    let event = value
        .get("event")
        .or_else(|| value.get("data"))
        .unwrap_or(&value);
    let f = Fields::new(Venue::Binance, event);
    let source = Source {
        venue: Venue::Binance,
        market,
    };
    if let (Some(status), None) = (value.get("status").and_then(Value::as_i64), f.opt_text("e")) {
        // A refused subscription: `{"id":..,"status":400,"error":{"code":..,"msg":..}}`; a ban
        // (418) or a rate limit (429) names its end as `error.data.retryAfter` (epoch ms).
        if status == 418 || status == 429 {
            let error = value.get("error");
            let message = error
                .and_then(|e| e.get("msg"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let until_ms = error
                .and_then(|e| e.pointer("/data/retryAfter"))
                .and_then(Value::as_i64)
                .or_else(|| banned_until_in(message));
            return Ok(vec![UserEvent::Limited {
                banned: status == 418,
                until_ms,
                reason: format!("status {status}: {}", crate::error::snippet(message)),
            }]);
        }
        if status != 200 {
            return Ok(vec![UserEvent::Refused(
                value
                    .get("error")
                    .map_or_else(|| format!("status {status}"), ToString::to_string),
            )]);
        }
    }
    if let (Some(code), None) = (value.get("code"), f.opt_text("e")) {
        // A refused SUBSCRIBE of the listen key: subscribe a fresh one.
        let why = value.get("msg").and_then(Value::as_str).unwrap_or("");
        return Ok(vec![UserEvent::Ended(format!(
            "subscription refused ({code}): {why}"
        ))]);
    }
    Ok(match f.opt_text("e") {
        Some("executionReport") => execution_report(source, f)?.into_iter().collect(),
        Some("ORDER_TRADE_UPDATE") => order_trade_update(source, f)?.into_iter().collect(),
        Some("ALGO_UPDATE") => {
            let body = f.get("o").ok_or_else(|| bad("ALGO_UPDATE without 'o'"))?;
            let at = f.opt_int("T")?.or(f.opt_int("E")?).unwrap_or(0);
            algo_order(market, f.at(body), &ALGO_EVENT, at)?
                .map(|order| UserEvent::Order(order, None))
                .into_iter()
                .collect()
        }
        Some("outboundAccountPosition") => {
            let at = f.opt_int("u")?.or(f.opt_int("E")?).unwrap_or(0);
            let balances = f
                .array("B")?
                .iter()
                .map(|b| {
                    let g = f.at(b);
                    Ok(Balance {
                        venue: Venue::Binance,
                        market,
                        asset: g.text("a")?.to_owned(),
                        free: g.decimal("f")?,
                        locked: g.decimal("l")?,
                        exchange_time_ms: at,
                    })
                })
                .collect::<Result<_>>()?;
            vec![UserEvent::Balances(balances)]
        }
        // Deltas (spot deposits, USD-M wallet without the available part): read funds again.
        Some("balanceUpdate" | "ACCOUNT_UPDATE") => vec![UserEvent::AccountChanged],
        Some(kind @ ("eventStreamTerminated" | "listenKeyExpired")) => {
            vec![UserEvent::Ended(kind.to_owned())]
        }
        _ => Vec::new(),
    })
}

fn execution_report(source: Source, f: Fields<'_>) -> Result<Option<UserEvent>> {
    let kind = f.text("o")?;
    let Some((order_type, trigger_kind)) = order_kind(kind, Market::Spot) else {
        return Ok(None); // kinds we do not read
    };
    let word = f.text("X")?;
    let status = order_status(word).ok_or_else(|| bad(format!("order status {word:?}")))?;
    let side = side(f.text("S")?)?;
    // A trailing stop names its delta (`d`, BIPS).
    let rate = super::orders::bips_rate(f.opt_decimal("d")?);
    let trigger = super::orders::trigger_of(
        trigger_kind,
        side,
        f.opt_decimal("P")?,
        rate,
        TriggerBy::Last,
    );
    // A stop order not yet triggered is NEW and not working (`w` false).
    let status = match (trigger, status, f.opt_bool("w")) {
        (Some(_), OrderStatus::New, Some(false)) => OrderStatus::Untriggered,
        _ => status,
    };
    // A cancel's report names the order `C` (its original client id) and the cancel `c`.
    let client = f
        .opt_text("C")
        .filter(|c| !c.is_empty())
        .map_or_else(|| f.id("c"), |c| Ok(Id::new(c)))?;
    let filled = f.decimal("z")?;
    let quote_spent = f.opt_decimal("Z")?.unwrap_or(Decimal::ZERO);
    let updated = f.opt_int("T")?.or(f.opt_int("E")?).unwrap_or(0);
    let order = Order {
        source,
        symbol: f.symbol("s")?,
        order_id: f.id("i")?,
        client_order_id: client,
        side,
        order_type,
        time_in_force: tif(kind, order_type, f.opt_text("f")),
        price: f.opt_decimal("p")?.filter(|p| !p.is_zero()),
        qty: f.opt_decimal("q")?.filter(|q| !q.is_zero()),
        quote_qty: f.opt_decimal("Q")?.filter(|q| !q.is_zero()),
        filled_qty: filled,
        // Extreme wire values must not panic the division: an impossible average is an
        // unreadable message.
        avg_price: if filled.is_zero() {
            None
        } else {
            let avg = quote_spent.checked_div(filled);
            Some(
                avg.ok_or_else(|| bad(format!("Z/z = {quote_spent}/{filled}")))?
                    .normalize(),
            )
        },
        status,
        reduce_only: false,
        position_side: None,
        trigger,
        created_time_ms: f.opt_int("O")?.unwrap_or(updated),
        updated_time_ms: updated,
        // A rejection's reason, or why the venue expired it (`eR`: an OCO's other leg traded
        // or triggered, an IOC's rest ...).
        reject_reason: ["r", "eR"]
            .into_iter()
            .find_map(|k| f.opt_text(k).filter(|r| !r.is_empty() && *r != "NONE"))
            .map(str::to_owned),
        parent_client_order_id: None,
        stop_loss: None,
        take_profit: None,
    };
    let fill = trade(&order, f)?;
    Ok(Some(UserEvent::Order(order, fill)))
}

fn order_trade_update(source: Source, outer: Fields<'_>) -> Result<Option<UserEvent>> {
    let body = outer
        .get("o")
        .ok_or_else(|| bad("ORDER_TRADE_UPDATE without 'o'"))?;
    let f = outer.at(body);
    let kind = f.text("o")?;
    let Some((order_type, trigger_kind)) = order_kind(kind, Market::Usdm) else {
        return Ok(None); // kinds we do not read
    };
    let word = f.text("X")?;
    let status = order_status(word).ok_or_else(|| bad(format!("order status {word:?}")))?;
    let filled = f.decimal("z")?;
    let updated = f.opt_int("T")?.or(outer.opt_int("T")?).unwrap_or(0);
    let side = side(f.text("S")?)?;
    let position_side = super::orders::leg(f, "ps")?;
    let order = Order {
        source,
        symbol: f.symbol("s")?,
        order_id: f.id("i")?,
        client_order_id: f.id("c")?,
        side,
        order_type,
        time_in_force: tif(kind, order_type, f.opt_text("f")),
        price: f.opt_decimal("p")?.filter(|p| !p.is_zero()),
        qty: f.opt_decimal("q")?.filter(|q| !q.is_zero()),
        quote_qty: None,
        filled_qty: filled,
        avg_price: f
            .opt_decimal("ap")?
            .filter(|p| !p.is_zero() && !filled.is_zero()),
        status,
        reduce_only: PositionSide::reduces(position_side, side, f.opt_bool("R").unwrap_or(false)),
        position_side,
        // An order of the algo service's triggers reports as its own type; the trigger is
        // the state machine's from the algo order's events.
        // A trailing stop's `sp` means nothing; its activation is `AP`, its rate `cr`.
        trigger: {
            let by = if f.opt_text("wt") == Some("MARK_PRICE") {
                TriggerBy::Mark
            } else {
                TriggerBy::Last
            };
            let rate = f
                .opt_decimal("cr")?
                .filter(|_| kind == "TRAILING_STOP_MARKET");
            let price = match rate {
                Some(_) => f.opt_decimal("AP")?,
                None => f.opt_decimal("sp")?,
            };
            super::orders::trigger_of(trigger_kind, side, price, rate, by)
        },
        created_time_ms: 0,
        updated_time_ms: updated,
        reject_reason: None,
        parent_client_order_id: None,
        stop_loss: None,
        take_profit: None,
    };
    let fill = trade(&order, f)?;
    Ok(Some(UserEvent::Order(order, fill)))
}

/// The execution an order event reports (`x` = `TRADE`); spot and USD-M name its fields alike.
fn trade(order: &Order, f: Fields<'_>) -> Result<Option<Fill>> {
    if f.opt_text("x") != Some("TRADE") {
        return Ok(None);
    }
    let maker = f.opt_bool("m").unwrap_or(false);
    fill(
        order,
        f,
        ["t", "L", "l", "n", "N"],
        maker,
        order.updated_time_ms,
    )
    .map(Some)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;

    /// `(banned, until_ms)` of a rate-limit refusal.
    fn limited(text: &str) -> (bool, Option<i64>) {
        match parse(Market::Spot, text).expect("readable").as_slice() {
            [
                UserEvent::Limited {
                    banned, until_ms, ..
                },
            ] => (*banned, *until_ms),
            other => panic!("not a rate-limit refusal: {other:?}"),
        }
    }

    #[test]
    fn a_ban_on_the_websocket_api_names_its_end() {
        // The docs' answer (tests/fixtures/real/binance-spot/ws-api/docs-error-1003-418.json).
        let text = include_str!(
            "../../../../../tests/fixtures/real/binance-spot/ws-api/docs-error-1003-418.json"
        );
        assert_eq!(limited(text), (true, Some(1_659_146_400_000)));
        // Without `data`, the end is read from the message; a 429 is a back-off.
        let text = r#"{"id":3,"status":418,"error":{"code":-1003,"msg":"Way too much request weight used; IP banned until 1700000000123."}}"#;
        assert_eq!(limited(text), (true, Some(1_700_000_000_123)));
        let text =
            r#"{"id":4,"status":429,"error":{"code":-1003,"msg":"Too much request weight used."}}"#;
        assert_eq!(limited(text), (false, None));
    }

    #[test]
    fn an_extreme_average_is_a_typed_error_not_a_panic() {
        // Real executionReport, with Z / z past what a decimal holds.
        let text = r#"{"subscriptionId":0,"event":{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE","i":4293153,"l":"0.0000000000000000000000000001","z":"0.0000000000000000000000000001","L":"0.10264410","n":"0","N":null,"T":1499405658657,"t":5,"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,"Z":"79228162514264337593543950335","Y":"0.00000000","Q":"0.00000000","W":1499405658657,"V":"NONE"}}"#;
        let outcome = std::panic::catch_unwind(|| parse(Market::Spot, text));
        assert!(
            matches!(outcome, Ok(Err(Error::Protocol { .. }))),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_spot_stop_order_waits_untriggered_until_it_works() {
        // The docs' executionReport as a STOP_LOSS_LIMIT buy: not working (`w` false), then
        // working after its trigger.
        let report = |working: bool| {
            format!(
                r#"{{"subscriptionId":0,"event":{{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"stop-1","S":"BUY","o":"STOP_LOSS_LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.10300000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":4293153,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1499405658657,"t":-1,"I":8641984,"w":{working},"m":false,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000","V":"NONE"}}}}"#
            )
        };
        let read = |text: &str| match parse(Market::Spot, text).unwrap().pop() {
            Some(UserEvent::Order(order, None)) => order,
            other => panic!("{other:?}"),
        };
        let waiting = read(&report(false));
        assert_eq!(
            (waiting.status, waiting.order_type),
            (OrderStatus::Untriggered, OrderType::Limit)
        );
        let t = waiting.trigger.unwrap();
        assert_eq!(
            (t.price.to_string(), t.direction),
            (
                "0.10300000".to_owned(),
                Some(crate::model::TriggerDirection::Rise)
            )
        );
        assert_eq!(read(&report(true)).status, OrderStatus::New);
    }

    #[test]
    fn every_recorded_algo_update_reads_as_one_order_lifecycle() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/real/binance-usdm/ws-private/"
        );
        let read = |name: &str| {
            let text = std::fs::read_to_string(format!("{dir}{name}")).expect(name);
            parse(Market::Usdm, &text).expect(name)
        };
        let order = |name: &str| match read(name).as_slice() {
            [UserEvent::Order(order, None)] => order.clone(),
            other => panic!("{name}: {other:?}"),
        };
        // The docs' NEW: waiting for its trigger under the algo id; its odd `rm` is not a
        // reason on an order that did not end.
        let new = order("docs-ALGO_UPDATE-new.json");
        assert_eq!(
            (
                new.order_id.as_str(),
                new.client_order_id.as_str(),
                new.symbol.as_str(),
                new.status,
                new.order_type,
                new.side,
                new.price.map(|p| p.to_string()),
                new.qty.map(|q| q.to_string()),
                new.time_in_force,
                new.reject_reason.clone(),
                new.updated_time_ms,
            ),
            (
                "2148719",
                "Q5xaq5EGKgXXa0fD7fs0Ip",
                "BNBUSDT",
                OrderStatus::Untriggered,
                OrderType::Limit,
                Side::Sell,
                Some("750".to_owned()),
                Some("0.01".to_owned()),
                Some(TimeInForce::Gtc),
                None,
                1_750_515_742_297,
            )
        );
        let t = new.trigger.expect("a trigger");
        assert_eq!(
            (t.price.to_string(), t.direction, t.by),
            (
                "750".to_owned(),
                Some(crate::model::TriggerDirection::Rise),
                TriggerBy::Last
            )
        );
        // A recorded STOP_MARKET on testnet: TRIGGERING under the algo id, TRIGGERED under
        // the id of the order it became, FINISHED filled in full with its average.
        let triggering = order("nt-2025-12-ALGO_UPDATE-triggering.json");
        assert_eq!(
            (
                triggering.order_id.as_str(),
                triggering.status,
                triggering.order_type
            ),
            (
                "1000000033225453",
                OrderStatus::Triggered,
                OrderType::Market
            )
        );
        assert_eq!(
            triggering
                .trigger
                .map(|t| (t.price.to_string(), t.direction)),
            Some((
                "0.13855".to_owned(),
                Some(crate::model::TriggerDirection::Rise)
            ))
        );
        let triggered = order("nt-2025-12-ALGO_UPDATE-triggered.json");
        assert_eq!(
            (
                triggered.order_id.as_str(),
                triggered.client_order_id.as_str(),
                triggered.status,
                triggered.filled_qty,
                triggered.avg_price
            ),
            (
                "88937381063",
                "O-20251211-053131-TEST-000-1",
                OrderStatus::Triggered,
                Decimal::ZERO,
                None
            )
        );
        let finished = order("nt-2025-12-ALGO_UPDATE-finished.json");
        assert_eq!(
            (
                finished.order_id.as_str(),
                finished.status,
                finished.filled_qty.to_string(),
                finished.avg_price.map(|p| p.to_string()),
                finished.updated_time_ms,
            ),
            (
                "88937381063",
                OrderStatus::Filled,
                "38".to_owned(),
                Some("0.13856".to_owned()),
                1_765_431_097_031,
            )
        );
        // FINISHED short of filled says nothing of how the triggered order ended: its own
        // ORDER_TRADE_UPDATE does.
        let short = std::fs::read_to_string(format!("{dir}nt-2025-12-ALGO_UPDATE-finished.json"))
            .unwrap()
            .replace(r#""aq":"38""#, r#""aq":"0""#);
        assert_eq!(parse(Market::Usdm, &short).unwrap(), Vec::new());
        // CANCELED and REJECTED end it; a rejection keeps the venue's reason.
        let new_text = std::fs::read_to_string(format!("{dir}docs-ALGO_UPDATE-new.json")).unwrap();
        for (word, status, reason) in [
            ("CANCELED", OrderStatus::Canceled, None),
            ("EXPIRED", OrderStatus::Expired, Some("Reduce Only reject")),
            (
                "REJECTED",
                OrderStatus::Rejected,
                Some("Reduce Only reject"),
            ),
        ] {
            let text = new_text.replace(r#""X": "NEW""#, &format!(r#""X": "{word}""#));
            match parse(Market::Usdm, &text).unwrap().as_slice() {
                [UserEvent::Order(o, None)] => {
                    assert_eq!(
                        (o.status, o.reject_reason.as_deref()),
                        (status, reason),
                        "{word}"
                    );
                }
                other => panic!("{word}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_triggered_algo_order_reports_under_its_own_type() {
        // The docs' ORDER_TRADE_UPDATE as the STOP_MARKET the algo service placed on trigger.
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/real/binance-usdm/ws-private/"
        );
        let text = std::fs::read_to_string(format!("{dir}docs-ORDER_TRADE_UPDATE-new.json"))
            .unwrap()
            .replace("\"TRAILING_STOP_MARKET\"", "\"STOP_MARKET\"");
        match parse(Market::Usdm, &text).unwrap().as_slice() {
            [UserEvent::Order(o, None)] => {
                assert_eq!(
                    (o.order_type, o.status),
                    (OrderType::Market, OrderStatus::New)
                );
                let t = o.trigger.expect("its trigger");
                assert_eq!(
                    (t.price.to_string(), t.direction),
                    (
                        "7103.04".to_owned(),
                        Some(crate::model::TriggerDirection::Rise)
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        // The trailing stop as it is: its activation price (`AP`, not `sp`) and rate (`cr`).
        let trailing =
            std::fs::read_to_string(format!("{dir}docs-ORDER_TRADE_UPDATE-new.json")).unwrap();
        match parse(Market::Usdm, &trailing).unwrap().as_slice() {
            [UserEvent::Order(o, None)] => {
                let t = o.trigger.expect("its trigger");
                assert_eq!(
                    (
                        t.price.to_string(),
                        t.trailing.map(|r| r.to_string()),
                        t.direction
                    ),
                    (
                        "7476.89".to_owned(),
                        Some("5.0".to_owned()),
                        Some(crate::model::TriggerDirection::Rise)
                    )
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
