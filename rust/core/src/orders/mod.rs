//! Orders, venue-neutral: what a caller asks for ([`NewOrder`]), how an order is named
//! ([`OrderRef`]), the local checks against symbol rules (`check.rs`) and the one state machine
//! every report of an order goes through (`state.rs`).

pub mod check;
pub mod state;

pub use check::check;
pub use state::{Applied, OrderStats, Orders};

/// Names of refusals every venue has, given as `InvalidOrder::rule` whatever the venue's code
/// (so a caller, and `tradewire.InsufficientFunds` / `PostOnlyRejected`, need not know codes).
pub mod rule {
    /// Not enough balance or margin for the order.
    pub const INSUFFICIENT_FUNDS: &str = "insufficient_funds";
    /// A post-only order would have taken liquidity: refused (Binance) or accepted and canceled
    /// at once (Bybit), told the same way.
    pub const POST_ONLY_WOULD_TAKE: &str = "post_only_would_take";
    /// An amendment that changes nothing.
    pub const NO_CHANGE: &str = "no_change";
    /// An amendment the venue makes in place only as a quantity decrease.
    pub const AMEND_INCREASE: &str = "amend_increase";
    /// An amendment down to or below what already filled (cancel the order instead).
    pub const QTY_NOT_ABOVE_FILLED: &str = "qty_not_above_filled";
    /// Only LIMIT orders can be amended.
    pub const AMEND_LIMIT_ONLY: &str = "amend_limit_only";
    /// An order the venue cannot amend in place (Binance USD-M's untriggered conditional
    /// orders) where it has no atomic cancel-replace either.
    pub const AMEND_IN_PLACE: &str = "amend_in_place";
    /// A reduce-only order (or a hedge-mode close) that cannot reduce: reduce-only on spot or
    /// on an opening order (checked locally), or no position, the same direction, or more
    /// than the position (the venue's refusal).
    pub const REDUCE_ONLY: &str = "reduce_only";
    /// A conditional order's trigger price that is not usable: not positive, or on the side of
    /// the current price where it would fire at once (the venue's refusal).
    pub const TRIGGER_PRICE: &str = "trigger_price";
    /// One-cancels-the-other prices the wrong way round: a SELL's take-profit not above its
    /// stop (a BUY's not below), or either on the wrong side of the last price (the venue's).
    pub const OCO_PRICES: &str = "oco_prices";
    /// A close-position order that is not a derivatives stop or take-profit MARKET order of no
    /// quantity closing its leg.
    pub const CLOSE_POSITION: &str = "close_position";
    /// A take-profit or stop-loss attached to an entry where it cannot be: a market that takes
    /// none, a reduce-only or close-position order, a price off the tick grid, or a trigger on
    /// the wrong side of the entry's price (a BUY's take-profit must be above it, its stop-loss
    /// below; the venue judges a MARKET entry by the last price).
    pub const EXITS: &str = "exits";
    /// A trailing stop the market does not take as asked: none there (Bybit trails a
    /// position instead), a callback rate outside the venue's bounds or finer than its step,
    /// or not a MARKET order.
    pub const TRAILING: &str = "trailing";
}

use crate::model::{
    Decimal, Exit, Id, Order, OrderStatus, OrderType, PositionSide, Side, Source, Symbol,
    TimeInForce, Trigger,
};

/// An order as the caller asks for it; `client_order_id` is always set (generated if the
/// caller gave none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub symbol: Symbol,
    pub side: Side,
    pub order_type: OrderType,
    pub qty: Option<Decimal>,
    /// MARKET on spot only: spend this much of the quote asset.
    pub quote_qty: Option<Decimal>,
    pub price: Option<Decimal>,
    /// LIMIT only; GTC when not given.
    pub time_in_force: Option<TimeInForce>,
    pub post_only: bool,
    pub reduce_only: bool,
    /// The hedge-mode leg it trades (LONG or SHORT); `None` in one-way mode.
    pub position_side: Option<PositionSide>,
    /// Makes it a conditional order (stop or take-profit): UNTRIGGERED until the watched price
    /// reaches the trigger, then an order of `order_type` (MARKET, or LIMIT at `price`).
    pub trigger: Option<Trigger>,
    /// A conditional MARKET order that closes the whole position it meets when it triggers
    /// (no `qty`; Binance USD-M `closePosition`, Bybit `closeOnTrigger` with a zero quantity).
    pub close_position: bool,
    /// A take-profit and a stop-loss armed for what this entry fills (Bybit linear).
    pub take_profit: Option<Exit>,
    pub stop_loss: Option<Exit>,
    pub client_order_id: Id,
}

