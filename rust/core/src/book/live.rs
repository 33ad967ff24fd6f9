//! A book kept live from a venue's stream for its readers (`connector.book()` handles and
//! `book_updates()` streams): the venue's sync rule (a [`SyncRule`] from `venue/<name>/book.rs`)
//! plus what the connector needs to act on it — when to fetch a snapshot or ask the venue for a
//! fresh one, when sync was gained or lost — and consistent reads under one lock.
//!
//! A book that is not in sync shows nothing: no levels, no best bid, no mid. A reader can never
//! mistake a stale or half-rebuilt book for the venue's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::sync::{BookDelta, Outcome, Recovery, SyncRule, SyncState};
use super::{Book, Change, normalized};
use crate::model::{BookView, Level, Source, Symbol};
use crate::stream;

/// A book that resubscribed for a fresh snapshot and got none after this long asks again.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(5);

/// A book that cannot sync retries with exponential backoff. A failure is the book's own: a
/// snapshot that does not sync it, or a loss of sync by the venue's rules (gap, crossed,
/// malformed) within `STABLE_AFTER` of its last sync; a lost connection is not (the socket has
/// its own backoff). The first failure is retried at once, the next after `RETRY_FIRST`,
/// doubling up to `RETRY_CAP`, each delay drawn from its upper half so books that failed
/// together do not retry together. One symbol failing forever thus costs two REST snapshots a
/// minute at most; the connector caps what all waiting retries take together
/// (`connector/streams.rs`).
pub const RETRY_FIRST: Duration = Duration::from_millis(500);
pub const RETRY_CAP: Duration = Duration::from_secs(30);
/// A book in sync this long has recovered: a later loss of sync is retried at once.
pub const STABLE_AFTER: Duration = Duration::from_secs(30);

/// How long a book waits before its retry after `failures` failures in a row.
pub fn retry_delay(failures: u32) -> Duration {
    if failures <= 1 {
        return Duration::ZERO;
    }
    // The reconnect backoff's doubling; the delay drawn from its upper half, not from zero.
    let full = crate::resilience::Backoff::new(RETRY_FIRST, RETRY_CAP).ceiling(failures - 2);
    full / 2 + full.mul_f64(fastrand::f64() / 2.0)
}

/// A book's changes as they happen, for whoever follows it (a merged book, a diff stream).
#[derive(Debug)]
pub struct Feed<'a> {
    /// Whether the book is in sync; a book out of sync shows nothing.
    pub synced: bool,
    /// What changed since the last feed, oldest first.
    pub changes: &'a [Change],
    /// Why the book is out of sync, while it is.
    pub reason: Option<&'a str>,
    /// The book's last update id after these changes.
    pub update_id: Option<u64>,
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

/// Follows a [`LiveBook`]: called under the book's lock after every step, so a follower's
/// state never misses or reorders a change.
pub trait Follow: Send + Sync {
    /// Returns `false` once the follower has gone (it is then dropped).
    fn follow(&self, feed: Feed<'_>) -> bool;
    /// Whether the follower keeps the book in use (a reader's stream does; a merged book holds
    /// handles instead).
    fn claims(&self) -> bool {
        false
    }
    /// The connector failed: a follower with a reader tells it.
    fn fail(&self, _error: &crate::Error) {}
}

/// What the connector must do for a book after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Need {
    #[default]
    Nothing,
    /// Fetch a REST snapshot and hand it to [`LiveBook::on_snapshot`] with this ticket
    /// ([`Recovery::Fetch`]).
    Snapshot(u64),
    /// Unsubscribe and subscribe the topic again: the venue answers with a snapshot
    /// ([`Recovery::Resubscribe`]).
    Resubscribe,
}

/// A message's effect on a book.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// What readers can see changed: views are published.
    pub changed: bool,
    /// The book is in sync again (or for the first time).
    pub synced: bool,
    /// The book lost sync, or an attempt to sync it failed, and why.
    pub unsynced: Option<String>,
    pub need: Need,
    /// The book, in sync, has applied nothing for this long: it became stale.
    pub stale: Option<Duration>,
    /// A stale book applied an update again.
    pub fresh: bool,
}

