//! Amending a resting order in place, the three ways the venues do it:
//! - Binance spot `order/amend/keepPriority`: quantity decreases only, the order keeps its
//!   place in the queue;
//! - Binance USD-M `PUT /fapi/v1/order`: price and quantity, the order is always queued again
//!   (and may trade at once at a crossing price);
//! - Bybit `order/amend`: a pure quantity decrease keeps the place, anything else queues again.
//!
//! All of them: only an open LIMIT order; the symbol's filters apply to the new values; a
//! refused amendment leaves the order as it was; a quantity at or below what already filled
//! ends the order (CANCELED), as Binance USD-M documents; a post-only order whose new price
//! would take is canceled (Binance USD-M GTX, Bybit PostOnly).

use rust_decimal::Decimal;

use super::{Exchange, ExecKind, OrderKind, Reject, Status, Tif};
use crate::book::crosses;

/// How the venue amends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmendRule {
    /// Binance spot: decrease the quantity, keep priority.
    KeepPriority,
    /// Binance USD-M: always queued again.
    Requeue,
    /// Bybit: keep priority on a pure quantity decrease, else queued again.
    KeepOnDecrease,
}

/// What an accepted amendment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amended {
    /// Changed in place (possibly trading at once); still the same order.
    Changed,
    /// The change ended the order (quantity at or below the filled part, or a post-only
    /// order that would take).
    Canceled,
}

impl Exchange {
    /// Amends an open LIMIT order of `account` to `qty` (total, filled part included) and/or
    /// `price`.
    #[allow(clippy::too_many_arguments)]
    pub fn amend(
        &mut self,
        account: usize,
        symbol: &str,
        id: Option<u64>,
        client_id: Option<&str>,
        qty: Option<Decimal>,
        price: Option<Decimal>,
        rule: AmendRule,
        now_ms: i64,
    ) -> Result<(u64, Amended), Reject> {
        let amended = self.amend_now(account, symbol, id, client_id, qty, price, rule, now_ms)?;
        self.fire_triggers(symbol, now_ms);
        Ok(amended)
    }

