//! Signed REST requests with the venue's limits, circuit breaker and clock in the path.
//!
//! `send` does, in order: refuse a signed request without keys; ask the breaker (fails fast
//! while the venue is considered down); wait for room in every rate limit the request costs;
//! sign with the clock-sync estimate of the venue's time; send with a timeout; correct the
//! limiter from the response headers; turn the answer into JSON or a typed [`Error`].
//! A 429 closes the limiter's gate until Retry-After, a ban closes it until the ban ends, a
//! timestamp rejection invalidates the clock. Only idempotent requests are sent again (after
//! a 5xx, a timeout, a lost connection, a 429 or a resync); a write's outcome after a timeout
//! is unknown and is left to the caller to resolve by query, never resent blindly.
//!
//! Hygiene: redirects are never followed (a 3xx is an [`Error::Exchange`] naming the status);
//! no error or log carries a URL's query (a signed query holds the signature); an answer's body
//! is read up to [`MAX_BODY`] bytes, and errors quote at most a short prefix of it; a 429's
//! back-off that would hold a request past its timeout fails it at once with
//! [`Error::RateLimited`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::{VenueReply, snippet};
use crate::model::Venue;
use crate::resilience::{Backoff, Breaker, ClockSync, LimitId, Limiter, Permit, Priority};
use crate::venue::Credentials;
use crate::{Error, Result};

/// The largest REST answer read (the biggest real ones, all-symbol exchangeInfo, are a few MB);
/// a longer one is refused with [`Error::Protocol`] without reading the rest.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// A transport error without its URL (the URL of a signed request holds the signature), with
/// its causes: reqwest's own text ("error sending request") does not say what failed (a
/// refused connection, a TLS certificate the platform does not trust, a reset).
fn transport(what: &str, e: reqwest::Error) -> Error {
    let e = e.without_url();
    let mut text = format!("{what}: {e}");
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    Error::ConnectionLost(text)
}

/// Reads at most [`MAX_BODY`] bytes of `response`.
async fn read_body(
    mut response: reqwest::Response,
    venue: Venue,
) -> std::result::Result<Vec<u8>, std::result::Result<reqwest::Error, Error>> {
    let too_long = || {
        Err(Error::Protocol {
            venue,
            reason: format!("an answer longer than {MAX_BODY} bytes: not read"),
        })
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(too_long());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Ok)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_long());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        })
    }
}

impl Method {
    fn reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub signed: bool,
    pub priority: Priority,
}

impl Request {
    pub fn get(path: &str) -> Request {
        Request {
            method: Method::Get,
            path: path.to_owned(),
            params: Vec::new(),
            signed: false,
            priority: Priority::Data,
        }
    }

    pub fn param(mut self, key: &str, value: impl ToString) -> Request {
        self.params.push((key.to_owned(), value.to_string()));
        self
    }

    pub fn signed(mut self) -> Request {
        self.signed = true;
        self
    }

    /// Reads may be sent again; writes never are.
    pub fn idempotent(&self) -> bool {
        self.method == Method::Get
    }

    pub fn param_value(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A request as it goes on the wire.
#[derive(Debug, Default)]
pub struct Encoded {
    pub query: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<(String, &'static str)>,
}

/// What a venue's answer means beyond its error.
#[derive(Debug)]
pub struct Failure {
    pub error: Error,
    /// The venue is unwell (5xx): counts against the breaker.
    pub venue_fault: bool,
    /// A 429: nothing more until then (venue ms).
    pub back_off_until: Option<i64>,
    /// A ban (venue ms).
    pub banned_until: Option<i64>,
    /// The venue refused our timestamp: resync the clock.
    pub clock_rejected: bool,
}

impl Failure {
    pub fn plain(error: Error) -> Box<Failure> {
        Box::new(Failure {
            error,
            venue_fault: false,
            back_off_until: None,
            banned_until: None,
            clock_rejected: false,
        })
    }
}

/// A venue's REST conventions; each venue folder implements it in `rest.rs`.
pub trait Dialect: Send + Sync + 'static {
    fn venue(&self) -> Venue;
    /// The server-time endpoint (unsigned, weight 1).
    fn time_request(&self) -> Request;
    /// Reads the server time (Unix ms) from its answer.
    fn server_time(&self, body: &Value) -> Option<i64>;
    /// The limits `request` spends, registering per-endpoint limits on first use.
    fn costs(&self, limiter: &Limiter, request: &Request) -> Vec<(LimitId, u64)>;
    /// Puts `request` on the wire, signed with `now_ms` when it must be.
    fn encode(
        &self,
        request: &Request,
        credentials: Option<&Credentials>,
        now_ms: i64,
        recv_window: Duration,
    ) -> Encoded;
    /// Corrects the limiter from the venue's usage headers.
    fn observe(&self, limiter: &Limiter, request: &Request, headers: &HeaderMap);
    /// The answer's JSON payload, or what went wrong.
    fn verdict(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        now_ms: i64,
    ) -> std::result::Result<Value, Box<Failure>>;
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub recv_window: Duration,
    pub timeout: Duration,
    /// Attempts for idempotent requests (writes get one).
    pub attempts: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            recv_window: Duration::from_millis(5000),
            timeout: Duration::from_secs(10),
            attempts: 3,
        }
    }
}

