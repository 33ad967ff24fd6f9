//! Per-venue circuit breaker (RESL-01..03).
//!
//! While a venue is down every request still costs a timeout and adds load the venue cannot
//! serve. After `failure_threshold` consecutive failures the breaker opens and requests fail at
//! once with [`Error::CircuitOpen`]; after `cool_down` a single probe is let through and its
//! verdict either closes the breaker or starts another cool-down. What counts as a failure is
//! the caller's decision: venue outages (5xx, timeouts, lost connections), not rejected orders.
//!
//! Transitions are published on a broadcast channel ([`Breaker::subscribe`]) so the connector
//! can forward them to its event stream.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::model::Venue;
use crate::{Error, Result};

/// Transitions are rare; a subscriber that still falls this far behind gets `Lagged`.
const TRANSITION_BUFFER: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before probing. Also how long a probe may stay
    /// unanswered before it is presumed lost and the next caller becomes the probe, so a
    /// hung or leaked probe cannot keep the breaker half-open forever.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSnapshot {
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// How long until a request would be let through; `None` if one would be now.
    pub retry_in: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerTransition {
    pub venue: Venue,
    pub from: BreakerState,
    pub to: BreakerState,
    /// When the transition took effect. Open → HalfOpen is noticed lazily by the next call,
    /// but is stamped with the end of the cool-down.
    pub at: Instant,
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    /// `probe_deadline` is set while the one probe is in flight.
    HalfOpen {
        probe_deadline: Option<Instant>,
    },
}

