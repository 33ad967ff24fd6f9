//! Order entry over the venue's WebSocket API (Binance's WebSocket API, Bybit's trade
//! WebSocket): which path a write takes, and the write on the session.
//!
//! A write goes through the same checks, state machine, breaker and rate limits whichever path
//! it takes: only the wire differs. The session's answer is read as its REST counterpart's, so
//! the venue's errors are typed in one place. A write the session never sent may go by REST
//! (`auto`); one it sent and lost is never sent again: the connector looks the order up, as
//! for a lost REST answer.

use std::sync::Arc;

use serde_json::Value;

use super::Connector;
use crate::net::http::Request;
use crate::net::{SessionHealth, Unanswered, WsSession};
use crate::venue::OrderEntry;
use crate::{Error, Result};

/// Which path order writes take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// The WebSocket session while it is up, REST otherwise.
    #[default]
    Auto,
    /// Only the WebSocket session: a write while it is down is refused (nothing sent).
    Ws,
    /// Only REST: no session is opened.
    Rest,
}

impl Transport {
    pub fn parse(text: &str) -> Result<Transport> {
        match text {
            "auto" => Ok(Transport::Auto),
            "ws" => Ok(Transport::Ws),
            "rest" => Ok(Transport::Rest),
            other => Err(Error::invalid_argument(
                "transport",
                format!("'{other}': use 'auto', 'ws' or 'rest'"),
            )),
        }
    }
}

/// The session and the venue's rules for what goes on it.
pub(super) struct Entry {
    pub(super) session: WsSession,
    pub(super) venue: Arc<dyn OrderEntry>,
}

impl Connector {
    /// Opens the order-entry session where the venue has one, keys are given and the transport
    /// wants it; `transport="ws"` without one is an `InvalidArgument`.
    pub(super) fn open_entry(
        config: &super::ConnectorConfig,
        credentials: Option<&Arc<crate::venue::Credentials>>,
        http: &Arc<crate::net::Http>,
        supervisor: &crate::supervise::Supervisor,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Option<Entry>> {
        if config.transport == Transport::Rest {
            return Ok(None);
        }
        let adapter = crate::venue::adapter(config.venue);
        let venue = match credentials {
            Some(c) => adapter.order_entry(config.market, c.clone(), http.clock.clone()),
            None => None,
        };
        let (Some(venue), Some(url)) = (venue, config.ws_api.as_deref()) else {
            if config.transport == Transport::Ws {
                let why = if credentials.is_none() {
                    "needs api_key and api_secret"
                } else {
                    "needs endpoints.ws_api (the venue's WebSocket order entry)"
                };
                return Err(Error::invalid_argument(
                    "transport",
                    format!("'ws' {why} on {} {}", config.venue, config.market),
                ));
            }
            return Ok(None);
        };
        let connects = crate::net::ws::connect_limit(config.venue, url, adapter.ws_connect_limit());
        let gate = adapter
            .entry_gate(config.market)
            .map(|request| crate::net::ws::RequestGate::weighed_as(http, request));
        let session = WsSession::start(
            url,
            "endpoints.ws_api",
            venue.clone(),
            adapter.entry_config(config.market, &config.ws),
            connects,
            gate,
            cancel.child_token(),
            supervisor,
        )?;
        Ok(Some(Entry { session, venue }))
    }

    /// The order-entry session's state, if one is open.
    pub fn order_entry_health(&self) -> Option<SessionHealth> {
        self.entry.as_ref().map(|e| e.session.health())
    }

    /// Sends a write on the order-entry session when the transport and the session allow it;
    /// `None`: it goes by REST.
    pub(super) async fn by_session(&self, request: &Request) -> Option<Result<Value>> {
        let entry = self.entry.as_ref()?;
        let what = || format!("{} {} (WebSocket API)", request.method, request.path);
        let config = &self.config.http;
        let forced = self.config.transport == Transport::Ws;
        if !entry.venue.carries(request) {
            return None;
        }
        let up = entry.session.is_up() || (forced && entry.session.wait_up(config.timeout).await);
        if !up {
            return forced.then(|| {
                Err(Error::NotConnected(format!(
                    "{}: the order-entry session to {} is down; nothing was sent",
                    what(),
                    entry.session.url()
                )))
            });
        }
        let http = &self.http;
        let mut resynced = false;
        loop {
            let permit = match http.breaker.acquire() {
                Ok(permit) => permit,
                Err(error) => return Some(Err(error)),
            };
            let costs = http.costs(request);
            if let Err(error) = http
                .limiter
                .acquire_within(&costs, request.priority, Some(config.timeout))
                .await
            {
                return Some(Err(error));
            }
            let id = entry.session.next_id();
            let frame =
                entry
                    .venue
                    .frame(request, &id, http.clock.now_server_ms(), config.recv_window)?;
            let text = match entry.session.call(id, frame, config.timeout).await {
                Ok(text) => text,
                Err(Unanswered::NotSent(_)) if !forced => return None,
                Err(Unanswered::TimedOut(after)) => {
                    permit.failure();
                    return Some(Err(Unanswered::TimedOut(after).into_error(&what())));
                }
                // A dropped connection loses every write in flight at once: one event, which
                // the session's reconnect answers, not one breaker failure a write.
                Err(unanswered) => return Some(Err(unanswered.into_error(&what()))),
            };
            let failure =
                match entry
                    .venue
                    .answer(request, &text, &http.limiter, http.clock.now_server_ms())
                {
                    Ok(value) => {
                        permit.success();
                        return Some(Ok(value));
                    }
                    Err(failure) => failure,
                };
            http.absorb(permit, &failure);
            // A refused timestamp was refused before anything was done: resync, send once more.
            if failure.clock_rejected && !resynced {
                resynced = true;
                http.resync_clock().await;
                continue;
            }
            return Some(Err(failure.error.for_request(what)));
        }
    }
}
