//! One error type for the core, classified so callers decide from the variant, never from text.

use std::time::Duration;

use crate::model::Venue;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A venue's own answer to a request, kept verbatim so it survives the trip to Python.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueReply {
    pub venue: Venue,
    /// Binance `code` / Bybit `retCode`; `None` when the venue answered without one (e.g. bare 5xx).
    pub code: Option<i64>,
    pub message: String,
    pub http_status: Option<u16>,
    /// The request refused, as `GET /api/v3/order`: an empty or generic answer (a bare 404)
    /// still says what was asked.
    pub request: Option<String>,
}

impl std::fmt::Display for VenueReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.venue)?;
        if let Some(code) = self.code {
            write!(f, " code {code}")?;
        }
        if let Some(status) = self.http_status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(request) = &self.request {
            write!(f, " to {request}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The most of a venue's text (an answer's body or message) an error shows.
pub const SNIPPET_CHARS: usize = 200;

/// At most [`SNIPPET_CHARS`] characters of `text`, then "…": an error names what the venue
/// said without carrying a whole (possibly huge or hostile) body.
pub fn snippet(text: &str) -> String {
    capped(text, SNIPPET_CHARS)
}

/// The longest reason a protocol error gives: it may quote the message it could not read.
pub const REASON_CHARS: usize = 400;

fn capped(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The venue rejected a request for a reason not covered by a more specific variant.
    #[error("{0}")]
    Exchange(VenueReply),
    /// The venue (or our limiter on its behalf) refused because a rate limit was hit.
    #[error("rate limited: {reply}")]
    RateLimited {
        reply: VenueReply,
        retry_after: Option<Duration>,
    },
    /// The venue banned this client (Binance 418, Bybit 403) until `until_ms` (Unix ms).
    #[error("banned until {until_ms} ms: {reply}")]
    Banned { reply: VenueReply, until_ms: i64 },
    /// Keys missing, wrong, expired, or a signature the venue did not accept.
    #[error("authentication failed: {0}")]
    Auth(VenueReply),
    /// The venue does not know the order.
    #[error("order not found: {0}")]
    OrderNotFound(VenueReply),
    /// The order breaks a rule, checked locally (`reply` is `None`) or by the venue.
    #[error("invalid order ({rule}): {message}")]
    InvalidOrder {
        rule: String,
        message: String,
        reply: Option<VenueReply>,
    },
    /// The venue's circuit breaker is open: failing fast instead of adding load.
    #[error("circuit open for {venue}: retry in {retry_in:?}")]
    CircuitOpen { venue: Venue, retry_in: Duration },
    /// The connection went away while a request or stream depended on it.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// Nothing was sent: the connection the request must go by is down (an order-entry
    /// session asked for by name, `transport="ws"`).
    #[error("not connected: {0}")]
    NotConnected(String),
    /// No answer in time. For writes the outcome is unknown, never assumed failed.
    #[error("timed out after {after:?}: {what}")]
    Timeout { what: String, after: Duration },
    /// A never-drop stream's consumer fell `capacity` events (or, on a stream bounded in
    /// bytes, `max_bytes` of events) behind; the stream was closed.
    #[error("slow consumer: fell {capacity} events{} behind on a stream that never drops",
        .max_bytes.map(|b| format!(" or {} MiB", b >> 20)).unwrap_or_default())]
    SlowConsumer {
        capacity: usize,
        max_bytes: Option<usize>,
    },
    /// A caller-supplied value is unusable; `field` names it.
    #[error("invalid value for '{field}': {reason}")]
    InvalidArgument { field: String, reason: String },
    /// The venue sent something we cannot read. Counted and logged; never a panic.
    #[error("malformed message from {venue}: {reason}")]
    Protocol { venue: Venue, reason: String },
    /// The message bus refused: credentials it does not accept, or a subject this user may
    /// not read or write (a NATS permission).
    #[error("permission denied: {0}")]
    Denied(String),
    /// The stream or connector was closed.
    #[error("closed")]
    Closed,
    /// A task of ours failed where it never should (a panic its supervisor caught); the
    /// supervisor restarted what it could and said so in `events()`.
    #[error("internal failure: {0}")]
    Internal(String),
    /// The connector failed and closed (a task gave up after too many restarts): every reader
    /// of its streams, and every later call, gets this instead of a quiet end.
    #[error("the connector failed: {0}")]
    Failed(String),
}

