//! Bounded event queues between Rust producers and one consumer (a Python async iterator).
//!
//! The consumer drains in batches and parks only on an empty queue; the producer calls the
//! parked consumer's waker once, on the empty → non-empty transition. Three overflow policies:
//! - [`Overflow::Conflate`]: keep the latest event per key (books): memory bounded by keys.
//! - [`Overflow::GapMarker`]: drop what does not fit and deliver [`Item::Gap`] with the count
//!   exactly where the hole is (trades, tickers).
//! - [`Overflow::NeverDrop`]: a large buffer; overflowing it ends the stream with
//!   [`Error::SlowConsumer`] — loud, never silent (order events).
//!
//! A FIFO stream of events whose size varies (raw frames, order updates) is bounded in bytes
//! too ([`weighed`]): the same policy applies when the events waiting would exceed the budget,
//! so a slow reader of megabyte frames holds megabytes, not gigabytes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;
use tokio::sync::Notify;

use crate::error::Error;

/// What to do when the consumer falls behind by `capacity` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Conflate,
    GapMarker,
    NeverDrop,
}

/// One delivery to the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<T> {
    Event(T),
    /// `missed` events were dropped here because the consumer was too slow.
    Gap {
        missed: u64,
    },
}

/// Bytes an event holds, its own size and what it owns on the heap, for streams bounded in
/// bytes ([`weighed`]).
pub trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for String {
    fn weight(&self) -> usize {
        std::mem::size_of::<String>().saturating_add(self.capacity())
    }
}

/// Called once to wake a parked consumer. Must not block and must not call back into the queue.
pub type Waker = Box<dyn FnOnce() + Send>;

/// Why a send did not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The consumer is gone (loop exited, `aclose()`, dropped) or the stream was closed.
    #[error("stream closed")]
    Closed,
    /// A never-drop stream overflowed; it is now closed with [`Error::SlowConsumer`].
    #[error("slow consumer")]
    SlowConsumer,
}

/// Counters a producer or a health snapshot may read.
#[derive(Debug, Default)]
pub struct StreamStats {
    pub delivered: AtomicU64,
    pub dropped: AtomicU64,
    pub conflated: AtomicU64,
    /// Events the consumer has taken out.
    pub taken: AtomicU64,
    /// Events the consumer came back after: `taken` as it was when it last asked for more.
    /// A consumer that takes one at a time is done with all of these (a durable reader acks
    /// them).
    pub finished: AtomicU64,
}

enum Buffer<T> {
    Fifo(VecDeque<Item<T>>),
    Conflated {
        latest: IndexMap<u64, T, foldhash::fast::RandomState>,
        key: fn(&T) -> u64,
    },
}

struct State<T> {
    buffer: Buffer<T>,
    /// Events dropped since the last delivered one (gap-marker policy).
    pending_gap: u64,
    /// Set by the producer (or by overflow): `Some(None)` clean end, `Some(Some(e))` failure.
    end: Option<Option<Error>>,
    waiter: Option<Waker>,
    consumer_gone: bool,
}

impl<T> State<T> {
    fn is_empty(&self) -> bool {
        self.pending_gap == 0
            && match &self.buffer {
                Buffer::Fifo(q) => q.is_empty(),
                Buffer::Conflated { latest, .. } => latest.is_empty(),
            }
    }
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Deliveries the consumer has taken out of `state` but not yet handed on: they still
    /// count against `capacity`, so the bound holds end to end.
    in_hand: AtomicUsize,
    capacity: usize,
    overflow: Overflow,
    /// The byte budget of a weighed stream: what waits (shared buffer and in hand) stays
    /// within it, except one event alone, which always fits.
    max_bytes: usize,
    weigh: Option<fn(&T) -> usize>,
    /// Bytes of the events waiting (weighed streams only).
    bytes: AtomicUsize,
    consumer_gone: Notify,
    stats: StreamStats,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock cannot leave the queue half-updated in a way that
        // matters more than losing the stream, so recover the guard rather than propagate.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Producer half. Dropping it ends the stream cleanly.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Consumer half. Dropping it tells the producer the consumer is gone.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// FIFO deliveries swapped out of the shared buffer in O(1), handed out from here without
    /// holding the producer's lock. Only the consumer touches it.
    local: Mutex<VecDeque<Item<T>>>,
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("overflow", &self.shared.overflow)
            .finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("overflow", &self.shared.overflow)
            .finish_non_exhaustive()
    }
}

