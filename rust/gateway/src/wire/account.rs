//! The account and command messages of schema version 1 (same rules as market data: money
//! as exact decimal strings, enumerations by their tradewire names, `v` on every top-level
//! message).
//!
//! Account events are kept in JetStream, so they carry no `epoch`/`seq` of their own: the
//! stream's sequence orders them, and each is stored once under its message id
//! ([`OrderUpdateMsg::message_id`], ...): a gateway that publishes the same change again (a
//! retry, a standby that took over) adds nothing.

use std::time::Duration;

use super::*;
use tradewire_core::error::VenueReply;
use tradewire_core::model::{
    Balance, Exit, Fill, Order, OrderStatus, OrderType, OrderUpdate, Position, PositionSide,
    TimeInForce, Trigger, TriggerBy, TriggerDirection,
};
use tradewire_core::orders::{NewOrder, OrderRef};
use tradewire_core::{Error, Result};

/// An order's state, as in [`Order`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBody {
    #[serde(with = "text")]
    pub venue: Venue,
    #[serde(with = "text")]
    pub market: Market,
    #[serde(with = "symbol")]
    pub symbol: Symbol,
    /// Empty while the venue has not acknowledged the order.
    #[serde(with = "id")]
    pub order_id: Id,
    #[serde(with = "id")]
    pub client_order_id: Id,
    #[serde(with = "text")]
    pub side: Side,
    #[serde(with = "text")]
    pub order_type: OrderType,
    #[serde(with = "opt_text")]
    pub time_in_force: Option<TimeInForce>,
    #[serde(with = "opt_money")]
    pub price: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub qty: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub quote_qty: Option<Decimal>,
    #[serde(with = "money")]
    pub filled_qty: Decimal,
    #[serde(with = "opt_money")]
    pub avg_price: Option<Decimal>,
    #[serde(with = "text")]
    pub status: OrderStatus,
    pub reduce_only: bool,
    /// The hedge-mode leg; absent in one-way mode.
    #[serde(with = "opt_text", default)]
    pub position_side: Option<PositionSide>,
    /// A conditional order's trigger (its fields absent on other orders).
    #[serde(flatten)]
    pub trigger: TriggerFields,
    pub created_time_ms: i64,
    pub updated_time_ms: i64,
    pub reject_reason: Option<String>,
    /// An entry's attached exits, and a venue-placed exit's entry (each absent when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<ExitMsg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<ExitMsg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_client_order_id: Option<String>,
}

impl From<&Order> for OrderBody {
    fn from(o: &Order) -> Self {
        OrderBody {
            venue: o.source.venue,
            market: o.source.market,
            symbol: o.symbol,
            order_id: o.order_id.clone(),
            client_order_id: o.client_order_id.clone(),
            side: o.side,
            order_type: o.order_type,
            time_in_force: o.time_in_force,
            price: o.price,
            qty: o.qty,
            quote_qty: o.quote_qty,
            filled_qty: o.filled_qty,
            avg_price: o.avg_price,
            status: o.status,
            reduce_only: o.reduce_only,
            position_side: o.position_side,
            trigger: o.trigger.into(),
            created_time_ms: o.created_time_ms,
            updated_time_ms: o.updated_time_ms,
            reject_reason: o.reject_reason.clone(),
            take_profit: o.take_profit.map(Into::into),
            stop_loss: o.stop_loss.map(Into::into),
            parent_client_order_id: o
                .parent_client_order_id
                .as_ref()
                .map(|p| p.as_str().to_owned()),
        }
    }
}

