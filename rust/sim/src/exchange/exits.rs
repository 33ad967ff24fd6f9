//! Take-profits and stop-losses the venue places itself (Bybit linear): an entry's pair, armed
//! as it fills and sized by what filled (`Partial`), or the position's own, closing all of it
//! (`Full`: a full-mode entry's, or `trading-stop`'s). When one of a pair triggers the other is
//! deactivated; a position that closes deactivates every exit left on it.

use rust_decimal::Decimal;

use super::{
    Child, Exchange, ExecKind, Exit, Kind, Leg, ListLink, NewOrder, OrderKind, Reject, Status, Tif,
    Trail, Trigger,
};
use crate::book::{Lots, Side};

/// Whether `trigger` is on the side of `base` where a take-profit (or stop-loss) of a long
/// (or short) position belongs: a long's take-profit above, its stop-loss below.
fn on_its_side(
    take_profit: bool,
    long: bool,
    trigger: Decimal,
    base: Decimal,
) -> Result<(), Reject> {
    let above = take_profit == long;
    if (above && trigger > base) || (!above && trigger < base) {
        Ok(())
    } else {
        Err(Reject::ExitPrice {
            take_profit,
            long,
            trigger,
            base,
        })
    }
}

/// The side that closes a position of `size` (a long's SELL).
fn closing(size: Decimal) -> Side {
    if size.is_sign_positive() {
        Side::Sell
    } else {
        Side::Buy
    }
}

/// What makes an order one of a position's own exits (full mode, no entry).
fn own(take_profit: bool) -> Child {
    Child {
        parent: None,
        parent_client_id: String::new(),
        take_profit,
        full: true,
    }
}

impl Exchange {
    /// An entry's exits as the venue checks them before accepting it: derivatives only, never
    /// on a reducing order, full mode at MARKET only, prices on the grid, each on its side of
    /// the entry's price (the last price for a market entry).
    pub(super) fn vet_exits(&self, req: &NewOrder) -> Result<(), Reject> {
        let exits = req.exits;
        if !exits.any() {
            return Ok(());
        }
        if self.kind != Kind::Perp {
            return Err(Reject::Invalid(
                "takeProfit (spot TP/SL is not simulated)".into(),
            ));
        }
        if req.reduce_only || req.close || req.leg.closed_by(req.side) {
            return Err(Reject::Invalid(
                "takeProfit (not on a reduce-only order)".into(),
            ));
        }
        let s = &self.symbols[&req.symbol];
        let base = req
            .price
            .or(req.trigger.map(|t| t.price))
            .unwrap_or(s.last_price);
        for (take_profit, exit) in [(true, exits.take_profit), (false, exits.stop_loss)] {
            let Some(x) = exit else { continue };
            if exits.full && x.limit.is_some() {
                return Err(Reject::Invalid(
                    "tpslMode (Full takes Market exits only)".into(),
                ));
            }
            for price in std::iter::once(x.trigger).chain(x.limit) {
                s.spec.ticks(price).ok_or(Reject::Filter("PRICE_FILTER"))?;
            }
            on_its_side(take_profit, req.side == Side::Buy, x.trigger, base)?;
        }
        Ok(())
    }

    /// After entry `id` filled `lots`: arms its exits (or grows the armed pair by them).
    pub(super) fn arm_exits(&mut self, id: u64, lots: Lots, now_ms: i64) {
        let entry = &self.orders[&id];
        let exits = entry.exits;
        if !exits.any() || self.kind != Kind::Perp {
            return;
        }
        let (account, symbol, leg) = (entry.account, entry.symbol.clone(), entry.leg);
        let parent_client_id = entry.client_id.clone();
        if exits.full {
            for (take_profit, exit) in [(true, exits.take_profit), (false, exits.stop_loss)] {
                if let Some(x) = exit {
                    self.put_position_exit(account, &symbol, leg, take_profit, x, now_ms);
                }
            }
            return;
        }
        let armed: Vec<u64> = self
            .orders
            .values()
            .filter(|o| o.child.as_ref().is_some_and(|c| c.parent == Some(id)))
            .map(|o| o.id)
            .collect();
        if !armed.is_empty() {
            for child in armed {
                let o = self.orders.get_mut(&child).expect("order");
                if o.status == Status::Untriggered {
                    o.lots += lots;
                    o.updated_ms = now_ms;
                    self.report(child, ExecKind::Amended, None);
                }
            }
            return;
        }
        let side = self.orders[&id].side.opposite();
        let ids: Vec<u64> = [(true, exits.take_profit), (false, exits.stop_loss)]
            .into_iter()
            .filter_map(|(take_profit, exit)| exit.map(|x| (take_profit, x)))
            .map(|(take_profit, x)| {
                let child = Child {
                    parent: Some(id),
                    parent_client_id: parent_client_id.clone(),
                    take_profit,
                    full: false,
                };
                self.add_exit(account, &symbol, leg, side, x, lots, child, None, now_ms)
            })
            .collect();
        // The two of a pair are partners: one triggering deactivates the other.
        if let [tp, sl] = ids[..] {
            for (of, partner) in [(tp, sl), (sl, tp)] {
                self.orders.get_mut(&of).expect("order").list = Some(ListLink {
                    id: 0,
                    client_id: String::new(),
                    partner,
                });
            }
        }
    }

