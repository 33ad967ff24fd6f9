//! Positions of a perpetual market (one per symbol in one-way mode, a long and a short leg in
//! hedge mode): updating them by fills (realising PnL on a reduction), the reduce-only rules,
//! leverage, unrealised PnL at the mark, and the position updates it publishes.

use rust_decimal::Decimal;

use super::{Event, Exchange, Leg, Position, Reject, Status};
use crate::book::{Lots, Side};

const DEFAULT_LEVERAGE: Decimal = Decimal::from_parts(20, 0, 0, false, 0);

impl Exchange {
    /// The legs `symbol` has in the account's position mode.
    pub fn legs(&self, account: usize, symbol: &str) -> &'static [Leg] {
        if self.accounts[account].settings.hedge.contains(symbol) {
            &[Leg::Long, Leg::Short]
        } else {
            &[Leg::Both]
        }
    }

    /// One leg's position (empty if never traded).
    pub fn position(&self, account: usize, symbol: &str, leg: Leg) -> Position {
        self.accounts[account]
            .positions
            .get(&(symbol.to_owned(), leg))
            .cloned()
            .unwrap_or_default()
    }

    pub fn leverage(&self, account: usize, symbol: &str) -> Decimal {
        self.accounts[account]
            .leverage
            .get(symbol)
            .copied()
            .unwrap_or(DEFAULT_LEVERAGE)
    }

    pub(super) fn emit_position(&self, account: usize, symbol: &str, time_ms: i64) {
        self.emit(Event::Position {
            account,
            symbol: symbol.to_owned(),
            time_ms,
        });
    }

    /// Updates a leg by a fill; returns the PnL realised by any reduction.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply_position(
        &mut self,
        account: usize,
        symbol: &str,
        leg: Leg,
        side: Side,
        qty: Decimal,
        price: Decimal,
        now_ms: i64,
    ) -> Decimal {
        let pos = self.accounts[account]
            .positions
            .entry((symbol.to_owned(), leg))
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

    /// The lots the leg holds against `side`: what an order of that side may reduce.
    /// `Err` if the leg holds nothing, or holds the same direction.
    fn against(&self, account: usize, symbol: &str, leg: Leg, side: Side) -> Result<Lots, Reject> {
        let size = self.position(account, symbol, leg).size;
        let against = match side {
            Side::Buy => size.is_sign_negative(),
            Side::Sell => size.is_sign_positive(),
        };
        match self.symbols[symbol].spec.lots(size.abs()) {
            Some(lots) if against && lots > 0 => Ok(lots),
            _ => Err(Reject::ReduceOnly),
        }
    }

    /// Open reducing orders of the account on `leg`, oldest first.
    fn reducers(&self, account: usize, symbol: &str, leg: Leg) -> Vec<(u64, Side, Lots)> {
        let mut list: Vec<(u64, Side, Lots)> = self
            .orders
            .values()
            .filter(|o| {
                o.account == account
                    && o.symbol == symbol
                    && o.leg == leg
                    && o.status.is_working()
                    && o.reduces()
            })
            .map(|o| (o.id, o.side, o.lots - o.filled))
            .collect();
        list.sort_unstable_by_key(|(id, _, _)| *id);
        list
    }

    /// How many lots a new reducing order of `side` may have on `leg`: what the leg holds
    /// against it, less what the account's open reducing orders there may already take (so
    /// no set of them can ever open the other way). `Err` if there is nothing to reduce.
    pub(super) fn reducible(
        &self,
        account: usize,
        symbol: &str,
        leg: Leg,
        side: Side,
    ) -> Result<Lots, Reject> {
        let held = self.against(account, symbol, leg, side)?;
        let taken: Lots = self
            .reducers(account, symbol, leg)
            .iter()
            .filter(|(_, s, _)| *s == side)
            .map(|(_, _, rest)| rest)
            .sum();
        Ok(held.saturating_sub(taken))
    }

    /// After a leg changed: resting reducing orders that together could now take more than the
    /// leg holds end, newest first (EXPIRED on Binance, canceled on Bybit).
    pub(super) fn end_excess_reducers(
        &mut self,
        account: usize,
        symbol: &str,
        leg: Leg,
        now_ms: i64,
    ) {
        let mut left: [Lots; 2] = [Side::Buy, Side::Sell]
            .map(|side| self.against(account, symbol, leg, side).unwrap_or(0));
        let mut excess = Vec::new();
        for (id, side, rest) in self.reducers(account, symbol, leg) {
            let room = &mut left[usize::from(side == Side::Sell)];
            if rest <= *room {
                *room -= rest;
            } else {
                *room = 0;
                excess.push((id, side));
            }
        }
        let status = if self.reduce_only_trims {
            Status::Canceled
        } else {
            Status::Expired
        };
        for (id, side) in excess {
            if let Some(price) = self.orders[&id].price {
                self.symbols
                    .get_mut(symbol)
                    .expect("listed")
                    .book
                    .remove_order(side, price, id);
            }
            self.finish(id, status, now_ms);
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
            .leverage
            .insert(symbol.to_owned(), leverage);
        Ok(())
    }

    /// Puts `symbols` in hedge mode (or one-way). Nothing changes if any of them has a position
    /// or an open order; `NoChange` if all are in that mode already.
    pub fn set_hedge(
        &mut self,
        account: usize,
        symbols: &[String],
        hedge: bool,
    ) -> Result<(), Reject> {
        self.settle_settings(account, symbols, |s| &mut s.hedge, hedge)
    }

    /// Isolated (or cross) margin for `symbols`, under the same rules as [`Exchange::set_hedge`].
    pub fn set_isolated(
        &mut self,
        account: usize,
        symbols: &[String],
        isolated: bool,
    ) -> Result<(), Reject> {
        self.settle_settings(account, symbols, |s| &mut s.isolated, isolated)
    }

    fn settle_settings(
        &mut self,
        account: usize,
        symbols: &[String],
        set: impl Fn(&mut super::Settings) -> &mut std::collections::BTreeSet<String>,
        on: bool,
    ) -> Result<(), Reject> {
        if symbols.iter().any(|s| !self.symbols.contains_key(s)) {
            return Err(Reject::UnknownSymbol);
        }
        let a = &mut self.accounts[account];
        if symbols
            .iter()
            .all(|s| set(&mut a.settings).contains(s) == on)
        {
            return Err(Reject::NoChange);
        }
        let position = a
            .positions
            .iter()
            .any(|((s, _), p)| symbols.contains(s) && !p.size.is_zero());
        let orders = self
            .orders
            .values()
            .any(|o| o.account == account && o.status.is_open() && symbols.contains(&o.symbol));
        if position || orders {
            return Err(Reject::Busy { position });
        }
        let set_of = set(&mut self.accounts[account].settings);
        for s in symbols {
            if on {
                set_of.insert(s.clone());
            } else {
                set_of.remove(s);
            }
        }
        Ok(())
    }

    /// Unrealised PnL of a leg at the current mark.
    pub fn unrealized(&self, account: usize, symbol: &str, leg: Leg) -> Decimal {
        let p = self.position(account, symbol, leg);
        (self.mark(symbol) - p.entry) * p.size
    }

    /// Unrealised PnL of all the account's positions.
    pub fn total_unrealized(&self, account: usize) -> Decimal {
        self.accounts[account]
            .positions
            .iter()
            .map(|((s, _), p)| (self.mark(s) - p.entry) * p.size)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Side;
    use crate::exchange::Kind;
    use crate::exchange::fixtures::*;

    #[test]
    fn perp_positions_realise_pnl_on_reduction() {
        let mut ex = Exchange::new(Kind::Perp, &[spec()], 1);
        let a = ex.add_account("ka", "sa", &[("USDT", d("10000"))]);
        let b = ex.add_account("kb", "sb", &[("USDT", d("10000"))]);
        ex.place(b, limit(Side::Sell, "50000.00", "0.1"), 1)
            .unwrap();
        ex.place(a, limit(Side::Buy, "50000.00", "0.1"), 2).unwrap();
        assert_eq!(
            ex.accounts[a].positions[&("BTCUSDT".to_owned(), Leg::Both)].size,
            d("0.1")
        );
        assert_eq!(
            ex.accounts[b].positions[&("BTCUSDT".to_owned(), Leg::Both)].size,
            d("-0.1")
        );
        ex.place(b, limit(Side::Buy, "51000.00", "0.05"), 3)
            .unwrap();
        ex.place(a, limit(Side::Sell, "51000.00", "0.05"), 4)
            .unwrap();
        let pa = &ex.accounts[a].positions[&("BTCUSDT".to_owned(), Leg::Both)];
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

    fn perp() -> (Exchange, usize, usize) {
        let mut ex = Exchange::new(Kind::Perp, &[spec()], 1);
        let a = ex.add_account("ka", "sa", &[("USDT", d("100000"))]);
        let b = ex.add_account("kb", "sb", &[("USDT", d("100000"))]);
        (ex, a, b)
    }

    fn on(leg: Leg, order: crate::exchange::NewOrder) -> crate::exchange::NewOrder {
        crate::exchange::NewOrder { leg, ..order }
    }

    #[test]
    fn hedge_legs_are_kept_apart_and_closing_orders_only_reduce() {
        let (mut ex, a, b) = perp();
        ex.set_hedge(a, &["BTCUSDT".to_owned()], true).unwrap();
        ex.place(b, limit(Side::Sell, "50000.00", "0.1"), 1)
            .unwrap();
        ex.place(a, on(Leg::Long, limit(Side::Buy, "50000.00", "0.1")), 2)
            .unwrap();
        ex.place(b, limit(Side::Buy, "50000.00", "0.04"), 3)
            .unwrap();
        ex.place(a, on(Leg::Short, limit(Side::Sell, "50000.00", "0.04")), 4)
            .unwrap();
        let size = |ex: &Exchange, leg| ex.position(a, "BTCUSDT", leg).size;
        assert_eq!(
            (size(&ex, Leg::Long), size(&ex, Leg::Short)),
            (d("0.1"), d("-0.04"))
        );
        // A close larger than the leg is refused (Binance); one on an empty leg everywhere.
        let too_much = on(Leg::Long, limit(Side::Sell, "60000.00", "0.2"));
        assert_eq!(ex.place(a, too_much.clone(), 5), Err(Reject::ReduceOnly));
        ex.reduce_only_trims = true;
        let id = ex.place(a, too_much, 6).unwrap();
        assert_eq!(
            ex.orders[&id].lots,
            ex.symbols["BTCUSDT"].spec.lots(d("0.1")).unwrap()
        );
        assert_eq!(
            ex.place(a, on(Leg::Long, limit(Side::Sell, "60000.00", "0.01")), 7),
            Err(Reject::ReduceOnly),
            "the resting close already claims the whole leg"
        );
        // Closes that together fit the leg both trade.
        ex.cancel(a, "BTCUSDT", Some(id), None, 8).unwrap();
        let keep = ex
            .place(a, on(Leg::Long, limit(Side::Sell, "60000.00", "0.06")), 9)
            .unwrap();
        ex.place(b, limit(Side::Buy, "49000.00", "0.05"), 10)
            .unwrap();
        ex.place(a, on(Leg::Long, limit(Side::Sell, "49000.00", "0.04")), 11)
            .unwrap();
        assert_eq!(size(&ex, Leg::Long), d("0.06"));
        assert!(ex.orders[&keep].status.is_open(), "0.06 still fits the leg");
        assert_eq!(
            size(&ex, Leg::Short),
            d("-0.04"),
            "the short leg is untouched"
        );
    }

    #[test]
    fn a_resting_reduce_only_order_ends_when_the_position_shrinks_under_it() {
        let (mut ex, a, b) = perp();
        ex.place(b, limit(Side::Sell, "50000.00", "0.1"), 1)
            .unwrap();
        ex.place(a, limit(Side::Buy, "50000.00", "0.1"), 2).unwrap();
        let reduce = |o: crate::exchange::NewOrder| crate::exchange::NewOrder {
            reduce_only: true,
            ..o
        };
        assert_eq!(
            ex.place(a, reduce(limit(Side::Buy, "40000.00", "0.01")), 3),
            Err(Reject::ReduceOnly),
            "a reduce-only buy cannot reduce a long"
        );
        let rest = ex
            .place(a, reduce(limit(Side::Sell, "60000.00", "0.08")), 4)
            .unwrap();
        // A plain sell of 0.05 leaves 0.05 long: the 0.08 reduce-only sell no longer fits.
        ex.place(b, limit(Side::Buy, "49000.00", "0.05"), 5)
            .unwrap();
        ex.place(a, limit(Side::Sell, "49000.00", "0.05"), 6)
            .unwrap();
        assert_eq!(ex.position(a, "BTCUSDT", Leg::Both).size, d("0.05"));
        assert_eq!(ex.orders[&rest].status, Status::Expired);
        assert!(
            ex.symbols["BTCUSDT"]
                .book
                .owners_at(
                    Side::Sell,
                    ex.symbols["BTCUSDT"].spec.ticks(d("60000.00")).unwrap()
                )
                .is_empty()
        );
    }
}
