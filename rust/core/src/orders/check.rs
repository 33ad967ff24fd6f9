//! Local checks of an order against its symbol's rules, before anything is sent: a rejection
//! here costs no request weight and names the rule that failed.

use crate::model::{Decimal, Market, OrderType, PositionSide, SymbolInfo, TimeInForce, Trigger};
use crate::orders::NewOrder;
use crate::{Error, Result};

fn refuse(rule: &str, message: String) -> Error {
    Error::InvalidOrder {
        rule: rule.to_owned(),
        message,
        reply: None,
    }
}

/// Whether `value` is on the grid of `unit` (any value when there is no grid).
pub(crate) fn multiple(value: Decimal, unit: Decimal) -> bool {
    unit.is_zero() || (value % unit).is_zero()
}

/// Checks `order` against `info` (tick size, step size, quantity bounds, minimum notional,
/// trading status) and the order's own consistency.
pub fn check(info: &SymbolInfo, order: &NewOrder) -> Result<()> {
    let symbol = info.symbol;
    if !info.trading {
        return Err(refuse(
            "status",
            format!("{symbol} is not trading (status {})", info.status),
        ));
    }
    let market = info.source.market;
    if order.reduce_only && market == Market::Spot {
        return Err(refuse(
            crate::orders::rule::REDUCE_ONLY,
            "reduce_only applies to derivatives only".into(),
        ));
    }
    if let Some(leg) = order.position_side {
        if market == Market::Spot {
            return Err(refuse(
                "position_side",
                "position_side applies to derivatives only".into(),
            ));
        }
        if leg == PositionSide::Flat {
            return Err(refuse(
                "position_side",
                "position_side is LONG or SHORT (a hedge-mode leg), or none in one-way mode".into(),
            ));
        }
        if order.reduce_only && !leg.closed_by(order.side) {
            return Err(refuse(
                crate::orders::rule::REDUCE_ONLY,
                format!(
                    "a {} order opens the {leg} leg: it cannot be reduce-only",
                    order.side
                ),
            ));
        }
    }
    match order.order_type {
        OrderType::Limit => {
            let Some(price) = order.price else {
                return Err(refuse("price", "a LIMIT order needs a price".into()));
            };
            if price <= Decimal::ZERO {
                return Err(refuse("price", format!("price {price} must be positive")));
            }
            if !multiple(price, info.tick_size) {
                return Err(refuse(
                    "tick_size",
                    format!(
                        "price {price} is not a multiple of {symbol}'s tick size {}",
                        info.tick_size
                    ),
                ));
            }
            if order.quote_qty.is_some() {
                return Err(refuse("quote_qty", "quote_qty is for MARKET orders".into()));
            }
            if order.post_only
                && matches!(
                    order.time_in_force,
                    Some(TimeInForce::Ioc | TimeInForce::Fok)
                )
            {
                return Err(refuse(
                    "post_only",
                    "post_only cannot be combined with IOC or FOK".into(),
                ));
            }
        }
        OrderType::Market => {
            if order.price.is_some() {
                return Err(refuse("price", "a MARKET order takes no price".into()));
            }
            if order.post_only {
                return Err(refuse(
                    "post_only",
                    "a MARKET order cannot be post-only".into(),
                ));
            }
            if order.quote_qty.is_some() && market != Market::Spot {
                return Err(refuse(
                    "quote_qty",
                    "quote_qty market orders are spot-only".into(),
                ));
            }
        }
    }
    if let Some(trigger) = order.trigger {
        check_trigger(info, order, trigger)?;
    }
    check_exits(info, order)?;
    if order.close_position {
        return check_close(market, order);
    }
    match (order.qty, order.quote_qty) {
        (Some(_), Some(_)) => Err(refuse("qty", "give qty or quote_qty, not both".into())),
        (None, None) => Err(refuse("qty", "the order needs a qty".into())),
        (None, Some(quote)) => check_quote(info, quote),
        (Some(qty), None) => check_qty(info, order, qty),
    }
}

