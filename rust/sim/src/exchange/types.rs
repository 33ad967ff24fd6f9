//! The market's data: symbol specs and their units, orders and fills, balances and positions,
//! accounts, the events the market publishes and the venue-neutral rejects.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;

use crate::book::{Book, Lots, Side, Ticks};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Cash market: balances move asset for asset.
    Spot,
    /// Linear perpetual (Binance USD-M, Bybit linear): one-way positions, margin in the quote coin.
    Perp,
}

/// A tradable symbol: its published rules (what orders are validated against) and the units its
/// book counts in.
///
/// Books and orders hold prices and quantities as integer counts of `price_unit` and `qty_unit`,
/// fixed when the symbol is listed and kept for the whole session, while `tick` and `step` (the
/// published rules) may change: real books keep orders that rested before a tick or step change
/// off the new grid. The unit rule ([`SymbolSpec::listed`]): 10^-d, where d is the largest of 8
/// (Binance's 8 decimals hold every tick and step it publishes) and the decimals of the tick and
/// step, and of the finer legacy tick and step when the symbol has legacy levels. A later tick or
/// step must be a whole number of units ([`Exchange::set_rules`](super::Exchange::set_rules)
/// refuses others).
#[derive(Debug, Clone)]
pub struct SymbolSpec {
    pub name: String,
    pub base: String,
    pub quote: String,
    pub tick: Decimal,
    pub step: Decimal,
    pub min_qty: Decimal,
    pub max_qty: Decimal,
    pub min_notional: Decimal,
    pub start_price: Decimal,
    /// Levels a side left resting deep in the book from before the venue coarsened the tick and
    /// step: prices on a tick [`LEGACY_TICK_DIVISOR`] times finer, quantities on a step
    /// [`LEGACY_STEP_DIVISOR`] times finer (0: none, the default).
    pub legacy_levels: usize,
    /// Book units (see above); set by [`SymbolSpec::listed`], which `Exchange::new` applies to
    /// a spec whose units are still zero.
    pub price_unit: Decimal,
    pub qty_unit: Decimal,
}

/// How much finer than the current tick and step legacy levels are (as on real books: USD-M
/// CTKUSDT at tick 0.001 held levels on 0.00001; spot NKNUSDT at step 1 held 11979.3).
pub const LEGACY_TICK_DIVISOR: i64 = 100;
pub const LEGACY_STEP_DIVISOR: i64 = 10;

/// A tick or step change the market cannot apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("unknown symbol {0}")]
    UnknownSymbol(String),
    #[error("{field} must be positive, got {value}")]
    NotPositive { field: &'static str, value: Decimal },
    #[error("{field} {value} is finer than the book's unit {unit} for {symbol}")]
    FinerThanUnit {
        field: &'static str,
        value: Decimal,
        unit: Decimal,
        symbol: String,
    },
}

impl SymbolSpec {
    /// The spec with its book units fixed by the unit rule (see the type's docs).
    pub fn listed(mut self) -> SymbolSpec {
        let legacy = self.legacy_levels > 0;
        let scale = |x: Decimal, divisor: i64| {
            let own = x.normalize().scale();
            let old = if legacy {
                (x / Decimal::from(divisor)).normalize().scale()
            } else {
                0
            };
            own.max(old).max(8)
        };
        self.price_unit = Decimal::new(1, scale(self.tick, LEGACY_TICK_DIVISOR));
        self.qty_unit = Decimal::new(1, scale(self.step, LEGACY_STEP_DIVISOR));
        self
    }

    /// `value` in whole `unit`s, if it is one.
    fn units(value: Decimal, unit: Decimal) -> Option<i64> {
        let u = value / unit;
        u.fract().is_zero().then(|| u.try_into().ok()).flatten()
    }

    /// The current tick in book units.
    pub fn tick_units(&self) -> Ticks {
        Self::units(self.tick, self.price_unit).unwrap_or(1).max(1)
    }

    /// The current step in book units.
    pub fn step_units(&self) -> Lots {
        Self::units(self.step, self.qty_unit).unwrap_or(1).max(1)
    }

    /// A price an order may carry under the published rules (positive, on the current tick),
    /// in book units.
    pub fn ticks(&self, price: Decimal) -> Option<Ticks> {
        if price <= Decimal::ZERO || !(price / self.tick).fract().is_zero() {
            return None;
        }
        Self::units(price, self.price_unit)
    }