fn new_pair<T>(capacity: usize, overflow: Overflow, buffer: Buffer<T>) -> (Sender<T>, Receiver<T>) {
    pair_within(capacity, usize::MAX, None, overflow, buffer)
}

fn pair_within<T>(
    capacity: usize,
    max_bytes: usize,
    weigh: Option<fn(&T) -> usize>,
    overflow: Overflow,
    buffer: Buffer<T>,
) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            buffer,
            pending_gap: 0,
            end: None,
            waiter: None,
            consumer_gone: false,
        }),
        in_hand: AtomicUsize::new(0),
        capacity: capacity.max(1),
        overflow,
        max_bytes,
        weigh,
        bytes: AtomicUsize::new(0),
        consumer_gone: Notify::new(),
        stats: StreamStats::default(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver {
            shared,
            local: Mutex::new(VecDeque::new()),
        },
    )
}

/// A FIFO stream with the gap-marker or never-drop policy.
///
/// # Panics
/// On `Overflow::Conflate`, which needs a key: use [`conflating`].
pub fn channel<T>(capacity: usize, overflow: Overflow) -> (Sender<T>, Receiver<T>) {
    assert!(
        overflow != Overflow::Conflate,
        "conflating streams need a key: use stream::conflating"
    );
    new_pair(
        capacity,
        overflow,
        Buffer::Fifo(VecDeque::with_capacity(capacity.min(4096))),
    )
}

/// A FIFO stream (gap-marker or never-drop) bounded by `capacity` events and by `max_bytes`
/// of events waiting, whichever is reached first.
///
/// # Panics
/// On `Overflow::Conflate`.
pub fn weighed<T: Weigh>(
    capacity: usize,
    max_bytes: usize,
    overflow: Overflow,
) -> (Sender<T>, Receiver<T>) {
    assert!(
        overflow != Overflow::Conflate,
        "a conflating stream is bounded by its keys"
    );
    pair_within(
        capacity,
        max_bytes,
        Some(T::weight),
        overflow,
        Buffer::Fifo(VecDeque::with_capacity(capacity.min(4096))),
    )
}

/// A stream that keeps only the latest event per `key(event)`, in first-arrival order of keys.
/// `capacity` bounds the number of distinct keys waiting.
pub fn conflating<T>(capacity: usize, key: fn(&T) -> u64) -> (Sender<T>, Receiver<T>) {
    new_pair(
        capacity,
        Overflow::Conflate,
        Buffer::Conflated {
            latest: IndexMap::default(),
            key,
        },
    )
}

impl<T> Sender<T> {
    /// Delivers one event, or applies the overflow policy. Never blocks on the consumer.
    pub fn send(&self, event: T) -> Result<(), SendError> {
        self.send_batch(std::iter::once(event))
    }

