//! A venue's rate limits, enforced before anything is sent (RESL/CONN: "in normal operation the
//! client never exceeds a limit").
//!
//! Each limit is a window: Binance counts in fixed windows aligned to the venue clock (a 1 min
//! window resets at the top of the minute), Bybit in rolling windows. A request names the
//! limits it costs and waits until all of them have room. The venue's own count, read from
//! response headers, corrects ours (other processes on the same IP or account count too). Order
//! traffic may use the whole budget; other requests leave `reserve` of each limit to it, so that
//! a burst of market-data requests never delays an order or a cancel.
//!
//! A 429 closes the gate until its Retry-After; a ban (Binance 418, Bybit 403) closes it until
//! the ban ends, and every request fails at once with [`Error::Banned`] meanwhile.
//!
//! What the venue tells us is bounded before it is believed (a hostile or broken answer must
//! not stop trading or exhaust memory): counts and limits above [`MAX_COUNT`] are ignored (and
//! logged once), a back-off lasts at most [`MAX_RETRY_AFTER`], a ban at most [`MAX_BAN`], and no
//! allocation is sized by a value read from the wire (a rolling window keeps one entry per
//! spending, not per unit).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use crate::error::VenueReply;
use crate::model::Venue;
use crate::{Error, Result};

/// The largest count or limit believed from a venue's header. The venues' own limits are far
/// below it (Binance spot: 6 000 weight a minute, 160 000 orders a day, 61 000 raw requests in
/// 5 minutes; Bybit: at most a few hundred requests a second per endpoint, 600 per 5 s per IP);
/// anything larger is a broken or hostile answer and is ignored.
pub const MAX_COUNT: u64 = 1_000_000;

/// The longest back-off a 429 (Binance Retry-After, Bybit `X-Bapi-Limit-Reset-Timestamp`) can
/// impose. Binance's Retry-After on a 429 is the time "to prevent a ban", i.e. until the current
/// window (at most a minute for request weight) ends; Bybit's limits are per second. Five
/// minutes covers every window either venue uses for request limits.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(5 * 60);

/// The longest ban believed: Binance documents that "IP bans are tracked and scale in duration
/// for repeat offenders, from 2 minutes to 3 days"; Bybit's IP ban (403) lasts at least 10
/// minutes. A longer ban read from a header or a message is cut to this.
pub const MAX_BAN: Duration = Duration::from_secs(3 * 86_400);

/// A ban that does not say when it ends is taken as the shortest one (Binance's 2 minutes).
pub const UNSAID_BAN: Duration = Duration::from_secs(120);

/// `until_ms`, but at most `limit` after `now_ms` (saturating: never overflows).
pub fn capped_until(now_ms: i64, until_ms: i64, limit: Duration) -> i64 {
    until_ms.min(now_ms.saturating_add(limit.as_millis() as i64))
}

/// The venue clock in Unix milliseconds (the clock-sync estimate), which aligns fixed windows.
pub type MsClock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Resets at multiples of its length on the venue clock (Binance).
    Fixed,
    /// Counts the requests of the last `length` (Bybit).
    Rolling,
}

/// Who is asking: orders and cancels come first when the budget is short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Order,
    Data,
}

/// Index of a limit in its limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LimitId(pub usize);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSpec {
    /// As health reports it, e.g. `REQUEST_WEIGHT 1m` or `POST /v5/order/create`.
    pub name: String,
    pub kind: WindowKind,
    pub length: Duration,
    pub limit: u64,
}

/// One limit's usage, for `health()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitUsage {
    pub name: String,
    pub used: u64,
    pub limit: u64,
    /// Until the window (fixed) or its oldest request (rolling) frees room.
    pub resets_in: Duration,
}

/// How close to either edge of a fixed window (a tenth of the window, at most 500 ms) the venue
/// may count a request in the neighbouring window: our clock estimate may be a little off and
/// the request takes time to arrive. A request sent there is counted in both windows, so a burst
/// at the end of one window cannot land in the next on top of that window's budget, while a
/// request with room in both goes at once.
fn guard_ms(length_ms: i64) -> i64 {
    (length_ms / 10).clamp(1, 500)
}

/// A fixed window's count, with what its edges put in the windows beside it.
#[derive(Debug, Clone, Copy)]
struct Fixed {
    index: i64,
    used: u64,
    /// Spent near the start: possibly counted by the venue in the previous window.
    prev: u64,
    /// Spent near the end: possibly counted in the next window, which starts with it.
    next: u64,
}

#[derive(Debug)]
struct Window {
    spec: LimitSpec,
    /// Fixed: the current window and what is counted in its neighbours.
    fixed: Fixed,
    /// Rolling: when units were spent (venue ms) and how many, oldest first; one entry per
    /// spending, so its size never depends on a count read from the wire.
    rolling: VecDeque<(i64, u64)>,
    /// Rolling: the units in `rolling`.
    rolling_used: u64,
    /// No longer the venue's limit (replaced by what it published): not counted, not shown.
    retired: bool,
}

impl Window {
    fn length_ms(&self) -> i64 {
        self.spec.length.as_millis().max(1) as i64
    }

    fn used(&mut self, now: i64) -> u64 {
        match self.spec.kind {
            WindowKind::Fixed => {
                let index = now.div_euclid(self.length_ms());
                let f = self.fixed;
                if index != f.index {
                    let follows = f.index.checked_add(1) == Some(index);
                    self.fixed = Fixed {
                        index,
                        used: if follows { f.next } else { 0 },
                        prev: if follows { f.used } else { 0 },
                        next: 0,
                    };
                }
                self.fixed.used
            }
            WindowKind::Rolling => {
                let horizon = now.saturating_sub(self.length_ms());
                while let Some((_, n)) = self.rolling.front().filter(|(t, _)| *t <= horizon) {
                    self.rolling_used = self.rolling_used.saturating_sub(*n);
                    self.rolling.pop_front();
                }
                self.rolling_used
            }
        }
    }