    /// A quantity an order may carry under the published rules (on the current step), in book
    /// units.
    pub fn lots(&self, qty: Decimal) -> Option<Lots> {
        if qty < Decimal::ZERO || !(qty / self.step).fract().is_zero() {
            return None;
        }
        Self::units(qty, self.qty_unit)
    }

    /// Any price on the book's unit grid (legacy levels), in book units.
    pub fn price_units(&self, price: Decimal) -> Option<Ticks> {
        Self::units(price, self.price_unit).filter(|u| *u > 0)
    }

    /// Any quantity on the book's unit grid, in book units.
    pub fn qty_units(&self, qty: Decimal) -> Option<Lots> {
        Self::units(qty, self.qty_unit).filter(|u| *u >= 0)
    }

    pub fn price(&self, ticks: Ticks) -> Decimal {
        (Decimal::from(ticks) * self.price_unit)
            .normalize()
            .max(Decimal::ZERO)
    }

    pub fn qty(&self, lots: Lots) -> Decimal {
        (Decimal::from(lots) * self.qty_unit).normalize()
    }

    pub fn notional(&self, ticks: Ticks, lots: Lots) -> Decimal {
        self.price(ticks) * self.qty(lots)
    }

    /// Decimals of the published tick (a legacy price may need more: print it exactly).
    pub fn price_decimals(&self) -> u32 {
        self.tick.normalize().scale()
    }

    pub fn qty_decimals(&self) -> u32 {
        self.step.normalize().scale()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    Limit,
    Market,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tif {
    Gtc,
    Ioc,
    Fok,
    PostOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A conditional order waiting for its trigger (off the book).
    Untriggered,
    /// A conditional order whose trigger fired, on its way to the book.
    Triggered,
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
    Expired,
}

impl Status {
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Untriggered | Status::Triggered | Status::New | Status::PartiallyFilled
        )
    }

    /// On the book or matching (a conditional order only once triggered).
    pub fn is_working(self) -> bool {
        matches!(self, Status::New | Status::PartiallyFilled)
    }
}

/// A conditional order's trigger: it fires when the watched price reaches `price` rising to
/// it (`rises`) or falling to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    pub price: Decimal,
    pub rises: bool,
    pub by: Watch,
}

/// The price a trigger watches. The simulator has no index: it watches the mark for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Watch {
    #[default]
    Last,
    Mark,
    Index,
}

