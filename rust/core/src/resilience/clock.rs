//! Venue clock estimate (RESL-04).
//!
//! Signed requests carry a timestamp the venue checks against its own clock (Binance
//! `recvWindow`, Bybit `recv_window`), so a local clock seconds off, or a venue clock that
//! drifts, gets every signed request rejected. This estimator keeps the venue's time within
//! 500 ms from occasional time requests; it does no I/O itself.
//!
//! - A sample's offset is the venue's time minus the local time half-way through the round
//!   trip. Its error is at most half the round trip, and in practice grows with the round trip's
//!   excess over the fastest one (a slow leg is a delayed leg), so the offset is an average
//!   weighted by that excess: the lowest-round-trip samples decide, congested or asymmetric
//!   ones barely count. While a constant offset fits every sample's bound, the estimate is kept
//!   within all of them.
//! - Drift is a least-squares slope of the offsets over time, used only once a constant offset
//!   no longer fits every sample's error bound: a slope fitted to jitter would be extrapolated
//!   into errors larger than the jitter itself.
//! - A sample further from the prediction than its own error bound allows means a clock was
//!   stepped: the history is dropped rather than averaged with a clock that no longer exists.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrayvec::ArrayVec;
use tokio::time::Instant;

/// Samples kept; at one time request a minute this covers the last several minutes.
const KEPT: usize = 8;
const MIN_DRIFT_SAMPLES: usize = 3;
/// Over shorter spans an offset change is more likely a small step than drift, and a slope
/// from it would be extrapolated far beyond the data.
const MIN_DRIFT_SPAN: Duration = Duration::from_secs(30);
/// Venue and local timestamps are whole ms: slack on every error bound, and the round-trip
/// excess below which samples count as equally good.
const RESOLUTION_MS: f64 = 1.0;
/// A sample further than this beyond its error bound from the prediction means a step: half
/// the 500 ms budget, so steps are caught before they cost rejected requests.
const STEP_TOLERANCE_MS: f64 = 250.0;

type WallClock = Box<dyn Fn() -> i64 + Send + Sync>;

#[derive(Debug, Clone, Copy)]
struct Sample {
    mid: Instant,
    received: Instant,
    offset_ms: f64,
    round_trip: Duration,
}

impl Sample {
    fn error_bound_ms(&self) -> f64 {
        ms(self.round_trip) / 2.0 + RESOLUTION_MS
    }
}

#[derive(Debug, Clone, Copy)]
struct Estimate {
    at: Instant,
    offset_ms: f64,
    drift_ms_per_s: f64,
}

impl Estimate {
    fn predict(&self, t: Instant) -> f64 {
        self.offset_ms + self.drift_ms_per_s * secs_since(self.at, t)
    }
}

/// Clock health, for monitoring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockSnapshot {
    /// Venue time minus local time, predicted for now.
    pub offset_ms: Option<i64>,
    /// How fast the offset changes; 0 while a constant offset explains the samples.
    pub drift_ms_per_s: f64,
    /// The fastest kept round trip: without drift, half of it (plus 1 ms) bounds the error.
    pub round_trip: Option<Duration>,
    /// Since the last sample's answer arrived.
    pub age: Option<Duration>,
    pub samples: usize,
    pub needs_resync: bool,
}

#[derive(Debug, Default)]
struct Inner {
    samples: ArrayVec<Sample, KEPT>,
    estimate: Option<Estimate>,
    invalidated: bool,
}

pub struct ClockSync {
    wall: WallClock,
    inner: Mutex<Inner>,
}

impl ClockSync {
    /// Uses the system clock as local time.
    pub fn new() -> ClockSync {
        ClockSync::with_wall_clock(system_unix_ms)
    }

    /// `wall` returns local Unix time in ms; injectable so tests and simulations control it.
    pub fn with_wall_clock(wall: impl Fn() -> i64 + Send + Sync + 'static) -> ClockSync {
        ClockSync {
            wall: Box::new(wall),
            inner: Mutex::default(),
        }
    }