/// Counters of one book, for `health()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookStats {
    /// Messages applied (snapshots included).
    pub applied: u64,
    /// Messages dropped as already seen or older than the book.
    pub ignored: u64,
    /// Times the book lost sync.
    pub resyncs: u64,
    /// Messages refused for a level that cannot be one (negative, too fine a price).
    pub malformed: u64,
    pub last_reason: Option<String>,
    /// Failures in a row (a snapshot that did not sync the book, or a loss of sync by the
    /// venue's rules soon after syncing); 0 once in sync for a while. From the second on, each
    /// retry waits.
    pub failures: u32,
    /// While out of sync: how long until the next attempt may start.
    pub retry_in: Option<Duration>,
    /// In sync, but nothing applied for longer than the connector's `book_stale_after`.
    pub stale: bool,
}

struct Inner {
    /// The book and its last update id.
    state: SyncState,
    /// The venue's rule: one call per message.
    rule: Box<dyn SyncRule>,
    exchange_time_ms: i64,
    local_time_ns: i64,
    /// The connection its stream last came from (its loss unsyncs the book).
    shard: Option<usize>,
    /// The ticket of the snapshot fetch under way (at most one per book; a result
    /// with another ticket is stale and dropped).
    fetching: Option<u64>,
    tickets: u64,
    /// When a fresh snapshot was last asked for by resubscribing, while unsynced (a new
    /// subscription asks too: the venue answers it with a snapshot).
    asked_at: Option<Instant>,
    /// No new attempt to sync before this (backoff after failures).
    retry_at: Option<Instant>,
    synced_at: Option<Instant>,
    updated_at: Option<Instant>,
    /// Declared stale (told once; cleared by the next update applied or a loss of sync).
    stale: bool,
    stats: BookStats,
    followers: Vec<Arc<dyn Follow>>,
    /// Reused between feeds.
    changes: Vec<Change>,
}

/// One venue book shared by every reader of its topic.
pub struct LiveBook {
    pub source: Source,
    pub symbol: Symbol,
    /// The stream or topic it is kept from.
    pub topic: String,
    /// Levels a side it keeps (the rule keeps it so).
    pub depth: usize,
    inner: Mutex<Inner>,
    views: Mutex<Vec<(Arc<stream::Sender<ViewTicket>>, usize)>>,
    /// Handles held by callers; with no handle and no view stream the book is dropped.
    holders: AtomicUsize,
    synced: watch::Sender<bool>,
}