    /// The most `priority` may use of this limit.
    fn ceiling(&self, priority: Priority, reserve: f64) -> u64 {
        match priority {
            Priority::Order => self.spec.limit,
            Priority::Data => {
                let kept = (self.spec.limit as f64 * reserve).ceil() as u64;
                self.spec.limit.saturating_sub(kept).max(1)
            }
        }
    }

    /// Milliseconds until `cost` more would fit under `ceiling` (0: now).
    fn wait_ms(&mut self, now: i64, cost: u64, ceiling: u64) -> i64 {
        let used = self.used(now);
        match self.spec.kind {
            WindowKind::Fixed => {
                let (length, guard) = (self.length_ms(), guard_ms(self.length_ms()));
                let start = self.fixed.index.saturating_mul(length);
                let (at_start, at_end) = self.edges(now);
                if used.saturating_add(cost) > ceiling
                    || (at_end && self.fixed.next.saturating_add(cost) > ceiling)
                {
                    start
                        .saturating_add(length)
                        .saturating_add(guard)
                        .saturating_sub(now)
                } else if at_start && self.fixed.prev.saturating_add(cost) > ceiling {
                    start.saturating_add(guard).saturating_sub(now)
                } else {
                    0
                }
            }
            WindowKind::Rolling if used.saturating_add(cost) <= ceiling => 0,
            WindowKind::Rolling => {
                // The oldest units must age out until `cost` fits.
                let excess = used.saturating_add(cost).saturating_sub(ceiling);
                let mut freed = 0u64;
                for (t, n) in &self.rolling {
                    freed = freed.saturating_add(*n);
                    if freed >= excess {
                        return t.saturating_add(self.length_ms()).saturating_sub(now);
                    }
                }
                // More than the whole limit: one window from now is the best there is.
                self.length_ms()
            }
        }
    }

    /// Whether `now` is in the guard at the start or at the end of the current fixed window.
    fn edges(&self, now: i64) -> (bool, bool) {
        let (length, guard) = (self.length_ms(), guard_ms(self.length_ms()));
        let start = self.fixed.index.saturating_mul(length);
        (
            now < start.saturating_add(guard),
            now >= start.saturating_add(length).saturating_sub(guard),
        )
    }

    fn spend(&mut self, now: i64, cost: u64) {
        self.used(now);
        match self.spec.kind {
            WindowKind::Fixed => {
                let (at_start, at_end) = self.edges(now);
                self.fixed.used = self.fixed.used.saturating_add(cost);
                if at_start {
                    self.fixed.prev = self.fixed.prev.saturating_add(cost);
                }
                if at_end {
                    self.fixed.next = self.fixed.next.saturating_add(cost);
                }
            }
            WindowKind::Rolling => self.add_rolling(now, cost),
        }
    }

    fn add_rolling(&mut self, now: i64, units: u64) {
        if units == 0 {
            return;
        }
        match self.rolling.back_mut() {
            Some((t, n)) if *t == now => *n = n.saturating_add(units),
            _ => self.rolling.push_back((now, units)),
        }
        self.rolling_used = self.rolling_used.saturating_add(units);
    }

    fn resets_in(&mut self, now: i64) -> Duration {
        let used = self.used(now);
        let ms = match self.spec.kind {
            WindowKind::Fixed => (self.fixed.index.saturating_add(1))
                .saturating_mul(self.length_ms())
                .saturating_sub(now),
            WindowKind::Rolling if used > 0 => self.rolling.front().map_or(0, |(t, _)| {
                t.saturating_add(self.length_ms()).saturating_sub(now)
            }),
            WindowKind::Rolling => 0,
        };
        Duration::from_millis(ms.max(0) as u64)
    }
}

/// What the limiter did, for the connector's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitEvent {
    /// A request waits this long for room in `limit`.
    Waiting { limit: String, delay: Duration },
    /// The venue answered 429: nothing is sent until `until_ms`.
    BackingOff { until_ms: i64 },
    /// The venue banned us until `until_ms`.
    Banned { until_ms: i64 },
}

/// A back-off or ban is a length of time the venue names (Retry-After, or an end on its clock):
/// it is held on the local monotonic clock, so that a new estimate of the venue clock's offset
/// (a resync after the venue's clock jumped) neither shortens nor lengthens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Open,
    /// A 429: wait until then (and the end as the venue named it, venue ms, for reports).
    BackOff(Instant, i64),
    /// A ban: fail until then (and its end in venue ms).
    Banned(Instant, i64),
}

/// What one look at the limits found.
enum Attempt {
    Spent,
    /// A back-off or ban holds everything for `left` ms (its end in venue ms).
    Gate {
        banned: bool,
        left: i64,
        until_ms: i64,
    },
    /// `limit` has no room for `wait` ms.
    Full {
        wait: i64,
        limit: String,
    },
}

struct State {
    windows: Vec<Window>,
    gate: Gate,
}

/// The limits of one venue (one per connector; Binance spot and USD-M are separate venues).
pub struct Limiter {
    venue: Venue,
    clock: MsClock,
    /// Share of each limit kept for orders (0.1 = 10 %).
    reserve: f64,
    state: Mutex<State>,
    /// Woken when room may have appeared (headers lowered a count, a gate lifted).
    changed: Notify,
    events: broadcast::Sender<LimitEvent>,
    /// An absurd header value was ignored (logged once, not on every answer).
    warned_absurd: AtomicBool,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("venue", &self.venue)
            .field("reserve", &self.reserve)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    pub fn new(venue: Venue, clock: MsClock, reserve: f64) -> Limiter {
        Limiter {
            venue,
            clock,
            reserve: reserve.clamp(0.0, 0.5),
            state: Mutex::new(State {
                windows: Vec::new(),
                gate: Gate::Open,
            }),
            changed: Notify::new(),
            events: broadcast::channel(64).0,
            warned_absurd: AtomicBool::new(false),
        }
    }

