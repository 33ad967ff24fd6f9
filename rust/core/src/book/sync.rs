//! Keeping a book in sync with a venue's stream, exactly as each venue specifies
//! (PROTOCOLS.md 4.1–4.4). Any gap, out-of-order message, malformed level or crossed result
//! leaves the book unsynced and asks for a new snapshot; nothing is guessed. Levels off the
//! symbol's tick or step are the venue's real levels and are kept (`book/mod.rs`).
//!
//! - Binance spot: buffer the diffs, fetch a snapshot (`lastUpdateId` L), drop diffs with
//!   `u <= L`; the first kept must have `U <= L+1 <= u`; every later one `U == previous u + 1`.
//! - Binance USD-M: drop diffs with `u < L`; the first kept must have `U <= L <= u`; every later
//!   one `pu == previous u`.
//! - Bybit: a snapshot replaces the book (`u = 1` is a venue restart: treated as a snapshot); a delta
//!   must have `u == previous u + 1`; an older or repeated `u` is dropped.

use std::collections::VecDeque;

use crate::model::Level;
use crate::venue::binance::messages::DepthDiff;
use crate::venue::bybit::messages::BookUpdate;

use super::{Book, LevelError};

/// What a message did to the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Seen already or older than the book: dropped.
    Ignored,
    /// Kept until a snapshot arrives.
    Buffered,
    /// The book is unsynced: fetch (Binance) or resubscribe for (Bybit) a snapshot.
    Resync(String),
    /// The message held a level that cannot be one (a negative number, a price finer than a
    /// book keeps): nothing of it was applied, and the book is unsynced as for `Resync`.
    Malformed(String),
}

impl Outcome {
    /// Why the book lost sync, if it did.
    pub fn unsynced(&self) -> Option<&str> {
        match self {
            Outcome::Resync(reason) | Outcome::Malformed(reason) => Some(reason),
            _ => None,
        }
    }
}

/// Diffs kept while waiting for a snapshot; beyond this the oldest go (the snapshot, asked for
/// later, is newer than them). At Binance's 10 diffs/s this covers a snapshot held up for
/// minutes by the rate limiter, in bounded memory.
const BUFFER_CAP: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinanceRule {
    Spot,
    Usdm,
}

/// A Binance diff-depth book.
#[derive(Debug, Clone)]
pub struct BinanceSync {
    rule: BinanceRule,
    pub book: Book,
    /// `None` while waiting for a snapshot (diffs are buffered).
    last_u: Option<u64>,
    /// The book came from a snapshot with no diff after it yet: the next diff must bridge the
    /// snapshot (the venue's first-diff rule), not chain on it.
    bridging: bool,
    buffer: VecDeque<DepthDiff>,
}

impl BinanceSync {
    pub fn new(rule: BinanceRule) -> BinanceSync {
        BinanceSync {
            rule,
            book: Book::new(),
            last_u: None,
            bridging: false,
            buffer: VecDeque::new(),
        }
    }

    pub fn is_synced(&self) -> bool {
        self.last_u.is_some()
    }

    pub fn rule(&self) -> BinanceRule {
        self.rule
    }

    /// The last update id applied.
    pub fn update_id(&self) -> Option<u64> {
        self.last_u
    }

