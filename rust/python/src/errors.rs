//! The one place where core errors become Python exceptions. The classes live in
//! `tradewire/errors.py` (documented, typed); the venue's code and message ride along as
//! attributes so a caller can branch on `err.code` without parsing text.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};
use tradewire_core::Error;
use tradewire_core::error::VenueReply;

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Converts a core error into the matching `tradewire` exception.
pub fn to_pyerr(py: Python<'_>, error: Error) -> PyErr {
    build(py, &error).unwrap_or_else(|failure| {
        // Only reachable if tradewire.errors cannot be imported: still say what happened.
        PyRuntimeError::new_err(format!("{error} (and mapping it failed: {failure})"))
    })
}

/// Named after the Python class it raises; used where a class is needed without a core error.
pub fn raise(py: Python<'_>, class: &str, message: String) -> PyErr {
    let kwargs = PyDict::new(py);
    instantiate(py, class, message, &kwargs).unwrap_or_else(|e| e)
}

fn instantiate(
    py: Python<'_>,
    class: &str,
    message: String,
    kwargs: &Bound<'_, PyDict>,
) -> PyResult<PyErr> {
    let module = MODULE.get_or_try_init(py, || py.import("tradewire.errors").map(Bound::unbind))?;
    let instance = module
        .bind(py)
        .getattr(class)?
        .call((message,), Some(kwargs))?;
    Ok(PyErr::from_value(instance))
}

fn add_reply(kwargs: &Bound<'_, PyDict>, reply: &VenueReply) -> PyResult<()> {
    kwargs.set_item("venue", reply.venue.as_str())?;
    kwargs.set_item("code", reply.code)?;
    kwargs.set_item("venue_message", &reply.message)?;
    kwargs.set_item("http_status", reply.http_status)?;
    Ok(())
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let kwargs = PyDict::new(py);
    let class = match error {
        Error::Exchange(reply) => {
            add_reply(&kwargs, reply)?;
            "ExchangeError"
        }
        Error::RateLimited { reply, retry_after } => {
            add_reply(&kwargs, reply)?;
            kwargs.set_item("retry_after", retry_after.map(|d| d.as_secs_f64()))?;
            "RateLimited"
        }
        Error::Banned { reply, until_ms } => {
            add_reply(&kwargs, reply)?;
            kwargs.set_item("until_ms", until_ms)?;
            "Banned"
        }
        Error::Auth(reply) => {
            add_reply(&kwargs, reply)?;
            "AuthError"
        }
        Error::OrderNotFound(reply) => {
            add_reply(&kwargs, reply)?;
            "OrderNotFound"
        }
        Error::InvalidOrder { rule, reply, .. } => {
            if let Some(reply) = reply {
                add_reply(&kwargs, reply)?;
            }
            kwargs.set_item("rule", rule)?;
            match rule.as_str() {
                tradewire_core::orders::rule::INSUFFICIENT_FUNDS => "InsufficientFunds",
                tradewire_core::orders::rule::POST_ONLY_WOULD_TAKE => "PostOnlyRejected",
                _ => "InvalidOrder",
            }
        }
        Error::CircuitOpen { venue, retry_in } => {
            kwargs.set_item("venue", venue.as_str())?;
            kwargs.set_item("retry_in", retry_in.as_secs_f64())?;
            "CircuitOpen"
        }
        Error::ConnectionLost(_) => "ConnectionLost",
        Error::NotConnected(_) => "NotConnected",
        Error::Timeout { .. } => "Timeout",
        Error::SlowConsumer {
            capacity,
            max_bytes,
        } => {
            kwargs.set_item("capacity", capacity)?;
            kwargs.set_item("max_bytes", max_bytes)?;
            "SlowConsumer"
        }
        Error::InvalidArgument { field, .. } => {
            kwargs.set_item("field", field)?;
            "InvalidArgument"
        }
        Error::Protocol { venue, .. } => {
            kwargs.set_item("venue", venue.as_str())?;
            "ProtocolError"
        }
        Error::Denied(_) => "PermissionDenied",
        Error::Closed => "StreamClosed",
        Error::Failed(_) => "ConnectorFailed",
        _ => "TradewireError",
    };
    instantiate(py, class, error.to_string(), &kwargs)
}

/// Lets `?` turn a core error into a Python exception inside `#[pyfunction]`s.
pub trait IntoPyResult<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, e))
    }
}