    /// What the limiter does from now on: waits, back-offs, bans.
    pub fn subscribe(&self) -> broadcast::Receiver<LimitEvent> {
        self.events.subscribe()
    }

    /// The limits whose names start with `prefix` (e.g. every `REQUEST_WEIGHT` window).
    pub fn ids_with_prefix(&self, prefix: &str) -> Vec<LimitId> {
        self.ids_named(|name| name.starts_with(prefix))
    }

    /// The live windows whose name `pick` takes.
    pub fn ids_named(&self, pick: impl Fn(&str) -> bool) -> Vec<LimitId> {
        self.lock()
            .windows
            .iter()
            .enumerate()
            .filter(|(_, w)| !w.retired && pick(&w.spec.name))
            .map(|(k, _)| LimitId(k))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a limit, or updates the one with the same name (e.g. when exchangeInfo is re-read);
    /// what was already used in the current window stays counted.
    pub fn set_limit(&self, spec: LimitSpec) -> LimitId {
        let mut state = self.lock();
        if let Some(k) = state.windows.iter().position(|w| w.spec.name == spec.name) {
            state.windows[k].spec = spec;
            state.windows[k].retired = false;
            self.changed.notify_waiters();
            return LimitId(k);
        }
        state.windows.push(Window {
            spec,
            fixed: Fixed {
                index: i64::MIN,
                used: 0,
                prev: 0,
                next: 0,
            },
            rolling: VecDeque::new(),
            rolling_used: 0,
            retired: false,
        });
        LimitId(state.windows.len().saturating_sub(1))
    }

    /// Makes `specs` the venue's whole set of limits (e.g. those exchangeInfo publishes): each
    /// is added or updated, and every other limit (a documented default the venue no longer
    /// uses) is retired.
    pub fn replace_limits(&self, specs: Vec<LimitSpec>) {
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        for spec in specs {
            self.set_limit(spec);
        }
        let mut state = self.lock();
        for window in state.windows.iter_mut() {
            if !names.contains(&window.spec.name) {
                window.retired = true;
            }
        }
        self.changed.notify_waiters();
    }

    pub fn find(&self, name: &str) -> Option<LimitId> {
        self.lock()
            .windows
            .iter()
            .position(|w| !w.retired && w.spec.name == name)
            .map(LimitId)
    }

    /// Waits until every `(limit, cost)` fits, then spends them all at once. Fails at once
    /// while banned; a cost larger than a limit is refused instead of waiting forever.
    pub async fn acquire(&self, costs: &[(LimitId, u64)], priority: Priority) -> Result<()> {
        self.acquire_within(costs, priority, None).await
    }

    /// As [`Limiter::acquire`], but while the venue's back-off (a 429) or a full window would
    /// hold the request longer than `patience`, fails at once with [`Error::RateLimited`] and
    /// the time left: a caller with a timeout is told instead of being held past it.
    pub async fn acquire_within(
        &self,
        costs: &[(LimitId, u64)],
        priority: Priority,
        patience: Option<Duration>,
    ) -> Result<()> {
        self.wait_for(costs, priority, patience, false).await
    }

    /// As [`Limiter::acquire`], but a ban is waited out instead of failing: for requests that
    /// must go out once it is over (a stream's subscription on the venue's WebSocket API, which
    /// counts against the same weight).
    pub async fn acquire_after_ban(
        &self,
        costs: &[(LimitId, u64)],
        priority: Priority,
    ) -> Result<()> {
        self.wait_for(costs, priority, None, true).await
    }

    /// Spends `costs` now if they fit and no gate is closed; otherwise how long until they
    /// may (a ban's or back-off's time left, or the window's), nothing spent. For a caller
    /// that must not block (a connection's send loop).
    pub fn try_acquire(
        &self,
        costs: &[(LimitId, u64)],
        priority: Priority,
    ) -> Result<std::result::Result<(), Duration>> {
        Ok(match self.attempt(costs, priority)? {
            Attempt::Spent => Ok(()),
            Attempt::Gate { left, .. } | Attempt::Full { wait: left, .. } => {
                Err(Duration::from_millis(left.max(1) as u64))
            }
        })
    }

    async fn wait_for(
        &self,
        costs: &[(LimitId, u64)],
        priority: Priority,
        patience: Option<Duration>,
        through_ban: bool,
    ) -> Result<()> {
        let mut reported = false;
        let patient = |ms: i64| patience.is_none_or(|p| ms <= p.as_millis() as i64);
        loop {
            // Registered before checking, so a wake-up between check and wait is not lost.
            let notified = self.changed.notified();
            let wait_ms = match self.attempt(costs, priority)? {
                Attempt::Spent => return Ok(()),
                Attempt::Gate {
                    banned: true,
                    left,
                    until_ms,
                } => {
                    if !through_ban {
                        return Err(
                            self.banned(until_ms, "banned: requests stopped until the ban ends")
                        );
                    }
                    left
                }
                Attempt::Gate { left, .. } if !patient(left) => {
                    return Err(self.too_long("backing off after the venue's 429", left));
                }
                Attempt::Gate { left, .. } => left,
                // Room comes later than the caller may wait: told now, not held past it.
                Attempt::Full { wait, limit } if !patient(wait) => {
                    return Err(self.too_long(&format!("no room in the {limit} limit"), wait));
                }
                Attempt::Full { wait, limit } => {
                    if !reported {
                        reported = true;
                        let delay = Duration::from_millis(wait as u64);
                        let _ = self.events.send(LimitEvent::Waiting { limit, delay });
                    }
                    wait
                }
            };
            let delay = Duration::from_millis(wait_ms.max(1) as u64);
            tracing::debug!(venue = %self.venue, ?delay, "rate limit: waiting for room");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = notified => {}
            }
        }
    }

