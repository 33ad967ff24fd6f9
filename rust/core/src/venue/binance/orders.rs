//! Binance orders and account (spot `/api/v3`, USD-M `/fapi`): requests and their answers.

use serde_json::Value;

use crate::Result;
use crate::model::{
    Balance, Decimal, Fill, Id, MarginMode, Market, Order, OrderStatus, OrderType, Position,
    PositionMode, PositionSettings, PositionSide, Side, Source, Symbol, TimeInForce, Trigger,
    TriggerBy, TriggerKind, Venue,
};
use crate::net::{Method, Request};
use crate::orders::{NewOrder, Oco, OrderRef};
use crate::resilience::Priority;
use crate::venue::fields::Fields;
use crate::venue::{Batch, Listing, PageQuery, Paging, Trading, Written};

/// Maps Binance's `status` / `X` words (spot and USD-M share them). `None` for a word we do not
/// know: the caller counts it and keeps the order UNKNOWN until a query resolves it.
pub fn order_status(word: &str) -> Option<OrderStatus> {
    Some(match word {
        "NEW" => OrderStatus::New,
        "PENDING_NEW" => OrderStatus::PendingNew,
        "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
        "FILLED" => OrderStatus::Filled,
        "CANCELED" => OrderStatus::Canceled,
        "PENDING_CANCEL" => OrderStatus::PendingCancel,
        "REJECTED" => OrderStatus::Rejected,
        "EXPIRED" => OrderStatus::Expired,
        "EXPIRED_IN_MATCH" => OrderStatus::ExpiredInMatch,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
pub struct BinanceTrading {
    pub market: Market,
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

fn write(method: Method, path: &str) -> Request {
    Request {
        method,
        path: path.to_owned(),
        params: Vec::new(),
        signed: true,
        priority: Priority::Order,
    }
}

impl BinanceTrading {
    fn spot(&self) -> bool {
        self.market == Market::Spot
    }

    fn path(&self, spot: &str, usdm: &str) -> String {
        if self.spot() { spot } else { usdm }.to_owned()
    }

    fn fields<'a>(&self, value: &'a Value) -> Fields<'a> {
        Fields::new(Venue::Binance, value)
    }

    fn named(request: Request, symbol: Symbol, which: &OrderRef) -> Request {
        let request = request.param("symbol", symbol);
        match which {
            OrderRef::OrderId(id) => request.param("orderId", id),
            OrderRef::ClientOrderId(id) => request.param("origClientOrderId", id),
        }
    }

    /// One order object of any answer (place RESULT/FULL, cancel, query, open orders).
    fn order(&self, value: &Value) -> Result<Order> {
        let f = self.fields(value);
        let position_side = leg(f, "positionSide")?;
        let word = f.text("status")?;
        let status = order_status(word).ok_or_else(|| f.bad(format!("order status {word:?}")))?;
        let side = side_of(f, "side")?;
        let kind = f.text("type")?;
        let Some((order_type, trigger_kind)) = order_kind(kind, self.market) else {
            return Err(f.bad(format!("order type {kind:?} is not one we place")));
        };
        // A trailing stop: spot's `trailingDelta` (BIPS), USD-M's `priceRate` and activation.
        let rate = match bips_rate(f.opt_decimal("trailingDelta")?) {
            Some(r) => Some(r),
            None => f.opt_decimal("priceRate")?,
        };
        // USD-M: "stopPrice: please ignore when order type is TRAILING_STOP_MARKET" (its
        // activation is `activatePrice`); spot's trailing stop activates at `stopPrice`.
        let stop = match f.opt_decimal("stopPrice")?.filter(|p| !p.is_zero()) {
            Some(p) if kind != "TRAILING_STOP_MARKET" => Some(p),
            _ => f.opt_decimal("activatePrice")?,
        };
        let trigger = trigger_of(trigger_kind, side, stop, rate, TriggerBy::Last);
        // A spot stop order not yet triggered is NEW and not working (`isWorking` false, or a
        // `workingTime` of -1 in a placement's answer).
        let waiting =
            f.opt_bool("isWorking") == Some(false) || f.opt_int("workingTime")? == Some(-1);
        let status = if trigger.is_some() && status == OrderStatus::New && waiting {
            OrderStatus::Untriggered
        } else {
            status
        };
        let time_in_force = time_in_force(f, "timeInForce", kind, order_type)?;
        let filled_qty = f.decimal("executedQty")?;
        // Spot reports the quote spent (`cummulativeQuoteQty`, sic), USD-M an average price.
        let avg_price = if filled_qty.is_zero() {
            None
        } else if let Some(cum) = f.opt_decimal("cummulativeQuoteQty")? {
            // Extreme wire values must not panic the division.
            let avg = cum.checked_div(filled_qty);
            Some(
                avg.ok_or_else(|| f.bad(format!("{cum}/{filled_qty}")))?
                    .normalize(),
            )
        } else {
            f.opt_decimal("avgPrice")?.filter(|p| !p.is_zero())
        };
        // A cancel's answer names the cancel itself `clientOrderId`; the order's is `origClientOrderId`.
        let client_order_id = match f.opt_text("origClientOrderId") {
            Some(id) => Id::new(id),
            None => f.id("clientOrderId")?,
        };
        let created = f
            .opt_int("time")?
            .or(f.opt_int("transactTime")?)
            .unwrap_or(0);
        Ok(Order {
            source: Source {
                venue: Venue::Binance,
                market: self.market,
            },
            symbol: f.symbol("symbol")?,
            order_id: f.id("orderId")?,
            client_order_id,
            side,
            order_type,
            time_in_force,
            price: f.opt_decimal("price")?.filter(|p| !p.is_zero()),
            qty: f.opt_decimal("origQty")?.filter(|q| !q.is_zero()),
            quote_qty: f.opt_decimal("origQuoteOrderQty")?.filter(|q| !q.is_zero()),
            filled_qty,
            avg_price,
            status,
            reduce_only: PositionSide::reduces(
                position_side,
                side,
                f.opt_bool("reduceOnly").unwrap_or(false),
            ),
            position_side,
            trigger,
            created_time_ms: created,
            updated_time_ms: f
                .opt_int("updateTime")?
                .or(f.opt_int("transactTime")?)
                .unwrap_or(created),
            reject_reason: None,
            parent_client_order_id: None,
            stop_loss: None,
            take_profit: None,
        })
    }

    /// A conditional USD-M order: the algo service's `POST /fapi/v1/algoOrder`.
    fn place_algo(&self, order: &NewOrder, trigger: Trigger) -> Request {
        let kind = trigger
            .direction
            .map_or(TriggerKind::Stop, |d| TriggerKind::of(d, order.side));
        let word = match trigger.trailing {
            Some(_) => "TRAILING_STOP_MARKET",
            None => algo_kind(order.order_type, kind),
        };
        let mut r = write(Method::Post, "/fapi/v1/algoOrder")
            .param("algoType", "CONDITIONAL")
            .param("symbol", order.symbol)
            .param("side", order.side.as_str())
            .param("type", word)
            .param("clientAlgoId", &order.client_order_id);
        r = match trigger.trailing {
            // Percent ("1" is 1%); active from the latest price unless an activation is given.
            Some(rate) => {
                let r = r.param("callbackRate", text(rate));
                if trigger.price.is_zero() {
                    r
                } else {
                    r.param("activatePrice", text(trigger.price))
                }
            }
            None => r.param("triggerPrice", text(trigger.price)),
        };
        r = r.param(
            "workingType",
            if trigger.by == TriggerBy::Mark {
                "MARK_PRICE"
            } else {
                "CONTRACT_PRICE"
            },
        );
        if order.order_type == OrderType::Limit {
            r = r.param("timeInForce", tif_word(order));
        }
        if order.close_position {
            // Closes the whole position: no quantity, and `reduceOnly` is refused beside it.
            r = r.param("closePosition", "true");
            return match order.position_side {
                Some(leg) => r.param("positionSide", leg.as_str()),
                None => r,
            };
        }
        terms(r, order)
    }

    /// One order of a query or listing answer, whichever service it is of.
    fn listed(&self, value: &Value) -> Result<Option<Order>> {
        if is_algo(value) {
            algo_order(self.market, self.fields(value), &ALGO_ANSWER, 0)
        } else {
            self.order(value).map(Some)
        }
    }

    /// A batch answer: one order object or `{"code", "msg"}` refusal per item, in order.
    fn items(
        &self,
        answer: &Value,
        n: usize,
        read: impl Fn(&Value) -> Result<Written>,
    ) -> Result<Vec<Result<Written>>> {
        let f = self.fields(answer);
        let list = answer
            .as_array()
            .filter(|l| l.len() == n)
            .ok_or_else(|| f.bad(format!("a batch answer of {n} items expected")))?;
        Ok(list
            .iter()
            .map(|item| match item.get("code").and_then(Value::as_i64) {
                Some(code) if item.get("orderId").is_none() => {
                    let message = item.get("msg").and_then(Value::as_str).unwrap_or("");
                    Err(super::rest::refusal(crate::error::VenueReply {
                        venue: Venue::Binance,
                        code: Some(code),
                        message: crate::error::snippet(message),
                        http_status: None,
                        request: None,
                    }))
                }
                _ => read(item),
            })
            .collect())
    }

    fn fills(&self, order: &Order, value: &Value) -> Result<Vec<Fill>> {
        let f = self.fields(value);
        let Some(list) = f.get("fills").and_then(Value::as_array) else {
            return Ok(Vec::new());
        };
        // The FULL answer's fills are the taker side of this order's own request.
        list.iter()
            .map(|item| fill(order, f.at(item), FULL_FILL, false, order.updated_time_ms))
            .collect()
    }
}

/// What an order-type word means: the type the order trades as, and the trigger kind of a
/// conditional type (spot `STOP_LOSS[_LIMIT]`, `TAKE_PROFIT[_LIMIT]`, trailing with a
/// `trailingDelta`; USD-M `STOP[_MARKET]`, `TAKE_PROFIT[_MARKET]`, `TRAILING_STOP_MARKET`, the
/// algo service's). `None`: a type we do not read. The same word differs: spot's
/// `TAKE_PROFIT` is a market order, USD-M's a limit one.
pub(super) fn order_kind(word: &str, market: Market) -> Option<(OrderType, Option<TriggerKind>)> {
    let spot = market == Market::Spot;
    Some(match word {
        "LIMIT" | "LIMIT_MAKER" => (OrderType::Limit, None),
        "MARKET" => (OrderType::Market, None),
        "STOP_LOSS" if spot => (OrderType::Market, Some(TriggerKind::Stop)),
        "STOP_LOSS_LIMIT" if spot => (OrderType::Limit, Some(TriggerKind::Stop)),
        "TAKE_PROFIT" if spot => (OrderType::Market, Some(TriggerKind::TakeProfit)),
        "TAKE_PROFIT_LIMIT" if spot => (OrderType::Limit, Some(TriggerKind::TakeProfit)),
        "STOP" => (OrderType::Limit, Some(TriggerKind::Stop)),
        "STOP_MARKET" => (OrderType::Market, Some(TriggerKind::Stop)),
        "TAKE_PROFIT" => (OrderType::Limit, Some(TriggerKind::TakeProfit)),
        "TAKE_PROFIT_MARKET" => (OrderType::Market, Some(TriggerKind::TakeProfit)),
        "TRAILING_STOP_MARKET" if !spot => (OrderType::Market, Some(TriggerKind::Stop)),
        _ => return None,
    })
}

/// A conditional order's trigger as reported: `price` its stop price (a trailing stop's
/// activation price, 0 or absent when active from placement), `rate` a trailing stop's callback
/// rate in percent. `None`: no trigger known (no price, no rate).
pub(super) fn trigger_of(
    kind: Option<TriggerKind>,
    side: Side,
    price: Option<Decimal>,
    rate: Option<Decimal>,
    by: TriggerBy,
) -> Option<Trigger> {
    let kind = kind?;
    let trailing = rate.filter(|r| !r.is_zero());
    let price = match (price.filter(|p| !p.is_zero()), trailing) {
        (Some(p), _) => p,
        (None, Some(_)) => Decimal::ZERO,
        (None, None) => return None,
    };
    Some(Trigger {
        price,
        direction: Some(kind.direction(side)),
        by,
        trailing,
    })
}

/// Spot's `trailingDelta` (BIPS: 100 = 1%) as a callback rate in percent.
pub(super) fn bips_rate(bips: Option<Decimal>) -> Option<Decimal> {
    bips.and_then(|b| b.checked_div(Decimal::ONE_HUNDRED))
        .map(|r| r.normalize())
}

/// A LIMIT order's `timeInForce` word.
fn tif_word(order: &NewOrder) -> &'static str {
    match order.effective_tif() {
        Some(TimeInForce::PostOnly) => "GTX",
        Some(TimeInForce::Ioc) => "IOC",
        Some(TimeInForce::Fok) => "FOK",
        _ => "GTC",
    }
}

/// The quantity, price and leg of a new order, as both order services take them.
fn terms(mut r: Request, order: &NewOrder) -> Request {
    if let Some(qty) = order.qty {
        r = r.param("quantity", text(qty));
    }
    if let Some(price) = order.price {
        r = r.param("price", text(price));
    }
    // A hedge-mode order names its leg; the venue refuses `reduceOnly` beside it (an order
    // closing its leg reduces by itself).
    match order.position_side {
        Some(leg) => r.param("positionSide", leg.as_str()),
        None if order.reduce_only => r.param("reduceOnly", "true"),
        None => r,
    }
}

/// An algo-service request naming one order (`algoId`, or `clientAlgoId`: the order's client id).
fn algo_named(request: Request, which: &OrderRef) -> Request {
    match which {
        OrderRef::OrderId(id) => request.param("algoId", id),
        OrderRef::ClientOrderId(id) => request.param("clientAlgoId", id),
    }
}

/// The USD-M algo-service type word of a conditional order.
fn algo_kind(order_type: OrderType, kind: TriggerKind) -> &'static str {
    match (order_type, kind) {
        (OrderType::Limit, TriggerKind::Stop) => "STOP",
        (OrderType::Market, TriggerKind::Stop) => "STOP_MARKET",
        (OrderType::Limit, TriggerKind::TakeProfit) => "TAKE_PROFIT",
        (OrderType::Market, TriggerKind::TakeProfit) => "TAKE_PROFIT_MARKET",
    }
}