impl From<OrderBody> for Order {
    fn from(o: OrderBody) -> Self {
        Order {
            source: Source {
                venue: o.venue,
                market: o.market,
            },
            symbol: o.symbol,
            order_id: o.order_id,
            client_order_id: o.client_order_id,
            side: o.side,
            order_type: o.order_type,
            time_in_force: o.time_in_force,
            price: o.price,
            qty: o.qty,
            quote_qty: o.quote_qty,
            filled_qty: o.filled_qty,
            avg_price: o.avg_price,
            status: o.status,
            reduce_only: o.reduce_only,
            position_side: o.position_side,
            trigger: o.trigger.into(),
            created_time_ms: o.created_time_ms,
            updated_time_ms: o.updated_time_ms,
            reject_reason: o.reject_reason,
            parent_client_order_id: o.parent_client_order_id.map(Id::from),
            stop_loss: o.stop_loss.map(Into::into),
            take_profit: o.take_profit.map(Into::into),
        }
    }
}

/// A conditional order's trigger in an order or place message: `trigger_price`,
/// `trigger_direction`, `trigger_by`, each absent on an order with no trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerFields {
    #[serde(with = "opt_money", default)]
    pub trigger_price: Option<Decimal>,
    #[serde(with = "opt_text", default)]
    pub trigger_direction: Option<TriggerDirection>,
    #[serde(with = "opt_text", default)]
    pub trigger_by: Option<TriggerBy>,
    /// A trailing stop's callback rate (percent); `trigger_price` is then its activation
    /// price, 0 when active from placement.
    #[serde(with = "opt_money", default, skip_serializing_if = "Option::is_none")]
    pub callback_rate: Option<Decimal>,
}

impl From<Option<Trigger>> for TriggerFields {
    fn from(t: Option<Trigger>) -> Self {
        TriggerFields {
            trigger_price: t.map(|t| t.price),
            trigger_direction: t.and_then(|t| t.direction),
            trigger_by: t.map(|t| t.by),
            callback_rate: t.and_then(|t| t.trailing),
        }
    }
}

/// An attached take-profit or stop-loss, as in [`Exit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitMsg {
    #[serde(with = "money")]
    pub trigger_price: Decimal,
    #[serde(with = "opt_money", default)]
    pub price: Option<Decimal>,
    #[serde(with = "text")]
    pub trigger_by: TriggerBy,
}

impl From<Exit> for ExitMsg {
    fn from(e: Exit) -> Self {
        ExitMsg {
            trigger_price: e.trigger,
            price: e.price,
            trigger_by: e.by,
        }
    }
}

impl From<ExitMsg> for Exit {
    fn from(e: ExitMsg) -> Self {
        Exit {
            trigger: e.trigger_price,
            price: e.price,
            by: e.trigger_by,
        }
    }
}

/// A price makes it a trigger; the last price unless told.
impl From<TriggerFields> for Option<Trigger> {
    fn from(f: TriggerFields) -> Self {
        f.trigger_price.map(|price| Trigger {
            price,
            direction: f.trigger_direction,
            by: f.trigger_by.unwrap_or(TriggerBy::Last),
            trailing: f.callback_rate,
        })
    }
}

/// One execution, as in [`Fill`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillBody {
    #[serde(with = "id")]
    pub order_id: Id,
    #[serde(with = "id")]
    pub client_order_id: Id,
    #[serde(with = "id")]
    pub trade_id: Id,
    #[serde(with = "text")]
    pub side: Side,
    #[serde(with = "money")]
    pub price: Decimal,
    #[serde(with = "money")]
    pub qty: Decimal,
    #[serde(with = "money")]
    pub fee: Decimal,
    pub fee_asset: String,
    pub is_maker: bool,
    pub exchange_time_ms: i64,
}

/// A change of one order (`...acct.<label>.order.<symbol>`): its state after the change and
/// the execution that caused it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdateMsg {
    pub v: u32,
    pub order: OrderBody,
    pub fill: Option<FillBody>,
}

impl OrderUpdateMsg {
    pub fn new(u: &OrderUpdate) -> Self {
        OrderUpdateMsg {
            v: SCHEMA,
            order: OrderBody::from(&u.order),
            fill: u.fill.as_ref().map(|f| FillBody {
                order_id: f.order_id.clone(),
                client_order_id: f.client_order_id.clone(),
                trade_id: f.trade_id.clone(),
                side: f.side,
                price: f.price,
                qty: f.qty,
                fee: f.fee,
                fee_asset: f.fee_asset.clone(),
                is_maker: f.is_maker,
                exchange_time_ms: f.exchange_time_ms,
            }),
        }
    }

