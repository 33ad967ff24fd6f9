//! Every venue's book sync rule driven through hostile sequences: update ids that repeat, go
//! back, skip, or jump absurdly (to near `u64::MAX`); snapshots stamped anywhere; restarts;
//! levels of price 0, negative, off any grid, finer than a book keeps, or out of range.
//!
//! What must hold after every step, from the rules' contract (`book/sync.rs`):
//! - a book in sync is never crossed, keeps at most its depth a side, and its id is one a
//!   later update can follow (at most `MAX_UPDATE_ID`); a book not in sync holds nothing;
//! - `Applied` leaves it in sync, `Buffered` and `Resync`/`Malformed` leave it out of sync,
//!   `Ignored` changes nothing;
//! - while in sync, an update never moves the id backwards or by more than `MAX_ID_JUMP`, and
//!   an update absurdly far from the book's id unsyncs it (except a venue restart: a Bybit
//!   snapshot or `u = 1`);
//! - replaying a real session with messages lost, repeated or swapped on the way, a book that
//!   says it is in sync at id `u` is exactly the book a clean replay has at `u`.

use std::collections::HashMap;
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;
use tradewire_core::book::Book;
use tradewire_core::book::sync::{
    BookDelta, MAX_ID_JUMP, MAX_UPDATE_ID, Outcome, SyncRule, SyncState, absurd_jump,
};
use tradewire_core::model::{Level, Market, Symbol, Venue};
use tradewire_core::venue::{self, MarketEvent};

use crate::corpus::SESSIONS;
use crate::{config, regressions};

/// One venue market's rule and the book it keeps, checked after every step.
pub struct Driven {
    venue: Venue,
    rule: Box<dyn SyncRule>,
    pub state: SyncState,
    depth: usize,
}

fn fail(what: String) -> Result<(), TestCaseError> {
    Err(TestCaseError::fail(what))
}

impl Driven {
    /// The rule the venue's adapter gives a book of 50 levels.
    pub fn new(venue: Venue, market: Market) -> Driven {
        let plan = venue::adapter(venue)
            .book(market, "BTCUSDT", 50)
            .expect("a 50-level book");
        Driven {
            venue,
            rule: plan.rule,
            state: SyncState::default(),
            depth: plan.depth,
        }
    }

    /// What holds after any step.
    fn check(&self, outcome: &Outcome, before: (Option<u64>, &Book)) -> Result<(), TestCaseError> {
        let state = &self.state;
        let (bids, asks) = state.book.depth();
        if state.is_synced() {
            if state.book.is_crossed() {
                return fail(format!("synced and crossed after {outcome:?}"));
            }
            if bids > self.depth || asks > self.depth {
                return fail(format!("{bids}/{asks} levels kept, depth {}", self.depth));
            }
            if state.last_id.is_some_and(|id| id > MAX_UPDATE_ID) {
                return fail(format!("synced at {:?}", state.last_id));
            }
        } else if (bids, asks) != (0, 0) {
            return fail(format!("not synced but holds {bids}/{asks} levels"));
        }
        match outcome {
            Outcome::Applied if !state.is_synced() => fail("applied but not synced".into()),
            Outcome::Buffered if state.is_synced() => fail("buffered but synced".into()),
            Outcome::Resync(_) | Outcome::Malformed(_) if state.is_synced() => {
                fail(format!("{outcome:?} but synced"))
            }
            Outcome::Ignored if (state.last_id, &state.book) != before => {
                fail("ignored, yet the book changed".into())
            }
            _ => Ok(()),
        }
    }

    /// A message of the book's stream.
    pub fn update(&mut self, delta: &BookDelta) -> Result<Outcome, TestCaseError> {
        let (prev, book) = (self.state.last_id, self.state.book.clone());
        let outcome = self.rule.on_update(&mut self.state, delta);
        self.check(&outcome, (prev, &book))?;
        let restart = self.venue == Venue::Bybit && (delta.snapshot || delta.last_id == 1);
        if let (Some(prev), false) = (prev, restart) {
            if outcome == Outcome::Applied {
                let now = self.state.last_id.unwrap_or(0);
                if now < prev || now - prev > MAX_ID_JUMP {
                    fail(format!("in sync, the id moved from {prev} to {now}"))?;
                }
            }
            if absurd_jump(prev, delta.last_id).is_some() && self.state.is_synced() {
                fail(format!(
                    "in sync at {prev}, still synced after u={}",
                    delta.last_id
                ))?;
            }
        }
        let _ = self.rule.waiting();
        Ok(outcome)
    }

    /// A snapshot: fetched by REST (Binance), or sent on the stream (Bybit).
    pub fn snapshot(&mut self, snapshot: &BookDelta) -> Result<Outcome, TestCaseError> {
        if self.venue == Venue::Bybit {
            return self.update(&BookDelta {
                snapshot: true,
                ..snapshot.clone()
            });
        }
        let (prev, book) = (self.state.last_id, self.state.book.clone());
        let outcome = self.rule.on_snapshot(&mut self.state, snapshot);
        self.check(&outcome, (prev, &book))?;
        if let Some(now) = self.state.last_id
            && now < snapshot.last_id
        {
            fail(format!(
                "synced at {now}, before its snapshot {}",
                snapshot.last_id
            ))?;
        }
        Ok(outcome)
    }