    /// Diffs kept while waiting for a snapshot.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn unsync(&mut self, reason: String) -> Outcome {
        self.last_u = None;
        self.bridging = false;
        self.book.clear();
        Outcome::Resync(reason)
    }

    fn malformed(&mut self, e: &LevelError) -> Outcome {
        self.unsync(String::new());
        Outcome::Malformed(format!("malformed level: {e}"))
    }

    fn follows(&self, diff: &DepthDiff, last: u64) -> bool {
        match self.rule {
            BinanceRule::Spot => diff.first_id == last + 1,
            BinanceRule::Usdm => diff.prev_last_id == Some(last),
        }
    }

    fn apply(&mut self, diff: &DepthDiff) -> Outcome {
        if let Err(e) = self.book.apply(&diff.bids, &diff.asks) {
            return self.malformed(&e);
        }
        self.last_u = Some(diff.last_id);
        if self.book.is_crossed() {
            return self.unsync(format!("crossed after update {}", diff.last_id));
        }
        Outcome::Applied
    }

    pub fn on_diff(&mut self, diff: &DepthDiff) -> Outcome {
        let Some(last) = self.last_u else {
            if self.buffer.len() == BUFFER_CAP {
                self.buffer.pop_front();
            }
            self.buffer.push_back(diff.clone());
            return Outcome::Buffered;
        };
        if std::mem::take(&mut self.bridging) {
            let (kept, bridges) = match self.rule {
                BinanceRule::Spot => (diff.last_id > last, diff.first_id <= last + 1),
                BinanceRule::Usdm => (diff.last_id >= last, diff.first_id <= last),
            };
            if !kept {
                self.bridging = true;
                return Outcome::Ignored;
            }
            if bridges {
                return self.apply(diff);
            }
        } else if diff.last_id <= last {
            return Outcome::Ignored;
        }
        if !self.follows(diff, last) {
            let reason = format!(
                "gap: after {last}, U={} u={} pu={:?}",
                diff.first_id, diff.last_id, diff.prev_last_id
            );
            let outcome = self.unsync(reason);
            self.buffer.push_back(diff.clone());
            return outcome;
        }
        self.apply(diff)
    }

    /// A REST snapshot (`lastUpdateId`, bids, asks): the buffered diffs that follow it are
    /// applied in order. `Resync` if the snapshot is older than everything buffered.
    pub fn on_snapshot(&mut self, last_update_id: u64, bids: &[Level], asks: &[Level]) -> Outcome {
        self.book.clear();
        if let Err(e) = self.book.apply(bids, asks) {
            return self.malformed(&e);
        }
        let buffered = std::mem::take(&mut self.buffer);
        let rule = self.rule;
        let keep = |d: &DepthDiff| match rule {
            BinanceRule::Spot => d.last_id > last_update_id,
            BinanceRule::Usdm => d.last_id >= last_update_id,
        };
        let pending: Vec<DepthDiff> = buffered.into_iter().filter(keep).collect();
        if let Some(first) = pending.first() {
            let bridges = match rule {
                BinanceRule::Spot => first.first_id <= last_update_id + 1,
                BinanceRule::Usdm => first.first_id <= last_update_id,
            };
            if !bridges {
                let reason = format!(
                    "snapshot {last_update_id} is older than the first buffered diff (U={})",
                    first.first_id
                );
                self.buffer = pending.into();
                return self.unsync(reason);
            }
        }
        self.last_u = Some(last_update_id);
        self.bridging = pending.is_empty();
        if self.book.is_crossed() {
            return self.unsync(format!("snapshot {last_update_id} is crossed"));
        }
        for (k, diff) in pending.into_iter().enumerate() {
            // The first kept diff bridges the snapshot; later ones must chain.
            let outcome = if k == 0 {
                self.apply(&diff)
            } else {
                self.on_diff(&diff)
            };
            if outcome.unsynced().is_some() {
                return outcome;
            }
        }
        Outcome::Applied
    }
}

/// A Bybit `orderbook.{depth}` book.
#[derive(Debug, Clone)]
pub struct BybitSync {
    pub book: Book,
    depth: usize,
    last_u: Option<u64>,
    pub seq: Option<u64>,
}

impl BybitSync {
    pub fn new(depth: usize) -> BybitSync {
        BybitSync {
            book: Book::new(),
            depth,
            last_u: None,
            seq: None,
        }
    }

    pub fn is_synced(&self) -> bool {
        self.last_u.is_some()
    }

    pub fn update_id(&self) -> Option<u64> {
        self.last_u
    }

    fn unsync(&mut self, reason: String) -> Outcome {
        self.last_u = None;
        self.book.clear();
        Outcome::Resync(reason)
    }

    fn malformed(&mut self, e: &LevelError) -> Outcome {
        self.unsync(String::new());
        Outcome::Malformed(format!("malformed level: {e}"))
    }