impl Phase {
    fn state(&self) -> BreakerState {
        match self {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    failures: u32,
    /// Bumped on every transition and every probe admitted. A permit's verdict only counts if
    /// its epoch is current: a slow request admitted before the breaker opened, or a probe
    /// presumed lost, says nothing about the venue's state now.
    epoch: u64,
}

#[derive(Debug)]
pub struct Breaker {
    venue: Venue,
    config: BreakerConfig,
    inner: Mutex<Inner>,
    transitions: broadcast::Sender<BreakerTransition>,
}

impl Breaker {
    pub fn new(venue: Venue, config: BreakerConfig) -> Result<Breaker> {
        if config.failure_threshold == 0 {
            return Err(Error::invalid_argument(
                "failure_threshold",
                "must be at least 1",
            ));
        }
        if config.cool_down.is_zero() {
            return Err(Error::invalid_argument("cool_down", "must be positive"));
        }
        Ok(Breaker {
            venue,
            config,
            inner: Mutex::new(Inner {
                phase: Phase::Closed,
                failures: 0,
                epoch: 0,
            }),
            transitions: broadcast::channel(TRANSITION_BUFFER).0,
        })
    }

    /// Asks to send one request. Fails fast with [`Error::CircuitOpen`] while open, and while
    /// half-open with the probe in flight (`retry_in` is then the time until it is presumed lost).
    pub fn acquire(&self) -> Result<Permit<'_>> {
        let now = Instant::now();
        let mut inner = self.lock();
        self.expire_cool_down(&mut inner, now);
        match inner.phase {
            Phase::Closed => {}
            Phase::Open { until } => return Err(self.open_error(until.duration_since(now))),
            Phase::HalfOpen {
                probe_deadline: Some(deadline),
            } if deadline > now => return Err(self.open_error(deadline.duration_since(now))),
            Phase::HalfOpen { .. } => {
                inner.epoch += 1;
                inner.phase = Phase::HalfOpen {
                    probe_deadline: Some(now + self.config.cool_down),
                };
            }
        }
        Ok(Permit {
            breaker: self,
            epoch: inner.epoch,
            settled: false,
        })
    }

    pub fn snapshot(&self) -> BreakerSnapshot {
        let now = Instant::now();
        let mut inner = self.lock();
        self.expire_cool_down(&mut inner, now);
        let retry_in = match inner.phase {
            Phase::Open { until } => Some(until.duration_since(now)),
            Phase::HalfOpen {
                probe_deadline: Some(deadline),
            } if deadline > now => Some(deadline.duration_since(now)),
            _ => None,
        };
        BreakerSnapshot {
            state: inner.phase.state(),
            consecutive_failures: inner.failures,
            retry_in,
        }
    }

    /// Transitions from now on, in the order they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<BreakerTransition> {
        self.transitions.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_error(&self, retry_in: Duration) -> Error {
        Error::CircuitOpen {
            venue: self.venue,
            retry_in,
        }
    }

    fn expire_cool_down(&self, inner: &mut Inner, now: Instant) {
        if let Phase::Open { until } = inner.phase
            && now >= until
        {
            self.transition(
                inner,
                Phase::HalfOpen {
                    probe_deadline: None,
                },
                until,
            );
        }
    }

    /// `verdict`: `Some(true)` success, `Some(false)` failure, `None` cancelled.
    fn settle(&self, epoch: u64, verdict: Option<bool>) {
        let now = Instant::now();
        let mut inner = self.lock();
        if epoch != inner.epoch {
            return;
        }
        match (&inner.phase, verdict) {
            (Phase::Closed, Some(true)) => inner.failures = 0,
            (Phase::HalfOpen { .. }, Some(true)) => {
                inner.failures = 0;
                self.transition(&mut inner, Phase::Closed, now);
            }
            (Phase::Closed, Some(false)) => {
                inner.failures = inner.failures.saturating_add(1);
                if inner.failures >= self.config.failure_threshold {
                    self.open(&mut inner, now);
                }
            }
            (Phase::HalfOpen { .. }, Some(false)) => {
                inner.failures = inner.failures.saturating_add(1);
                self.open(&mut inner, now);
            }
            (Phase::HalfOpen { .. }, None) => {
                inner.phase = Phase::HalfOpen {
                    probe_deadline: None,
                }
            }
            // A cancelled request says nothing; no permit is ever issued while open.
            (Phase::Closed, None) | (Phase::Open { .. }, _) => {}
        }
    }

    fn open(&self, inner: &mut Inner, now: Instant) {
        let until = now + self.config.cool_down;
        self.transition(inner, Phase::Open { until }, now);
    }

    fn transition(&self, inner: &mut Inner, to: Phase, at: Instant) {
        let from = inner.phase.state();
        inner.phase = to;
        inner.epoch += 1;
        let to = inner.phase.state();
        if to == BreakerState::Open {
            tracing::warn!(venue = %self.venue, failures = inner.failures, "circuit breaker opened");
        } else {
            tracing::info!(venue = %self.venue, ?from, ?to, "circuit breaker transition");
        }
        // No subscribers is fine: the transition is still logged.
        let _ = self.transitions.send(BreakerTransition {
            venue: self.venue,
            from,
            to,
            at,
        });
    }
}

/// Leave to send one request. Report its outcome with [`Permit::success`] or
/// [`Permit::failure`]; dropping it (a cancelled request) counts as neither but frees the
/// half-open probe slot.
#[derive(Debug)]
#[must_use = "report the request's outcome with success() or failure()"]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    epoch: u64,
    settled: bool,
}