    /// The connector's fresh start (a lost connection): nothing of the old stream survives.
    pub fn restart(&mut self) {
        self.state = SyncState::default();
        self.rule.restart();
    }
}

/// How an update's id relates to the stream's so far.
#[derive(Debug, Clone)]
enum Step {
    /// The next ids (covering this many more).
    Next(u8),
    /// The previous message's ids again.
    Repeat,
    Back(u16),
    Skip(u16),
    /// Anywhere.
    Anywhere(u64),
    /// `u64::MAX` minus this.
    NearMax(u8),
    /// A Bybit restart.
    One,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        20 => (0u8..4).prop_map(Step::Next),
        2 => Just(Step::Repeat),
        2 => (1u16..50).prop_map(Step::Back),
        2 => (1u16..50).prop_map(Step::Skip),
        1 => any::<u64>().prop_map(Step::Anywhere),
        1 => (0u8..3).prop_map(Step::NearMax),
        1 => Just(Step::One),
    ]
}

/// A level: mostly an ordinary one (bids below 100, asks above), sometimes one that cannot be.
fn level() -> impl Strategy<Value = (bool, Level)> {
    let price = prop_oneof![
        8 => (1i64..10_000, 0u32..3),
        1 => Just((0i64, 0u32)),
        1 => (any::<i64>(), 0u32..=28),
    ];
    let qty = prop_oneof![
        4 => (1i64..1_000, 0u32..4),
        3 => Just((0i64, 0u32)),
        1 => (any::<i64>(), 0u32..=28),
    ];
    (any::<bool>(), price, qty).prop_map(|(bid, (p, ps), (q, qs))| {
        let mut price = Decimal::new(p, ps);
        // Ordinary bids below 100, asks above, so most books do not cross.
        if ps < 3 && (1..10_000).contains(&p) {
            let whole = Decimal::new(p % 100, 0);
            price = if bid {
                whole
            } else {
                whole + Decimal::from(100)
            };
        }
        (
            bid,
            Level {
                price,
                qty: Decimal::new(q, qs),
            },
        )
    })
}

#[derive(Debug, Clone)]
enum Op {
    Update {
        step: Step,
        /// USD-M: `pu` names the previous message's `u` (else anything).
        chained: bool,
        snapshot: bool,
        levels: Vec<(bool, Level)>,
    },
    Snapshot {
        step: Step,
        levels: Vec<(bool, Level)>,
    },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let levels = || prop::collection::vec(level(), 0..6);
    prop_oneof![
        20 => (step(), prop::bool::weighted(0.9), prop::bool::weighted(0.05), levels())
            .prop_map(|(step, chained, snapshot, levels)| Op::Update { step, chained, snapshot, levels }),
        3 => (step(), levels()).prop_map(|(step, levels)| Op::Snapshot { step, levels }),
        1 => Just(Op::Restart),
    ]
}

/// The venue's side of a stream: ids as a (hostile) venue would number its messages.
struct Stream {
    last: u64,
    previous: (u64, u64),
}

impl Stream {
    fn ids(&mut self, step: &Step) -> (u64, u64, u64) {
        let prev = self.last;
        let (first, last) = match *step {
            Step::Next(span) => (
                prev.saturating_add(1),
                prev.saturating_add(1 + u64::from(span)),
            ),
            Step::Repeat => self.previous,
            Step::Back(n) => {
                let last = prev.saturating_sub(n.into());
                (last.saturating_sub(2), last)
            }
            Step::Skip(n) => {
                let first = prev.saturating_add(2 + u64::from(n));
                (first, first.saturating_add(1))
            }
            Step::Anywhere(id) => (id.saturating_sub(3), id),
            Step::NearMax(k) => (u64::MAX - 5, u64::MAX - u64::from(k)),
            Step::One => (1, 1),
        };
        self.previous = (first, last);
        self.last = last;
        (first, last, prev)
    }
}

fn delta(first: u64, last: u64, pu: Option<u64>, levels: &[(bool, Level)]) -> BookDelta {
    let side = |bid: bool| {
        levels
            .iter()
            .filter(|(b, _)| *b == bid)
            .map(|(_, l)| *l)
            .collect()
    };
    BookDelta {
        symbol: Symbol::new("BTCUSDT"),
        snapshot: false,
        first_id: first,
        last_id: last,
        prev_last_id: pu,
        bids: side(true),
        asks: side(false),
        exchange_time_ms: 0,
    }
}

fn run(venue: Venue, market: Market, start: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut book = Driven::new(venue, market);
    let mut stream = Stream {
        last: start,
        previous: (start, start),
    };
    for op in ops {
        match op {
            Op::Update {
                step,
                chained,
                snapshot,
                levels,
            } => {
                let (first, last, prev) = stream.ids(step);
                let pu = if *chained { prev } else { last.wrapping_mul(7) };
                let mut d = delta(first, last, Some(pu), levels);
                d.snapshot = venue == Venue::Bybit && *snapshot;
                book.update(&d)?;
            }
            Op::Snapshot { step, levels } => {
                let (_, last, _) = stream.ids(step);
                let mut d = delta(last, last, None, levels);
                d.snapshot = true;
                book.snapshot(&d)?;
            }
            Op::Restart => book.restart(),
        }
    }
    Ok(())
}