    /// Delivers several events under one lock and at most one wake-up.
    pub fn send_batch(&self, events: impl IntoIterator<Item = T>) -> Result<(), SendError> {
        // Build the events before taking the lock, so the consumer never waits on our work.
        let events: Vec<T> = events.into_iter().collect();
        let shared = &*self.shared;
        let mut state = shared.lock();
        if state.consumer_gone || state.end.is_some() {
            return Err(SendError::Closed);
        }
        let mut overflowed = false;
        let mut delivered = 0u64;
        let in_hand = shared.in_hand.load(Ordering::Acquire);
        for event in events {
            let State {
                buffer,
                pending_gap,
                ..
            } = &mut *state;
            match buffer {
                Buffer::Conflated { latest, key } => {
                    let k = key(&event);
                    let held = latest.len();
                    match latest.entry(k) {
                        indexmap::map::Entry::Occupied(mut slot) => {
                            slot.insert(event);
                            shared.stats.conflated.fetch_add(1, Ordering::Relaxed);
                        }
                        indexmap::map::Entry::Vacant(slot) if held < shared.capacity => {
                            slot.insert(event);
                            delivered += 1;
                        }
                        indexmap::map::Entry::Vacant(_) => {
                            overflowed = true;
                            break;
                        }
                    }
                }
                Buffer::Fifo(queue) => {
                    let held = queue.len() + in_hand;
                    let weight = shared.weigh.map_or(0, |weigh| weigh(&event));
                    let fits = weight == 0 || held == 0 || {
                        let bytes = shared.bytes.load(Ordering::Acquire);
                        bytes.saturating_add(weight) <= shared.max_bytes
                    };
                    if held < shared.capacity && fits {
                        if *pending_gap > 0 {
                            queue.push_back(Item::Gap {
                                missed: std::mem::take(pending_gap),
                            });
                        }
                        queue.push_back(Item::Event(event));
                        shared.bytes.fetch_add(weight, Ordering::AcqRel);
                        delivered += 1;
                    } else if shared.overflow == Overflow::GapMarker {
                        *pending_gap += 1;
                        shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    } else {
                        overflowed = true;
                        break;
                    }
                }
            }
        }
        shared
            .stats
            .delivered
            .fetch_add(delivered, Ordering::Relaxed);
        let result = if overflowed {
            state.end = Some(Some(Error::SlowConsumer {
                capacity: shared.capacity,
                max_bytes: shared.weigh.map(|_| shared.max_bytes),
            }));
            Err(SendError::SlowConsumer)
        } else {
            Ok(())
        };
        let waiter = state.waiter.take();
        drop(state);
        if let Some(wake) = waiter {
            wake();
        }
        result
    }

    /// Records `missed` events lost before this stream (upstream, on a bus): the consumer
    /// gets one gap marker for them before the next event. Only a gap-marking stream has
    /// markers; on others this does nothing.
    pub fn mark_gap(&self, missed: u64) {
        if self.shared.overflow != Overflow::GapMarker || missed == 0 {
            return;
        }
        let mut state = self.shared.lock();
        state.pending_gap = state.pending_gap.saturating_add(missed);
        self.shared
            .stats
            .dropped
            .fetch_add(missed, Ordering::Relaxed);
    }

    /// Ends the stream: the consumer receives what is buffered, then the end (or `error`).
    pub fn close(self, error: Option<Error>) {
        self.finish(error);
    }

    /// Ends a shared stream with `error`: the consumer receives what is buffered, then it.
    pub fn fail(&self, error: Error) {
        self.finish(Some(error));
    }

    fn finish(&self, error: Option<Error>) {
        let mut state = self.shared.lock();
        if state.end.is_none() {
            state.end = Some(error);
        }
        let waiter = state.waiter.take();
        drop(state);
        if let Some(wake) = waiter {
            wake();
        }
    }

    /// True once the consumer went away or the stream ended; the producer should stop.
    pub fn is_closed(&self) -> bool {
        let state = self.shared.lock();
        state.consumer_gone || state.end.is_some()
    }

    /// Resolves when the consumer goes away.
    pub async fn consumer_gone(&self) {
        loop {
            let notified = self.shared.consumer_gone.notified();
            if self.shared.lock().consumer_gone {
                return;
            }
            notified.await;
        }
    }

    pub fn stats(&self) -> &StreamStats {
        &self.shared.stats
    }

