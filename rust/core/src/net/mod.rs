//! The network layer shared by every venue: signed REST (`http`) and supervised WebSockets.

pub mod http;
pub mod ws;

pub use http::{Dialect, Encoded, Failure, Http, HttpConfig, Method, Request};
pub use ws::{Inbound, ShardHealth, WsConfig, WsDialect, WsEvent, WsPool};
