//! Resilience building blocks shared by every venue.

pub mod backoff;
pub mod breaker;
pub mod clock;
pub mod ids;
#[deny(clippy::arithmetic_side_effects)]
pub mod limiter;

pub use backoff::Backoff;
pub use breaker::{
    Breaker, BreakerConfig, BreakerSnapshot, BreakerState, BreakerTransition, Permit,
};
pub use clock::{ClockSnapshot, ClockSync};
pub use ids::{ClientIds, IdRule, RequestIds, validate_client_id};
pub use limiter::{
    LimitEvent, LimitId, LimitSpec, LimitUsage, Limiter, MAX_BAN, MAX_COUNT, MAX_RETRY_AFTER,
    Priority, Share, UNSAID_BAN, WindowKind, capped_until,
};
