//! Supervision: every long-lived task runs as a child of a [`Supervisor`], which restarts it
//! one-for-one when it fails or panics, with backoff between restarts, and gives up after
//! `max_restarts` within `within`; every one-shot task is observed ([`Supervisor::observe`]),
//! so its panic is an event and an error for whoever awaits it. Every step is published as a
//! [`HealthEvent`]. This is the one place that starts tasks (clippy `disallowed-methods`).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::Error;
use crate::resilience::Backoff;

/// How a supervisor restarts its children.
#[derive(Debug, Clone)]
pub struct RestartPolicy {
    pub max_restarts: u32,
    pub within: Duration,
    pub backoff: Backoff,
}

impl Default for RestartPolicy {
    /// DESIGN.md: 10 restarts within 60 s.
    fn default() -> Self {
        RestartPolicy {
            max_restarts: 10,
            within: Duration::from_secs(60),
            backoff: Backoff::default(),
        }
    }
}

/// What happened to a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthEvent {
    Started {
        child: String,
        run: u32,
    },
    /// Returned `Ok`: done on purpose, not restarted.
    Exited {
        child: String,
    },
    Failed {
        child: String,
        error: String,
    },
    Panicked {
        child: String,
        message: String,
    },
    Restarting {
        child: String,
        attempt: u32,
        delay: Duration,
        /// Why its last run ended.
        reason: String,
    },
    /// Too many restarts within the window: the child stays down.
    GaveUp {
        child: String,
        restarts: u32,
    },
    /// A one-shot task panicked: whoever awaited it got an error.
    TaskPanicked {
        task: String,
        message: String,
    },
}

/// A child's state as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildState {
    Running,
    Restarting,
    Exited,
    GaveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildHealth {
    pub state: ChildState,
    pub restarts: u32,
}

/// Handed to every run of a child: its name, which run this is, and the stop signal.
#[derive(Debug, Clone)]
pub struct ChildContext {
    pub name: Arc<str>,
    pub run: u32,
    pub cancel: CancellationToken,
}

impl ChildContext {
    /// A point in the child's loop where a test may make it panic (`fault::arm`); nothing
    /// in a normal build.
    #[inline]
    pub fn checkpoint(&self) {
        #[cfg(any(test, feature = "fault-injection"))]
        if fault::take(&self.name) {
            panic!("injected panic");
        }
    }
}

#[derive(Debug)]
pub struct Supervisor {
    name: Arc<str>,
    policy: RestartPolicy,
    cancel: CancellationToken,
    tracker: TaskTracker,
    events: broadcast::Sender<HealthEvent>,
    children: Arc<Mutex<HashMap<String, ChildHealth>>>,
}

impl Supervisor {
    pub fn new(
        name: impl Into<Arc<str>>,
        policy: RestartPolicy,
        cancel: CancellationToken,
    ) -> Self {
        Supervisor {
            name: name.into(),
            policy,
            cancel,
            tracker: TaskTracker::new(),
            events: broadcast::channel(256).0,
            children: Arc::default(),
        }
    }

    /// Health events from now on. A receiver that lags loses the oldest events, never blocks us.
    pub fn subscribe(&self) -> broadcast::Receiver<HealthEvent> {
        self.events.subscribe()
    }