impl NewOrder {
    /// The order as known before the venue answers: UNKNOWN, no venue id.
    pub fn unanswered(&self, source: Source, now_ms: i64) -> Order {
        Order {
            source,
            symbol: self.symbol,
            order_id: Id::new(""),
            client_order_id: self.client_order_id.clone(),
            side: self.side,
            order_type: self.order_type,
            time_in_force: self.effective_tif(),
            price: self.price,
            qty: self.qty,
            quote_qty: self.quote_qty,
            filled_qty: Decimal::ZERO,
            avg_price: None,
            status: OrderStatus::Unknown,
            reduce_only: self.reduces() || self.close_position,
            position_side: self.position_side,
            trigger: self.trigger,
            take_profit: self.take_profit,
            stop_loss: self.stop_loss,
            parent_client_order_id: None,
            created_time_ms: now_ms,
            updated_time_ms: now_ms,
            reject_reason: None,
        }
    }

    /// Whether it can only reduce a position: asked for, or closing its hedge-mode leg.
    pub fn reduces(&self) -> bool {
        PositionSide::reduces(self.position_side, self.side, self.reduce_only)
    }

    /// The time in force that goes on the wire (post-only is its own kind on every venue).
    pub fn effective_tif(&self) -> Option<TimeInForce> {
        match self.order_type {
            OrderType::Market => None,
            OrderType::Limit if self.post_only => Some(TimeInForce::PostOnly),
            OrderType::Limit => Some(self.time_in_force.unwrap_or(TimeInForce::Gtc)),
        }
    }
}

/// A one-cancels-the-other pair (Binance spot order lists): a take-profit resting as a
/// post-only LIMIT at `limit_price` and a stop waiting for `stop_trigger` (then MARKET, or LIMIT
/// at `stop_limit_price`), both of `side` and `qty`. When one trades or triggers, the venue
/// expires the other; canceling one cancels both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oco {
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub limit_price: Decimal,
    pub stop_trigger: Decimal,
    pub stop_limit_price: Option<Decimal>,
    pub list_client_order_id: Id,
    pub limit_client_order_id: Id,
    pub stop_client_order_id: Id,
}

impl Oco {
    /// The take-profit leg as an order of its own (what the checks see).
    pub fn limit_leg(&self) -> NewOrder {
        NewOrder {
            symbol: self.symbol,
            side: self.side,
            order_type: OrderType::Limit,
            qty: Some(self.qty),
            quote_qty: None,
            price: Some(self.limit_price),
            time_in_force: None,
            post_only: true,
            reduce_only: false,
            position_side: None,
            trigger: None,
            client_order_id: self.limit_client_order_id.clone(),
            close_position: false,
            stop_loss: None,
            take_profit: None,
        }
    }

    /// The stop leg as an order of its own: a stop fires against the side (a SELL's on a fall).
    pub fn stop_leg(&self) -> NewOrder {
        NewOrder {
            order_type: if self.stop_limit_price.is_some() {
                OrderType::Limit
            } else {
                OrderType::Market
            },
            price: self.stop_limit_price,
            post_only: false,
            trigger: Some(Trigger {
                price: self.stop_trigger,
                direction: Some(crate::model::TriggerKind::Stop.direction(self.side)),
                by: crate::model::TriggerBy::Last,
                trailing: None,
            }),
            client_order_id: self.stop_client_order_id.clone(),
            ..self.limit_leg()
        }
    }

    /// Whether the take-profit is on the profit side of the stop (a SELL's above, a BUY's below).
    pub fn prices_in_order(&self) -> bool {
        match self.side {
            Side::Buy => self.limit_price < self.stop_trigger,
            Side::Sell => self.limit_price > self.stop_trigger,
        }
    }
}

/// A position's own exits to set (Bybit `trading-stop`, full mode): each closes the whole
/// position at MARKET when it fires. A zero trigger (or distance) removes one; `None` leaves
/// it as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PositionExits {
    /// The hedge-mode leg; `None` in one-way mode.
    pub position_side: Option<PositionSide>,
    pub take_profit: Option<Exit>,
    pub stop_loss: Option<Exit>,
    /// A trailing stop: the price distance it keeps behind the best price since it became
    /// active, and the price that makes it active (at once if `None`).
    pub trailing_stop: Option<Decimal>,
    pub activation_price: Option<Decimal>,
}

/// How the caller names an existing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    OrderId(Id),
    ClientOrderId(Id),
}