impl Error {
    /// A message of `venue` that cannot be read; `reason` is cut to [`REASON_CHARS`].
    pub fn protocol(venue: Venue, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let reason = if reason.len() > REASON_CHARS {
            capped(&reason, REASON_CHARS)
        } else {
            reason
        };
        Error::Protocol { venue, reason }
    }

    pub fn invalid_argument(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Whether the same request may be sent again as is. Only for idempotent requests:
    /// a write that timed out has an unknown outcome and is resolved by a query instead.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::ConnectionLost(_) | Error::Timeout { .. } | Error::RateLimited { .. } => true,
            Error::Exchange(reply) => reply.http_status.is_some_and(|s| s >= 500),
            _ => false,
        }
    }

    /// Names the request this error answers, where the venue's reply is part of it.
    pub fn for_request(mut self, request: impl FnOnce() -> String) -> Error {
        let reply = match &mut self {
            Error::Exchange(r) | Error::Auth(r) | Error::OrderNotFound(r) => Some(r),
            Error::RateLimited { reply, .. } | Error::Banned { reply, .. } => Some(reply),
            Error::InvalidOrder { reply, .. } => reply.as_mut(),
            _ => None,
        };
        if let Some(reply) = reply {
            reply.request.get_or_insert_with(request);
        }
        self
    }

    pub fn venue_reply(&self) -> Option<&VenueReply> {
        match self {
            Error::Exchange(r) | Error::Auth(r) | Error::OrderNotFound(r) => Some(r),
            Error::RateLimited { reply, .. } | Error::Banned { reply, .. } => Some(reply),
            Error::InvalidOrder { reply, .. } => reply.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(http_status: Option<u16>) -> VenueReply {
        VenueReply {
            venue: Venue::Binance,
            code: Some(-1003),
            message: "Too many".into(),
            http_status,
            request: None,
        }
    }

    #[test]
    fn retry_classification_comes_from_the_variant() {
        // case 0: 5xx from the venue may be retried (idempotent requests only)
        assert!(Error::Exchange(reply(Some(503))).is_retryable());
        // case 1: a 4xx answer is final
        assert!(!Error::Exchange(reply(Some(400))).is_retryable());
        // case 2: auth problems never heal by retrying
        assert!(!Error::Auth(reply(Some(401))).is_retryable());
        // case 3: a ban is not a rate limit
        assert!(
            !Error::Banned {
                reply: reply(Some(418)),
                until_ms: 1
            }
            .is_retryable()
        );
    }

    #[test]
    fn a_snippet_keeps_a_short_prefix_of_a_long_text() {
        assert_eq!(snippet("short"), "short");
        let long = "é".repeat(1000);
        let cut = snippet(&long);
        assert_eq!(cut.chars().count(), SNIPPET_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(
            snippet(&"x".repeat(SNIPPET_CHARS)),
            "x".repeat(SNIPPET_CHARS)
        );
    }

    #[test]
    fn a_protocol_error_quotes_at_most_a_prefix_of_what_it_could_not_read() {
        let huge = format!("'p' = \"{}\" is not a decimal", "9".repeat(1 << 20));
        let Error::Protocol { reason, .. } = Error::protocol(Venue::Bybit, huge) else {
            unreachable!()
        };
        assert_eq!(reason.chars().count(), REASON_CHARS + 1);
        let Error::Protocol { reason, .. } = Error::protocol(Venue::Bybit, "short") else {
            unreachable!()
        };
        assert_eq!(reason, "short");
    }

    #[test]
    fn display_keeps_venue_code_and_message() {
        let text = Error::RateLimited {
            reply: reply(Some(429)),
            retry_after: None,
        }
        .to_string();
        assert_eq!(
            text,
            "rate limited: binance code -1003 (HTTP 429): Too many"
        );
    }
}