/// A `timeInForce` word as an order's time in force (`GTX` is post-only); none on a market order.
fn time_in_force(
    f: Fields<'_>,
    key: &str,
    word: &str,
    order_type: OrderType,
) -> Result<Option<TimeInForce>> {
    Ok(match (word, f.opt_text(key)) {
        ("LIMIT_MAKER", _) | (_, Some("GTX")) => Some(TimeInForce::PostOnly),
        _ if order_type == OrderType::Market => None,
        (_, Some(w)) => Some(w.parse().map_err(|_| f.bad(format!("{key} {w:?}")))?),
        (_, None) => None,
    })
}

fn side_of(f: Fields<'_>, key: &str) -> Result<Side> {
    match f.text(key)? {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(f.bad(format!("{key} {other:?}"))),
    }
}

/// Field names of an algo-service order (USD-M conditional orders): its REST answers and its
/// `ALGO_UPDATE` events name them apart.
pub(super) struct AlgoKeys {
    client: &'static str,
    algo_id: &'static str,
    /// The type, under the first of these names present.
    kind: &'static [&'static str],
    symbol: &'static str,
    side: &'static str,
    leg: &'static str,
    tif: &'static str,
    qty: &'static str,
    status: &'static str,
    /// The id of the order it became once triggered (empty before).
    actual_id: &'static str,
    trigger: &'static str,
    price: &'static str,
    working: &'static str,
    reduce_only: &'static str,
    /// Whether it closes the whole position (no quantity of its own).
    close: &'static str,
    /// The executed quantity and its average price, where reported.
    filled: Option<(&'static str, &'static str)>,
    /// A trailing stop's callback rate and activation price, where reported.
    callback: Option<&'static str>,
    activation: Option<&'static str>,
    reason: Option<&'static str>,
    created: Option<&'static str>,
    updated: Option<&'static str>,
}

/// The REST answers' names (the docs name the type `orderType`; some answers `type`).
pub(super) const ALGO_ANSWER: AlgoKeys = AlgoKeys {
    client: "clientAlgoId",
    algo_id: "algoId",
    kind: &["orderType", "type"],
    symbol: "symbol",
    side: "side",
    leg: "positionSide",
    tif: "timeInForce",
    qty: "quantity",
    status: "algoStatus",
    actual_id: "actualOrderId",
    trigger: "triggerPrice",
    price: "price",
    working: "workingType",
    reduce_only: "reduceOnly",
    close: "closePosition",
    filled: None,
    callback: Some("callbackRate"),
    activation: Some("activatePrice"),
    reason: None,
    created: Some("createTime"),
    updated: Some("updateTime"),
};

/// `ALGO_UPDATE`'s names (its time is the event's `T`).
pub(super) const ALGO_EVENT: AlgoKeys = AlgoKeys {
    client: "caid",
    algo_id: "aid",
    kind: &["o"],
    symbol: "s",
    side: "S",
    leg: "ps",
    tif: "f",
    qty: "q",
    status: "X",
    actual_id: "ai",
    trigger: "tp",
    price: "p",
    working: "wt",
    reduce_only: "R",
    close: "cp",
    filled: Some(("aq", "ap")),
    callback: Some("cr"),
    activation: None,
    reason: Some("rm"),
    created: None,
    updated: None,
};

