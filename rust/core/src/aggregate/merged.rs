//! The merged book: one instrument's venue books merged price by price (a slot per venue at
//! each exact price), fed change by change under each venue book's lock, with the venues out of
//! sync or stale masked out of every read, the best bid and ask, and crossed-market and
//! venue-status events.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::time::Instant;

use super::{
    AggregateEvent, Bbo, MAX_VENUES, MergedLevel, MergedView, Quote, VenueQty, VenueStatus, lock,
};
use crate::book::live::{BookHandle, Feed, Follow};
use crate::book::{Change, PriceKey};
use crate::model::Source;
use crate::stream::{self, Sender};
use crate::{Error, Result};

/// One price of a merged side: the price as a venue wrote it and each venue's quantity there
/// (zero: none), by member index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    price: Decimal,
    qty: [Decimal; MAX_VENUES],
}

impl Slot {
    fn is_empty(&self) -> bool {
        self.qty.iter().all(Decimal::is_zero)
    }
}

/// The finest tick every venue's tick is a whole multiple of.
fn common_tick(ticks: &[Decimal]) -> Option<Decimal> {
    let scale = ticks.iter().map(Decimal::scale).max()?;
    let mut g: i128 = 0;
    for tick in ticks {
        let mut t = *tick;
        t.rescale(scale);
        let m = t.mantissa();
        if m <= 0 {
            return None;
        }
        let (mut a, mut b) = (g, m);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        g = a;
    }
    Some(Decimal::from_i128_with_scale(g, scale).normalize())
}

/// A venue book of a merged book.
#[derive(Debug, Clone)]
struct Member {
    source: Source,
    symbol: String,
}

#[derive(Debug, Default)]
struct MemberState {
    synced: bool,
    /// Levels this venue has in the merged maps.
    levels: usize,
    changed_at: Option<Instant>,
    /// Why the venue's book is out of sync.
    reason: Option<String>,
    /// Whether the last published state included it (for events).
    included: bool,
}

/// The best level of a side among included venues.
type Top = Option<Slot>;

struct State {
    bids: BTreeMap<PriceKey, Slot>,
    asks: BTreeMap<PriceKey, Slot>,
    members: Vec<MemberState>,
    top: (Top, Top),
    crossed: bool,
    bbo: Vec<Arc<Sender<Bbo>>>,
}

/// Where a merged book's events go (shared by an aggregator's books).
#[derive(Default)]
pub(super) struct Hub {
    pub(super) readers: Mutex<Vec<Sender<AggregateEvent>>>,
}

impl Hub {
    fn send(&self, event: AggregateEvent) {
        lock(&self.readers).retain(|tx| tx.send(event.clone()).is_ok());
    }
}

/// One instrument's books on several venues, merged.
pub struct MergedBook {
    pub symbol: Arc<str>,
    /// The finest tick every venue's tick (when the book opened) is a multiple of: a unit for
    /// showing prices and spreads. Levels off it are kept as they are.
    pub tick: Decimal,
    members: Vec<Member>,
    stale_after: Option<Duration>,
    state: Mutex<State>,
    hub: Arc<Hub>,
    /// Keeps the venue books subscribed while the merged book lives (until closed).
    handles: Mutex<Vec<BookHandle>>,
    closed: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for MergedBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergedBook")
            .field("symbol", &self.symbol)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

/// Feeds one venue book's changes into a merged book.
struct Feeder {
    merged: Weak<MergedBook>,
    index: usize,
}

impl Follow for Feeder {
    fn follow(&self, feed: Feed<'_>) -> bool {
        match self.merged.upgrade() {
            Some(merged) if !merged.is_closed() => {
                merged.apply(self.index, &feed);
                true
            }
            _ => false,
        }
    }
}

/// What a venue book brings to a merged book: its source, symbol and tick size.
#[derive(Debug, Clone)]
pub struct Part {
    pub source: Source,
    pub symbol: String,
    pub tick: Decimal,
}

impl MergedBook {
    /// A merged book over `parts` (at most [`MAX_VENUES`], one per source), not yet fed.
    pub fn new(symbol: &str, parts: &[Part], stale_after: Option<Duration>) -> Result<MergedBook> {
        MergedBook::with_hub(symbol, parts, stale_after, Arc::default())
    }

