//! Venues. Each venue is a folder with the same files (`urls`, `sign`, `messages`, `market`,
//! `orders`, `user`) implementing the shared traits declared here.

pub mod binance;
pub mod bybit;
pub mod credentials;
pub mod fields;

pub use credentials::Credentials;

use serde_json::Value;

use crate::Result;
use crate::model::{Balance, Fill, Id, Order, Position, Symbol};
use crate::net::Request;
use crate::orders::{NewOrder, OrderRef};

/// What one user-stream message says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // consumed at once
pub enum UserEvent {
    /// An order's state, and the execution the message reports, if any.
    Order(Order, Option<Fill>),
    /// An execution reported on its own (Bybit's `execution` topic).
    Fill(Fill),
    Balances(Vec<Balance>),
    Positions(Vec<Position>),
    /// Funds or positions changed in a way the message does not fully say: read them again.
    AccountChanged,
    /// The venue ended the stream (expired key, terminated subscription): open it again.
    Ended(String),
    /// The venue refused the subscription or login (keys, permissions): it will not heal alone.
    Refused(String),
}

/// What a write's answer says of the order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // returned and consumed at once
pub enum Written {
    /// The order's state (and, for a place, the fills it made at once).
    Order(Order, Vec<Fill>),
    /// Only an acknowledgement with the venue's id: the state comes from a query or the
    /// user stream (Bybit's writes are asynchronous).
    Ack { order_id: String },
}

/// A venue's order and account endpoints: requests to send and how to read their answers.
/// Each venue implements it in `orders.rs`.
pub trait Trading: Send + Sync + 'static {
    fn place(&self, order: &NewOrder) -> Request;
    /// Whether the venue refused an order for one of the symbol's filters (tick, step,
    /// minimums): our checks passed it, so the rules we hold may be stale.
    fn names_a_filter(&self, error: &crate::Error) -> bool;
    /// An order the venue accepted and at once ended in a way other venues refuse it (Bybit
    /// cancels a post-only order that would take): the refusal to give the caller instead.
    fn refusal(&self, _order: &Order) -> Option<crate::Error> {
        None
    }
    fn placed(&self, answer: &Value) -> Result<Written>;
    fn cancel(&self, symbol: Symbol, which: &OrderRef) -> Request;
    fn canceled(&self, answer: &Value) -> Result<Written>;
    /// The requests that look one order up, asked in turn until one finds it.
    fn query(&self, symbol: Symbol, which: &OrderRef) -> Vec<Request>;
    /// The order in a query's answer; `None` if this answer does not have it.
    fn queried(&self, answer: &Value) -> Result<Option<Order>>;
    /// Open orders, of one symbol or all; `cursor` pages on where the venue pages.
    fn open_orders(&self, symbol: Option<Symbol>, cursor: Option<&str>) -> Request;
    /// The orders in an open-orders answer, and the cursor of the next page if any.
    fn orders_of(&self, answer: &Value) -> Result<(Vec<Order>, Option<String>)>;
    fn cancel_all(&self, symbol: Symbol) -> Request;
    /// Whether the cancel-all answer names the orders it canceled (else they are listed first).
    fn cancel_all_lists(&self) -> bool;
    /// What a cancel-all answer says: orders in full, or acknowledgements.
    fn all_canceled(&self, answer: &Value) -> Result<Vec<Written>>;
    fn balances(&self) -> Request;
    fn balances_of(&self, answer: &Value, now_ms: i64) -> Result<Vec<Balance>>;
    /// `None` on spot markets (no positions).
    fn positions(&self, symbol: Option<Symbol>) -> Option<Request>;
    /// A second request whose answer completes positions (Binance USD-M's leverage).
    fn position_extras(&self, symbol: Option<Symbol>) -> Option<Request>;
    fn positions_of(&self, answer: &Value, extras: Option<&Value>) -> Result<Vec<Position>>;
    /// The executions of one order (for fills a stream missed).
    fn trades(&self, symbol: Symbol, order_id: &Id) -> Request;
    fn trades_of(&self, answer: &Value, order: &Order) -> Result<Vec<Fill>>;
}