/// An algo-service order as the one order lifecycle reads it: NEW is UNTRIGGERED, TRIGGERING
/// and TRIGGERED are TRIGGERED, and its venue id becomes the triggered order's once there is
/// one (the triggered order keeps the client id, so its own events continue the same order).
/// `None`: a type we do not read (trailing stops), or an event's FINISHED short of filled (the
/// triggered order's own events say how it ended).
pub(super) fn algo_order(
    market: Market,
    f: Fields<'_>,
    keys: &AlgoKeys,
    at: i64,
) -> Result<Option<Order>> {
    let word = keys
        .kind
        .iter()
        .find_map(|k| f.opt_text(k))
        .ok_or_else(|| f.bad("an algo order without its type"))?;
    let Some((order_type, Some(kind))) = order_kind(word, market) else {
        return Ok(None);
    };
    let side = side_of(f, keys.side)?;
    let position_side = leg(f, keys.leg)?;
    let qty = f.opt_decimal(keys.qty)?.filter(|q| !q.is_zero());
    let (filled_qty, avg_price) = match keys.filled {
        Some((q, p)) => (
            f.opt_decimal(q)?.unwrap_or(Decimal::ZERO),
            f.opt_decimal(p)?.filter(|p| !p.is_zero()),
        ),
        None => (Decimal::ZERO, None),
    };
    let status = match f.text(keys.status)? {
        "NEW" => OrderStatus::Untriggered,
        "TRIGGERING" | "TRIGGERED" => OrderStatus::Triggered,
        "CANCELED" => OrderStatus::Canceled,
        "EXPIRED" => OrderStatus::Expired,
        "REJECTED" => OrderStatus::Rejected,
        "FINISHED" if keys.filled.is_none() => OrderStatus::Triggered,
        "FINISHED" if qty.is_some_and(|q| q > Decimal::ZERO && filled_qty >= q) => {
            OrderStatus::Filled
        }
        "FINISHED" => return Ok(None),
        other => return Err(f.bad(format!("{} {other:?}", keys.status))),
    };
    let order_id = match f.opt_text(keys.actual_id).filter(|id| !id.is_empty()) {
        Some(actual) => Id::new(actual),
        None => f.id(keys.algo_id)?,
    };
    let by = match f.opt_text(keys.working) {
        Some("MARK_PRICE") => TriggerBy::Mark,
        _ => TriggerBy::Last,
    };
    let created = match keys.created {
        Some(k) => f.opt_int(k)?.unwrap_or(0),
        None => 0,
    };
    let updated = match keys.updated {
        Some(k) => f.opt_int(k)?.unwrap_or(at),
        None => at,
    };
    let ended = matches!(status, OrderStatus::Rejected | OrderStatus::Expired);
    Ok(Some(Order {
        source: Source {
            venue: Venue::Binance,
            market,
        },
        symbol: f.symbol(keys.symbol)?,
        order_id,
        client_order_id: f.id(keys.client)?,
        side,
        order_type,
        time_in_force: time_in_force(f, keys.tif, word, order_type)?,
        price: f.opt_decimal(keys.price)?.filter(|p| !p.is_zero()),
        qty,
        quote_qty: None,
        filled_qty,
        avg_price: avg_price.filter(|_| !filled_qty.is_zero()),
        status,
        reduce_only: PositionSide::reduces(
            position_side,
            side,
            f.opt_bool(keys.reduce_only).unwrap_or(false) || f.opt_bool(keys.close) == Some(true),
        ),
        position_side,
        trigger: if word == "TRAILING_STOP_MARKET" {
            // A trailing stop's rate is in the REST answer; an event may not say it (the state
            // machine keeps the trigger known, so none is better than a wrong one).
            let rate = keys
                .callback
                .map(|k| f.opt_decimal(k))
                .transpose()?
                .flatten();
            let activation = keys
                .activation
                .map(|k| f.opt_decimal(k))
                .transpose()?
                .flatten();
            let price = activation.or(f.opt_decimal(keys.trigger)?);
            rate.and_then(|r| trigger_of(Some(kind), side, price, Some(r), by))
        } else {
            Some(Trigger {
                price: f.decimal(keys.trigger)?,
                direction: Some(kind.direction(side)),
                by,
                trailing: None,
            })
        },
        created_time_ms: created,
        updated_time_ms: updated.max(created),
        reject_reason: keys
            .reason
            .filter(|_| ended)
            .and_then(|k| f.opt_text(k))
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
        parent_client_order_id: None,
        stop_loss: None,
        take_profit: None,
    }))
}

/// Whether an answer is of the algo service (it names orders by `algoId`).
fn is_algo(value: &Value) -> bool {
    value.get("algoId").is_some() && value.get("orderId").is_none()
}

/// A USD-M order's or position's `positionSide` (`key`): BOTH (one-way mode, or absent on
/// spot) is no leg.
pub(super) fn leg(f: Fields<'_>, key: &str) -> Result<Option<PositionSide>> {
    match f.opt_text(key) {
        None | Some("BOTH") => Ok(None),
        Some("LONG") => Ok(Some(PositionSide::Long)),
        Some("SHORT") => Ok(Some(PositionSide::Short)),
        Some(other) => Err(f.bad(format!("{key} {other:?}"))),
    }
}

