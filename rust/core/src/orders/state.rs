//! One order state machine for every venue (DESIGN.md decision 8).
//!
//! Whatever reports an order — a REST answer, a query, a user-stream event, a reconciliation —
//! goes through [`Orders::apply`], which keeps only what moves the order forward:
//! - status only moves forward (`NEW` → `PARTIALLY_FILLED` → a terminal status); `UNKNOWN` (a
//!   write whose answer never came) may move anywhere; nothing leaves a terminal status;
//! - the filled quantity never decreases;
//! - fills are deduplicated by trade id and applied even after a terminal status (a fill event
//!   may arrive after the order's final update);
//! - an amendment (a new price or quantity, same status and filled) is taken when it is later
//!   than what is held, or at the same time when those values were never seen for the order; an
//!   earlier revision arriving late never undoes a later one, whatever else it brings.
//!
//! Updates that would move an order backwards are ignored and counted; repeats are dropped.
//!
//! An order that ended is kept a while ([`Orders::evict_ended`]), then forgotten: a long-lived
//! connector must not hold every order of its life. Its ids are remembered longer (a bounded
//! list), so a late report of it is recognised as old rather than published as a new order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::model::{Decimal, Fill, Id, Order, OrderStatus};

/// Where a status stands on the way to its end; a status may only be replaced by one of a
/// higher rank, or of the same rank with more filled.
fn rank(status: OrderStatus) -> u8 {
    use OrderStatus::*;
    match status {
        Unknown => 0,
        PendingNew | Untriggered => 1,
        Triggered => 2,
        New => 3,
        PartiallyFilled | PendingCancel => 4,
        Filled
        | Canceled
        | PartiallyFilledCanceled
        | Rejected
        | Expired
        | ExpiredInMatch
        | Deactivated => 5,
    }
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // returned and consumed at once; boxing would allocate per update
pub enum Applied {
    /// The order changed; this is its new state.
    Changed(Order),
    /// Nothing new (a repeat, or a fill already counted).
    Duplicate,
    /// It would have moved the order backwards; ignored.
    Stale(String),
    /// A fill of an order not seen yet, kept until its order arrives.
    Held,
}

/// Fills kept for orders not seen yet, at most (a venue sending fills of orders it never
/// reports would otherwise grow this without end).
const MAX_ORPHANS: usize = 10_000;

/// Ids of evicted orders remembered, at most (~100 bytes each).
const MAX_GONE: usize = 100_000;

#[derive(Debug, Clone)]
struct Tracked {
    order: Order,
    fills: Vec<Fill>,
    trade_ids: HashSet<Id>,
    /// Price, quantity and trigger price this order has had, latest last (at most
    /// [`MAX_REVISIONS`]).
    revisions: Vec<Revision>,
}

type Revision = (Option<Decimal>, Option<Decimal>, Option<Decimal>);

fn revision(o: &Order) -> Revision {
    (o.price, o.qty, o.trigger.map(|t| t.price))
}

/// Revisions remembered an order: enough to know a late repeat of a recent one.
const MAX_REVISIONS: usize = 8;

impl Tracked {
    fn new(order: Order) -> Tracked {
        let revisions = vec![revision(&order)];
        Tracked {
            order,
            fills: Vec::new(),
            trade_ids: HashSet::new(),
            revisions,
        }
    }

    fn saw(&self, revision: Revision) -> bool {
        self.revisions.contains(&revision)
    }

    fn note(&mut self, revision: Revision) {
        if self.revisions.last() != Some(&revision) {
            if self.revisions.len() >= MAX_REVISIONS {
                self.revisions.remove(0);
            }
            self.revisions.push(revision);
        }
    }
}

/// Counters of what the state machine refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderStats {
    pub applied: u64,
    pub duplicates: u64,
    pub stale: u64,
    /// Orders held now (open ones, and ended ones within their keeping time).
    pub held: usize,
}