fn start() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..1_000,
        2 => Just(600_859_602_414u64),
        1 => Just(u64::MAX - 100),
        1 => Just(MAX_ID_JUMP),
        1 => any::<u64>(),
    ]
}

proptest! {
    #![proptest_config(config(regressions!("sync_rules")))]

    #[test]
    fn every_sync_rule_survives_hostile_ids_and_levels(
        which in 0usize..3,
        start in start(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let (venue, market) = [
            (Venue::Binance, Market::Spot),
            (Venue::Binance, Market::Usdm),
            (Venue::Bybit, Market::Linear),
        ][which];
        run(venue, market, start, &ops)?;
    }
}

/// A real session read by the real reader: its deltas, its snapshot, and the book a clean
/// replay has at each id it syncs at.
struct Replay {
    venue: Venue,
    market: Market,
    deltas: Vec<BookDelta>,
    snapshot: Option<BookDelta>,
    clean: HashMap<u64, Book>,
}

static REPLAYS: LazyLock<Vec<Replay>> = LazyLock::new(|| {
    SESSIONS
        .iter()
        .map(|session| {
            let (venue, market) = match session.name.split('-').take(2).collect::<Vec<_>>()[..] {
                ["binance", "spot"] => (Venue::Binance, Market::Spot),
                ["binance", "usdm"] => (Venue::Binance, Market::Usdm),
                _ => (Venue::Bybit, Market::Linear),
            };
            let adapter = venue::adapter(venue);
            let reader = adapter.market_reader(market);
            let deltas: Vec<BookDelta> = session
                .frames
                .iter()
                .filter_map(|f| match reader.read(f, 0) {
                    Ok(MarketEvent::Book(d)) => Some(d),
                    _ => None,
                })
                .collect();
            assert!(
                deltas.len() > 10,
                "{}: {} deltas",
                session.name,
                deltas.len()
            );
            let symbol = deltas[0].symbol;
            let snapshot = session
                .snapshot
                .as_ref()
                .map(|s| adapter.snapshot_of(symbol, s).expect("snapshot"));
            let mut clean = HashMap::new();
            let mut book = Driven::new(venue, market);
            if let Some(s) = &snapshot {
                book.snapshot(s).expect("clean snapshot");
            }
            for d in &deltas {
                book.update(d).expect("clean replay");
                if let Some(id) = book.state.last_id {
                    clean.insert(id, book.state.book.clone());
                }
            }
            assert!(!clean.is_empty(), "{}: never synced", session.name);
            Replay {
                venue,
                market,
                deltas,
                snapshot,
                clean,
            }
        })
        .collect()
});

/// What the way does to one message of a real session.
#[derive(Debug, Clone)]
enum Fault {
    Deliver,
    Lose,
    Repeat,
    /// Delivered after the next one.
    Late,
    /// The snapshot is fetched before this message.
    Snapshot,
    /// The connection restarts before it.
    Restart,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        40 => Just(Fault::Deliver),
        2 => Just(Fault::Lose),
        2 => Just(Fault::Repeat),
        2 => Just(Fault::Late),
        2 => Just(Fault::Snapshot),
        1 => Just(Fault::Restart),
    ]
}

proptest! {
    #![proptest_config(config(regressions!("sync_sessions")))]

    #[test]
    fn a_synced_book_is_the_clean_replays_whatever_the_way_does(
        which in any::<Index>(),
        first_snapshot in any::<Index>(),
        faults in prop::collection::vec(fault(), 200),
    ) {
        let replay = &REPLAYS[which.index(REPLAYS.len())];
        let mut book = Driven::new(replay.venue, replay.market);
        let n = replay.deltas.len();
        let first_snapshot = first_snapshot.index(n.min(40));
        let mut k = 0;
        while k < n {
            let fault = &faults[k % faults.len()];
            if let (Some(s), true) = (
                &replay.snapshot,
                k == first_snapshot || matches!(fault, Fault::Snapshot),
            ) {
                book.snapshot(s)?;
            }
            let d = &replay.deltas[k];
            match fault {
                Fault::Lose => {}
                Fault::Repeat => {
                    book.update(d)?;
                    book.update(d)?;
                }
                Fault::Late if k + 1 < n => {
                    book.update(&replay.deltas[k + 1])?;
                    book.update(d)?;
                    k += 1;
                }
                Fault::Restart => {
                    book.restart();
                    book.update(d)?;
                }
                _ => {
                    book.update(d)?;
                }
            }
            if let Some(id) = book.state.last_id
                && let Some(clean) = replay.clean.get(&id)
            {
                prop_assert!(
                    &book.state.book == clean,
                    "synced at {} with another book than the clean replay's", id
                );
            }
            k += 1;
        }
    }
}
