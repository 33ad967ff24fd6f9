//! One simulated market (a venue's spot or derivatives product line): symbols with their
//! books, accounts with balances and positions, orders and the matching engine. Everything
//! here is venue-neutral; the `binance` and `bybit` modules speak the wire formats.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use rust_decimal::Decimal;
use tokio::sync::broadcast;

use crate::book::{Book, Lots, Match, Owner, Side, Ticks, crosses};

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
/// step must be a whole number of units ([`Exchange::set_rules`] refuses others).
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
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
    Expired,
}

impl Status {
    pub fn is_open(self) -> bool {
        matches!(self, Status::New | Status::PartiallyFilled)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Balance {
    pub free: Decimal,
    pub locked: Decimal,
}

/// A one-way position; `size` is signed (negative = short).
#[derive(Debug, Clone)]
pub struct Position {
    pub size: Decimal,
    pub entry: Decimal,
    pub realized: Decimal,
    pub leverage: Decimal,
    pub updated_ms: i64,
}

impl Default for Position {
    fn default() -> Self {
        Position {
            size: Decimal::ZERO,
            entry: Decimal::ZERO,
            realized: Decimal::ZERO,
            leverage: Decimal::from(20),
            updated_ms: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub api_key: String,
    pub secret: String,
    /// A second API key of the account whose requests are signed with Ed25519: `(key, public key)`.
    pub ed25519: Option<(String, [u8; 32])>,
    pub balances: BTreeMap<String, Balance>,
    pub positions: BTreeMap<String, Position>,
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
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Funds held for the unfilled part: quote (spot buy), base (spot sell) or margin (perp).
    pub held: Decimal,
    pub fills: Vec<FillRec>,
}

/// Why an execution report was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecKind {
    New,
    Trade,
    Canceled,
    Expired,
    Rejected,
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
    Position {
        account: usize,
        symbol: String,
        position: Position,
        mark: Decimal,
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
}

#[derive(Debug)]
pub struct Exchange {
    pub kind: Kind,
    /// A post-only order that would take is booked and cancelled (Bybit) instead of rejected.
    pub post_only_cancels: bool,
    pub maker_fee: Decimal,
    pub taker_fee: Decimal,
    pub symbols: BTreeMap<String, SymbolState>,
    pub accounts: Vec<Account>,
    pub orders: HashMap<u64, Order>,
    next_order_id: u64,
    exec_seq: std::sync::atomic::AtomicU64,
    events: broadcast::Sender<Arc<Event>>,
}

const RECENT_TRADES: usize = 1000;

impl Exchange {
    pub fn new(kind: Kind, specs: &[SymbolSpec], first_order_id: u64) -> Exchange {
        let (maker_fee, taker_fee) = match kind {
            Kind::Spot => (Decimal::new(1, 3), Decimal::new(1, 3)),
            Kind::Perp => (Decimal::new(2, 4), Decimal::new(5, 4)),
        };
        let symbols = specs
            .iter()
            .map(|spec| {
                let spec = if spec.price_unit.is_zero() || spec.qty_unit.is_zero() {
                    spec.clone().listed()
                } else {
                    spec.clone()
                };
                let state = SymbolState {
                    spec: spec.clone(),
                    book: Book::default(),
                    next_trade_id: 1,
                    last_price: spec.start_price,
                    recent_trades: VecDeque::new(),
                    open_24h: spec.start_price,
                    high_24h: spec.start_price,
                    low_24h: spec.start_price,
                    volume_24h: Decimal::ZERO,
                    quote_volume_24h: Decimal::ZERO,
                    trade_count: 0,
                };
                (spec.name.clone(), state)
            })
            .collect();
        Exchange {
            kind,
            post_only_cancels: false,
            maker_fee,
            taker_fee,
            symbols,
            accounts: Vec::new(),
            orders: HashMap::new(),
            next_order_id: first_order_id,
            exec_seq: std::sync::atomic::AtomicU64::new(0),
            events: broadcast::channel(1 << 16).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(Arc::new(event));
    }

    pub fn add_account(
        &mut self,
        api_key: &str,
        secret: &str,
        balances: &[(&str, Decimal)],
    ) -> usize {
        let balances = balances
            .iter()
            .map(|(a, f)| {
                (
                    (*a).to_owned(),
                    Balance {
                        free: *f,
                        locked: Decimal::ZERO,
                    },
                )
            })
            .collect();
        self.accounts.push(Account {
            api_key: api_key.to_owned(),
            secret: secret.to_owned(),
            balances,
            ed25519: None,
            positions: BTreeMap::new(),
        });
        self.accounts.len() - 1
    }

    /// The account an API key (HMAC or Ed25519) belongs to.
    pub fn account_by_key(&self, api_key: &str) -> Option<usize> {
        self.accounts.iter().position(|a| {
            a.api_key == api_key || a.ed25519.as_ref().is_some_and(|(k, _)| k == api_key)
        })
    }

    /// The mark price used for margin and PnL: the mid of the book, else the last trade.
    pub fn mark(&self, symbol: &str) -> Decimal {
        let Some(s) = self.symbols.get(symbol) else {
            return Decimal::ZERO;
        };
        match (s.book.best(Side::Buy), s.book.best(Side::Sell)) {
            (Some((b, _)), Some((a, _))) => s.spec.price(b + a) / Decimal::TWO,
            _ => s.last_price,
        }
    }

    fn balance(&mut self, account: usize, asset: &str) -> &mut Balance {
        self.accounts[account]
            .balances
            .entry(asset.to_owned())
            .or_default()
    }

    fn emit_balances(&self, account: usize, assets: &[&str], time_ms: i64) {
        let acc = &self.accounts[account];
        let assets = assets
            .iter()
            .map(|a| {
                (
                    (*a).to_owned(),
                    acc.balances.get(*a).cloned().unwrap_or_default(),
                )
            })
            .collect();
        self.emit(Event::Balances {
            account,
            assets,
            time_ms,
        });
    }

    fn emit_position(&self, account: usize, symbol: &str, time_ms: i64) {
        let position = self.accounts[account]
            .positions
            .get(symbol)
            .cloned()
            .unwrap_or_default();
        self.emit(Event::Position {
            account,
            symbol: symbol.to_owned(),
            position,
            mark: self.mark(symbol),
            time_ms,
        });
    }

    pub fn find_order(
        &self,
        account: usize,
        symbol: &str,
        id: Option<u64>,
        client_id: Option<&str>,
    ) -> Option<&Order> {
        match (id, client_id) {
            (Some(id), _) => self
                .orders
                .get(&id)
                .filter(|o| o.account == account && o.symbol == symbol),
            (None, Some(cid)) => self
                .orders
                .values()
                .filter(|o| o.account == account && o.symbol == symbol && o.client_id == cid)
                .max_by_key(|o| o.id),
            (None, None) => None,
        }
    }

    pub fn open_orders(&self, account: usize, symbol: Option<&str>) -> Vec<&Order> {
        let mut open: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| {
                o.account == account && o.status.is_open() && symbol.is_none_or(|s| o.symbol == s)
            })
            .collect();
        open.sort_by_key(|o| o.id);
        open
    }

    /// Validates, books and matches a new order. Returns its id.
    pub fn place(&mut self, account: usize, req: NewOrder, now_ms: i64) -> Result<u64, Reject> {
        let spec = self
            .symbols
            .get(&req.symbol)
            .ok_or(Reject::UnknownSymbol)?
            .spec
            .clone();
        let price = match (req.kind, req.price) {
            (OrderKind::Limit, Some(p)) => {
                Some(spec.ticks(p).ok_or(Reject::Filter("PRICE_FILTER"))?)
            }
            (OrderKind::Limit, None) => return Err(Reject::Invalid("price".into())),
            (OrderKind::Market, _) => None,
        };
        let lots = match req.qty {
            Some(q) => {
                let lots = spec.lots(q).ok_or(Reject::Filter("LOT_SIZE"))?;
                if q < spec.min_qty || q > spec.max_qty || lots == 0 {
                    return Err(Reject::Filter("LOT_SIZE"));
                }
                lots
            }
            None if req.kind == OrderKind::Market && req.quote_qty.is_some() => 0,
            None => return Err(Reject::Invalid("quantity".into())),
        };
        if let (Some(p), true) = (price, lots > 0)
            && spec.notional(p, lots) < spec.min_notional
        {
            return Err(Reject::Filter("NOTIONAL"));
        }
        if let Some(cid) = req.client_id.as_ref().filter(|c| !c.is_empty()) {
            let taken = self
                .orders
                .values()
                .any(|o| o.account == account && o.client_id == *cid && o.status.is_open());
            if taken {
                return Err(Reject::DuplicateClientId);
            }
        }
        let book = &self.symbols[&req.symbol].book;
        let would_take = req.tif == Tif::PostOnly
            && price.is_some()
            && book
                .best(req.side.opposite())
                .is_some_and(|(best, _)| crosses(req.side, best, price));
        if would_take && !self.post_only_cancels {
            return Err(Reject::WouldTake);
        }
        // Funds: hold what the order can cost at its limit (or sweep the book for a market order).
        let held = self.required_funds(account, &spec, &req, price, lots)?;
        let id = self.next_order_id;
        self.next_order_id += 1;
        let client_id = req.client_id.clone().unwrap_or_else(|| format!("sim-{id}"));
        let order = Order {
            id,
            client_id,
            account,
            symbol: req.symbol.clone(),
            side: req.side,
            kind: req.kind,
            tif: req.tif,
            price,
            lots,
            quote_qty: req.quote_qty,
            filled: 0,
            cum_quote: Decimal::ZERO,
            status: Status::New,
            reduce_only: req.reduce_only,
            created_ms: now_ms,
            updated_ms: now_ms,
            held,
            fills: Vec::new(),
        };
        self.hold(account, &spec, req.side, held);
        self.orders.insert(id, order);
        self.report(id, ExecKind::New, None);
        self.emit_funds(account, &spec, now_ms);
        if would_take {
            // Accepted, then cancelled instead of taking liquidity (Bybit's way).
            self.finish(id, Status::Canceled, now_ms);
            return Ok(id);
        }

        if req.tif == Tif::Fok && !self.fillable(&req.symbol, req.side, price, lots) {
            self.finish(id, Status::Expired, now_ms);
            return Ok(id);
        }
        let budget = match (req.kind, req.quote_qty, req.qty) {
            (OrderKind::Market, Some(q), None) => Some(
                (q / (spec.price_unit * spec.qty_unit))
                    .trunc()
                    .try_into()
                    .map_err(|_| Reject::Invalid("quoteOrderQty".into()))?,
            ),
            _ => None,
        };
        let taker_lots = if lots == 0 { Lots::MAX } else { lots };
        let matches = self
            .symbols
            .get_mut(&req.symbol)
            .expect("checked")
            .book
            .take(req.side, price, taker_lots, budget);
        self.settle(id, &matches, now_ms);
        let order = &self.orders[&id];
        if order.status.is_open() {
            let rest = order.lots - order.filled;
            match (order.kind, order.tif) {
                (OrderKind::Limit, Tif::Gtc | Tif::PostOnly) if rest > 0 => {
                    let p = order.price.expect("limit order");
                    self.symbols
                        .get_mut(&req.symbol)
                        .expect("checked")
                        .book
                        .add(req.side, p, Owner::Order(id), rest);
                }
                _ => {
                    let by_quote = order.lots == 0;
                    let status = if order.kind == OrderKind::Market && order.filled > 0 {
                        // A market order that exhausted its quantity or budget is done.
                        if by_quote || order.filled == order.lots {
                            Status::Filled
                        } else {
                            Status::Expired
                        }
                    } else {
                        Status::Expired
                    };
                    if by_quote {
                        // Venues report what a quote-amount order bought as its quantity.
                        let o = self.orders.get_mut(&id).expect("order");
                        o.lots = o.filled;
                    }
                    self.finish(id, status, now_ms);
                }
            }
        }
        Ok(id)
    }

    fn fillable(&self, symbol: &str, side: Side, limit: Option<Ticks>, lots: Lots) -> bool {
        let book = &self.symbols[symbol].book;
        let mut available = 0;
        for (p, l) in book.levels(side.opposite(), usize::MAX) {
            if !crosses(side, p, limit) {
                break;
            }
            available += l;
            if available >= lots {
                return true;
            }
        }
        false
    }

    fn sweep_cost(&self, spec: &SymbolSpec, side: Side, lots: Lots) -> Option<Decimal> {
        let mut left = lots;
        let mut cost = Decimal::ZERO;
        for (p, l) in self.symbols[&spec.name]
            .book
            .levels(side.opposite(), usize::MAX)
        {
            let take = l.min(left);
            cost += spec.notional(p, take);
            left -= take;
            if left == 0 {
                return Some(cost);
            }
        }
        None
    }

    fn required_funds(
        &self,
        account: usize,
        spec: &SymbolSpec,
        req: &NewOrder,
        price: Option<Ticks>,
        lots: Lots,
    ) -> Result<Decimal, Reject> {
        let acc = &self.accounts[account];
        let free = |asset: &str| acc.balances.get(asset).map_or(Decimal::ZERO, |b| b.free);
        let need = match (self.kind, req.side) {
            (Kind::Spot, Side::Buy) => match (price, req.quote_qty) {
                (Some(p), _) => spec.notional(p, lots),
                (None, Some(q)) => q,
                (None, None) => self
                    .sweep_cost(spec, Side::Buy, lots)
                    .unwrap_or_else(|| free(&spec.quote)),
            },
            (Kind::Spot, Side::Sell) => match req.quote_qty {
                Some(_) => free(&spec.base),
                None => spec.qty(lots),
            },
            (Kind::Perp, _) => {
                if req.reduce_only {
                    Decimal::ZERO
                } else {
                    let leverage = acc
                        .positions
                        .get(&spec.name)
                        .map_or(Decimal::from(20), |p| p.leverage);
                    let notional = match price {
                        Some(p) => spec.notional(p, lots),
                        None => self
                            .sweep_cost(spec, req.side, lots)
                            .unwrap_or(Decimal::ZERO),
                    };
                    notional / leverage
                }
            }
        };
        let asset = match (self.kind, req.side) {
            (Kind::Spot, Side::Sell) => &spec.base,
            _ => &spec.quote,
        };
        if need > free(asset)
            || (self.kind == Kind::Spot && need.is_zero() && req.quote_qty.is_some())
        {
            return Err(Reject::InsufficientBalance);
        }
        Ok(need)
    }

    fn held_asset<'a>(&self, spec: &'a SymbolSpec, side: Side) -> &'a str {
        match (self.kind, side) {
            (Kind::Spot, Side::Sell) => &spec.base,
            _ => &spec.quote,
        }
    }

    fn hold(&mut self, account: usize, spec: &SymbolSpec, side: Side, amount: Decimal) {
        let asset = self.held_asset(spec, side).to_owned();
        let b = self.balance(account, &asset);
        b.free -= amount;
        b.locked += amount;
    }

    fn release(&mut self, account: usize, spec: &SymbolSpec, side: Side, amount: Decimal) {
        let asset = self.held_asset(spec, side).to_owned();
        let b = self.balance(account, &asset);
        b.free += amount;
        b.locked -= amount;
    }

    fn emit_funds(&self, account: usize, spec: &SymbolSpec, now_ms: i64) {
        match self.kind {
            Kind::Spot => self.emit_balances(account, &[&spec.base, &spec.quote], now_ms),
            Kind::Perp => self.emit_balances(account, &[&spec.quote], now_ms),
        }
    }

    fn report(&self, id: u64, kind: ExecKind, fill: Option<FillRec>) {
        let order = &self.orders[&id];
        let seq = self
            .exec_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        self.emit(Event::Execution {
            account: order.account,
            order: Box::new(order.clone()),
            kind,
            fill,
            seq,
        });
    }

    /// Applies matches of taker order `id` (and of any user maker orders they hit).
    fn settle(&mut self, id: u64, matches: &[Match], now_ms: i64) {
        let symbol = self.orders[&id].symbol.clone();
        for m in matches {
            let trade_id = {
                let s = self.symbols.get_mut(&symbol).expect("symbol");
                let tid = s.next_trade_id;
                s.next_trade_id += 1;
                tid
            };
            self.apply_fill(id, m.price, m.lots, trade_id, false, now_ms);
            if let Owner::Order(maker) = m.maker {
                self.apply_fill(maker, m.price, m.lots, trade_id, true, now_ms);
            }
            let taker_side = self.orders[&id].side;
            self.record_trade(&symbol, trade_id, m.price, m.lots, taker_side, now_ms);
        }
    }

    /// Records a public trade (user or synthetic) and publishes it.
    pub fn record_trade(
        &mut self,
        symbol: &str,
        id: u64,
        price: Ticks,
        lots: Lots,
        taker: Side,
        now_ms: i64,
    ) {
        let s = self.symbols.get_mut(symbol).expect("symbol");
        let (p, q) = (s.spec.price(price), s.spec.qty(lots));
        s.last_price = p;
        s.high_24h = s.high_24h.max(p);
        s.low_24h = s.low_24h.min(p);
        s.volume_24h += q;
        s.quote_volume_24h += p * q;
        s.trade_count += 1;
        s.recent_trades.push_back((id, p, q, taker, now_ms));
        if s.recent_trades.len() > RECENT_TRADES {
            s.recent_trades.pop_front();
        }
        self.emit(Event::Trade {
            symbol: symbol.to_owned(),
            id,
            price: p,
            qty: q,
            taker,
            time_ms: now_ms,
        });
    }

    /// Takes a trade id for a synthetic trade.
    pub fn next_trade_id(&mut self, symbol: &str) -> u64 {
        let s = self.symbols.get_mut(symbol).expect("symbol");
        let id = s.next_trade_id;
        s.next_trade_id += 1;
        id
    }

    fn apply_fill(
        &mut self,
        id: u64,
        price: Ticks,
        lots: Lots,
        trade_id: u64,
        is_maker: bool,
        now_ms: i64,
    ) {
        let (account, side, spec, limit) = {
            let o = &self.orders[&id];
            (
                o.account,
                o.side,
                self.symbols[&o.symbol].spec.clone(),
                o.price,
            )
        };
        let qty = spec.qty(lots);
        let px = spec.price(price);
        let notional = px * qty;
        let rate = if is_maker {
            self.maker_fee
        } else {
            self.taker_fee
        };
        let (fee, fee_asset) = match (self.kind, side) {
            (Kind::Spot, Side::Buy) => (qty * rate, spec.base.clone()),
            _ => (notional * rate, spec.quote.clone()),
        };
        // Release the part of the hold this fill used, then move the assets.
        let used = match (self.kind, side, limit) {
            (Kind::Spot, Side::Buy, Some(l)) => spec.notional(l, lots),
            (Kind::Spot, Side::Buy, None) => notional,
            (Kind::Spot, Side::Sell, _) => qty,
            (Kind::Perp, _, _) => {
                let o = &self.orders[&id];
                if o.lots > 0 {
                    o.held * Decimal::from(lots) / Decimal::from(o.lots - o.filled)
                } else {
                    o.held
                }
            }
        };
        let used = used.min(self.orders[&id].held);
        self.orders.get_mut(&id).expect("order").held -= used;
        self.release(account, &spec, side, used);
        match self.kind {
            Kind::Spot => {
                let (pay, pay_amt, get, get_amt) = match side {
                    Side::Buy => (&spec.quote, notional, &spec.base, qty - fee),
                    Side::Sell => (&spec.base, qty, &spec.quote, notional - fee),
                };
                self.balance(account, pay).free -= pay_amt;
                self.balance(account, get).free += get_amt;
            }
            Kind::Perp => {
                let realized = self.apply_position(account, &spec.name, side, qty, px, now_ms);
                self.balance(account, &spec.quote).free += realized - fee;
            }
        }
        let fill = FillRec {
            trade_id,
            price: px,
            qty,
            fee,
            fee_asset,
            is_maker,
            time_ms: now_ms,
        };
        let o = self.orders.get_mut(&id).expect("order");
        o.filled += lots;
        o.cum_quote += notional;
        o.updated_ms = now_ms;
        o.fills.push(fill.clone());
        let done = o.lots > 0 && o.filled >= o.lots;
        o.status = if done {
            Status::Filled
        } else {
            Status::PartiallyFilled
        };
        if o.status == Status::Filled && o.held > Decimal::ZERO {
            let rest = o.held;
            o.held = Decimal::ZERO;
            self.release(account, &spec, side, rest);
        }
        self.report(id, ExecKind::Trade, Some(fill));
        self.emit_funds(account, &spec, now_ms);
        if self.kind == Kind::Perp {
            self.emit_position(account, &spec.name, now_ms);
        }
    }

    /// Updates a one-way position by a fill; returns the PnL realised by any reduction.
    fn apply_position(
        &mut self,
        account: usize,
        symbol: &str,
        side: Side,
        qty: Decimal,
        price: Decimal,
        now_ms: i64,
    ) -> Decimal {
        let pos = self.accounts[account]
            .positions
            .entry(symbol.to_owned())
            .or_default();
        let signed = if side == Side::Buy { qty } else { -qty };
        let mut realized = Decimal::ZERO;
        if pos.size.is_zero() || pos.size.is_sign_positive() == signed.is_sign_positive() {
            let new_size = pos.size + signed;
            pos.entry = (pos.entry * pos.size.abs() + price * qty) / new_size.abs();
            pos.size = new_size;
        } else {
            let closing = qty.min(pos.size.abs());
            let direction = if pos.size.is_sign_positive() {
                Decimal::ONE
            } else {
                -Decimal::ONE
            };
            realized = (price - pos.entry) * closing * direction;
            pos.realized += realized;
            let new_size = pos.size + signed;
            if new_size.is_zero() {
                pos.entry = Decimal::ZERO;
            } else if new_size.is_sign_positive() != pos.size.is_sign_positive() {
                pos.entry = price; // flipped: the remainder opened at this price
            }
            pos.size = new_size;
        }
        pos.updated_ms = now_ms;
        realized
    }

    fn finish(&mut self, id: u64, status: Status, now_ms: i64) {
        let (account, side, spec, held) = {
            let o = self.orders.get_mut(&id).expect("order");
            o.status = status;
            o.updated_ms = now_ms;
            let held = std::mem::take(&mut o.held);
            (
                o.account,
                o.side,
                self.symbols[&o.symbol].spec.clone(),
                held,
            )
        };
        self.release(account, &spec, side, held);
        let kind = match status {
            Status::Canceled => ExecKind::Canceled,
            Status::Rejected => ExecKind::Rejected,
            _ => ExecKind::Expired,
        };
        self.report(id, kind, None);
        self.emit_funds(account, &spec, now_ms);
    }

    /// Cancels an open order.
    pub fn cancel(
        &mut self,
        account: usize,
        symbol: &str,
        id: Option<u64>,
        client_id: Option<&str>,
        now_ms: i64,
    ) -> Result<u64, Reject> {
        if !self.symbols.contains_key(symbol) {
            return Err(Reject::UnknownSymbol);
        }
        let order = self
            .find_order(account, symbol, id, client_id)
            .ok_or(Reject::UnknownOrder)?;
        if !order.status.is_open() {
            return Err(Reject::AlreadyClosed);
        }
        let (oid, side, price) = (order.id, order.side, order.price);
        if let Some(p) = price {
            self.symbols
                .get_mut(symbol)
                .expect("symbol")
                .book
                .remove_order(side, p, oid);
        }
        self.finish(oid, Status::Canceled, now_ms);
        Ok(oid)
    }

    /// Runs a synthetic taker of `lots` up to `limit` against the book (the market's own flow);
    /// user orders it hits get their fills.
    pub fn synthetic_take(
        &mut self,
        symbol: &str,
        side: Side,
        limit: Option<Ticks>,
        lots: Lots,
        now_ms: i64,
    ) {
        let matches = self
            .symbols
            .get_mut(symbol)
            .expect("symbol")
            .book
            .take(side, limit, lots, None);
        for m in matches {
            let trade_id = self.next_trade_id(symbol);
            if let Owner::Order(maker) = m.maker {
                self.apply_fill(maker, m.price, m.lots, trade_id, true, now_ms);
            }
            self.record_trade(symbol, trade_id, m.price, m.lots, side, now_ms);
        }
    }

    pub fn set_leverage(
        &mut self,
        account: usize,
        symbol: &str,
        leverage: Decimal,
    ) -> Result<(), Reject> {
        if !self.symbols.contains_key(symbol) {
            return Err(Reject::UnknownSymbol);
        }
        if leverage < Decimal::ONE || leverage > Decimal::from(125) {
            return Err(Reject::Invalid("leverage".into()));
        }
        self.accounts[account]
            .positions
            .entry(symbol.to_owned())
            .or_default()
            .leverage = leverage;
        Ok(())
    }

    /// Publishes a new tick and/or step for `symbol`. Resting orders (the account's and the
    /// synthetic market's) stay where they are, off the new grid if they must; new orders are
    /// validated against the new rules and new synthetic quotes go on the new grid. The minimum
    /// quantity follows the step when it was the step before (as the listed specs have it).
    pub fn set_rules(
        &mut self,
        symbol: &str,
        tick: Option<Decimal>,
        step: Option<Decimal>,
    ) -> Result<(), RulesError> {
        let spec = &mut self
            .symbols
            .get_mut(symbol)
            .ok_or_else(|| RulesError::UnknownSymbol(symbol.to_owned()))?
            .spec;
        for (field, value, unit) in [
            ("tick", tick, spec.price_unit),
            ("step", step, spec.qty_unit),
        ] {
            let Some(value) = value else { continue };
            if value <= Decimal::ZERO {
                return Err(RulesError::NotPositive { field, value });
            }
            if !(value / unit).fract().is_zero() {
                return Err(RulesError::FinerThanUnit {
                    field,
                    value,
                    unit,
                    symbol: symbol.to_owned(),
                });
            }
        }
        if let Some(tick) = tick {
            spec.tick = tick;
        }
        if let Some(step) = step {
            if spec.min_qty == spec.step {
                spec.min_qty = step;
            }
            spec.step = step;
        }
        Ok(())
    }

    /// Unrealised PnL of a position at the current mark.
    pub fn unrealized(&self, account: usize, symbol: &str) -> Decimal {
        self.accounts[account]
            .positions
            .get(symbol)
            .map_or(Decimal::ZERO, |p| (self.mark(symbol) - p.entry) * p.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SymbolSpec {
        SymbolSpec {
            name: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            tick: Decimal::new(1, 2),
            step: Decimal::new(1, 5),
            min_qty: Decimal::new(1, 5),
            max_qty: Decimal::from(9000),
            min_notional: Decimal::from(5),
            start_price: Decimal::from(50_000),
            legacy_levels: 0,
            price_unit: Decimal::ZERO,
            qty_unit: Decimal::ZERO,
        }
        .listed()
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn limit(side: Side, price: &str, qty: &str) -> NewOrder {
        NewOrder {
            symbol: "BTCUSDT".into(),
            side,
            kind: OrderKind::Limit,
            tif: Tif::Gtc,
            price: Some(d(price)),
            qty: Some(d(qty)),
            quote_qty: None,
            client_id: None,
            reduce_only: false,
        }
    }

    fn spot() -> (Exchange, usize, usize) {
        let mut ex = Exchange::new(Kind::Spot, &[spec()], 1);
        let a = ex.add_account("ka", "sa", &[("USDT", d("100000")), ("BTC", d("1"))]);
        let b = ex.add_account("kb", "sb", &[("USDT", d("100000")), ("BTC", d("1"))]);
        (ex, a, b)
    }

    #[test]
    fn resting_limit_locks_funds_and_fills_move_balances_exactly() {
        let (mut ex, a, b) = spot();
        let id = ex
            .place(a, limit(Side::Buy, "50000.00", "0.10000"), 1)
            .unwrap();
        assert_eq!(ex.accounts[a].balances["USDT"].locked, d("5000"));
        assert_eq!(ex.orders[&id].status, Status::New);
        // b sells 0.04 into it: a is maker (fee 0.1% of base received), b is taker.
        ex.place(b, limit(Side::Sell, "49000.00", "0.04000"), 2)
            .unwrap();
        let o = &ex.orders[&id];
        assert_eq!(
            (o.status, ex.symbols["BTCUSDT"].spec.qty(o.filled)),
            (Status::PartiallyFilled, d("0.04"))
        );
        assert_eq!(ex.accounts[a].balances["USDT"].locked, d("3000"));
        assert_eq!(ex.accounts[a].balances["USDT"].free, d("95000"));
        assert_eq!(ex.accounts[a].balances["BTC"].free, d("1.03996"));
        assert_eq!(
            ex.accounts[b].balances["USDT"].free,
            d("100000") + d("2000") - d("2")
        );
        assert_eq!(ex.accounts[b].balances["BTC"].free, d("0.96"));
        ex.cancel(a, "BTCUSDT", Some(id), None, 3).unwrap();
        assert_eq!(ex.accounts[a].balances["USDT"].locked, Decimal::ZERO);
        assert_eq!(ex.accounts[a].balances["USDT"].free, d("98000"));
        assert_eq!(
            ex.cancel(a, "BTCUSDT", Some(id), None, 4),
            Err(Reject::AlreadyClosed)
        );
    }

    #[test]
    fn filters_and_funds_are_checked_before_booking() {
        let (mut ex, a, _) = spot();
        assert_eq!(
            ex.place(a, limit(Side::Buy, "50000.001", "0.1"), 1),
            Err(Reject::Filter("PRICE_FILTER"))
        );
        assert_eq!(
            ex.place(a, limit(Side::Buy, "50000", "0.000001"), 1),
            Err(Reject::Filter("LOT_SIZE"))
        );
        assert_eq!(
            ex.place(a, limit(Side::Buy, "1", "0.001"), 1),
            Err(Reject::Filter("NOTIONAL"))
        );
        assert_eq!(
            ex.place(a, limit(Side::Buy, "50000", "3"), 1),
            Err(Reject::InsufficientBalance)
        );
        assert!(ex.orders.is_empty());
    }

    #[test]
    fn market_by_quote_spends_at_most_the_amount() {
        let (mut ex, a, b) = spot();
        ex.place(b, limit(Side::Sell, "50000.00", "0.5"), 1)
            .unwrap();
        let req = NewOrder {
            kind: OrderKind::Market,
            price: None,
            qty: None,
            quote_qty: Some(d("1000")),
            ..limit(Side::Buy, "1", "1")
        };
        let id = ex.place(a, req, 2).unwrap();
        let o = &ex.orders[&id];
        assert_eq!(o.status, Status::Filled);
        assert_eq!(o.cum_quote, d("1000"));
        assert_eq!(ex.accounts[a].balances["USDT"].free, d("99000"));
        assert_eq!(ex.accounts[a].balances["USDT"].locked, Decimal::ZERO);
    }

    #[test]
    fn post_only_ioc_and_fok() {
        let (mut ex, a, b) = spot();
        ex.place(b, limit(Side::Sell, "50000.00", "0.1"), 1)
            .unwrap();
        let post = NewOrder {
            tif: Tif::PostOnly,
            ..limit(Side::Buy, "50000.00", "0.1")
        };
        assert_eq!(ex.place(a, post, 2), Err(Reject::WouldTake));
        let fok = NewOrder {
            tif: Tif::Fok,
            ..limit(Side::Buy, "50000.00", "0.2")
        };
        let id = ex.place(a, fok, 3).unwrap();
        assert_eq!(
            (ex.orders[&id].status, ex.orders[&id].filled),
            (Status::Expired, 0)
        );
        let ioc = NewOrder {
            tif: Tif::Ioc,
            ..limit(Side::Buy, "50000.00", "0.2")
        };
        let id = ex.place(a, ioc, 4).unwrap();
        assert_eq!(
            (
                ex.orders[&id].status,
                ex.symbols["BTCUSDT"].spec.qty(ex.orders[&id].filled)
            ),
            (Status::Expired, d("0.1"))
        );
        assert_eq!(ex.accounts[a].balances["USDT"].locked, Decimal::ZERO);
    }

    #[test]
    fn perp_positions_realise_pnl_on_reduction() {
        let mut ex = Exchange::new(Kind::Perp, &[spec()], 1);
        let a = ex.add_account("ka", "sa", &[("USDT", d("10000"))]);
        let b = ex.add_account("kb", "sb", &[("USDT", d("10000"))]);
        ex.place(b, limit(Side::Sell, "50000.00", "0.1"), 1)
            .unwrap();
        ex.place(a, limit(Side::Buy, "50000.00", "0.1"), 2).unwrap();
        assert_eq!(ex.accounts[a].positions["BTCUSDT"].size, d("0.1"));
        assert_eq!(ex.accounts[b].positions["BTCUSDT"].size, d("-0.1"));
        ex.place(b, limit(Side::Buy, "51000.00", "0.05"), 3)
            .unwrap();
        ex.place(a, limit(Side::Sell, "51000.00", "0.05"), 4)
            .unwrap();
        let pa = &ex.accounts[a].positions["BTCUSDT"];
        assert_eq!(
            (pa.size, pa.entry, pa.realized),
            (d("0.05"), d("50000"), d("50"))
        );
        // a paid taker fee on the open (0.05% of 5000) and maker fee... a was taker both times.
        assert_eq!(
            ex.accounts[a].balances["USDT"].free + ex.accounts[a].balances["USDT"].locked,
            d("10000") - d("2.5") + d("50") - d("1.275")
        );
    }

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

    #[test]
    fn a_rule_change_validates_new_orders_and_keeps_resting_ones() {
        let (mut ex, a, _) = spot();
        let old = ex
            .place(a, limit(Side::Buy, "40000.01", "0.00021"), 1)
            .unwrap();
        ex.set_rules("BTCUSDT", Some(d("0.1")), Some(d("0.0001")))
            .unwrap();
        let s = &ex.symbols["BTCUSDT"];
        assert_eq!(
            (s.spec.tick, s.spec.step, s.spec.min_qty),
            (d("0.1"), d("0.0001"), d("0.0001"))
        );
        // case 0: the old tick and step are refused now.
        assert_eq!(
            ex.place(a, limit(Side::Buy, "40000.05", "0.001"), 2),
            Err(Reject::Filter("PRICE_FILTER"))
        );
        assert_eq!(
            ex.place(a, limit(Side::Buy, "40000.1", "0.00015"), 2),
            Err(Reject::Filter("LOT_SIZE"))
        );
        // case 1: the new grid is accepted.
        let new = ex
            .place(a, limit(Side::Buy, "40000.1", "0.0002"), 3)
            .unwrap();
        // case 2: the old order rests at its old price and quantity, off the new grid.
        let book = &ex.symbols["BTCUSDT"].book;
        let spec = &ex.symbols["BTCUSDT"].spec;
        let bids: Vec<(Decimal, Decimal)> = book
            .levels(Side::Buy, 10)
            .into_iter()
            .map(|(p, q)| (spec.price(p), spec.qty(q)))
            .collect();
        assert_eq!(
            bids,
            vec![(d("40000.1"), d("0.0002")), (d("40000.01"), d("0.00021"))]
        );
        assert!(ex.orders[&old].status.is_open() && ex.orders[&new].status.is_open());
        // case 3: a tick finer than the book's unit, or not positive, is refused.
        assert!(matches!(
            ex.set_rules("BTCUSDT", Some(d("0.000000001")), None),
            Err(RulesError::FinerThanUnit { field: "tick", .. })
        ));
        assert!(matches!(
            ex.set_rules("BTCUSDT", None, Some(Decimal::ZERO)),
            Err(RulesError::NotPositive { field: "step", .. })
        ));
        assert_eq!(
            ex.set_rules("XYZ", None, None),
            Err(RulesError::UnknownSymbol("XYZ".into()))
        );
        // case 4: a taker at the old order's price still trades with it.
        let (mut ex2, a2, b2) = spot();
        ex2.place(a2, limit(Side::Buy, "40000.01", "0.00031"), 1)
            .unwrap();
        ex2.set_rules("BTCUSDT", Some(d("1")), Some(d("0.001")))
            .unwrap();
        let sell = ex2
            .place(b2, limit(Side::Sell, "40000", "0.001"), 2)
            .unwrap();
        let o = &ex2.orders[&sell];
        assert_eq!(o.fills[0].price, d("40000.01"));
        assert_eq!(o.fills[0].qty, d("0.00031"));
    }
}
