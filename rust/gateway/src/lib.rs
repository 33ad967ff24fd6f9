//! tradewire's gateway on NATS: one process holds the venue sessions (one set of limits, one
//! user stream per account) and publishes what they carry on versioned subjects
//! ([`subjects`]) in a documented JSON schema ([`wire`]); any process on any machine reads
//! it, and (later) commands the venue, through [`Remote`] with the connector's own types.
//!
//! Market data goes over core NATS (no persistence: latest matters), each message numbered
//! per stream so a reader sees a loss as a gap; a book is served as numbered diffs plus a
//! snapshot on request, taken in the same task that numbers the diffs, so a late joiner
//! rebuilds it exactly.

pub mod gateway;
pub mod gateway_account;
pub mod gateway_ha;
pub mod nats;
pub mod remote;
pub mod remote_account;
pub mod remote_book;
pub mod subjects;
pub mod wire;

pub use gateway::{Channels, Gateway, GatewayStats};
pub use gateway_ha::Standby;
pub use nats::NatsOptions;
pub use remote::{GatewayEvent, Remote};
