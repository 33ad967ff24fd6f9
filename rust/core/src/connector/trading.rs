//! The connector's write and read sides for orders and the account (CQRS, DESIGN.md): every
//! answer about an order goes through the one state machine (`orders::Orders`), so what a
//! caller reads never moves backwards.
//!
//! A write whose outcome is unknown (timeout, lost connection, a 5xx — the venue may have
//! acted on it) leaves the order UNKNOWN and is never sent again: it is looked up by client
//! order id until found, or until the venue's receive window has passed with no trace of it,
//! which proves it was never accepted (the venue refuses a request older than its window).

use std::sync::MutexGuard;
use std::time::Duration;

use tokio::time::Instant;

use super::{Connector, REFUSAL_REFRESH};
use crate::model::{
    Balance, Decimal, Id, Order, OrderStatus, OrderType, Position, Symbol, TimeInForce,
};
use crate::orders::{self, NewOrder, Oco, OrderRef, OrderStats, Orders};
use crate::resilience::Backoff;
use crate::venue::Written;
use crate::{Error, Result};

/// Pages of open orders read at most (50 a page on Bybit).
const MAX_PAGES: usize = 40;
/// Lookups of an acknowledged-only write before its state is left to the user stream.
const ACK_LOOKUPS: u32 = 3;

/// An amendment ready to send: the order as held, its new quantity and price, and the same
/// as a new order (what the checks saw; the base of a replacement).
pub(super) struct AmendPlan {
    pub(super) current: Order,
    pub(super) qty: Decimal,
    pub(super) price: Decimal,
    pub(super) probe: NewOrder,
}

/// Whether the venue may have acted on a write that failed this way.
pub fn outcome_unknown(error: &Error) -> bool {
    match error {
        Error::Timeout { .. } | Error::ConnectionLost(_) => true,
        Error::Exchange(reply) => reply.http_status.is_some_and(|s| s >= 500),
        _ => false,
    }
}

impl Connector {
    pub(super) fn orders_mut(&self) -> MutexGuard<'_, Orders> {
        self.orders.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies a venue report (and publishes the change) and returns the order as now known:
    /// if the report was stale, the newer state already held.
    pub(super) fn settle(&self, report: &Order) -> Order {
        self.absorb(Some(report), None)
            .unwrap_or_else(|| report.clone())
    }

    pub(super) fn settle_written(&self, written: Written) -> Option<Order> {
        match written {
            Written::Order(order, fills) => {
                let mut known = self.settle(&order);
                for fill in &fills {
                    if let Some(o) = self.absorb(None, Some(fill)) {
                        known = o;
                    }
                }
                Some(known)
            }
            Written::Ack { .. } => None,
        }
    }

    /// A new client order id, or the caller's checked.
    pub fn client_order_id(&self, given: Option<&str>) -> Result<Id> {
        crate::venue::client_order_id(&self.client_ids, given)
    }

    /// Checks `order` against its symbol's rules and places it. Returns the order as the venue
    /// reports it, or UNKNOWN if neither the answer nor a lookup could tell.
    pub async fn place(&self, mut order: NewOrder) -> Result<Order> {
        let info = self.symbol_info(order.symbol.as_str()).await?;
        order.symbol = info.symbol;
        self.check(&info, &order)?;
        let source = info.source;
        let client_id = order.client_order_id.clone();
        let unanswered = order.unanswered(source, self.server_time_ms());
        if !self.orders_mut().expect(unanswered.clone()) {
            return Err(Error::invalid_argument(
                "client_order_id",
                format!("'{client_id}' was used already by this connector"),
            ));
        }
        let sent_at = Instant::now();
        let answer = self.request(&self.trading.place(&order)).await;
        let which = OrderRef::ClientOrderId(client_id.clone());
        let outcome = match answer {
            Ok(answer) => self.trading.placed(&answer),
            Err(error) => Err(error),
        };
        let placed = match outcome {
            Ok(Written::Ack { order_id }) => {
                self.look_up_ack(order.symbol, &which, unanswered, &order_id)
                    .await
            }
            Ok(written) => self.settle_written(written).unwrap_or(unanswered),
            // No answer, or one we cannot read (`Protocol`): the venue may have acted on it.
            Err(error) if outcome_unknown(&error) || matches!(error, Error::Protocol { .. }) => {
                tracing::warn!(%client_id, %error, "place outcome unknown; looking it up");
                self.resolve(order.symbol, unanswered, sent_at).await
            }
            Err(error) => {
                // The venue refused it (or it never left): it will not exist.
                self.refused(unanswered, &error).await;
                return Err(error);
            }
        };
        match self.trading.refusal(&placed) {
            Some(refusal) => Err(refusal),
            None => Ok(placed),
        }
    }

