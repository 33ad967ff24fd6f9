//! The best bid and offer of a live book, for a venue whose book of depth 1 is the stream of it
//! (Bybit `orderbook.1`): a follower of the [`LiveBook`](super::live::LiveBook), so the top it
//! reports has passed the book's sequence checks. Once in sync, a loss of sync is reported as a
//! top with no levels; a reader that falls behind gets a gap marker.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::Change;
use super::live::{Feed, Follow};
use crate::model::{Decimal, Level, Source, Symbol, TopOfBook};
use crate::stream;

/// A top-of-book stream's sending half, following one book.
pub struct TopFeed {
    source: Source,
    symbol: Symbol,
    tx: std::sync::Arc<stream::Sender<TopOfBook>>,
    state: Mutex<Sides>,
}

#[derive(Default)]
struct Sides {
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
    /// The last top sent, and whether the book was in sync then.
    sent: Option<(Option<Level>, Option<Level>, bool)>,
}

impl TopFeed {
    pub fn new(
        source: Source,
        symbol: Symbol,
        tx: std::sync::Arc<stream::Sender<TopOfBook>>,
    ) -> TopFeed {
        TopFeed {
            source,
            symbol,
            tx,
            state: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for TopFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopFeed")
            .field("symbol", &self.symbol)
            .finish_non_exhaustive()
    }
}

impl Follow for TopFeed {
    fn follow(&self, feed: Feed<'_>) -> bool {
        let mut sides = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for change in feed.changes {
            let (side, level) = match change {
                Change::Clear => {
                    sides.bids.clear();
                    sides.asks.clear();
                    continue;
                }
                Change::Bid(_, level) => (&mut sides.bids, level),
                Change::Ask(_, level) => (&mut sides.asks, level),
            };
            if level.qty.is_zero() {
                side.remove(&level.price);
            } else {
                side.insert(level.price, level.qty);
            }
        }
        let level = |(price, qty): (&Decimal, &Decimal)| Level {
            price: *price,
            qty: *qty,
        };
        let (bid, ask) = if feed.synced {
            (
                sides.bids.last_key_value().map(level),
                sides.asks.first_key_value().map(level),
            )
        } else {
            (None, None)
        };
        let now = (bid, ask, feed.synced);
        // A book not yet in sync has no top to report, not an empty one.
        let unsynced_at_start = sides.sent.is_none() && !feed.synced;
        if unsynced_at_start || sides.sent == Some(now) {
            return !self.tx.is_closed();
        }
        sides.sent = Some(now);
        self.tx
            .send(TopOfBook {
                source: self.source,
                symbol: self.symbol,
                bid,
                ask,
                update_id: feed.update_id.filter(|_| feed.synced),
                exchange_time_ms: feed.exchange_time_ms,
                local_time_ns: feed.local_time_ns,
            })
            .is_ok()
    }

    fn claims(&self) -> bool {
        !self.tx.is_closed()
    }

    fn fail(&self, error: &crate::Error) {
        self.tx.fail(error.clone());
    }
}
