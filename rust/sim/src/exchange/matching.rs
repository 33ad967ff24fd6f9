//! Order entry and matching: validating and booking a new order, taking liquidity, applying
//! fills (to both sides of a user-on-user match), finishing and cancelling orders, synthetic
//! takers, and the public trade tape with its execution reports.

use rust_decimal::Decimal;

use super::{
    Event, Exchange, ExecKind, FillRec, Kind, ListLink, NewOrder, Order, OrderKind, RECENT_TRADES,
    Reject, Status, SymbolSpec, Tif,
};
use crate::book::{Lots, Match, Owner, Side, Ticks, crosses};

/// What an order's checks found: its grid values and what it holds.
struct Vetted {
    spec: SymbolSpec,
    price: Option<Ticks>,
    lots: Lots,
    would_take: bool,
    held: Decimal,
    budget: Option<i128>,
}

impl Exchange {
    /// Validates, books and matches a new order (or keeps a conditional one until it
    /// triggers), then fires the triggers its trades reached. Returns its id.
    pub fn place(&mut self, account: usize, req: NewOrder, now_ms: i64) -> Result<u64, Reject> {
        let symbol = req.symbol.clone();
        let id = self.enter(account, req, now_ms)?;
        self.fire_triggers(&symbol, now_ms);
        Ok(id)
    }

    fn enter(&mut self, account: usize, req: NewOrder, now_ms: i64) -> Result<u64, Reject> {
        let vetted = self.vet(account, &req)?;
        Ok(self.admit(account, req, vetted, None, now_ms))
    }

    /// Places a one-cancels-the-other pair (Binance spot): a post-only take-profit and a stop
    /// of one side and quantity, the take-profit beyond the last price beyond the stop. The
    /// pair holds its funds once (the take-profit's; the stop's when it triggers). Returns the
    /// ids of the stop and the take-profit, placed in that order.
    pub fn place_oco(
        &mut self,
        account: usize,
        limit: NewOrder,
        stop: NewOrder,
        list_client_id: String,
        now_ms: i64,
    ) -> Result<(u64, u64), Reject> {
        let (Some(price), Some(trigger)) = (limit.price, stop.trigger) else {
            return Err(Reject::Invalid("price".into()));
        };
        let last = self
            .symbols
            .get(&limit.symbol)
            .ok_or(Reject::UnknownSymbol)?
            .last_price;
        let in_order = match limit.side {
            Side::Sell => price > last && last > trigger.price,
            Side::Buy => price < last && last < trigger.price,
        };
        if !in_order || stop.side != limit.side {
            return Err(Reject::OcoPrices);
        }
        if limit.client_id.is_some() && limit.client_id == stop.client_id {
            return Err(Reject::DuplicateClientId);
        }
        let limit_vetted = self.vet(account, &limit)?;
        let mut stop_vetted = self.vet(account, &stop)?;
        stop_vetted.held = Decimal::ZERO;
        let (stop_id, limit_id) = (self.next_order_id, self.next_order_id + 1);
        self.next_list_id += 1;
        let link = |partner| ListLink {
            id: self.next_list_id,
            client_id: list_client_id.clone(),
            partner,
        };
        let (to_stop, to_limit) = (link(limit_id), link(stop_id));
        let symbol = limit.symbol.clone();
        self.admit(account, stop, stop_vetted, Some(to_stop), now_ms);
        self.admit(account, limit, limit_vetted, Some(to_limit), now_ms);
        self.fire_triggers(&symbol, now_ms);
        Ok((stop_id, limit_id))
    }