    /// Places a one-cancels-the-other pair where the venue has one (Binance spot): both legs
    /// checked as orders of their own (and the take-profit on the profit side of the stop)
    /// before anything is sent. Returns the take-profit and the stop as the venue reports them;
    /// a lost answer is resolved leg by leg by client id, never resent.
    pub async fn place_oco(&self, mut oco: Oco) -> Result<(Order, Order)> {
        let info = self.symbol_info(oco.symbol.as_str()).await?;
        oco.symbol = info.symbol;
        let Some(request) = self.trading.place_oco(&oco) else {
            return Err(Error::invalid_argument(
                "oco",
                format!(
                    "{} {} has no one-cancels-the-other orders",
                    self.venue, self.market
                ),
            ));
        };
        let legs = [oco.limit_leg(), oco.stop_leg()];
        for leg in &legs {
            self.check(&info, leg)?;
        }
        if !oco.prices_in_order() {
            return Err(Error::InvalidOrder {
                rule: orders::rule::OCO_PRICES.to_owned(),
                message: format!(
                    "a {} take-profit at {} must be {} its stop at {}",
                    oco.side,
                    oco.limit_price,
                    if oco.side == crate::model::Side::Sell {
                        "above"
                    } else {
                        "below"
                    },
                    oco.stop_trigger
                ),
                reply: None,
            });
        }
        let now = self.server_time_ms();
        let unanswered = legs.clone().map(|leg| leg.unanswered(info.source, now));
        {
            let mut held = self.orders_mut();
            if unanswered.iter().any(|o| {
                held.find(&OrderRef::ClientOrderId(o.client_order_id.clone()))
                    .is_some()
            }) || unanswered[0].client_order_id == unanswered[1].client_order_id
            {
                return Err(Error::invalid_argument(
                    "client_order_id",
                    "a leg's client order id was used already by this connector",
                ));
            }
            for order in &unanswered {
                held.expect(order.clone());
            }
        }
        let sent_at = Instant::now();
        let outcome = match self.request(&request).await {
            Ok(answer) => self.trading.placed_oco(&answer),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(written) => {
                for w in written {
                    self.settle_written(w);
                }
            }
            Err(error) if outcome_unknown(&error) || matches!(error, Error::Protocol { .. }) => {
                tracing::warn!(list = %oco.list_client_order_id, %error, "OCO outcome unknown; looking the legs up");
                for order in &unanswered {
                    self.resolve(oco.symbol, order.clone(), sent_at).await;
                }
            }
            Err(error) => {
                for order in &unanswered {
                    self.refused(order.clone(), &error).await;
                }
                return Err(error);
            }
        }
        let [limit, stop] = unanswered.map(|o| {
            self.orders_mut()
                .get(&o.client_order_id)
                .cloned()
                .unwrap_or(o)
        });
        Ok((limit, stop))
    }

    /// Checks a new order against what this market places, then its symbol's rules.
    pub(super) fn check(&self, info: &crate::model::SymbolInfo, order: &NewOrder) -> Result<()> {
        if let Some(rate) = order.trigger.and_then(|t| t.trailing) {
            self.check_callback_rate(rate)?;
        }
        if let Some(trigger) = order.trigger {
            let watched = self.trading.trigger_prices();
            if !watched.contains(&trigger.by) {
                let (rule, message) = if watched.is_empty() {
                    ("trigger", "takes no conditional orders".to_owned())
                } else {
                    let names: Vec<&str> = watched.iter().map(|b| b.as_str()).collect();
                    (
                        "trigger_by",
                        format!(
                            "triggers watch the {} price, not the {}",
                            names.join(" or "),
                            trigger.by
                        ),
                    )
                };
                return Err(Error::InvalidOrder {
                    rule: rule.to_owned(),
                    message: format!("{} {} {message}", self.venue, self.market),
                    reply: None,
                });
            }
        }
        if (order.take_profit.is_some() || order.stop_loss.is_some())
            && !self.trading.attaches_exits()
        {
            return Err(Error::InvalidOrder {
                rule: orders::rule::EXITS.to_owned(),
                message: format!(
                    "{} {} takes no take-profit or stop-loss attached to an order (place them as \
                     orders of their own: place_stop / place_take_profit)",
                    self.venue, self.market
                ),
                reply: None,
            });
        }
        orders::check(info, order)
    }