    /// A venue-placed exit: a reduce-only conditional order closing at MARKET (or LIMIT at the
    /// exit's limit), `lots` of it (none for the position's own, which closes all it meets).
    #[allow(clippy::too_many_arguments)]
    fn add_exit(
        &mut self,
        account: usize,
        symbol: &str,
        leg: Leg,
        side: Side,
        x: Exit,
        lots: Lots,
        child: Child,
        trail: Option<Trail>,
        now_ms: i64,
    ) -> u64 {
        // A long's (selling) take-profit waits for a rise, its stop-loss for a fall.
        let rises = child.take_profit == (side == Side::Sell);
        let full = child.full;
        let req = NewOrder {
            symbol: symbol.to_owned(),
            side,
            kind: if x.limit.is_some() {
                OrderKind::Limit
            } else {
                OrderKind::Market
            },
            tif: if x.limit.is_some() {
                Tif::Gtc
            } else {
                Tif::Ioc
            },
            price: x.limit,
            qty: None,
            quote_qty: None,
            client_id: Some(String::new()),
            reduce_only: true,
            leg,
            trigger: Some(Trigger {
                price: x.trigger,
                rises,
                by: x.by,
            }),
            algo: false,
            close: full,
            exits: Default::default(),
            child: Some(child),
            trail,
        };
        self.admit_exit(account, req, lots, now_ms)
    }

    /// Sets (or with a zero trigger removes) the position's own take-profit or stop-loss.
    fn put_position_exit(
        &mut self,
        account: usize,
        symbol: &str,
        leg: Leg,
        take_profit: bool,
        x: Exit,
        now_ms: i64,
    ) {
        let current = self.own_exit(account, symbol, leg, |o, c| {
            o.trail.is_none() && c.take_profit == take_profit
        });
        match (current, x.trigger.is_zero()) {
            (Some(id), true) => self.finish(id, Status::Canceled, now_ms),
            (None, true) => {}
            (Some(id), false) => {
                let o = self.orders.get_mut(&id).expect("order");
                if let Some(t) = o.trigger.as_mut() {
                    t.price = x.trigger;
                    t.by = x.by;
                }
                o.updated_ms = now_ms;
                self.report(id, ExecKind::Amended, None);
            }
            (None, false) => {
                let side = closing(self.position(account, symbol, leg).size);
                let child = own(take_profit);
                self.add_exit(account, symbol, leg, side, x, 0, child, None, now_ms);
            }
        }
    }

    /// The last price and the size of the position an exit of its own would protect (none
    /// held: refused, as the venue does).
    fn protected(
        &self,
        account: usize,
        symbol: &str,
        leg: Leg,
    ) -> Result<(Decimal, Decimal), Reject> {
        let last = self
            .symbols
            .get(symbol)
            .ok_or(Reject::UnknownSymbol)?
            .last_price;
        let size = self.position(account, symbol, leg).size;
        if size.is_zero() {
            return Err(Reject::Invalid(
                "position (can not set tp/sl/ts for zero position)".into(),
            ));
        }
        Ok((last, size))
    }

    /// The position's own exits (Bybit `trading-stop`, full mode): each given one set, or
    /// removed by a zero trigger; checked against the last price like an entry's.
    pub fn set_position_exits(
        &mut self,
        account: usize,
        symbol: &str,
        leg: Leg,
        take_profit: Option<Exit>,
        stop_loss: Option<Exit>,
        now_ms: i64,
    ) -> Result<(), Reject> {
        let (last, size) = self.protected(account, symbol, leg)?;
        for (tp, exit) in [(true, take_profit), (false, stop_loss)] {
            let Some(x) = exit.filter(|x| !x.trigger.is_zero()) else {
                continue;
            };
            self.symbols[symbol]
                .spec
                .ticks(x.trigger)
                .ok_or(Reject::Filter("PRICE_FILTER"))?;
            on_its_side(tp, size.is_sign_positive(), x.trigger, last)?;
        }
        for (tp, exit) in [(true, take_profit), (false, stop_loss)] {
            if let Some(x) = exit {
                self.put_position_exit(account, symbol, leg, tp, x, now_ms);
            }
        }
        self.emit_position(account, symbol, now_ms);
        Ok(())
    }

