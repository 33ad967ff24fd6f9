//! Conditional orders: kept off the book until the last price reaches their trigger, then
//! checked as the venues check a triggered order (funds, reduce-only) and sent to the book as
//! an ordinary order of their type.

use super::{Exchange, ExecKind, Status, Watch};

/// A trade can set off triggers whose orders trade and set off more: this many rounds at most
/// per market event (a cascade beyond it waits for the next one).
const MAX_ROUNDS: usize = 64;

impl Exchange {
    /// Fires every untriggered order of `symbol` the last price has reached, oldest first.
    pub(super) fn fire_triggers(&mut self, symbol: &str, now_ms: i64) {
        for _ in 0..MAX_ROUNDS {
            let Some(last) = self.symbols.get(symbol).map(|s| s.last_price) else {
                return;
            };
            self.trail(symbol, last, now_ms);
            let mark = self.mark(symbol);
            let mut due: Vec<u64> = self
                .orders
                .values()
                .filter(|o| {
                    o.symbol == symbol
                        && o.status == Status::Untriggered
                        && o.trigger.is_some_and(|t| {
                            t.reached(if t.by == Watch::Last { last } else { mark })
                        })
                })
                .map(|o| o.id)
                .collect();
            if due.is_empty() {
                return;
            }
            due.sort_unstable();
            for id in due {
                self.fire(id, now_ms);
            }
        }
    }

    fn fire(&mut self, id: u64, now_ms: i64) {
        let order = {
            let o = self.orders.get_mut(&id).expect("order");
            o.status = Status::Triggered;
            o.triggered = true;
            o.updated_ms = now_ms;
            o.clone()
        };
        self.report(id, ExecKind::New, None);
        let spec = self.symbols[&order.symbol].spec.clone();
        let mut lots = order.lots;
        // A reducing order is judged now, against the position it meets (a closing one takes
        // all of it).
        if order.reduces() && self.kind == super::Kind::Perp {
            match self.reducible(order.account, &order.symbol, order.leg, order.side) {
                Ok(room) if order.close && room > 0 => lots = room,
                Ok(room) if lots <= room && !order.close => {}
                Ok(room) if room > 0 && self.reduce_only_trims => lots = room,
                _ => return self.fail_trigger(id, "Reduce Only reject", now_ms),
            }
        }
        // The other leg of its order list ends as it starts working (and frees its funds).
        self.end_partner(id, Status::Expired, Some("OCO_TRIGGER"), now_ms);
        let probe = order.probe();
        // Funds are held once it triggers (unless held from placement: an order list's stop
        // held none beside its take-profit); without them the venue cancels it.
        let need = if self.holds_untriggered && order.list.is_none() {
            order.held
        } else {
            let Ok(need) = self.required_funds(order.account, &spec, &probe, order.price, lots)
            else {
                return self.fail_trigger(id, "Margin is insufficient", now_ms);
            };
            self.hold(order.account, &spec, order.side, need);
            need
        };
        {
            let o = self.orders.get_mut(&id).expect("order");
            o.lots = lots;
            o.held = need;
            o.status = Status::New;
        }
        self.report(id, ExecKind::New, None);
        self.emit_funds(order.account, &spec, now_ms);
        self.match_and_rest(id, None, now_ms);
    }