    /// The same change of the same order has the same id, whichever gateway saw it: the
    /// state machine moves an order forward only, so (status, filled, fill) never repeats
    /// for a different change, but for amendments, which it tells apart by price, quantity
    /// and time (an order amended back to earlier values is a new change).
    pub fn message_id(u: &OrderUpdate) -> String {
        let o = &u.order;
        let mut buf = [0; TEXT_MAX];
        let revision =
            |d: Option<Decimal>| d.map_or_else(|| "-".to_owned(), |d| d.normalize().to_string());
        format!(
            "o:{}:{}:{}:{}:{}:{}:{}:{}",
            o.client_order_id,
            o.order_id,
            o.status,
            write_decimal(o.filled_qty, &mut buf),
            u.fill.as_ref().map_or("-", |f| f.trade_id.as_str()),
            revision(o.price),
            revision(o.qty),
            o.updated_time_ms,
        )
    }

    pub fn into_event(self) -> OrderUpdate {
        let order = Order::from(self.order);
        let fill = self.fill.map(|f| Fill {
            source: order.source,
            symbol: order.symbol,
            order_id: f.order_id,
            client_order_id: f.client_order_id,
            trade_id: f.trade_id,
            side: f.side,
            price: f.price,
            qty: f.qty,
            fee: f.fee,
            fee_asset: f.fee_asset,
            is_maker: f.is_maker,
            exchange_time_ms: f.exchange_time_ms,
        });
        OrderUpdate { order, fill }
    }
}

/// An asset's funds (`...acct.<label>.balance.<asset>`, and in the `balances` reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceMsg {
    pub v: u32,
    #[serde(with = "text")]
    pub venue: Venue,
    #[serde(with = "text")]
    pub market: Market,
    pub asset: String,
    #[serde(with = "money")]
    pub free: Decimal,
    #[serde(with = "money")]
    pub locked: Decimal,
    pub exchange_time_ms: i64,
}

impl BalanceMsg {
    pub fn new(b: &Balance) -> Self {
        BalanceMsg {
            v: SCHEMA,
            venue: b.venue,
            market: b.market,
            asset: b.asset.clone(),
            free: b.free,
            locked: b.locked,
            exchange_time_ms: b.exchange_time_ms,
        }
    }

    /// Funds may go back to an earlier amount, so the venue's time is part of the id: only a
    /// repeat of the same report is dropped.
    pub fn message_id(b: &Balance) -> String {
        let (mut f, mut l) = ([0; TEXT_MAX], [0; TEXT_MAX]);
        format!(
            "b:{}:{}:{}:{}",
            b.asset,
            write_decimal(b.free, &mut f),
            write_decimal(b.locked, &mut l),
            b.exchange_time_ms
        )
    }

    pub fn into_event(self) -> Balance {
        Balance {
            venue: self.venue,
            market: self.market,
            asset: self.asset,
            free: self.free,
            locked: self.locked,
            exchange_time_ms: self.exchange_time_ms,
        }
    }
}