    /// One look at the gate and the windows: spends the costs if everything fits.
    fn attempt(&self, costs: &[(LimitId, u64)], priority: Priority) -> Result<Attempt> {
        let mut state = self.lock();
        let now = (self.clock)();
        match gate_left(state.gate) {
            Some((banned, left, until_ms)) => {
                return Ok(Attempt::Gate {
                    banned,
                    left,
                    until_ms,
                });
            }
            None => state.gate = Gate::Open,
        }
        let mut wait = 0;
        let mut blocking = String::new();
        for (id, cost) in costs {
            let window = state
                .windows
                .get_mut(id.0)
                .ok_or_else(|| Error::invalid_argument("limit", format!("no limit {}", id.0)))?;
            if window.retired {
                continue;
            }
            if *cost > window.spec.limit {
                return Err(Error::invalid_argument(
                    "weight",
                    format!(
                        "{cost} exceeds the whole {} limit of {}",
                        window.spec.name, window.spec.limit
                    ),
                ));
            }
            let ceiling = window.ceiling(priority, self.reserve).max(*cost);
            let this = window.wait_ms(now, *cost, ceiling);
            if this > wait {
                wait = this;
                blocking.clone_from(&window.spec.name);
            }
        }
        if wait > 0 {
            return Ok(Attempt::Full {
                wait,
                limit: blocking,
            });
        }
        for (id, cost) in costs {
            state.windows[id.0].spend(now, *cost);
        }
        Ok(Attempt::Spent)
    }

    /// The venue's count for a limit (from a response header) replaces ours when it is higher:
    /// others share the budget. A count from an earlier window is ignored.
    pub fn sync_used(&self, id: LimitId, used: u64) {
        if used > MAX_COUNT {
            self.absurd("used", used);
            return;
        }
        let mut state = self.lock();
        let now = (self.clock)();
        let Some(window) = state.windows.get_mut(id.0) else {
            return;
        };
        let ours = window.used(now);
        if used > ours {
            match window.spec.kind {
                WindowKind::Fixed => window.fixed.used = used,
                WindowKind::Rolling => window.add_rolling(now, used.saturating_sub(ours)),
            }
        }
    }

    /// A rolling limit the venue reports as `(limit, remaining)` (Bybit `X-Bapi-Limit*`).
    pub fn sync_remaining(&self, id: LimitId, limit: u64, remaining: u64) {
        if limit > MAX_COUNT {
            self.absurd("limit", limit);
            return;
        }
        {
            let mut state = self.lock();
            if let Some(window) = state.windows.get_mut(id.0)
                && window.spec.limit != limit
                && limit > 0
            {
                window.spec.limit = limit;
            }
        }
        self.sync_used(id, limit.saturating_sub(remaining));
        self.changed.notify_waiters();
    }

    fn absurd(&self, what: &str, value: u64) {
        if !self.warned_absurd.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                venue = %self.venue,
                what,
                value,
                max = MAX_COUNT,
                "rate limit header value out of range: ignored (logged once)"
            );
        }
    }

    /// A 429 (or Bybit 10006): nothing is sent until `until_ms` (at most [`MAX_RETRY_AFTER`]
    /// from now).
    pub fn back_off_until(&self, until_ms: i64) {
        let now = (self.clock)();
        let until_ms = capped_until(now, until_ms, MAX_RETRY_AFTER);
        let end = local_deadline(until_ms.saturating_sub(now));
        let mut state = self.lock();
        state.gate = match state.gate {
            Gate::Banned(b, u) if b >= end => Gate::Banned(b, u),
            Gate::BackOff(b, u) if b >= end => Gate::BackOff(b, u),
            _ => Gate::BackOff(end, until_ms),
        };
        let _ = self.events.send(LimitEvent::BackingOff { until_ms });
    }

    /// A ban (Binance 418, Bybit 403): every request fails until `until_ms` (at most
    /// [`MAX_BAN`] from now).
    pub fn ban_until(&self, until_ms: i64) {
        let now = (self.clock)();
        let until_ms = capped_until(now, until_ms, MAX_BAN);
        let end = local_deadline(until_ms.saturating_sub(now));
        let mut state = self.lock();
        if !matches!(state.gate, Gate::Banned(b, _) if b >= end) {
            state.gate = Gate::Banned(end, until_ms);
        }
        let _ = self.events.send(LimitEvent::Banned { until_ms });
    }

    /// When the current ban ends (venue ms, as learnt), if banned now.
    pub fn banned_until(&self) -> Option<i64> {
        let gate = self.lock().gate;
        match gate_left(gate) {
            Some((true, _, until_ms)) => Some(until_ms),
            _ => None,
        }
    }

    /// A request refused because `why` holds it `wait_ms` (past its patience): the time to wait
    /// is its `retry_after`.
    fn too_long(&self, why: &str, wait_ms: i64) -> Error {
        let retry_after = Duration::from_millis(wait_ms.max(0) as u64);
        Error::RateLimited {
            reply: VenueReply {
                venue: self.venue,
                code: None,
                message: format!("{why} for {retry_after:?}, longer than the request may wait"),
                http_status: None,
                request: None,
            },
            retry_after: Some(retry_after),
        }
    }

    fn banned(&self, until_ms: i64, message: &str) -> Error {
        Error::Banned {
            reply: VenueReply {
                venue: self.venue,
                code: None,
                message: message.to_owned(),
                http_status: None,
                request: None,
            },
            until_ms,
        }
    }

    /// The limit `id` as it stands now (`None`: retired or unknown).
    pub fn spec(&self, id: LimitId) -> Option<LimitSpec> {
        let state = self.lock();
        state
            .windows
            .get(id.0)
            .filter(|w| !w.retired)
            .map(|w| w.spec.clone())
    }

    pub fn usage(&self) -> Vec<LimitUsage> {
        let mut state = self.lock();
        let now = (self.clock)();
        state
            .windows
            .iter_mut()
            .filter(|w| !w.retired)
            .map(|w| LimitUsage {
                name: w.spec.name.clone(),
                used: w.used(now),
                limit: w.spec.limit,
                resets_in: w.resets_in(now),
            })
            .collect()
    }
}