impl std::fmt::Debug for LiveBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveBook")
            .field("topic", &self.topic)
            .field("synced", &self.is_synced())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LiveBook {
    /// A book of `topic` kept by `rule`, to `depth` levels a side.
    pub fn new(
        source: Source,
        symbol: Symbol,
        topic: String,
        depth: usize,
        rule: Box<dyn SyncRule>,
    ) -> Self {
        LiveBook {
            source,
            symbol,
            topic,
            depth,
            inner: Mutex::new(Inner {
                state: SyncState::default(),
                rule,
                exchange_time_ms: 0,
                local_time_ns: 0,
                shard: None,
                fetching: None,
                tickets: 0,
                asked_at: Some(Instant::now()),
                retry_at: None,
                synced_at: None,
                updated_at: None,
                stale: false,
                stats: BookStats::default(),
                followers: Vec::new(),
                changes: Vec::new(),
            }),
            views: Mutex::new(Vec::new()),
            holders: AtomicUsize::new(0),
            synced: watch::channel(false).0,
        }
    }

    /// Turns a sync outcome into a step, with the bookkeeping every venue shares.
    fn settle(&self, inner: &mut Inner, was_synced: bool, outcome: Outcome) -> Step {
        self.settle_as(inner, was_synced, outcome, true)
    }

    /// [`LiveBook::settle`]; `failure`: whether a loss of sync is the book's own failure.
    fn settle_as(
        &self,
        inner: &mut Inner,
        was_synced: bool,
        outcome: Outcome,
        failure: bool,
    ) -> Step {
        let mut step = Step::default();
        let was_malformed = matches!(outcome, Outcome::Malformed(_));
        match outcome {
            Outcome::Applied => {
                inner.stats.applied += 1;
                inner.updated_at = Some(Instant::now());
                step.changed = true;
                step.fresh = std::mem::take(&mut inner.stale);
            }
            Outcome::Ignored => inner.stats.ignored += 1,
            Outcome::Buffered => {}
            Outcome::Resync(reason) | Outcome::Malformed(reason) => {
                if was_malformed {
                    inner.stats.malformed += 1;
                }
                let now = Instant::now();
                let recovered = inner
                    .synced_at
                    .is_some_and(|at| was_synced && now.duration_since(at) >= STABLE_AFTER);
                if recovered {
                    inner.stats.failures = 0;
                }
                if failure {
                    inner.stats.failures = inner.stats.failures.saturating_add(1);
                }
                inner.retry_at = Some(now + retry_delay(inner.stats.failures));
                if was_synced {
                    inner.stats.resyncs += 1;
                    step.changed = true;
                }
                // Every failure is told (with backoff they are few): a loss of sync, and a
                // failed attempt to sync again.
                step.unsynced = Some(reason.clone());
                inner.stats.last_reason = Some(reason);
            }
        }
        let synced = inner.state.is_synced();
        if synced && !was_synced {
            step.synced = true;
            inner.asked_at = None;
            inner.synced_at = Some(Instant::now());
        }
        if synced != was_synced {
            self.synced.send_replace(synced);
        }
        if !synced {
            // Out of sync says more than stale.
            inner.stale = false;
            step.need = self.needed(inner);
        }
        Self::feed(inner);
        step
    }

    /// Hands the changes since the last step to the followers.
    fn feed(inner: &mut Inner) {
        if inner.followers.is_empty() {
            return;
        }
        let book = &mut inner.state.book;
        // A state replaced after a loss of sync starts without a journal.
        book.record(true);
        book.take_changes(&mut inner.changes);
        let synced = inner.state.is_synced();
        let reason = inner.stats.last_reason.as_deref().filter(|_| !synced);
        let changes = &inner.changes;
        let (update_id, exchange_time_ms, local_time_ns) = (
            inner.state.last_id,
            inner.exchange_time_ms,
            inner.local_time_ns,
        );
        inner.followers.retain(|f| {
            f.follow(Feed {
                synced,
                changes,
                reason,
                update_id,
                exchange_time_ms,
                local_time_ns,
            })
        });
        inner.changes.clear();
        if inner.followers.is_empty() {
            inner.state.book.record(false);
        }
    }

    /// Adds a follower: it is fed the whole book now (a `Clear` and every level, if in sync)
    /// and every change after, under the book's lock.
    pub fn add_follower(&self, follower: Arc<dyn Follow>) {
        let mut inner = lock(&self.inner);
        let synced = inner.state.is_synced();
        let book = &mut inner.state.book;
        book.record(true);
        let mut discarded = Vec::new();
        book.take_changes(&mut discarded);
        let changes = if synced {
            book.as_changes()
        } else {
            vec![Change::Clear]
        };
        let reason = inner.stats.last_reason.as_deref().filter(|_| !synced);
        let keep = follower.follow(Feed {
            synced,
            changes: &changes,
            reason,
            update_id: inner.state.last_id,
            exchange_time_ms: inner.exchange_time_ms,
            local_time_ns: inner.local_time_ns,
        });
        if keep {
            inner.followers.push(follower);
        } else if inner.followers.is_empty() {
            inner.state.book.record(false);
        }
    }

    /// What an unsynced book needs, claimed so it is asked for once; nothing while its retry
    /// is not due.
    fn needed(&self, inner: &mut Inner) -> Need {
        if inner.retry_at.is_some_and(|at| Instant::now() < at) {
            return Need::Nothing;
        }
        match inner.rule.recovery() {
            Recovery::Fetch if inner.fetching.is_none() => {
                inner.tickets += 1;
                inner.fetching = Some(inner.tickets);
                Need::Snapshot(inner.tickets)
            }
            Recovery::Resubscribe
                if inner
                    .asked_at
                    .is_none_or(|at| at.elapsed() >= RESUBSCRIBE_AFTER) =>
            {
                inner.asked_at = Some(Instant::now());
                Need::Resubscribe
            }
            _ => Need::Nothing,
        }
    }

    /// A message of the book's stream.
    pub fn on_update(&self, update: &BookDelta, shard: usize, local_time_ns: i64) -> Step {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        let was_synced = inner.state.is_synced();
        let outcome = inner.rule.on_update(&mut inner.state, update);
        if matches!(outcome, Outcome::Applied | Outcome::Buffered) {
            inner.shard = Some(shard);
            inner.exchange_time_ms = update.exchange_time_ms;
            inner.local_time_ns = local_time_ns;
        }
        self.settle(inner, was_synced, outcome)
    }

    /// A REST snapshot fetched after [`Need::Snapshot`] with `ticket`. If it is older
    /// than the diffs buffered meanwhile, the step asks for another; a snapshot nobody waits for
    /// any more (the book was reset meanwhile) is dropped.
    pub fn on_snapshot(&self, ticket: u64, snapshot: &BookDelta, local_time_ns: i64) -> Step {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        if inner.fetching != Some(ticket) {
            return Step::default();
        }
        let was_synced = inner.state.is_synced();
        inner.fetching = None;
        let outcome = inner.rule.on_snapshot(&mut inner.state, snapshot);
        if outcome == Outcome::Applied {
            // 0 when the venue does not stamp its snapshots.
            inner.exchange_time_ms = inner.exchange_time_ms.max(snapshot.exchange_time_ms);
            inner.local_time_ns = local_time_ns;
        }
        self.settle(inner, was_synced, outcome)
    }

    /// Whether the fetch with `ticket` is still wanted.
    pub fn wants(&self, ticket: u64) -> bool {
        lock(&self.inner).fetching == Some(ticket)
    }

    /// The fetch with `ticket` failed: the next message asks again.
    pub fn snapshot_failed(&self, ticket: u64) {
        let mut inner = lock(&self.inner);
        if inner.fetching == Some(ticket) {
            inner.fetching = None;
        }
    }

    /// A book out of sync whose retry is due asks again: a book that resubscribed for a
    /// snapshot and got none (a quiet topic sends no delta that would ask), a book whose stream
    /// delivers but whose backoff held its snapshot fetch back; called periodically.
    ///
    /// A book in sync that has applied nothing for `stale_after` becomes stale (told once): a
    /// liquid symbol's stream that goes quiet has most likely lost its subscription at the
    /// venue, while a quiet symbol's is merely idle, so it is a flag, not a loss of sync.
    pub fn nudge(&self, stale_after: Option<Duration>) -> Step {
        let mut inner = lock(&self.inner);
        if inner.state.is_synced() {
            let idle = inner
                .updated_at
                .max(inner.synced_at)
                .map(|at| at.elapsed())
                .unwrap_or_default();
            if !inner.stale && stale_after.is_some_and(|after| idle >= after) {
                inner.stale = true;
                return Step {
                    stale: Some(idle),
                    ..Step::default()
                };
            }
            return Step::default();
        }
        if !inner.rule.waiting() {
            return Step::default();
        }
        Step {
            need: self.needed(&mut inner),
            ..Step::default()
        }
    }

    /// Connection `shard` was lost: a book fed by it can no longer be trusted.
    pub fn on_disconnect(&self, shard: usize) -> Step {
        let mut inner = lock(&self.inner);
        if inner.shard != Some(shard) {
            return Step::default();
        }
        inner.shard = None;
        self.unsync_locked(&mut inner, "its connection was lost".into())
    }

    /// Marks the book unsynced (the connector closed, or its data is in doubt).
    pub fn unsync(&self, reason: &str) -> Step {
        let mut inner = lock(&self.inner);
        self.unsync_locked(&mut inner, reason.to_owned())
    }

    fn unsync_locked(&self, inner: &mut Inner, reason: String) -> Step {
        let was_synced = inner.state.is_synced();
        // A fresh start: nothing of the old stream (buffer, last id) survives.
        inner.state = SyncState::default();
        inner.rule.restart();
        // Resubscribing rules: the connection's resubscription brings the snapshot, so the book
        // waits for it before asking on its own.
        inner.asked_at = Some(Instant::now());
        // A fetch under way would bring a snapshot older than what comes next: dropped.
        inner.fetching = None;
        let mut step = self.settle_as(inner, was_synced, Outcome::Resync(reason), false);
        // A fetching rule asks for its snapshot once the stream delivers again (the snapshot must not
        // be older than the first diff kept).
        if let Need::Snapshot(_) = step.need {
            inner.fetching = None;
            step.need = Need::Nothing;
        }
        step
    }

    pub fn is_synced(&self) -> bool {
        lock(&self.inner).state.is_synced()
    }

    /// In sync, but idle past the connector's `book_stale_after` ([`LiveBook::nudge`]).
    pub fn is_stale(&self) -> bool {
        lock(&self.inner).stale
    }

    pub fn update_id(&self) -> Option<u64> {
        let inner = lock(&self.inner);
        inner.state.last_id
    }

    pub fn exchange_time_ms(&self) -> i64 {
        lock(&self.inner).exchange_time_ms
    }

    /// Reads the book under its lock; `None` while it is not in sync.
    pub fn read<R>(&self, f: impl FnOnce(&Book) -> R) -> Option<R> {
        let inner = lock(&self.inner);
        inner.state.is_synced().then(|| f(&inner.state.book))
    }

    pub fn best_bid(&self) -> Option<Level> {
        self.read(Book::best_bid).flatten()
    }

    pub fn best_ask(&self) -> Option<Level> {
        self.read(Book::best_ask).flatten()
    }

    /// The book's best `depth` levels a side, consistent with one update id.
    pub fn view(&self, depth: usize) -> BookView {
        // Levels are copied as written under the lock (the stream's writer waits on it) and
        // normalized after it.
        let (mut bids, mut asks) = (Vec::new(), Vec::new());
        let inner = lock(&self.inner);
        let synced = inner.state.is_synced();
        let book = &inner.state.book;
        if synced {
            bids.extend(book.bid_levels(depth).copied());
            asks.extend(book.ask_levels(depth).copied());
        }
        let update_id = inner.state.last_id.filter(|_| synced);
        let (exchange_time_ms, local_time_ns) = (inner.exchange_time_ms, inner.local_time_ns);
        drop(inner);
        let levels = |mut side: Vec<Level>| {
            for level in &mut side {
                *level = normalized(level);
            }
            side
        };
        BookView {
            source: self.source,
            symbol: self.symbol,
            synced,
            update_id,
            bids: levels(bids),
            asks: levels(asks),
            exchange_time_ms,
            local_time_ns,
        }
    }

    pub fn stats(&self) -> BookStats {
        let inner = lock(&self.inner);
        let mut stats = inner.stats.clone();
        stats.stale = inner.stale;
        if !inner.state.is_synced() {
            stats.retry_in = Some(inner.retry_at.map_or(Duration::ZERO, |at| {
                at.saturating_duration_since(Instant::now())
            }));
        }
        stats
    }

    /// How long since the book last changed (`None`: never).
    pub fn age(&self) -> Option<Duration> {
        lock(&self.inner).updated_at.map(|at| at.elapsed())
    }

    /// Adds a conflated view stream of the best `depth` levels; it gets the current view first.
    /// Ends every view stream of this book with `error` (its connector failed).
    pub fn fail_readers(&self, error: &crate::Error) {
        for (tx, _) in lock(&self.views).iter() {
            tx.fail(error.clone());
        }
        for follower in &lock(&self.inner).followers {
            follower.fail(error);
        }
    }

    pub fn add_view_reader(self: &Arc<Self>, tx: Arc<stream::Sender<ViewTicket>>, depth: usize) {
        let _ = tx.send(ViewTicket::new(self, depth));
        lock(&self.views).push((tx, depth));
    }

    /// Tells every view stream the book changed; closed streams are dropped. The view itself
    /// is built when the reader takes it ([`ViewTicket::view`]): a reader that falls behind
    /// costs nothing for the views conflation would have thrown away.
    pub fn publish(self: &Arc<Self>) {
        let mut views = lock(&self.views);
        views.retain(|(tx, depth)| tx.send(ViewTicket::new(self, *depth)).is_ok());
    }

    /// A caller's handle on the book (counted: the book lives while a handle or stream does).
    pub fn handle(self: &Arc<Self>) -> BookHandle {
        self.holders.fetch_add(1, Ordering::AcqRel);
        BookHandle { book: self.clone() }
    }

    /// Whether anyone still reads the book.
    pub fn in_use(&self) -> bool {
        self.holders.load(Ordering::Acquire) > 0
            || lock(&self.views).iter().any(|(tx, _)| !tx.is_closed())
            || lock(&self.inner).followers.iter().any(|f| f.claims())
    }

    /// Waits until the book is in sync.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|synced| *synced).await;
    }
}

