//! The network layer shared by every venue: signed REST (`http`) and supervised WebSockets.

pub mod http;

pub use http::{Dialect, Encoded, Failure, Http, HttpConfig, Method, Request};
