//! A venue's clock: real time plus a controllable skew and drift, so tests can check that a
//! client keeps its offset within bounds while the venue clock runs off.

use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug)]
struct State {
    skew_ms: i64,
    /// Drift in microseconds per real second, accumulated since `since`.
    drift_us_per_s: i64,
    since: Instant,
    drift_base_ms: i64,
}

#[derive(Debug)]
pub struct VenueClock {
    state: Mutex<State>,
}

impl Default for VenueClock {
    fn default() -> Self {
        VenueClock {
            state: Mutex::new(State {
                skew_ms: 0,
                drift_us_per_s: 0,
                since: Instant::now(),
                drift_base_ms: 0,
            }),
        }
    }
}

fn real_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl VenueClock {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The venue's idea of now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        real_ms() + self.offset_ms()
    }

    /// The venue clock minus real time.
    pub fn offset_ms(&self) -> i64 {
        let s = self.lock();
        let drifted = s.since.elapsed().as_micros() as i64 * s.drift_us_per_s / 1_000_000_000;
        s.skew_ms + s.drift_base_ms + drifted
    }

    pub fn set_skew_ms(&self, skew_ms: i64) {
        self.lock().skew_ms = skew_ms;
    }

    /// Starts drifting by `us_per_s` microseconds per second from now on (keeps drift so far).
    pub fn set_drift(&self, us_per_s: i64) {
        let mut s = self.lock();
        let drifted = s.since.elapsed().as_micros() as i64 * s.drift_us_per_s / 1_000_000_000;
        s.drift_base_ms += drifted;
        s.drift_us_per_s = us_per_s;
        s.since = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_shifts_the_clock() {
        let clock = VenueClock::default();
        clock.set_skew_ms(-5000);
        assert_eq!(clock.offset_ms(), -5000);
        let diff = clock.now_ms() - real_ms();
        assert!((-5002..=-4998).contains(&diff));
    }

    #[test]
    fn drift_accumulates_and_is_kept_when_changed() {
        let clock = VenueClock::default();
        clock.set_drift(1_000_000); // 1 s per second, to see it in a short test
        std::thread::sleep(std::time::Duration::from_millis(20));
        let first = clock.offset_ms();
        assert!(first >= 19, "drifted {first} ms");
        clock.set_drift(0);
        let kept = clock.offset_ms();
        assert!(kept >= first);
        std::thread::sleep(std::time::Duration::from_millis(10));
        assert_eq!(clock.offset_ms(), kept);
    }
}