    pub fn on_update(&mut self, update: &BookUpdate) -> Outcome {
        // `u = 1` is the venue starting over: whatever the message says it is, it replaces the
        // book (a delta after a restart would otherwise look older than the book, forever).
        if update.snapshot || update.update_id == 1 {
            self.book.clear();
        } else {
            match self.last_u {
                None => return Outcome::Ignored, // a delta before its snapshot
                Some(last) if update.update_id <= last => return Outcome::Ignored,
                Some(last) if update.update_id != last + 1 => {
                    return self.unsync(format!("gap: after u={last}, u={}", update.update_id));
                }
                Some(_) => {}
            }
        }
        if let Err(e) = self.book.apply(&update.bids, &update.asks) {
            return self.malformed(&e);
        }
        self.book.truncate(self.depth);
        self.last_u = Some(update.update_id);
        self.seq = update.seq;
        if self.book.is_crossed() {
            return self.unsync(format!("crossed after u={}", update.update_id));
        }
        Outcome::Applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Symbol;
    use rust_decimal::Decimal;

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
        let mut s = BinanceSync::new(BinanceRule::Spot);
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
            s.book.bids(9).len(),
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
        let mut s = BinanceSync::new(BinanceRule::Spot);
        assert_eq!(s.on_snapshot(100, &[lv(100, 1)], &[]), Outcome::Applied);
        assert_eq!(s.on_diff(&diff(90, 100, None, (101, 1))), Outcome::Ignored);
        assert_eq!(s.on_diff(&diff(95, 105, None, (102, 1))), Outcome::Applied);
        assert_eq!(s.on_diff(&diff(106, 107, None, (103, 1))), Outcome::Applied);
        assert!(matches!(
            s.on_diff(&diff(109, 110, None, (104, 1))),
            Outcome::Resync(_)
        ));
        // A first diff that starts after the snapshot's next id does not bridge it.
        let mut s = BinanceSync::new(BinanceRule::Spot);
        s.on_snapshot(100, &[lv(100, 1)], &[]);
        assert!(matches!(
            s.on_diff(&diff(103, 105, None, (102, 1))),
            Outcome::Resync(_)
        ));
        // USD-M: the first diff must hold L itself (U <= L <= u).
        let mut s = BinanceSync::new(BinanceRule::Usdm);
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
        let mut s = BinanceSync::new(BinanceRule::Spot);
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
        let mut s = BinanceSync::new(BinanceRule::Usdm);
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
    fn a_crossed_result_is_never_kept() {
        let mut s = BinanceSync::new(BinanceRule::Spot);
        assert_eq!(
            s.on_snapshot(10, &[lv(100, 1)], &[lv(101, 1)]),
            Outcome::Applied
        );
        assert!(matches!(
            s.on_diff(&diff(11, 11, None, (105, 1))),
            Outcome::Resync(_)
        ));
        assert_eq!(s.book.depth(), (0, 0));
    }

    fn update(snapshot: bool, u: u64, bid: (i64, i64)) -> BookUpdate {
        BookUpdate {
            symbol: Symbol::new("BTCUSDT"),
            depth: 2,
            snapshot,
            update_id: u,
            seq: Some(u * 10),
            bids: vec![lv(bid.0, bid.1)],
            asks: vec![lv(500, 1)],
            exchange_time_ms: 0,
        }
    }

    #[test]
    fn bybit_snapshot_deltas_duplicates_gaps_and_restarts() {
        let mut s = BybitSync::new(2);
        assert_eq!(s.on_update(&update(false, 7, (100, 1))), Outcome::Ignored);
        assert_eq!(s.on_update(&update(true, 7, (100, 1))), Outcome::Applied);
        assert_eq!(s.on_update(&update(false, 8, (101, 1))), Outcome::Applied);
        assert_eq!(s.on_update(&update(false, 9, (102, 1))), Outcome::Applied);
        assert_eq!(s.book.bids(9).len(), 2, "kept to the topic's depth");
        assert_eq!(s.on_update(&update(false, 9, (103, 1))), Outcome::Ignored);
        assert!(matches!(
            s.on_update(&update(false, 11, (103, 1))),
            Outcome::Resync(_)
        ));
        // The venue restarted: u starts over at 1 with a snapshot.
        assert_eq!(s.on_update(&update(true, 1, (90, 1))), Outcome::Applied);
        assert_eq!((s.update_id(), s.seq), (Some(1), Some(10)));
        assert_eq!(s.on_update(&update(false, 2, (91, 1))), Outcome::Applied);
        assert_eq!(s.on_update(&update(false, 3, (92, 1))), Outcome::Applied);
        // Restarted again, announced by a delta with u = 1: the book starts over from it.
        assert_eq!(s.on_update(&update(false, 1, (80, 1))), Outcome::Applied);
        assert_eq!(s.book.bids(9), vec![lv(80, 1)]);
        assert_eq!(s.on_update(&update(false, 2, (81, 1))), Outcome::Applied);
    }
}

#[cfg(test)]
mod properties {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use rust_decimal::Decimal;

    use super::*;
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
            let mut sync = BinanceSync::new(BinanceRule::Spot);
            let mut snapshot_taken = false;
            for diff in wire {
                if !snapshot_taken && diff.last_id as usize > snapshot_id {
                    sync.on_snapshot(snapshot_id as u64, &snap_bids, &snap_asks);
                    snapshot_taken = true;
                }
                sync.on_diff(&diff);
                if let Some(u) = sync.update_id() {
                    let ours: BTreeMap<i64, i64> = sync.book.bids(usize::MAX).iter().chain(sync.book.asks(usize::MAX).iter())
                        .map(|l| (i64::try_from(l.price).unwrap(), i64::try_from(l.qty).unwrap())).collect();
                    prop_assert_eq!(&ours, &history[u as usize], "synced at {} but not the venue's book", u);
                }
            }
        }
    }
}