/// Every order this connector has seen, by client order id (every order has one).
#[derive(Debug, Default)]
pub struct Orders {
    by_client: HashMap<Id, Tracked>,
    by_order_id: HashMap<Id, Id>,
    /// Fills that arrived before their order, by the order's venue id or client id.
    orphans: HashMap<Id, Vec<Fill>>,
    /// Orders that ended, oldest first: when, and the client id.
    ended: VecDeque<(Instant, Id)>,
    /// Client and venue ids of evicted orders (`gone_order`: the same, oldest first).
    gone: HashSet<Id>,
    gone_order: VecDeque<Id>,
    stats: OrderStats,
}

impl Orders {
    pub fn get(&self, client_order_id: &Id) -> Option<&Order> {
        self.by_client.get(client_order_id).map(|t| &t.order)
    }

    /// The order as held, named either way.
    pub fn find(&self, which: &super::OrderRef) -> Option<&Order> {
        match which {
            super::OrderRef::ClientOrderId(id) => self.get(id),
            super::OrderRef::OrderId(id) => self.by_order_id.get(id).and_then(|c| self.get(c)),
        }
    }

    pub fn fills(&self, client_order_id: &Id) -> &[Fill] {
        self.by_client
            .get(client_order_id)
            .map_or(&[], |t| t.fills.as_slice())
    }

    pub fn stats(&self) -> OrderStats {
        OrderStats {
            held: self.by_client.len(),
            ..self.stats
        }
    }

    /// Orders held (ended ones not yet evicted included).
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// Forgets the orders that ended `keep_for` or longer before `now` (the venue still answers
    /// queries of them); returns how many.
    pub fn evict_ended(&mut self, now: Instant, keep_for: Duration) -> usize {
        let mut evicted = 0;
        while let Some((at, _)) = self.ended.front() {
            if now.saturating_duration_since(*at) < keep_for {
                break;
            }
            let Some((_, client_id)) = self.ended.pop_front() else {
                break;
            };
            let Some(tracked) = self.by_client.remove(&client_id) else {
                continue;
            };
            let order_id = tracked.order.order_id;
            if !order_id.is_empty() {
                self.by_order_id.remove(&order_id);
                self.remember_gone(order_id);
            }
            self.remember_gone(client_id);
            evicted += 1;
        }
        evicted
    }

    fn remember_gone(&mut self, id: Id) {
        if self.gone_order.len() >= MAX_GONE
            && let Some(oldest) = self.gone_order.pop_front()
        {
            self.gone.remove(&oldest);
        }
        if self.gone.insert(id.clone()) {
            self.gone_order.push_back(id);
        }
    }

    /// Orders not yet in a terminal status (UNKNOWN included: it may still be open).
    pub fn unfinished(&self) -> impl Iterator<Item = &Order> {
        self.by_client
            .values()
            .map(|t| &t.order)
            .filter(|o| !o.status.is_terminal())
    }

