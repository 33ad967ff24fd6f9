//! Funds: what an order must hold (at its limit, or by sweeping the book), holding and
//! releasing it, and the balance updates the market publishes.

use rust_decimal::Decimal;

use super::{Balance, Event, Exchange, Kind, NewOrder, Reject, SymbolSpec};
use crate::book::{Lots, Side, Ticks};

impl Exchange {
    pub(super) fn balance(&mut self, account: usize, asset: &str) -> &mut Balance {
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

    pub(super) fn required_funds(
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
                if req.reduce_only || req.leg.closed_by(req.side) {
                    Decimal::ZERO
                } else {
                    let leverage = self.leverage(account, &spec.name);
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

    fn held_asset<'a>(&self, spec: &'a SymbolSpec, side: Side) -> &'a str {
        match (self.kind, side) {
            (Kind::Spot, Side::Sell) => &spec.base,
            _ => &spec.quote,
        }
    }

    pub(super) fn hold(&mut self, account: usize, spec: &SymbolSpec, side: Side, amount: Decimal) {
        let asset = self.held_asset(spec, side).to_owned();
        let b = self.balance(account, &asset);
        b.free -= amount;
        b.locked += amount;
    }

    pub(super) fn release(
        &mut self,
        account: usize,
        spec: &SymbolSpec,
        side: Side,
        amount: Decimal,
    ) {
        let asset = self.held_asset(spec, side).to_owned();
        let b = self.balance(account, &asset);
        b.free += amount;
        b.locked -= amount;
    }

    pub(super) fn emit_funds(&self, account: usize, spec: &SymbolSpec, now_ms: i64) {
        match self.kind {
            Kind::Spot => self.emit_balances(account, &[&spec.base, &spec.quote], now_ms),
            Kind::Perp => self.emit_balances(account, &[&spec.quote], now_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Side;
    use crate::exchange::fixtures::*;
    use crate::exchange::{OrderKind, Status};

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
}