impl Trigger {
    pub fn reached(self, watched: Decimal) -> bool {
        if self.rises {
            watched >= self.price
        } else {
            watched <= self.price
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Balance {
    pub free: Decimal,
    pub locked: Decimal,
}

/// A position (one-way, or one hedge-mode leg); `size` is signed (negative = short: a short
/// leg's size is never positive, a long leg's never negative).
#[derive(Debug, Clone, Default)]
pub struct Position {
    pub size: Decimal,
    pub entry: Decimal,
    pub realized: Decimal,
    pub updated_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub api_key: String,
    pub secret: String,
    /// A second API key of the account whose requests are signed with Ed25519: `(key, public key)`.
    pub ed25519: Option<(String, [u8; 32])>,
    pub balances: BTreeMap<String, Balance>,
    /// By symbol and leg.
    pub positions: BTreeMap<(String, Leg), Position>,
    /// Leverage by symbol (both legs of a hedge-mode symbol share it); 20 unless set.
    pub leverage: BTreeMap<String, Decimal>,
    pub settings: Settings,
}

/// A fill of one order.
#[derive(Debug, Clone)]
pub struct FillRec {
    pub trade_id: u64,
    pub price: Decimal,
    pub qty: Decimal,
    pub fee: Decimal,
    pub fee_asset: String,
    pub is_maker: bool,
    pub time_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: u64,
    pub client_id: String,
    pub account: usize,
    pub symbol: String,
    pub side: Side,
    pub kind: OrderKind,
    pub tif: Tif,
    pub price: Option<Ticks>,
    /// Ordered quantity in lots (for a market order by quote amount: what it ended up buying).
    pub lots: Lots,
    pub quote_qty: Option<Decimal>,
    pub filled: Lots,
    pub cum_quote: Decimal,
    pub status: Status,
    pub reduce_only: bool,
    /// The position leg it trades.
    pub leg: Leg,
    /// A conditional order's trigger, and whether it fired.
    pub trigger: Option<Trigger>,
    pub triggered: bool,
    /// Where an algo service keeps conditional orders (Binance USD-M): the algo id it is named
    /// by until it triggers (its `id` is the order it becomes, unknown to the user till then).
    pub algo: Option<u64>,
    /// The one-cancels-the-other list it is a leg of.
    pub list: Option<ListLink>,
    /// A conditional order closing the whole position it meets when it triggers (its `lots`
    /// are 0 until then).
    pub close: bool,
    /// The exits it arms as it fills, and, for an exit the venue placed, what it is.
    pub exits: Exits,
    pub child: Option<Child>,
    pub trail: Option<Trail>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Funds held for the unfilled part: quote (spot buy), base (spot sell) or margin (perp).
    pub held: Decimal,
    pub fills: Vec<FillRec>,
    /// Why the venue ended it on its own (Bybit's `rejectReason` words).
    pub reject: Option<&'static str>,
}

/// A leg's order list (Binance spot OCO): its id, client id and the other leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListLink {
    pub id: u64,
    pub client_id: String,
    pub partner: u64,
}

/// Why an execution report was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecKind {
    New,
    Trade,
    Canceled,
    Expired,
    Rejected,
    /// Amended in place (Binance spot `REPLACED`, USD-M `AMENDMENT`).
    Amended,
}

#[derive(Debug, Clone)]
pub enum Event {
    Trade {
        symbol: String,
        id: u64,
        price: Decimal,
        qty: Decimal,
        taker: Side,
        time_ms: i64,
    },
    Execution {
        account: usize,
        order: Box<Order>,
        kind: ExecKind,
        fill: Option<FillRec>,
        /// Unique per execution report (Binance `I`), increasing.
        seq: u64,
    },
    Balances {
        account: usize,
        assets: Vec<(String, Balance)>,
        time_ms: i64,
    },
    /// A position of `symbol` changed (readers list its legs as they are now).
    Position {
        account: usize,
        symbol: String,
        time_ms: i64,
    },
    /// A forced liquidation: its order's `side` (a sell closes a long).
    Liquidation {
        symbol: String,
        side: Side,
        price: Decimal,
        qty: Decimal,
        time_ms: i64,
    },
}

/// A rejected request, in venue-neutral terms the wire modules translate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("unknown symbol")]
    UnknownSymbol,
    #[error("filter failure: {0}")]
    Filter(&'static str),
    #[error("insufficient balance")]
    InsufficientBalance,
    #[error("post-only order would take")]
    WouldTake,
    #[error("duplicate client order id")]
    DuplicateClientId,
    #[error("unknown order")]
    UnknownOrder,
    #[error("order already closed")]
    AlreadyClosed,
    #[error("invalid parameter: {0}")]
    Invalid(String),
    /// An amendment that would change nothing.
    #[error("the requested action would change no state")]
    NoChange,
    /// A keep-priority amendment that is not a quantity decrease.
    #[error("order amend (quantity increase) is not supported")]
    AmendIncrease,
    /// The order's position leg does not fit the account's position mode.
    #[error("the position side does not match the position mode")]
    LegMismatch,
    /// A reduce-only (or leg-closing) order that would not reduce the position: none held,
    /// the same direction, or (where the venue refuses rather than trims) more than held.
    #[error("reduce-only order would not reduce the position")]
    ReduceOnly,
    /// A conditional order whose trigger the last price has already reached.
    #[error("the order would trigger immediately")]
    WouldTrigger { rises: bool },
    /// A take-profit or stop-loss on the wrong side of its base price (the entry's price, or
    /// the last price for a market entry or a position).
    #[error("exit on the wrong side of the base price")]
    ExitPrice {
        take_profit: bool,
        long: bool,
        trigger: Decimal,
        base: Decimal,
    },
    /// An OCO whose prices are not take-profit beyond the last price beyond the stop.
    #[error("the relationship of the prices for the orders is not correct")]
    OcoPrices,
    /// A setting that cannot change while the symbol has a position or open orders.
    #[error("the setting cannot change with an open position or open orders")]
    Busy { position: bool },
}

#[derive(Debug, Clone)]
pub struct SymbolState {
    pub spec: SymbolSpec,
    pub book: Book,
    pub next_trade_id: u64,
    pub last_price: Decimal,
    pub recent_trades: VecDeque<(u64, Decimal, Decimal, Side, i64)>,
    pub open_24h: Decimal,
    pub high_24h: Decimal,
    pub low_24h: Decimal,
    pub volume_24h: Decimal,
    pub quote_volume_24h: Decimal,
    pub trade_count: u64,
    /// Candles of its trades.
    pub candles: super::candles::Candles,
    /// Contracts open (perpetuals).
    pub open_interest: Decimal,
}

/// 24 h figures as tickers report them.
#[derive(Debug, Clone, Copy)]
pub struct Stats24h {
    pub change: Decimal,
    /// `change / open` as a fraction (Binance prints it ×100, Bybit as is).
    pub change_ratio: Decimal,
    pub vwap: Decimal,
    pub first_trade: u64,
    pub last_trade: u64,
    pub last_qty: Decimal,
}

impl SymbolState {
    pub fn stats(&self) -> Stats24h {
        let change = self.last_price - self.open_24h;
        Stats24h {
            change,
            change_ratio: if self.open_24h.is_zero() {
                Decimal::ZERO
            } else {
                change / self.open_24h
            },
            vwap: if self.volume_24h.is_zero() {
                self.last_price
            } else {
                self.quote_volume_24h / self.volume_24h
            },
            first_trade: self.recent_trades.front().map_or(0, |t| t.0),
            last_trade: self.recent_trades.back().map_or(0, |t| t.0),
            last_qty: self.recent_trades.back().map_or(Decimal::ZERO, |t| t.2),
        }
    }