    /// A triggered order the venue cannot place: canceled; an algo service names why.
    fn fail_trigger(&mut self, id: u64, why: &'static str, now_ms: i64) {
        let o = self.orders.get_mut(&id).expect("order");
        if o.algo.is_some() {
            o.reject = Some(why);
        }
        self.finish(id, Status::Canceled, now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Side;
    use crate::exchange::fixtures::*;
    use crate::exchange::{Kind, NewOrder, OrderKind, Reject, Trigger};

    fn stop(side: Side, trigger: &str, rises: bool, qty: &str) -> NewOrder {
        NewOrder {
            kind: OrderKind::Market,
            price: None,
            tif: crate::exchange::Tif::Ioc,
            trigger: Some(Trigger {
                price: d(trigger),
                rises,
                by: Watch::Last,
            }),
            ..limit(side, "1", qty)
        }
    }

    #[test]
    fn a_trade_at_the_trigger_fires_it_and_its_trades_fire_the_next() {
        let mut ex = Exchange::new(Kind::Perp, &[spec()], 1);
        let a = ex.add_account("ka", "sa", &[("USDT", d("100000"))]);
        let b = ex.add_account("kb", "sb", &[("USDT", d("100000"))]);
        ex.place(b, limit(Side::Sell, "50010.00", "0.1"), 1)
            .unwrap();
        ex.place(b, limit(Side::Sell, "50020.00", "0.1"), 1)
            .unwrap();
        ex.symbols.get_mut("BTCUSDT").unwrap().last_price = d("50000");
        assert_eq!(
            ex.place(a, stop(Side::Buy, "49990.00", true, "0.1"), 2),
            Err(Reject::WouldTrigger { rises: true }),
            "a rising trigger under the last price fires at once: refused"
        );
        let first = ex
            .place(a, stop(Side::Buy, "50010.00", true, "0.1"), 2)
            .unwrap();
        let second = ex
            .place(a, stop(Side::Buy, "50020.00", true, "0.1"), 2)
            .unwrap();
        assert_eq!(ex.orders[&first].status, Status::Untriggered);
        assert_eq!(
            ex.accounts[a].balances["USDT"].locked,
            d("0"),
            "nothing held"
        );
        // b's buy trades half the 50010 level: the first stop fires and takes the rest of it
        // and half of 50020, which fires the second: it takes what is left and expires.
        ex.place(b, limit(Side::Buy, "50010.00", "0.05"), 3)
            .unwrap();
        let (f, s) = (&ex.orders[&first], &ex.orders[&second]);
        assert_eq!(
            (f.status, f.filled),
            (
                Status::Filled,
                ex.symbols["BTCUSDT"].spec.lots(d("0.1")).unwrap()
            )
        );
        assert!(f.triggered && s.triggered);
        let half = ex.symbols["BTCUSDT"].spec.lots(d("0.05")).unwrap();
        assert_eq!((s.status, s.filled), (Status::Expired, half));
    }

    #[test]
    fn one_leg_of_an_oco_trading_or_triggering_expires_the_other() {
        let (mut ex, a, b) = spot();
        ex.holds_untriggered = true;
        ex.symbols.get_mut("BTCUSDT").unwrap().last_price = d("50000");
        ex.place(b, limit(Side::Buy, "49990.00", "0.5"), 1).unwrap();
        let oco = |limit_price: &str, stop_at: &str| {
            let take = NewOrder {
                tif: crate::exchange::Tif::PostOnly,
                ..limit(Side::Sell, limit_price, "0.1")
            };
            (take, stop(Side::Sell, stop_at, false, "0.1"))
        };
        // case 0: the prices must bracket the last price.
        let (take, sl) = oco("49000.00", "48000.00");
        assert_eq!(
            ex.place_oco(a, take, sl, "l0".into(), 2),
            Err(Reject::OcoPrices)
        );
        // case 1: the take-profit fills: the stop expires, the quantity is held once.
        let (take, sl) = oco("50100.00", "49995.00");
        let (s1, t1) = ex.place_oco(a, take, sl, "l1".into(), 2).unwrap();
        assert_eq!(ex.accounts[a].balances["BTC"].locked, d("0.1"));
        ex.place(b, limit(Side::Buy, "50100.00", "0.1"), 3).unwrap();
        assert_eq!(ex.orders[&t1].status, Status::Filled);
        assert_eq!(
            (ex.orders[&s1].status, ex.orders[&s1].reject),
            (Status::Expired, Some("OCO_TRIGGER"))
        );
        assert_eq!(ex.accounts[a].balances["BTC"].locked, d("0"));
        // case 2: the stop triggers: the take-profit leaves the book, the stop trades.
        let (take, sl) = oco("50200.00", "49995.00");
        let (s2, t2) = ex.place_oco(a, take, sl, "l2".into(), 4).unwrap();
        ex.place(b, limit(Side::Sell, "49990.00", "0.1"), 5)
            .unwrap(); // trades at 49990
        assert_eq!(ex.orders[&t2].status, Status::Expired);
        assert_eq!(ex.orders[&s2].status, Status::Filled);
        assert!(
            ex.symbols["BTCUSDT"]
                .book
                .best(Side::Sell)
                .is_none_or(|(p, _)| p != ex.symbols["BTCUSDT"].spec.ticks(d("50200.00")).unwrap())
        );
        // case 3: canceling one leg cancels both.
        ex.symbols.get_mut("BTCUSDT").unwrap().last_price = d("50000");
        let (take, sl) = oco("50300.00", "49000.00");
        let (s3, t3) = ex.place_oco(a, take, sl, "l3".into(), 6).unwrap();
        ex.cancel(a, "BTCUSDT", Some(t3), None, 7).unwrap();
        assert_eq!(
            (ex.orders[&s3].status, ex.orders[&t3].status),
            (Status::Canceled, Status::Canceled)
        );
        assert_eq!(ex.accounts[a].balances["BTC"].locked, d("0"));
    }
}