    pub(super) fn with_hub(
        symbol: &str,
        parts: &[Part],
        stale_after: Option<Duration>,
        hub: Arc<Hub>,
    ) -> Result<MergedBook> {
        if parts.is_empty() || parts.len() > MAX_VENUES {
            return Err(Error::invalid_argument(
                "connectors",
                format!("a merged book takes 1 to {MAX_VENUES} venue books"),
            ));
        }
        let ticks: Vec<Decimal> = parts.iter().map(|p| p.tick).collect();
        let tick = common_tick(&ticks).ok_or_else(|| {
            Error::invalid_argument(
                "tick_size",
                format!("{symbol}: a tick size is not positive"),
            )
        })?;
        let members: Vec<Member> = parts
            .iter()
            .map(|p| Member {
                source: p.source,
                symbol: p.symbol.clone(),
            })
            .collect();
        Ok(MergedBook {
            symbol: symbol.into(),
            tick,
            stale_after,
            state: Mutex::new(State {
                bids: BTreeMap::new(),
                asks: BTreeMap::new(),
                members: members.iter().map(|_| MemberState::default()).collect(),
                top: (None, None),
                crossed: false,
                bbo: Vec::new(),
            }),
            members,
            hub,
            handles: Mutex::new(Vec::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Feeds the merged book from `book`, the venue book of member `index` (fed the whole book
    /// at once, then every change).
    pub fn follow(self: &Arc<Self>, index: usize, handle: BookHandle) {
        let feeder = Feeder {
            merged: Arc::downgrade(self),
            index,
        };
        handle.book.add_follower(Arc::new(feeder));
        lock(&self.handles).push(handle);
    }

    /// Stops following the venue books (their subscriptions end unless someone else reads
    /// them): every venue is left out from now on, as "closed".
    pub fn close(&self) {
        use std::sync::atomic::Ordering;
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        lock(&self.handles).clear();
        let mut state = lock(&self.state);
        for m in &mut state.members {
            m.synced = false;
            m.reason = Some("the merged book was closed".into());
        }
        self.refresh(&mut state, Instant::now());
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Applies one venue book's changes (called under that book's lock).
    pub fn apply(&self, index: usize, feed: &Feed<'_>) {
        let mut state = lock(&self.state);
        if self.is_closed() {
            return;
        }
        let state = &mut *state;
        let member = &mut state.members[index];
        for change in feed.changes {
            match *change {
                Change::Clear => {
                    if member.levels > 0 {
                        remove_member(&mut state.bids, index);
                        remove_member(&mut state.asks, index);
                        member.levels = 0;
                    }
                }
                Change::Bid(key, level) => {
                    set(&mut state.bids, key, level, index, &mut member.levels);
                }
                Change::Ask(key, level) => {
                    set(&mut state.asks, key, level, index, &mut member.levels);
                }
            }
        }
        if !feed.synced && member.levels > 0 {
            // A book replaced on a loss of sync shows nothing; neither does its part here.
            remove_member(&mut state.bids, index);
            remove_member(&mut state.asks, index);
            member.levels = 0;
        }
        let now = Instant::now();
        if feed.synced && (!member.synced || !feed.changes.is_empty()) {
            member.changed_at = Some(now);
        }
        member.synced = feed.synced;
        if member.reason.as_deref() != feed.reason {
            member.reason = feed.reason.map(str::to_owned);
        }
        self.refresh(state, now);
    }

    /// Re-evaluates which venues count (staleness is a matter of time) and publishes what
    /// changed; called after every change and periodically.
    pub fn tick(&self) {
        let mut state = lock(&self.state);
        self.refresh(&mut state, Instant::now());
    }

    /// Why member `i` is left out now, if it is.
    fn exclusion(&self, m: &MemberState, now: Instant) -> Option<String> {
        if !m.synced {
            return Some(match &m.reason {
                Some(r) => format!("not in sync: {r}"),
                None => "not in sync".to_owned(),
            });
        }
        self.stale_for(m, now)
            .map(|age| format!("stale: no change for {:.1} s", age.as_secs_f64()))
    }

    /// How long a venue book has gone unchanged, once that is longer than `stale_after`.
    fn stale_for(&self, m: &MemberState, now: Instant) -> Option<Duration> {
        let age = now.saturating_duration_since(m.changed_at?);
        (age > self.stale_after?).then_some(age)
    }

    /// Which venues count now; the same test as [`MergedBook::exclusion`] without writing
    /// the reason (this runs on every change).
    fn mask(&self, state: &State, now: Instant) -> [bool; MAX_VENUES] {
        let mut mask = [false; MAX_VENUES];
        for (i, m) in state.members.iter().enumerate() {
            mask[i] = m.synced && self.stale_for(m, now).is_none();
        }
        mask
    }

    fn refresh(&self, state: &mut State, now: Instant) {
        let mask = self.mask(state, now);
        for (i, m) in state.members.iter_mut().enumerate() {
            if m.included == mask[i] {
                continue;
            }
            m.included = mask[i];
            let source = self.members[i].source;
            let symbol = self.symbol.clone();
            self.hub.send(match self.exclusion(m, now) {
                Some(reason) => AggregateEvent::Excluded {
                    symbol,
                    source,
                    reason,
                },
                None => AggregateEvent::Included { symbol, source },
            });
        }
        let top = (
            top(state.bids.values().rev(), &mask),
            top(state.asks.values(), &mask),
        );
        if top == state.top {
            return;
        }
        state.top = top;
        let crossed = matches!(top, (Some(b), Some(a)) if b.price >= a.price);
        let bid = top.0.map(|slot| self.quote(&slot));
        let ask = top.1.map(|slot| self.quote(&slot));
        if crossed != state.crossed {
            state.crossed = crossed;
            let symbol = self.symbol.clone();
            self.hub.send(match (&bid, &ask) {
                (Some(bid), Some(ask)) if crossed => AggregateEvent::Crossed {
                    symbol,
                    bid: bid.clone(),
                    ask: ask.clone(),
                },
                _ => AggregateEvent::Uncrossed { symbol },
            });
        }
        if state.bbo.is_empty() {
            return;
        }
        let bbo = Bbo {
            symbol: self.symbol.clone(),
            bid,
            ask,
            crossed,
            excluded: self.excluded(state, now),
            local_time_ns: crate::model::now_ns(),
        };
        state.bbo.retain(|tx| tx.send(bbo.clone()).is_ok());
    }

    fn excluded(&self, state: &State, now: Instant) -> Vec<(Source, String)> {
        state
            .members
            .iter()
            .enumerate()
            .filter_map(|(i, m)| Some((self.members[i].source, self.exclusion(m, now)?)))
            .collect()
    }

    fn venues_at(&self, slot: &Slot) -> Vec<VenueQty> {
        let mut venues: Vec<VenueQty> = self
            .members
            .iter()
            .zip(&slot.qty)
            .filter(|(_, q)| !q.is_zero())
            .map(|(m, q)| VenueQty {
                source: m.source,
                qty: q.normalize(),
            })
            .collect();
        // Largest first; equal parts in the order the venues were given.
        venues.sort_by_key(|v| std::cmp::Reverse(v.qty));
        venues
    }

    fn level(&self, slot: &Slot) -> MergedLevel {
        let venues = self.venues_at(slot);
        // A sum past Decimal's range would take quantities no venue can hold.
        let qty = venues
            .iter()
            .try_fold(Decimal::ZERO, |sum, v| sum.checked_add(v.qty))
            .unwrap_or(Decimal::MAX);
        MergedLevel {
            price: slot.price.normalize(),
            qty: qty.normalize(),
            venues,
        }
    }

    fn quote(&self, slot: &Slot) -> Quote {
        let level = self.level(slot);
        Quote {
            price: level.price,
            qty: level.qty,
            venue: level.venues[0].source,
            venues: level.venues,
        }
    }

    /// The best `depth` levels a side among the included venues, and every venue's state, at
    /// one moment.
    pub fn view(&self, depth: usize) -> MergedView {
        let state = lock(&self.state);
        let now = Instant::now();
        let mask = self.mask(&state, now);
        let levels = |side: &mut dyn Iterator<Item = &Slot>| -> Vec<MergedLevel> {
            side.filter_map(|slot| masked(slot, &mask).map(|s| self.level(&s)))
                .take(depth)
                .collect()
        };
        let bids = levels(&mut state.bids.values().rev());
        let asks = levels(&mut state.asks.values());
        let crossed = match (bids.first(), asks.first()) {
            (Some(b), Some(a)) => b.price >= a.price,
            _ => false,
        };
        let venues = state
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let reason = self.exclusion(m, now);
                VenueStatus {
                    source: self.members[i].source,
                    symbol: self.members[i].symbol.clone(),
                    included: reason.is_none(),
                    reason,
                }
            })
            .collect();
        MergedView {
            symbol: self.symbol.clone(),
            bids,
            asks,
            venues,
            crossed,
        }
    }

    /// The best bid and ask across the included venues now.
    pub fn bbo(&self) -> Bbo {
        let state = lock(&self.state);
        let now = Instant::now();
        let mask = self.mask(&state, now);
        let bid = top(state.bids.values().rev(), &mask).map(|s| self.quote(&s));
        let ask = top(state.asks.values(), &mask).map(|s| self.quote(&s));
        let crossed = matches!((&bid, &ask), (Some(b), Some(a)) if b.price >= a.price);
        Bbo {
            symbol: self.symbol.clone(),
            bid,
            ask,
            crossed,
            excluded: self.excluded(&state, now),
            local_time_ns: crate::model::now_ns(),
        }
    }

    /// A conflated stream of the best bid and ask, sent whenever either changes (price,
    /// quantity, venues, or a venue left or came back); the current one first.
    pub fn bbo_updates(&self) -> stream::Receiver<Bbo> {
        let (tx, rx) = stream::conflating(1, |_| 0);
        let _ = tx.send(self.bbo());
        lock(&self.state).bbo.push(Arc::new(tx));
        rx
    }

    /// Whether a venue book's levels are held, by member (tests and benchmarks).
    pub fn levels_of(&self, index: usize) -> usize {
        lock(&self.state).members[index].levels
    }
}

/// Sets member `index`'s quantity at `key` to the level's (0 removes it; a price nobody has
/// is dropped).
fn set(
    side: &mut BTreeMap<PriceKey, Slot>,
    key: PriceKey,
    level: crate::model::Level,
    index: usize,
    levels: &mut usize,
) {
    if level.qty.is_zero() {
        if let std::collections::btree_map::Entry::Occupied(mut slot) = side.entry(key) {
            let had = !slot.get().qty[index].is_zero();
            slot.get_mut().qty[index] = Decimal::ZERO;
            if had {
                *levels -= 1;
            }
            if slot.get().is_empty() {
                slot.remove();
            }
        }
    } else {
        let slot = side.entry(key).or_insert(Slot {
            price: level.price,
            qty: [Decimal::ZERO; MAX_VENUES],
        });
        if slot.qty[index].is_zero() {
            *levels += 1;
        }
        slot.qty[index] = level.qty;
    }
}

fn remove_member(side: &mut BTreeMap<PriceKey, Slot>, index: usize) {
    side.retain(|_, slot| {
        slot.qty[index] = Decimal::ZERO;
        !slot.is_empty()
    });
}

/// The included venues' part of a slot; `None` if none of them is there.
fn masked(slot: &Slot, mask: &[bool; MAX_VENUES]) -> Option<Slot> {
    let mut out = Slot {
        price: slot.price,
        qty: [Decimal::ZERO; MAX_VENUES],
    };
    let mut any = false;
    for ((out, qty), included) in out.qty.iter_mut().zip(&slot.qty).zip(mask) {
        if *included && !qty.is_zero() {
            *out = *qty;
            any = true;
        }
    }
    any.then_some(out)
}

fn top<'a>(side: impl Iterator<Item = &'a Slot>, mask: &[bool; MAX_VENUES]) -> Top {
    side.filter_map(|slot| masked(slot, mask)).next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Book;
    use crate::model::Market;
    use crate::model::{Level, Venue};
    use crate::stream::Overflow;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn part(venue: Venue, tick: &str) -> Part {
        Part {
            source: Source {
                venue,
                market: Market::Spot,
            },
            symbol: "BTCUSDT".into(),
            tick: d(tick),
        }
    }

    fn level(price: &str, qty: &str) -> Level {
        Level {
            price: d(price),
            qty: d(qty),
        }
    }

    fn bid(price: &str, qty: &str) -> Change {
        Change::Bid(PriceKey::of(d(price)).unwrap(), level(price, qty))
    }

    fn ask(price: &str, qty: &str) -> Change {
        Change::Ask(PriceKey::of(d(price)).unwrap(), level(price, qty))
    }

    #[test]
    fn the_common_tick_divides_every_tick() {
        assert_eq!(common_tick(&[d("0.01"), d("0.1")]), Some(d("0.01")));
        assert_eq!(common_tick(&[d("0.5"), d("0.2")]), Some(d("0.1")));
        assert_eq!(common_tick(&[d("0.25"), d("0.1")]), Some(d("0.05")));
        assert_eq!(common_tick(&[d("0"), d("0.1")]), None);
    }

    fn feed(merged: &MergedBook, index: usize, synced: bool, changes: &[Change]) {
        merged.apply(
            index,
            &Feed {
                synced,
                changes,
                reason: (!synced).then_some("a gap"),
                update_id: None,
                exchange_time_ms: 0,
                local_time_ns: 0,
            },
        );
    }

    #[test]
    fn venues_merge_by_price_and_leave_when_unsynced() {
        let parts = [part(Venue::Binance, "0.01"), part(Venue::Bybit, "0.1")];
        let merged = MergedBook::new("BTC/USDT", &parts, None).unwrap();
        assert_eq!(merged.tick, d("0.01"));
        // Binance 100.00 x 0.5 and 99.99 x 1 (padded as Binance writes them); Bybit 100.0 x 0.2.
        feed(
            &merged,
            0,
            true,
            &[
                Change::Clear,
                bid("100.00000000", "0.50000000"),
                bid("99.99000000", "1.00000000"),
            ],
        );
        feed(&merged, 1, true, &[Change::Clear, bid("100.0", "0.20")]);
        feed(&merged, 1, true, &[ask("100.1", "0.30")]);
        let view = merged.view(10);
        assert_eq!(view.bids.len(), 2);
        assert_eq!(view.bids[0].price, d("100"));
        assert_eq!(view.bids[0].qty, d("0.7"));
        assert_eq!(
            view.bids[0].venues[0].source.venue,
            Venue::Binance,
            "largest part first"
        );
        assert_eq!(view.bids[0].venues[1].qty, d("0.2"));
        let bbo = merged.bbo();
        assert_eq!(bbo.ask.as_ref().unwrap().price, d("100.1"));
        assert_eq!(bbo.ask.as_ref().unwrap().venue.venue, Venue::Bybit);
        // Bybit loses sync: its levels go, and the view says why.
        feed(&merged, 1, false, &[]);
        let view = merged.view(10);
        assert_eq!(view.bids[0].qty, d("0.5"));
        assert!(view.asks.is_empty());
        assert_eq!(view.venues[1].reason.as_deref(), Some("not in sync: a gap"));
        assert_eq!(merged.levels_of(1), 0);
    }

    #[test]
    fn a_cross_between_venues_is_an_event() {
        let parts = [part(Venue::Binance, "0.01"), part(Venue::Bybit, "0.01")];
        let hub = Arc::new(Hub::default());
        let (tx, rx) = stream::channel(16, Overflow::GapMarker);
        lock(&hub.readers).push(tx);
        let merged = MergedBook::with_hub("BTC/USDT", &parts, None, hub).unwrap();
        feed(
            &merged,
            0,
            true,
            &[Change::Clear, bid("1.00", "1"), ask("1.02", "1")],
        );
        feed(
            &merged,
            1,
            true,
            &[Change::Clear, bid("0.99", "1"), ask("1.01", "1")],
        );
        feed(&merged, 1, true, &[ask("1.01", "0"), ask("1.00", "2")]);
        feed(&merged, 1, true, &[ask("1.00", "0"), ask("1.03", "2")]);
        let mut items = Vec::new();
        rx.drain_into(16, &mut items);
        let kinds: Vec<String> = items
            .into_iter()
            .map(|i| match i {
                stream::Item::Event(e) => {
                    format!("{e:?}").split_whitespace().next().unwrap().into()
                }
                stream::Item::Gap { .. } => "gap".into(),
            })
            .collect();
        assert_eq!(kinds, ["Included", "Included", "Crossed", "Uncrossed"]);
    }

    /// A randomized run: two venue books on different ticks, with levels off both, take random
    /// changes (sets, removals, truncations, losses of sync and snapshots); after every step
    /// the merged book equals the union of the venue books that are in sync.
    fn op() -> impl Strategy<Value = (usize, u8, bool, i64, i64)> {
        (0usize..2, 0u8..20, any::<bool>(), 0i64..40, 0i64..5)
    }

    proptest! {
        #[test]
        fn the_merged_book_is_the_union_of_the_venue_books(ops in prop::collection::vec(op(), 1..300)) {
            let parts = [part(Venue::Binance, "0.01"), part(Venue::Bybit, "0.05")];
            let merged = MergedBook::new("BTC/USDT", &parts, None).unwrap();
            let mut books: Vec<Book> = parts.iter().map(|_| Book::new()).collect();
            // Each venue's unit, and a legacy unit a hundred times finer (every fifth level).
            let units = [(d("0.01"), d("0.001")), (d("0.05"), d("0.01"))];
            let mut synced = [false, false];
            for b in &mut books {
                b.record(true);
            }
            for (venue, kind, bid, price, qty) in ops {
                let book = &mut books[venue];
                let (tick, step) = units[venue];
                let legacy = price % 5 == 0;
                let tick = if legacy { tick / Decimal::from(100) } else { tick };
                let level = Level {
                    price: Decimal::from(1_000 + price) * tick,
                    qty: Decimal::from(qty) * step,
                };
                match kind {
                    0 => { book.clear(); synced[venue] = false; }
                    1 => { book.clear(); synced[venue] = true; }
                    2 => book.truncate(3),
                    _ => {
                        let (bids, asks) = if bid { (vec![level], vec![]) } else { (vec![], vec![level]) };
                        book.apply(&bids, &asks).unwrap();
                    }
                }
                let mut changes = Vec::new();
                book.take_changes(&mut changes);
                feed(&merged, venue, synced[venue], &changes);
                // Nothing is shown of a book out of sync (the venue clears it meanwhile).
                if !synced[venue] {
                    book.clear();
                    let mut ignored = Vec::new();
                    book.take_changes(&mut ignored);
                }
                let mut union: BTreeMap<(bool, Decimal), Decimal> = BTreeMap::new();
                for (b, s) in books.iter().zip(synced) {
                    if !s { continue; }
                    for (is_bid, levels) in [(true, b.bids(usize::MAX)), (false, b.asks(usize::MAX))] {
                        for l in levels {
                            *union.entry((is_bid, l.price.normalize())).or_default() += l.qty;
                        }
                    }
                }
                let view = merged.view(usize::MAX);
                let mut ours: BTreeMap<(bool, Decimal), Decimal> = BTreeMap::new();
                for (is_bid, levels) in [(true, &view.bids), (false, &view.asks)] {
                    for l in levels {
                        let parts: Decimal = l.venues.iter().map(|v| v.qty).sum();
                        prop_assert_eq!(parts.normalize(), l.qty);
                        ours.insert((is_bid, l.price), l.qty);
                    }
                }
                let union: BTreeMap<_, _> = union.into_iter().map(|(k, v)| (k, v.normalize())).collect();
                prop_assert_eq!(&ours, &union);
                prop_assert!(view.bids.windows(2).all(|w| w[0].price > w[1].price));
                prop_assert!(view.asks.windows(2).all(|w| w[0].price < w[1].price));
            }
        }
    }
}