impl Permit<'_> {
    pub fn success(mut self) {
        self.settle(Some(true));
    }

    pub fn failure(mut self) {
        self.settle(Some(false));
    }

    fn settle(&mut self, verdict: Option<bool>) {
        self.settled = true;
        self.breaker.settle(self.epoch, verdict);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.settle(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    const COOL_DOWN: Duration = Duration::from_secs(10);

    fn breaker(failure_threshold: u32) -> Breaker {
        let config = BreakerConfig {
            failure_threshold,
            cool_down: COOL_DOWN,
        };
        Breaker::new(Venue::Bybit, config).expect("valid config")
    }

    fn fail(b: &Breaker, times: u32) {
        for _ in 0..times {
            b.acquire().expect("admitted").failure();
        }
    }

    fn retry_in(result: Result<Permit<'_>>) -> Duration {
        match result {
            Err(Error::CircuitOpen { venue, retry_in }) => {
                assert_eq!(venue, Venue::Bybit);
                retry_in
            }
            other => panic!("expected CircuitOpen, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_invalid_configs() {
        let config = BreakerConfig::default();
        assert_eq!(config.failure_threshold, 5);
        assert_eq!(config.cool_down, Duration::from_secs(10));
        let zero_threshold = BreakerConfig {
            failure_threshold: 0,
            ..config
        };
        assert!(matches!(
            Breaker::new(Venue::Binance, zero_threshold),
            Err(Error::InvalidArgument { field, .. }) if field == "failure_threshold"
        ));
        let zero_cool_down = BreakerConfig {
            cool_down: Duration::ZERO,
            ..config
        };
        assert!(matches!(
            Breaker::new(Venue::Binance, zero_cool_down),
            Err(Error::InvalidArgument { field, .. }) if field == "cool_down"
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn opens_exactly_at_the_threshold() {
        let b = breaker(5);
        fail(&b, 4);
        let snap = b.snapshot();
        assert_eq!(snap.state, BreakerState::Closed);
        assert_eq!(snap.consecutive_failures, 4);
        assert_eq!(snap.retry_in, None);
        fail(&b, 1);
        let snap = b.snapshot();
        assert_eq!(snap.state, BreakerState::Open);
        assert_eq!(snap.consecutive_failures, 5);
        assert_eq!(retry_in(b.acquire()), COOL_DOWN);
    }

    #[tokio::test(start_paused = true)]
    async fn fails_fast_with_the_remaining_cool_down() {
        let b = breaker(1);
        fail(&b, 1);
        advance(Duration::from_millis(3_500)).await;
        assert_eq!(retry_in(b.acquire()), Duration::from_millis(6_500));
        assert_eq!(b.snapshot().retry_in, Some(Duration::from_millis(6_500)));
        advance(Duration::from_millis(6_499)).await;
        assert_eq!(retry_in(b.acquire()), Duration::from_millis(1));
        advance(Duration::from_millis(1)).await;
        assert_eq!(b.snapshot().state, BreakerState::HalfOpen);
        assert_eq!(b.snapshot().retry_in, None);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_admits_exactly_one_probe() {
        let b = breaker(2);
        fail(&b, 2);
        advance(COOL_DOWN).await;
        let probe = b.acquire().expect("the probe");
        // Others fail fast until the probe would be presumed lost.
        assert_eq!(retry_in(b.acquire()), COOL_DOWN);
        advance(Duration::from_secs(4)).await;
        assert_eq!(retry_in(b.acquire()), Duration::from_secs(6));
        let snap = b.snapshot();
        assert_eq!(snap.state, BreakerState::HalfOpen);
        assert_eq!(snap.retry_in, Some(Duration::from_secs(6)));
        drop(probe);
    }

    #[tokio::test(start_paused = true)]
    async fn probe_success_closes() {
        let b = breaker(2);
        fail(&b, 2);
        advance(COOL_DOWN).await;
        b.acquire().expect("the probe").success();
        let snap = b.snapshot();
        assert_eq!(snap.state, BreakerState::Closed);
        assert_eq!(snap.consecutive_failures, 0);
        // Closed again means the full threshold is needed to reopen.
        fail(&b, 1);
        assert_eq!(b.snapshot().state, BreakerState::Closed);
        assert!(b.acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn probe_failure_reopens_for_another_cool_down() {
        let b = breaker(2);
        fail(&b, 2);
        advance(COOL_DOWN).await;
        advance(Duration::from_secs(3)).await;
        b.acquire().expect("the probe").failure();
        let snap = b.snapshot();
        assert_eq!(snap.state, BreakerState::Open);
        assert_eq!(snap.consecutive_failures, 3);
        // The new cool-down counts from the probe's failure, not from the first opening.
        assert_eq!(retry_in(b.acquire()), COOL_DOWN);
        advance(COOL_DOWN).await;
        assert!(b.acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_count() {
        let b = breaker(5);
        fail(&b, 4);
        b.acquire().expect("admitted").success();
        assert_eq!(b.snapshot().consecutive_failures, 0);
        fail(&b, 4);
        assert_eq!(b.snapshot().state, BreakerState::Closed);
        fail(&b, 1);
        assert_eq!(b.snapshot().state, BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_permit_counts_as_neither_and_frees_the_probe_slot() {
        let b = breaker(2);
        fail(&b, 1);
        drop(b.acquire().expect("admitted"));
        assert_eq!(b.snapshot().consecutive_failures, 1);
        fail(&b, 1);
        advance(COOL_DOWN).await;
        drop(b.acquire().expect("the probe"));
        assert_eq!(b.snapshot().state, BreakerState::HalfOpen);
        assert_eq!(b.snapshot().retry_in, None);
        b.acquire().expect("a new probe").success();
        assert_eq!(b.snapshot().state, BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_probe_is_replaced_and_its_late_verdict_ignored() {
        let b = breaker(1);
        fail(&b, 1);
        advance(COOL_DOWN).await;
        let lost = b.acquire().expect("the probe");
        advance(COOL_DOWN).await;
        let replacement = b.acquire().expect("the lost probe's slot is free again");
        lost.success();
        assert_eq!(b.snapshot().state, BreakerState::HalfOpen);
        replacement.failure();
        assert_eq!(b.snapshot().state, BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn verdicts_from_before_a_transition_are_ignored() {
        let b = breaker(2);
        let slow_success = b.acquire().expect("admitted");
        let slow_failure = b.acquire().expect("admitted");
        fail(&b, 2);
        // Admitted while closed: neither closes nor extends the open breaker.
        slow_success.success();
        slow_failure.failure();
        let snap = b.snapshot();
        assert_eq!(snap.state, BreakerState::Open);
        assert_eq!(snap.consecutive_failures, 2);
        assert_eq!(snap.retry_in, Some(COOL_DOWN));
    }

    #[tokio::test(start_paused = true)]
    async fn transitions_are_emitted_in_order() {
        let b = breaker(1);
        let mut events = b.subscribe();
        let t0 = Instant::now();
        fail(&b, 1);
        advance(Duration::from_secs(15)).await;
        b.acquire().expect("the probe").failure();
        advance(COOL_DOWN).await;
        b.acquire().expect("the probe").success();

        use BreakerState::*;
        let expected = [
            (Closed, Open, t0),
            (Open, HalfOpen, t0 + COOL_DOWN),
            (HalfOpen, Open, t0 + Duration::from_secs(15)),
            (Open, HalfOpen, t0 + Duration::from_secs(25)),
            (HalfOpen, Closed, t0 + Duration::from_secs(25)),
        ];
        for (from, to, at) in expected {
            let event = events.try_recv().expect("a transition");
            assert_eq!(
                event,
                BreakerTransition {
                    venue: Venue::Bybit,
                    from,
                    to,
                    at
                }
            );
        }
        assert!(events.try_recv().is_err());
    }

    #[test]
    fn concurrent_callers_get_exactly_one_probe() {
        // Real time: threads do not see a paused Tokio clock.
        let config = BreakerConfig {
            failure_threshold: 1,
            cool_down: Duration::from_millis(20),
        };
        let b = Breaker::new(Venue::Binance, config).expect("valid config");
        fail(&b, 1);
        std::thread::sleep(Duration::from_millis(40));
        let callers = 8;
        let barrier = std::sync::Barrier::new(callers);
        let admitted = std::thread::scope(|s| {
            let handles: Vec<_> = (0..callers)
                .map(|_| {
                    s.spawn(|| {
                        let permit = b.acquire();
                        // Hold every permit until all callers have tried.
                        barrier.wait();
                        permit.is_ok()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("caller thread"))
                .filter(|admitted| *admitted)
                .count()
        });
        assert_eq!(admitted, 1);
    }
}
