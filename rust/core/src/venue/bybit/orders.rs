//! Bybit v5 orders and account (categories `spot` and `linear`): requests and their answers.
//! Writes are acknowledged asynchronously: the state comes from a query or the `order` topic.

use serde_json::Value;

use crate::Result;
use crate::model::{
    Balance, Decimal, Exit, Fill, Id, MarginMode, Market, Order, OrderStatus, OrderType, Position,
    PositionMode, PositionSettings, PositionSide, Side, Source, Symbol, TimeInForce, Trigger,
    TriggerBy, TriggerDirection, Venue,
};
use crate::net::{Method, Request};
use crate::orders::{NewOrder, OrderRef, PositionExits};
use crate::resilience::Priority;
use crate::venue::fields::Fields;
use crate::venue::{Batch, Listing, PageQuery, Paging, Trading, Written};

/// Maps Bybit's `orderStatus`. `None` for a word we do not know (see the Binance twin).
pub fn order_status(word: &str) -> Option<OrderStatus> {
    Some(match word {
        "Created" => OrderStatus::PendingNew,
        "New" => OrderStatus::New,
        "PartiallyFilled" => OrderStatus::PartiallyFilled,
        "Untriggered" => OrderStatus::Untriggered,
        "Triggered" => OrderStatus::Triggered,
        "Filled" => OrderStatus::Filled,
        "Cancelled" => OrderStatus::Canceled,
        "PartiallyFilledCanceled" => OrderStatus::PartiallyFilledCanceled,
        "Rejected" => OrderStatus::Rejected,
        "Deactivated" => OrderStatus::Deactivated,
        _ => return None,
    })
}

/// Open orders a page (the venue's maximum).
const PAGE: u32 = 50;

/// A conditional order's trigger: `triggerPrice` set (0 or empty on other orders). Linear
/// says which way it waits (`triggerDirection` 1 rise, 2 fall); spot leaves it 0 and infers it
/// from the price at placement, which the REST order names (`basePrice`).
fn trigger(f: Fields<'_>) -> Result<Option<Trigger>> {
    let Some(price) = f.opt_decimal("triggerPrice")?.filter(|p| !p.is_zero()) else {
        return Ok(None);
    };
    let direction = match f.opt_int("triggerDirection")? {
        Some(1) => Some(TriggerDirection::Rise),
        Some(2) => Some(TriggerDirection::Fall),
        Some(0) | None => f
            .opt_decimal("basePrice")?
            .filter(|b| !b.is_zero() && *b != price)
            .map(|base| {
                if price > base {
                    TriggerDirection::Rise
                } else {
                    TriggerDirection::Fall
                }
            }),
        Some(other) => return Err(f.bad(format!("triggerDirection {other}"))),
    };
    let by = trigger_by(f, "triggerBy")?;
    Ok(Some(Trigger {
        price,
        direction,
        by,
        trailing: None,
    }))
}

fn trigger_by(f: Fields<'_>, key: &str) -> Result<TriggerBy> {
    Ok(match f.opt_text(key) {
        Some("MarkPrice") => TriggerBy::Mark,
        Some("IndexPrice") => TriggerBy::Index,
        Some("LastPrice" | "" | "UNKNOWN") | None => TriggerBy::Last,
        Some(other) => return Err(f.bad(format!("{key} {other:?}"))),
    })
}

fn trigger_by_word(by: TriggerBy) -> &'static str {
    match by {
        TriggerBy::Last => "LastPrice",
        TriggerBy::Mark => "MarkPrice",
        TriggerBy::Index => "IndexPrice",
    }
}

/// An entry's attached take-profit (`takeProfit`, `tpLimitPrice`, `tpTriggerBy`) or stop-loss
/// (`sl...`): none while the price is empty or 0.
fn exit(f: Fields<'_>, price: &str, limit: &str, by: &str) -> Result<Option<Exit>> {
    let Some(trigger) = f.opt_decimal(price)?.filter(|p| !p.is_zero()) else {
        return Ok(None);
    };
    Ok(Some(Exit {
        trigger,
        price: f.opt_decimal(limit)?.filter(|p| !p.is_zero()),
        by: trigger_by(f, by)?,
    }))
}

/// A position's own take-profit or stop-loss price ("0", "" or absent: none).
fn position_exit(f: Fields<'_>, key: &str) -> Result<Option<Decimal>> {
    Ok(f.opt_decimal(key)?.filter(|p| !p.is_zero()))
}

/// An order's or position's `positionIdx`: 0 (one-way mode; absent on spot) is no leg, 1 the
/// long leg, 2 the short one.
fn leg(f: Fields<'_>) -> Result<Option<PositionSide>> {
    match f.opt_int("positionIdx")? {
        None | Some(0) => Ok(None),
        Some(1) => Ok(Some(PositionSide::Long)),
        Some(2) => Ok(Some(PositionSide::Short)),
        Some(other) => Err(f.bad(format!("positionIdx {other}"))),
    }
}

#[derive(Debug, Clone, Copy)]
pub struct BybitTrading {
    pub market: Market,
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

fn write(path: &str) -> Request {
    Request {
        method: Method::Post,
        path: path.to_owned(),
        params: Vec::new(),
        signed: true,
        priority: Priority::Order,
    }
}

/// Bybit answers inside `{"retCode":0,"result":{...}}`.
fn result(answer: &Value) -> &Value {
    answer.get("result").unwrap_or(answer)
}

impl BybitTrading {
    fn category(&self) -> &'static str {
        if self.market == Market::Spot {
            "spot"
        } else {
            "linear"
        }
    }

