//! Binance orders and account (spot `/api/v3`, USD-M `/fapi`): requests and their answers.

use serde_json::Value;

use crate::Result;
use crate::model::{
    Balance, Decimal, Fill, Id, MarginMode, Market, Order, OrderStatus, OrderType, Position,
    PositionMode, PositionSettings, PositionSide, Side, Source, Symbol, TimeInForce, Trigger,
    TriggerBy, TriggerKind, Venue,
};
use crate::net::{Method, Request};
use crate::orders::{NewOrder, OrderRef};
use crate::resilience::Priority;
use crate::venue::fields::Fields;
use crate::venue::{Batch, Trading, Written};

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
        let side = match f.text("side")? {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            other => return Err(f.bad(format!("side {other:?}"))),
        };
        let kind = f.text("type")?;
        let Some((order_type, trigger_kind)) = order_kind(kind, self.market) else {
            return Err(f.bad(format!("order type {kind:?} is not one we place")));
        };
        let trigger = match (trigger_kind, f.opt_decimal("stopPrice")?) {
            (Some(k), Some(price)) => Some(Trigger {
                price,
                direction: Some(k.direction(side)),
                by: TriggerBy::Last,
            }),
            _ => None,
        };
        // A spot stop order not yet triggered is NEW and not working (`isWorking` false, or a
        // `workingTime` of -1 in a placement's answer).
        let waiting =
            f.opt_bool("isWorking") == Some(false) || f.opt_int("workingTime")? == Some(-1);
        let status = if trigger.is_some() && status == OrderStatus::New && waiting {
            OrderStatus::Untriggered
        } else {
            status
        };
        let time_in_force = match (kind, f.opt_text("timeInForce")) {
            ("LIMIT_MAKER", _) | (_, Some("GTX")) => Some(TimeInForce::PostOnly),
            _ if order_type == OrderType::Market => None,
            (_, Some(word)) => Some(
                word.parse()
                    .map_err(|_| f.bad(format!("timeInForce {word:?}")))?,
            ),
            (_, None) => None,
        };
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
        })
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
/// conditional type (spot `STOP_LOSS[_LIMIT]`, `TAKE_PROFIT[_LIMIT]`). `None`: a type we do not
/// read (USD-M conditional types live in the algo service; trailing stops).
pub(super) fn order_kind(word: &str, market: Market) -> Option<(OrderType, Option<TriggerKind>)> {
    let spot = market == Market::Spot;
    Some(match word {
        "LIMIT" | "LIMIT_MAKER" => (OrderType::Limit, None),
        "MARKET" => (OrderType::Market, None),
        "STOP_LOSS" if spot => (OrderType::Market, Some(TriggerKind::Stop)),
        "STOP_LOSS_LIMIT" if spot => (OrderType::Limit, Some(TriggerKind::Stop)),
        "TAKE_PROFIT" if spot => (OrderType::Market, Some(TriggerKind::TakeProfit)),
        "TAKE_PROFIT_LIMIT" if spot => (OrderType::Limit, Some(TriggerKind::TakeProfit)),
        _ => return None,
    })
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

    /// USD-M's conditional orders go through its algo-order service, not yet spoken.
    fn places_triggers(&self) -> bool {
        self.spot()
    }

    fn place(&self, order: &NewOrder) -> Request {
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
        if let Some((price, _)) = trigger {
            r = r.param("stopPrice", text(price));
        }
        if kind.ends_with("LIMIT") {
            let tif = match order.effective_tif() {
                Some(TimeInForce::PostOnly) => "GTX",
                Some(TimeInForce::Ioc) => "IOC",
                Some(TimeInForce::Fok) => "FOK",
                _ => "GTC",
            };
            r = r.param("timeInForce", tif);
        }
        if let Some(qty) = order.qty {
            r = r.param("quantity", text(qty));
        }
        if let Some(quote) = order.quote_qty {
            r = r.param("quoteOrderQty", text(quote));
        }
        if let Some(price) = order.price {
            r = r.param("price", text(price));
        }
        // A hedge-mode order names its leg; the venue refuses `reduceOnly` beside it (an
        // order closing its leg reduces by itself).
        match order.position_side {
            Some(leg) => r = r.param("positionSide", leg.as_str()),
            None if order.reduce_only => r = r.param("reduceOnly", "true"),
            None => {}
        }
        // FULL (spot) lists the fills made at once; USD-M's richest answer is RESULT.
        r.param(
            "newOrderRespType",
            if self.spot() { "FULL" } else { "RESULT" },
        )
    }

    fn placed(&self, answer: &Value) -> Result<Written> {
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
        Ok(Written::Order(self.order(answer)?, Vec::new()))
    }

    fn amend(&self, current: &Order, qty: Decimal, price: Decimal) -> Option<Request> {
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

    fn queried(&self, answer: &Value) -> Result<Option<Order>> {
        self.order(answer).map(Some)
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
        Ok((
            list.iter().map(|o| self.order(o)).collect::<Result<_>>()?,
            None,
        ))
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
        // Spot lists the canceled orders; USD-M only says `{"code": 200, "msg": "..."}`.
        match answer.as_array() {
            Some(list) => list
                .iter()
                .filter(|o| o.get("orderListId").is_none_or(|l| l.as_i64() == Some(-1)))
                .map(|o| Ok(Written::Order(self.order(o)?, Vec::new())))
                .collect(),
            None => Ok(Vec::new()),
        }
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
}