    /// Deliveries waiting for the consumer.
    pub fn backlog(&self) -> usize {
        match &self.shared.lock().buffer {
            Buffer::Fifo(queue) => queue.len(),
            Buffer::Conflated { latest, .. } => latest.len(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.finish(None);
    }
}

/// What a drain found after taking the available items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drained {
    /// More may come.
    Open,
    /// Nothing more will come: `None` for a clean end, else the failure to raise.
    Ended(Option<Error>),
}

impl<T> Receiver<T> {
    /// Moves up to `max` deliveries into `out`. Reports the end only when nothing is left.
    pub fn drain_into(&self, max: usize, out: &mut Vec<Item<T>>) -> Drained {
        let stats = &self.shared.stats;
        stats
            .finished
            .store(stats.taken.load(Ordering::Relaxed), Ordering::Release);
        let before = out.len();
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.shared.lock();
        if state.consumer_gone {
            return Drained::Ended(None);
        }
        let State {
            buffer,
            pending_gap,
            ..
        } = &mut *state;
        match buffer {
            Buffer::Fifo(queue) => {
                if local.is_empty() {
                    // O(1) under the lock; the producer keeps pushing into our old, empty buffer.
                    std::mem::swap(&mut *local, queue);
                    if *pending_gap > 0 {
                        local.push_back(Item::Gap {
                            missed: std::mem::take(pending_gap),
                        });
                    }
                    self.shared.in_hand.store(local.len(), Ordering::Release);
                }
            }
            Buffer::Conflated { latest, .. } => {
                // Conflated events stay in the shared map until taken, so newer ones replace them.
                let n = latest.len().min(max);
                out.extend(latest.drain(..n).map(|(_, event)| Item::Event(event)));
            }
        }
        let ended = if state.is_empty() && local.len() <= max {
            state.end.clone()
        } else {
            None
        };
        drop(state);
        let n = local.len().min(max);
        match self.shared.weigh {
            Some(weigh) => {
                let mut freed = 0usize;
                for item in local.drain(..n) {
                    if let Item::Event(event) = &item {
                        freed = freed.saturating_add(weigh(event));
                    }
                    out.push(item);
                }
                self.shared.bytes.fetch_sub(freed, Ordering::AcqRel);
            }
            None => out.extend(local.drain(..n)),
        }
        self.shared.in_hand.store(local.len(), Ordering::Release);
        let events = out[before..]
            .iter()
            .filter(|item| matches!(item, Item::Event(_)))
            .count();
        stats.taken.fetch_add(events as u64, Ordering::Release);
        match ended {
            Some(end) => Drained::Ended(end),
            None => Drained::Open,
        }
    }

    /// Waits until something can be taken, then moves up to `max` deliveries into `out`: for a
    /// consumer in Rust (the gateway publishing a stream). Reports the end only when nothing
    /// is left.
    pub async fn next_batch(&self, max: usize, out: &mut Vec<Item<T>>) -> Drained {
        loop {
            let drained = self.drain_into(max, out);
            if !out.is_empty() || matches!(drained, Drained::Ended(_)) {
                return drained;
            }
            let ready = Arc::new(Notify::new());
            let wake = ready.clone();
            // `notify_one` keeps a permit if it comes before the wait: no wake-up is lost.
            if self.park(Box::new(move || wake.notify_one())) {
                ready.notified().await;
            }
        }
    }

    /// Registers `wake` to be called when something arrives. Returns `false` (and drops
    /// `wake`) when there is already something to drain or the stream has ended.
    pub fn park(&self, wake: Waker) -> bool {
        if !self
            .local
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            return false;
        }
        let mut state = self.shared.lock();
        if !state.is_empty() || state.end.is_some() || state.consumer_gone {
            return false;
        }
        state.waiter = Some(wake);
        true
    }

    /// Releases the producer side: buffered events are discarded, further sends fail.
    pub fn close(&self) {
        let held = std::mem::take(&mut *self.local.lock().unwrap_or_else(|p| p.into_inner()));
        let mut state = self.shared.lock();
        if state.consumer_gone {
            return;
        }
        state.consumer_gone = true;
        let waiter = state.waiter.take();
        // Taken out and dropped after the lock: dropping an event may drop what owns the
        // producer, whose drop takes this lock.
        let (mut queue, mut latest) = (VecDeque::new(), IndexMap::default());
        match &mut state.buffer {
            Buffer::Fifo(q) => std::mem::swap(q, &mut queue),
            Buffer::Conflated { latest: l, .. } => std::mem::swap(l, &mut latest),
        }
        drop(state);
        drop((held, waiter, queue, latest));
        self.shared.consumer_gone.notify_waiters();
    }

    pub fn stats(&self) -> &StreamStats {
        &self.shared.stats
    }

