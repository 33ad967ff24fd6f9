//! Capped exponential backoff with full jitter: delay = random(0, min(cap, base · 2^attempt)).
//! Full jitter spreads a reconnect storm of many sockets over the whole window instead of
//! having them retry in lock-step.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            rng: fastrand::Rng::new(),
        }
    }

    /// Same as [`Backoff::new`] with a fixed seed, for reproducible tests and simulations.
    pub fn seeded(base: Duration, cap: Duration, seed: u64) -> Self {
        Backoff {
            base,
            cap,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The upper bound of the jittered delay for `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A delay drawn uniformly from `[0, ceiling(attempt)]`.
    pub fn delay(&mut self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt).as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(self.rng.u64(0..=ceiling))
    }
}

impl Default for Backoff {
    /// 100 ms doubling up to 30 s.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let ceilings: Vec<u128> = (0..8).map(|a| b.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(b.ceiling(1000), Duration::from_secs(5));
    }

    #[test]
    fn delays_stay_within_the_ceiling_and_spread_out() {
        let mut b = Backoff::seeded(Duration::from_millis(100), Duration::from_secs(5), 7);
        let delays: Vec<Duration> = (0..1000).map(|_| b.delay(10)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(5)));
        let below_half = delays
            .iter()
            .filter(|d| **d < Duration::from_millis(2500))
            .count();
        assert!(
            (400..600).contains(&below_half),
            "full jitter is uniform: {below_half}/1000 below half"
        );
    }
}