/// The part of a limiter's limits that one kind of request may take together (book resync
/// retries): what that kind spent is counted per limit over the limit's window, and a request
/// that would take it past `share` of any limit waits. Whatever else is asked for keeps the
/// rest, so a storm of failing books never starves orders or other data.
#[derive(Debug)]
pub struct Share {
    share: f64,
    spent: Mutex<VecDeque<(tokio::time::Instant, LimitId, u64)>>,
}

impl Share {
    pub fn new(share: f64) -> Share {
        Share {
            share: share.clamp(0.0, 1.0),
            spent: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes `costs` if they fit the share now; otherwise how long until enough of what was
    /// spent has left its window.
    pub fn take(
        &self,
        limiter: &Limiter,
        costs: &[(LimitId, u64)],
    ) -> std::result::Result<(), Duration> {
        let now = tokio::time::Instant::now();
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        let longest = costs
            .iter()
            .filter_map(|(id, _)| limiter.spec(*id).map(|s| s.length))
            .max()
            .unwrap_or_default();
        while spent
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) >= longest)
        {
            spent.pop_front();
        }
        let mut wait = Duration::ZERO;
        for (id, cost) in costs {
            let Some(spec) = limiter.spec(*id) else {
                continue;
            };
            let allowed = (spec.limit as f64 * self.share) as u64;
            // A request larger than the whole share goes alone, once per window.
            let fits = |used: u64| {
                if *cost > allowed {
                    used == 0
                } else {
                    used.saturating_add(*cost) <= allowed
                }
            };
            let recent: Vec<_> = spent
                .iter()
                .filter(|(at, i, _)| i == id && now.duration_since(*at) < spec.length)
                .map(|(at, _, c)| (*at, *c))
                .collect();
            let mut used: u64 = recent.iter().map(|(_, c)| c).sum();
            if fits(used) {
                continue;
            }
            // The oldest spending leaves its window first.
            for (at, c) in recent {
                used = used.saturating_sub(c);
                if fits(used) {
                    let left = at
                        .checked_add(spec.length)
                        .map_or(spec.length, |end| end.saturating_duration_since(now));
                    wait = wait.max(left);
                    break;
                }
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        spent.extend(costs.iter().map(|(id, c)| (now, *id, *c)));
        Ok(())
    }
}

/// The local instant `ms` from now (a far future if that overflows: never an early end).
fn local_deadline(ms: i64) -> Instant {
    let now = Instant::now();
    let ahead = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    now.checked_add(ahead)
        .or_else(|| now.checked_add(MAX_BAN))
        .unwrap_or(now)
}

/// `(banned, ms left, the end in venue ms)` while a gate holds.
fn gate_left(gate: Gate) -> Option<(bool, i64, i64)> {
    let (banned, end, until_ms) = match gate {
        Gate::Open => return None,
        Gate::BackOff(end, until_ms) => (false, end, until_ms),
        Gate::Banned(end, until_ms) => (true, end, until_ms),
    };
    let left = end.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return None;
    }
    // Rounded up: a gate with 0.4 ms left still holds.
    let ms = i64::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i64::MAX);
    Some((banned, ms, until_ms))
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic is on known values
mod tests {
    use super::*;

    /// Past the guard at the start of any window the tests use.
    const START_MS: i64 = 500;

    /// A venue clock that follows Tokio's (paused) time, starting at `start_ms`.
    fn clock(start_ms: i64) -> MsClock {
        let origin = Instant::now();
        Arc::new(move || start_ms + origin.elapsed().as_millis() as i64)
    }

    fn fixed(name: &str, secs: u64, limit: u64) -> LimitSpec {
        LimitSpec {
            name: name.into(),
            kind: WindowKind::Fixed,
            length: Duration::from_secs(secs),
            limit,
        }
    }

    fn rolling(name: &str, secs: u64, limit: u64) -> LimitSpec {
        LimitSpec {
            kind: WindowKind::Rolling,
            ..fixed(name, secs, limit)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_fixed_window_waits_for_the_next_boundary_of_the_venue_clock() {
        // 20 s into a minute: the window resets 40 s later, not 60 s.
        let minute_start = 28_333_333 * 60_000;
        let limiter = Limiter::new(Venue::Binance, clock(minute_start + 20_000), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 10));
        let start = Instant::now();
        limiter
            .acquire(&[(weight, 6)], Priority::Data)
            .await
            .unwrap();
        limiter
            .acquire(&[(weight, 4)], Priority::Data)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter
            .acquire(&[(weight, 1)], Priority::Data)
            .await
            .unwrap();
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(40_500),
            "the boundary and its guard"
        );
        assert_eq!(limiter.usage()[0].used, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_at_the_edge_of_a_fixed_window_counts_in_both_windows() {
        // 200 ms before the top of the minute the venue may count a request in either minute:
        // with room in both it goes at once, and the next minute starts with it counted.
        let minute_start = 28_333_333 * 60_000;
        let limiter = Limiter::new(Venue::Binance, clock(minute_start + 59_800), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 10));
        let start = Instant::now();
        for cost in [1, 9] {
            limiter
                .acquire(&[(weight, cost)], Priority::Data)
                .await
                .unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "room in both minutes");
        limiter
            .acquire(&[(weight, 1)], Priority::Data)
            .await
            .unwrap();
        // The next minute starts full (it may hold the burst), so the one after is the first
        // with room, past its own start guard.
        assert_eq!(start.elapsed(), Duration::from_millis(60_700));
        // A short window's guards are a tenth of it; at the start of a window whose predecessor
        // is full, a request waits for the guard to pass.
        let limiter = Limiter::new(Venue::Binance, clock(1_500), 0.0);
        let orders = limiter.set_limit(fixed("ORDERS 1S", 1, 10));
        limiter
            .acquire(&[(orders, 10)], Priority::Order)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(520)).await; // 2_020: the next window's start
        let start = Instant::now();
        limiter
            .acquire(&[(orders, 1)], Priority::Order)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(80));
    }