    /// Records `order` as sent but unanswered (UNKNOWN); false if its client id is known already.
    pub fn expect(&mut self, order: Order) -> bool {
        match self.by_client.entry(order.client_order_id.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Tracked::new(order));
                true
            }
        }
    }

    /// Applies what the venue says of an order.
    pub fn apply(&mut self, update: &Order) -> Applied {
        let key = self.key_of(update);
        let Some(tracked) = self.by_client.get_mut(&key) else {
            if self.gone.contains(&key) {
                self.stats.stale += 1;
                return Applied::Stale(format!("order {key} ended and was forgotten"));
            }
            let mut order = update.clone();
            order.client_order_id = key.clone();
            self.index(&order);
            self.by_client.insert(key, Tracked::new(order.clone()));
            self.note_end(&order);
            self.stats.applied += 1;
            return Applied::Changed(order);
        };
        let current = &tracked.order;
        let verdict = judge(current, update, |r| tracked.saw(r));
        match verdict {
            Verdict::Take => {
                let was_terminal = current.status.is_terminal();
                let merged = merge(current, update);
                tracked.note(revision(&merged));
                tracked.order = merged.clone();
                self.index(&merged);
                if !was_terminal {
                    self.note_end(&merged);
                }
                self.stats.applied += 1;
                Applied::Changed(merged)
            }
            Verdict::Same => {
                self.stats.duplicates += 1;
                Applied::Duplicate
            }
            Verdict::Backwards(why) => {
                self.stats.stale += 1;
                Applied::Stale(why)
            }
        }
    }

    /// Applies one execution; a trade id seen before is a duplicate. The order's filled quantity
    /// rises to at least the sum of its fills.
    pub fn apply_fill(&mut self, fill: &Fill) -> Applied {
        let key = if fill.client_order_id.is_empty() {
            self.by_order_id.get(&fill.order_id).cloned()
        } else {
            Some(fill.client_order_id.clone())
        };
        let gone = |id: &Id| !id.is_empty() && self.gone.contains(id);
        if gone(&fill.client_order_id) || gone(&fill.order_id) {
            self.stats.duplicates += 1;
            return Applied::Duplicate;
        }
        let Some(tracked) = key.and_then(|k| self.by_client.get_mut(&k)) else {
            if self.orphans.values().map(Vec::len).sum::<usize>() >= MAX_ORPHANS {
                self.stats.stale += 1;
                return Applied::Stale(format!("fill {} of an order never seen", fill.trade_id));
            }
            let by = if fill.client_order_id.is_empty() {
                fill.order_id.clone()
            } else {
                fill.client_order_id.clone()
            };
            self.orphans.entry(by).or_default().push(fill.clone());
            return Applied::Held;
        };
        if !tracked.trade_ids.insert(fill.trade_id.clone()) {
            self.stats.duplicates += 1;
            return Applied::Duplicate;
        }
        tracked.fills.push(fill.clone());
        let total: Decimal = tracked.fills.iter().map(|f| f.qty).sum();
        if total > tracked.order.filled_qty {
            let order = &mut tracked.order;
            order.filled_qty = total;
            let value: Decimal = tracked.fills.iter().map(|f| f.qty * f.price).sum();
            order.avg_price = Some((value / total).normalize());
            order.updated_time_ms = order.updated_time_ms.max(fill.exchange_time_ms);
            if order.status.is_open() && order.qty.is_some_and(|q| total < q) {
                order.status = OrderStatus::PartiallyFilled;
            }
        }
        self.stats.applied += 1;
        Applied::Changed(tracked.order.clone())
    }

    /// Fills that arrived before `order`, to apply now that it is known.
    pub fn take_orphans(&mut self, order: &Order) -> Vec<Fill> {
        if self.orphans.is_empty() {
            return Vec::new();
        }
        let mut out = self
            .orphans
            .remove(&order.client_order_id)
            .unwrap_or_default();
        if !order.order_id.is_empty() {
            out.extend(self.orphans.remove(&order.order_id).unwrap_or_default());
        }
        out
    }

    /// The state held for the order `report` is about.
    pub fn current(&self, report: &Order) -> Option<&Order> {
        self.by_client.get(&self.key_of(report)).map(|t| &t.order)
    }

    /// Orders the venue says filled more than the fills seen for them (fills to fetch).
    pub fn short_of_fills(&self) -> Vec<Order> {
        self.by_client
            .values()
            .filter(|t| !t.order.order_id.is_empty())
            .filter(|t| t.order.filled_qty > t.fills.iter().map(|f| f.qty).sum())
            .map(|t| t.order.clone())
            .collect()
    }

    fn key_of(&self, update: &Order) -> Id {
        if !update.client_order_id.is_empty() {
            return update.client_order_id.clone();
        }
        // Some venue messages name only the venue's id.
        self.by_order_id
            .get(&update.order_id)
            .cloned()
            .unwrap_or_else(|| update.order_id.clone())
    }

    /// Starts the keeping time of an order that just ended.
    fn note_end(&mut self, order: &Order) {
        if order.status.is_terminal() {
            self.ended
                .push_back((Instant::now(), order.client_order_id.clone()));
        }
    }

    fn index(&mut self, order: &Order) {
        if !order.order_id.is_empty() {
            self.by_order_id
                .insert(order.order_id.clone(), order.client_order_id.clone());
        }
    }
}

enum Verdict {
    Take,
    Same,
    Backwards(String),
}

/// Whether `update` names a price, quantity or trigger price other than the order's now (a
/// venue moves the trigger of a position's own take-profit in place).
fn revises(current: &Order, update: &Order) -> bool {
    let trigger = |o: &Order| o.trigger.map(|t| t.price);
    (update.price.is_some() && update.price != current.price)
        || (update.qty.is_some() && update.qty != current.qty)
        || (update.trigger.is_some() && trigger(update) != trigger(current))
}