/// "The book changed" on a view stream: the view of the best `depth` levels, taken when the
/// reader asks for it, so it is the book's latest state, consistent with one update id. It does
/// not keep the book alive: a book gone by then (its connector closed) reads as not in sync.
#[derive(Clone, Debug)]
pub struct ViewTicket {
    book: Weak<LiveBook>,
    pub source: Source,
    pub symbol: Symbol,
    pub depth: usize,
}

impl ViewTicket {
    /// What a conflating stream of views keys on: the symbol (interned: one address a name).
    pub fn key(&self) -> u64 {
        self.symbol.as_str().as_ptr() as u64
    }

    fn new(book: &Arc<LiveBook>, depth: usize) -> ViewTicket {
        ViewTicket {
            book: Arc::downgrade(book),
            source: book.source,
            symbol: book.symbol,
            depth,
        }
    }

    pub fn view(&self) -> BookView {
        match self.book.upgrade() {
            Some(book) => book.view(self.depth),
            None => BookView {
                source: self.source,
                symbol: self.symbol,
                synced: false,
                update_id: None,
                bids: Vec::new(),
                asks: Vec::new(),
                exchange_time_ms: 0,
                local_time_ns: 0,
            },
        }
    }
}

/// A caller's hold on a [`LiveBook`]; dropping the last one (with no view stream left) ends
/// the book's subscription.
#[derive(Debug)]
pub struct BookHandle {
    pub book: Arc<LiveBook>,
}

