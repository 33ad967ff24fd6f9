//! Reading fields of a venue's JSON answer: every missing or malformed field is a
//! `Protocol` error naming the venue and the field, never a panic or a silent default.

use serde_json::Value;

use crate::model::{Decimal, Id, Symbol, Venue, parse_decimal};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub venue: Venue,
    pub value: &'a Value,
}

impl<'a> Fields<'a> {
    pub fn new(venue: Venue, value: &'a Value) -> Fields<'a> {
        Fields { venue, value }
    }

    pub fn bad(&self, reason: impl Into<String>) -> Error {
        Error::protocol(self.venue, reason)
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.value.get(key).filter(|v| !v.is_null())
    }

    pub fn text(&self, key: &str) -> Result<&'a str> {
        self.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| self.bad(format!("'{key}' missing or not text")))
    }

    /// A symbol named by the venue (bounded interning: [`Symbol::from_wire`]).
    pub fn symbol(&self, key: &str) -> Result<Symbol> {
        Symbol::from_wire(self.text(key)?).map_err(|e| self.bad(format!("'{key}': {e}")))
    }

    pub fn opt_text(&self, key: &str) -> Option<&'a str> {
        self.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A decimal sent as text (or, leniently, as a JSON integer).
    pub fn decimal(&self, key: &str) -> Result<Decimal> {
        self.opt_decimal(key)?
            .ok_or_else(|| self.bad(format!("'{key}' missing")))
    }

    /// `None` when absent, null or empty text.
    pub fn opt_decimal(&self, key: &str) -> Result<Option<Decimal>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => parse_decimal(s)
                .map(Some)
                .map_err(|e| self.bad(format!("'{key}': {e}"))),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => parse_decimal(&n.to_string())
                .map(Some)
                .map_err(|e| self.bad(format!("'{key}': {e}"))),
            Some(other) => Err(self.bad(format!("'{key}' = {other} is not a decimal"))),
        }
    }

    /// An integer sent as a number or as text (Bybit writes times as text).
    pub fn int(&self, key: &str) -> Result<i64> {
        self.opt_int(key)?
            .ok_or_else(|| self.bad(format!("'{key}' missing")))
    }

    pub fn opt_int(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.bad(format!("'{key}' = {n} is not an integer"))),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.bad(format!("'{key}' = {s:?} is not an integer"))),
            Some(other) => Err(self.bad(format!("'{key}' = {other} is not an integer"))),
        }
    }

    /// An id sent as a number or as text.
    pub fn id(&self, key: &str) -> Result<Id> {
        match self.get(key) {
            Some(Value::Number(n)) if n.is_u64() => Ok(Id::from_u64(n.as_u64().unwrap_or(0))),
            Some(Value::String(s)) => Ok(Id::new(s)),
            _ => Err(self.bad(format!("'{key}' missing or not an id"))),
        }
    }

    pub fn opt_bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => Some(s == "true"),
            _ => None,
        }
    }

    pub fn array(&self, key: &str) -> Result<&'a [Value]> {
        self.get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .ok_or_else(|| self.bad(format!("'{key}' missing or not a list")))
    }

    pub fn at(&self, value: &'a Value) -> Fields<'a> {
        Fields::new(self.venue, value)
    }
}