    /// The trigger prices of a position's own take-profit and stop-loss, where set.
    pub fn position_exits(
        &self,
        account: usize,
        symbol: &str,
        leg: Leg,
    ) -> (Option<Decimal>, Option<Decimal>) {
        let find = |take_profit: bool| {
            let id = self.own_exit(account, symbol, leg, |o, c| {
                o.trail.is_none() && c.take_profit == take_profit
            })?;
            self.orders[&id].trigger.map(|t| t.price)
        };
        (find(true), find(false))
    }

    /// The position's own trailing stop (Bybit `trading-stop` `trailingStop`, a price
    /// distance; `activePrice` makes it wait for that price first): set, moved, or removed by
    /// a zero distance. It closes the whole position when it fires.
    pub fn set_position_trail(
        &mut self,
        account: usize,
        symbol: &str,
        leg: Leg,
        distance: Decimal,
        activation: Option<Decimal>,
        now_ms: i64,
    ) -> Result<(), Reject> {
        let (last, size) = self.protected(account, symbol, leg)?;
        let spec = &self.symbols[symbol].spec;
        for price in std::iter::once(distance).chain(activation) {
            if !price.is_zero() {
                spec.ticks(price).ok_or(Reject::Filter("PRICE_FILTER"))?;
            }
        }
        let current = self.position_trailer(account, symbol, leg);
        match (current, distance.is_zero()) {
            (Some(id), true) => self.finish(id, Status::Canceled, now_ms),
            (None, true) => {}
            (Some(id), false) => {
                let o = self.orders.get_mut(&id).expect("order");
                if let Some(t) = o.trail.as_mut() {
                    t.distance = distance;
                    t.activation = activation;
                }
                o.updated_ms = now_ms;
                self.report(id, ExecKind::Amended, None);
            }
            (None, false) => {
                let side = closing(size);
                let trail = Trail {
                    distance,
                    percent: false,
                    activation,
                    // A long's (selling) stop waits for the price to rise to its activation.
                    rise_activates: side == Side::Sell,
                    extreme: None,
                };
                let child = own(false);
                let x = Exit {
                    trigger: Trail::idle(side),
                    by: super::Watch::Last,
                    limit: None,
                };
                self.add_exit(account, symbol, leg, side, x, 0, child, Some(trail), now_ms);
            }
        }
        self.trail(symbol, last, now_ms);
        self.emit_position(account, symbol, now_ms);
        Ok(())
    }

    /// The position's own exit (waiting, full mode) that `kind` picks, if it has one.
    fn own_exit(
        &self,
        account: usize,
        symbol: &str,
        leg: Leg,
        kind: impl Fn(&super::Order, &Child) -> bool,
    ) -> Option<u64> {
        self.orders
            .values()
            .find(|o| {
                o.account == account
                    && o.symbol == symbol
                    && o.leg == leg
                    && o.status == Status::Untriggered
                    && o.child.as_ref().is_some_and(|c| c.full && kind(o, c))
            })
            .map(|o| o.id)
    }

    /// The position's own trailing stop, if it has one.
    fn position_trailer(&self, account: usize, symbol: &str, leg: Leg) -> Option<u64> {
        self.own_exit(account, symbol, leg, |o, _| o.trail.is_some())
    }

    /// The distance of a position's trailing stop, where set.
    pub fn position_trail(&self, account: usize, symbol: &str, leg: Leg) -> Option<Decimal> {
        let id = self.position_trailer(account, symbol, leg)?;
        self.orders[&id].trail.map(|t| t.distance)
    }

