//! Binance diff-depth books (PROTOCOLS.md 4.1, 4.2): buffer the diffs, fetch a REST snapshot
//! (`lastUpdateId` L), bridge it with the buffered diffs, then chain every later diff.
//!
//! - Spot: drop diffs with `u <= L`; the first kept must have `U <= L+1 <= u`; every later one
//!   `U == previous u + 1`.
//! - USD-M: drop diffs with `u < L`; the first kept must have `U <= L <= u`; every later one
//!   `pu == previous u`.

use std::collections::VecDeque;

use crate::book::sync::{
    BookDelta, MAX_UPDATE_ID, Outcome, Recovery, SyncRule, SyncState, absurd_jump,
};
use crate::model::Market;

use super::messages::{DepthDiff, DepthSnapshot};

/// Levels a side a book keeps: its snapshots have 1000 (Decision 9); diffs add deeper levels,
/// which are cut here so memory stays bounded however long the book lives.
pub const KEEP: usize = 5_000;

/// Diffs kept while waiting for a snapshot; beyond this the oldest go (the snapshot, asked for
/// later, is newer than them). At 10 diffs/s this covers a snapshot held up for minutes by the
/// rate limiter, in bounded memory.
const BUFFER_CAP: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// `U == previous u + 1`.
    Spot,
    /// `pu == previous u`.
    Usdm,
}

impl Chain {
    pub fn of(market: Market) -> Chain {
        match market {
            Market::Spot => Chain::Spot,
            _ => Chain::Usdm,
        }
    }
}

/// A diff-depth book's rule.
#[derive(Debug, Clone)]
pub struct BinanceSync {
    chain: Chain,
    /// The book came from a snapshot with no diff after it yet: the next diff must bridge the
    /// snapshot (the venue's first-diff rule), not chain on it.
    bridging: bool,
    buffer: VecDeque<BookDelta>,
}

impl From<DepthDiff> for BookDelta {
    fn from(d: DepthDiff) -> BookDelta {
        BookDelta {
            symbol: d.symbol,
            snapshot: false,
            first_id: d.first_id,
            last_id: d.last_id,
            prev_last_id: d.prev_last_id,
            bids: d.bids,
            asks: d.asks,
            exchange_time_ms: d.exchange_time_ms,
        }
    }
}

/// A REST snapshot as a sync rule reads it (`symbol` is not in the answer: the caller's).
pub fn snapshot_delta(symbol: crate::model::Symbol, s: DepthSnapshot) -> BookDelta {
    BookDelta {
        symbol,
        snapshot: true,
        first_id: s.last_update_id,
        last_id: s.last_update_id,
        prev_last_id: None,
        bids: s.bids,
        asks: s.asks,
        exchange_time_ms: s.exchange_time_ms.unwrap_or(0),
    }
}

impl BinanceSync {
    pub fn new(chain: Chain) -> BinanceSync {
        BinanceSync {
            chain,
            bridging: false,
            buffer: VecDeque::new(),
        }
    }