impl Drop for BookHandle {
    fn drop(&mut self) {
        self.book.holders.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Market, Venue};
    use crate::venue::binance::book as rule;
    use rust_decimal::Decimal;

    fn level(price: i64, qty: i64) -> Level {
        Level {
            price: Decimal::from(price),
            qty: Decimal::from(qty),
        }
    }

    fn book() -> LiveBook {
        let source = Source {
            venue: Venue::Binance,
            market: Market::Spot,
        };
        LiveBook::new(
            source,
            Symbol::new("BTCUSDT"),
            "btcusdt@depth@100ms".into(),
            rule::KEEP,
            Box::new(rule::BinanceSync::new(rule::Chain::Spot)),
        )
    }

    fn diff(first: u64, last: u64) -> BookDelta {
        BookDelta {
            symbol: Symbol::new("BTCUSDT"),
            snapshot: false,
            first_id: first,
            last_id: last,
            prev_last_id: None,
            bids: vec![level(100, 1)],
            asks: vec![],
            exchange_time_ms: 0,
        }
    }

    fn snapshot(id: u64) -> BookDelta {
        BookDelta {
            symbol: Symbol::new("BTCUSDT"),
            snapshot: true,
            first_id: id,
            last_id: id,
            prev_last_id: None,
            bids: vec![level(99, 1)],
            asks: vec![level(101, 1)],
            exchange_time_ms: 0,
        }
    }