/// A position (`...acct.<label>.position.<symbol>`, and in the `positions` reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionMsg {
    pub v: u32,
    #[serde(with = "text")]
    pub venue: Venue,
    #[serde(with = "text")]
    pub market: Market,
    #[serde(with = "symbol")]
    pub symbol: Symbol,
    #[serde(with = "text")]
    pub side: PositionSide,
    /// The hedge-mode leg; absent in one-way mode.
    #[serde(with = "opt_text", default)]
    pub position_side: Option<PositionSide>,
    #[serde(with = "money")]
    pub size: Decimal,
    #[serde(with = "money")]
    pub entry_price: Decimal,
    #[serde(with = "money")]
    pub unrealized_pnl: Decimal,
    #[serde(with = "money")]
    pub leverage: Decimal,
    #[serde(with = "opt_money")]
    pub liquidation_price: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub mark_price: Option<Decimal>,
    #[serde(with = "opt_money", default)]
    pub realized_pnl: Option<Decimal>,
    #[serde(with = "opt_money", default)]
    pub initial_margin: Option<Decimal>,
    #[serde(with = "opt_money", default)]
    pub maintenance_margin: Option<Decimal>,
    #[serde(with = "opt_money", default)]
    pub take_profit: Option<Decimal>,
    #[serde(with = "opt_money", default)]
    pub stop_loss: Option<Decimal>,
    #[serde(with = "opt_money", default)]
    pub trailing_stop: Option<Decimal>,
    pub exchange_time_ms: i64,
}

impl PositionMsg {
    pub fn new(p: &Position) -> Self {
        PositionMsg {
            v: SCHEMA,
            venue: p.source.venue,
            market: p.source.market,
            symbol: p.symbol,
            side: p.side,
            position_side: p.position_side,
            size: p.size,
            entry_price: p.entry_price,
            unrealized_pnl: p.unrealized_pnl,
            leverage: p.leverage,
            liquidation_price: p.liquidation_price,
            mark_price: p.mark_price,
            realized_pnl: p.realized_pnl,
            initial_margin: p.initial_margin,
            maintenance_margin: p.maintenance_margin,
            take_profit: p.take_profit,
            stop_loss: p.stop_loss,
            trailing_stop: p.trailing_stop,
            exchange_time_ms: p.exchange_time_ms,
        }
    }

    pub fn message_id(p: &Position) -> String {
        let (mut s, mut e) = ([0; TEXT_MAX], [0; TEXT_MAX]);
        let mut id = format!(
            "p:{}:{}:{}:{}:{}:{}",
            p.symbol,
            p.position_side.map_or("", PositionSide::as_str),
            p.side,
            write_decimal(p.size, &mut s),
            write_decimal(p.entry_price, &mut e),
            p.exchange_time_ms
        );
        // A change of its own exits alone is a change too (the venue's time may not move).
        for exit in [p.take_profit, p.stop_loss, p.trailing_stop] {
            let mut buf = [0; TEXT_MAX];
            id.push(':');
            id.push_str(exit.map_or("", |x| write_decimal(x, &mut buf)));
        }
        id
    }

    pub fn into_event(self) -> Position {
        Position {
            source: Source {
                venue: self.venue,
                market: self.market,
            },
            symbol: self.symbol,
            side: self.side,
            position_side: self.position_side,
            size: self.size,
            entry_price: self.entry_price,
            unrealized_pnl: self.unrealized_pnl,
            leverage: self.leverage,
            liquidation_price: self.liquidation_price,
            mark_price: self.mark_price,
            realized_pnl: self.realized_pnl,
            initial_margin: self.initial_margin,
            maintenance_margin: self.maintenance_margin,
            exchange_time_ms: self.exchange_time_ms,
            stop_loss: self.stop_loss,
            take_profit: self.take_profit,
            trailing_stop: self.trailing_stop,
        }
    }
}

/// `...cmd.<label>.place`: an order to check and place. `client_order_id` is always given,
/// so a reader whose reply is lost can ask for it (`resolve`) instead of placing it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceMsg {
    pub v: u32,
    #[serde(with = "symbol")]
    pub symbol: Symbol,
    #[serde(with = "text")]
    pub side: Side,
    #[serde(with = "text")]
    pub order_type: OrderType,
    #[serde(with = "opt_money")]
    pub qty: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub quote_qty: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub price: Option<Decimal>,
    #[serde(with = "opt_text")]
    pub time_in_force: Option<TimeInForce>,
    pub post_only: bool,
    pub reduce_only: bool,
    /// The hedge-mode leg; absent in one-way mode.
    #[serde(with = "opt_text", default)]
    pub position_side: Option<PositionSide>,
    /// A conditional order's trigger (its fields absent on other orders).
    #[serde(flatten)]
    pub trigger: TriggerFields,
    /// A conditional order closing the whole position (absent: false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub close_position: bool,
    /// An entry's attached exits (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<ExitMsg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<ExitMsg>,
    #[serde(with = "id")]
    pub client_order_id: Id,
}