    fn fields<'a>(&self, value: &'a Value) -> Fields<'a> {
        Fields::new(Venue::Bybit, value)
    }

    fn named(request: Request, which: &OrderRef) -> Request {
        match which {
            OrderRef::OrderId(id) => request.param("orderId", id),
            OrderRef::ClientOrderId(id) => request.param("orderLinkId", id),
        }
    }

    pub(crate) fn order(&self, value: &Value) -> Result<Order> {
        let f = self.fields(value);
        let word = f.text("orderStatus")?;
        let status = order_status(word).ok_or_else(|| f.bad(format!("orderStatus {word:?}")))?;
        let side = match f.text("side")? {
            "Buy" => Side::Buy,
            "Sell" => Side::Sell,
            other => return Err(f.bad(format!("side {other:?}"))),
        };
        let order_type = match f.text("orderType")? {
            "Limit" => OrderType::Limit,
            "Market" => OrderType::Market,
            other => return Err(f.bad(format!("orderType {other:?} is not one we place"))),
        };
        let position_side = leg(f)?;
        let trigger = trigger(f)?;
        let time_in_force = match (order_type, f.opt_text("timeInForce")) {
            (OrderType::Market, _) | (_, None) => None,
            (_, Some("PostOnly")) => Some(TimeInForce::PostOnly),
            (_, Some(word)) => Some(
                word.parse()
                    .map_err(|_| f.bad(format!("timeInForce {word:?}")))?,
            ),
        };
        let filled_qty = f.opt_decimal("cumExecQty")?.unwrap_or(Decimal::ZERO);
        let avg_price = f
            .opt_decimal("avgPrice")?
            .filter(|p| !p.is_zero() && !filled_qty.is_zero());
        // A spot market buy's `qty` is in the quote coin unless `marketUnit` said base.
        let quote_market_buy = self.market == Market::Spot
            && order_type == OrderType::Market
            && side == Side::Buy
            && f.opt_text("marketUnit") != Some("baseCoin");
        let qty = f.opt_decimal("qty")?.filter(|q| !q.is_zero());
        let created = f.opt_int("createdTime")?.unwrap_or(0);
        Ok(Order {
            source: Source {
                venue: Venue::Bybit,
                market: self.market,
            },
            symbol: f.symbol("symbol")?,
            order_id: f.id("orderId")?,
            client_order_id: f.id("orderLinkId")?,
            side,
            order_type,
            time_in_force,
            price: f.opt_decimal("price")?.filter(|p| !p.is_zero()),
            qty: if quote_market_buy { None } else { qty },
            quote_qty: if quote_market_buy { qty } else { None },
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
            updated_time_ms: f.opt_int("updatedTime")?.unwrap_or(created),
            // `EC_NoError` while nothing went wrong; `UNKNOWN` on some spot reports.
            reject_reason: f
                .opt_text("rejectReason")
                .filter(|r| !matches!(*r, "" | "EC_NoError" | "UNKNOWN"))
                .map(str::to_owned),
            take_profit: exit(f, "takeProfit", "tpLimitPrice", "tpTriggerBy")?,
            stop_loss: exit(f, "stopLoss", "slLimitPrice", "slTriggerBy")?,
            parent_client_order_id: f
                .opt_text("parentOrderLinkId")
                .filter(|p| !p.is_empty())
                .map(Id::new),
        })
    }

    /// The coins of a unified account (REST `wallet-balance` or the `wallet` topic).
    pub(crate) fn coins(&self, account: &Value, at: i64) -> Result<Vec<Balance>> {
        let f = self.fields(account);
        f.array("coin")?
            .iter()
            .map(|c| {
                let g = f.at(c);
                let wallet = g.decimal("walletBalance")?;
                let locked = g.opt_decimal("locked")?.unwrap_or(Decimal::ZERO);
                Ok(Balance {
                    venue: Venue::Bybit,
                    market: self.market,
                    asset: g.text("coin")?.to_owned(),
                    free: wallet
                        .checked_sub(locked)
                        .ok_or_else(|| g.bad(format!("{wallet} - {locked}")))?,
                    locked,
                    exchange_time_ms: at,
                })
            })
            .collect()
    }

    /// One position (REST `position/list` or the `position` topic, which says `entryPrice`).
    pub(crate) fn position(&self, value: &Value) -> Result<Position> {
        let g = self.fields(value);
        let size = g.decimal("size")?;
        let side = match g.opt_text("side") {
            _ if size.is_zero() => PositionSide::Flat,
            Some("Buy") => PositionSide::Long,
            Some("Sell") => PositionSide::Short,
            other => return Err(g.bad(format!("position side {other:?} with size {size}"))),
        };
        let entry = match g.opt_decimal("avgPrice")? {
            Some(p) => p,
            None => g.opt_decimal("entryPrice")?.unwrap_or(Decimal::ZERO),
        };
        Ok(Position {
            source: Source {
                venue: Venue::Bybit,
                market: self.market,
            },
            symbol: g.symbol("symbol")?,
            side,
            position_side: leg(g)?,
            size,
            entry_price: entry,
            unrealized_pnl: g.opt_decimal("unrealisedPnl")?.unwrap_or(Decimal::ZERO),
            leverage: g.decimal("leverage")?,
            liquidation_price: g.opt_decimal("liqPrice")?.filter(|p| !p.is_zero()),
            mark_price: g.opt_decimal("markPrice")?,
            realized_pnl: g.opt_decimal("cumRealisedPnl")?,
            initial_margin: g.opt_decimal("positionIM")?,
            maintenance_margin: g.opt_decimal("positionMM")?,
            exchange_time_ms: g.opt_int("updatedTime")?.unwrap_or(0),
            trailing_stop: position_exit(g, "trailingStop")?,
            stop_loss: position_exit(g, "stopLoss")?,
            take_profit: position_exit(g, "takeProfit")?,
        })
    }

    /// A batch request: `category` and the items as one `request` list.
    fn batch(&self, path: &str, items: impl Iterator<Item = Request>) -> Request {
        let list: Vec<Value> = items
            .map(|r| {
                let fields = r.params.into_iter().filter(|(k, _)| k != "category");
                Value::Object(
                    fields
                        .map(|(k, v)| {
                            let typed = super::rest::typed(&k, &v);
                            (k, typed)
                        })
                        .collect(),
                )
            })
            .collect();
        write(path)
            .param("category", self.category())
            .param("request", Value::Array(list).to_string())
    }

    /// A batch answer: `result.list` and `retExtInfo.list`, one entry each per item, in order.
    fn items(&self, answer: &Value, n: usize) -> Result<Vec<Result<Written>>> {
        let f = self.fields(answer);
        let done = answer["result"]["list"].as_array();
        let said = answer["retExtInfo"]["list"].as_array();
        let (Some(done), Some(said)) = (done, said) else {
            return Err(f.bad("a batch answer without its two lists"));
        };
        if done.len() != n || said.len() != n {
            return Err(f.bad(format!("a batch answer of {n} items expected")));
        }
        done.iter()
            .zip(said)
            .map(|(item, verdict)| {
                let g = f.at(verdict);
                Ok(match g.opt_int("code")? {
                    Some(0) => Ok(Written::Ack {
                        order_id: f.at(item).text("orderId")?.to_owned(),
                    }),
                    code => Err(super::rest::refusal(crate::error::VenueReply {
                        venue: Venue::Bybit,
                        code,
                        message: crate::error::snippet(g.opt_text("msg").unwrap_or("")),
                        http_status: None,
                        request: None,
                    })),
                })
            })
            .collect()
    }

    fn ack(&self, answer: &Value) -> Result<Written> {
        let f = self.fields(result(answer));
        Ok(Written::Ack {
            order_id: f.text("orderId")?.to_owned(),
        })
    }
}

