//! Money across the boundary. Python gives `Decimal`, `str` or `int`; a `float` is refused
//! because a binary float cannot hold most decimal prices. Rust never rounds: input that does
//! not fit exactly raises `InvalidArgument` (a `ValueError`) naming the field.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString, PyType};
use rust_decimal::Decimal;
use tradewire_core::Error;
use tradewire_core::model::{TEXT_MAX, parse_decimal, write_decimal};

use crate::errors::to_pyerr;

static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn decimal_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    DECIMAL.import(py, "decimal", "Decimal")
}

/// Reads a money value from Python, exactly.
pub fn extract_decimal(value: &Bound<'_, PyAny>, field: &str) -> PyResult<Decimal> {
    let py = value.py();
    let text = if value.is_instance_of::<PyString>() {
        value.cast::<PyString>()?.to_cow()?.into_owned()
    } else if value.is_instance_of::<PyFloat>() {
        return Err(PyTypeError::new_err(format!(
            "'{field}' got a float ({}); floats cannot hold money exactly: pass decimal.Decimal, str or int",
            value.repr()?
        )));
    } else if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "'{field}' got a bool; pass decimal.Decimal, str or int"
        )));
    } else if value.is_instance_of::<PyInt>() || value.is_instance(decimal_type(py)?)? {
        value.str()?.to_cow()?.into_owned()
    } else {
        return Err(PyTypeError::new_err(format!(
            "'{field}' must be decimal.Decimal, str or int, not {}",
            value.get_type().name()?
        )));
    };
    parse_decimal(&text).map_err(|e| to_pyerr(py, Error::invalid_argument(field, e.to_string())))
}

pub fn extract_opt_decimal(
    value: Option<&Bound<'_, PyAny>>,
    field: &str,
) -> PyResult<Option<Decimal>> {
    value
        .filter(|v| !v.is_none())
        .map(|v| extract_decimal(v, field))
        .transpose()
}

/// A `decimal.Decimal` with exactly the digits (and trailing zeros) of `value`.
pub fn to_py_decimal(py: Python<'_>, value: Decimal) -> PyResult<Bound<'_, PyAny>> {
    let mut text = [0; TEXT_MAX];
    let text = PyString::new(py, write_decimal(value, &mut text));
    decimal_type(py)?.call1((text,))
}

pub fn to_py_opt_decimal(
    py: Python<'_>,
    value: Option<Decimal>,
) -> PyResult<Option<Bound<'_, PyAny>>> {
    value.map(|v| to_py_decimal(py, v)).transpose()
}