    /// Best price and size on a side; zeros when the side is empty.
    pub fn top(&self, side: Side) -> (Decimal, Decimal) {
        self.book
            .best(side)
            .map_or((Decimal::ZERO, Decimal::ZERO), |(p, q)| {
                (self.spec.price(p), self.spec.qty(q))
            })
    }
}

/// A new order as requested.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub symbol: String,
    pub side: Side,
    pub kind: OrderKind,
    pub tif: Tif,
    pub price: Option<Decimal>,
    pub qty: Option<Decimal>,
    pub quote_qty: Option<Decimal>,
    pub client_id: Option<String>,
    pub reduce_only: bool,
    /// The position leg it trades (hedge mode), or `Both` (one-way mode).
    pub leg: Leg,
    /// Makes it a conditional order.
    pub trigger: Option<Trigger>,
    /// A conditional order kept by the algo service (it gets an algo id).
    pub algo: bool,
    /// A conditional order of no quantity closing the position when it triggers.
    pub close: bool,
    /// A take-profit and stop-loss to arm when it fills (Bybit linear).
    pub exits: Exits,
    /// Set on an exit the venue itself places.
    pub child: Option<Child>,
    /// Makes a conditional order a trailing stop (its trigger then follows the price).
    pub trail: Option<Trail>,
}

/// One attached exit: when the watched price reaches `trigger`, close at MARKET, or LIMIT at
/// `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub trigger: Decimal,
    pub by: Watch,
    pub limit: Option<Decimal>,
}

/// An entry's take-profit and stop-loss (Bybit `takeProfit` / `stopLoss`): `full` makes them
/// the position's own (closing all of it, replacing any it had); otherwise each fill arms a
/// pair sized by what filled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exits {
    pub take_profit: Option<Exit>,
    pub stop_loss: Option<Exit>,
    pub full: bool,
}

impl Exits {
    pub fn any(&self) -> bool {
        self.take_profit.is_some() || self.stop_loss.is_some()
    }
}

/// What makes an order a take-profit or stop-loss the venue placed: the entry it was armed for
/// (none for a position's own), which of the two it is, and whether it closes the position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub parent: Option<u64>,
    pub parent_client_id: String,
    pub take_profit: bool,
    pub full: bool,
}

impl Trail {
    /// The trigger price of a trailing stop of `side` not yet active: one the price never
    /// reaches (a SELL's fires on a fall).
    pub fn idle(side: Side) -> Decimal {
        if side == Side::Sell {
            Decimal::ZERO
        } else {
            Decimal::MAX
        }
    }
}