    /// Subscribes anew each time it is called, without holding the supervisor (a child that
    /// forwards its supervisor's events must not keep it alive).
    pub fn subscriber(
        &self,
    ) -> impl Fn() -> broadcast::Receiver<HealthEvent> + Send + Sync + 'static {
        let events = self.events.clone();
        move || events.subscribe()
    }

    pub fn health(&self) -> HashMap<String, ChildHealth> {
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Starts `factory(ctx)` and keeps it running under the restart policy until it returns
    /// `Ok`, gives up, or the supervisor is shut down.
    pub fn spawn<F, Fut>(&self, child: impl Into<String>, mut factory: F)
    where
        F: FnMut(ChildContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let child: String = child.into();
        let name: Arc<str> = Arc::from(format!("{}/{child}", self.name));
        let cancel = self.cancel.child_token();
        let events = self.events.clone();
        let children = self.children.clone();
        let mut policy = self.policy.clone();
        let set = move |state: ChildState, restarts: u32| {
            children
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(child.clone(), ChildHealth { state, restarts });
        };
        self.tracker.spawn(async move {
            let publish = |event: HealthEvent| {
                tracing::debug!(?event, "supervisor");
                let _ = events.send(event);
            };
            let mut recent: VecDeque<Instant> = VecDeque::new();
            let mut restarts = 0u32;
            let mut run = 0u32;
            loop {
                set(ChildState::Running, restarts);
                publish(HealthEvent::Started {
                    child: name.to_string(),
                    run,
                });
                let ctx = ChildContext {
                    name: name.clone(),
                    run,
                    cancel: cancel.clone(),
                };
                // Each run is its own task so that a panic is caught here, not in the runtime.
                let run_future = factory(ctx);
                #[allow(clippy::disallowed_methods)] // the supervisor is where tasks start
                let outcome = tokio::spawn(run_future).await;
                if cancel.is_cancelled() {
                    set(ChildState::Exited, restarts);
                    publish(HealthEvent::Exited {
                        child: name.to_string(),
                    });
                    return;
                }
                let reason = match outcome {
                    Ok(Ok(())) => {
                        set(ChildState::Exited, restarts);
                        publish(HealthEvent::Exited {
                            child: name.to_string(),
                        });
                        return;
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(child = %name, %error, "child failed");
                        publish(HealthEvent::Failed {
                            child: name.to_string(),
                            error: error.to_string(),
                        });
                        error.to_string()
                    }
                    Err(join_error) => {
                        let message = panic_message(join_error);
                        tracing::error!(child = %name, %message, "child panicked");
                        publish(HealthEvent::Panicked {
                            child: name.to_string(),
                            message: message.clone(),
                        });
                        format!("panicked: {message}")
                    }
                };
                let now = Instant::now();
                while recent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > policy.within)
                {
                    recent.pop_front();
                }
                if recent.len() as u32 >= policy.max_restarts {
                    set(ChildState::GaveUp, restarts);
                    publish(HealthEvent::GaveUp {
                        child: name.to_string(),
                        restarts: recent.len() as u32,
                    });
                    return;
                }
                let attempt = recent.len() as u32;
                let delay = policy.backoff.delay(attempt);
                set(ChildState::Restarting, restarts);
                publish(HealthEvent::Restarting {
                    child: name.to_string(),
                    attempt: attempt + 1,
                    delay,
                    reason,
                });
                tokio::select! {
                    _ = cancel.cancelled() => {
                        set(ChildState::Exited, restarts);
                        publish(HealthEvent::Exited { child: name.to_string() });
                        return;
                    }
                    _ = tokio::time::sleep(delay) => {}
                }
                recent.push_back(Instant::now());
                restarts += 1;
                run += 1;
            }
        });
    }

    /// Runs `task` once, observed: a panic is published ([`HealthEvent::TaskPanicked`]) and
    /// comes out of the returned handle as an error; dropping the handle detaches the task.
    pub fn observe<T, Fut>(&self, task: &str, fut: Fut) -> Observed<T>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        let name = format!("{}/{task}", self.name);
        let events = self.events.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        #[cfg(any(test, feature = "fault-injection"))]
        let fut = {
            let armed = fault::take(&name);
            async move {
                if armed {
                    panic!("injected panic");
                }
                fut.await
            }
        };
        self.tracker.spawn(async move {
            #[allow(clippy::disallowed_methods)] // the supervisor is where tasks start
            let outcome = match tokio::spawn(fut).await {
                Ok(value) => Ok(value),
                Err(join_error) => {
                    let message = panic_message(join_error);
                    tracing::error!(task = %name, %message, "task panicked");
                    let _ = events.send(HealthEvent::TaskPanicked {
                        task: name.clone(),
                        message: message.clone(),
                    });
                    Err(Error::Internal(format!("{name} panicked: {message}")))
                }
            };
            let _ = tx.send(outcome);
        });
        Observed { rx }
    }

    /// Cancels every child and waits until all have stopped.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// The result of an observed one-shot task ([`Supervisor::observe`]).
#[derive(Debug)]
pub struct Observed<T> {
    rx: tokio::sync::oneshot::Receiver<Result<T, Error>>,
}

impl<T> Future for Observed<T> {
    type Output = Result<T, Error>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(Error::Closed)))
    }
}

/// Test-only panics: `arm("dispatch")` makes the next child (at its next checkpoint) or
/// one-shot task (as it starts) whose name contains the text panic, to prove each kind is
/// supervised. Each `arm` is one panic.
#[cfg(any(test, feature = "fault-injection"))]
pub mod fault {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static ARMED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    /// How many are armed: a checkpoint with none armed costs one load, no lock.
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    pub fn arm(name_part: &str) {
        let mut armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
        armed.push(name_part.to_owned());
        COUNT.store(armed.len(), Ordering::Release);
    }