    pub fn overflow(&self) -> Overflow {
        self.shared.overflow
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn drain_all<T>(rx: &Receiver<T>) -> (Vec<Item<T>>, Drained) {
        let mut out = Vec::new();
        let status = rx.drain_into(usize::MAX, &mut out);
        (out, status)
    }

    #[test]
    fn a_consumer_coming_back_has_finished_what_it_took() {
        let (tx, rx) = channel::<u32>(8, Overflow::GapMarker);
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        let stats = tx.stats();
        let mut out = Vec::new();
        rx.drain_into(1, &mut out);
        assert_eq!(
            (
                stats.taken.load(Ordering::Relaxed),
                stats.finished.load(Ordering::Relaxed)
            ),
            (1, 0)
        );
        rx.drain_into(1, &mut out);
        assert_eq!(
            (
                stats.taken.load(Ordering::Relaxed),
                stats.finished.load(Ordering::Relaxed)
            ),
            (2, 1)
        );
        rx.drain_into(8, &mut out);
        rx.drain_into(8, &mut out); // nothing left: asking again says the last one is done
        assert_eq!(
            (
                stats.taken.load(Ordering::Relaxed),
                stats.finished.load(Ordering::Relaxed)
            ),
            (3, 3)
        );
    }

    fn events(items: &[Item<u32>]) -> Vec<u32> {
        items
            .iter()
            .filter_map(|i| {
                if let Item::Event(e) = i {
                    Some(*e)
                } else {
                    None
                }
            })
            .collect()
    }

    #[test]
    fn gap_marker_sits_exactly_where_events_were_dropped() {
        let (tx, rx) = channel::<u32>(3, Overflow::GapMarker);
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        let (first, _) = drain_all(&rx);
        // Buffered events, then the hole (7 dropped) at the end because nothing followed yet.
        assert_eq!(
            first,
            vec![
                Item::Event(0),
                Item::Event(1),
                Item::Event(2),
                Item::Gap { missed: 7 }
            ]
        );
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        let (second, _) = drain_all(&rx);
        assert_eq!(events(&second), vec![0, 1, 2]);
        assert_eq!(second[3], Item::Gap { missed: 2 });
        assert_eq!(rx.stats().dropped.load(Ordering::Relaxed), 9);
    }

    #[test]
    fn capacity_counts_what_the_consumer_holds_and_gaps_stay_in_place() {
        let (tx, rx) = channel::<u32>(2, Overflow::GapMarker);
        tx.send_batch([1, 2, 3]).unwrap();
        let mut out = Vec::new();
        rx.drain_into(1, &mut out); // takes 1; 2 and the gap (3 dropped) are in the consumer's hand
        assert_eq!(out, vec![Item::Event(1)]);
        tx.send(4).unwrap(); // still two deliveries held: dropped
        let (rest, _) = drain_all(&rx);
        assert_eq!(rest, vec![Item::Event(2), Item::Gap { missed: 1 }]);
        tx.send(5).unwrap();
        let (last, _) = drain_all(&rx);
        assert_eq!(last, vec![Item::Gap { missed: 1 }, Item::Event(5)]);
    }

    #[test]
    fn never_drop_overflow_ends_the_stream_loudly_after_delivering_the_buffer() {
        let (tx, rx) = channel::<u32>(2, Overflow::NeverDrop);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(tx.send(3), Err(SendError::SlowConsumer));
        assert_eq!(tx.send(4), Err(SendError::Closed));
        let (items, status) = drain_all(&rx);
        assert_eq!(events(&items), vec![1, 2]);
        assert_eq!(
            status,
            Drained::Ended(Some(Error::SlowConsumer {
                capacity: 2,
                max_bytes: None
            }))
        );
    }

    fn frame(len: usize) -> String {
        let mut text = String::with_capacity(len);
        text.extend(std::iter::repeat_n('x', len));
        text
    }

    /// Megabyte frames to a reader that does not read: what waits stays within the byte
    /// budget (a gap marks the rest), and reading frees the budget.
    #[test]
    fn a_weighed_stream_holds_its_bytes_not_its_count() {
        let weight = frame(1 << 20).weight();
        let (tx, rx) = weighed::<String>(1_000_000, 8 * weight, Overflow::GapMarker);
        for _ in 0..100 {
            tx.send(frame(1 << 20)).unwrap();
        }
        assert_eq!(tx.backlog(), 8);
        assert_eq!(rx.stats().dropped.load(Ordering::Relaxed), 92);
        let mut out = Vec::new();
        rx.drain_into(3, &mut out);
        // Three read, five still in hand: three fit again.
        for _ in 0..4 {
            tx.send(frame(1 << 20)).unwrap();
        }
        rx.drain_into(usize::MAX, &mut out);
        rx.drain_into(usize::MAX, &mut out);
        let shape: Vec<_> = out
            .iter()
            .map(|i| match i {
                Item::Event(_) => 0,
                Item::Gap { missed } => *missed,
            })
            .collect();
        assert_eq!(shape, [0, 0, 0, 0, 0, 0, 0, 0, 92, 0, 0, 0, 1]);
        assert_eq!(rx.shared.bytes.load(Ordering::Acquire), 0);
        // One event larger than the whole budget still goes through alone.
        tx.send(frame(10 << 20)).unwrap();
        assert_eq!(tx.send(frame(1)), Ok(()));
        assert_eq!(tx.backlog(), 1, "nothing joins it while it waits");
    }

    #[test]
    fn a_never_drop_stream_over_its_bytes_ends_loudly() {
        let (tx, rx) = weighed::<String>(1_000_000, 4 * frame(100).weight(), Overflow::NeverDrop);
        for _ in 0..4 {
            tx.send(frame(100)).unwrap();
        }
        assert_eq!(tx.send(frame(100)), Err(SendError::SlowConsumer));
        let (items, status) = drain_all(&rx);
        assert_eq!(items.len(), 4);
        let Drained::Ended(Some(error)) = status else {
            panic!("{status:?}")
        };
        assert!(matches!(
            error,
            Error::SlowConsumer {
                max_bytes: Some(_),
                ..
            }
        ));
        assert!(error.to_string().contains("MiB"), "{error}");
    }

    #[test]
    fn conflation_keeps_latest_per_key_in_first_arrival_order() {
        let (tx, rx) = conflating::<(u64, u32)>(8, |e| e.0);
        tx.send_batch([(1, 10), (2, 20), (1, 11), (3, 30), (2, 21)])
            .unwrap();
        let (items, _) = drain_all(&rx);
        assert_eq!(
            items,
            vec![
                Item::Event((1, 11)),
                Item::Event((2, 21)),
                Item::Event((3, 30))
            ]
        );
        assert_eq!(rx.stats().conflated.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn wakes_once_on_empty_to_non_empty_only() {
        let (tx, rx) = channel::<u32>(16, Overflow::GapMarker);
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        assert!(rx.park(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        })));
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        // Not parked again because there is data: the consumer must drain instead.
        assert!(!rx.park(Box::new(|| {})));
    }

    #[test]
    fn dropping_the_receiver_releases_the_producer() {
        let (tx, rx) = channel::<u32>(4, Overflow::GapMarker);
        tx.send(1).unwrap();
        rx.close();
        let mut out = Vec::new();
        assert_eq!(
            rx.drain_into(8, &mut out),
            Drained::Ended(None),
            "a closed stream ends at once"
        );
        assert!(out.is_empty(), "buffered events are discarded on close");
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(2), Err(SendError::Closed));
    }