    #[tokio::test(start_paused = true)]
    async fn published_limits_replace_the_documented_defaults() {
        let limiter = Limiter::new(Venue::Binance, clock(0), 0.0);
        let default = limiter.set_limit(fixed("REQUEST_WEIGHT 1M", 60, 10));
        limiter.set_limit(fixed("ORDERS 10S", 10, 5));
        limiter.replace_limits(vec![fixed("REQUEST_WEIGHT 2S", 2, 10)]);
        let names: Vec<String> = limiter.usage().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["REQUEST_WEIGHT 2S"]);
        assert_eq!(limiter.find("REQUEST_WEIGHT 1M"), None);
        let now = limiter.ids_with_prefix("REQUEST_WEIGHT ");
        assert_eq!(now.len(), 1);
        // Three full windows of the published limit in about two seconds: the retired minute
        // window (even if a stale id still names it) holds nothing back.
        let start = Instant::now();
        for _ in 0..3 {
            let costs = [(now[0], 10), (default, 10)];
            limiter.acquire(&costs, Priority::Data).await.unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_rolling_window_frees_room_as_requests_age_out() {
        let limiter = Limiter::new(Venue::Bybit, clock(1_000_500), 0.0);
        let create = limiter.set_limit(rolling("POST /v5/order/create", 1, 3));
        let start = Instant::now();
        for k in 0..3 {
            limiter
                .acquire(&[(create, 1)], Priority::Order)
                .await
                .unwrap();
            tokio::time::advance(Duration::from_millis(100 * (k + 1))).await;
        }
        // Spent at +0, +100, +300 ms; now +600 ms: the first frees room at +1000.
        limiter
            .acquire(&[(create, 1)], Priority::Order)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
        limiter
            .acquire(&[(create, 1)], Priority::Order)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(1100));
    }