impl From<&NewOrder> for PlaceMsg {
    fn from(o: &NewOrder) -> Self {
        PlaceMsg {
            v: SCHEMA,
            symbol: o.symbol,
            side: o.side,
            order_type: o.order_type,
            qty: o.qty,
            quote_qty: o.quote_qty,
            price: o.price,
            time_in_force: o.time_in_force,
            post_only: o.post_only,
            reduce_only: o.reduce_only,
            position_side: o.position_side,
            trigger: o.trigger.into(),
            close_position: o.close_position,
            take_profit: o.take_profit.map(Into::into),
            stop_loss: o.stop_loss.map(Into::into),
            client_order_id: o.client_order_id.clone(),
        }
    }
}

impl From<PlaceMsg> for NewOrder {
    fn from(o: PlaceMsg) -> Self {
        NewOrder {
            symbol: o.symbol,
            side: o.side,
            order_type: o.order_type,
            qty: o.qty,
            quote_qty: o.quote_qty,
            price: o.price,
            time_in_force: o.time_in_force,
            post_only: o.post_only,
            reduce_only: o.reduce_only,
            position_side: o.position_side,
            trigger: o.trigger.into(),
            client_order_id: o.client_order_id,
            close_position: o.close_position,
            stop_loss: o.stop_loss.map(Into::into),
            take_profit: o.take_profit.map(Into::into),
        }
    }
}

/// `cancel`, `order` and `resolve`: one order, named by exactly one of the two ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRefMsg {
    pub v: u32,
    pub symbol: String,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub client_order_id: Option<String>,
}

impl OrderRefMsg {
    pub fn new(symbol: &str, which: &OrderRef) -> Self {
        let (order_id, client_order_id) = match which {
            OrderRef::OrderId(id) => (Some(id.to_string()), None),
            OrderRef::ClientOrderId(id) => (None, Some(id.to_string())),
        };
        OrderRefMsg {
            v: SCHEMA,
            symbol: symbol.to_owned(),
            order_id,
            client_order_id,
        }
    }

    pub fn order_ref(&self) -> Result<OrderRef> {
        match (&self.order_id, &self.client_order_id) {
            (Some(id), None) if !id.is_empty() => Ok(OrderRef::OrderId(Id::new(id))),
            (None, Some(id)) if !id.is_empty() => Ok(OrderRef::ClientOrderId(Id::new(id))),
            _ => Err(Error::invalid_argument(
                "order_id",
                "name the order by exactly one non-empty order_id or client_order_id",
            )),
        }
    }
}

/// `...cmd.<label>.amend`: a new quantity and/or price of an open LIMIT order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendMsg {
    pub v: u32,
    pub order: OrderRefMsg,
    #[serde(with = "opt_money")]
    pub qty: Option<Decimal>,
    #[serde(with = "opt_money")]
    pub price: Option<Decimal>,
    /// The client id of the replacement, where the venue replaces instead of amending.
    #[serde(default)]
    pub replacement_client_order_id: Option<String>,
}

/// `...cmd.<label>.replace`: cancel `cancel` and place `place` in one request. Like a place,
/// answered once per new client order id (`resolve` asks for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaceMsg {
    pub v: u32,
    pub cancel: OrderRefMsg,
    pub place: PlaceMsg,
}

/// `cancel_all`, `open_orders`, `positions`, `balances`: a symbol, or all (`null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeMsg {
    pub v: u32,
    #[serde(default)]
    pub symbol: Option<String>,
}

/// The reply to `place`, `cancel`, `order`, `resolve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderMsg {
    pub v: u32,
    pub order: OrderBody,
}

