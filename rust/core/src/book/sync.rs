//! Keeping a book in sync with a venue's stream: what every venue's rule shares. Each venue
//! implements [`SyncRule`] in `venue/<name>/book.rs`, exactly as the venue specifies
//! (PROTOCOLS.md 4.1–4.4). Any gap, out-of-order message, malformed level or crossed result
//! leaves the book unsynced and asks for a new snapshot; nothing is guessed. Levels off the
//! symbol's tick or step are the venue's real levels and are kept (`book/mod.rs`).
//!
//! The rule owns only what is its own (buffered messages, which chain rule applies); the book
//! and its last update id are [`SyncState`], read by the live book without asking the rule, so a
//! message costs one call into the rule and nothing more.

use crate::model::{Level, Symbol};

use super::{Book, LevelError};

/// What a message did to the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Seen already or older than the book: dropped.
    Ignored,
    /// Kept until a snapshot arrives.
    Buffered,
    /// The book is unsynced: it needs a snapshot (see [`Recovery`]).
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

/// One book message as a sync rule reads it: the levels it sets (quantity 0 removes one) and
/// the update ids that chain it to the messages before it. Each venue reads its own wire
/// message into this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookDelta {
    pub symbol: Symbol,
    /// It replaces the book rather than changing it.
    pub snapshot: bool,
    /// The first and the last update id it covers (equal when the venue gives one id).
    pub first_id: u64,
    pub last_id: u64,
    /// The last id of the message before it, where the venue says it.
    pub prev_last_id: Option<u64>,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    /// When the venue stamped it (Unix ms; 0: not stamped).
    pub exchange_time_ms: i64,
}

/// How a book that is not in sync gets a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Fetched by REST (the venue's snapshot request), then bridged by the buffered messages.
    Fetch,
    /// Subscribing the topic again: the venue answers with a snapshot on the stream.
    Resubscribe,
}

/// The furthest an update id may move from the last one applied, either way, in one message.
/// Real streams move by thousands a message; an id further ahead (`u` = 10^18, `u64::MAX`) or
/// further behind (a snapshot stamped `u64::MAX`) is impossible, and taken as a gap: the book
/// resyncs rather than ignoring every later message as old (a frozen book that says synced).
pub const MAX_ID_JUMP: u64 = 1_000_000_000;

/// The last id a book may be left at: one past it must still be an id.
pub const MAX_UPDATE_ID: u64 = u64::MAX - 1;

/// Why moving a book from update id `last` to `next` cannot be real, if it cannot.
pub fn absurd_jump(last: u64, next: u64) -> Option<String> {
    (last.abs_diff(next) > MAX_ID_JUMP || next > MAX_UPDATE_ID)
        .then(|| format!("absurd update id jump: from {last} to {next}"))
}

/// The book a rule keeps and the last update id applied (`None`: not in sync).
#[derive(Debug, Clone, Default)]
pub struct SyncState {
    pub book: Book,
    pub last_id: Option<u64>,
}

impl SyncState {
    pub fn is_synced(&self) -> bool {
        self.last_id.is_some()
    }

    /// Drops the book: it is out of sync for `reason`.
    pub fn unsync(&mut self, reason: String) -> Outcome {
        self.last_id = None;
        self.book.clear();
        Outcome::Resync(reason)
    }

    /// Drops the book: a message held a level that cannot be one.
    pub fn malformed(&mut self, e: &LevelError) -> Outcome {
        self.unsync(String::new());
        Outcome::Malformed(format!("malformed level: {e}"))
    }
}

/// A venue's rule for keeping a book in sync with its stream (`venue/<name>/book.rs`).
pub trait SyncRule: Send + 'static {
    /// How the book gets a snapshot when it is not in sync.
    fn recovery(&self) -> Recovery;
    /// A message of the book's stream.
    fn on_update(&mut self, state: &mut SyncState, update: &BookDelta) -> Outcome;
    /// A snapshot fetched by REST ([`Recovery::Fetch`] only).
    fn on_snapshot(&mut self, state: &mut SyncState, snapshot: &BookDelta) -> Outcome {
        let _ = (state, snapshot);
        Outcome::Ignored
    }
    /// Forgets everything of the stream so far (its state is cleared too): the next message
    /// starts over.
    fn restart(&mut self);
    /// Whether an unsynced book has something to sync from (messages buffered, a snapshot
    /// asked for), so that a periodic nudge asks again when its retry is due.
    fn waiting(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;

    #[test]
    fn an_absurd_id_jump_is_named_either_way() {
        assert_eq!(absurd_jump(100, 101), None);
        assert_eq!(absurd_jump(101, 100), None);
        assert_eq!(absurd_jump(0, MAX_ID_JUMP), None);
        assert!(absurd_jump(100, 1_000_000_000_000_000_000).is_some());
        assert!(absurd_jump(100, u64::MAX).is_some());
        assert!(absurd_jump(u64::MAX, 100).is_some());
        assert!(absurd_jump(u64::MAX - 5, u64::MAX).is_some());
    }
}