    /// Diffs kept while waiting for a snapshot.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn unsync(&mut self, state: &mut SyncState, reason: String) -> Outcome {
        self.bridging = false;
        state.unsync(reason)
    }

    fn follows(&self, diff: &BookDelta, last: u64) -> bool {
        match self.chain {
            Chain::Spot => last.checked_add(1) == Some(diff.first_id),
            Chain::Usdm => diff.prev_last_id == Some(last),
        }
    }

    fn apply(&mut self, state: &mut SyncState, diff: &BookDelta) -> Outcome {
        if let Some(reason) = state
            .last_id
            .and_then(|last| absurd_jump(last, diff.last_id))
        {
            return self.unsync(state, reason);
        }
        if let Err(e) = state.book.apply(&diff.bids, &diff.asks) {
            self.bridging = false;
            return state.malformed(&e);
        }
        state.last_id = Some(diff.last_id);
        if state.book.is_crossed() {
            return self.unsync(state, format!("crossed after update {}", diff.last_id));
        }
        Outcome::Applied
    }

    /// A diff, untruncated.
    pub fn on_diff(&mut self, state: &mut SyncState, diff: &BookDelta) -> Outcome {
        let Some(last) = state.last_id else {
            if self.buffer.len() == BUFFER_CAP {
                self.buffer.pop_front();
            }
            self.buffer.push_back(diff.clone());
            return Outcome::Buffered;
        };
        // An id this far from the book's, ahead or behind, is no message of this stream: taken
        // as old it would freeze the book (every later diff "old"), so it is a gap.
        if let Some(reason) = absurd_jump(last, diff.last_id) {
            return self.unsync(state, reason);
        }
        if std::mem::take(&mut self.bridging) {
            let (kept, bridges) = match self.chain {
                Chain::Spot => (diff.last_id > last, diff.first_id <= last.saturating_add(1)),
                Chain::Usdm => (diff.last_id >= last, diff.first_id <= last),
            };
            if !kept {
                self.bridging = true;
                return Outcome::Ignored;
            }
            if bridges {
                return self.apply(state, diff);
            }
        } else if diff.last_id <= last {
            return Outcome::Ignored;
        }
        if !self.follows(diff, last) {
            let reason = format!(
                "gap: after {last}, U={} u={} pu={:?}",
                diff.first_id, diff.last_id, diff.prev_last_id
            );
            let outcome = self.unsync(state, reason);
            self.buffer.push_back(diff.clone());
            return outcome;
        }
        self.apply(state, diff)
    }

    /// A REST snapshot (`lastUpdateId` is its `last_id`): the buffered diffs that follow it
    /// are applied in order. `Resync` if the snapshot is older than everything buffered.
    pub fn on_rest_snapshot(&mut self, state: &mut SyncState, snapshot: &BookDelta) -> Outcome {
        let last_update_id = snapshot.last_id;
        if last_update_id > MAX_UPDATE_ID {
            // No later diff could follow it: a book kept from it would never change again.
            return self.unsync(state, format!("snapshot id {last_update_id} is impossible"));
        }
        state.book.clear();
        if let Err(e) = state.book.apply(&snapshot.bids, &snapshot.asks) {
            self.bridging = false;
            return state.malformed(&e);
        }
        let buffered = std::mem::take(&mut self.buffer);
        let chain = self.chain;
        // A buffered diff absurdly far from the snapshot is dropped; if it was needed, the
        // chain shows the gap.
        let keep = |d: &BookDelta| {
            absurd_jump(last_update_id, d.last_id).is_none()
                && match chain {
                    Chain::Spot => d.last_id > last_update_id,
                    Chain::Usdm => d.last_id >= last_update_id,
                }
        };
        let pending: Vec<BookDelta> = buffered.into_iter().filter(keep).collect();
        if let Some(first) = pending.first() {
            let bridges = match chain {
                Chain::Spot => first.first_id <= last_update_id.saturating_add(1),
                Chain::Usdm => first.first_id <= last_update_id,
            };
            if !bridges {
                let reason = format!(
                    "snapshot {last_update_id} is older than the first buffered diff (U={})",
                    first.first_id
                );
                self.buffer = pending.into();
                return self.unsync(state, reason);
            }
        }
        state.last_id = Some(last_update_id);
        self.bridging = pending.is_empty();
        if state.book.is_crossed() {
            return self.unsync(state, format!("snapshot {last_update_id} is crossed"));
        }
        for (k, diff) in pending.into_iter().enumerate() {
            // The first kept diff bridges the snapshot; later ones must chain.
            let outcome = if k == 0 {
                self.apply(state, &diff)
            } else {
                self.on_diff(state, &diff)
            };
            if outcome.unsynced().is_some() {
                return outcome;
            }
        }
        Outcome::Applied
    }
}

impl SyncRule for BinanceSync {
    fn recovery(&self) -> Recovery {
        Recovery::Fetch
    }

    fn on_update(&mut self, state: &mut SyncState, update: &BookDelta) -> Outcome {
        let outcome = self.on_diff(state, update);
        if outcome == Outcome::Applied {
            state.book.truncate(KEEP);
        }
        outcome
    }

    fn on_snapshot(&mut self, state: &mut SyncState, snapshot: &BookDelta) -> Outcome {
        let outcome = self.on_rest_snapshot(state, snapshot);
        state.book.truncate(KEEP);
        outcome
    }