impl Trading for BybitTrading {
    /// Spot triggers watch the last price; linear ones the last, mark or index price.
    fn trigger_prices(&self) -> &'static [TriggerBy] {
        if self.market == Market::Spot {
            &[TriggerBy::Last]
        } else {
            &[TriggerBy::Last, TriggerBy::Mark, TriggerBy::Index]
        }
    }

    fn refusal(&self, order: &Order) -> Option<crate::Error> {
        let reason = order.reject_reason.as_deref()?;
        (reason == "EC_PostOnlyWillTakeLiquidity" && order.filled_qty.is_zero()).then(|| {
            crate::Error::InvalidOrder {
                rule: crate::orders::rule::POST_ONLY_WOULD_TAKE.to_owned(),
                message: "the post-only order would have taken liquidity: the venue canceled it"
                    .to_owned(),
                reply: Some(crate::error::VenueReply {
                    venue: Venue::Bybit,
                    code: None,
                    message: reason.to_owned(),
                    http_status: None,
                    request: None,
                }),
            }
        })
    }

    fn names_a_filter(&self, error: &crate::Error) -> bool {
        matches!(error, crate::Error::InvalidOrder { rule, reply: Some(_), .. }
            if matches!(rule.as_str(), "170134" | "170136" | "170137" | "170140" | "110094"))
    }

    fn place(&self, order: &NewOrder) -> Request {
        let mut r = write("/v5/order/create")
            .param("category", self.category())
            .param("symbol", order.symbol)
            .param(
                "side",
                if order.side == Side::Buy {
                    "Buy"
                } else {
                    "Sell"
                },
            )
            .param("orderLinkId", &order.client_order_id);
        match order.order_type {
            OrderType::Limit => {
                let tif = match order.effective_tif() {
                    Some(TimeInForce::PostOnly) => "PostOnly",
                    Some(TimeInForce::Ioc) => "IOC",
                    Some(TimeInForce::Fok) => "FOK",
                    _ => "GTC",
                };
                r = r.param("orderType", "Limit").param("timeInForce", tif);
            }
            OrderType::Market => r = r.param("orderType", "Market"),
        }
        if let Some(price) = order.price {
            r = r.param("price", text(price));
        }
        match (order.qty, order.quote_qty) {
            (_, Some(quote)) => r = r.param("qty", text(quote)).param("marketUnit", "quoteCoin"),
            (Some(qty), None)
                if self.market == Market::Spot && order.order_type == OrderType::Market =>
            {
                // Spot market orders are counted in the quote coin by default: say base.
                r = r.param("qty", text(qty)).param("marketUnit", "baseCoin");
            }
            (Some(qty), None) => r = r.param("qty", text(qty)),
            // A zero quantity with reduceOnly and closeOnTrigger closes the whole position.
            (None, None) if order.close_position => {
                r = r.param("qty", "0").param("closeOnTrigger", "true");
            }
            (None, None) => {}
        }
        // A hedge-mode order names its leg (1 long, 2 short); one closing its leg must say
        // reduceOnly (the venue's rule), whether or not the caller did.
        if let Some(leg) = order.position_side {
            r = r.param(
                "positionIdx",
                if leg == PositionSide::Short { 2 } else { 1 },
            );
        }
        if order.reduces() || order.close_position {
            r = r.param("reduceOnly", "true");
        }
        if let Some(t) = order.trigger {
            r = r.param("triggerPrice", text(t.price));
            if self.market == Market::Spot {
                // A spot conditional order; its funds are held only once it triggers.
                r = r.param("orderFilter", "StopOrder");
            } else {
                let rises = t.direction == Some(TriggerDirection::Rise);
                // Documented as optional, refused without (10001 "TriggerDirection invalid").
                r = r
                    .param("triggerDirection", if rises { 1 } else { 2 })
                    .param("triggerBy", trigger_by_word(t.by));
            }
        }
        if order.take_profit.is_some() || order.stop_loss.is_some() {
            // Partial: the exits are sized by what this entry fills (Full would make them the
            // whole position's, replacing its own, and takes no limit exits).
            r = r.param("tpslMode", "Partial");
            for (exit, [price, limit, kind, by]) in [
                (
                    order.take_profit,
                    ["takeProfit", "tpLimitPrice", "tpOrderType", "tpTriggerBy"],
                ),
                (
                    order.stop_loss,
                    ["stopLoss", "slLimitPrice", "slOrderType", "slTriggerBy"],
                ),
            ] {
                let Some(e) = exit else { continue };
                r = r
                    .param(price, text(e.trigger))
                    .param(by, trigger_by_word(e.by));
                r = match e.price {
                    Some(p) => r.param(kind, "Limit").param(limit, text(p)),
                    None => r.param(kind, "Market"),
                };
            }
        }
        r
    }

    fn attaches_exits(&self) -> bool {
        self.market == Market::Linear
    }

    fn position_exits(&self, symbol: Symbol, exits: &PositionExits) -> Option<Request> {
        if self.market == Market::Spot {
            return None;
        }
        let idx = match exits.position_side {
            None => 0,
            Some(PositionSide::Short) => 2,
            Some(_) => 1,
        };
        let mut r = write("/v5/position/trading-stop")
            .param("category", self.category())
            .param("symbol", symbol)
            .param("tpslMode", "Full")
            .param("positionIdx", idx);
        for (exit, [price, by]) in [
            (exits.take_profit, ["takeProfit", "tpTriggerBy"]),
            (exits.stop_loss, ["stopLoss", "slTriggerBy"]),
        ] {
            if let Some(e) = exit {
                r = r.param(price, text(e.trigger));
                if !e.trigger.is_zero() {
                    r = r.param(by, trigger_by_word(e.by));
                }
            }
        }
        if let Some(distance) = exits.trailing_stop {
            r = r.param("trailingStop", text(distance));
            if let Some(active) = exits.activation_price.filter(|_| !distance.is_zero()) {
                r = r.param("activePrice", text(active));
            }
        }
        Some(r)
    }

    fn placed(&self, answer: &Value) -> Result<Written> {
        self.ack(answer)
    }

    /// 10 a request: spot's most, and on linear (20 allowed) the batch's own limit of 10
    /// orders a second, which a batch consumes by the orders it holds (a larger one always
    /// fails in part).
    fn batch_limit(&self, _batch: Batch) -> usize {
        10
    }

    fn place_batch(&self, orders: &[NewOrder]) -> Option<Request> {
        Some(self.batch(
            "/v5/order/create-batch",
            orders.iter().map(|o| self.place(o)),
        ))
    }

    fn placed_batch(&self, answer: &Value, n: usize) -> Result<Vec<Result<Written>>> {
        self.items(answer, n)
    }

    fn amend_batch(&self, items: &[(Order, Decimal, Decimal)]) -> Option<Request> {
        let requests = items
            .iter()
            .map(|(current, qty, price)| self.amend(current, *qty, *price))
            .collect::<Option<Vec<Request>>>()?;
        Some(self.batch("/v5/order/amend-batch", requests.into_iter()))
    }

    fn amended_batch(&self, answer: &Value, n: usize) -> Result<Vec<Result<Written>>> {
        self.items(answer, n)
    }

    fn set_leverage(&self, symbol: Symbol, leverage: Decimal) -> Option<Request> {
        (self.market != Market::Spot).then(|| {
            write("/v5/position/set-leverage")
                .param("category", self.category())
                .param("symbol", symbol)
                .param("buyLeverage", text(leverage))
                .param("sellLeverage", text(leverage))
        })
    }

    fn set_margin_mode(&self, symbol: Option<Symbol>, mode: MarginMode) -> Result<Option<Request>> {
        if self.market == Market::Spot {
            return Ok(None);
        }
        if symbol.is_some() {
            return Err(crate::Error::invalid_argument(
                "symbol",
                "a Bybit unified account's margin mode is the whole account's: give no symbol",
            ));
        }
        let word = match mode {
            MarginMode::Cross => "REGULAR_MARGIN",
            MarginMode::Isolated => "ISOLATED_MARGIN",
            MarginMode::Portfolio => "PORTFOLIO_MARGIN",
        };
        Ok(Some(
            write("/v5/account/set-margin-mode").param("setMarginMode", word),
        ))
    }

    fn set_position_mode(
        &self,
        symbol: Option<Symbol>,
        mode: PositionMode,
    ) -> Result<Option<Request>> {
        if self.market == Market::Spot {
            return Ok(None);
        }
        let r = write("/v5/position/switch-mode").param("category", self.category());
        // Without a symbol: every USDT perpetual free to switch (no position, no open order).
        let r = match symbol {
            Some(s) => r.param("symbol", s),
            None => r.param("coin", "USDT"),
        };
        Ok(Some(r.param(
            "mode",
            if mode == PositionMode::Hedge {
                "3"
            } else {
                "0"
            },
        )))
    }

    fn settings(&self, symbol: Symbol) -> Vec<Request> {
        if self.market == Market::Spot {
            return Vec::new();
        }
        vec![
            Request::get("/v5/position/list")
                .signed()
                .param("category", self.category())
                .param("symbol", symbol),
            Request::get("/v5/account/info").signed(),
        ]
    }

    fn settings_of(&self, symbol: Symbol, answers: &[Value]) -> Result<PositionSettings> {
        let [positions, account] = answers else {
            return Err(crate::Error::Internal("two answers expected".into()));
        };
        let f = self.fields(positions);
        let first = result(positions)["list"]
            .as_array()
            .and_then(|l| l.first())
            .ok_or_else(|| f.bad(format!("no position entry of {symbol}")))?;
        let g = f.at(first);
        let position_mode = match g.opt_int("positionIdx")? {
            Some(0) | None => PositionMode::OneWay,
            Some(_) => PositionMode::Hedge,
        };
        let a = self.fields(result(account));
        let margin_mode = match a.text("marginMode")? {
            "REGULAR_MARGIN" => MarginMode::Cross,
            "ISOLATED_MARGIN" => MarginMode::Isolated,
            "PORTFOLIO_MARGIN" => MarginMode::Portfolio,
            other => return Err(a.bad(format!("marginMode {other:?}"))),
        };
        Ok(PositionSettings {
            symbol,
            leverage: g.decimal("leverage")?,
            margin_mode,
            position_mode,
        })
    }

    fn unchanged(&self, error: &crate::Error) -> bool {
        // Leverage, position mode, margin mode "has not been modified".
        error
            .venue_reply()
            .and_then(|r| r.code)
            .is_some_and(|c| matches!(c, 110043 | 110025 | 110026 | 34040))
    }

    fn cancel_batch(&self, symbol: Symbol, which: &[OrderRef]) -> Option<Request> {
        Some(self.batch(
            "/v5/order/cancel-batch",
            which.iter().map(|w| self.cancel(symbol, w)),
        ))
    }

    fn canceled_batch(&self, answer: &Value, n: usize) -> Result<Vec<Result<Written>>> {
        self.items(answer, n)
    }

    fn cancel(&self, symbol: Symbol, which: &OrderRef) -> Request {
        let r = write("/v5/order/cancel")
            .param("category", self.category())
            .param("symbol", symbol);
        Self::named(r, which)
    }

    fn canceled(&self, answer: &Value) -> Result<Written> {
        self.ack(answer)
    }

    fn amend(&self, current: &Order, qty: Decimal, price: Decimal) -> Option<Request> {
        let which = if current.order_id.is_empty() {
            OrderRef::ClientOrderId(current.client_order_id.clone())
        } else {
            OrderRef::OrderId(current.order_id.clone())
        };
        let mut r = write("/v5/order/amend")
            .param("category", self.category())
            .param("symbol", current.symbol);
        r = Self::named(r, &which);
        // Only what changes is sent.
        if current.qty != Some(qty) {
            r = r.param("qty", text(qty));
        }
        if current.price != Some(price) {
            r = r.param("price", text(price));
        }
        Some(r)
    }

    fn amended(&self, answer: &Value) -> Result<Written> {
        self.ack(answer)
    }

    fn query(&self, symbol: Symbol, which: &OrderRef) -> Vec<Request> {
        // Recent orders are in `realtime`; older closed ones (or all, after a venue restart)
        // only in `history`.
        ["/v5/order/realtime", "/v5/order/history"]
            .iter()
            .map(|path| {
                let r = Request::get(path)
                    .signed()
                    .param("category", self.category())
                    .param("symbol", symbol);
                Self::named(r, which)
            })
            .collect()
    }

    fn queried(&self, answer: &Value) -> Result<Option<Order>> {
        let f = self.fields(result(answer));
        match f.array("list")?.first() {
            Some(o) => self.order(o).map(Some),
            None => Ok(None),
        }
    }

    fn open_orders(&self, symbol: Option<Symbol>, cursor: Option<&str>) -> Request {
        let mut r = Request::get("/v5/order/realtime")
            .signed()
            .param("category", self.category())
            .param("openOnly", "0")
            .param("limit", PAGE);
        r = match symbol {
            Some(s) => r.param("symbol", s),
            // Linear needs a symbol or a settle coin; USDT perpetuals are what we list.
            None if self.market == Market::Linear => r.param("settleCoin", "USDT"),
            None => r,
        };
        match cursor {
            Some(c) => r.param("cursor", c),
            None => r,
        }
    }

    fn orders_of(&self, answer: &Value) -> Result<(Vec<Order>, Option<String>)> {
        let f = self.fields(result(answer));
        let orders = f
            .array("list")?
            .iter()
            .map(|o| self.order(o))
            .collect::<Result<_>>()?;
        Ok((orders, f.opt_text("nextPageCursor").map(str::to_owned)))
    }

    fn cancel_all(&self, symbol: Symbol) -> Request {
        write("/v5/order/cancel-all")
            .param("category", self.category())
            .param("symbol", symbol)
    }

    fn cancel_all_lists(&self) -> bool {
        true
    }

    fn cancel_untriggered(&self, symbol: Symbol, which: &OrderRef) -> Option<Request> {
        (self.market == Market::Spot)
            .then(|| self.cancel(symbol, which).param("orderFilter", "StopOrder"))
    }

    fn cancel_all_untriggered(&self, symbol: Symbol) -> Option<Request> {
        (self.market == Market::Spot)
            .then(|| self.cancel_all(symbol).param("orderFilter", "StopOrder"))
    }

    /// The venue documents `realtime` as listing every kind by default; clients that met it
    /// report spot conditional orders listed only with `orderFilter=StopOrder`: ask both.
    fn open_untriggered(&self, symbol: Option<Symbol>, cursor: Option<&str>) -> Option<Request> {
        (self.market == Market::Spot).then(|| {
            self.open_orders(symbol, cursor)
                .param("orderFilter", "StopOrder")
        })
    }

    fn all_canceled(&self, answer: &Value) -> Result<Vec<Written>> {
        let f = self.fields(result(answer));
        f.array("list")?
            .iter()
            .map(|item| {
                Ok(Written::Ack {
                    order_id: f.at(item).text("orderId")?.to_owned(),
                })
            })
            .collect()
    }

    fn balances(&self) -> Request {
        Request::get("/v5/account/wallet-balance")
            .signed()
            .param("accountType", "UNIFIED")
    }

    fn balances_of(&self, answer: &Value, now_ms: i64) -> Result<Vec<Balance>> {
        let f = self.fields(result(answer));
        match f.array("list")?.first() {
            Some(account) => self.coins(account, now_ms),
            None => Ok(Vec::new()),
        }
    }

    fn positions(&self, symbol: Option<Symbol>) -> Option<Request> {
        if self.market == Market::Spot {
            return None;
        }
        let r = Request::get("/v5/position/list")
            .signed()
            .param("category", "linear");
        Some(match symbol {
            Some(s) => r.param("symbol", s),
            None => r.param("settleCoin", "USDT"),
        })
    }

    fn position_extras(&self, _symbol: Option<Symbol>) -> Option<Request> {
        None
    }

    fn trades(&self, symbol: Symbol, order_id: &Id) -> Request {
        Request::get("/v5/execution/list")
            .signed()
            .param("category", self.category())
            .param("symbol", symbol)
            .param("orderId", order_id)
            .param("limit", 100)
    }

    fn trades_of(&self, answer: &Value, _order: &Order) -> Result<Vec<Fill>> {
        Ok(self.fills_of(answer)?.0)
    }

    /// Newest first over `nextPageCursor`, at most 7 days a request; 100 executions or 50
    /// orders a page.
    fn history_paging(&self, listing: Listing) -> Paging {
        Paging {
            max: if listing == Listing::Orders { 50 } else { 100 },
            window_ms: Some(7 * 86_400_000),
            cursor: true,
        }
    }

    /// `order/history` or `execution/list` (trades only, as the `execution` topic is read).
    fn history_request(&self, listing: Listing, symbol: Symbol, query: &PageQuery<'_>) -> Request {
        let mut r = if listing == Listing::Orders {
            Request::get("/v5/order/history")
        } else {
            Request::get("/v5/execution/list").param("execType", "Trade")
        }
        .signed()
        .param("category", self.category())
        .param("symbol", symbol)
        .param("limit", query.limit);
        if let Some(start) = query.start {
            r = r.param("startTime", start);
        }
        if let Some(end) = query.end {
            r = r.param("endTime", end);
        }
        if let Some(cursor) = query.cursor {
            r = r.param("cursor", cursor);
        }
        r
    }

    fn fills_of(&self, answer: &Value) -> Result<(Vec<Fill>, Option<String>)> {
        let f = self.fields(result(answer));
        let fills = f
            .array("list")?
            .iter()
            .filter(|e| {
                e.get("execType")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "Trade")
            })
            .map(|e| super::user::execution(self.market, e))
            .collect::<Result<_>>()?;
        Ok((fills, f.opt_text("nextPageCursor").map(str::to_owned)))
    }

    fn positions_of(&self, answer: &Value, _extras: Option<&Value>) -> Result<Vec<Position>> {
        let f = self.fields(result(answer));
        f.array("list")?.iter().map(|p| self.position(p)).collect()
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_maps_to_a_distinct_status() {
        // PROTOCOLS.md 6.3 `orderStatus`, plus `Created` (accepted, not yet matched).
        let words = [
            "Created",
            "New",
            "PartiallyFilled",
            "Untriggered",
            "Triggered",
            "Filled",
            "Cancelled",
            "PartiallyFilledCanceled",
            "Rejected",
            "Deactivated",
        ];
        let mapped: std::collections::HashSet<_> =
            words.iter().map(|w| order_status(w).unwrap()).collect();
        assert_eq!(mapped.len(), words.len());
        assert!(order_status("Cancelled").unwrap().is_terminal());
        assert!(!order_status("Untriggered").unwrap().is_terminal());
    }

    #[test]
    fn attached_exits_are_sent_partial_and_read_back_on_entries_children_and_positions() {
        let linear = BybitTrading {
            market: Market::Linear,
        };
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let order = NewOrder {
            symbol: Symbol::from("BTCUSDT"),
            side: Side::Buy,
            order_type: OrderType::Limit,
            qty: Some(d("0.01")),
            quote_qty: None,
            price: Some(d("60000")),
            time_in_force: None,
            post_only: false,
            reduce_only: false,
            position_side: None,
            trigger: None,
            close_position: false,
            take_profit: Some(Exit {
                trigger: d("61000"),
                price: Some(d("60990")),
                by: TriggerBy::Mark,
            }),
            stop_loss: Some(Exit {
                trigger: d("59000"),
                price: None,
                by: TriggerBy::Last,
            }),
            client_order_id: Id::new("e-1"),
        };
        let r = linear.place(&order);
        let sent = [
            "tpslMode",
            "takeProfit",
            "tpOrderType",
            "tpLimitPrice",
            "tpTriggerBy",
            "stopLoss",
            "slOrderType",
            "slLimitPrice",
            "slTriggerBy",
        ]
        .map(|k| r.param_value(k));
        assert_eq!(
            sent,
            [
                Some("Partial"),
                Some("61000"),
                Some("Limit"),
                Some("60990"),
                Some("MarkPrice"),
                Some("59000"),
                Some("Market"),
                None,
                Some("LastPrice"),
            ]
        );
        assert!(linear.attaches_exits());
        assert!(
            !BybitTrading {
                market: Market::Spot
            }
            .attaches_exits()
        );
        // The entry as the order topic reports it (create-order's fields echoed), and the
        // partial take-profit the venue placed for it (no orderLinkId; its parent named).
        let entry: Value = serde_json::from_str(
            r#"{"symbol":"BTCUSDT","orderId":"o-1","orderLinkId":"e-1","side":"Buy","orderType":"Limit",
               "orderStatus":"Filled","price":"60000","qty":"0.01","cumExecQty":"0.01","timeInForce":"GTC",
               "takeProfit":"61000","tpLimitPrice":"60990","tpTriggerBy":"MarkPrice","stopLoss":"59000",
               "slLimitPrice":"0","slTriggerBy":"LastPrice","tpslMode":"Partial","parentOrderLinkId":""}"#,
        )
        .unwrap();
        let e = linear.order(&entry).unwrap();
        assert_eq!(
            (e.take_profit, e.stop_loss),
            (order.take_profit, order.stop_loss)
        );
        assert_eq!(e.parent_client_order_id, None);
        let child: Value = serde_json::from_str(
            r#"{"symbol":"BTCUSDT","orderId":"o-2","orderLinkId":"","parentOrderLinkId":"e-1","side":"Sell",
               "orderType":"Limit","orderStatus":"Untriggered","stopOrderType":"PartialTakeProfit","price":"60990",
               "qty":"0.01","triggerPrice":"61000","triggerDirection":1,"triggerBy":"MarkPrice","reduceOnly":true,
               "takeProfit":"","stopLoss":"","tpslMode":"Partial","createType":"CreateByPartialTakeProfit"}"#,
        )
        .unwrap();
        let c = linear.order(&child).unwrap();
        assert_eq!(c.parent_client_order_id, Some(Id::new("e-1")));
        assert_eq!((c.take_profit, c.stop_loss), (None, None));
        assert!(c.client_order_id.is_empty() && c.reduce_only);
        assert_eq!(
            c.trigger.map(|t| (t.price, t.by)),
            Some((d("61000"), TriggerBy::Mark))
        );
        // A position's own exits: set (full mode, market), a zero removes one.
        let exits = PositionExits {
            position_side: Some(PositionSide::Short),
            take_profit: Some(Exit {
                trigger: d("58000"),
                price: None,
                by: TriggerBy::Index,
            }),
            stop_loss: Some(Exit {
                trigger: Decimal::ZERO,
                price: None,
                by: TriggerBy::Last,
            }),
            trailing_stop: Some(d("150")),
            activation_price: Some(d("57000")),
        };
        let r = linear
            .position_exits(Symbol::from("BTCUSDT"), &exits)
            .unwrap();
        assert_eq!(r.path, "/v5/position/trading-stop");
        let sent = [
            "tpslMode",
            "positionIdx",
            "takeProfit",
            "tpTriggerBy",
            "stopLoss",
            "slTriggerBy",
            "trailingStop",
            "activePrice",
        ]
        .map(|k| r.param_value(k));
        assert_eq!(
            sent,
            [
                Some("Full"),
                Some("2"),
                Some("58000"),
                Some("IndexPrice"),
                Some("0"),
                None,
                Some("150"),
                Some("57000")
            ]
        );
        assert!(
            BybitTrading {
                market: Market::Spot
            }
            .position_exits(Symbol::from("BTCUSDT"), &PositionExits::default())
            .is_none()
        );
        let position: Value = serde_json::from_str(
            r#"{"positionIdx":0,"symbol":"BTCUSDT","side":"Buy","size":"0.5","avgPrice":"50000","leverage":"10",
               "takeProfit":"55000.00","stopLoss":"0.00","trailingStop":"25.5","updatedTime":"1"}"#,
        )
        .unwrap();
        let p = linear.position(&position).unwrap();
        assert_eq!(
            (p.take_profit, p.stop_loss, p.trailing_stop),
            (Some(d("55000.00")), None, Some(d("25.5")))
        );
    }

    #[test]
    fn hedge_legs_are_read_and_named() {
        let linear = BybitTrading {
            market: Market::Linear,
        };
        let answer: Value = serde_json::from_str(
            r#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[
                {"positionIdx":1,"symbol":"BTCUSDT","side":"Buy","size":"0.5","avgPrice":"50000","leverage":"10","updatedTime":"1"},
                {"positionIdx":2,"symbol":"BTCUSDT","side":"","size":"0","avgPrice":"0","leverage":"10","updatedTime":"1"}]}}"#,
        )
        .unwrap();
        let legs: Vec<_> = linear
            .positions_of(&answer, None)
            .unwrap()
            .into_iter()
            .map(|p| (p.position_side, p.side, p.size.to_string()))
            .collect();
        assert_eq!(
            legs,
            [
                (
                    Some(PositionSide::Long),
                    PositionSide::Long,
                    "0.5".to_owned()
                ),
                (
                    Some(PositionSide::Short),
                    PositionSide::Flat,
                    "0".to_owned()
                ),
            ]
        );
        // A closing order on a leg says reduceOnly (the venue requires it).
        let order = NewOrder {
            symbol: Symbol::new("BTCUSDT"),
            side: Side::Buy,
            order_type: OrderType::Market,
            qty: Some(Decimal::ONE),
            quote_qty: None,
            price: None,
            time_in_force: None,
            post_only: false,
            reduce_only: false,
            position_side: Some(PositionSide::Short),
            trigger: None,
            client_order_id: Id::new("c"),
            close_position: false,
            stop_loss: None,
            take_profit: None,
        };
        let r = linear.place(&order);
        assert_eq!(r.param_value("positionIdx"), Some("2"));
        assert_eq!(r.param_value("reduceOnly"), Some("true"));
    }

    #[test]
    fn conditional_orders_are_sent_and_read_as_each_category_wants() {
        let trigger = Trigger {
            price: Decimal::new(48000, 0),
            direction: Some(TriggerDirection::Fall),
            by: TriggerBy::Mark,
            trailing: None,
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
            reduce_only: false,
            position_side: None,
            trigger: Some(trigger),
            client_order_id: Id::new("c"),
            close_position: false,
            stop_loss: None,
            take_profit: None,
        };
        let linear = BybitTrading {
            market: Market::Linear,
        };
        let r = linear.place(&order);
        let sent = [
            "triggerPrice",
            "triggerDirection",
            "triggerBy",
            "orderFilter",
        ]
        .map(|k| r.param_value(k));
        assert_eq!(sent, [Some("48000"), Some("2"), Some("MarkPrice"), None]);
        let spot = BybitTrading {
            market: Market::Spot,
        };
        let r = spot.place(&order);
        let sent = [
            "triggerPrice",
            "triggerDirection",
            "triggerBy",
            "orderFilter",
        ]
        .map(|k| r.param_value(k));
        assert_eq!(sent, [Some("48000"), None, None, Some("StopOrder")]);
        // An untriggered stop-loss as the order topic shows it (nautilus's test message), and a
        // spot one that names no direction but its price at placement.
        let report: Value = serde_json::from_str(
            r#"{"category":"linear","symbol":"BTCUSDT","orderId":"sl-1","orderLinkId":"c-sl","side":"Sell",
               "orderType":"Market","orderStatus":"Untriggered","stopOrderType":"StopLoss","triggerPrice":"48000.00",
               "triggerDirection":2,"triggerBy":"LastPrice","reduceOnly":true,"qty":"0.500","price":"0"}"#,
        )
        .unwrap();
        let o = linear.order(&report).unwrap();
        assert_eq!(o.status, OrderStatus::Untriggered);
        let t = o.trigger.unwrap();
        assert_eq!(
            (t.price.to_string(), t.direction, t.by),
            (
                "48000.00".to_owned(),
                Some(TriggerDirection::Fall),
                TriggerBy::Last
            )
        );
        let report: Value = serde_json::from_str(
            r#"{"symbol":"BTCUSDT","orderId":"1","orderLinkId":"c-sp","side":"Buy","orderType":"Limit",
               "orderStatus":"Untriggered","triggerPrice":"61000","triggerDirection":0,"basePrice":"60000",
               "qty":"0.01","price":"61100","timeInForce":"GTC"}"#,
        )
        .unwrap();
        let t = spot.order(&report).unwrap().trigger.unwrap();
        assert_eq!(t.direction, Some(TriggerDirection::Rise));
        let plain: Value = serde_json::from_str(
            r#"{"symbol":"BTCUSDT","orderId":"2","orderLinkId":"c-pl","side":"Buy","orderType":"Limit",
               "orderStatus":"New","triggerPrice":"0.00","qty":"0.01","price":"60000","timeInForce":"GTC"}"#,
        )
        .unwrap();
        assert_eq!(spot.order(&plain).unwrap().trigger, None);
    }
}
