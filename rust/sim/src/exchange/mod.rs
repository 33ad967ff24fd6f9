//! One simulated market (a venue's spot or derivatives product line): symbols with their
//! books, accounts with balances and positions, orders and the matching engine. Everything
//! here is venue-neutral; the `binance` and `bybit` modules speak the wire formats.
//!
//! This file holds the market itself: listing symbols, accounts, order look-ups, the event
//! feed and rule changes. The types are in `types`, order entry and matching in `matching`,
//! balances and holds in `funds`, positions in `positions`.

mod amend;
pub mod candles;
pub mod derivs;
mod exits;
mod funds;
mod matching;
mod positions;
mod triggers;
mod types;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use rust_decimal::Decimal;
use tokio::sync::broadcast;

pub use amend::{AmendRule, Amended};
pub use types::*;

use crate::book::{Book, Side};

#[derive(Debug)]
pub struct Exchange {
    pub kind: Kind,
    /// A post-only order that would take is booked and cancelled (Bybit) instead of rejected.
    pub post_only_cancels: bool,
    /// A reduce-only order larger than the position is trimmed to it (Bybit) instead of
    /// rejected, and one left too large is canceled instead of expired.
    pub reduce_only_trims: bool,
    /// A conditional order holds its funds from placement (Binance spot) rather than from its
    /// trigger.
    pub holds_untriggered: bool,
    pub maker_fee: Decimal,
    pub taker_fee: Decimal,
    pub symbols: BTreeMap<String, SymbolState>,
    pub accounts: Vec<Account>,
    pub orders: HashMap<u64, Order>,
    next_order_id: u64,
    /// Algo ids count apart from order ids, from far above them (as the venue's do).
    next_algo_id: u64,
    /// The last order list's id.
    next_list_id: u64,
    exec_seq: std::sync::atomic::AtomicU64,
    events: broadcast::Sender<Arc<Event>>,
}

/// Trades a symbol keeps for the venues' listings (recent trades, aggregated-trade history).
const RECENT_TRADES: usize = 100_000;

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
                    candles: candles::Candles::new(spec.start_price),
                    open_interest: spec.min_qty * Decimal::from(5000),
                };
                (spec.name.clone(), state)
            })
            .collect();
        Exchange {
            kind,
            post_only_cancels: false,
            reduce_only_trims: false,
            holds_untriggered: false,
            maker_fee,
            taker_fee,
            symbols,
            accounts: Vec::new(),
            orders: HashMap::new(),
            next_order_id: first_order_id,
            next_algo_id: 1_000_000_000_000 + first_order_id,
            next_list_id: 0,
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
            leverage: BTreeMap::new(),
            settings: Settings::default(),
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
                // The venue's own exits have no client id: an empty one names nothing.
                .filter(|o| {
                    o.account == account
                        && o.symbol == symbol
                        && !cid.is_empty()
                        && o.client_id == cid
                })
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
}

/// What the tests of every part of the market start from: one BTCUSDT spec, two funded spot
/// accounts, limit orders from strings.
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::book::Side;

    pub fn spec() -> SymbolSpec {
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

    pub fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    pub fn limit(side: Side, price: &str, qty: &str) -> NewOrder {
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
            leg: Default::default(),
            trigger: None,
            algo: false,
            close: false,
            child: None,
            exits: Default::default(),
            trail: None,
        }
    }

    pub fn spot() -> (Exchange, usize, usize) {
        let mut ex = Exchange::new(Kind::Spot, &[spec()], 1);
        let a = ex.add_account("ka", "sa", &[("USDT", d("100000")), ("BTC", d("1"))]);
        let b = ex.add_account("kb", "sb", &[("USDT", d("100000")), ("BTC", d("1"))]);
        (ex, a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Side;
    use crate::exchange::fixtures::*;

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