    #[allow(clippy::too_many_arguments)]
    fn amend_now(
        &mut self,
        account: usize,
        symbol: &str,
        id: Option<u64>,
        client_id: Option<&str>,
        qty: Option<Decimal>,
        price: Option<Decimal>,
        rule: AmendRule,
        now_ms: i64,
    ) -> Result<(u64, Amended), Reject> {
        let spec = self
            .symbols
            .get(symbol)
            .ok_or(Reject::UnknownSymbol)?
            .spec
            .clone();
        let order = self
            .find_order(account, symbol, id, client_id)
            .ok_or(Reject::UnknownOrder)?
            .clone();
        if !order.status.is_open() {
            return Err(Reject::AlreadyClosed);
        }
        if order.kind != OrderKind::Limit {
            return Err(Reject::Invalid("only LIMIT orders can be amended".into()));
        }
        let old_price = order.price.expect("a limit order has a price");
        let new_price = match price {
            Some(p) => spec.ticks(p).ok_or(Reject::Filter("PRICE_FILTER"))?,
            None => old_price,
        };
        let new_lots = match qty {
            Some(q) => {
                let lots = spec.lots(q).ok_or(Reject::Filter("LOT_SIZE"))?;
                if q < spec.min_qty || q > spec.max_qty || lots == 0 {
                    return Err(Reject::Filter("LOT_SIZE"));
                }
                lots
            }
            None => order.lots,
        };
        if new_price == old_price && new_lots == order.lots {
            return Err(Reject::NoChange);
        }
        if rule == AmendRule::KeepPriority && (new_price != old_price || new_lots > order.lots) {
            return Err(Reject::AmendIncrease);
        }
        if spec.notional(new_price, new_lots) < spec.min_notional {
            return Err(Reject::Filter("NOTIONAL"));
        }
        let oid = order.id;
        if order.status == Status::Untriggered {
            // Off the book and holding nothing: only its terms change.
            let o = self.orders.get_mut(&oid).expect("order");
            o.lots = new_lots;
            o.price = Some(new_price);
            o.updated_ms = now_ms;
            self.report(oid, ExecKind::Amended, None);
            return Ok((oid, Amended::Changed));
        }
        let take_book = |ex: &mut Exchange| {
            ex.symbols
                .get_mut(symbol)
                .expect("symbol")
                .book
                .remove_order(order.side, old_price, oid);
        };
        if new_lots <= order.filled {
            take_book(self);
            self.finish(oid, Status::Canceled, now_ms);
            return Ok((oid, Amended::Canceled));
        }
        let opposite_best = self.symbols[symbol].book.best(order.side.opposite());
        let would_take =
            opposite_best.is_some_and(|(best, _)| crosses(order.side, best, Some(new_price)));
        if would_take && order.tif == Tif::PostOnly {
            take_book(self);
            if let Some(o) = self.orders.get_mut(&oid) {
                o.reject = Some("EC_PostOnlyWillTakeLiquidity");
            }
            self.finish(oid, Status::Canceled, now_ms);
            return Ok((oid, Amended::Canceled));
        }
        // Funds for the new unfilled part, counting what the order holds now as available.
        let rest = new_lots - order.filled;
        if order.reduces() && self.kind == super::Kind::Perp {
            let own = order.lots - order.filled;
            let room = self.reducible(account, symbol, order.leg, order.side)? + own;
            if rest > room {
                return Err(Reject::ReduceOnly);
            }
        }
        let probe = order.probe();
        self.release(account, &spec, order.side, order.held);
        let need = match self.required_funds(account, &spec, &probe, Some(new_price), rest) {
            Ok(need) => need,
            Err(e) => {
                self.hold(account, &spec, order.side, order.held);
                return Err(e);
            }
        };
        self.hold(account, &spec, order.side, need);
        let keep_place = match rule {
            AmendRule::KeepPriority => true,
            AmendRule::Requeue => false,
            AmendRule::KeepOnDecrease => new_price == old_price && new_lots < order.lots,
        };
        {
            let o = self.orders.get_mut(&oid).expect("order");
            o.held = need;
            o.lots = new_lots;
            o.price = Some(new_price);
            o.updated_ms = now_ms;
        }
        let book = &mut self.symbols.get_mut(symbol).expect("symbol").book;
        if keep_place {
            book.reduce_order(order.side, old_price, oid, rest);
            self.report(oid, ExecKind::Amended, None);
        } else {
            book.remove_order(order.side, old_price, oid);
            self.report(oid, ExecKind::Amended, None);
            self.match_and_rest(oid, None, now_ms);
        }
        self.emit_funds(account, &spec, now_ms);
        Ok((oid, Amended::Changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Owner, Side};
    use crate::exchange::NewOrder;
    use crate::exchange::fixtures::*;

    fn queue_at(ex: &Exchange, side: Side, price: &str) -> Vec<Owner> {
        let s = &ex.symbols["BTCUSDT"];
        s.book.owners_at(side, s.spec.ticks(d(price)).unwrap())
    }

    #[test]
    fn a_quantity_decrease_keeps_the_place_and_a_price_change_loses_it() {
        for rule in [AmendRule::KeepPriority, AmendRule::KeepOnDecrease] {
            let (mut ex, a, b) = spot();
            let first = ex.place(a, limit(Side::Buy, "49000", "0.5"), 1).unwrap();
            let second = ex.place(b, limit(Side::Buy, "49000", "0.5"), 1).unwrap();
            let (id, done) = ex
                .amend(
                    a,
                    "BTCUSDT",
                    Some(first),
                    None,
                    Some(d("0.2")),
                    None,
                    rule,
                    2,
                )
                .unwrap();
            assert_eq!((id, done), (first, Amended::Changed));
            assert_eq!(
                queue_at(&ex, Side::Buy, "49000"),
                vec![Owner::Order(first), Owner::Order(second)]
            );
            let locked = ex.accounts[a].balances["USDT"].locked;
            assert_eq!(locked, d("9800"), "the hold follows the new quantity");
        }
        let (mut ex, a, b) = spot();
        let first = ex.place(a, limit(Side::Buy, "49000", "0.5"), 1).unwrap();
        let second = ex.place(b, limit(Side::Buy, "49000", "0.5"), 1).unwrap();
        let rule = AmendRule::Requeue;
        ex.amend(
            a,
            "BTCUSDT",
            Some(first),
            None,
            Some(d("0.2")),
            None,
            rule,
            2,
        )
        .unwrap();
        assert_eq!(
            queue_at(&ex, Side::Buy, "49000"),
            vec![Owner::Order(second), Owner::Order(first)],
            "USD-M queues a modified order again"
        );
        assert_eq!(
            ex.amend(
                a,
                "BTCUSDT",
                Some(second),
                None,
                Some(d("0.6")),
                None,
                AmendRule::KeepPriority,
                3
            ),
            Err(Reject::UnknownOrder),
            "another account's order is unknown"
        );
        assert_eq!(
            ex.amend(
                b,
                "BTCUSDT",
                Some(second),
                None,
                Some(d("0.6")),
                None,
                AmendRule::KeepPriority,
                3
            ),
            Err(Reject::AmendIncrease)
        );
        assert_eq!(
            ex.amend(
                b,
                "BTCUSDT",
                Some(second),
                None,
                Some(d("0.5")),
                None,
                AmendRule::KeepOnDecrease,
                3
            ),
            Err(Reject::NoChange)
        );
    }

    #[test]
    fn a_crossing_price_trades_at_once_and_a_post_only_one_is_canceled() {
        let (mut ex, a, b) = spot();
        ex.place(b, limit(Side::Sell, "50100", "0.1"), 1).unwrap();
        let buy = ex.place(a, limit(Side::Buy, "50000", "0.3"), 1).unwrap();
        let rule = AmendRule::KeepOnDecrease;
        ex.amend(
            a,
            "BTCUSDT",
            Some(buy),
            None,
            None,
            Some(d("50100")),
            rule,
            2,
        )
        .unwrap();
        let o = &ex.orders[&buy];
        assert_eq!(
            (o.status, o.filled),
            (
                Status::PartiallyFilled,
                ex.symbols["BTCUSDT"].spec.lots(d("0.1")).unwrap()
            )
        );
        assert_eq!(queue_at(&ex, Side::Buy, "50100"), vec![Owner::Order(buy)]);
        let post = NewOrder {
            tif: Tif::PostOnly,
            ..limit(Side::Sell, "50200", "0.1")
        };
        let maker = ex.place(b, post, 3).unwrap();
        let (_, done) = ex
            .amend(
                b,
                "BTCUSDT",
                Some(maker),
                None,
                None,
                Some(d("50100")),
                rule,
                4,
            )
            .unwrap();
        assert_eq!(done, Amended::Canceled);
        assert_eq!(ex.orders[&maker].status, Status::Canceled);
        // Down to the filled part: the order ends.
        let (_, done) = ex
            .amend(a, "BTCUSDT", Some(buy), None, Some(d("0.1")), None, rule, 5)
            .unwrap();
        assert_eq!(done, Amended::Canceled);
        assert_eq!(ex.accounts[a].balances["USDT"].locked, Decimal::ZERO);
    }

    #[test]
    fn a_refused_amendment_leaves_the_order_and_its_hold() {
        let (mut ex, a, _) = spot();
        let buy = ex.place(a, limit(Side::Buy, "40000", "1"), 1).unwrap();
        let rule = AmendRule::KeepOnDecrease;
        for (qty, price, why) in [
            (Some("3"), None, Reject::InsufficientBalance),
            (None, Some("40000.001"), Reject::Filter("PRICE_FILTER")),
            (Some("0.000001"), None, Reject::Filter("LOT_SIZE")),
            (Some("0.0001"), None, Reject::Filter("NOTIONAL")),
        ] {
            let r = ex.amend(
                a,
                "BTCUSDT",
                Some(buy),
                None,
                qty.map(d),
                price.map(d),
                rule,
                2,
            );
            assert_eq!(r, Err(why));
            let o = &ex.orders[&buy];
            assert_eq!(
                (o.lots, o.price, o.status),
                (
                    ex.symbols["BTCUSDT"].spec.lots(d("1")).unwrap(),
                    ex.symbols["BTCUSDT"].spec.ticks(d("40000")),
                    Status::New
                )
            );
            assert_eq!(ex.accounts[a].balances["USDT"].locked, d("40000"));
            assert_eq!(queue_at(&ex, Side::Buy, "40000"), vec![Owner::Order(buy)]);
        }
    }
}
