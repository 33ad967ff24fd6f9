//! One-way positions of a perpetual market: updating them by fills (realising PnL on a
//! reduction), leverage, unrealised PnL at the mark, and the position updates it publishes.

use rust_decimal::Decimal;

use super::{Event, Exchange, Reject};
use crate::book::Side;

impl Exchange {
    pub(super) fn emit_position(&self, account: usize, symbol: &str, time_ms: i64) {
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

    /// Updates a one-way position by a fill; returns the PnL realised by any reduction.
    pub(super) fn apply_position(
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
        let position = symbols
            .iter()
            .any(|s| a.positions.get(s).is_some_and(|p| !p.size.is_zero()));
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
}