    #[tokio::test(start_paused = true)]
    async fn orders_may_use_the_reserve_that_data_requests_leave() {
        let limiter = Limiter::new(Venue::Binance, clock(START_MS), 0.2);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 100));
        limiter
            .acquire(&[(weight, 80)], Priority::Data)
            .await
            .unwrap();
        let start = Instant::now();
        limiter
            .acquire(&[(weight, 20)], Priority::Order)
            .await
            .unwrap();
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "the order used the reserve at once"
        );
        let costs = [(weight, 1)];
        tokio::time::timeout(
            Duration::from_secs(59),
            limiter.acquire(&costs, Priority::Data),
        )
        .await
        .expect_err("data waits for the next window");
    }

    #[tokio::test(start_paused = true)]
    async fn every_limit_of_a_request_must_have_room() {
        let limiter = Limiter::new(Venue::Binance, clock(START_MS), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 1000));
        let orders = limiter.set_limit(fixed("ORDERS 10s", 10, 2));
        let start = Instant::now();
        for _ in 0..3 {
            let costs = [(weight, 1), (orders, 1)];
            limiter.acquire(&costs, Priority::Order).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        let used: Vec<u64> = limiter.usage().iter().map(|u| u.used).collect();
        assert_eq!(used, vec![3, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_venue_count_from_headers_raises_ours() {
        let limiter = Limiter::new(Venue::Binance, clock(START_MS), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 100));
        limiter
            .acquire(&[(weight, 5)], Priority::Data)
            .await
            .unwrap();
        limiter.sync_used(weight, 99); // another process on this IP
        limiter.sync_used(weight, 50); // a stale, lower count is ignored
        assert_eq!(limiter.usage()[0].used, 99);
        let start = Instant::now();
        limiter
            .acquire(&[(weight, 2)], Priority::Data)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn bybit_limit_headers_set_the_limit_and_the_remaining_room() {
        let limiter = Limiter::new(Venue::Bybit, clock(START_MS), 0.0);
        let create = limiter.set_limit(rolling("POST /v5/order/create", 1, 10));
        limiter.sync_remaining(create, 5, 0);
        let usage = &limiter.usage()[0];
        assert_eq!((usage.used, usage.limit), (5, 5));
        let start = Instant::now();
        limiter
            .acquire(&[(create, 1)], Priority::Order)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_everything_until_retry_after_and_a_ban_fails_fast() {
        let clock = clock(10_000);
        let limiter = Limiter::new(Venue::Binance, clock.clone(), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 1000));
        limiter.back_off_until(clock() + 3_000);
        let start = Instant::now();
        limiter
            .acquire(&[(weight, 1)], Priority::Order)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(3));

        let until = clock() + 120_000;
        limiter.ban_until(until);
        limiter.back_off_until(clock() + 1_000); // a later 429 does not shorten the ban
        match limiter.acquire(&[(weight, 1)], Priority::Order).await {
            Err(Error::Banned { until_ms, .. }) => assert_eq!(until_ms, until),
            other => panic!("expected Banned, got {other:?}"),
        }
        assert_eq!(limiter.banned_until(), Some(until));
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(limiter.banned_until(), None);
        limiter
            .acquire(&[(weight, 1)], Priority::Order)
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_header_counts_are_ignored_and_size_no_allocation() {
        let limiter = Limiter::new(Venue::Bybit, clock(START_MS), 0.0);
        let create = limiter.set_limit(rolling("POST /v5/order/create", 1, 10));
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 6000));
        // Each of these once aborted the process (an allocation of 8 bytes per unit) or
        // overflowed; now they are ignored and the limits stay as they were.
        limiter.sync_remaining(create, 1_000_000_000_000, 0);
        limiter.sync_remaining(create, i64::MAX as u64, 0);
        limiter.sync_remaining(create, u64::MAX, 0);
        limiter.sync_used(create, 100_000_000);
        limiter.sync_used(weight, u64::MAX);
        limiter.sync_used(weight, 1_000_000_000_000);
        let usage: Vec<(u64, u64)> = limiter.usage().iter().map(|u| (u.used, u.limit)).collect();
        assert_eq!(usage, vec![(0, 10), (0, 6000)]);
        // A believable count is one entry however large it is.
        limiter.sync_used(create, MAX_COUNT);
        assert_eq!(limiter.lock().windows[create.0].rolling.len(), 1);
        assert_eq!(limiter.usage()[0].used, MAX_COUNT);
        let start = Instant::now();
        limiter
            .acquire(&[(weight, 1)], Priority::Order)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn back_offs_and_bans_are_capped_and_an_impatient_request_fails_at_once() {
        let clock = clock(10_000);
        let limiter = Limiter::new(Venue::Binance, clock.clone(), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 1000));
        // Retry-After: 999999 (11.6 days) holds at most MAX_RETRY_AFTER.
        limiter.back_off_until(clock() + 999_999_000);
        let start = Instant::now();
        match limiter
            .acquire_within(
                &[(weight, 1)],
                Priority::Order,
                Some(Duration::from_secs(10)),
            )
            .await
        {
            Err(Error::RateLimited {
                retry_after: Some(left),
                ..
            }) => assert_eq!(left, MAX_RETRY_AFTER),
            other => panic!("expected RateLimited, got {other:?}"),
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "failed at once");
        // Without patience the capped back-off is waited out.
        limiter
            .acquire(&[(weight, 1)], Priority::Order)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), MAX_RETRY_AFTER);
        // A back-off shorter than the patience is waited out.
        limiter.back_off_until(clock() + 2_000);
        limiter
            .acquire_within(
                &[(weight, 1)],
                Priority::Order,
                Some(Duration::from_secs(10)),
            )
            .await
            .unwrap();
        // A ban "until the end of time" ends MAX_BAN from now, without overflow.
        limiter.ban_until(i64::MAX);
        assert_eq!(
            limiter.banned_until(),
            Some(clock() + MAX_BAN.as_millis() as i64)
        );
        limiter.back_off_until(i64::MAX);
    }

    /// A ban and a back-off last the length the venue named even when the estimate of the
    /// venue's clock moves meanwhile (its clock jumped, the connector resynced): the soak found
    /// a ban held on the venue clock ending 2-3 s early after such a resync, and requests refused.
    #[tokio::test(start_paused = true)]
    async fn a_new_clock_estimate_neither_shortens_nor_lengthens_a_ban() {
        let skew = Arc::new(std::sync::atomic::AtomicI64::new(-3_000));
        let origin = Instant::now();
        let venue_clock: MsClock = {
            let skew = skew.clone();
            Arc::new(move || {
                1_000_000 + origin.elapsed().as_millis() as i64 + skew.load(Ordering::Relaxed)
            })
        };
        let limiter = Limiter::new(Venue::Binance, venue_clock.clone(), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 1000));
        limiter.ban_until(venue_clock() + 5_000);
        tokio::time::advance(Duration::from_secs(1)).await;
        skew.store(0, Ordering::Relaxed); // the estimate jumps 3 s ahead
        tokio::time::advance(Duration::from_millis(2_500)).await;
        assert!(matches!(
            limiter.acquire(&[(weight, 1)], Priority::Order).await,
            Err(Error::Banned { .. })
        ));
        // Reported as the venue named it; held for the length it named.
        assert_eq!(limiter.banned_until(), Some(1_000_000 - 3_000 + 5_000));
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert_eq!(limiter.banned_until(), None);
        limiter
            .acquire(&[(weight, 1)], Priority::Order)
            .await
            .unwrap();

        // A back-off too: 2 s named, 2 s waited, though the estimate moved back 3 s meanwhile.
        limiter.back_off_until(venue_clock() + 2_000);
        skew.store(-3_000, Ordering::Relaxed);
        let start = Instant::now();
        limiter
            .acquire(&[(weight, 1)], Priority::Order)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    /// A stream's WebSocket API requests share the REST weight and ban: `acquire_after_ban`
    /// waits a ban out instead of failing, and `try_acquire` says how long without waiting or
    /// spending.
    #[tokio::test(start_paused = true)]
    async fn a_ban_is_waited_out_by_requests_that_must_go_eventually() {
        let clock = clock(START_MS);
        let limiter = Limiter::new(Venue::Binance, clock.clone(), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 10));
        let cost = [(weight, 2)];
        limiter.ban_until(clock() + 3_000);
        assert_eq!(
            limiter.try_acquire(&cost, Priority::Data).unwrap(),
            Err(Duration::from_millis(3_000))
        );
        let start = Instant::now();
        limiter
            .acquire_after_ban(&cost, Priority::Data)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        // Spent once: 2 of 10. Four more fit, the fifth waits for the window.
        for _ in 0..4 {
            assert_eq!(limiter.try_acquire(&cost, Priority::Data).unwrap(), Ok(()));
        }
        let Err(wait) = limiter.try_acquire(&cost, Priority::Data).unwrap() else {
            panic!("the window is full")
        };
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(
            limiter
                .try_acquire(&[(weight, 11)], Priority::Data)
                .is_err()
        );
    }

    /// A full window that frees room only after the caller's patience fails the request at
    /// once with the time to wait; within the patience it waits.
    #[tokio::test(start_paused = true)]
    async fn a_window_full_for_longer_than_the_patience_fails_at_once() {
        let limiter = Limiter::new(Venue::Binance, clock(START_MS), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 1));
        let cost = [(weight, 1)];
        let patience = Some(Duration::from_secs(10));
        limiter
            .acquire_within(&cost, Priority::Order, patience)
            .await
            .unwrap();
        let start = Instant::now();
        match limiter
            .acquire_within(&cost, Priority::Order, patience)
            .await
        {
            Err(Error::RateLimited {
                retry_after: Some(left),
                reply,
            }) => {
                assert!(
                    left > Duration::from_secs(10) && left <= Duration::from_secs(61),
                    "{left:?}"
                );
                assert!(
                    reply.message.contains("REQUEST_WEIGHT 1m"),
                    "{}",
                    reply.message
                );
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "failed at once");
        // Nothing was spent by the refusal: once the window turns, the next one goes.
        tokio::time::advance(Duration::from_secs(55)).await;
        limiter
            .acquire_within(&cost, Priority::Order, patience)
            .await
            .unwrap();
        assert!(start.elapsed() <= Duration::from_secs(62));
    }

    #[tokio::test(start_paused = true)]
    async fn waits_back_offs_and_bans_are_reported() {
        let limiter = Limiter::new(Venue::Binance, clock(START_MS), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 1));
        let mut events = limiter.subscribe();
        limiter
            .acquire(&[(weight, 1)], Priority::Data)
            .await
            .unwrap();
        limiter
            .acquire(&[(weight, 1)], Priority::Data)
            .await
            .unwrap();
        limiter.back_off_until(70_000);
        limiter.ban_until(80_000);
        let seen: Vec<LimitEvent> = std::iter::from_fn(|| events.try_recv().ok()).collect();
        assert_eq!(
            seen,
            vec![
                LimitEvent::Waiting {
                    limit: "REQUEST_WEIGHT 1m".into(),
                    delay: Duration::from_secs(60)
                },
                LimitEvent::BackingOff { until_ms: 70_000 },
                LimitEvent::Banned { until_ms: 80_000 },
            ]
        );
        assert_eq!(limiter.ids_with_prefix("REQUEST_WEIGHT"), vec![weight]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cost_beyond_the_whole_limit_is_refused_not_awaited_forever() {
        let limiter = Limiter::new(Venue::Binance, clock(START_MS), 0.0);
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 10));
        let refused = limiter.acquire(&[(weight, 11)], Priority::Data).await;
        assert!(matches!(refused, Err(Error::InvalidArgument { .. })));
    }

    #[tokio::test(start_paused = true)]
    #[allow(clippy::disallowed_methods)] // a test's own tasks
    async fn concurrent_requests_never_exceed_a_window() {
        let limiter = Arc::new(Limiter::new(Venue::Binance, clock(START_MS), 0.1));
        let weight = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 50));
        let spent = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for k in 0..200u64 {
            let (limiter, spent) = (limiter.clone(), spent.clone());
            let priority = if k % 4 == 0 {
                Priority::Order
            } else {
                Priority::Data
            };
            tasks.push(tokio::spawn(async move {
                limiter.acquire(&[(weight, 1)], priority).await.unwrap();
                spent.lock().unwrap().push(Instant::now());
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let spent = spent.lock().unwrap();
        assert_eq!(spent.len(), 200);
        let origin = *spent.iter().min().unwrap();
        let mut per_window = std::collections::BTreeMap::<u64, u64>::new();
        for t in spent.iter() {
            *per_window
                .entry(t.duration_since(origin).as_secs() / 60)
                .or_default() += 1;
        }
        assert!(per_window.values().all(|n| *n <= 50), "{per_window:?}");
        // Data may use 45 of each 50 and orders the rest: five windows, none wasted.
        assert_eq!(per_window.len(), 5, "{per_window:?}");
    }

    /// 200 books failing forever, each retrying as soon as its backoff lets it: over ten
    /// minutes their snapshots never take more than a tenth of the weight in any minute.
    #[tokio::test(start_paused = true)]
    async fn retries_together_never_take_more_than_their_share() {
        use crate::book::live::retry_delay;
        let limiter = Limiter::new(Venue::Binance, clock(START_MS), 0.0);
        let id = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 6000));
        let share = Share::new(0.1);
        let start = Instant::now();
        let mut due: Vec<(Duration, u32)> = vec![(Duration::ZERO, 2); 200];
        let mut taken: Vec<(Duration, u64)> = Vec::new();
        let step = Duration::from_millis(100);
        let mut t = Duration::ZERO;
        while t < Duration::from_secs(600) {
            for book in &mut due {
                if book.0 > t {
                    continue;
                }
                match share.take(&limiter, &[(id, 50)]) {
                    Ok(()) => {
                        taken.push((t, 50));
                        book.1 += 1;
                        book.0 = t + retry_delay(book.1);
                    }
                    Err(wait) => book.0 = t + wait.max(step),
                }
            }
            tokio::time::advance(step).await;
            t = start.elapsed();
        }
        for (at, _) in &taken {
            let minute: u64 = taken
                .iter()
                .filter(|(t, _)| *t >= *at && *t < *at + Duration::from_secs(60))
                .map(|(_, w)| w)
                .sum();
            assert!(minute <= 600, "{minute} weight in the minute from {at:?}");
        }
        // The share is used, not starved: about 12 snapshots a minute go out.
        assert!(taken.len() >= 100, "{} retries in 10 minutes", taken.len());
    }

    #[test]
    fn a_request_larger_than_the_share_goes_alone_once_per_window() {
        let limiter = Limiter::new(Venue::Binance, clock(START_MS), 0.0);
        let id = limiter.set_limit(fixed("REQUEST_WEIGHT 1m", 60, 100));
        let share = Share::new(0.1);
        assert!(share.take(&limiter, &[(id, 50)]).is_ok());
        let wait = share.take(&limiter, &[(id, 50)]).unwrap_err();
        assert!(wait > Duration::from_secs(59) && wait <= Duration::from_secs(60));
    }
}