/// A conditional order's own rules: a trigger price on the tick grid, a direction, a base
/// quantity, never post-only, and the price it watches one the market has.
fn check_trigger(info: &SymbolInfo, order: &NewOrder, trigger: Trigger) -> Result<()> {
    use crate::orders::rule::{TRAILING, TRIGGER_PRICE};
    if let Some(rate) = trigger.trailing {
        if rate <= Decimal::ZERO {
            return Err(refuse(
                TRAILING,
                format!("callback rate {rate}% must be positive"),
            ));
        }
        if order.order_type != OrderType::Market {
            return Err(refuse(TRAILING, "a trailing stop is a MARKET order".into()));
        }
    }
    // A trailing stop's price is its activation price, 0 when active from placement.
    let active_at_once = trigger.trailing.is_some() && trigger.price.is_zero();
    if trigger.price <= Decimal::ZERO && !active_at_once {
        return Err(refuse(
            TRIGGER_PRICE,
            format!("trigger price {} must be positive", trigger.price),
        ));
    }
    if !multiple(trigger.price, info.tick_size) {
        return Err(refuse(
            "tick_size",
            format!(
                "trigger price {} is not a multiple of {}'s tick size {}",
                trigger.price, info.symbol, info.tick_size
            ),
        ));
    }
    if trigger.direction.is_none() {
        return Err(refuse(
            TRIGGER_PRICE,
            "a trigger needs the direction it waits for".into(),
        ));
    }
    if order.quote_qty.is_some() {
        return Err(refuse(
            "quote_qty",
            "a conditional order is sized by qty".into(),
        ));
    }
    if order.post_only {
        return Err(refuse(
            "post_only",
            "a conditional order cannot be post-only".into(),
        ));
    }
    Ok(())
}

/// A close-position order: a conditional MARKET order of no quantity, on a derivatives market,
/// closing its hedge-mode leg if it names one (its closing is its reduce-only).
fn check_close(market: Market, order: &NewOrder) -> Result<()> {
    use crate::orders::rule::CLOSE_POSITION;
    let why = if market == Market::Spot {
        "close_position applies to derivatives only"
    } else if order.trigger.is_none() || order.order_type != OrderType::Market {
        "close_position is for a stop or take-profit MARKET order"
    } else if order.qty.is_some() || order.quote_qty.is_some() {
        "a close-position order takes no qty: it closes the whole position"
    } else if order
        .position_side
        .is_some_and(|leg| !leg.closed_by(order.side))
    {
        "a close-position order must close its leg (SELL on LONG, BUY on SHORT)"
    } else {
        return Ok(());
    };
    Err(refuse(CLOSE_POSITION, why.into()))
}

/// An entry's attached take-profit and stop-loss: trigger and limit prices on the tick grid,
/// never on a reducing order (the venue's rule), and against a LIMIT entry's price on the side
/// they close at a profit or a loss (a MARKET entry's last price is the venue's to judge).
fn check_exits(info: &SymbolInfo, order: &NewOrder) -> Result<()> {
    use crate::model::Side;
    use crate::orders::rule::EXITS;
    let exits = [
        ("take_profit", order.take_profit),
        ("stop_loss", order.stop_loss),
    ];
    if exits.iter().all(|(_, e)| e.is_none()) {
        return Ok(());
    }
    if order.reduce_only || order.close_position || order.reduces() {
        return Err(refuse(
            EXITS,
            "a reducing order takes no take-profit or stop-loss".into(),
        ));
    }
    for (name, exit) in exits {
        let Some(exit) = exit else { continue };
        for (what, price) in [("trigger", Some(exit.trigger)), ("limit", exit.price)] {
            let Some(price) = price else { continue };
            if price <= Decimal::ZERO || !multiple(price, info.tick_size) {
                return Err(refuse(
                    EXITS,
                    format!(
                        "{name} {what} price {price} must be positive and a multiple of {}'s tick size {}",
                        info.symbol, info.tick_size
                    ),
                ));
            }
        }
        let Some(base) = order.price.filter(|_| order.trigger.is_none()) else {
            continue;
        };
        // A BUY entry profits above its price and loses below; a SELL the other way round.
        let above = (name == "take_profit") == (order.side == Side::Buy);
        if (above && exit.trigger <= base) || (!above && exit.trigger >= base) {
            return Err(refuse(
                EXITS,
                format!(
                    "a {} entry's {name} trigger {} must be {} its price {base}",
                    order.side,
                    exit.trigger,
                    if above { "above" } else { "below" }
                ),
            ));
        }
    }
    Ok(())
}

fn check_quote(info: &SymbolInfo, quote: Decimal) -> Result<()> {
    if quote <= Decimal::ZERO {
        return Err(refuse(
            "quote_qty",
            format!("quote_qty {quote} must be positive"),
        ));
    }
    if let Some(min) = info.min_notional
        && quote < min
    {
        return Err(refuse(
            "min_notional",
            format!(
                "quote_qty {quote} is below {}'s minimum notional {min}",
                info.symbol
            ),
        ));
    }
    Ok(())
}