/// A trailing stop's state: it fires when the last price comes back `distance` (a price, or
/// with `percent` a percentage of it) from the best price since it became active — at once, or
/// when the price reached `activation` (rising to it if `rise_activates`, else falling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trail {
    pub distance: Decimal,
    pub percent: bool,
    pub activation: Option<Decimal>,
    pub rise_activates: bool,
    /// The best price since activation (the highest for a selling stop); None until active.
    pub extreme: Option<Decimal>,
}

/// A position leg: one-way mode has one per symbol (`Both`), hedge mode a long and a short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Leg {
    #[default]
    Both,
    Long,
    Short,
}

impl Leg {
    /// Binance's `positionSide`.
    pub fn word(self) -> &'static str {
        match self {
            Leg::Both => "BOTH",
            Leg::Long => "LONG",
            Leg::Short => "SHORT",
        }
    }

    /// Bybit's `positionIdx`.
    pub fn idx(self) -> u8 {
        self as u8
    }

    /// Whether an order of `side` closes this hedge-mode leg (SELL on LONG, BUY on SHORT).
    pub fn closed_by(self, side: Side) -> bool {
        matches!(
            (self, side),
            (Leg::Long, Side::Sell) | (Leg::Short, Side::Buy)
        )
    }
}

impl Order {
    /// Its terms as a request (no price, quantity or trigger): what a funds check reads of it.
    pub fn probe(&self) -> NewOrder {
        NewOrder {
            symbol: self.symbol.clone(),
            side: self.side,
            kind: self.kind,
            tif: self.tif,
            price: None,
            qty: None,
            quote_qty: self.quote_qty,
            client_id: None,
            reduce_only: self.reduce_only,
            leg: self.leg,
            trigger: None,
            algo: false,
            close: false,
            child: None,
            exits: Default::default(),
            trail: None,
        }
    }

    /// Whether the order endpoints see it: not an algo-service order, or one that became an
    /// order of its own.
    pub fn on_order_service(&self) -> bool {
        self.algo.is_none() || self.became()
    }

    /// Whether an algo-service order became an order of its own (triggered and placed).
    pub fn became(&self) -> bool {
        self.algo.is_some()
            && self.triggered
            && self.status != Status::Triggered
            && self.reject.is_none()
    }

    /// The id the venue names it by: its algo id until it became an order, else its own.
    pub fn shown_id(&self) -> u64 {
        match self.algo {
            Some(algo) if !self.became() => algo,
            _ => self.id,
        }
    }

    /// Whether it may only reduce its leg: flagged reduce-only, closing a hedge-mode leg, or
    /// closing the position.
    pub fn reduces(&self) -> bool {
        self.reduce_only || self.close || self.leg.closed_by(self.side)
    }
}

/// A derivatives account's settings beyond leverage: which symbols are in hedge mode and
/// which use isolated margin.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub hedge: std::collections::BTreeSet<String>,
    pub isolated: std::collections::BTreeSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::fixtures::*;

    #[test]
    fn units_are_fine_enough_for_old_and_new_grids() {
        // case 0: no legacy levels: 10^-8, coarser than nothing any rule here needs.
        let s = spec();
        assert_eq!(
            (s.price_unit, s.qty_unit),
            (d("0.00000001"), d("0.00000001"))
        );
        assert_eq!((s.tick_units(), s.step_units()), (1_000_000, 1_000));
        assert_eq!(s.ticks(d("50000.01")), Some(5_000_001_000_000));
        assert_eq!(s.price(5_000_001_000_000), d("50000.01"));
        assert_eq!(s.lots(d("0.00002")), Some(2_000));
        assert_eq!(s.qty(2_000), d("0.00002"));
        // case 1: published rules refuse what the units would hold.
        assert_eq!(s.ticks(d("50000.001")), None);
        assert_eq!(s.price_units(d("50000.001")), Some(5_000_000_100_000));
        assert_eq!(s.lots(d("0.000015")), None);
        assert_eq!(s.qty_units(d("0.000015")), Some(1_500));
        assert_eq!(s.ticks(Decimal::ZERO), None);
        // case 2: legacy grids finer than 10^-8 make the unit finer.
        let fine = SymbolSpec {
            tick: d("0.0000001"),
            step: d("0.0000001"),
            legacy_levels: 3,
            ..spec()
        }
        .listed();
        assert_eq!(fine.price_unit, d("0.000000001"));
        assert_eq!(fine.qty_unit, d("0.00000001"));
    }
}