/// The reply to `open_orders` and `cancel_all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersMsg {
    pub v: u32,
    pub orders: Vec<OrderBody>,
}

/// The reply to `balances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancesMsg {
    pub v: u32,
    pub balances: Vec<BalanceMsg>,
}

/// The reply to `positions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionsMsg {
    pub v: u32,
    pub positions: Vec<PositionMsg>,
}

/// A venue's own answer inside an error reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueReplyBody {
    #[serde(with = "text")]
    pub venue: Venue,
    pub code: Option<i64>,
    pub message: String,
    pub http_status: Option<u16>,
    pub request: Option<String>,
}

impl From<&VenueReply> for VenueReplyBody {
    fn from(r: &VenueReply) -> Self {
        VenueReplyBody {
            venue: r.venue,
            code: r.code,
            message: r.message.clone(),
            http_status: r.http_status,
            request: r.request.clone(),
        }
    }
}

impl From<VenueReplyBody> for VenueReply {
    fn from(r: VenueReplyBody) -> Self {
        VenueReply {
            venue: r.venue,
            code: r.code,
            message: r.message,
            http_status: r.http_status,
            request: r.request,
        }
    }
}

impl ErrorMsg {
    /// The error as a reader gets it back ([`ErrorMsg::into_error`]): its class and the
    /// fields that class carries.
    pub fn from_error(error: &Error) -> ErrorMsg {
        let mut msg = ErrorMsg::new(error_kind(error), error.to_string());
        let body = &mut msg.error;
        match error {
            Error::InvalidArgument { field, reason } => {
                body.field = Some(field.clone());
                body.message = reason.clone();
            }
            Error::InvalidOrder {
                rule,
                message,
                reply,
            } => {
                body.rule = Some(rule.clone());
                body.message = message.clone();
                body.reply = reply.as_ref().map(VenueReplyBody::from);
            }
            Error::RateLimited { reply, retry_after } => {
                body.reply = Some(reply.into());
                body.retry_after_ms = retry_after.map(|d| d.as_millis() as u64);
            }
            Error::Banned { reply, until_ms } => {
                body.reply = Some(reply.into());
                body.until_ms = Some(*until_ms);
            }
            Error::Exchange(reply) | Error::Auth(reply) | Error::OrderNotFound(reply) => {
                body.reply = Some(reply.into());
            }
            Error::CircuitOpen { venue, retry_in } => {
                body.venue = Some(*venue);
                body.retry_after_ms = Some(retry_in.as_millis() as u64);
            }
            Error::Timeout { after, .. } => body.retry_after_ms = Some(after.as_millis() as u64),
            Error::ConnectionLost(reason) | Error::Denied(reason) => body.message = reason.clone(),
            Error::Protocol { venue, reason } => {
                body.venue = Some(*venue);
                body.message = reason.clone();
            }
            _ => {}
        }
        msg
    }

    /// The typed error this reply stands for; `asked` names the request in errors that
    /// only have text.
    pub fn into_error(self, asked: &str) -> Error {
        let ErrorBody {
            kind,
            message,
            field,
            rule,
            reply,
            retry_after_ms,
            until_ms,
            venue,
        } = self.error;
        let reply = reply.map(VenueReply::from);
        let millis = |ms: Option<u64>| Duration::from_millis(ms.unwrap_or(0));
        match (kind.as_str(), reply) {
            ("invalid_argument", _) => {
                Error::invalid_argument(field.unwrap_or_else(|| "request".into()), message)
            }
            ("invalid_order", reply) => Error::InvalidOrder {
                rule: rule.unwrap_or_default(),
                message,
                reply,
            },
            ("rate_limited", Some(reply)) => Error::RateLimited {
                reply,
                retry_after: retry_after_ms.map(Duration::from_millis),
            },
            ("banned", Some(reply)) => Error::Banned {
                reply,
                until_ms: until_ms.unwrap_or(0),
            },
            ("auth", Some(reply)) => Error::Auth(reply),
            ("order_not_found", Some(reply)) => Error::OrderNotFound(reply),
            ("exchange", Some(reply)) => Error::Exchange(reply),
            ("circuit_open", _) if venue.is_some() => Error::CircuitOpen {
                venue: venue.unwrap_or(Venue::Binance),
                retry_in: millis(retry_after_ms),
            },
            ("timeout", _) => Error::Timeout {
                what: format!("the gateway's venue request for {asked}"),
                after: millis(retry_after_ms),
            },
            ("connection_lost", _) => Error::ConnectionLost(message),
            ("protocol", _) if venue.is_some() => Error::Protocol {
                venue: venue.unwrap_or(Venue::Binance),
                reason: message,
            },
            ("denied", _) => Error::Denied(message),
            _ => Error::Failed(format!("the gateway answered {asked}: {message}")),
        }
    }
}