fn check_qty(info: &SymbolInfo, order: &NewOrder, qty: Decimal) -> Result<()> {
    let symbol = info.symbol;
    if qty <= Decimal::ZERO {
        return Err(refuse("qty", format!("qty {qty} must be positive")));
    }
    if !multiple(qty, info.step_size) {
        return Err(refuse(
            "step_size",
            format!(
                "qty {qty} is not a multiple of {symbol}'s step size {}",
                info.step_size
            ),
        ));
    }
    let market_order = order.order_type == OrderType::Market;
    let min = if market_order {
        info.market_min_qty.unwrap_or(info.min_qty)
    } else {
        info.min_qty
    };
    if qty < min {
        return Err(refuse(
            "min_qty",
            format!("qty {qty} is below {symbol}'s minimum {min}"),
        ));
    }
    let max = if market_order {
        info.market_max_qty.or(info.max_qty)
    } else {
        info.max_qty
    };
    if let Some(max) = max
        && qty > max
    {
        return Err(refuse(
            "max_qty",
            format!("qty {qty} is above {symbol}'s maximum {max}"),
        ));
    }
    // A MARKET order's notional depends on the fill price: the venue checks it.
    if let (Some(min), Some(price)) = (info.min_notional, order.price)
        && qty * price < min
    {
        return Err(refuse(
            "min_notional",
            format!(
                "notional {} ({qty} × {price}) is below {symbol}'s minimum {min}",
                qty * price
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Id, Side, Source, Symbol, Venue};

    fn info(market: Market) -> SymbolInfo {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        SymbolInfo {
            source: Source {
                venue: Venue::Binance,
                market,
            },
            symbol: Symbol::new("BTCUSDT"),
            base_asset: "BTC".into(),
            quote_asset: "USDT".into(),
            status: "TRADING".into(),
            trading: true,
            tick_size: d("0.01"),
            step_size: d("0.001"),
            min_qty: d("0.001"),
            max_qty: Some(d("100")),
            min_notional: Some(d("5")),
            market_min_qty: None,
            market_max_qty: Some(d("10")),
            price_precision: 2,
            qty_precision: 3,
            raw_filters: "[]".into(),
        }
    }

    fn limit(qty: &str, price: &str) -> NewOrder {
        NewOrder {
            symbol: Symbol::new("BTCUSDT"),
            side: Side::Buy,
            order_type: OrderType::Limit,
            qty: Some(qty.parse().unwrap()),
            quote_qty: None,
            price: Some(price.parse().unwrap()),
            time_in_force: None,
            post_only: false,
            reduce_only: false,
            position_side: None,
            trigger: None,
            client_order_id: Id::new("c"),
            close_position: false,
            stop_loss: None,
            take_profit: None,
        }
    }

    fn rule(result: Result<()>) -> String {
        match result {
            Err(Error::InvalidOrder { rule, .. }) => rule,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn each_rule_is_named() {
        let spot = info(Market::Spot);
        assert!(check(&spot, &limit("0.010", "600.00")).is_ok());
        let cases = [
            // case: (order, rule it breaks)
            (limit("0.010", "600.005"), "tick_size"),
            (limit("0.0105", "600"), "step_size"),
            (limit("0.001", "600"), "min_notional"),
            (limit("101", "600"), "max_qty"),
            (limit("0", "600"), "qty"),
            (limit("1", "-1"), "price"),
        ];
        for (order, want) in cases {
            assert_eq!(rule(check(&spot, &order)), want, "{order:?}");
        }
        let mut market = limit("11", "1");
        market.order_type = OrderType::Market;
        market.price = None;
        assert_eq!(
            rule(check(&spot, &market)),
            "max_qty",
            "the market cap applies"
        );
        market.qty = None;
        market.quote_qty = Some("4".parse().unwrap());
        assert_eq!(rule(check(&spot, &market)), "min_notional");
        assert_eq!(
            rule(check(&info(Market::Usdm), &market)),
            "quote_qty",
            "quote_qty is spot-only"
        );
        let mut halted = info(Market::Spot);
        halted.trading = false;
        assert_eq!(rule(check(&halted, &limit("0.010", "600"))), "status");
        let mut post = limit("0.010", "600");
        post.post_only = true;
        post.time_in_force = Some(TimeInForce::Ioc);
        assert_eq!(rule(check(&spot, &post)), "post_only");
    }

    #[test]
    fn hedge_legs_are_checked() {
        let usdm = info(Market::Usdm);
        let mut order = limit("0.010", "600");
        order.position_side = Some(PositionSide::Long);
        assert!(check(&usdm, &order).is_ok());
        assert_eq!(rule(check(&info(Market::Spot), &order)), "position_side");
        // A BUY on the LONG leg opens it: it cannot be reduce-only; a SELL closes it and can.
        order.reduce_only = true;
        assert_eq!(rule(check(&usdm, &order)), "reduce_only");
        order.side = Side::Sell;
        assert!(check(&usdm, &order).is_ok());
        assert!(order.reduces());
        order.reduce_only = false;
        assert!(order.reduces(), "closing its leg reduces, flagged or not");
        order.position_side = Some(PositionSide::Flat);
        assert_eq!(rule(check(&usdm, &order)), "position_side");
    }
}
