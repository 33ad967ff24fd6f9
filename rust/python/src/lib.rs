//! `tradewire._native`: the CPython face of tradewire-core. Only conversions, exception
//! mapping and the Tokio↔asyncio bridge live here; protocol logic stays in the core.

use pyo3::prelude::*;

mod aggregate;
mod book;
mod connector;
mod convert;
mod errors;
mod gateway;
mod logging;
mod model;
mod record;
mod runtime;
mod sim;
mod stream;
mod testing;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    model::register(m)?;
    stream::register(m)?;
    runtime::register(m)?;
    logging::register(m)?;
    testing::register(m)?;
    sim::register(m)?;
    connector::register(m)?;
    book::register(m)?;
    aggregate::register(m)?;
    gateway::register(m)?;
    record::register(m)?;
    Ok(())
}
