//! `tradewire.Gateway` / `tradewire.Remote`'s native half: the core gateway on the shared
//! runtime, publishing from the connectors Python hands it, and the remote reader.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use tradewire_gateway::{Channels, Gateway, GatewayEvent, NatsOptions, Remote, Standby};

use crate::connector::{
    Amend, AmendItem, BatchDraft, BatchItem, Draft, NativeConnector, amend_items, native_stream,
    order_ref, outcomes, py_err, refs, wrap_all,
};
use crate::errors::IntoPyResult;
use crate::model::{OrderType, PositionSide, Side, TimeInForce, TriggerBy, TriggerKind};
use tradewire_core::model::Id;

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
        credentials_file = None, root_certificates = None, require_tls = false,
        standby_group = None, name = None, lease_ttl_ms = 3000))]
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
        standby_group: Option<String>,
        name: Option<String>,
        lease_ttl_ms: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let standby = standby_group.map(|group| Standby {
            group,
            name,
            ttl: std::time::Duration::from_millis(lease_ttl_ms),
        });
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
            let inner = Gateway::start(&options, &prefix, cancel, standby)
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

    /// Stores `connector`'s account events on JetStream and answers its commands. Awaitable.
    fn serve_account<'py>(
        &self,
        py: Python<'py>,
        connector: PyRef<'py, NativeConnector>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (gateway, connector) = (self.inner.clone(), connector.core());
        crate::runtime::future_into_py(py, async move {
            gateway.serve_account(connector).await.map_err(py_err)
        })
    }

    #[getter]
    fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// Whether it serves now (a standby waits for its group's lease).
    #[getter]
    fn active(&self) -> bool {
        self.inner.is_active()
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
        credentials_file = None, root_certificates = None, require_tls = false,
        command_timeout_ms = 30_000))]
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
        command_timeout_ms: u64,
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
            inner.set_command_timeout(std::time::Duration::from_millis(command_timeout_ms));
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

    /// A live book kept from the gateway's diffs, once in sync (at most `timeout_ms`).
    /// Awaitable.
    #[pyo3(signature = (symbol, *, depth = 50, timeout_ms = 30_000))]
    fn book<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        depth: usize,
        timeout_ms: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.inner.clone();
        let wait = std::time::Duration::from_millis(timeout_ms.max(1));
        crate::runtime::future_into_py(py, async move {
            let handle = remote.book(&symbol, depth, wait).await.map_err(py_err)?;
            Ok(crate::book::NativeBook::new(handle, depth))
        })
    }

    /// Conflated views of the books of `symbols` (best `depth` levels a side) after each change.
    #[pyo3(signature = (symbols, *, depth = 10))]
    fn book_updates(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        depth: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.book_updates(&symbols, depth))
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
                d.set_item("account", s.account)?;
                Ok(d.unbind())
            })
        })
    }

    /// Places an order through the gateway; the same arguments as a connector's. Awaitable.
    #[pyo3(signature = (symbol, side, order_type, *, qty = None, quote_qty = None, price = None,
        time_in_force = None, post_only = false, reduce_only = false, position_side = None,
        trigger_price = None, trigger_kind = None, trigger_by = None, callback_rate = None,
        close_position = false, take_profit = None, stop_loss = None, client_order_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn place<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        side: Side,
        order_type: OrderType,
        qty: Option<&Bound<'py, PyAny>>,
        quote_qty: Option<&Bound<'py, PyAny>>,
        price: Option<&Bound<'py, PyAny>>,
        time_in_force: Option<TimeInForce>,
        post_only: bool,
        reduce_only: bool,
        position_side: Option<PositionSide>,
        trigger_price: Option<&Bound<'py, PyAny>>,
        trigger_kind: Option<TriggerKind>,
        trigger_by: Option<TriggerBy>,
        callback_rate: Option<&Bound<'py, PyAny>>,
        close_position: bool,
        take_profit: Option<PyRef<'py, crate::model::Exit>>,
        stop_loss: Option<PyRef<'py, crate::model::Exit>>,
        client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let draft = Draft::new(
            side,
            order_type,
            qty,
            quote_qty,
            price,
            time_in_force,
            post_only,
            reduce_only,
            position_side,
        )?
        .trailing(callback_rate)?
        .triggered(trigger_price, trigger_kind, trigger_by)?
        .closing(close_position)
        .exits(take_profit, stop_loss);
        let client_order_id = self
            .inner
            .client_order_id(client_order_id.as_deref())
            .py_err(py)?;
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let symbol = remote.symbol(&symbol).await.map_err(py_err)?;
            let order = remote
                .place(draft.order(symbol, client_order_id))
                .await
                .map_err(py_err)?;
            Ok(crate::model::Order(order))
        })
    }

    /// Amends an open LIMIT order through the gateway; the same arguments as a connector's.
    /// Awaitable.
    #[pyo3(signature = (symbol, *, order_id = None, client_order_id = None, qty = None, price = None, replacement_client_order_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn amend<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        order_id: Option<String>,
        client_order_id: Option<String>,
        qty: Option<&Bound<'py, PyAny>>,
        price: Option<&Bound<'py, PyAny>>,
        replacement_client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let amend = Amend::new(py, order_id, client_order_id, qty, price)?;
        let replacement = match replacement_client_order_id {
            Some(id) => Some(self.inner.client_order_id(Some(&id)).py_err(py)?),
            None => None,
        };
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let order = remote
                .amend(&symbol, &amend.which, amend.qty, amend.price, replacement)
                .await
                .map_err(py_err)?;
            Ok(crate::model::Order(order))
        })
    }

    /// Cancels one order and places a LIMIT order in one request, through the gateway; the
    /// same arguments as a connector's. Awaitable.
    #[pyo3(signature = (symbol, qty, price, *, order_id = None, client_order_id = None, side = None, time_in_force = None, post_only = false, new_client_order_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn replace<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        qty: &Bound<'py, PyAny>,
        price: &Bound<'py, PyAny>,
        order_id: Option<String>,
        client_order_id: Option<String>,
        side: Option<Side>,
        time_in_force: Option<TimeInForce>,
        post_only: bool,
        new_client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let which = order_ref(order_id, client_order_id).py_err(py)?;
        let draft = Draft::replacement(side, qty, price, time_in_force, post_only)?;
        let new_id = self
            .inner
            .client_order_id(new_client_order_id.as_deref())
            .py_err(py)?;
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let symbol_id = remote.symbol(&symbol).await.map_err(py_err)?;
            let mut new = draft.order(symbol_id, new_id);
            if side.is_none() {
                new.side = remote.order(&symbol, &which).await.map_err(py_err)?.side;
            }
            let order = remote.replace(&symbol, &which, new).await.map_err(py_err)?;
            Ok(crate::model::Order(order))
        })
    }

    /// Places many orders through the gateway, each a place of its own (resolvable by client
    /// id); resolves to one `Order` or exception each, in order. Awaitable.
    fn place_batch<'py>(
        &self,
        py: Python<'py>,
        orders: Vec<BatchItem<'py>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let drafts = orders
            .into_iter()
            .map(|item| item.draft(|id| self.inner.client_order_id(id)))
            .collect::<PyResult<Vec<_>>>()?;
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let one = |(symbol, draft, id): (String, Draft, Id)| {
                let remote = remote.clone();
                async move {
                    let symbol = remote.symbol(&symbol).await?;
                    remote.place(draft.order(symbol, id)).await
                }
            };
            outcomes(futures_util::future::join_all(drafts.into_iter().map(one)).await)
        })
    }

    /// Amends many orders of `symbol` through the gateway, each an amendment of its own;
    /// resolves to one `Order` or exception each, in order. Awaitable.
    fn amend_batch<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        items: Vec<AmendItem<'py>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let items = amend_items(py, items)?;
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let all = items
                .iter()
                .map(|(w, qty, price)| remote.amend(&symbol, w, *qty, *price, None));
            outcomes(futures_util::future::join_all(all).await)
        })
    }

    /// Cancels many orders of `symbol` through the gateway, each a cancel of its own; resolves
    /// to one `Order` or exception each, in order. Awaitable.
    #[pyo3(signature = (symbol, *, order_ids = None, client_order_ids = None))]
    fn cancel_batch<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        order_ids: Option<Vec<String>>,
        client_order_ids: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let which = refs(order_ids, client_order_ids).py_err(py)?;
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let all = which.iter().map(|w| remote.cancel(&symbol, w));
            outcomes(futures_util::future::join_all(all).await)
        })
    }

    /// Cancels one order named by exactly one of its ids. Awaitable.
    #[pyo3(signature = (symbol, *, order_id = None, client_order_id = None))]
    fn cancel<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        order_id: Option<String>,
        client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let which = order_ref(order_id, client_order_id).py_err(py)?;
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let order = remote.cancel(&symbol, &which).await.map_err(py_err)?;
            Ok(crate::model::Order(order))
        })
    }

    /// Cancels every open order of `symbol`. Awaitable.
    fn cancel_all<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let orders = remote.cancel_all(&symbol).await.map_err(py_err)?;
            Ok(wrap_all(orders, crate::model::Order))
        })
    }

    /// One order as the gateway's connector reports it. Awaitable.
    #[pyo3(signature = (symbol, *, order_id = None, client_order_id = None))]
    fn order<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        order_id: Option<String>,
        client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let which = order_ref(order_id, client_order_id).py_err(py)?;
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let order = remote.order(&symbol, &which).await.map_err(py_err)?;
            Ok(crate::model::Order(order))
        })
    }

    /// Open orders of one symbol, or of every symbol. Awaitable.
    #[pyo3(signature = (symbol = None))]
    fn open_orders<'py>(
        &self,
        py: Python<'py>,
        symbol: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let orders = remote
                .open_orders(symbol.as_deref())
                .await
                .map_err(py_err)?;
            Ok(wrap_all(orders, crate::model::Order))
        })
    }

    /// Free and locked funds per asset. Awaitable.
    fn balances<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let balances = remote.balances().await.map_err(py_err)?;
            Ok(wrap_all(balances, crate::model::Balance))
        })
    }

    /// Positions (derivatives markets only). Awaitable.
    #[pyo3(signature = (symbol = None))]
    fn positions<'py>(
        &self,
        py: Python<'py>,
        symbol: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let positions = remote.positions(symbol.as_deref()).await.map_err(py_err)?;
            Ok(wrap_all(positions, crate::model::Position))
        })
    }

    /// Every change of every order from now on; with `durable`, resumed where the reader of
    /// that name stopped (one update at a time: asking for the next acknowledges the last).
    #[pyo3(signature = (*, durable = None))]
    fn order_updates(
        &self,
        py: Python<'_>,
        durable: Option<String>,
    ) -> PyResult<crate::stream::NativeStream> {
        let _guard = crate::runtime::runtime(py)?.enter();
        let receiver = self.inner.order_updates(durable.as_deref()).py_err(py)?;
        Ok(match durable {
            Some(_) => crate::stream::NativeStream::one_at_a_time(receiver),
            None => crate::stream::NativeStream::new(receiver),
        })
    }

    /// `(kind, fields)` of what happens to the gateway (`gateway_failover`).
    fn events(&self, py: Python<'_>) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.events())
    }

    /// Each asset's latest funds, then every change.
    fn balance_updates(&self, py: Python<'_>) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.balance_updates())
    }

    /// Each symbol's latest position, then every change (derivatives).
    fn position_updates(&self, py: Python<'_>) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.position_updates())
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

/// `(kind, {field: text})`, as connector events cross.
impl crate::stream::PyEvent for GatewayEvent {
    fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let fields = PyDict::new(py);
        for (k, v) in self.fields {
            fields.set_item(k, v)?;
        }
        Ok((self.kind, fields).into_pyobject(py)?.into_any())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeGateway>()?;
    m.add_class::<NativeRemote>()?;
    Ok(())
}