    /// An order's checks, and what it holds, before anything changes.
    fn vet(&self, account: usize, req: &NewOrder) -> Result<Vetted, Reject> {
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
            // Sized by the position when it triggers.
            None if req.close && req.trigger.is_some() && self.kind == Kind::Perp => 0,
            None => return Err(Reject::Invalid("quantity".into())),
        };
        self.vet_exits(req)?;
        // One-way mode takes orders of no leg; hedge mode, orders of a long or a short leg.
        let mut lots = lots;
        if self.kind == Kind::Perp {
            let hedge = self.accounts[account].settings.hedge.contains(&req.symbol);
            if hedge == (req.leg == super::Leg::Both) {
                return Err(Reject::LegMismatch);
            }
            // A reducing order may take no more than the leg holds against it (a conditional
            // one is judged when it triggers).
            if (req.reduce_only || req.leg.closed_by(req.side)) && req.trigger.is_none() {
                let room = self.reducible(account, &req.symbol, req.leg, req.side)?;
                if lots > room && (room == 0 || !self.reduce_only_trims) {
                    return Err(Reject::ReduceOnly);
                }
                lots = lots.min(room);
            }
        }
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
        if let Some(t) = req.trigger {
            // A trailing stop's trigger is not a price asked for (it follows the market).
            if req.trail.is_none() {
                spec.ticks(t.price).ok_or(Reject::Filter("PRICE_FILTER"))?;
            }
            let watched = match t.by {
                super::Watch::Last => self.symbols[&req.symbol].last_price,
                _ => self.mark(&req.symbol),
            };
            if t.reached(watched) {
                return Err(Reject::WouldTrigger { rises: t.rises });
            }
        }
        // Funds: hold what the order can cost at its limit (or sweep the book for a market
        // order); a conditional order holds nothing until it triggers.
        let held = match req.trigger {
            Some(_) if !self.holds_untriggered => Decimal::ZERO,
            _ => self.required_funds(account, &spec, req, price, lots)?,
        };
        let budget = match (req.kind, req.quote_qty, req.qty) {
            (OrderKind::Market, Some(q), None) => Some(
                (q / (spec.price_unit * spec.qty_unit))
                    .trunc()
                    .try_into()
                    .map_err(|_| Reject::Invalid("quoteOrderQty".into()))?,
            ),
            _ => None,
        };
        Ok(Vetted {
            spec,
            price,
            lots,
            would_take,
            held,
            budget,
        })
    }

    /// Books an exit the venue places itself (conditional, holding nothing till it fires).
    pub(super) fn admit_exit(
        &mut self,
        account: usize,
        req: NewOrder,
        lots: Lots,
        now_ms: i64,
    ) -> u64 {
        let spec = self.symbols[&req.symbol].spec.clone();
        let price = req.price.and_then(|p| spec.ticks(p));
        let vetted = Vetted {
            spec,
            price,
            lots,
            would_take: false,
            held: Decimal::ZERO,
            budget: None,
        };
        self.admit(account, req, vetted, None, now_ms)
    }

    /// Books a vetted order: reports it, holds its funds, and trades or rests it.
    fn admit(
        &mut self,
        account: usize,
        req: NewOrder,
        vetted: Vetted,
        list: Option<ListLink>,
        now_ms: i64,
    ) -> u64 {
        let Vetted {
            spec,
            price,
            lots,
            would_take,
            held,
            budget,
        } = vetted;
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
            status: if req.trigger.is_some() {
                Status::Untriggered
            } else {
                Status::New
            },
            reduce_only: req.reduce_only,
            leg: req.leg,
            trigger: req.trigger,
            triggered: false,
            list,
            close: req.close,
            algo: (req.algo && req.trigger.is_some()).then(|| {
                self.next_algo_id += 1;
                self.next_algo_id - 1
            }),
            created_ms: now_ms,
            updated_ms: now_ms,
            held,
            fills: Vec::new(),
            reject: None,
            child: req.child.clone(),
            exits: req.exits,
            trail: req.trail,
        };
        self.hold(account, &spec, req.side, held);
        self.orders.insert(id, order);
        self.report(id, ExecKind::New, None);
        self.emit_funds(account, &spec, now_ms);
        if req.trigger.is_some() {
            return id;
        }
        if would_take {
            // Accepted, then cancelled instead of taking liquidity (Bybit's way).
            if let Some(order) = self.orders.get_mut(&id) {
                order.reject = Some("EC_PostOnlyWillTakeLiquidity");
            }
            self.finish(id, Status::Canceled, now_ms);
            return id;
        }

        if req.tif == Tif::Fok && !self.fillable(&req.symbol, req.side, price, lots) {
            self.finish(id, Status::Expired, now_ms);
            return id;
        }
        self.match_and_rest(id, budget, now_ms);
        id
    }

    /// Ends the other leg of `id`'s order list, if it is still open: `status` (a cancel of one
    /// leg cancels both), or EXPIRED with why (one leg traded or triggered).
    pub(super) fn end_partner(
        &mut self,
        id: u64,
        status: Status,
        why: Option<&'static str>,
        now_ms: i64,
    ) {
        let Some(partner) = self
            .orders
            .get(&id)
            .and_then(|o| o.list.as_ref())
            .map(|l| l.partner)
        else {
            return;
        };
        let Some(other) = self.orders.get_mut(&partner).filter(|o| o.status.is_open()) else {
            return;
        };
        // A venue-placed exit's partner is deactivated, no reason given.
        other.reject = if other.child.is_some() { None } else { why };
        let (side, price, symbol) = (other.side, other.price, other.symbol.clone());
        if let Some(p) = price {
            self.symbols
                .get_mut(&symbol)
                .expect("symbol")
                .book
                .remove_order(side, p, partner);
        }
        self.finish(partner, status, now_ms);
    }

    /// Trades order `id`'s unfilled part against the book as far as its limit allows, then
    /// rests what is left (GTC, post-only) or ends it (IOC, FOK, market).
    pub(super) fn match_and_rest(&mut self, id: u64, budget: Option<i128>, now_ms: i64) {
        let (symbol, side, price, lots, filled) = {
            let o = &self.orders[&id];
            (o.symbol.clone(), o.side, o.price, o.lots, o.filled)
        };
        let taker_lots = if lots == 0 { Lots::MAX } else { lots - filled };
        let matches = self
            .symbols
            .get_mut(&symbol)
            .expect("checked")
            .book
            .take(side, price, taker_lots, budget);
        self.settle(id, &matches, now_ms);
        let order = &self.orders[&id];
        if order.status.is_open() {
            let rest = order.lots - order.filled;
            match (order.kind, order.tif) {
                (OrderKind::Limit, Tif::Gtc | Tif::PostOnly) if rest > 0 => {
                    let p = order.price.expect("limit order");
                    self.symbols.get_mut(&symbol).expect("checked").book.add(
                        side,
                        p,
                        Owner::Order(id),
                        rest,
                    );
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

    pub(super) fn report(&self, id: u64, kind: ExecKind, fill: Option<FillRec>) {
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
        s.candles.record(now_ms, id, p, q, taker == Side::Buy);
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
        self.derivative_trade(symbol, id, p, q, taker, now_ms);
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
        let (account, side, spec, limit, leg) = {
            let o = &self.orders[&id];
            (
                o.account,
                o.side,
                self.symbols[&o.symbol].spec.clone(),
                o.price,
                o.leg,
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
                let realized = self.apply_position(account, &spec.name, leg, side, qty, px, now_ms);
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
        // A leg of an order list that trades expires the other.
        self.end_partner(id, Status::Expired, Some("OCO_TRIGGER"), now_ms);
        self.emit_funds(account, &spec, now_ms);
        if self.kind == Kind::Perp {
            self.emit_position(account, &spec.name, now_ms);
            self.end_excess_reducers(account, &spec.name, leg, now_ms);
            self.arm_exits(id, lots, now_ms);
            if self.position(account, &spec.name, leg).size.is_zero() {
                self.drop_exits(account, &spec.name, leg, now_ms);
            }
        }
    }

    pub(super) fn finish(&mut self, id: u64, status: Status, now_ms: i64) {
        self.finish_one(id, status, now_ms);
        // Canceling one leg of an order list cancels the list.
        if status == Status::Canceled {
            self.end_partner(id, Status::Canceled, None, now_ms);
        }
    }

    fn finish_one(&mut self, id: u64, status: Status, now_ms: i64) {
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
        self.take_synthetic(symbol, side, limit, lots, now_ms);
        self.fire_triggers(symbol, now_ms);
    }

    fn take_synthetic(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Side;
    use crate::exchange::fixtures::*;

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
}
