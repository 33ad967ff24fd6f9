//! `tradewire.Gateway` / `tradewire.Remote`'s native half: the core gateway on the shared
//! runtime, publishing from the connectors Python hands it, and the remote reader.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use tradewire_gateway::{Channels, Gateway, NatsOptions, Remote};

use crate::connector::{NativeConnector, native_stream};
use crate::errors::{IntoPyResult, to_pyerr};

fn py_err(error: tradewire_core::Error) -> PyErr {
    Python::attach(|py| to_pyerr(py, error))
}

#[allow(clippy::too_many_arguments)]
fn options(
    url: String,
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
    credentials_file: Option<PathBuf>,
    root_certificates: Option<PathBuf>,
    require_tls: bool,
    name: &str,
) -> NatsOptions {
    NatsOptions {
        user,
        password,
        token,
        credentials_file,
        root_certificates,
        require_tls,
        name: name.to_owned(),
        ..NatsOptions::new(&url)
    }
}

#[pyclass(module = "tradewire._native", frozen)]
pub struct NativeGateway {
    inner: Arc<Gateway>,
}

#[pymethods]
impl NativeGateway {
    /// Connects to NATS. Awaitable.
    #[staticmethod]
    #[pyo3(signature = (url, *, prefix = "tw", user = None, password = None, token = None,
        credentials_file = None, root_certificates = None, require_tls = false))]
    #[allow(clippy::too_many_arguments)]
    fn start<'py>(
        py: Python<'py>,
        url: String,
        prefix: &str,
        user: Option<String>,
        password: Option<String>,
        token: Option<String>,
        credentials_file: Option<PathBuf>,
        root_certificates: Option<PathBuf>,
        require_tls: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = options(
            url,
            user,
            password,
            token,
            credentials_file,
            root_certificates,
            require_tls,
            "tradewire-gateway",
        );
        let cancel = crate::runtime::root_token(py)?;
        let prefix = prefix.to_owned();
        crate::runtime::future_into_py(py, async move {
            let inner = Gateway::start(&options, &prefix, cancel)
                .await
                .map_err(py_err)?;
            Ok(NativeGateway { inner })
        })
    }

    /// Publishes `channels` of `symbols` from `connector`. Awaitable.
    #[pyo3(signature = (connector, symbols, channels, book_depth = 1000))]
    fn serve<'py>(
        &self,
        py: Python<'py>,
        connector: PyRef<'py, NativeConnector>,
        symbols: Vec<String>,
        channels: Vec<String>,
        book_depth: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let channels = Channels::parse(&channels).py_err(py)?;
        let (gateway, connector) = (self.inner.clone(), connector.core());
        crate::runtime::future_into_py(py, async move {
            gateway
                .serve(connector, &symbols, channels, book_depth.max(1))
                .await
                .map_err(py_err)
        })
    }

    #[getter]
    fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    /// Counters: published, lost_upstream, snapshots_served, requests_served, publish_errors.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("published", s.published)?;
        d.set_item("lost_upstream", s.lost_upstream)?;
        d.set_item("snapshots_served", s.snapshots_served)?;
        d.set_item("requests_served", s.requests_served)?;
        d.set_item("publish_errors", s.publish_errors)?;
        Ok(d)
    }

    /// Stops publishing. Awaitable.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let gateway = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            gateway.close().await;
            Ok(())
        })
    }
}

#[pyclass(module = "tradewire._native", frozen)]
pub struct NativeRemote {
    inner: Arc<Remote>,
}

#[pymethods]
impl NativeRemote {
    /// Connects to NATS for one label's subjects. Awaitable.
    #[staticmethod]
    #[pyo3(signature = (url, label, *, prefix = "tw", user = None, password = None, token = None,
        credentials_file = None, root_certificates = None, require_tls = false))]
    #[allow(clippy::too_many_arguments)]
    fn connect<'py>(
        py: Python<'py>,
        url: String,
        label: String,
        prefix: &str,
        user: Option<String>,
        password: Option<String>,
        token: Option<String>,
        credentials_file: Option<PathBuf>,
        root_certificates: Option<PathBuf>,
        require_tls: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = options(
            url,
            user,
            password,
            token,
            credentials_file,
            root_certificates,
            require_tls,
            "tradewire-remote",
        );
        let cancel = crate::runtime::root_token(py)?;
        let prefix = prefix.to_owned();
        crate::runtime::future_into_py(py, async move {
            let inner = Remote::connect(&options, &prefix, &label, cancel)
                .await
                .map_err(py_err)?;
            Ok(NativeRemote { inner })
        })
    }

    #[getter]
    fn label(&self) -> &str {
        self.inner.label()
    }

    #[pyo3(signature = (symbols, *, capacity = 65_536))]
    fn trades(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.trades(&symbols, capacity))
    }

    #[pyo3(signature = (symbols, *, capacity = 65_536))]
    fn tickers(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.tickers(&symbols, capacity))
    }

    #[pyo3(signature = (symbol, *, capacity = 65_536))]
    fn book_diffs(
        &self,
        py: Python<'_>,
        symbol: &str,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.book_diffs(symbol, capacity))
    }

    /// A symbol's rules from the gateway. Awaitable.
    fn symbol_info<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let info = remote.symbol_info(&symbol).await.map_err(py_err)?;
            Ok(crate::model::SymbolInfo(info))
        })
    }

    /// What the gateway serves for this label: `{"epoch", "venue", "market", "trades",
    /// "tickers", "books"}`. Awaitable.
    fn served<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let s = remote.served().await.map_err(py_err)?;
            Python::attach(|py| {
                let d = PyDict::new(py);
                d.set_item("epoch", s.epoch)?;
                d.set_item("venue", s.venue.as_str())?;
                d.set_item("market", s.market.as_str())?;
                d.set_item("trades", s.trades)?;
                d.set_item("tickers", s.tickers)?;
                d.set_item("books", s.books)?;
                Ok(d.unbind())
            })
        })
    }

    /// Stops every stream. Awaitable.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            remote.close().await;
            Ok(())
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeGateway>()?;
    m.add_class::<NativeRemote>()?;
    Ok(())
}
