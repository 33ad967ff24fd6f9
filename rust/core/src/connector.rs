//! One venue market's running system (DESIGN.md "Runtime architecture"): the signed REST path
//! with its limiter, breaker and clock, the clock-sync task, and the connector's event stream.
//! Market data, order and user-stream children join it in later issues.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::model::{Market, Venue};
use crate::net::http::{Dialect, Http, HttpConfig, Request};
use crate::resilience::{
    Breaker, BreakerConfig, BreakerSnapshot, BreakerState, ClockSnapshot, ClockSync, LimitUsage,
    Limiter,
};
use crate::venue::Credentials;
use crate::venue::binance::rest::BinanceRest;
use crate::venue::bybit::rest::BybitRest;
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub venue: Venue,
    pub market: Market,
    pub rest_url: String,
    pub http: HttpConfig,
    pub breaker: BreakerConfig,
    /// How often the venue's time is sampled (a rejected timestamp resyncs at once).
    pub clock_interval: Duration,
    /// Share of each rate limit kept for orders.
    pub order_reserve: f64,
}

impl ConnectorConfig {
    pub fn new(venue: Venue, market: Market, rest_url: &str) -> Result<ConnectorConfig> {
        if !Market::of(venue).contains(&market) {
            let allowed: Vec<&str> = Market::of(venue).iter().map(|m| m.as_str()).collect();
            return Err(Error::invalid_argument(
                "market",
                format!(
                    "{venue} has no market '{market}': use one of {}",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(ConnectorConfig {
            venue,
            market,
            rest_url: rest_url.to_owned(),
            http: HttpConfig::default(),
            breaker: BreakerConfig::default(),
            clock_interval: Duration::from_secs(30),
            order_reserve: 0.1,
        })
    }
}

/// What happened to a connector, in order, for `connector.events()`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorEvent {
    BreakerChanged {
        from: BreakerState,
        to: BreakerState,
    },
    ClockSynced {
        offset_ms: i64,
    },
    ClockSyncFailed {
        reason: String,
    },
}

/// A typed snapshot of a connector's health.
#[derive(Debug, Clone)]
pub struct Health {
    pub venue: Venue,
    pub market: Market,
    pub breaker: BreakerSnapshot,
    pub clock: ClockSnapshot,
    pub limits: Vec<LimitUsage>,
    /// When a venue ban ends (Unix ms), if banned now.
    pub banned_until_ms: Option<i64>,
}

pub struct Connector {
    pub venue: Venue,
    pub market: Market,
    pub http: Arc<Http>,
    events: broadcast::Sender<ConnectorEvent>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("venue", &self.venue)
            .field("market", &self.market)
            .finish_non_exhaustive()
    }
}

/// Events kept for a slow `events()` reader before it sees `Lagged`.
const EVENT_BUFFER: usize = 1024;

impl Connector {
    /// Builds the connector, samples the venue clock, reads the venue's limits, and starts the
    /// clock-sync task (stopped by `cancel` or [`Connector::close`]).
    pub async fn start(
        config: ConnectorConfig,
        credentials: Option<Credentials>,
        cancel: CancellationToken,
    ) -> Result<Arc<Connector>> {
        let (dialect, limits): (Arc<dyn Dialect>, _) = match config.venue {
            Venue::Binance => {
                let d = BinanceRest::new(config.market);
                let limits = d.default_limits();
                (Arc::new(d), limits)
            }
            Venue::Bybit => (Arc::new(BybitRest), BybitRest.default_limits()),
        };
        let clock = Arc::new(ClockSync::new());
        let limiter = {
            let clock = clock.clone();
            let now = Arc::new(move || clock.now_server_ms());
            Arc::new(Limiter::new(config.venue, now, config.order_reserve))
        };
        for spec in limits {
            limiter.set_limit(spec);
        }
        let breaker = Arc::new(Breaker::new(config.venue, config.breaker)?);
        let http = Arc::new(Http::new(
            &config.rest_url,
            dialect,
            credentials.map(Arc::new),
            limiter,
            breaker,
            clock,
            config.http.clone(),
        )?);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let connector = Arc::new(Connector {
            venue: config.venue,
            market: config.market,
            http,
            events,
            cancel: cancel.child_token(),
        });
        connector.forward_breaker_transitions();
        // A few samples up front: the first signed request must already carry venue time.
        for _ in 0..3 {
            connector.sync_clock().await?;
        }
        if config.venue == Venue::Binance {
            let prefix = if config.market == Market::Spot {
                "/api/v3"
            } else {
                "/fapi/v1"
            };
            let info = connector
                .http
                .send(&Request::get(&format!("{prefix}/exchangeInfo")))
                .await?;
            for spec in BinanceRest::limits_of(&info) {
                connector.http.limiter.set_limit(spec);
            }
        }
        connector.spawn_clock_task(config.clock_interval);
        Ok(connector)
    }

    async fn sync_clock(&self) -> Result<()> {
        match self.http.sync_clock().await {
            Ok(()) => {
                let offset_ms = self.http.clock.offset_ms().unwrap_or(0);
                let _ = self.events.send(ConnectorEvent::ClockSynced { offset_ms });
                Ok(())
            }
            Err(e) => {
                let reason = e.to_string();
                let _ = self.events.send(ConnectorEvent::ClockSyncFailed { reason });
                Err(e)
            }
        }
    }

    fn spawn_clock_task(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        let cancel = self.cancel.clone();
        let check = (every / 10).clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut last = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(check) => {}
                }
                let Some(connector) = weak.upgrade() else {
                    return;
                };
                if last.elapsed() >= every || connector.http.clock.needs_resync() {
                    last = tokio::time::Instant::now();
                    // Failures are events; the next round tries again.
                    let _ = connector.sync_clock().await;
                }
            }
        });
    }

    fn forward_breaker_transitions(&self) {
        let mut transitions = self.http.breaker.subscribe();
        let events = self.events.clone();
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            loop {
                let transition = tokio::select! {
                    _ = cancel.cancelled() => return,
                    t = transitions.recv() => t,
                };
                match transition {
                    Ok(t) => {
                        let _ = events.send(ConnectorEvent::BreakerChanged {
                            from: t.from,
                            to: t.to,
                        });
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    pub fn events(&self) -> broadcast::Receiver<ConnectorEvent> {
        self.events.subscribe()
    }

    pub async fn request(&self, request: &Request) -> Result<Value> {
        if self.cancel.is_cancelled() {
            return Err(Error::Closed);
        }
        self.http.send(request).await
    }

    /// The venue's time (Unix ms) as the clock sync estimates it.
    pub fn server_time_ms(&self) -> i64 {
        self.http.clock.now_server_ms()
    }

    pub fn health(&self) -> Health {
        Health {
            venue: self.venue,
            market: self.market,
            breaker: self.http.breaker.snapshot(),
            clock: self.http.clock.snapshot(),
            limits: self.http.limiter.usage(),
            banned_until_ms: self.http.limiter.banned_until(),
        }
    }

    pub fn close(&self) {
        self.cancel.cancel();
    }

    /// Cancelled when the connector closes.
    pub fn closed(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