    /// A book that fails to sync waits longer before each retry, and is retried at once after
    /// it has stayed in sync a while.
    #[tokio::test(start_paused = true)]
    async fn a_book_that_cannot_sync_backs_off() {
        let book = book();
        let Need::Snapshot(t1) = book.on_update(&diff(10, 12), 0, 0).need else {
            panic!("the first diff asks for a snapshot");
        };
        // Older than the buffered diff: a failed attempt, retried at once.
        let Need::Snapshot(t2) = book.on_snapshot(t1, &snapshot(5), 0).need else {
            panic!("the first retry is at once");
        };
        assert_eq!(book.stats().failures, 1);
        // The second failure waits.
        let step = book.on_snapshot(t2, &snapshot(6), 0);
        assert_eq!(step.need, Need::Nothing, "the retry waits");
        let stats = book.stats();
        assert_eq!(stats.failures, 2);
        let wait = stats.retry_in.unwrap();
        assert!(wait >= RETRY_FIRST / 2 && wait <= RETRY_FIRST, "{wait:?}");
        assert_eq!(book.on_update(&diff(13, 13), 0, 0).need, Need::Nothing);
        tokio::time::advance(wait).await;
        let Need::Snapshot(t3) = book.on_update(&diff(14, 14), 0, 0).need else {
            panic!("due: the next diff asks again");
        };
        assert!(book.on_snapshot(t3, &snapshot(11), 0).synced);
        // A gap right after syncing is another failure: a longer wait.
        let step = book.on_update(&diff(20, 20), 0, 0);
        assert!(step.unsynced.is_some());
        let stats = book.stats();
        assert_eq!(stats.failures, 3);
        assert!(stats.retry_in.unwrap() >= RETRY_FIRST);
        tokio::time::advance(RETRY_CAP).await;
        let Need::Snapshot(t4) = book.on_update(&diff(21, 21), 0, 0).need else {
            panic!("due again");
        };
        assert!(book.on_snapshot(t4, &snapshot(20), 0).synced);
        // In sync long enough: the next loss of sync is a first failure, retried at once.
        tokio::time::advance(STABLE_AFTER).await;
        let step = book.on_update(&diff(30, 30), 0, 0);
        assert!(step.unsynced.is_some());
        assert!(matches!(step.need, Need::Snapshot(_)));
        assert_eq!(book.stats().failures, 1);
        // A lost connection is not the book's failure.
        let step = book.on_disconnect(0);
        assert_eq!(book.stats().failures, 1, "{step:?}");
        // The delays grow to the cap and stay within it.
        assert!(retry_delay(4) >= RETRY_FIRST * 2);
        assert!((1..40).all(|k| retry_delay(k) <= RETRY_CAP));
        assert!(retry_delay(40) >= RETRY_CAP / 2);
    }