/// One venue's REST client.
pub struct Http {
    client: reqwest::Client,
    base: String,
    dialect: Arc<dyn Dialect>,
    credentials: Option<Arc<Credentials>>,
    pub limiter: Arc<Limiter>,
    pub breaker: Arc<Breaker>,
    pub clock: Arc<ClockSync>,
    config: HttpConfig,
    /// A recorder's tap: each public answer's text is handed to it.
    pub tap: crate::record::TapSlot,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("base", &self.base)
            .field("venue", &self.dialect.venue())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Installs the process's one rustls crypto provider (ring) if none is installed yet.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Http {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        base: &str,
        dialect: Arc<dyn Dialect>,
        credentials: Option<Arc<Credentials>>,
        limiter: Arc<Limiter>,
        breaker: Arc<Breaker>,
        clock: Arc<ClockSync>,
        config: HttpConfig,
    ) -> Result<Http> {
        let url = reqwest::Url::parse(base)
            .map_err(|e| Error::invalid_argument("endpoints.rest", format!("'{base}': {e}")))?;
        if url.scheme() != "https" && !(url.scheme() == "http" && super::is_loopback(&url)) {
            return Err(Error::invalid_argument(
                "endpoints.rest",
                format!("'{base}': https is required (plain http only on loopback)"),
            ));
        }
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| transport("HTTP client", e))?;
        Ok(Http {
            client,
            base: base.trim_end_matches('/').to_owned(),
            dialect,
            credentials,
            limiter,
            breaker,
            clock,
            config,
            tap: crate::record::TapSlot::default(),
        })
    }

    pub fn venue(&self) -> Venue {
        self.dialect.venue()
    }

    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// Sends `request` and returns the venue's JSON payload.
    /// What `request` costs, limit by limit.
    pub fn costs(&self, request: &Request) -> Vec<(crate::resilience::LimitId, u64)> {
        self.dialect.costs(&self.limiter, request)
    }

    pub async fn send(&self, request: &Request) -> Result<Value> {
        if request.signed && self.credentials.is_none() {
            return Err(Error::invalid_argument(
                "api_key",
                format!(
                    "{} {} needs API keys: pass api_key and api_secret to the connector",
                    self.venue(),
                    request.path
                ),
            ));
        }
        let attempts = if request.idempotent() {
            self.config.attempts.max(1)
        } else {
            1
        };
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (error, again) = match self.attempt(request).await {
                Ok(value) => return Ok(value),
                Err(failure) => {
                    let failure = *failure;
                    // A rejected timestamp is fixed by a resync, then the request may go again.
                    if failure.clock_rejected {
                        self.resync_clock().await;
                    }
                    let again = failure.clock_rejected || failure.error.is_retryable();
                    (failure.error, again)
                }
            };
            if !again || attempt >= attempts {
                return Err(error.for_request(|| format!("{} {}", request.method, request.path)));
            }
            tokio::time::sleep(backoff.delay(attempt)).await;
        }
    }

    async fn attempt(&self, request: &Request) -> std::result::Result<Value, Box<Failure>> {
        let permit = self.breaker.acquire().map_err(Failure::plain)?;
        let costs = self.dialect.costs(&self.limiter, request);
        // A back-off longer than the request may take fails it now rather than holding it.
        self.limiter
            .acquire_within(&costs, request.priority, Some(self.config.timeout))
            .await
            .map_err(Failure::plain)?;
        let encoded = self.dialect.encode(
            request,
            self.credentials.as_deref(),
            self.clock.now_server_ms(),
            self.config.recv_window,
        );
        let mut url = format!("{}{}", self.base, request.path);
        if !encoded.query.is_empty() {
            url.push('?');
            url.push_str(&encoded.query);
        }
        let mut builder = self.client.request(request.method.reqwest(), &url);
        for (name, value) in &encoded.headers {
            builder = builder.header(*name, value);
        }
        if let Some((body, content_type)) = encoded.body {
            builder = builder.header("Content-Type", content_type).body(body);
        }
        let what = || format!("{} {}", self.venue(), request.path);
        let response = match tokio::time::timeout(self.config.timeout, builder.send()).await {
            Err(_) => {
                permit.failure();
                return Err(Failure::plain(Error::Timeout {
                    what: what(),
                    after: self.config.timeout,
                }));
            }
            Ok(Err(e)) => {
                permit.failure();
                return Err(Failure::plain(transport(&what(), e)));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.dialect.observe(&self.limiter, request, &headers);
        let read = read_body(response, self.venue());
        let body = match tokio::time::timeout(self.config.timeout, read).await {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => {
                permit.failure();
                let error = e.map_or_else(|e| e, |e| transport(&what(), e));
                return Err(Failure::plain(error));
            }
            Err(_) => {
                permit.failure();
                return Err(Failure::plain(Error::Timeout {
                    what: what(),
                    after: self.config.timeout,
                }));
            }
        };
        if (300..400).contains(&status) {
            // Never followed: a venue does not redirect its API, and a redirect would carry
            // signed requests elsewhere.
            permit.success();
            return Err(Failure::plain(Error::Exchange(VenueReply {
                venue: self.venue(),
                code: None,
                message: format!("redirect (HTTP {status}) not followed"),
                http_status: Some(status),
                request: None,
            })));
        }
        match self
            .dialect
            .verdict(status, &headers, &body, self.clock.now_server_ms())
        {
            Ok(value) => {
                permit.success();
                // Public reads only: a signed request's query holds its signature, and a keyed
                // write's answer may hold a secret (a listen key).
                if !request.signed
                    && request.method == Method::Get
                    && let Some(tap) = self.tap.get()
                {
                    let path = url.get(self.base.len()..).unwrap_or(&request.path);
                    tap.rest(
                        path,
                        crate::model::now_ns(),
                        &String::from_utf8_lossy(&body),
                    );
                }
                Ok(value)
            }
            Err(failure) => {
                self.absorb(permit, &failure);
                Err(failure)
            }
        }
    }

    /// What a venue's refusal means for the venue's health and limits, whichever path the
    /// request took: a fault counts against the breaker; a back-off or ban holds every later
    /// request until it ends.
    pub fn absorb(&self, permit: Permit<'_>, failure: &Failure) {
        if failure.venue_fault {
            permit.failure();
        } else {
            permit.success();
        }
        if let Some(until) = failure.back_off_until {
            tracing::warn!(venue = %self.venue(), until, "rate limited by the venue: backing off");
            self.limiter.back_off_until(until);
        }
        if let Some(until) = failure.banned_until {
            tracing::error!(venue = %self.venue(), until, "banned by the venue: requests stopped");
            self.limiter.ban_until(until);
        }
    }

    /// Samples the venue's time afresh after it refused our timestamp.
    pub async fn resync_clock(&self) {
        self.clock.invalidate();
        let _ = self.sync_clock().await;
    }

    /// Samples the venue's time once: the round trip brackets the server's stamp.
    pub async fn sync_clock(&self) -> Result<()> {
        let request = self.dialect.time_request();
        let sent = Instant::now();
        let value = Box::pin(self.attempt(&request))
            .await
            .map_err(|f| f.error)?;
        let received = Instant::now();
        let server_ms = self
            .dialect
            .server_time(&value)
            .ok_or_else(|| Error::Protocol {
                venue: self.venue(),
                reason: format!("no server time in {}", snippet(&value.to_string())),
            })?;
        self.clock.add_sample(sent, received, server_ms);
        Ok(())
    }
}