    /// Whether `name` is armed; disarms it.
    pub(super) fn take(name: &str) -> bool {
        if COUNT.load(Ordering::Acquire) == 0 {
            return false;
        }
        let mut armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
        let found = armed.iter().position(|part| name.contains(part.as_str()));
        if let Some(k) = found {
            armed.remove(k);
            COUNT.store(armed.len(), Ordering::Release);
        }
        found.is_some()
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    if error.is_cancelled() {
        return "cancelled".to_owned();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy(max_restarts: u32, within: Duration) -> RestartPolicy {
        RestartPolicy {
            max_restarts,
            within,
            backoff: Backoff::seeded(Duration::from_millis(10), Duration::from_millis(100), 1),
        }
    }

    async fn next_matching(
        rx: &mut broadcast::Receiver<HealthEvent>,
        want: impl Fn(&HealthEvent) -> bool,
    ) -> HealthEvent {
        loop {
            let event = rx.recv().await.unwrap();
            if want(&event) {
                return event;
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn restarts_a_failing_child_then_gives_up_after_n_in_t() {
        let sup = Supervisor::new(
            "conn",
            policy(3, Duration::from_secs(60)),
            CancellationToken::new(),
        );
        let mut rx = sup.subscribe();
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        sup.spawn("ws", move |_ctx| {
            r.fetch_add(1, Ordering::SeqCst);
            async { Err(Error::ConnectionLost("reset".into())) }
        });
        let gave_up = next_matching(&mut rx, |e| matches!(e, HealthEvent::GaveUp { .. })).await;
        assert_eq!(
            gave_up,
            HealthEvent::GaveUp {
                child: "conn/ws".into(),
                restarts: 3
            }
        );
        assert_eq!(runs.load(Ordering::SeqCst), 4, "first run + 3 restarts");
        assert_eq!(
            sup.health()["ws"],
            ChildHealth {
                state: ChildState::GaveUp,
                restarts: 3
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn restarts_outside_the_window_do_not_count() {
        let sup = Supervisor::new(
            "conn",
            policy(2, Duration::from_secs(1)),
            CancellationToken::new(),
        );
        let mut rx = sup.subscribe();
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        sup.spawn("ws", move |_ctx| {
            let n = r.fetch_add(1, Ordering::SeqCst);
            async move {
                // Each run lives 5 s before failing: older restarts age out of the 1 s window.
                tokio::time::sleep(Duration::from_secs(5)).await;
                if n < 6 {
                    Err(Error::ConnectionLost("reset".into()))
                } else {
                    Ok(())
                }
            }
        });
        next_matching(&mut rx, |e| matches!(e, HealthEvent::Exited { .. })).await;
        assert_eq!(runs.load(Ordering::SeqCst), 7);
        assert_eq!(sup.health()["ws"].state, ChildState::Exited);
    }

    #[tokio::test(start_paused = true)]
    async fn a_panic_restarts_only_that_child() {
        let sup = Supervisor::new(
            "conn",
            policy(5, Duration::from_secs(60)),
            CancellationToken::new(),
        );
        let mut rx = sup.subscribe();
        let steady_runs = Arc::new(AtomicU32::new(0));
        let s = steady_runs.clone();
        sup.spawn("steady", move |ctx| {
            s.fetch_add(1, Ordering::SeqCst);
            async move {
                ctx.cancel.cancelled().await;
                Ok(())
            }
        });
        sup.spawn("flaky", |ctx| async move {
            if ctx.run == 0 {
                panic!("boom");
            }
            Ok(())
        });
        let panicked = next_matching(&mut rx, |e| matches!(e, HealthEvent::Panicked { .. })).await;
        assert_eq!(
            panicked,
            HealthEvent::Panicked {
                child: "conn/flaky".into(),
                message: "boom".into()
            }
        );
        next_matching(
            &mut rx,
            |e| matches!(e, HealthEvent::Exited { child } if child == "conn/flaky"),
        )
        .await;
        assert_eq!(
            steady_runs.load(Ordering::SeqCst),
            1,
            "one-for-one: the sibling was not restarted"
        );
        sup.shutdown().await;
        assert_eq!(sup.health()["steady"].state, ChildState::Exited);
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_delays_grow_between_restarts() {
        let mut p = policy(4, Duration::from_secs(60));
        p.backoff = Backoff::seeded(Duration::from_millis(100), Duration::from_secs(10), 3);
        let sup = Supervisor::new("c", p, CancellationToken::new());
        let mut rx = sup.subscribe();
        sup.spawn("x", |_ctx| async { Err(Error::Closed) });
        let mut attempts = Vec::new();
        loop {
            match rx.recv().await.unwrap() {
                HealthEvent::Restarting { attempt, delay, .. } => {
                    assert!(delay <= Duration::from_millis(100) * 2u32.pow(attempt - 1));
                    attempts.push(attempt);
                }
                HealthEvent::GaveUp { .. } => break,
                _ => {}
            }
        }
        assert_eq!(attempts, vec![1, 2, 3, 4]);
    }
}