    /// A trailing stop's callback rate against what the market takes.
    fn check_callback_rate(&self, rate: Decimal) -> Result<()> {
        let refuse = |message: String| Error::InvalidOrder {
            rule: orders::rule::TRAILING.to_owned(),
            message: format!("{} {} {message}", self.venue, self.market),
            reply: None,
        };
        let Some((min, max, step)) = self.trading.callback_rates() else {
            return Err(refuse(
                "takes no trailing stop orders (Bybit trails a position: set_position_exits \
                 with trailing_stop)"
                    .into(),
            ));
        };
        if rate < min || max.is_some_and(|m| rate > m) {
            let range = match max {
                Some(max) => format!("from {min}% to {max}%"),
                None => format!("of at least {min}%"),
            };
            return Err(refuse(format!("takes callback rates {range}, not {rate}%")));
        }
        if step.is_some_and(|s| !(rate % s).is_zero()) {
            return Err(refuse(format!(
                "takes callback rates in steps of {}%, not {rate}%",
                step.unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// Records a new order the venue refused as REJECTED (it will not exist). If the venue's
    /// filters refused what our checks passed, its rules are read again before answering, so
    /// a retry is checked against what the venue holds now.
    pub(super) async fn refused(&self, mut order: Order, error: &Error) {
        self.reject(&mut order, error);
        if self.trading.names_a_filter(error) {
            self.refresh_rules_after_refusal().await;
        }
    }

    /// Records a new order the venue refused as REJECTED, and nothing more.
    pub(super) fn reject(&self, order: &mut Order, error: &Error) {
        order.status = OrderStatus::Rejected;
        order.reject_reason = Some(error.to_string());
        self.settle(order);
    }

    /// Reads the symbol rules again after a filter refusal, at most once every
    /// [`REFUSAL_REFRESH`] (a burst of refused orders reads them once).
    pub(super) async fn refresh_rules_after_refusal(&self) {
        {
            let mut last = self
                .rules_refused_at
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < REFUSAL_REFRESH) {
                return;
            }
            *last = Some(Instant::now());
        }
        if let Err(e) = self.refresh_symbols().await {
            tracing::warn!(error = %e, "symbol rules refresh after a refusal failed");
        }
    }

    /// Looks up an order the venue only acknowledged; if it is not visible yet it is reported
    /// PENDING_NEW with the venue's id (it exists: never an error), and the user stream or the
    /// reconciliation brings its state.
    pub(super) async fn look_up_ack(
        &self,
        symbol: Symbol,
        which: &OrderRef,
        unanswered: Order,
        order_id: &str,
    ) -> Order {
        for attempt in 0..ACK_LOOKUPS {
            match self.query_venue(symbol, which).await {
                Ok(found) => return found,
                Err(error) => tracing::debug!(%error, "acknowledged order not visible yet"),
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        let known = self.orders_mut().get(&unanswered.client_order_id).cloned();
        let mut pending = known.unwrap_or(unanswered);
        pending.order_id = Id::new(order_id);
        pending.status = OrderStatus::PendingNew;
        self.settle(&pending)
    }

    /// Finds out what became of a write with an unknown outcome: found → its state; not found
    /// once the receive window (plus clock error) has passed → REJECTED, it never reached the
    /// venue; still unsure after that and a request timeout more → UNKNOWN.
    pub(super) async fn resolve(
        &self,
        symbol: Symbol,
        unanswered: Order,
        sent_at: Instant,
    ) -> Order {
        let client_id = &unanswered.client_order_id;
        let config = &self.config.http;
        let proof = sent_at + config.recv_window + Duration::from_secs(1);
        let give_up = proof + config.timeout;
        let which = OrderRef::ClientOrderId(client_id.clone());
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.query_venue(symbol, &which).await {
                Ok(found) => return found,
                Err(Error::OrderNotFound(_)) if Instant::now() >= proof => {
                    let mut never = self.orders_mut().get(client_id).cloned();
                    if let Some(order) = never.as_mut() {
                        order.status = OrderStatus::Rejected;
                        tracing::info!(%client_id, "unknown order never reached the venue");
                        return self.settle(order);
                    }
                }
                Err(error) => tracing::debug!(%client_id, %error, "lookup of unknown order"),
            }
            if Instant::now() >= give_up || self.cancel.is_cancelled() {
                break;
            }
            tokio::time::sleep(backoff.delay(attempt)).await;
        }
        self.orders_mut()
            .get(client_id)
            .cloned()
            .unwrap_or(unanswered)
    }

    /// Whether the order is held as a conditional order not yet triggered (or not known to
    /// have), so that where the venue keeps such orders apart they are asked for there first.
    fn waits_apart(&self, which: &OrderRef) -> bool {
        self.orders_mut().find(which).is_some_and(|o| {
            o.trigger.is_some()
                && matches!(o.status, OrderStatus::Untriggered | OrderStatus::Unknown)
        })
    }

    /// Asks the venue for one order (every lookup it offers, in turn: where it keeps untriggered
    /// orders apart, there first for one held as such, last otherwise) and applies the answer.
    pub(super) async fn query_venue(&self, symbol: Symbol, which: &OrderRef) -> Result<Order> {
        let mut asks = self.trading.query(symbol, which);
        if let Some(apart) = self.trading.query_untriggered(symbol, which) {
            if self.waits_apart(which) {
                asks.insert(0, apart);
            } else {
                asks.push(apart);
            }
        }
        let mut last = None;
        let mut triggered = None;
        for request in asks {
            match self.request(&request).await {
                Ok(answer) => match self.trading.queried(&answer)? {
                    Some(order) => {
                        let known = self.settle(&order);
                        // A lookup that only says the order triggered (Binance USD-M's algo
                        // service): the order it became is the other lookups' to tell.
                        if known.status != OrderStatus::Triggered {
                            return Ok(known);
                        }
                        triggered = Some(known);
                    }
                    None => continue,
                },
                Err(error @ Error::OrderNotFound(_)) => last = Some(error),
                Err(error) if triggered.is_none() => return Err(error),
                Err(_) => break,
            }
        }
        if let Some(known) = triggered {
            return Ok(known);
        }
        Err(last.unwrap_or_else(|| {
            Error::OrderNotFound(crate::error::VenueReply {
                venue: self.venue,
                code: None,
                message: format!("no order {which:?} on {symbol}"),
                http_status: None,
                request: None,
            })
        }))
    }

    /// One order, as the venue reports it now (through the state machine).
    pub async fn order(&self, symbol: &str, which: &OrderRef) -> Result<Order> {
        let symbol = self.listed_or_fetch(symbol).await?;
        self.query_venue(symbol, which).await
    }

    /// Cancels one order and returns its state after the cancel.
    pub async fn cancel(&self, symbol: &str, which: &OrderRef) -> Result<Order> {
        let symbol = self.listed_or_fetch(symbol).await?;
        // A conditional order not yet triggered is canceled apart where the venue keeps it
        // apart; one not known here is tried as an ordinary order first.
        let untriggered = self.waits_apart(which);
        let apart = self.trading.cancel_untriggered(symbol, which);
        let first = match (&apart, untriggered) {
            (Some(request), true) => request.clone(),
            _ => self.trading.cancel(symbol, which),
        };
        let mut outcome = self.request(&first).await;
        if let (Err(Error::OrderNotFound(_)), Some(request), false) =
            (&outcome, &apart, untriggered)
        {
            outcome = self.request(request).await;
        }
        match outcome {
            Ok(answer) => match self.trading.canceled(&answer)? {
                Written::Ack { .. } => self.query_venue(symbol, which).await,
                written => match self.settle_written(written) {
                    Some(order) => Ok(order),
                    None => self.query_venue(symbol, which).await,
                },
            },
            Err(error) if outcome_unknown(&error) => {
                // The cancel may or may not have happened: the order's own state says.
                self.query_venue(symbol, which).await.map_err(|_| error)
            }
            Err(error @ Error::OrderNotFound(_)) => {
                // Often "already filled or canceled": learn its final state, then say so.
                let _ = self.query_venue(symbol, which).await;
                Err(error)
            }
            Err(error) => Err(error),
        }
    }

    /// The order as held, or as the venue reports it if not held (or held UNKNOWN).
    pub async fn known_or_query(&self, symbol: Symbol, which: &OrderRef) -> Result<Order> {
        let held = self.orders_mut().find(which).cloned();
        match held {
            Some(order) if order.status != OrderStatus::Unknown => Ok(order),
            _ => self.query_venue(symbol, which).await,
        }
    }

    /// Amends an open LIMIT order to `qty` (total, the filled part included) and/or `price`,
    /// checked against the symbol's rules first. In place where the venue can (Binance USD-M
    /// modify, Bybit amend, Binance spot's keep-priority quantity decrease): the same order,
    /// its new state returned. Where it cannot (Binance spot: a price change or a quantity
    /// increase), the order is replaced atomically: the returned order is the replacement
    /// (new ids, `replacement_id` as its client id, the unfilled rest as its quantity), the old
    /// one ends CANCELED. An answer lost on the way is resolved by looking the order up, never
    /// by sending again; a refusal leaves the order as it was.
    pub async fn amend(
        &self,
        symbol: &str,
        which: &OrderRef,
        qty: Option<Decimal>,
        price: Option<Decimal>,
        replacement_id: Option<Id>,
    ) -> Result<Order> {
        let plan = self.plan_amend(symbol, which, qty, price).await?;
        let Some(request) = self.trading.amend(&plan.current, plan.qty, plan.price) else {
            // No in-place change for this: replace the unfilled rest.
            let rest = plan.qty - plan.current.filled_qty;
            let replacement = NewOrder {
                qty: Some(rest),
                client_order_id: match replacement_id {
                    Some(id) => id,
                    None => self.client_order_id(None)?,
                },
                ..plan.probe
            };
            if self.trading.replace(which, &replacement).is_none() {
                return Err(Error::InvalidOrder {
                    rule: orders::rule::AMEND_IN_PLACE.to_owned(),
                    message: format!(
                        "{} {} cannot amend {} ({}) in place and has no atomic cancel-replace: cancel it and place a new one",
                        self.venue, self.market, plan.current.client_order_id, plan.current.status
                    ),
                    reply: None,
                });
            }
            return self
                .replace(plan.probe.symbol.as_str(), which, replacement)
                .await;
        };
        let answer = match self.request(&request).await {
            Ok(answer) => self.trading.amended(&answer),
            Err(error) => Err(error),
        };
        self.amend_outcome(&plan.current, answer).await
    }

    /// An amendment checked against the order as held (or read) and the symbol's rules.
    pub(super) async fn plan_amend(
        &self,
        symbol: &str,
        which: &OrderRef,
        qty: Option<Decimal>,
        price: Option<Decimal>,
    ) -> Result<AmendPlan> {
        if qty.is_none() && price.is_none() {
            return Err(Error::invalid_argument(
                "qty",
                "give a new qty, price or both",
            ));
        }
        let info = self.symbol_info(symbol).await?;
        let current = self.known_or_query(info.symbol, which).await?;
        if current.status.is_terminal() {
            return Err(Error::OrderNotFound(crate::error::VenueReply {
                venue: self.venue,
                code: None,
                message: format!(
                    "order {} already ended ({})",
                    current.client_order_id, current.status
                ),
                http_status: None,
                request: None,
            }));
        }
        let refuse = |rule: &str, message: String| Error::InvalidOrder {
            rule: rule.to_owned(),
            message,
            reply: None,
        };
        let (Some(now_price), Some(now_qty), OrderType::Limit) =
            (current.price, current.qty, current.order_type)
        else {
            return Err(refuse(
                orders::rule::AMEND_LIMIT_ONLY,
                format!(
                    "{} is a {} order: only LIMIT orders can be amended",
                    current.client_order_id, current.order_type
                ),
            ));
        };
        let (new_qty, new_price) = (qty.unwrap_or(now_qty), price.unwrap_or(now_price));
        if new_qty == now_qty && new_price == now_price {
            return Err(refuse(
                orders::rule::NO_CHANGE,
                format!(
                    "{} already has qty {now_qty} at {now_price}",
                    current.client_order_id
                ),
            ));
        }
        if new_qty <= current.filled_qty {
            return Err(refuse(
                orders::rule::QTY_NOT_ABOVE_FILLED,
                format!(
                    "qty {new_qty} is not above the {} already filled: cancel the order instead",
                    current.filled_qty
                ),
            ));
        }
        // The new values pass the same checks as a new order of them.
        let probe = NewOrder {
            symbol: info.symbol,
            side: current.side,
            order_type: OrderType::Limit,
            qty: Some(new_qty),
            quote_qty: None,
            price: Some(new_price),
            time_in_force: current.time_in_force,
            post_only: current.time_in_force == Some(TimeInForce::PostOnly),
            reduce_only: current.reduce_only,
            position_side: current.position_side,
            trigger: current.trigger,
            client_order_id: current.client_order_id.clone(),
            close_position: false,
            stop_loss: None,
            take_profit: None,
        };
        self.check(&info, &probe)?;
        Ok(AmendPlan {
            current,
            qty: new_qty,
            price: new_price,
            probe,
        })
    }

    /// What an amendment's answer (or its failure) says of the order, through the state
    /// machine: a lost or unreadable answer is resolved by looking the order up.
    pub(super) async fn amend_outcome(
        &self,
        current: &Order,
        answer: Result<Written>,
    ) -> Result<Order> {
        let symbol = current.symbol;
        let which = OrderRef::ClientOrderId(current.client_order_id.clone());
        match answer {
            Ok(Written::Ack { .. }) => self.query_venue(symbol, &which).await,
            Ok(written) => match self.settle_written(written) {
                Some(order) => Ok(order),
                None => self.query_venue(symbol, &which).await,
            },
            Err(error) if outcome_unknown(&error) || matches!(error, Error::Protocol { .. }) => {
                tracing::warn!(client_id = %current.client_order_id, %error, "amend outcome unknown; looking it up");
                self.query_venue(symbol, &which).await.map_err(|_| error)
            }
            Err(error @ Error::OrderNotFound(_)) => {
                let _ = self.query_venue(symbol, &which).await;
                Err(error)
            }
            Err(error) => {
                if self.trading.names_a_filter(&error) {
                    self.refresh_rules_after_refusal().await;
                }
                Err(error)
            }
        }
    }

    /// Cancels the order `which` and places `new` in one request, where the venue has one
    /// (Binance spot); returns the new order (the old one's end comes through the state
    /// machine). A refusal of the new order after the cancel went through is an error that
    /// says so; the old order's state is then read, so `order()` tells it. A lost answer is
    /// resolved by looking both up.
    pub async fn replace(
        &self,
        symbol: &str,
        which: &OrderRef,
        mut new: NewOrder,
    ) -> Result<Order> {
        let info = self.symbol_info(symbol).await?;
        new.symbol = info.symbol;
        let Some(request) = self.trading.replace(which, &new) else {
            return Err(Error::invalid_argument(
                "replace",
                format!(
                    "{} {} has no atomic cancel-replace: use amend(), or cancel() then place",
                    self.venue, self.market
                ),
            ));
        };
        self.check(&info, &new)?;
        let unanswered = new.unanswered(info.source, self.server_time_ms());
        if !self.orders_mut().expect(unanswered.clone()) {
            return Err(Error::invalid_argument(
                "client_order_id",
                format!(
                    "'{}' was used already by this connector",
                    new.client_order_id
                ),
            ));
        }
        let sent_at = Instant::now();
        let outcome = match self.request(&request).await {
            Ok(answer) => self.trading.replaced(&answer),
            Err(error) => Err(error),
        };
        match outcome {
            Ok((canceled, placed)) => {
                self.settle_written(canceled);
                Ok(self.settle_written(placed).unwrap_or(unanswered))
            }
            Err(error) if outcome_unknown(&error) || matches!(error, Error::Protocol { .. }) => {
                tracing::warn!(client_id = %new.client_order_id, %error, "replace outcome unknown; looking it up");
                let _ = self.query_venue(info.symbol, which).await;
                Ok(self.resolve(info.symbol, unanswered, sent_at).await)
            }
            Err(error) => {
                self.refused(unanswered, &error).await;
                // The cancel may have gone through (a refused new order after it): read it.
                let _ = self.query_venue(info.symbol, which).await;
                Err(error)
            }
        }
    }

    /// Cancels every open order of `symbol`; returns the canceled orders' states.
    pub async fn cancel_all(&self, symbol: &str) -> Result<Vec<Order>> {
        let symbol = self.listed_or_fetch(symbol).await?;
        // Where the answer does not list the orders, list them first to look each up after.
        let before = if self.trading.cancel_all_lists() {
            Vec::new()
        } else {
            self.open_orders(Some(symbol.as_str())).await?
        };
        let mut answers = vec![self.request(&self.trading.cancel_all(symbol)).await?];
        if let Some(request) = self.trading.cancel_all_untriggered(symbol) {
            answers.push(self.request(&request).await?);
        }
        let mut written_all = Vec::new();
        for answer in &answers {
            written_all.extend(self.trading.all_canceled(answer)?);
        }
        let mut out = Vec::new();
        for written in written_all {
            match written {
                Written::Ack { order_id } => {
                    let which = OrderRef::OrderId(Id::new(&order_id));
                    out.push(self.query_venue(symbol, &which).await?);
                }
                written => out.extend(self.settle_written(written)),
            }
        }
        for order in before {
            let which = OrderRef::ClientOrderId(order.client_order_id.clone());
            out.push(self.query_venue(symbol, &which).await?);
        }
        Ok(out)
    }

    /// Open orders of one symbol or of all, every page.
    pub async fn open_orders(&self, symbol: Option<&str>) -> Result<Vec<Order>> {
        let symbol = match symbol {
            Some(s) => Some(self.listed_or_fetch(s).await?),
            None => None,
        };
        self.list_open(symbol, true).await
    }

    /// Open orders, every page: ordinary ones, then (`apart`, where the venue lists them apart)
    /// untriggered ones.
    pub(super) async fn list_open(
        &self,
        symbol: Option<Symbol>,
        apart: bool,
    ) -> Result<Vec<Order>> {
        let mut out: Vec<Order> = Vec::new();
        for untriggered in [false, true] {
            if untriggered && !apart {
                break;
            }
            let mut cursor: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let request = if untriggered {
                    self.trading.open_untriggered(symbol, cursor.as_deref())
                } else {
                    Some(self.trading.open_orders(symbol, cursor.as_deref()))
                };
                let Some(request) = request else {
                    break;
                };
                let answer = self.request(&request).await?;
                let (orders, next) = self.trading.orders_of(&answer)?;
                let last_page = orders.is_empty() || next.is_none();
                for order in &orders {
                    // The listings may overlap: each order once.
                    if !out.iter().any(|o| {
                        o.client_order_id == order.client_order_id && o.order_id == order.order_id
                    }) {
                        out.push(self.settle(order));
                    }
                }
                if last_page {
                    break;
                }
                cursor = next;
            }
        }
        Ok(out)
    }

    pub async fn balances(&self) -> Result<Vec<Balance>> {
        let answer = self.request(&self.trading.balances()).await?;
        self.trading.balances_of(&answer, self.server_time_ms())
    }

    /// Positions of a derivatives market (all open ones, or one symbol's even if flat).
    pub async fn positions(&self, symbol: Option<&str>) -> Result<Vec<Position>> {
        let symbol = match symbol {
            Some(s) => Some(self.listed_or_fetch(s).await?),
            None => None,
        };
        let Some(request) = self.trading.positions(symbol) else {
            return Err(Error::invalid_argument(
                "market",
                format!("{} {} has no positions", self.venue, self.market),
            ));
        };
        let answer = self.request(&request).await?;
        let extras = match self.trading.position_extras(symbol) {
            Some(r) => Some(self.request(&r).await?),
            None => None,
        };
        self.trading.positions_of(&answer, extras.as_ref())
    }

    pub fn order_stats(&self) -> OrderStats {
        self.orders_mut().stats()
    }

    /// A symbol name checked against the venue's list (read if not yet).
    async fn listed_or_fetch(&self, symbol: &str) -> Result<Symbol> {
        Ok(self.symbol_info(symbol).await?.symbol)
    }
}