fn judge(current: &Order, update: &Order, saw: impl Fn(Revision) -> bool) -> Verdict {
    if update.filled_qty < current.filled_qty {
        return Verdict::Backwards(format!(
            "filled {} < {} already known",
            update.filled_qty, current.filled_qty
        ));
    }
    if current.status == OrderStatus::Unknown {
        return Verdict::Take;
    }
    if update.status == OrderStatus::Unknown {
        return Verdict::Backwards("UNKNOWN after a known status".into());
    }
    if current.status.is_terminal() {
        // A later report of the same end with more filled is the venue completing its count,
        // one naming why it ended (a user-stream event after a REST read) its reason.
        return if update.status != current.status {
            Verdict::Backwards(format!("{} after {}", update.status, current.status))
        } else if update.filled_qty > current.filled_qty
            || (update.reject_reason.is_some() && current.reject_reason.is_none())
        {
            Verdict::Take
        } else {
            Verdict::Same
        };
    }
    let (now, next) = (rank(current.status), rank(update.status));
    if next < now {
        return Verdict::Backwards(format!("{} after {}", update.status, current.status));
    }
    if update.status == current.status
        && update.filled_qty == current.filled_qty
        && (update.order_id.is_empty() || update.order_id == current.order_id)
    {
        if !revises(current, update) {
            return Verdict::Same;
        }
        let revision = (
            update.price.or(current.price),
            update.qty.or(current.qty),
            update.trigger.or(current.trigger).map(|t| t.price),
        );
        return match update.updated_time_ms.cmp(&current.updated_time_ms) {
            std::cmp::Ordering::Greater => Verdict::Take,
            std::cmp::Ordering::Equal if !saw(revision) => Verdict::Take,
            _ => Verdict::Backwards(format!(
                "an earlier revision (price {:?}, qty {:?}, trigger {:?})",
                revision.0, revision.1, revision.2
            )),
        };
    }
    Verdict::Take
}

