//! Rate limits as the venues enforce them, and a count of every violation so tests can assert
//! that a well-behaved client caused none.
//!
//! Binance: fixed windows (aligned to the window length, as the venue's "top of the minute")
//! of request weight per IP and of orders per account; a 429 with `Retry-After` when exceeded,
//! and an IP ban (418) that doubles each time for clients that keep going.
//! Bybit: 600 requests per 5 s per IP (then 403 and a ban) and per-UID, per-endpoint
//! per-second limits (`retCode` 10006), reported in `X-Bapi-Limit*` headers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn real_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Violations counted by the simulator (what a client must keep at zero).
#[derive(Debug, Default)]
pub struct Violations {
    /// Requests answered 429 (Binance weight or order count, Bybit 10006).
    pub rate_limited: AtomicU64,
    /// Bans imposed (Binance 418, Bybit IP 403).
    pub bans: AtomicU64,
    /// Requests refused because the client was banned.
    pub while_banned: AtomicU64,
    /// When each of those arrived (Unix ms) and on which path, the latest `REFUSALS_KEPT`: a
    /// check can tell the requests already on the wire when the client learnt of a ban from
    /// those sent after.
    refused_at: Mutex<std::collections::VecDeque<(i64, Path)>>,
}

const REFUSALS_KEPT: usize = 100_000;

/// Where a request came: REST or the WebSocket API (Binance's shares the IP weight and ban).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Rest,
    WsApi,
}

impl Path {
    pub fn name(self) -> &'static str {
        match self {
            Path::Rest => "rest",
            Path::WsApi => "ws-api",
        }
    }
}

impl Violations {
    fn refused_while_banned(&self, now_ms: i64, path: Path) {
        self.while_banned.fetch_add(1, Ordering::Relaxed);
        let mut at = self.refused_at.lock().unwrap_or_else(|p| p.into_inner());
        if at.len() == REFUSALS_KEPT {
            at.pop_front();
        }
        at.push_back((now_ms, path));
    }

    /// Arrival times (Unix ms) and paths of the requests refused while banned, oldest first.
    pub fn refusals(&self) -> Vec<(i64, Path)> {
        let at = self.refused_at.lock().unwrap_or_else(|p| p.into_inner());
        at.iter().copied().collect()
    }

    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.rate_limited.load(Ordering::Relaxed),
            self.bans.load(Ordering::Relaxed),
            self.while_banned.load(Ordering::Relaxed),
        )
    }
}

/// A fixed window counter.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    index: i64,
    used: u32,
}

impl Window {
    fn roll(&mut self, length_ms: i64, now_ms: i64) {
        let index = now_ms / length_ms.max(1);
        if index != self.index {
            self.index = index;
            self.used = 0;
        }
    }

    fn reset_in_ms(&self, length_ms: i64, now_ms: i64) -> i64 {
        (self.index + 1) * length_ms - now_ms
    }
}

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// 429: wait `retry_after_s` seconds.
    TooMany {
        retry_after_s: u64,
        orders: bool,
    },
    /// Banned until `until_ms` (Unix ms); `retry_after_s` seconds from now.
    Banned {
        until_ms: i64,
        retry_after_s: u64,
    },
}

#[derive(Debug, Default)]
struct BinanceState {
    weight: Window,
    /// Orders per account (one simulated account per venue).
    orders: Window,
    violations_in_window: u32,
    violation_window: i64,
    banned_until_ms: Option<i64>,
    bans: u32,
    forced_429: u32,
}

/// One Binance market's limits (spot and USD-M are limited separately).
#[derive(Debug)]
pub struct BinanceLimits {
    pub weight_limit: u32,
    pub weight_window: Duration,
    pub order_limit: u32,
    pub order_window: Duration,
    ban_base: Duration,
    violations_before_ban: u32,
    state: Mutex<BinanceState>,
    pub violations: Violations,
}

/// Usage to report in `X-MBX-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub weight: u32,
    pub orders: u32,
}