    /// Moves the trailing stops of `symbol` with the last price: active once the price
    /// reached their activation (at once without one), their trigger then `distance` behind
    /// the best price since. (The simulator follows the last price after each market event,
    /// not every trade inside one.)
    pub(super) fn trail(&mut self, symbol: &str, last: Decimal, now_ms: i64) {
        let trailing: Vec<u64> = self
            .orders
            .values()
            .filter(|o| o.symbol == symbol && o.status == Status::Untriggered && o.trail.is_some())
            .map(|o| o.id)
            .collect();
        for id in trailing {
            let o = self.orders.get_mut(&id).expect("order");
            let sell = o.side == Side::Sell;
            let Some(t) = o.trail.as_mut() else {
                continue;
            };
            let rise = t.rise_activates;
            let reached = |a: Decimal| if rise { last >= a } else { last <= a };
            if t.extreme.is_none() && !t.activation.is_none_or(reached) {
                continue;
            }
            let extreme = match t.extreme {
                Some(e) if sell => e.max(last),
                Some(e) => e.min(last),
                None => last,
            };
            t.extreme = Some(extreme);
            let distance = if t.percent {
                extreme * t.distance / Decimal::ONE_HUNDRED
            } else {
                t.distance
            };
            let at = if sell {
                extreme - distance
            } else {
                extreme + distance
            };
            if let Some(trigger) = o.trigger.as_mut().filter(|tr| tr.price != at) {
                trigger.price = at;
                o.updated_ms = now_ms;
                self.report(id, ExecKind::Amended, None);
            }
        }
    }