    /// A synced book idle for `stale_after` is told stale once, stays in sync, and is fresh at
    /// its next update; an unsynced book is never stale.
    #[tokio::test(start_paused = true)]
    async fn an_idle_book_is_stale_once_and_fresh_at_its_next_update() {
        let after = Some(Duration::from_secs(60));
        let book = book();
        let Need::Snapshot(t) = book.on_update(&diff(10, 12), 0, 0).need else {
            panic!("the first diff asks for a snapshot");
        };
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(book.nudge(after).stale, None, "not in sync: not stale");
        assert!(book.on_snapshot(t, &snapshot(11), 0).synced);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(book.nudge(after), Step::default());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(book.nudge(after).stale, Some(Duration::from_secs(60)));
        assert!(book.is_stale() && book.stats().stale && book.is_synced());
        assert_eq!(book.nudge(after), Step::default(), "told once");
        assert_eq!(book.nudge(None), Step::default());
        let step = book.on_update(&diff(13, 13), 0, 0);
        assert!(step.fresh && step.changed);
        assert!(!book.is_stale());
        assert!(!book.on_update(&diff(14, 14), 0, 0).fresh, "fresh once");
        // A stale book that loses sync is out of sync, no longer stale.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(book.nudge(after).stale.is_some());
        book.on_disconnect(0);
        assert!(!book.is_stale() && !book.stats().stale);
    }
}