    /// Records one time request: `sent` just before it left, `received` just after the answer
    /// arrived, `server_ms` the venue's Unix time in the answer. The first sample after
    /// [`ClockSync::invalidate`] replaces the history.
    pub fn add_sample(&self, sent: Instant, received: Instant, server_ms: i64) {
        let now = Instant::now();
        let round_trip = received.duration_since(sent);
        let mid = sent + round_trip / 2;
        let local_at_mid = (self.wall)() as f64 - secs_since(mid, now) * 1000.0;
        let sample = Sample {
            mid,
            received,
            offset_ms: server_ms as f64 - local_at_mid,
            round_trip,
        };
        let mut inner = self.lock();
        let bound = STEP_TOLERANCE_MS + sample.error_bound_ms();
        let stepped = inner
            .estimate
            .is_some_and(|e| (sample.offset_ms - e.predict(mid)).abs() > bound);
        if stepped {
            tracing::warn!(
                offset_ms = sample.offset_ms,
                "venue or local clock stepped; clock history dropped"
            );
        }
        if stepped || inner.invalidated {
            inner.samples.clear();
            inner.invalidated = false;
        }
        if inner.samples.is_full() {
            inner.samples.remove(0);
        }
        inner.samples.push(sample);
        inner.estimate = estimate(&inner.samples);
    }

    /// Venue time minus local time, predicted for now; `None` before any sample.
    pub fn offset_ms(&self) -> Option<i64> {
        let now = Instant::now();
        self.lock().estimate.map(|e| e.predict(now).round() as i64)
    }

    /// The venue's Unix time now, in ms: local time until the first sample. Saturating: a
    /// server time near `i64::MAX` (a broken answer) must not wrap round to a time before 1970.
    pub fn now_server_ms(&self) -> i64 {
        let offset = self.offset_ms().unwrap_or(0);
        (self.wall)().saturating_add(offset)
    }

    /// Time since the last sample's answer arrived.
    pub fn age(&self) -> Option<Duration> {
        let inner = self.lock();
        inner.samples.last().map(|s| s.received.elapsed())
    }

    /// Marks the estimate wrong, e.g. after Binance -1021 or Bybit 10002 (timestamp outside
    /// the receive window). It stays in use, as the best guess, until the next sample
    /// replaces the whole history.
    pub fn invalidate(&self) {
        self.lock().invalidated = true;
    }

    /// Whether a time request should be made now: never synced, or invalidated since.
    pub fn needs_resync(&self) -> bool {
        let inner = self.lock();
        inner.invalidated || inner.samples.is_empty()
    }