/// The error class in an [`ErrorMsg`].
pub fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::InvalidArgument { .. } => "invalid_argument",
        Error::InvalidOrder { .. } => "invalid_order",
        Error::RateLimited { .. } => "rate_limited",
        Error::Banned { .. } => "banned",
        Error::Auth(_) => "auth",
        Error::OrderNotFound(_) => "order_not_found",
        Error::Exchange(_) => "exchange",
        Error::CircuitOpen { .. } => "circuit_open",
        Error::Timeout { .. } => "timeout",
        Error::ConnectionLost(_) => "connection_lost",
        Error::Protocol { .. } => "protocol",
        Error::Denied(_) => "denied",
        _ => "failed",
    }
}

/// Enumerations that may be absent.
pub(super) mod opt_text {
    use super::*;

    pub fn serialize<T: Display, S: Serializer>(
        value: &Option<T>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T, D>(d: D) -> std::result::Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        match Option::<Cow<str>>::deserialize(d)? {
            Some(text) => text.parse().map(Some).map_err(D::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        Order {
            source: Source {
                venue: Venue::Bybit,
                market: Market::Linear,
            },
            symbol: Symbol::new("BTCUSDT"),
            order_id: Id::new("abc-1"),
            client_order_id: Id::new("tw123"),
            side: Side::Buy,
            order_type: OrderType::Limit,
            time_in_force: Some(TimeInForce::Gtc),
            price: Some(parse_decimal("65000.50").unwrap()),
            qty: Some(parse_decimal("0.010").unwrap()),
            quote_qty: None,
            filled_qty: parse_decimal("0.004").unwrap(),
            avg_price: Some(parse_decimal("65000.5").unwrap()),
            status: OrderStatus::PartiallyFilled,
            reduce_only: false,
            position_side: Some(PositionSide::Long),
            trigger: Some(Trigger {
                price: parse_decimal("64000.0").unwrap(),
                direction: Some(TriggerDirection::Fall),
                by: TriggerBy::Mark,
                trailing: None,
            }),
            created_time_ms: 1,
            updated_time_ms: 2,
            reject_reason: None,
            parent_client_order_id: Some(Id::new("entry-1")),
            stop_loss: Some(Exit {
                trigger: parse_decimal("63000").unwrap(),
                price: Some(parse_decimal("62990.5").unwrap()),
                by: TriggerBy::Index,
            }),
            take_profit: None,
        }
    }

    #[test]
    fn an_order_update_reads_back_exactly() {
        let o = order();
        let update = OrderUpdate {
            fill: Some(Fill {
                source: o.source,
                symbol: o.symbol,
                order_id: o.order_id.clone(),
                client_order_id: o.client_order_id.clone(),
                trade_id: Id::new("t9"),
                side: Side::Buy,
                price: parse_decimal("65000.50").unwrap(),
                qty: parse_decimal("0.004").unwrap(),
                fee: parse_decimal("0.00000400").unwrap(),
                fee_asset: "BTC".into(),
                is_maker: true,
                exchange_time_ms: 3,
            }),
            order: o,
        };
        let text = serde_json::to_string(&OrderUpdateMsg::new(&update)).unwrap();
        assert!(text.contains(r#""price":"65000.50""#), "{text}");
        assert!(text.contains(r#""status":"PARTIALLY_FILLED""#), "{text}");
        let back: OrderUpdateMsg = serde_json::from_str(&text).unwrap();
        assert_eq!(back.into_event(), update);
        assert_eq!(
            OrderUpdateMsg::message_id(&update),
            "o:tw123:abc-1:PARTIALLY_FILLED:0.004:t9:65000.5:0.01:2"
        );
        // An amendment (same status and filled) is another change; its repeat is the same.
        let mut amended = update.clone();
        amended.fill = None;
        amended.order.qty = Some(parse_decimal("0.008").unwrap());
        amended.order.updated_time_ms = 5;
        let id = OrderUpdateMsg::message_id(&amended);
        assert_ne!(id, OrderUpdateMsg::message_id(&update));
        assert_eq!(id, OrderUpdateMsg::message_id(&amended.clone()));
    }

    #[test]
    fn a_place_reads_back_as_the_same_new_order() {
        let new = NewOrder {
            symbol: Symbol::new("ETHUSDT"),
            side: Side::Sell,
            order_type: OrderType::Market,
            qty: None,
            quote_qty: Some(parse_decimal("100.00").unwrap()),
            price: None,
            time_in_force: None,
            post_only: false,
            reduce_only: true,
            position_side: Some(PositionSide::Short),
            trigger: Some(Trigger {
                price: parse_decimal("70000").unwrap(),
                direction: Some(TriggerDirection::Rise),
                by: TriggerBy::Last,
                trailing: None,
            }),
            client_order_id: Id::new("tw-9"),
            close_position: false,
            stop_loss: None,
            take_profit: Some(Exit {
                trigger: parse_decimal("60000").unwrap(),
                price: None,
                by: TriggerBy::Mark,
            }),
        };
        let text = serde_json::to_string(&PlaceMsg::from(&new)).unwrap();
        assert!(
            text.contains(
                r#""take_profit":{"trigger_price":"60000","price":null,"trigger_by":"MARK"}"#
            ),
            "{text}"
        );
        assert!(!text.contains("stop_loss"), "absent when none: {text}");
        assert!(text.contains(r#""position_side":"SHORT""#), "{text}");
        let back: PlaceMsg = serde_json::from_str(&text).unwrap();
        assert_eq!(NewOrder::from(back), new);
        // A one-way order's message (or an older gateway's) names no leg.
        let one_way = text.replace(r#","position_side":"SHORT""#, "");
        let back: PlaceMsg = serde_json::from_str(&one_way).unwrap();
        assert_eq!(NewOrder::from(back).position_side, None);
    }

    #[test]
    fn errors_keep_their_class_and_fields() {
        let reply = VenueReply {
            venue: Venue::Binance,
            code: Some(-2010),
            message: "Account has insufficient balance".into(),
            http_status: Some(400),
            request: Some("POST /api/v3/order".into()),
        };
        for error in [
            Error::InvalidOrder {
                rule: "insufficient_funds".into(),
                message: "no money".into(),
                reply: Some(reply.clone()),
            },
            Error::invalid_argument("qty", "must be positive"),
            Error::OrderNotFound(reply.clone()),
            Error::RateLimited {
                reply: reply.clone(),
                retry_after: Some(Duration::from_millis(1500)),
            },
            Error::Banned {
                reply: reply.clone(),
                until_ms: 99,
            },
            Error::CircuitOpen {
                venue: Venue::Bybit,
                retry_in: Duration::from_millis(250),
            },
            Error::ConnectionLost("venue socket closed".into()),
        ] {
            let text = serde_json::to_string(&ErrorMsg::from_error(&error)).unwrap();
            let back: ErrorMsg = serde_json::from_str(&text).unwrap();
            assert_eq!(back.into_error("place"), error, "{text}");
        }
    }
}