/// The update, keeping what it leaves out (a venue id learnt earlier, the creation time).
fn merge(current: &Order, update: &Order) -> Order {
    let mut order = update.clone();
    order.client_order_id = current.client_order_id.clone();
    if order.order_id.is_empty() {
        order.order_id = current.order_id.clone();
    }
    if order.created_time_ms == 0 {
        order.created_time_ms = current.created_time_ms;
    }
    if current.status != OrderStatus::Unknown && order.updated_time_ms < current.updated_time_ms {
        // A report older than the state held: its status and fills count, not its price and
        // quantity (the order may have been amended since).
        order.price = current.price.or(order.price);
        order.qty = current.qty.or(order.qty);
        order.trigger = current.trigger.or(order.trigger);
    }
    order.price = order.price.or(current.price);
    order.qty = order.qty.or(current.qty);
    order.quote_qty = order.quote_qty.or(current.quote_qty);
    order.time_in_force = order.time_in_force.or(current.time_in_force);
    order.position_side = order.position_side.or(current.position_side);
    // A trigger once known stays known (a later report may not repeat it, or not say which
    // way it waits).
    order.trigger = match (order.trigger, current.trigger) {
        (Some(mut t), Some(known)) => {
            t.direction = t.direction.or(known.direction);
            t.trailing = t.trailing.or(known.trailing);
            Some(t)
        }
        (update, known) => update.or(known),
    };
    order.reject_reason = order
        .reject_reason
        .or_else(|| current.reject_reason.clone());
    order.take_profit = order.take_profit.or(current.take_profit);
    order.stop_loss = order.stop_loss.or(current.stop_loss);
    order.parent_client_order_id = order
        .parent_client_order_id
        .or_else(|| current.parent_client_order_id.clone());
    if order.avg_price.is_none() && order.filled_qty == current.filled_qty {
        order.avg_price = current.avg_price;
    }
    order.updated_time_ms = order.updated_time_ms.max(current.updated_time_ms);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Market, OrderType, Side, Source, Symbol, Venue};
    use proptest::prelude::*;

    fn order(status: OrderStatus, filled: i64) -> Order {
        Order {
            source: Source {
                venue: Venue::Binance,
                market: Market::Spot,
            },
            symbol: Symbol::new("BTCUSDT"),
            order_id: Id::from_u64(7),
            client_order_id: Id::new("c1"),
            side: Side::Buy,
            order_type: OrderType::Limit,
            time_in_force: None,
            price: Some(Decimal::new(100, 0)),
            qty: Some(Decimal::new(10, 0)),
            quote_qty: None,
            filled_qty: Decimal::new(filled, 0),
            avg_price: None,
            status,
            reduce_only: false,
            position_side: None,
            trigger: None,
            created_time_ms: 1,
            updated_time_ms: 1,
            reject_reason: None,
            parent_client_order_id: None,
            stop_loss: None,
            take_profit: None,
        }
    }

    fn fill(trade: u64, qty: i64) -> Fill {
        Fill {
            source: order(OrderStatus::New, 0).source,
            symbol: Symbol::new("BTCUSDT"),
            order_id: Id::from_u64(7),
            client_order_id: Id::new("c1"),
            trade_id: Id::from_u64(trade),
            side: Side::Buy,
            price: Decimal::new(100, 0),
            qty: Decimal::new(qty, 0),
            fee: Decimal::ZERO,
            fee_asset: "BNB".into(),
            is_maker: true,
            exchange_time_ms: 2,
        }
    }

    #[test]
    fn a_later_report_of_the_same_end_adds_its_reason_and_nothing_takes_it_away() {
        let mut orders = Orders::default();
        orders.apply(&order(OrderStatus::New, 0));
        let ended = order(OrderStatus::Expired, 0);
        assert!(matches!(orders.apply(&ended), Applied::Changed(_)));
        let why = Order {
            reject_reason: Some("Reduce Only reject".into()),
            ..ended.clone()
        };
        match orders.apply(&why) {
            Applied::Changed(o) => {
                assert_eq!(o.reject_reason.as_deref(), Some("Reduce Only reject"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(orders.apply(&why), Applied::Duplicate);
        assert_eq!(
            orders.apply(&ended),
            Applied::Duplicate,
            "a reason is never lost"
        );
        assert_eq!(
            orders.get(&Id::new("c1")).unwrap().reject_reason.as_deref(),
            Some("Reduce Only reject")
        );
    }

    /// Ended orders go after their keeping time, open ones never; a late report or fill of a
    /// forgotten order is recognised as old, not published as a new order.
    #[test]
    fn amendments_are_ordered_by_time_and_a_late_earlier_revision_never_undoes_one() {
        let mut orders = Orders::default();
        let placed = order(OrderStatus::New, 0);
        orders.apply(&placed);
        let amended = |price: i64, qty: i64, at: i64| Order {
            price: Some(Decimal::new(price, 0)),
            qty: Some(Decimal::new(qty, 0)),
            updated_time_ms: at,
            ..order(OrderStatus::New, 0)
        };
        // Same status and filled, later: the amendment is taken.
        let Applied::Changed(now) = orders.apply(&amended(99, 5, 2)) else {
            panic!("amendment not taken");
        };
        assert_eq!(
            (now.price, now.qty),
            (Some(Decimal::new(99, 0)), Some(Decimal::new(5, 0)))
        );
        // The placement's report repeated late (older) is stale; so is the same revision again.
        assert!(matches!(orders.apply(&placed), Applied::Stale(_)));
        assert_eq!(orders.apply(&amended(99, 5, 2)), Applied::Duplicate);
        // At the same time, a revision never seen is taken; one seen before is not.
        assert!(matches!(
            orders.apply(&amended(98, 5, 2)),
            Applied::Changed(_)
        ));
        assert!(matches!(
            orders.apply(&amended(99, 5, 2)),
            Applied::Stale(_)
        ));
        // A fill report from before the amendments moves status and filled, not price and qty.
        let late_fill = Order {
            updated_time_ms: 1,
            ..order(OrderStatus::PartiallyFilled, 3)
        };
        let Applied::Changed(now) = orders.apply(&late_fill) else {
            panic!("fill not taken");
        };
        assert_eq!(
            (now.status, now.filled_qty, now.price, now.qty),
            (
                OrderStatus::PartiallyFilled,
                Decimal::new(3, 0),
                Some(Decimal::new(98, 0)),
                Some(Decimal::new(5, 0))
            )
        );
    }

    #[test]
    fn a_moved_trigger_is_a_revision_and_known_exits_and_parent_stay_known() {
        use crate::model::{Exit, Trigger, TriggerBy};
        let mut orders = Orders::default();
        let at = |price: i64, when: i64| Order {
            trigger: Some(Trigger {
                price: Decimal::new(price, 0),
                direction: None,
                by: TriggerBy::Last,
                trailing: None,
            }),
            status: OrderStatus::Untriggered,
            updated_time_ms: when,
            parent_client_order_id: Some(Id::new("entry")),
            take_profit: Some(Exit {
                trigger: Decimal::new(7, 0),
                price: None,
                by: TriggerBy::Mark,
            }),
            ..order(OrderStatus::Untriggered, 0)
        };
        orders.apply(&at(100, 1));
        let Applied::Changed(now) = orders.apply(&at(120, 2)) else {
            panic!("a moved trigger is a change");
        };
        assert_eq!(now.trigger.map(|t| t.price), Some(Decimal::new(120, 0)));
        assert!(matches!(orders.apply(&at(100, 1)), Applied::Stale(_)));
        assert_eq!(orders.apply(&at(120, 2)), Applied::Duplicate);
        let bare = Order {
            parent_client_order_id: None,
            take_profit: None,
            updated_time_ms: 3,
            ..order(OrderStatus::Canceled, 0)
        };
        let Applied::Changed(now) = orders.apply(&bare) else {
            panic!("the end is a change");
        };
        assert_eq!(now.parent_client_order_id, Some(Id::new("entry")));
        assert!(now.take_profit.is_some());
        assert_eq!(now.trigger.map(|t| t.price), Some(Decimal::new(120, 0)));
    }

    #[test]
    fn ended_orders_are_forgotten_after_their_time_and_late_reports_stay_old() {
        let mut orders = Orders::default();
        let with = |client: &str, venue_id: u64, status| {
            let mut o = order(status, 0);
            o.client_order_id = Id::new(client);
            o.order_id = Id::from_u64(venue_id);
            o
        };
        let start = Instant::now();
        assert!(matches!(
            orders.apply(&with("c1", 1, OrderStatus::New)),
            Applied::Changed(_)
        ));
        assert!(matches!(
            orders.apply(&with("c2", 2, OrderStatus::Canceled)),
            Applied::Changed(_)
        ));
        assert!(matches!(
            orders.apply(&with("c1", 1, OrderStatus::Filled)),
            Applied::Changed(_)
        ));
        assert!(matches!(
            orders.apply(&with("c3", 3, OrderStatus::New)),
            Applied::Changed(_)
        ));
        let hour = Duration::from_secs(3600);
        assert_eq!(orders.evict_ended(start, hour), 0, "not yet");
        assert_eq!(orders.evict_ended(start + 2 * hour, hour), 2);
        assert_eq!(orders.len(), 1);
        assert!(orders.get(&Id::new("c3")).is_some(), "open orders stay");
        assert!(orders.get(&Id::new("c1")).is_none());
        // Late: a repeat of the end, a report naming only the venue id, a fill.
        assert!(matches!(
            orders.apply(&with("c1", 1, OrderStatus::Filled)),
            Applied::Stale(_)
        ));
        assert!(matches!(
            orders.apply(&with("", 2, OrderStatus::Canceled)),
            Applied::Stale(_)
        ));
        let mut late = fill(9, 1);
        late.client_order_id = Id::new("");
        late.order_id = Id::from_u64(1);
        assert_eq!(orders.apply_fill(&late), Applied::Duplicate);
        assert_eq!(orders.len(), 1);
        // c3 ends later and goes later.
        assert!(matches!(
            orders.apply(&with("c3", 3, OrderStatus::Expired)),
            Applied::Changed(_)
        ));
        assert_eq!(orders.evict_ended(Instant::now(), hour), 0);
        assert_eq!(orders.evict_ended(Instant::now() + hour, hour), 1);
        assert!(orders.is_empty());
    }

    #[test]
    fn forward_moves_apply_and_backward_ones_are_counted() {
        use OrderStatus::*;
        let mut orders = Orders::default();
        assert!(matches!(orders.apply(&order(New, 0)), Applied::Changed(_)));
        assert_eq!(orders.apply(&order(New, 0)), Applied::Duplicate);
        assert!(matches!(
            orders.apply(&order(PartiallyFilled, 4)),
            Applied::Changed(_)
        ));
        // case: reordered — NEW after PARTIALLY_FILLED, and a smaller cumulative fill
        assert!(matches!(orders.apply(&order(New, 0)), Applied::Stale(_)));
        assert!(matches!(
            orders.apply(&order(PartiallyFilled, 2)),
            Applied::Stale(_)
        ));
        assert!(matches!(
            orders.apply(&order(Canceled, 4)),
            Applied::Changed(_)
        ));
        // case: nothing leaves a terminal status
        assert!(matches!(
            orders.apply(&order(Filled, 10)),
            Applied::Stale(_)
        ));
        assert!(matches!(orders.apply(&order(New, 4)), Applied::Stale(_)));
        let o = orders.get(&Id::new("c1")).unwrap();
        assert_eq!((o.status, o.filled_qty), (Canceled, Decimal::new(4, 0)));
        assert_eq!(
            orders.stats(),
            OrderStats {
                applied: 3,
                duplicates: 1,
                stale: 4,
                held: 1
            }
        );
    }

    #[test]
    fn unknown_moves_anywhere_but_nothing_moves_to_unknown() {
        use OrderStatus::*;
        let mut orders = Orders::default();
        let mut sent = order(Unknown, 0);
        sent.order_id = Id::new("");
        assert!(orders.expect(sent.clone()));
        assert!(!orders.expect(sent), "a client id is recorded once");
        let Applied::Changed(o) = orders.apply(&order(Filled, 10)) else {
            panic!("UNKNOWN resolves to anything");
        };
        assert_eq!(o.order_id, Id::from_u64(7), "the venue id is learnt");
        assert!(matches!(
            orders.apply(&order(Unknown, 10)),
            Applied::Stale(_)
        ));
    }

    #[test]
    fn fills_dedupe_by_trade_id_and_land_after_the_end() {
        use OrderStatus::*;
        let mut orders = Orders::default();
        orders.apply(&order(New, 0));
        assert!(
            matches!(orders.apply_fill(&fill(1, 3)), Applied::Changed(o) if o.status == PartiallyFilled && o.filled_qty == Decimal::new(3, 0))
        );
        assert_eq!(orders.apply_fill(&fill(1, 3)), Applied::Duplicate);
        orders.apply(&order(Canceled, 3));
        // case: a fill reported after the cancel still counts, once
        let Applied::Changed(o) = orders.apply_fill(&fill(2, 1)) else {
            panic!("a late fill applies");
        };
        assert_eq!((o.status, o.filled_qty), (Canceled, Decimal::new(4, 0)));
        assert_eq!(orders.fills(&Id::new("c1")).len(), 2);
    }

    fn any_status() -> impl Strategy<Value = OrderStatus> {
        proptest::sample::select(OrderStatus::ALL.to_vec())
    }

    proptest! {
        /// Whatever order the venue's reports arrive in, and however often: the status never
        /// moves backwards or out of a terminal status, and the filled quantity never falls.
        #[test]
        fn never_regresses(updates in proptest::collection::vec((any_status(), 0i64..10), 1..40)) {
            let mut orders = Orders::default();
            let mut last: Option<Order> = None;
            for (status, filled) in updates {
                orders.apply(&order(status, filled));
                let now = orders.get(&Id::new("c1")).unwrap().clone();
                if let Some(before) = &last {
                    prop_assert!(now.filled_qty >= before.filled_qty);
                    if before.status != OrderStatus::Unknown {
                        prop_assert!(rank(now.status) >= rank(before.status));
                        prop_assert!(now.status != OrderStatus::Unknown);
                    }
                    if before.status.is_terminal() {
                        prop_assert_eq!(now.status, before.status);
                    }
                }
                last = Some(now);
            }
        }
    }
}