    #[test]
    fn closing_may_drop_events_that_own_the_producer() {
        // The only producer lives in an event of its own queue; close() drops the event, the
        // producer's drop takes the queue's lock: it must not be held then.
        struct Owner(#[allow(dead_code)] Arc<Sender<Owner>>);
        let (tx, rx) = conflating::<Owner>(4, |_| 0);
        let tx = Arc::new(tx);
        tx.send(Owner(tx.clone())).unwrap();
        drop(tx);
        let shared = rx.shared.clone();
        let (done_tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            rx.close();
            let _ = done_tx.send(());
        });
        done.recv_timeout(std::time::Duration::from_secs(5))
            .expect("close() deadlocked");
        assert!(
            shared.lock().end.is_some(),
            "the dropped producer ended the stream"
        );
    }

    #[tokio::test]
    #[allow(clippy::disallowed_methods)] // a test's own task
    async fn producer_awaits_consumer_gone() {
        let (tx, rx) = channel::<u32>(4, Overflow::NeverDrop);
        let task = tokio::spawn(async move { tx.consumer_gone().await });
        tokio::task::yield_now().await;
        rx.close();
        task.await.unwrap();
    }

    #[test]
    fn clean_end_is_reported_after_the_last_item() {
        let (tx, rx) = channel::<u32>(4, Overflow::GapMarker);
        tx.send(7).unwrap();
        drop(tx);
        let mut out = Vec::new();
        assert_eq!(rx.drain_into(usize::MAX, &mut out), Drained::Ended(None));
        assert_eq!(events(&out), vec![7]);
    }
}