/// Field names of one execution: trade id, price, quantity, fee, fee asset.
pub(super) type FillKeys = [&'static str; 5];
const FULL_FILL: FillKeys = ["tradeId", "price", "qty", "commission", "commissionAsset"];
const MY_TRADE: FillKeys = ["id", "price", "qty", "commission", "commissionAsset"];

/// One execution of `order`, its fields named by `keys` (answers and events name them apart).
pub(super) fn fill(
    order: &Order,
    g: Fields<'_>,
    keys: FillKeys,
    is_maker: bool,
    at: i64,
) -> Result<Fill> {
    let [id, price, qty, fee, asset] = keys;
    Ok(Fill {
        source: order.source,
        symbol: order.symbol,
        order_id: order.order_id.clone(),
        client_order_id: order.client_order_id.clone(),
        trade_id: g.id(id)?,
        side: order.side,
        price: g.decimal(price)?,
        qty: g.decimal(qty)?,
        fee: g.decimal(fee)?,
        // Events name no asset (null) for executions without a fee.
        fee_asset: g.opt_text(asset).unwrap_or_default().to_owned(),
        is_maker,
        exchange_time_ms: at,
    })
}

impl Trading for BinanceTrading {
    fn names_a_filter(&self, error: &crate::Error) -> bool {
        matches!(error, crate::Error::InvalidOrder { rule, reply: Some(_), .. }
            if matches!(rule.as_str(), "-1013" | "-1111" | "-4014" | "-4164"))
    }

    /// Spot stops watch the last price; USD-M's the contract (last) or the mark price.
    fn trigger_prices(&self) -> &'static [TriggerBy] {
        if self.spot() {
            &[TriggerBy::Last]
        } else {
            &[TriggerBy::Last, TriggerBy::Mark]
        }
    }

    /// Spot's `trailingDelta` is whole BIPS (its bounds are the symbol's TRAILING_DELTA
    /// filter, the venue's to judge); USD-M's `callbackRate` is 0.1 to 10 (%).
    fn callback_rates(&self) -> Option<(Decimal, Option<Decimal>, Option<Decimal>)> {
        Some(if self.spot() {
            (Decimal::new(1, 2), None, Some(Decimal::new(1, 2)))
        } else {
            (Decimal::new(1, 1), Some(Decimal::TEN), None)
        })
    }

    /// USD-M's batch endpoint takes no conditional order (they are the algo service's).
    fn batch_takes(&self, order: &NewOrder) -> bool {
        self.spot() || order.trigger.is_none()
    }

    fn place(&self, order: &NewOrder) -> Request {
        if !self.spot()
            && let Some(trigger) = order.trigger
        {
            return self.place_algo(order, trigger);
        }
        let mut r = write(Method::Post, &self.path("/api/v3/order", "/fapi/v1/order"))
            .param("symbol", order.symbol)
            .param("side", order.side.as_str())
            .param("newClientOrderId", &order.client_order_id);
        let trigger = order
            .trigger
            .and_then(|t| Some((t.price, TriggerKind::of(t.direction?, order.side))));
        let kind = match (order.order_type, trigger.map(|(_, k)| k)) {
            (OrderType::Limit, Some(TriggerKind::Stop)) => "STOP_LOSS_LIMIT",
            (OrderType::Limit, Some(TriggerKind::TakeProfit)) => "TAKE_PROFIT_LIMIT",
            (OrderType::Market, Some(TriggerKind::Stop)) => "STOP_LOSS",
            (OrderType::Market, Some(TriggerKind::TakeProfit)) => "TAKE_PROFIT",
            (OrderType::Limit, None) if order.post_only && self.spot() => "LIMIT_MAKER",
            (OrderType::Limit, None) => "LIMIT",
            (OrderType::Market, None) => "MARKET",
        };
        r = r.param("type", kind);
        if let Some((price, _)) = trigger.filter(|(p, _)| !p.is_zero()) {
            r = r.param("stopPrice", text(price));
        }
        if let Some(rate) = order.trigger.and_then(|t| t.trailing) {
            // BIPS: 100 is 1% (the rate's step is checked as 0.01%).
            if let Some(bips) = rate.checked_mul(Decimal::ONE_HUNDRED) {
                r = r.param("trailingDelta", text(bips));
            }
        }
        if kind.ends_with("LIMIT") {
            r = r.param("timeInForce", tif_word(order));
        }
        if let Some(quote) = order.quote_qty {
            r = r.param("quoteOrderQty", text(quote));
        }
        r = terms(r, order);
        // FULL (spot) lists the fills made at once; USD-M's richest answer is RESULT.
        r.param(
            "newOrderRespType",
            if self.spot() { "FULL" } else { "RESULT" },
        )
    }

    fn placed(&self, answer: &Value) -> Result<Written> {
        if is_algo(answer) {
            let order = algo_order(self.market, self.fields(answer), &ALGO_ANSWER, 0)?.ok_or_else(
                || {
                    self.fields(answer)
                        .bad("an algo order of a type we did not place")
                },
            )?;
            return Ok(Written::Order(order, Vec::new()));
        }
        let order = self.order(answer)?;
        let fills = self.fills(&order, answer)?;
        Ok(Written::Order(order, fills))
    }

    fn cancel(&self, symbol: Symbol, which: &OrderRef) -> Request {
        let r = write(
            Method::Delete,
            &self.path("/api/v3/order", "/fapi/v1/order"),
        );
        Self::named(r, symbol, which)
    }

    fn canceled(&self, answer: &Value) -> Result<Written> {
        if is_algo(answer) {
            // The algo service's cancel names the order only: `{"algoId", "clientAlgoId",
            // "code": "200", "msg": "success"}`.
            return Ok(Written::Ack {
                order_id: self.fields(answer).id("algoId")?.to_string(),
            });
        }
        Ok(Written::Order(self.order(answer)?, Vec::new()))
    }

    fn cancel_untriggered(&self, _symbol: Symbol, which: &OrderRef) -> Option<Request> {
        (!self.spot()).then(|| algo_named(write(Method::Delete, "/fapi/v1/algoOrder"), which))
    }

    fn cancel_all_untriggered(&self, symbol: Symbol) -> Option<Request> {
        (!self.spot())
            .then(|| write(Method::Delete, "/fapi/v1/algoOpenOrders").param("symbol", symbol))
    }

    fn open_untriggered(&self, symbol: Option<Symbol>, _cursor: Option<&str>) -> Option<Request> {
        if self.spot() {
            return None;
        }
        let r = Request::get("/fapi/v1/openAlgoOrders").signed();
        Some(match symbol {
            Some(s) => r.param("symbol", s),
            None => r,
        })
    }

    fn amend(&self, current: &Order, qty: Decimal, price: Decimal) -> Option<Request> {
        // The algo service modifies nothing: an untriggered USD-M order is replaced or kept.
        if !self.spot()
            && matches!(
                current.status,
                OrderStatus::Untriggered | OrderStatus::Triggered
            )
        {
            return None;
        }
        let which = if current.order_id.is_empty() {
            OrderRef::ClientOrderId(current.client_order_id.clone())
        } else {
            OrderRef::OrderId(current.order_id.clone())
        };
        if self.spot() {
            // Spot amends in place only a quantity decrease (keeping the queue place); the
            // client id is sent again, else the venue would make up a new one.
            let decrease = Some(price) == current.price && current.qty.is_some_and(|q| qty < q);
            if !decrease {
                return None;
            }
            let r = write(Method::Put, "/api/v3/order/amend/keepPriority");
            return Some(
                Self::named(r, current.symbol, &which)
                    .param("newClientOrderId", &current.client_order_id)
                    .param("newQty", text(qty)),
            );
        }
        let r = write(Method::Put, "/fapi/v1/order");
        Some(
            Self::named(r, current.symbol, &which)
                .param("side", current.side.as_str())
                .param("quantity", text(qty))
                .param("price", text(price)),
        )
    }

    fn amended(&self, answer: &Value) -> Result<Written> {
        let Some(amended) = answer.get("amendedOrder") else {
            return Ok(Written::Order(self.order(answer)?, Vec::new()));
        };
        // Spot's keep-priority answer names its fields apart from every other order object.
        let mut order = amended.clone();
        if let Some(o) = order.as_object_mut() {
            for (from, to) in [
                ("qty", "origQty"),
                ("cumulativeQuoteQty", "cummulativeQuoteQty"),
            ] {
                if let Some(v) = o.get(from).cloned() {
                    o.insert(to.to_owned(), v);
                }
            }
            if let Some(t) = answer.get("transactTime") {
                o.insert("updateTime".to_owned(), t.clone());
            }
        }
        Ok(Written::Order(self.order(&order)?, Vec::new()))
    }

    /// Spot's order list: the take-profit as LIMIT_MAKER, the stop as STOP_LOSS[_LIMIT]; a
    /// SELL's take-profit is the `above` order, a BUY's the `below` one.
    fn place_oco(&self, oco: &Oco) -> Option<Request> {
        if !self.spot() {
            return None;
        }
        let (limit, stop) = match oco.side {
            Side::Sell => ("above", "below"),
            Side::Buy => ("below", "above"),
        };
        let key = |leg: &str, name: &str| format!("{leg}{name}");
        let mut r = write(Method::Post, "/api/v3/orderList/oco")
            .param("symbol", oco.symbol)
            .param("side", oco.side.as_str())
            .param("quantity", text(oco.qty))
            .param("listClientOrderId", &oco.list_client_order_id)
            .param(&key(limit, "Type"), "LIMIT_MAKER")
            .param(&key(limit, "Price"), text(oco.limit_price))
            .param(&key(limit, "ClientOrderId"), &oco.limit_client_order_id)
            .param(&key(stop, "StopPrice"), text(oco.stop_trigger))
            .param(&key(stop, "ClientOrderId"), &oco.stop_client_order_id);
        r = match oco.stop_limit_price {
            Some(price) => r
                .param(&key(stop, "Type"), "STOP_LOSS_LIMIT")
                .param(&key(stop, "Price"), text(price))
                .param(&key(stop, "TimeInForce"), "GTC"),
            None => r.param(&key(stop, "Type"), "STOP_LOSS"),
        };
        Some(r.param("newOrderRespType", "FULL"))
    }

    fn placed_oco(&self, answer: &Value) -> Result<Vec<Written>> {
        let f = self.fields(answer);
        f.array("orderReports")?
            .iter()
            .map(|report| self.placed(report))
            .collect()
    }

    fn replace(&self, which: &OrderRef, new: &NewOrder) -> Option<Request> {
        if !self.spot() {
            return None;
        }
        let mut r = self.place(new);
        r.path = "/api/v3/order/cancelReplace".to_owned();
        r = r.param("cancelReplaceMode", "STOP_ON_FAILURE");
        Some(match which {
            OrderRef::OrderId(id) => r.param("cancelOrderId", id),
            OrderRef::ClientOrderId(id) => r.param("cancelOrigClientOrderId", id),
        })
    }

    fn batch_limit(&self, batch: Batch) -> usize {
        match (self.spot(), batch) {
            (true, _) => 0,
            (false, Batch::Place | Batch::Amend) => 5,
            (false, Batch::Cancel) => 10,
        }
    }

    fn place_batch(&self, orders: &[NewOrder]) -> Option<Request> {
        if self.spot() {
            return None;
        }
        let list: Vec<Value> = orders
            .iter()
            .map(|o| {
                let fields = self.place(o).params.into_iter();
                Value::Object(fields.map(|(k, v)| (k, Value::String(v))).collect())
            })
            .collect();
        Some(
            write(Method::Post, "/fapi/v1/batchOrders")
                .param("batchOrders", Value::Array(list).to_string()),
        )
    }

    fn placed_batch(&self, answer: &Value, n: usize) -> Result<Vec<Result<Written>>> {
        self.items(answer, n, |item| self.placed(item))
    }

    fn amend_batch(&self, items: &[(Order, Decimal, Decimal)]) -> Option<Request> {
        if self.spot() {
            return None;
        }
        let list = items
            .iter()
            .map(|(current, qty, price)| {
                let fields = self.amend(current, *qty, *price)?.params.into_iter();
                Some(Value::Object(
                    fields.map(|(k, v)| (k, Value::String(v))).collect(),
                ))
            })
            .collect::<Option<Vec<Value>>>()?;
        Some(
            write(Method::Put, "/fapi/v1/batchOrders")
                .param("batchOrders", Value::Array(list).to_string()),
        )
    }

    fn amended_batch(&self, answer: &Value, n: usize) -> Result<Vec<Result<Written>>> {
        self.items(answer, n, |item| self.amended(item))
    }

    fn cancel_batch(&self, symbol: Symbol, which: &[OrderRef]) -> Option<Request> {
        if self.spot() {
            return None;
        }
        let ids: Vec<Value> = which
            .iter()
            .map(|w| match w {
                // Venue ids are numbers on Binance; a client id is text.
                OrderRef::OrderId(id) => id
                    .as_str()
                    .parse::<u64>()
                    .map_or_else(|_| Value::String(id.to_string()), Value::from),
                OrderRef::ClientOrderId(id) => Value::String(id.to_string()),
            })
            .collect();
        let key = match which.first() {
            Some(OrderRef::ClientOrderId(_)) => "origClientOrderIdList",
            _ => "orderIdList",
        };
        Some(
            write(Method::Delete, "/fapi/v1/batchOrders")
                .param("symbol", symbol)
                .param(key, Value::Array(ids).to_string()),
        )
    }

    fn canceled_batch(&self, answer: &Value, n: usize) -> Result<Vec<Result<Written>>> {
        self.items(answer, n, |item| self.canceled(item))
    }

    fn set_leverage(&self, symbol: Symbol, leverage: Decimal) -> Option<Request> {
        (!self.spot()).then(|| {
            write(Method::Post, "/fapi/v1/leverage")
                .param("symbol", symbol)
                .param("leverage", text(leverage))
        })
    }

    fn set_margin_mode(&self, symbol: Option<Symbol>, mode: MarginMode) -> Result<Option<Request>> {
        if self.spot() {
            return Ok(None);
        }
        let Some(symbol) = symbol else {
            return Err(crate::Error::invalid_argument(
                "symbol",
                "Binance USD-M sets the margin mode per symbol: name one",
            ));
        };
        let word = match mode {
            MarginMode::Cross => "CROSSED",
            MarginMode::Isolated => "ISOLATED",
            MarginMode::Portfolio => {
                return Err(crate::Error::invalid_argument(
                    "mode",
                    "Binance USD-M margin modes are CROSS and ISOLATED",
                ));
            }
        };
        Ok(Some(
            write(Method::Post, "/fapi/v1/marginType")
                .param("symbol", symbol)
                .param("marginType", word),
        ))
    }

    fn set_position_mode(
        &self,
        symbol: Option<Symbol>,
        mode: PositionMode,
    ) -> Result<Option<Request>> {
        if self.spot() {
            return Ok(None);
        }
        if symbol.is_some() {
            return Err(crate::Error::invalid_argument(
                "symbol",
                "Binance USD-M's position mode is the account's, for every symbol: give no symbol",
            ));
        }
        Ok(Some(
            write(Method::Post, "/fapi/v1/positionSide/dual").param(
                "dualSidePosition",
                if mode == PositionMode::Hedge {
                    "true"
                } else {
                    "false"
                },
            ),
        ))
    }

    fn settings(&self, symbol: Symbol) -> Vec<Request> {
        if self.spot() {
            return Vec::new();
        }
        vec![
            Request::get("/fapi/v1/symbolConfig")
                .signed()
                .param("symbol", symbol),
            Request::get("/fapi/v1/positionSide/dual").signed(),
        ]
    }

    fn settings_of(&self, symbol: Symbol, answers: &[Value]) -> Result<PositionSettings> {
        let [config, dual] = answers else {
            return Err(crate::Error::Internal("two answers expected".into()));
        };
        let f = self.fields(config);
        let item = config
            .as_array()
            .and_then(|l| {
                l.iter()
                    .find(|c| c["symbol"].as_str() == Some(symbol.as_str()))
            })
            .ok_or_else(|| f.bad(format!("symbolConfig without {symbol}")))?;
        let g = f.at(item);
        let margin_mode = match g.text("marginType")? {
            "CROSSED" | "CROSS" => MarginMode::Cross,
            "ISOLATED" => MarginMode::Isolated,
            other => return Err(g.bad(format!("marginType {other:?}"))),
        };
        let hedge = dual
            .get("dualSidePosition")
            .and_then(Value::as_bool)
            .ok_or_else(|| {
                self.fields(dual)
                    .bad("positionSide/dual without dualSidePosition")
            })?;
        Ok(PositionSettings {
            symbol,
            leverage: g.decimal("leverage")?,
            margin_mode,
            position_mode: if hedge {
                PositionMode::Hedge
            } else {
                PositionMode::OneWay
            },
        })
    }

    fn unchanged(&self, error: &crate::Error) -> bool {
        // "No need to change margin type." / "No need to change position side."
        error
            .venue_reply()
            .and_then(|r| r.code)
            .is_some_and(|c| matches!(c, -4046 | -4059))
    }

    fn replaced(&self, answer: &Value) -> Result<(Written, Written)> {
        let f = self.fields(answer);
        let canceled = f
            .get("cancelResponse")
            .ok_or_else(|| f.bad("cancel-replace without 'cancelResponse'"))?;
        let placed = f
            .get("newOrderResponse")
            .ok_or_else(|| f.bad("cancel-replace without 'newOrderResponse'"))?;
        Ok((self.canceled(canceled)?, self.placed(placed)?))
    }

    fn query(&self, symbol: Symbol, which: &OrderRef) -> Vec<Request> {
        let r = Request::get(&self.path("/api/v3/order", "/fapi/v1/order")).signed();
        vec![Self::named(r, symbol, which)]
    }

    /// A USD-M conditional order lives in the algo service until it triggers (the order it
    /// becomes keeps its client id, on the order endpoint).
    fn query_untriggered(&self, _symbol: Symbol, which: &OrderRef) -> Option<Request> {
        (!self.spot()).then(|| algo_named(Request::get("/fapi/v1/algoOrder").signed(), which))
    }

    fn queried(&self, answer: &Value) -> Result<Option<Order>> {
        self.listed(answer)
    }

    fn open_orders(&self, symbol: Option<Symbol>, _cursor: Option<&str>) -> Request {
        let r = Request::get(&self.path("/api/v3/openOrders", "/fapi/v1/openOrders")).signed();
        match symbol {
            Some(s) => r.param("symbol", s),
            None => r,
        }
    }

    fn orders_of(&self, answer: &Value) -> Result<(Vec<Order>, Option<String>)> {
        let list = answer
            .as_array()
            .ok_or_else(|| self.fields(answer).bad("open orders: not a list"))?;
        let mut orders = Vec::with_capacity(list.len());
        for item in list {
            orders.extend(self.listed(item)?);
        }
        Ok((orders, None))
    }

    fn cancel_all(&self, symbol: Symbol) -> Request {
        write(
            Method::Delete,
            &self.path("/api/v3/openOrders", "/fapi/v1/allOpenOrders"),
        )
        .param("symbol", symbol)
    }

    fn cancel_all_lists(&self) -> bool {
        self.spot()
    }

    fn all_canceled(&self, answer: &Value) -> Result<Vec<Written>> {
        // Spot lists the canceled orders (an order list as one entry with its `orderReports`);
        // USD-M only says `{"code": 200, "msg": "..."}`.
        let Some(list) = answer.as_array() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in list {
            match entry.get("orderReports").and_then(Value::as_array) {
                Some(reports) => {
                    for report in reports {
                        out.push(Written::Order(self.order(report)?, Vec::new()));
                    }
                }
                None => out.push(Written::Order(self.order(entry)?, Vec::new())),
            }
        }
        Ok(out)
    }

    fn balances(&self) -> Request {
        if self.spot() {
            Request::get("/api/v3/account")
                .signed()
                .param("omitZeroBalances", "true")
        } else {
            Request::get("/fapi/v3/balance").signed()
        }
    }

    fn balances_of(&self, answer: &Value, now_ms: i64) -> Result<Vec<Balance>> {
        let f = self.fields(answer);
        let balance = |asset: &str, free: Decimal, locked: Decimal, at: i64| Balance {
            venue: Venue::Binance,
            market: self.market,
            asset: asset.to_owned(),
            free,
            locked,
            exchange_time_ms: at,
        };
        if self.spot() {
            let at = f.opt_int("updateTime")?.unwrap_or(now_ms);
            f.array("balances")?
                .iter()
                .map(|b| {
                    let g = f.at(b);
                    Ok(balance(
                        g.text("asset")?,
                        g.decimal("free")?,
                        g.decimal("locked")?,
                        at,
                    ))
                })
                .collect()
        } else {
            let list = answer
                .as_array()
                .ok_or_else(|| f.bad("balance: not a list"))?;
            list.iter()
                .map(|b| {
                    let g = f.at(b);
                    let wallet = g.decimal("balance")?;
                    let free = g.decimal("availableBalance")?;
                    let at = g.opt_int("updateTime")?.unwrap_or(now_ms);
                    // What is not available is held by orders and positions.
                    Ok(balance(
                        g.text("asset")?,
                        free,
                        wallet
                            .checked_sub(free)
                            .ok_or_else(|| g.bad(format!("balance {wallet} - {free}")))?
                            .max(Decimal::ZERO),
                        at,
                    ))
                })
                .filter(|b| !matches!(b, Ok(b) if b.total().is_zero()))
                .collect()
        }
    }

    fn positions(&self, symbol: Option<Symbol>) -> Option<Request> {
        if self.spot() {
            return None;
        }
        let r = Request::get("/fapi/v3/positionRisk").signed();
        Some(match symbol {
            Some(s) => r.param("symbol", s),
            None => r,
        })
    }

    fn position_extras(&self, symbol: Option<Symbol>) -> Option<Request> {
        // positionRisk v3 has no leverage: it is in symbolConfig (DESIGN decision 9).
        if self.spot() {
            return None;
        }
        let r = Request::get("/fapi/v1/symbolConfig").signed();
        Some(match symbol {
            Some(s) => r.param("symbol", s),
            None => r,
        })
    }

    fn trades(&self, symbol: Symbol, order_id: &Id) -> Request {
        Request::get(&self.path("/api/v3/myTrades", "/fapi/v1/userTrades"))
            .signed()
            .param("symbol", symbol)
            .param("orderId", order_id)
    }

    fn trades_of(&self, answer: &Value, order: &Order) -> Result<Vec<Fill>> {
        let f = self.fields(answer);
        let list = answer
            .as_array()
            .ok_or_else(|| f.bad("trades: not a list"))?;
        list.iter()
            .map(|t| {
                let g = f.at(t);
                // Spot says `isMaker`, USD-M `maker`.
                let maker = g
                    .opt_bool("isMaker")
                    .or(g.opt_bool("maker"))
                    .unwrap_or(false);
                fill(order, g, MY_TRADE, maker, g.opt_int("time")?.unwrap_or(0))
            })
            .collect()
    }

    /// 1000 a page; spot asks for 24 hours at most at a time, USD-M for less than 7 days.
    fn history_paging(&self, _listing: Listing) -> Paging {
        Paging {
            max: 1000,
            window_ms: Some(if self.spot() {
                86_400_000
            } else {
                7 * 86_400_000
            }),
            cursor: false,
        }
    }

    /// `myTrades` / `userTrades` by `fromId`, `allOrders` by `orderId` (orders from it on).
    fn history_request(&self, listing: Listing, symbol: Symbol, query: &PageQuery<'_>) -> Request {
        let (path, id_key) = match listing {
            Listing::Orders => (
                self.path("/api/v3/allOrders", "/fapi/v1/allOrders"),
                "orderId",
            ),
            _ => (
                self.path("/api/v3/myTrades", "/fapi/v1/userTrades"),
                "fromId",
            ),
        };
        let request = Request::get(&path).signed().param("symbol", symbol);
        super::windowed(request, id_key, query)
    }

    /// `[{symbol, id, orderId, price, qty, commission, commissionAsset, time, ...}]`: spot
    /// says `isBuyer` and `isMaker`, USD-M `side` (and `buyer`) and `maker`. Neither names the
    /// order's client id.
    fn fills_of(&self, answer: &Value) -> Result<(Vec<Fill>, Option<String>)> {
        let f = self.fields(answer);
        let list = answer
            .as_array()
            .ok_or_else(|| f.bad("trades: not a list"))?;
        let source = Source {
            venue: Venue::Binance,
            market: self.market,
        };
        let fills = list
            .iter()
            .map(|t| {
                let g = f.at(t);
                let side = match (
                    g.opt_text("side"),
                    g.opt_bool("isBuyer").or(g.opt_bool("buyer")),
                ) {
                    (Some(_), _) => side_of(g, "side")?,
                    (None, Some(true)) => Side::Buy,
                    (None, Some(false)) => Side::Sell,
                    (None, None) => return Err(g.bad("a trade without its side")),
                };
                let [id, price, qty, fee, asset] = MY_TRADE;
                Ok(Fill {
                    source,
                    symbol: g.symbol("symbol")?,
                    order_id: g.id("orderId")?,
                    client_order_id: Id::default(),
                    trade_id: g.id(id)?,
                    side,
                    price: g.decimal(price)?,
                    qty: g.decimal(qty)?,
                    fee: g.decimal(fee)?,
                    fee_asset: g.opt_text(asset).unwrap_or_default().to_owned(),
                    is_maker: g
                        .opt_bool("isMaker")
                        .or(g.opt_bool("maker"))
                        .unwrap_or(false),
                    exchange_time_ms: g.int("time")?,
                })
            })
            .collect::<Result<Vec<Fill>>>()?;
        Ok((fills, None))
    }

    fn positions_of(&self, answer: &Value, extras: Option<&Value>) -> Result<Vec<Position>> {
        let f = self.fields(answer);
        let list = answer
            .as_array()
            .ok_or_else(|| f.bad("positionRisk: not a list"))?;
        let leverage_of = |symbol: &str| -> Result<Option<Decimal>> {
            let Some(configs) = extras.and_then(Value::as_array) else {
                return Ok(None);
            };
            match configs
                .iter()
                .find(|c| c.get("symbol").and_then(Value::as_str) == Some(symbol))
            {
                Some(c) => f.at(c).opt_decimal("leverage"),
                None => Ok(None),
            }
        };
        // Hedge mode lists a symbol's LONG and SHORT legs and may list an empty BOTH beside
        // them: that one is no position.
        let word = |p: &Value, key: &str| p.get(key).and_then(Value::as_str).map(str::to_owned);
        let legged: std::collections::HashSet<Option<String>> = list
            .iter()
            .filter(|p| !matches!(word(p, "positionSide").as_deref(), None | Some("BOTH")))
            .map(|p| word(p, "symbol"))
            .collect();
        list.iter()
            .filter(|p| {
                let one_way = matches!(word(p, "positionSide").as_deref(), None | Some("BOTH"));
                let empty = f.at(p).decimal("positionAmt").is_ok_and(|a| a.is_zero());
                !(one_way && empty && legged.contains(&word(p, "symbol")))
            })
            .map(|p| {
                let g = f.at(p);
                let symbol = g.text("symbol")?;
                let amount = g.decimal("positionAmt")?;
                let side = if amount.is_zero() {
                    PositionSide::Flat
                } else if amount.is_sign_positive() {
                    PositionSide::Long
                } else {
                    PositionSide::Short
                };
                let leverage = match g.opt_decimal("leverage")? {
                    Some(l) => l,
                    None => leverage_of(symbol)?.ok_or_else(|| {
                        f.bad(format!(
                            "no leverage for {symbol} in positionRisk or symbolConfig"
                        ))
                    })?,
                };
                Ok(Position {
                    source: Source {
                        venue: Venue::Binance,
                        market: self.market,
                    },
                    symbol: g.symbol("symbol")?,
                    side,
                    position_side: leg(g, "positionSide")?,
                    size: amount.abs(),
                    entry_price: g.decimal("entryPrice")?,
                    unrealized_pnl: g.decimal("unRealizedProfit")?,
                    leverage,
                    liquidation_price: g.opt_decimal("liquidationPrice")?.filter(|p| !p.is_zero()),
                    mark_price: g.opt_decimal("markPrice")?,
                    realized_pnl: None,
                    initial_margin: g.opt_decimal("initialMargin")?,
                    maintenance_margin: g.opt_decimal("maintMargin")?,
                    exchange_time_ms: g.opt_int("updateTime")?.unwrap_or(0),
                    stop_loss: None,
                    take_profit: None,
                    trailing_stop: None,
                })
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_maps() {
        // PROTOCOLS.md 6.1 (spot) and 6.2 (USD-M).
        let words = [
            "NEW",
            "PENDING_NEW",
            "PARTIALLY_FILLED",
            "FILLED",
            "CANCELED",
            "PENDING_CANCEL",
            "REJECTED",
            "EXPIRED",
            "EXPIRED_IN_MATCH",
        ];
        for word in words {
            assert_eq!(order_status(word).map(|s| s.as_str()), Some(word));
        }
        assert_eq!(order_status("SOMETHING_NEW"), None);
    }

    #[test]
    fn an_extreme_average_in_an_answer_is_a_typed_error_not_a_panic() {
        // A real-shaped spot order answer with cummulativeQuoteQty / executedQty past range.
        let answer: Value = serde_json::from_str(
            r#"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP","transactTime":1507725176595,"price":"0.10000000","origQty":"10.00000000","executedQty":"0.0000000000000000000000000001","cummulativeQuoteQty":"79228162514264337593543950335","status":"PARTIALLY_FILLED","timeInForce":"GTC","type":"LIMIT","side":"SELL"}"#,
        )
        .unwrap();
        let trading = BinanceTrading {
            market: Market::Spot,
        };
        let outcome = std::panic::catch_unwind(|| trading.order(&answer));
        assert!(
            matches!(outcome, Ok(Err(crate::Error::Protocol { .. }))),
            "{outcome:?}"
        );
    }

    #[test]
    fn hedge_mode_lists_legs_and_no_empty_one_way_position() {
        // The legs of the documented ACCOUNT_UPDATE (an empty BOTH beside LONG and SHORT), as
        // positionRisk v3 writes them; ETHUSDT is one-way and flat.
        let answer: Value = serde_json::from_str(
            r#"[{"symbol":"BTCUSDT","positionSide":"BOTH","positionAmt":"0","entryPrice":"0","unRealizedProfit":"0","updateTime":1},
                {"symbol":"BTCUSDT","positionSide":"LONG","positionAmt":"20","entryPrice":"6563.6","unRealizedProfit":"2850.212","updateTime":2},
                {"symbol":"BTCUSDT","positionSide":"SHORT","positionAmt":"-10","entryPrice":"6563.8","unRealizedProfit":"-1423.156","updateTime":3},
                {"symbol":"ETHUSDT","positionSide":"BOTH","positionAmt":"0","entryPrice":"0","unRealizedProfit":"0","updateTime":4}]"#,
        )
        .unwrap();
        let configs: Value = serde_json::from_str(
            r#"[{"symbol":"BTCUSDT","leverage":7},{"symbol":"ETHUSDT","leverage":20}]"#,
        )
        .unwrap();
        let usdm = BinanceTrading {
            market: Market::Usdm,
        };
        let got: Vec<_> = usdm
            .positions_of(&answer, Some(&configs))
            .unwrap()
            .into_iter()
            .map(|p| {
                (
                    p.symbol.to_string(),
                    p.position_side,
                    p.side,
                    p.size.to_string(),
                )
            })
            .collect();
        let want = [
            (
                "BTCUSDT",
                Some(PositionSide::Long),
                PositionSide::Long,
                "20",
            ),
            (
                "BTCUSDT",
                Some(PositionSide::Short),
                PositionSide::Short,
                "10",
            ),
            ("ETHUSDT", None, PositionSide::Flat, "0"),
        ]
        .map(|(s, l, d, n)| (s.to_owned(), l, d, n.to_owned()));
        assert_eq!(got, want);
        let bad: Value = serde_json::from_str(
            r#"[{"symbol":"BTCUSDT","positionSide":"MIDDLE","positionAmt":"1","entryPrice":"1","unRealizedProfit":"0","leverage":"2"}]"#,
        )
        .unwrap();
        assert!(matches!(
            usdm.positions_of(&bad, None),
            Err(crate::Error::Protocol { .. })
        ));
    }

    #[test]
    fn a_hedge_order_names_its_leg_and_never_reduce_only() {
        let usdm = BinanceTrading {
            market: Market::Usdm,
        };
        let order = NewOrder {
            symbol: Symbol::new("BTCUSDT"),
            side: Side::Sell,
            order_type: OrderType::Market,
            qty: Some(Decimal::ONE),
            quote_qty: None,
            price: None,
            time_in_force: None,
            post_only: false,
            reduce_only: true,
            position_side: Some(PositionSide::Long),
            trigger: None,
            client_order_id: Id::new("c"),
            close_position: false,
            stop_loss: None,
            take_profit: None,
        };
        let r = usdm.place(&order);
        assert_eq!(r.param_value("positionSide"), Some("LONG"));
        assert_eq!(
            r.param_value("reduceOnly"),
            None,
            "refused beside a leg (-1106)"
        );
        let one_way = NewOrder {
            position_side: None,
            ..order
        };
        let r = usdm.place(&one_way);
        assert_eq!(r.param_value("reduceOnly"), Some("true"));
        assert_eq!(r.param_value("positionSide"), None);
    }

    fn fixture(path: &str) -> Value {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/real/");
        let text = std::fs::read_to_string(format!("{dir}{path}")).expect(path);
        serde_json::from_str(&text).expect(path)
    }

    #[test]
    fn a_usdm_conditional_order_goes_to_the_algo_service() {
        let usdm = BinanceTrading {
            market: Market::Usdm,
        };
        let order = NewOrder {
            symbol: Symbol::new("BTCUSDT"),
            side: Side::Sell,
            order_type: OrderType::Limit,
            qty: Some(Decimal::ONE),
            quote_qty: None,
            price: Some(Decimal::new(49_000, 0)),
            time_in_force: None,
            post_only: false,
            reduce_only: true,
            position_side: None,
            trigger: Some(Trigger {
                price: Decimal::new(49_500, 0),
                direction: Some(crate::model::TriggerDirection::Fall),
                by: TriggerBy::Mark,
                trailing: None,
            }),
            client_order_id: Id::new("stop-1"),
            close_position: false,
            stop_loss: None,
            take_profit: None,
        };
        let r = usdm.place(&order);
        assert_eq!(r.path, "/fapi/v1/algoOrder");
        for (key, want) in [
            ("algoType", "CONDITIONAL"),
            ("type", "STOP"),
            ("clientAlgoId", "stop-1"),
            ("triggerPrice", "49500"),
            ("workingType", "MARK_PRICE"),
            ("price", "49000"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("reduceOnly", "true"),
        ] {
            assert_eq!(r.param_value(key), Some(want), "{key}");
        }
        assert_eq!(r.param_value("newClientOrderId"), None);
        // A take-profit market order, watching the contract price.
        let tp = NewOrder {
            order_type: OrderType::Market,
            price: None,
            trigger: Some(Trigger {
                direction: Some(crate::model::TriggerDirection::Rise),
                by: TriggerBy::Last,
                ..order.trigger.unwrap()
            }),
            ..order.clone()
        };
        let r = usdm.place(&tp);
        assert_eq!(r.param_value("type"), Some("TAKE_PROFIT_MARKET"));
        assert_eq!(r.param_value("workingType"), Some("CONTRACT_PRICE"));
        assert_eq!(r.param_value("timeInForce"), None);
        assert!(
            !usdm.batch_takes(&tp),
            "the batch endpoint takes no algo order"
        );
        // Spot keeps its own stop types on the order endpoint.
        let spot = BinanceTrading {
            market: Market::Spot,
        };
        let r = spot.place(&order);
        assert_eq!(
            (r.path.as_str(), r.param_value("type")),
            ("/api/v3/order", Some("STOP_LOSS_LIMIT"))
        );
        // Cancels, listings and queries reach the algo service by its names.
        let which = OrderRef::ClientOrderId(Id::new("stop-1"));
        let cancel = usdm
            .cancel_untriggered(Symbol::new("BTCUSDT"), &which)
            .unwrap();
        assert_eq!(
            (cancel.path.as_str(), cancel.param_value("clientAlgoId")),
            ("/fapi/v1/algoOrder", Some("stop-1"))
        );
        let ask = usdm
            .query_untriggered(Symbol::new("BTCUSDT"), &OrderRef::OrderId(Id::from_u64(9)))
            .unwrap();
        assert_eq!(
            (ask.path.as_str(), ask.param_value("algoId")),
            ("/fapi/v1/algoOrder", Some("9"))
        );
        assert!(
            spot.cancel_untriggered(Symbol::new("BTCUSDT"), &which)
                .is_none()
        );
        assert!(
            spot.query_untriggered(Symbol::new("BTCUSDT"), &which)
                .is_none()
        );
        // A trailing stop: USD-M's rate in percent with its activation, no trigger price;
        // spot's in BIPS on a STOP_LOSS, its activation the stop price (none: active at once).
        let trailing = NewOrder {
            order_type: OrderType::Market,
            price: None,
            trigger: Some(Trigger {
                price: Decimal::new(51_000, 0),
                direction: Some(crate::model::TriggerDirection::Fall),
                by: TriggerBy::Last,
                trailing: Some(Decimal::new(15, 1)),
            }),
            ..order.clone()
        };
        let r = usdm.place(&trailing);
        let sent =
            ["type", "callbackRate", "activatePrice", "triggerPrice"].map(|k| r.param_value(k));
        assert_eq!(
            sent,
            [
                Some("TRAILING_STOP_MARKET"),
                Some("1.5"),
                Some("51000"),
                None
            ]
        );
        let at_once = NewOrder {
            trigger: trailing.trigger.map(|t| Trigger {
                price: Decimal::ZERO,
                ..t
            }),
            ..trailing.clone()
        };
        assert_eq!(usdm.place(&at_once).param_value("activatePrice"), None);
        let r = spot.place(&at_once);
        let sent = ["type", "trailingDelta", "stopPrice"].map(|k| r.param_value(k));
        assert_eq!(sent, [Some("STOP_LOSS"), Some("150"), None]);
        assert_eq!(
            spot.place(&trailing).param_value("stopPrice"),
            Some("51000")
        );
    }

    #[test]
    fn algo_answers_read_as_one_order_lifecycle() {
        let usdm = BinanceTrading {
            market: Market::Usdm,
        };
        // A New Algo Order answer with the fields of the official SDK's model (algoId a number, the
        // type as `orderType`).
        let placed: Value = serde_json::from_str(
            r#"{"algoId":2146760,"clientAlgoId":"6B2I9XVcJpCjqPAJ4YoFX7","algoType":"CONDITIONAL","orderType":"TAKE_PROFIT","symbol":"BNBUSDT","side":"SELL","positionSide":"BOTH","timeInForce":"GTC","quantity":"0.01","algoStatus":"NEW","triggerPrice":"750.000","price":"750.000","icebergQuantity":null,"selfTradePreventionMode":"EXPIRE_MAKER","workingType":"CONTRACT_PRICE","priceMatch":"NONE","closePosition":false,"priceProtect":false,"reduceOnly":false,"activatePrice":"","callbackRate":"","createTime":1750485492076,"updateTime":1750485492076,"triggerTime":0,"goodTillDate":0}"#,
        )
        .unwrap();
        let Written::Order(o, fills) = usdm.placed(&placed).unwrap() else {
            panic!("an order expected");
        };
        assert!(fills.is_empty());
        assert_eq!(
            (
                o.order_id.as_str(),
                o.client_order_id.as_str(),
                o.status,
                o.order_type,
                o.price.map(|p| p.to_string()),
                o.qty.map(|q| q.to_string()),
            ),
            (
                "2146760",
                "6B2I9XVcJpCjqPAJ4YoFX7",
                OrderStatus::Untriggered,
                OrderType::Limit,
                Some("750.000".to_owned()),
                Some("0.01".to_owned()),
            )
        );
        let t = o.trigger.unwrap();
        assert_eq!(
            (t.price.to_string(), t.direction, t.by),
            (
                "750.000".to_owned(),
                Some(crate::model::TriggerDirection::Rise),
                TriggerBy::Last
            )
        );
        // The cancel answers with ids only: an acknowledgement the connector looks up.
        let canceled: Value = serde_json::from_str(
            r#"{"algoId":2146760,"clientAlgoId":"6B2I9XVcJpCjqPAJ4YoFX7","code":"200","msg":"success"}"#,
        )
        .unwrap();
        assert_eq!(
            usdm.canceled(&canceled).unwrap(),
            Written::Ack {
                order_id: "2146760".into()
            }
        );
        // A listing mixes nothing: open algo orders (`type` spelled as some answers do), and a
        // triggered one names the order it became.
        let listed = fixture("binance-usdm/rest/docs-order-response.json");
        assert!(
            usdm.listed(&listed).unwrap().is_some(),
            "an ordinary order still reads"
        );
        let open: Value = serde_json::from_str(
            r#"[{"algoId":123456789,"clientAlgoId":"a-1","algoType":"CONDITIONAL","type":"STOP_MARKET","symbol":"BTCUSDT","side":"BUY","positionSide":"BOTH","timeInForce":"GTC","quantity":"0.001","algoStatus":"NEW","triggerPrice":"45000.00","workingType":"MARK_PRICE","reduceOnly":false,"createTime":1625474304765,"updateTime":1625474304765},
                {"algoId":1000000033225453,"clientAlgoId":"a-2","algoType":"CONDITIONAL","orderType":"STOP_MARKET","symbol":"ETHUSDT","side":"BUY","positionSide":"BOTH","quantity":"38","algoStatus":"TRIGGERED","triggerPrice":"0.13855","workingType":"CONTRACT_PRICE","actualOrderId":"88937381063"}]"#,
        )
        .unwrap();
        let (orders, next) = usdm.orders_of(&open).unwrap();
        assert_eq!(next, None);
        assert_eq!(
            orders
                .iter()
                .map(|o| (
                    o.order_id.as_str(),
                    o.status,
                    o.order_type,
                    o.trigger.unwrap().by
                ))
                .collect::<Vec<_>>(),
            vec![
                (
                    "123456789",
                    OrderStatus::Untriggered,
                    OrderType::Market,
                    TriggerBy::Mark
                ),
                (
                    "88937381063",
                    OrderStatus::Triggered,
                    OrderType::Market,
                    TriggerBy::Last
                ),
            ]
        );
        // A trailing stop: its rate and activation price (none: active from placement). An
        // answer without its rate names no trigger (the state machine keeps the known one).
        let trailing: Value = serde_json::from_str(
            r#"{"algoId":5,"clientAlgoId":"t","algoType":"CONDITIONAL","orderType":"TRAILING_STOP_MARKET","symbol":"BTCUSDT","side":"SELL","quantity":"1","algoStatus":"NEW","triggerPrice":"0","activatePrice":"","callbackRate":"1.5"}"#,
        )
        .unwrap();
        let t = usdm.queried(&trailing).unwrap().unwrap().trigger.unwrap();
        assert_eq!(
            (t.price, t.trailing, t.direction),
            (
                Decimal::ZERO,
                Some(Decimal::new(15, 1)),
                Some(crate::model::TriggerDirection::Fall)
            )
        );
        let bare = trailing.to_string().replace(r#","callbackRate":"1.5""#, "");
        let o = usdm
            .queried(&serde_json::from_str(&bare).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!((o.status, o.trigger), (OrderStatus::Untriggered, None));
        // An unknown status is an unreadable answer, never a guess.
        let odd = placed.to_string().replace("\"NEW\"", "\"PAUSED\"");
        assert!(matches!(
            usdm.placed(&serde_json::from_str(&odd).unwrap()),
            Err(crate::Error::Protocol { .. })
        ));
    }

    #[test]
    fn an_oco_is_one_order_list_and_reads_as_two_orders() {
        let spot = BinanceTrading {
            market: Market::Spot,
        };
        let oco = |side| Oco {
            symbol: Symbol::new("LTCBTC"),
            side,
            qty: Decimal::new(5, 0),
            limit_price: Decimal::new(3, 0),
            stop_trigger: Decimal::ONE,
            stop_limit_price: Some(Decimal::ONE),
            list_client_order_id: Id::new("list"),
            limit_client_order_id: Id::new("tp"),
            stop_client_order_id: Id::new("sl"),
        };
        let r = spot.place_oco(&oco(Side::Sell)).unwrap();
        assert_eq!(r.path, "/api/v3/orderList/oco");
        for (key, want) in [
            ("aboveType", "LIMIT_MAKER"),
            ("abovePrice", "3"),
            ("aboveClientOrderId", "tp"),
            ("belowType", "STOP_LOSS_LIMIT"),
            ("belowStopPrice", "1"),
            ("belowPrice", "1"),
            ("belowTimeInForce", "GTC"),
            ("belowClientOrderId", "sl"),
            ("listClientOrderId", "list"),
            ("quantity", "5"),
        ] {
            assert_eq!(r.param_value(key), Some(want), "{key}");
        }
        let buy = spot
            .place_oco(&Oco {
                stop_limit_price: None,
                ..oco(Side::Buy)
            })
            .unwrap();
        assert_eq!(
            (buy.param_value("belowType"), buy.param_value("aboveType")),
            (Some("LIMIT_MAKER"), Some("STOP_LOSS"))
        );
        assert!(
            BinanceTrading {
                market: Market::Usdm
            }
            .place_oco(&oco(Side::Sell))
            .is_none()
        );
        // The docs' RESULT answer: the stop waits (workingTime -1), the LIMIT_MAKER works.
        let answer: Value = serde_json::from_str(
            r#"{"orderListId":1,"contingencyType":"OCO","listStatusType":"EXEC_STARTED","listOrderStatus":"EXECUTING","listClientOrderId":"lH1YDkuQKWiXVXHPSKYEIp","transactionTime":1710485608839,"symbol":"LTCBTC","orders":[{"symbol":"LTCBTC","orderId":10,"clientOrderId":"44nZvqpemY7sVYgPYbvPih"},{"symbol":"LTCBTC","orderId":11,"clientOrderId":"NuMp0nVYnciDiFmVqfpBqK"}],"orderReports":[{"symbol":"LTCBTC","orderId":10,"orderListId":1,"clientOrderId":"44nZvqpemY7sVYgPYbvPih","transactTime":1710485608839,"price":"1.00000000","origQty":"5.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":"STOP_LOSS_LIMIT","side":"SELL","stopPrice":"1.00000000","workingTime":-1,"icebergQty":"1.00000000","selfTradePreventionMode":"NONE"},{"symbol":"LTCBTC","orderId":11,"orderListId":1,"clientOrderId":"NuMp0nVYnciDiFmVqfpBqK","transactTime":1710485608839,"price":"3.00000000","origQty":"5.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":"LIMIT_MAKER","side":"SELL","workingTime":1710485608839,"selfTradePreventionMode":"NONE"}]}"#,
        )
        .unwrap();
        let legs: Vec<(String, OrderStatus, Option<TimeInForce>, bool)> = spot
            .placed_oco(&answer)
            .unwrap()
            .into_iter()
            .map(|w| match w {
                Written::Order(o, _) => (
                    o.client_order_id.to_string(),
                    o.status,
                    o.time_in_force,
                    o.trigger.is_some(),
                ),
                Written::Ack { .. } => panic!("orders expected"),
            })
            .collect();
        assert_eq!(
            legs,
            vec![
                (
                    "44nZvqpemY7sVYgPYbvPih".into(),
                    OrderStatus::Untriggered,
                    Some(TimeInForce::Gtc),
                    true
                ),
                (
                    "NuMp0nVYnciDiFmVqfpBqK".into(),
                    OrderStatus::New,
                    Some(TimeInForce::PostOnly),
                    false
                ),
            ]
        );
        // A cancel-all answer lists an order list as one entry with both legs' reports.
        let all = serde_json::json!([answer["orderReports"][1], answer]);
        assert_eq!(spot.all_canceled(&all).unwrap().len(), 3);
    }
}
