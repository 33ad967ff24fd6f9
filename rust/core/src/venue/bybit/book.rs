//! Bybit `orderbook.{depth}` books (PROTOCOLS.md 4.3): a snapshot replaces the book (`u = 1` is
//! a venue restart: treated as a snapshot); a delta must have `u == previous u + 1`; an older or
//! repeated `u` is dropped. A book out of sync subscribes again: the venue answers with a
//! snapshot.

use crate::book::sync::{BookDelta, Outcome, Recovery, SyncRule, SyncState};

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
            state.book.clear();
        } else {
            match state.last_id {
                None => return Outcome::Ignored, // a delta before its snapshot
                Some(last) if update.last_id <= last => return Outcome::Ignored,
                Some(last) if update.last_id != last + 1 => {
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
}
