//! Every change of a live book, for a reader that keeps its own (`connector.book_diffs`): a
//! follower of the [`LiveBook`], fed under the book's lock after each message, so no change is
//! missed or reordered. Nothing is conflated: a reader too slow for its buffer gets
//! [`crate::Error::SlowConsumer`] (loud), and a new stream starts with the whole book as a reset.

use std::sync::Mutex;

use super::live::{Feed, Follow};
use super::{Change, normalized};
use crate::model::{BookDiff, Level, Source, Symbol};
use crate::stream::{self, Overflow, Weigh};

/// Diffs a stream holds for a slow reader before it fails, unless the reader asks otherwise.
pub const DIFFS_CAPACITY: usize = 1 << 16;
/// Bytes a stream may hold per diff of its capacity (64 MiB at the default; one Bybit snapshot
/// of 1,000 levels a side is about 70 KB, a diff a few hundred bytes).
pub const DIFF_BYTES: usize = 1 << 10;

impl Weigh for BookDiff {
    fn weight(&self) -> usize {
        let levels = self.bids.capacity().saturating_add(self.asks.capacity());
        std::mem::size_of::<BookDiff>()
            .saturating_add(levels.saturating_mul(std::mem::size_of::<Level>()))
    }
}

/// A diff stream's sending half, following one book.
pub struct DiffFeed {
    source: Source,
    symbol: Symbol,
    tx: stream::Sender<BookDiff>,
    /// Whether the last diff sent said "in sync": a feed that changes neither levels nor that
    /// sends nothing.
    synced: Mutex<Option<bool>>,
}

impl std::fmt::Debug for DiffFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffFeed")
            .field("symbol", &self.symbol)
            .finish_non_exhaustive()
    }
}

impl DiffFeed {
    /// A follower of the book of `symbol` and the stream it feeds, which holds `capacity` diffs
    /// for a slow reader.
    pub fn new(
        source: Source,
        symbol: Symbol,
        capacity: usize,
    ) -> (DiffFeed, stream::Receiver<BookDiff>) {
        let capacity = capacity.max(1);
        let bytes = capacity.saturating_mul(DIFF_BYTES);
        let (tx, rx) = stream::weighed(capacity, bytes, Overflow::NeverDrop);
        let feed = DiffFeed {
            source,
            symbol,
            tx,
            synced: Mutex::new(None),
        };
        (feed, rx)
    }
}

impl Follow for DiffFeed {
    fn follow(&self, feed: Feed<'_>) -> bool {
        let mut diff = BookDiff {
            source: self.source,
            symbol: self.symbol,
            synced: feed.synced,
            reset: false,
            update_id: feed.update_id.filter(|_| feed.synced),
            bids: Vec::new(),
            asks: Vec::new(),
            exchange_time_ms: feed.exchange_time_ms,
            local_time_ns: feed.local_time_ns,
        };
        for change in feed.changes {
            match change {
                // Levels before a clear are gone with it.
                Change::Clear => {
                    diff.reset = true;
                    diff.bids.clear();
                    diff.asks.clear();
                }
                Change::Bid(_, level) => diff.bids.push(normalized(level)),
                Change::Ask(_, level) => diff.asks.push(normalized(level)),
            }
        }
        if !feed.synced {
            diff.bids.clear();
            diff.asks.clear();
        }
        let mut last = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        let news = diff.reset || !diff.bids.is_empty() || !diff.asks.is_empty();
        if !news && *last == Some(feed.synced) {
            return !self.tx.is_closed();
        }
        *last = Some(feed.synced);
        self.tx.send(diff).is_ok()
    }

    fn claims(&self) -> bool {
        !self.tx.is_closed()
    }

    fn fail(&self, error: &crate::Error) {
        self.tx.fail(error.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Market, Venue};
    use crate::stream::{Drained, Item};
    use rust_decimal::Decimal;

    fn level(price: &str, qty: &str) -> Level {
        Level {
            price: price.parse().unwrap(),
            qty: qty.parse().unwrap(),
        }
    }

    fn bid(price: &str, qty: &str) -> Change {
        let l = level(price, qty);
        Change::Bid(super::super::PriceKey::of(l.price).unwrap(), l)
    }

    fn feed(changes: &[Change], synced: bool, update_id: u64) -> Feed<'_> {
        Feed {
            synced,
            changes,
            reason: None,
            update_id: Some(update_id),
            exchange_time_ms: 0,
            local_time_ns: 0,
        }
    }

    fn diffs() -> (DiffFeed, stream::Receiver<BookDiff>) {
        let source = Source {
            venue: Venue::Binance,
            market: Market::Spot,
        };
        DiffFeed::new(source, Symbol::new("BTCUSDT"), DIFFS_CAPACITY)
    }

    fn drain(rx: &stream::Receiver<BookDiff>) -> (Vec<BookDiff>, Drained) {
        let mut items = Vec::new();
        let status = rx.drain_into(usize::MAX, &mut items);
        let diffs = items
            .into_iter()
            .map(|i| match i {
                Item::Event(d) => d,
                Item::Gap { .. } => panic!("a diff stream never drops"),
            })
            .collect();
        (diffs, status)
    }

    #[test]
    fn levels_are_written_normalized_a_clear_resets_and_nothing_new_sends_nothing() {
        let (feed_to, rx) = diffs();
        let snapshot = [Change::Clear, bid("100.10", "2.000"), bid("99.5", "1")];
        assert!(feed_to.follow(feed(&snapshot, true, 7)));
        assert!(
            feed_to.follow(feed(&[], true, 7)),
            "no change: nothing sent"
        );
        assert!(feed_to.follow(feed(&[bid("100.1", "0")], true, 8)));
        // Changes before a clear in the same feed are gone with it.
        assert!(feed_to.follow(feed(&[bid("1", "1"), Change::Clear], false, 9)));
        let (got, _) = drain(&rx);
        assert_eq!(got.len(), 3);
        assert!(got[0].reset && got[0].synced && got[0].update_id == Some(7));
        assert_eq!(got[0].bids, vec![level("100.1", "2"), level("99.5", "1")]);
        assert!(!got[1].reset && got[1].bids == vec![level("100.1", "0")]);
        assert_eq!(got[1].bids[0].qty, Decimal::ZERO);
        assert!(
            got[2].reset && !got[2].synced && got[2].bids.is_empty() && got[2].update_id.is_none()
        );
    }

    #[test]
    fn a_reader_too_slow_is_told_and_the_follower_leaves() {
        let (feed_to, rx) = diffs();
        let change = [bid("100", "1")];
        let mut kept = true;
        for id in 0..=DIFFS_CAPACITY as u64 {
            kept = feed_to.follow(feed(&change, true, id));
        }
        assert!(!kept, "the follower goes once its stream failed");
        let (got, status) = drain(&rx);
        assert_eq!(got.len(), DIFFS_CAPACITY);
        let (_, status) = if matches!(status, Drained::Open) {
            drain(&rx)
        } else {
            (Vec::new(), status)
        };
        assert!(
            matches!(
                status,
                Drained::Ended(Some(crate::Error::SlowConsumer { .. }))
            ),
            "{status:?}"
        );
    }
}