    pub fn snapshot(&self) -> ClockSnapshot {
        let now = Instant::now();
        let inner = self.lock();
        ClockSnapshot {
            offset_ms: inner.estimate.map(|e| e.predict(now).round() as i64),
            drift_ms_per_s: inner.estimate.map_or(0.0, |e| e.drift_ms_per_s),
            round_trip: inner.samples.iter().map(|s| s.round_trip).min(),
            age: inner.samples.last().map(|s| now.duration_since(s.received)),
            samples: inner.samples.len(),
            needs_resync: inner.invalidated || inner.samples.is_empty(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for ClockSync {
    fn default() -> ClockSync {
        ClockSync::new()
    }
}

impl std::fmt::Debug for ClockSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClockSync")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

fn estimate(samples: &[Sample]) -> Option<Estimate> {
    let at = samples.iter().map(|s| s.mid).max()?;
    let first = samples.iter().map(|s| s.mid).min()?;
    let fastest = samples.iter().map(|s| s.round_trip).min()?;
    let constant = constant_range(samples);
    let drift = match constant {
        None if samples.len() >= MIN_DRIFT_SAMPLES && at - first >= MIN_DRIFT_SPAN => {
            slope(samples, at)
        }
        _ => 0.0,
    };
    let (sum, weights) = samples.iter().fold((0.0, 0.0), |(sum, weights), s| {
        let w = inverse_square(ms(s.round_trip - fastest));
        let at_estimate = s.offset_ms - drift * secs_since(at, s.mid);
        (sum + w * at_estimate, weights + w)
    });
    let mean = sum / weights;
    Some(Estimate {
        at,
        offset_ms: constant.map_or(mean, |(low, high)| mean.clamp(low, high)),
        drift_ms_per_s: drift,
    })
}

/// The constant offsets within every sample's error bound, if there are any.
fn constant_range(samples: &[Sample]) -> Option<(f64, f64)> {
    let low = samples
        .iter()
        .map(|s| s.offset_ms - s.error_bound_ms())
        .fold(f64::NEG_INFINITY, f64::max);
    let high = samples
        .iter()
        .map(|s| s.offset_ms + s.error_bound_ms())
        .fold(f64::INFINITY, f64::min);
    (low <= high).then_some((low, high))
}

/// Weighted least-squares slope of offset over time. Weighted by the whole round trip, not its
/// excess: excess weights would let the two fastest samples set the slope alone, however close
/// together in time they are.
fn slope(samples: &[Sample], at: Instant) -> f64 {
    let point = |s: &Sample| {
        let w = inverse_square(ms(s.round_trip));
        (secs_since(at, s.mid), s.offset_ms, w)
    };
    let (w_sum, wx, wy) = samples
        .iter()
        .map(point)
        .fold((0.0, 0.0, 0.0), |acc, (x, y, w)| {
            (acc.0 + w, acc.1 + w * x, acc.2 + w * y)
        });
    let (x_mean, y_mean) = (wx / w_sum, wy / w_sum);
    let (sxx, sxy) = samples
        .iter()
        .map(point)
        .fold((0.0, 0.0), |acc, (x, y, w)| {
            let dx = x - x_mean;
            (acc.0 + w * dx * dx, acc.1 + w * dx * (y - y_mean))
        });
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

fn inverse_square(ms: f64) -> f64 {
    let x = ms + RESOLUTION_MS;
    1.0 / (x * x)
}

/// `t - origin` in seconds, negative when `t` is earlier.
fn secs_since(origin: Instant, t: Instant) -> f64 {
    if t >= origin {
        (t - origin).as_secs_f64()
    } else {
        -(origin - t).as_secs_f64()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn system_unix_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokio::time::advance;

    const LOCAL_EPOCH_MS: i64 = 1_700_000_000_000;

    /// A venue and a local wall clock that both run on Tokio's paused clock.
    struct Sim {
        start: Instant,
        clock: ClockSync,
    }

    impl Sim {
        fn new() -> Sim {
            let start = Instant::now();
            let wall = move || LOCAL_EPOCH_MS + start.elapsed().as_millis() as i64;
            Sim {
                start,
                clock: ClockSync::with_wall_clock(wall),
            }
        }

        fn elapsed_s(&self) -> f64 {
            self.start.elapsed().as_secs_f64()
        }

        fn local_ms(&self) -> i64 {
            LOCAL_EPOCH_MS + self.start.elapsed().as_millis() as i64
        }

        /// One time request; `true_offset` maps seconds since start to venue minus local ms.
        async fn sync(&self, true_offset: impl Fn(f64) -> f64, out_ms: u64, back_ms: u64) {
            let sent = Instant::now();
            advance(Duration::from_millis(out_ms)).await;
            let server_ms = self.local_ms() + true_offset(self.elapsed_s()).round() as i64;
            advance(Duration::from_millis(back_ms)).await;
            self.clock.add_sample(sent, Instant::now(), server_ms);
        }

        fn error_ms(&self, true_offset: impl Fn(f64) -> f64) -> f64 {
            let estimate = self.clock.offset_ms().expect("synced") as f64;
            (estimate - true_offset(self.elapsed_s())).abs()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn before_any_sample_local_time_is_used() {
        let sim = Sim::new();
        advance(Duration::from_secs(5)).await;
        assert_eq!(sim.clock.offset_ms(), None);
        assert_eq!(sim.clock.age(), None);
        assert_eq!(sim.clock.now_server_ms(), LOCAL_EPOCH_MS + 5_000);
        assert!(sim.clock.needs_resync());
        let snap = sim.clock.snapshot();
        assert_eq!((snap.samples, snap.round_trip), (0, None));
    }

    #[tokio::test(start_paused = true)]
    async fn an_absurd_server_time_saturates_instead_of_wrapping() {
        // Found by the fuzz test (tests/fuzz): `{"serverTime": 9223372036854775807}` made the
        // estimate wrap to about i64::MIN (and overflow-panic in a debug build).
        for (server_ms, later) in [(i64::MAX, true), (i64::MIN, false)] {
            let sim = Sim::new();
            sim.clock
                .add_sample(Instant::now(), Instant::now(), server_ms);
            let now = sim.clock.now_server_ms();
            assert_eq!(now > sim.local_ms(), later, "{server_ms} gave {now}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_3s_skew_is_estimated_within_a_few_ms_from_noisy_round_trips() {
        let skew = |_| 3_000.0;
        let mut worst = 0.0f64;
        for seed in 0..100 {
            let sim = Sim::new();
            let mut rng = fastrand::Rng::with_seed(seed);
            for i in 0..8 {
                // 20 ms and up to 4 ms of jitter each way; two samples in three also get a
                // 50-200 ms spike on one leg.
                let mut legs = [20 + rng.u64(0..=4), 20 + rng.u64(0..=4)];
                if i % 3 != 0 {
                    legs[rng.usize(0..2)] += rng.u64(50..=200);
                }
                sim.sync(skew, legs[0], legs[1]).await;
                advance(Duration::from_secs(2)).await;
            }
            worst = worst.max(sim.error_ms(skew));
            let snap = sim.clock.snapshot();
            assert_eq!(snap.samples, 8);
            assert_eq!(snap.age, Some(Duration::from_secs(2)));
            assert!(!snap.needs_resync);
            let server_now = sim.local_ms() + 3_000;
            assert!((sim.clock.now_server_ms() - server_now).abs() <= 4);
        }
        assert!(worst <= 4.0, "{worst} ms off");
    }

    #[tokio::test(start_paused = true)]
    async fn the_estimate_stays_within_every_samples_bound() {
        // Every sample congested one way or the other: no clean sample to lean on.
        let skew = |_| -1_234.0;
        let sim = Sim::new();
        for (out, back) in [(150, 20), (20, 90), (300, 20), (20, 400), (60, 20)] {
            sim.sync(skew, out, back).await;
        }
        // The fastest sample alone bounds the error by 41 ms (half its round trip, plus 1 ms
        // resolution); together the samples' bounds narrow it to 21 ms.
        let error = sim.error_ms(skew);
        assert!(error <= 21.0, "{error} ms off: {:?}", sim.clock.snapshot());
    }

    #[tokio::test(start_paused = true)]
    async fn asymmetric_and_slow_round_trips_are_discounted() {
        let sim = Sim::new();
        let skew = |_| -7_000.0;
        for i in 0..8 {
            if i % 3 == 0 {
                sim.sync(skew, 15, 15).await;
            } else {
                // A congested request leg: taken alone, it reads the venue 190 ms ahead.
                sim.sync(skew, 400, 20).await;
            }
            advance(Duration::from_secs(1)).await;
        }
        assert!(sim.error_ms(skew) <= 2.0, "{:?}", sim.clock.snapshot());
        assert_eq!(
            sim.clock.snapshot().round_trip,
            Some(Duration::from_millis(30))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn drift_is_tracked_through_a_minute_without_samples() {
        let drifting = |t: f64| 2_500.0 + 1.0 * t;
        for seed in 0..100 {
            let sim = Sim::new();
            let mut rng = fastrand::Rng::with_seed(seed);
            for i in 0..8 {
                if i > 0 {
                    advance(Duration::from_secs(10)).await;
                }
                sim.sync(drifting, 20 + rng.u64(0..=10), 20 + rng.u64(0..=10))
                    .await;
            }
            let snap = sim.clock.snapshot();
            assert!((snap.drift_ms_per_s - 1.0).abs() < 0.15, "{snap:?}");
            // What an estimator without a drift term would keep predicting, at best.
            let naive = snap.offset_ms.expect("synced") as f64;

            advance(Duration::from_secs(60)).await;
            let error = sim.error_ms(drifting);
            let naive_error = (naive - drifting(sim.elapsed_s())).abs();
            assert!(error < 20.0, "with drift: {error} ms off");
            assert!(naive_error > 50.0, "without drift: {naive_error} ms off");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn short_spans_do_not_extrapolate_jitter() {
        let sim = Sim::new();
        for (out, back) in [(10, 50), (30, 30), (50, 10)] {
            sim.sync(|_| 0.0, out, back).await;
            advance(Duration::from_secs(1)).await;
        }
        assert_eq!(sim.clock.snapshot().drift_ms_per_s, 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_over_a_long_span_is_not_taken_for_drift() {
        let sim = Sim::new();
        // Per-sample errors sliding from +20 ms to -20 ms over 7 minutes look like a slope,
        // but a constant offset fits every sample's bound.
        for i in 0..8 {
            if i > 0 {
                advance(Duration::from_secs(60)).await;
            }
            sim.sync(|_| 500.0, 50 - 6 * i, 10 + 6 * i).await;
        }
        let snap = sim.clock.snapshot();
        assert_eq!(snap.drift_ms_per_s, 0.0);
        advance(Duration::from_secs(600)).await;
        assert!(sim.error_ms(|_| 500.0) <= 20.0, "{snap:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn invalidate_forces_a_resync_that_replaces_the_history() {
        let sim = Sim::new();
        for _ in 0..4 {
            sim.sync(|_| 1_000.0, 10, 10).await;
        }
        assert!(!sim.clock.needs_resync());
        sim.clock.invalidate();
        assert!(sim.clock.needs_resync());
        // Still the best guess until fresh data arrives.
        assert_eq!(sim.clock.offset_ms(), Some(1_000));
        // Within the step tolerance, so only the invalidation drops the old samples.
        sim.sync(|_| 1_200.0, 10, 10).await;
        assert!(!sim.clock.needs_resync());
        assert_eq!(sim.clock.snapshot().samples, 1);
        assert_eq!(sim.clock.offset_ms(), Some(1_200));
    }

    #[tokio::test(start_paused = true)]
    async fn a_clock_step_drops_the_history() {
        let sim = Sim::new();
        for _ in 0..4 {
            sim.sync(|_| 1_000.0, 10, 10).await;
        }
        sim.sync(|_| 1_100.0, 10, 10).await;
        assert_eq!(
            sim.clock.snapshot().samples,
            5,
            "a small move is averaged in"
        );
        sim.sync(|_| -2_000.0, 10, 10).await;
        assert_eq!(sim.clock.snapshot().samples, 1);
        assert_eq!(sim.clock.offset_ms(), Some(-2_000));
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_last_samples_are_kept() {
        let sim = Sim::new();
        for _ in 0..20 {
            sim.sync(|_| 0.0, 5, 5).await;
        }
        assert_eq!(sim.clock.snapshot().samples, KEPT);
    }

    #[test]
    fn the_system_wall_clock_is_the_default() {
        let clock = ClockSync::default();
        assert!((clock.now_server_ms() - system_unix_ms()).abs() < 1_000);
    }

    fn paused_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime")
    }

    proptest! {
        #[test]
        fn any_skew_with_symmetric_jitter_is_estimated_within_50ms(
            skew in -10_000i64..=10_000,
            legs in prop::collection::vec((0u64..=50, 0u64..=50, 100u64..=20_000), 1..=12),
        ) {
            let error = paused_runtime().block_on(async {
                let sim = Sim::new();
                let offset = |_| skew as f64;
                for &(out, back, gap_ms) in &legs {
                    sim.sync(offset, 10 + out, 10 + back).await;
                    advance(Duration::from_millis(gap_ms)).await;
                }
                sim.error_ms(offset)
            });
            prop_assert!(error <= 50.0, "{error} ms off");
        }
    }
}