    /// A leg that closed: every exit still waiting on it is deactivated.
    pub(super) fn drop_exits(&mut self, account: usize, symbol: &str, leg: Leg, now_ms: i64) {
        let waiting: Vec<u64> = self
            .orders
            .values()
            .filter(|o| {
                o.account == account
                    && o.symbol == symbol
                    && o.leg == leg
                    && o.child.is_some()
                    && o.status == Status::Untriggered
            })
            .map(|o| o.id)
            .collect();
        for id in waiting {
            if self.orders[&id].status == Status::Untriggered {
                self.finish(id, Status::Canceled, now_ms);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::fixtures::*;
    use crate::exchange::{Exits, Watch};

    fn perp() -> (Exchange, usize, usize) {
        let mut ex = Exchange::new(Kind::Perp, &[spec()], 1);
        let a = ex.add_account("ka", "sa", &[("USDT", d("100000"))]);
        let b = ex.add_account("kb", "sb", &[("USDT", d("100000"))]);
        ex.symbols.get_mut("BTCUSDT").unwrap().last_price = d("50000");
        (ex, a, b)
    }

    fn exit(trigger: &str) -> Option<Exit> {
        Some(Exit {
            trigger: d(trigger),
            by: Watch::Last,
            limit: None,
        })
    }

    fn kids(ex: &Exchange, parent: u64) -> Vec<(bool, Status, Decimal)> {
        let mut list: Vec<_> = ex
            .orders
            .values()
            .filter(|o| o.child.as_ref().is_some_and(|c| c.parent == Some(parent)))
            .map(|o| {
                let c = o.child.as_ref().unwrap();
                (
                    c.take_profit,
                    o.status,
                    ex.symbols["BTCUSDT"].spec.qty(o.lots),
                )
            })
            .collect();
        list.sort_by_key(|k| !k.0);
        list
    }

    #[test]
    fn an_entry_arms_a_pair_per_fill_and_one_firing_deactivates_the_other() {
        let (mut ex, a, b) = perp();
        let partial = Exits {
            take_profit: exit("50100.00"),
            stop_loss: exit("49900.00"),
            full: false,
        };
        // Refused: a take-profit under a buy's price, a reducing entry, spot.
        let wrong = NewOrder {
            exits: Exits {
                take_profit: exit("49000.00"),
                ..partial
            },
            ..limit(Side::Buy, "50000.00", "0.3")
        };
        assert!(matches!(
            ex.place(a, wrong, 1),
            Err(Reject::ExitPrice {
                take_profit: true,
                long: true,
                ..
            })
        ));
        let reducing = NewOrder {
            reduce_only: true,
            exits: partial,
            ..limit(Side::Buy, "50000.00", "0.3")
        };
        assert!(matches!(ex.place(a, reducing, 1), Err(Reject::Invalid(_))));
        let entry = ex
            .place(
                a,
                NewOrder {
                    exits: partial,
                    ..limit(Side::Buy, "50000.00", "0.3")
                },
                1,
            )
            .unwrap();
        assert!(kids(&ex, entry).is_empty(), "armed only as it fills");
        ex.place(b, limit(Side::Sell, "50000.00", "0.1"), 2)
            .unwrap();
        assert_eq!(
            kids(&ex, entry),
            [
                (true, Status::Untriggered, d("0.1")),
                (false, Status::Untriggered, d("0.1"))
            ]
        );
        ex.place(b, limit(Side::Sell, "50000.00", "0.1"), 3)
            .unwrap();
        assert_eq!(kids(&ex, entry)[0].2, d("0.2"), "the pair grows");
        ex.cancel(a, "BTCUSDT", Some(entry), None, 4).unwrap();
        // A trade at 50100 fires the take-profit (a market sell of 0.2 into b's bid); the
        // stop-loss is deactivated and the position closed.
        ex.place(b, limit(Side::Buy, "50100.00", "0.5"), 5).unwrap();
        ex.place(b, limit(Side::Sell, "50100.00", "0.01"), 6)
            .unwrap();
        let k = kids(&ex, entry);
        assert_eq!((k[0].1, k[1].1), (Status::Filled, Status::Expired));
        assert!(ex.position(a, "BTCUSDT", Leg::Both).size.is_zero());
    }

    #[test]
    fn a_trailing_stop_waits_for_its_activation_then_trails_the_best_price() {
        let (mut ex, a, b) = perp();
        ex.place(b, limit(Side::Sell, "50000.00", "0.2"), 1)
            .unwrap();
        ex.place(a, limit(Side::Buy, "50000.00", "0.2"), 2).unwrap();
        ex.set_position_trail(a, "BTCUSDT", Leg::Both, d("50.00"), Some(d("50100.00")), 3)
            .unwrap();
        let trailer = |ex: &Exchange| {
            let o = ex.orders.values().find(|o| o.trail.is_some()).unwrap();
            (o.status, o.trigger.unwrap().price)
        };
        assert_eq!(
            trailer(&ex),
            (Status::Untriggered, d("0")),
            "idle until 50100"
        );
        // 50080: not yet; 50120: active, 50 behind; 50150: follows; 50110: holds.
        for (price, expect) in [
            ("50080.00", "0"),
            ("50120.00", "50070.00"),
            ("50150.00", "50100.00"),
        ] {
            ex.place(b, limit(Side::Sell, price, "0.01"), 4).unwrap();
            ex.place(b, limit(Side::Buy, price, "0.01"), 4).unwrap();
            assert_eq!(trailer(&ex), (Status::Untriggered, d(expect)), "at {price}");
        }
        ex.place(b, limit(Side::Buy, "50100.00", "1"), 5).unwrap();
        ex.place(b, limit(Side::Sell, "50100.00", "0.01"), 6)
            .unwrap(); // trades at 50100
        assert_eq!(trailer(&ex).0, Status::Filled);
        assert!(ex.position(a, "BTCUSDT", Leg::Both).size.is_zero());
    }

    #[test]
    fn a_position_s_own_exits_follow_it_and_go_with_it() {
        let (mut ex, a, b) = perp();
        assert!(matches!(
            ex.set_position_exits(a, "BTCUSDT", Leg::Both, exit("51000.00"), None, 1),
            Err(Reject::Invalid(_))
        ));
        ex.place(b, limit(Side::Sell, "50000.00", "1"), 1).unwrap();
        ex.place(a, limit(Side::Buy, "50000.00", "0.2"), 2).unwrap();
        assert!(matches!(
            ex.set_position_exits(a, "BTCUSDT", Leg::Both, exit("49000.00"), None, 3),
            Err(Reject::ExitPrice { .. })
        ));
        ex.set_position_exits(
            a,
            "BTCUSDT",
            Leg::Both,
            exit("51000.00"),
            exit("49000.00"),
            3,
        )
        .unwrap();
        assert_eq!(
            ex.position_exits(a, "BTCUSDT", Leg::Both),
            (Some(d("51000.00")), Some(d("49000.00")))
        );
        // Moved in place, removed by a zero.
        ex.set_position_exits(a, "BTCUSDT", Leg::Both, exit("52000.00"), exit("0"), 4)
            .unwrap();
        assert_eq!(
            ex.position_exits(a, "BTCUSDT", Leg::Both),
            (Some(d("52000.00")), None)
        );
        // A full-mode entry's exits become the position's own, replacing them.
        let full = Exits {
            take_profit: exit("53000.00"),
            stop_loss: None,
            full: true,
        };
        ex.place(
            a,
            NewOrder {
                exits: full,
                ..limit(Side::Buy, "50000.00", "0.1")
            },
            5,
        )
        .unwrap();
        assert_eq!(
            ex.position_exits(a, "BTCUSDT", Leg::Both),
            (Some(d("53000.00")), None)
        );
        // The position closes: what was left on it is deactivated.
        ex.place(b, limit(Side::Buy, "50000.00", "1"), 6).unwrap();
        ex.place(a, limit(Side::Sell, "50000.00", "0.3"), 7)
            .unwrap();
        assert_eq!(ex.position_exits(a, "BTCUSDT", Leg::Both), (None, None));
        assert!(
            ex.orders
                .values()
                .filter(|o| o.child.is_some())
                .all(|o| !o.status.is_open())
        );
    }
}