    fn restart(&mut self) {
        *self = BinanceSync::new(self.chain);
    }

    fn waiting(&self) -> bool {
        !self.buffer.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;
    use crate::model::Level;
    use crate::model::Symbol;
    use rust_decimal::Decimal;

    /// The rule and its state, as a live book holds them.
    pub(super) struct Kept {
        rule: BinanceSync,
        pub state: SyncState,
    }

    impl Kept {
        pub fn new(chain: Chain) -> Kept {
            Kept {
                rule: BinanceSync::new(chain),
                state: SyncState::default(),
            }
        }

        pub fn on_diff(&mut self, diff: &DepthDiff) -> Outcome {
            self.rule.on_diff(&mut self.state, &diff.clone().into())
        }

        pub fn on_snapshot(&mut self, id: u64, bids: &[Level], asks: &[Level]) -> Outcome {
            let snapshot = DepthSnapshot {
                last_update_id: id,
                exchange_time_ms: None,
                bids: bids.to_vec(),
                asks: asks.to_vec(),
            };
            let snapshot = snapshot_delta(Symbol::new("BTCUSDT"), snapshot);
            self.rule.on_rest_snapshot(&mut self.state, &snapshot)
        }

        pub fn update_id(&self) -> Option<u64> {
            self.state.last_id
        }

        pub fn is_synced(&self) -> bool {
            self.state.is_synced()
        }
    }

    fn lv(price: i64, qty: i64) -> Level {
        Level {
            price: Decimal::new(price, 2),
            qty: Decimal::new(qty, 3),
        }
    }

    fn diff(first: u64, last: u64, pu: Option<u64>, bid: (i64, i64)) -> DepthDiff {
        DepthDiff {
            symbol: Symbol::new("BTCUSDT"),
            first_id: first,
            last_id: last,
            prev_last_id: pu,
            bids: vec![lv(bid.0, bid.1)],
            asks: vec![],
            exchange_time_ms: 0,
        }
    }

    #[test]
    fn spot_buffers_drops_the_old_and_chains() {
        let mut s = Kept::new(Chain::Spot);
        assert_eq!(s.on_diff(&diff(90, 95, None, (100, 1))), Outcome::Buffered);
        assert_eq!(s.on_diff(&diff(96, 101, None, (101, 2))), Outcome::Buffered);
        assert_eq!(
            s.on_diff(&diff(102, 104, None, (102, 3))),
            Outcome::Buffered
        );
        assert_eq!(
            s.on_snapshot(99, &[lv(99, 5)], &[lv(200, 1)]),
            Outcome::Applied
        );
        assert_eq!(s.update_id(), Some(104));
        assert_eq!(
            s.state.book.bids(9).len(),
            3,
            "95 dropped (u <= L), 101 bridged, 104 chained"
        );
        assert_eq!(s.on_diff(&diff(100, 104, None, (103, 1))), Outcome::Ignored);
        assert!(matches!(
            s.on_diff(&diff(106, 107, None, (103, 1))),
            Outcome::Resync(_)
        ));
        assert!(!s.is_synced());
    }

    #[test]
    fn a_snapshot_before_any_diff_is_bridged_by_the_first_diff() {
        // Spot: snapshot 100, nothing buffered; the first diff overlaps it (U <= 101 <= u).
        let mut s = Kept::new(Chain::Spot);
        assert_eq!(s.on_snapshot(100, &[lv(100, 1)], &[]), Outcome::Applied);
        assert_eq!(s.on_diff(&diff(90, 100, None, (101, 1))), Outcome::Ignored);
        assert_eq!(s.on_diff(&diff(95, 105, None, (102, 1))), Outcome::Applied);
        assert_eq!(s.on_diff(&diff(106, 107, None, (103, 1))), Outcome::Applied);
        assert!(matches!(
            s.on_diff(&diff(109, 110, None, (104, 1))),
            Outcome::Resync(_)
        ));
        // A first diff that starts after the snapshot's next id does not bridge it.
        let mut s = Kept::new(Chain::Spot);
        s.on_snapshot(100, &[lv(100, 1)], &[]);
        assert!(matches!(
            s.on_diff(&diff(103, 105, None, (102, 1))),
            Outcome::Resync(_)
        ));
        // USD-M: the first diff must hold L itself (U <= L <= u).
        let mut s = Kept::new(Chain::Usdm);
        s.on_snapshot(100, &[lv(100, 1)], &[]);
        assert_eq!(
            s.on_diff(&diff(98, 100, Some(97), (101, 1))),
            Outcome::Applied
        );
        assert_eq!(
            s.on_diff(&diff(101, 102, Some(100), (102, 1))),
            Outcome::Applied
        );
    }

    #[test]
    fn spot_refuses_a_snapshot_older_than_the_buffer() {
        let mut s = Kept::new(Chain::Spot);
        s.on_diff(&diff(110, 112, None, (100, 1)));
        assert!(matches!(
            s.on_snapshot(100, &[lv(99, 1)], &[]),
            Outcome::Resync(_)
        ));
        // A newer snapshot then bridges the kept diff.
        assert_eq!(
            s.on_snapshot(111, &[lv(99, 1)], &[lv(200, 1)]),
            Outcome::Applied
        );
        assert_eq!(s.update_id(), Some(112));
    }

    #[test]
    fn usdm_follows_the_pu_chain() {
        let mut s = Kept::new(Chain::Usdm);
        s.on_diff(&diff(95, 100, Some(94), (100, 1)));
        s.on_diff(&diff(101, 105, Some(100), (101, 1)));
        assert_eq!(s.on_snapshot(98, &[], &[lv(200, 1)]), Outcome::Applied);
        assert_eq!(s.update_id(), Some(105));
        // USD-M ids are not contiguous: U may jump as long as pu names the previous u.
        assert_eq!(
            s.on_diff(&diff(110, 112, Some(105), (102, 1))),
            Outcome::Applied
        );
        assert!(matches!(
            s.on_diff(&diff(113, 115, Some(111), (102, 1))),
            Outcome::Resync(_)
        ));
    }

    #[test]
    fn an_absurd_update_id_resyncs_instead_of_freezing_the_book() {
        for chain in [Chain::Spot, Chain::Usdm] {
            for absurd in [1_000_000_000_000_000_000, u64::MAX] {
                // A live diff that jumps absurdly ahead: a gap, not the book's new id.
                let mut s = Kept::new(chain);
                s.on_snapshot(100, &[lv(100, 1)], &[lv(200, 1)]);
                s.on_diff(&diff(99, 101, Some(99), (101, 1)));
                let pu = Some(101);
                let outcome = s.on_diff(&diff(102, absurd, pu, (102, 1)));
                assert!(
                    matches!(outcome, Outcome::Resync(_)),
                    "{chain:?} {outcome:?}"
                );
                assert!(!s.is_synced());
                // ... and it is not kept for the next snapshot: that one syncs.
                assert_eq!(
                    s.on_snapshot(150, &[lv(100, 1)], &[lv(200, 1)]),
                    Outcome::Applied
                );
                assert_eq!(
                    s.on_diff(&diff(150, 152, Some(150), (103, 1))),
                    Outcome::Applied
                );
                assert_eq!(s.update_id(), Some(152));

                // A buffered one, bridged by the snapshot.
                let mut s = Kept::new(chain);
                s.on_diff(&diff(100, absurd, Some(99), (101, 1)));
                let outcome = s.on_snapshot(100, &[lv(100, 1)], &[lv(200, 1)]);
                assert_ne!(s.update_id(), Some(absurd), "{chain:?} {outcome:?}");
            }
            // A snapshot stamped u64::MAX never makes a synced book.
            let mut s = Kept::new(chain);
            let outcome = s.on_snapshot(u64::MAX, &[lv(100, 1)], &[lv(200, 1)]);
            assert!(matches!(outcome, Outcome::Resync(_)), "{outcome:?}");
            assert!(!s.is_synced());
            // A snapshot absurdly ahead of the stream: the next diff shows it.
            let mut s = Kept::new(chain);
            s.on_snapshot(1 << 60, &[lv(100, 1)], &[lv(200, 1)]);
            let outcome = s.on_diff(&diff(101, 102, Some(100), (101, 1)));
            assert!(
                matches!(outcome, Outcome::Resync(_)),
                "{chain:?} {outcome:?}"
            );
            assert!(!s.is_synced());
        }
    }

    #[test]
    fn a_crossed_result_is_never_kept() {
        let mut s = Kept::new(Chain::Spot);
        assert_eq!(
            s.on_snapshot(10, &[lv(100, 1)], &[lv(101, 1)]),
            Outcome::Applied
        );
        assert!(matches!(
            s.on_diff(&diff(11, 11, None, (105, 1))),
            Outcome::Resync(_)
        ));
        assert_eq!(s.state.book.depth(), (0, 0));
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod properties {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use rust_decimal::Decimal;

    use super::tests::Kept;
    use super::*;
    use crate::model::Level;
    use crate::model::Symbol;

    /// Changes to a venue's book: bids below 100, asks above, so it never crosses.
    fn changes() -> impl Strategy<Value = Vec<(bool, i64, i64)>> {
        prop::collection::vec((any::<bool>(), 1i64..40, 0i64..5), 1..120)
    }

    fn level(price: i64, qty: i64) -> Level {
        Level {
            price: Decimal::from(price),
            qty: Decimal::from(qty),
        }
    }

    proptest! {
        /// Whatever is lost, repeated or reordered on the way, a book that says it is synced
        /// equals the venue's book at the same update id; otherwise it has asked for a resync.
        #[test]
        fn a_synced_binance_book_is_always_the_venues_book(
            steps in changes(),
            snapshot_at in 0usize..40,
            faults in prop::collection::vec(0u8..10, 120),
        ) {
            let mut venue: BTreeMap<i64, i64> = BTreeMap::new();
            let mut history: Vec<BTreeMap<i64, i64>> = vec![venue.clone()];
            let mut diffs = Vec::new();
            for (k, (bid, offset, qty)) in steps.iter().enumerate() {
                let price = if *bid { 100 - offset } else { 100 + offset };
                if *qty == 0 { venue.remove(&price); } else { venue.insert(price, *qty); }
                history.push(venue.clone());
                let id = k as u64 + 1;
                let (bids, asks) = if *bid { (vec![level(price, *qty)], vec![]) } else { (vec![], vec![level(price, *qty)]) };
                diffs.push(DepthDiff { symbol: Symbol::new("X"), first_id: id, last_id: id, prev_last_id: Some(id - 1), bids, asks, exchange_time_ms: 0 });
            }
            // The wire: some diffs skipped (fault 0), some sent twice (1), some swapped with the next (2).
            let mut wire = Vec::new();
            let mut k = 0;
            while k < diffs.len() {
                match faults[k] {
                    0 => {}
                    1 => { wire.push(diffs[k].clone()); wire.push(diffs[k].clone()); }
                    2 if k + 1 < diffs.len() => { wire.push(diffs[k + 1].clone()); wire.push(diffs[k].clone()); k += 1; }
                    _ => wire.push(diffs[k].clone()),
                }
                k += 1;
            }
            let snapshot_id = snapshot_at.min(diffs.len());
            let snap: Vec<Level> = history[snapshot_id].iter().map(|(p, q)| level(*p, *q)).collect();
            let (snap_bids, snap_asks): (Vec<Level>, Vec<Level>) = snap.into_iter().partition(|l| l.price < Decimal::from(100));
            let mut sync = Kept::new(Chain::Spot);
            let mut snapshot_taken = false;
            for diff in wire {
                if !snapshot_taken && diff.last_id as usize > snapshot_id {
                    sync.on_snapshot(snapshot_id as u64, &snap_bids, &snap_asks);
                    snapshot_taken = true;
                }
                sync.on_diff(&diff);
                if let Some(u) = sync.update_id() {
                    let ours: BTreeMap<i64, i64> = sync.state.book.bids(usize::MAX).iter().chain(sync.state.book.asks(usize::MAX).iter())
                        .map(|l| (i64::try_from(l.price).unwrap(), i64::try_from(l.qty).unwrap())).collect();
                    prop_assert_eq!(&ours, &history[u as usize], "synced at {} but not the venue's book", u);
                }
            }
        }
    }
}
