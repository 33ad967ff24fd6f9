//! Bybit `orderbook.{depth}` books (PROTOCOLS.md 4.3): a snapshot replaces the book (`u = 1` is
//! a venue restart: treated as a snapshot), unless it is older than the book (a stale one
//! arriving late must not take the book back); a delta must have `u == previous u + 1`; an older
//! or repeated `u` is dropped. A book out of sync subscribes again: the venue answers with a
//! snapshot.

use crate::book::sync::{
    BookDelta, MAX_UPDATE_ID, Outcome, Recovery, SyncRule, SyncState, absurd_jump,
};

use super::messages::BookUpdate;

/// The book topics' depths (spot and linear alike).
pub const DEPTHS: [usize; 4] = [1, 50, 200, 1000];

impl From<BookUpdate> for BookDelta {
    fn from(u: BookUpdate) -> BookDelta {
        BookDelta {
            symbol: u.symbol,
            snapshot: u.snapshot,
            first_id: u.update_id,
            last_id: u.update_id,
            prev_last_id: None,
            bids: u.bids,
            asks: u.asks,
            exchange_time_ms: u.exchange_time_ms,
        }
    }
}

/// An `orderbook.{depth}` book's rule, kept to the topic's depth.
#[derive(Debug, Clone)]
pub struct BybitSync {
    depth: usize,
}

impl BybitSync {
    pub fn new(depth: usize) -> BybitSync {
        BybitSync { depth }
    }
}

impl SyncRule for BybitSync {
    fn recovery(&self) -> Recovery {
        Recovery::Resubscribe
    }

    fn on_update(&mut self, state: &mut SyncState, update: &BookDelta) -> Outcome {
        // `u = 1` is the venue starting over: whatever the message says it is, it replaces the
        // book (a delta after a restart would otherwise look older than the book, forever).
        if update.snapshot || update.last_id == 1 {
            if let Some(last) = state.last_id
                && update.last_id < last
                && update.last_id != 1
                && absurd_jump(last, update.last_id).is_none()
            {
                return Outcome::Ignored;
            }
            if update.last_id > MAX_UPDATE_ID {
                // No delta could follow it: a book kept from it would never change again.
                return state.unsync(format!("snapshot u={} is impossible", update.last_id));
            }
            state.book.clear();
        } else {
            match state.last_id {
                None => return Outcome::Ignored, // a delta before its snapshot
                // Absurdly far either way is no message of this stream: taken as old it would
                // freeze the book, so it is a gap.
                Some(last) if absurd_jump(last, update.last_id).is_some() => {
                    return state.unsync(absurd_jump(last, update.last_id).unwrap_or_default());
                }
                Some(last) if update.last_id <= last => return Outcome::Ignored,
                Some(last) if last.checked_add(1) != Some(update.last_id) => {
                    return state.unsync(format!("gap: after u={last}, u={}", update.last_id));
                }
                Some(_) => {}
            }
        }
        if let Err(e) = state.book.apply(&update.bids, &update.asks) {
            return state.malformed(&e);
        }
        state.book.truncate(self.depth);
        state.last_id = Some(update.last_id);
        if state.book.is_crossed() {
            return state.unsync(format!("crossed after u={}", update.last_id));
        }
        Outcome::Applied
    }

    fn restart(&mut self) {}
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;
    use crate::model::{Level, Symbol};
    use rust_decimal::Decimal;

    fn lv(price: i64, qty: i64) -> Level {
        Level {
            price: Decimal::new(price, 2),
            qty: Decimal::new(qty, 3),
        }
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
        let (mut rule, mut s) = (BybitSync::new(2), SyncState::default());
        assert_eq!(
            rule.on_update(&mut s, &update(false, 7, (100, 1)).into()),
            Outcome::Ignored
        );
        assert_eq!(
            rule.on_update(&mut s, &update(true, 7, (100, 1)).into()),
            Outcome::Applied
        );
        assert_eq!(
            rule.on_update(&mut s, &update(false, 8, (101, 1)).into()),
            Outcome::Applied
        );
        assert_eq!(
            rule.on_update(&mut s, &update(false, 9, (102, 1)).into()),
            Outcome::Applied
        );
        assert_eq!(s.book.bids(9).len(), 2, "kept to the topic's depth");
        // A snapshot older than the book (queued before a newer one) does not take it back; one
        // of the same u replaces it.
        let before = s.book.bids(9);
        assert_eq!(
            rule.on_update(&mut s, &update(true, 8, (50, 1)).into()),
            Outcome::Ignored
        );
        assert_eq!((s.book.bids(9), s.last_id), (before, Some(9)));
        assert_eq!(
            rule.on_update(&mut s, &update(true, 9, (101, 2)).into()),
            Outcome::Applied
        );
        assert_eq!(
            rule.on_update(&mut s, &update(false, 9, (102, 1)).into()),
            Outcome::Ignored
        );
        assert_eq!(
            rule.on_update(&mut s, &update(false, 9, (103, 1)).into()),
            Outcome::Ignored
        );
        assert!(matches!(
            rule.on_update(&mut s, &update(false, 11, (103, 1)).into()),
            Outcome::Resync(_)
        ));
        // The venue restarted: u starts over at 1 with a snapshot.
        assert_eq!(
            rule.on_update(&mut s, &update(true, 1, (90, 1)).into()),
            Outcome::Applied
        );
        assert_eq!(s.last_id, Some(1));
        assert_eq!(
            rule.on_update(&mut s, &update(false, 2, (91, 1)).into()),
            Outcome::Applied
        );
        assert_eq!(
            rule.on_update(&mut s, &update(false, 3, (92, 1)).into()),
            Outcome::Applied
        );
        // Restarted again, announced by a delta with u = 1: the book starts over from it.
        assert_eq!(
            rule.on_update(&mut s, &update(false, 1, (80, 1)).into()),
            Outcome::Applied
        );
        assert_eq!(s.book.bids(9), vec![lv(80, 1)]);
        assert_eq!(
            rule.on_update(&mut s, &update(false, 2, (81, 1)).into()),
            Outcome::Applied
        );
    }
    fn with_id(snapshot: bool, u: u64) -> BookDelta {
        BookUpdate {
            seq: None,
            update_id: u,
            ..update(snapshot, 1, (100, 1))
        }
        .into()
    }

    #[test]
    fn an_absurd_update_id_resyncs_instead_of_freezing_the_book() {
        for absurd in [1_000_000_000_000_000_000, u64::MAX] {
            let (mut rule, mut s) = (BybitSync::new(2), SyncState::default());
            rule.on_update(&mut s, &with_id(true, 7));
            let outcome = rule.on_update(&mut s, &with_id(false, absurd));
            assert!(matches!(outcome, Outcome::Resync(_)), "{outcome:?}");
            assert!(!s.is_synced());
        }
        // A snapshot stamped u64::MAX never makes a synced book.
        let (mut rule, mut s) = (BybitSync::new(2), SyncState::default());
        let outcome = rule.on_update(&mut s, &with_id(true, u64::MAX));
        assert!(matches!(outcome, Outcome::Resync(_)), "{outcome:?}");
        assert!(!s.is_synced());
        // One absurdly ahead of the stream: the next delta shows it, instead of being ignored.
        rule.on_update(&mut s, &with_id(true, 1 << 60));
        let outcome = rule.on_update(&mut s, &with_id(false, 8));
        assert!(matches!(outcome, Outcome::Resync(_)), "{outcome:?}");
        assert!(!s.is_synced());
    }
}