impl BinanceLimits {
    pub fn new(
        weight_limit: u32,
        weight_window: Duration,
        order_limit: u32,
        order_window: Duration,
        ban_base: Duration,
        violations_before_ban: u32,
    ) -> Self {
        BinanceLimits {
            weight_limit,
            weight_window,
            order_limit,
            order_window,
            ban_base,
            violations_before_ban,
            state: Mutex::new(BinanceState::default()),
            violations: Violations::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BinanceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accounts one request of `weight` (and one order if `order`).
    /// `orders`: what the request counts on the order-count window (0: not an order).
    pub fn check(&self, weight: u32, orders: u32) -> (Verdict, Usage) {
        self.check_on(weight, orders, Path::Rest)
    }

    /// As [`BinanceLimits::check`], for a request that came on `path`.
    pub fn check_on(&self, weight: u32, orders: u32, path: Path) -> (Verdict, Usage) {
        let now = real_ms();
        let weight_ms = self.weight_window.as_millis() as i64;
        let order_ms = self.order_window.as_millis() as i64;
        let mut s = self.lock();
        s.weight.roll(weight_ms, now);
        s.orders.roll(order_ms, now);
        let usage = |s: &BinanceState| Usage {
            weight: s.weight.used,
            orders: s.orders.used,
        };
        if let Some(until) = s.banned_until_ms {
            if now < until {
                self.violations.refused_while_banned(now, path);
                let retry_after_s = ((until - now) as u64).div_ceil(1000);
                return (
                    Verdict::Banned {
                        until_ms: until,
                        retry_after_s,
                    },
                    usage(&s),
                );
            }
            s.banned_until_ms = None;
        }
        let over_weight = s.weight.used + weight > self.weight_limit;
        let over_orders = orders > 0 && s.orders.used + orders > self.order_limit;
        let forced = s.forced_429 > 0;
        if over_weight || over_orders || forced {
            if forced {
                s.forced_429 -= 1;
            } else {
                self.violations.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            if s.violation_window != s.weight.index {
                s.violation_window = s.weight.index;
                s.violations_in_window = 0;
            }
            s.violations_in_window += 1;
            if !forced && s.violations_in_window > self.violations_before_ban {
                return (self.ban_locked(&mut s, now), usage(&s));
            }
            let window = if over_orders && !over_weight {
                (s.orders, order_ms)
            } else {
                (s.weight, weight_ms)
            };
            let retry_after_s = (window.0.reset_in_ms(window.1, now).max(0) as u64)
                .div_ceil(1000)
                .max(1);
            return (
                Verdict::TooMany {
                    retry_after_s,
                    orders: over_orders && !over_weight,
                },
                usage(&s),
            );
        }
        s.weight.used += weight;
        s.orders.used += orders;
        (Verdict::Allowed, usage(&s))
    }

    fn ban_locked(&self, s: &mut BinanceState, now: i64) -> Verdict {
        let length = self
            .ban_base
            .saturating_mul(1u32 << s.bans.min(11))
            .min(Duration::from_secs(3 * 86_400));
        s.bans += 1;
        self.violations.bans.fetch_add(1, Ordering::Relaxed);
        let until = now + length.as_millis() as i64;
        s.banned_until_ms = Some(until);
        Verdict::Banned {
            until_ms: until,
            retry_after_s: length.as_secs().max(1),
        }
    }

    /// Fault control: the next `n` requests get 429 (not counted as client violations).
    pub fn force_429(&self, n: u32) {
        self.lock().forced_429 = n;
    }

    /// Fault control: ban now for `length` (not counted as a client violation).
    pub fn force_ban(&self, length: Duration) {
        self.lock().banned_until_ms = Some(real_ms() + length.as_millis() as i64);
    }

    pub fn lift_ban(&self) {
        self.lock().banned_until_ms = None;
    }
}

#[derive(Debug, Default)]
struct BybitState {
    ip: Window,
    banned_until_ms: Option<i64>,
    uid: HashMap<&'static str, Window>,
    forced_10006: u32,
}

/// What Bybit reports for an endpoint in `X-Bapi-Limit*` headers.
#[derive(Debug, Clone, Copy)]
pub struct BybitUsage {
    pub limit: u32,
    pub remaining: u32,
    pub reset_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BybitVerdict {
    Allowed,
    /// retCode 10006.
    TooMany,
    /// HTTP 403 until `until_ms`.
    IpBanned {
        until_ms: i64,
    },
}

#[derive(Debug)]
pub struct BybitLimits {
    ip_limit: u32,
    ip_window: Duration,
    ip_ban: Duration,
    uid_window: Duration,
    state: Mutex<BybitState>,
    pub violations: Violations,
}

impl BybitLimits {
    pub fn new(ip_limit: u32, ip_window: Duration, ip_ban: Duration, uid_window: Duration) -> Self {
        BybitLimits {
            ip_limit,
            ip_window,
            ip_ban,
            uid_window,
            state: Mutex::default(),
            violations: Violations::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BybitState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accounts one request; `endpoint` with its per-UID limit for signed calls.
    pub fn check(
        &self,
        endpoint: Option<(&'static str, u32)>,
    ) -> (BybitVerdict, Option<BybitUsage>) {
        let (verdict, usage, _) = self.check_n(endpoint, 1);
        (verdict, usage)
    }

    /// Accounts a request of `n` orders (a batch consumes its limit by the orders it holds):
    /// allowed if any room is left, and then how many of the `n` fit (the venue fails the rest).
    pub fn check_n(
        &self,
        endpoint: Option<(&'static str, u32)>,
        n: u32,
    ) -> (BybitVerdict, Option<BybitUsage>, u32) {
        let (verdict, usage, granted) = self.check_locked(endpoint, n.max(1));
        (verdict, usage, granted)
    }

    fn check_locked(
        &self,
        endpoint: Option<(&'static str, u32)>,
        n: u32,
    ) -> (BybitVerdict, Option<BybitUsage>, u32) {
        let now = real_ms();
        let mut s = self.lock();
        if let Some(until) = s.banned_until_ms {
            if now < until {
                self.violations.refused_while_banned(now, Path::Rest);
                return (BybitVerdict::IpBanned { until_ms: until }, None, 0);
            }
            s.banned_until_ms = None;
        }
        s.ip.roll(self.ip_window.as_millis() as i64, now);
        s.ip.used += 1;
        if s.ip.used > self.ip_limit {
            self.violations.bans.fetch_add(1, Ordering::Relaxed);
            let until = now + self.ip_ban.as_millis() as i64;
            s.banned_until_ms = Some(until);
            return (BybitVerdict::IpBanned { until_ms: until }, None, 0);
        }
        let Some((name, limit)) = endpoint else {
            return (BybitVerdict::Allowed, None, n);
        };
        let uid_ms = self.uid_window.as_millis() as i64;
        let forced = s.forced_10006 > 0;
        let window = s.uid.entry(name).or_default();
        window.roll(uid_ms, now);
        let reset_ms = (window.index + 1) * uid_ms;
        if window.used >= limit || forced {
            if forced {
                s.forced_10006 -= 1;
            } else {
                self.violations.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            return (
                BybitVerdict::TooMany,
                Some(BybitUsage {
                    limit,
                    remaining: 0,
                    reset_ms,
                }),
                0,
            );
        }
        let granted = n.min(limit - window.used);
        window.used += granted;
        let remaining = limit - window.used;
        (
            BybitVerdict::Allowed,
            Some(BybitUsage {
                limit,
                remaining,
                reset_ms: now.max(reset_ms - uid_ms),
            }),
            granted,
        )
    }

    pub fn force_10006(&self, n: u32) {
        self.lock().forced_10006 = n;
    }

    pub fn force_ban(&self, length: Duration) {
        self.lock().banned_until_ms = Some(real_ms() + length.as_millis() as i64);
    }

    pub fn lift_ban(&self) {
        self.lock().banned_until_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_weight_429_then_escalating_ban() {
        let limits = BinanceLimits::new(
            10,
            Duration::from_secs(60),
            100,
            Duration::from_secs(10),
            Duration::from_secs(120),
            2,
        );
        assert_eq!(limits.check(6, 0).0, Verdict::Allowed);
        assert_eq!(limits.check(4, 0).1.weight, 10);
        // Over the limit: 429 twice, then a ban.
        assert!(matches!(
            limits.check(1, 0).0,
            Verdict::TooMany { orders: false, .. }
        ));
        assert!(matches!(limits.check(1, 0).0, Verdict::TooMany { .. }));
        let Verdict::Banned { retry_after_s, .. } = limits.check(1, 0).0 else {
            panic!("expected a ban")
        };
        assert_eq!(retry_after_s, 120);
        assert!(matches!(limits.check(1, 0).0, Verdict::Banned { .. }));
        assert_eq!(limits.violations.snapshot(), (3, 1, 1));
        let refused = limits.violations.refusals();
        assert_eq!(refused.len(), 1);
        assert!((refused[0].0 - real_ms()).abs() < 60_000);
        assert_eq!(refused[0].1, Path::Rest);
    }

    #[test]
    fn binance_order_count_is_separate_from_weight() {
        let limits = BinanceLimits::new(
            1000,
            Duration::from_secs(60),
            2,
            Duration::from_secs(10),
            Duration::from_secs(1),
            5,
        );
        assert_eq!(limits.check(1, 1).0, Verdict::Allowed);
        assert_eq!(limits.check(1, 1).0, Verdict::Allowed);
        assert!(matches!(
            limits.check(1, 1).0,
            Verdict::TooMany { orders: true, .. }
        ));
        assert_eq!(
            limits.check(1, 0).0,
            Verdict::Allowed,
            "non-order requests still pass"
        );
    }

    #[test]
    fn forced_faults_are_not_client_violations() {
        let limits = BinanceLimits::new(
            1000,
            Duration::from_secs(60),
            100,
            Duration::from_secs(10),
            Duration::from_secs(1),
            0,
        );
        limits.force_429(1);
        assert!(matches!(limits.check(1, 0).0, Verdict::TooMany { .. }));
        assert_eq!(limits.check(1, 0).0, Verdict::Allowed);
        assert_eq!(limits.violations.snapshot(), (0, 0, 0));
    }

    #[test]
    fn bybit_uid_and_ip_limits() {
        let limits = BybitLimits::new(
            5,
            Duration::from_secs(5),
            Duration::from_secs(600),
            Duration::from_secs(1),
        );
        let create = Some(("order/create", 2));
        assert_eq!(limits.check(create).1.unwrap().remaining, 1);
        assert_eq!(limits.check(create).1.unwrap().remaining, 0);
        assert_eq!(limits.check(create).0, BybitVerdict::TooMany);
        assert_eq!(limits.check(None).0, BybitVerdict::Allowed);
        assert_eq!(limits.check(None).0, BybitVerdict::Allowed);
        assert!(
            matches!(limits.check(None).0, BybitVerdict::IpBanned { .. }),
            "sixth request in the window"
        );
        assert_eq!(limits.violations.snapshot(), (1, 1, 0));
    }
}

/// WebSocket connection attempts per window per IP (Binance 300 / 5 min, Bybit 500 / 5 min);
/// attempts beyond it are refused with HTTP 429 and counted.
#[derive(Debug)]
pub struct ConnectLimiter {
    window: Duration,
    limit: u32,
    state: Mutex<Window>,
    pub refused: AtomicU64,
}

impl ConnectLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        ConnectLimiter {
            window,
            limit,
            state: Mutex::default(),
            refused: AtomicU64::new(0),
        }
    }

    /// Accounts one connection attempt; `false` if it must be refused.
    pub fn admit(&self) -> bool {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        w.roll(self.window.as_millis() as i64, real_ms());
        if w.used >= self.limit {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        w.used += 1;
        true
    }
}

/// Middleware: applies a [`ConnectLimiter`] to WebSocket upgrades (plain requests pass).
pub async fn limit_connects(
    axum::extract::State(limiter): axum::extract::State<std::sync::Arc<ConnectLimiter>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let upgrade = request
        .headers()
        .get(axum::http::header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if upgrade && !limiter.admit() {
        return (
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too many connection attempts",
        )
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod connect_tests {
    use super::*;

    #[test]
    fn refuses_beyond_the_window_limit_and_counts() {
        let limiter = ConnectLimiter::new(2, Duration::from_secs(300));
        assert!(limiter.admit() && limiter.admit());
        assert!(!limiter.admit());
        assert_eq!(limiter.refused.load(Ordering::Relaxed), 1);
    }
}
