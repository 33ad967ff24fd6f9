//! Bybit private topics (PROTOCOLS.md 7.3), read with the REST shapes they share: `order.*`
//! items are `/v5/order/realtime` items, `wallet` is a unified account, `position` items are
//! `/v5/position/list` items. The stream logs in with [`super::market::BybitPrivate`].

use serde_json::Value;

use crate::model::{Decimal, Fill, Market, Side, Source, Venue};
use crate::venue::UserEvent;
use crate::venue::bybit::orders::BybitTrading;
use crate::venue::fields::Fields;
use crate::{Error, Result};

/// The topics of a category: its own orders and executions, the account's wallet, and (linear)
/// positions.
pub fn topics(market: Market) -> Vec<String> {
    let category = if market == Market::Spot {
        "spot"
    } else {
        "linear"
    };
    let mut topics = vec![
        format!("order.{category}"),
        format!("execution.{category}"),
        "wallet".to_owned(),
    ];
    if market == Market::Linear {
        topics.push("position.linear".to_owned());
    }
    topics
}

fn bad(reason: impl Into<String>) -> Error {
    Error::protocol(Venue::Bybit, reason)
}

/// Reads one private-topic message; acks, pongs and kinds we do not use give nothing.
pub fn parse(market: Market, text: &str) -> Result<Vec<UserEvent>> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("private stream: {e}")))?;
    let Some(topic) = value.get("topic").and_then(Value::as_str) else {
        if value.get("success").and_then(Value::as_bool) == Some(false) {
            let what = value.get("op").and_then(Value::as_str).unwrap_or("request");
            let why = value.get("ret_msg").and_then(Value::as_str).unwrap_or("");
            return Ok(vec![UserEvent::Refused(format!("{what}: {why}"))]);
        }
        return Ok(Vec::new());
    };
    let data = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("{topic} without data")))?;
    let trading = BybitTrading { market };
    let category = if market == Market::Spot {
        "spot"
    } else {
        "linear"
    };
    let ours = |item: &&Value| {
        item.get("category")
            .and_then(Value::as_str)
            .is_none_or(|c| c == category)
    };
    let at = value
        .get("creationTime")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    Ok(match topic.split('.').next().unwrap_or("") {
        "order" => data
            .iter()
            .filter(ours)
            .map(|o| Ok(UserEvent::Order(trading.order(o)?, None)))
            .collect::<Result<_>>()?,
        "execution" => data
            .iter()
            .filter(ours)
            .filter(|e| e.get("execType").and_then(Value::as_str) == Some("Trade"))
            .map(|e| execution(market, e).map(UserEvent::Fill))
            .collect::<Result<_>>()?,
        "wallet" => data
            .iter()
            .filter(|a| a.get("accountType").and_then(Value::as_str) == Some("UNIFIED"))
            .map(|a| trading.coins(a, at).map(UserEvent::Balances))
            .collect::<Result<_>>()?,
        "position" => {
            let positions = data
                .iter()
                .filter(ours)
                .map(|p| trading.position(p))
                .collect::<Result<Vec<_>>>()?;
            vec![UserEvent::Positions(positions)]
        }
        _ => Vec::new(),
    })
}

/// One execution (the `execution` topic and `/v5/execution/list` share the shape).
pub(crate) fn execution(market: Market, value: &Value) -> Result<Fill> {
    let f = Fields::new(Venue::Bybit, value);
    Ok(Fill {
        source: Source {
            venue: Venue::Bybit,
            market,
        },
        symbol: f.symbol("symbol")?,
        order_id: f.id("orderId")?,
        client_order_id: f.id("orderLinkId")?,
        trade_id: f.id("execId")?,
        side: match f.text("side")? {
            "Buy" => Side::Buy,
            "Sell" => Side::Sell,
            other => return Err(bad(format!("side {other:?}"))),
        },
        price: f.decimal("execPrice")?,
        qty: f.decimal("execQty")?,
        fee: f.opt_decimal("execFee")?.unwrap_or(Decimal::ZERO),
        fee_asset: f.opt_text("feeCurrency").unwrap_or_default().to_owned(),
        is_maker: f.opt_bool("isMaker").unwrap_or(false),
        exchange_time_ms: f.opt_int("execTime")?.unwrap_or(0),
    })
}
