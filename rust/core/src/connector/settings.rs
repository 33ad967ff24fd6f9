//! Derivatives account settings: leverage, margin mode, position mode — each written as the
//! venue scopes it (per symbol or for the whole account) and read back from the venue. Setting
//! what is already set succeeds (the venues' "not modified" refusals are not errors here).

use super::Connector;
use crate::model::{Decimal, MarginMode, PositionMode, PositionSettings, Symbol};
use crate::net::Request;
use crate::{Error, Result};

impl Connector {
    fn no_settings(&self) -> Error {
        Error::invalid_argument(
            "market",
            format!(
                "{} {} has no leverage, margin or position mode",
                self.venue, self.market
            ),
        )
    }

    async fn symbol_or_none(&self, symbol: Option<&str>) -> Result<Option<Symbol>> {
        Ok(match symbol {
            Some(s) => Some(self.symbol_info(s).await?.symbol),
            None => None,
        })
    }

    async fn write_setting(&self, request: Option<Request>) -> Result<()> {
        let request = request.ok_or_else(|| self.no_settings())?;
        match self.request(&request).await {
            Ok(_) => Ok(()),
            Err(e) if self.trading.unchanged(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sets a symbol's leverage (a whole number from 1 to the symbol's maximum); returns it as
    /// the venue then reports it.
    pub async fn set_leverage(&self, symbol: &str, leverage: Decimal) -> Result<Decimal> {
        if leverage < Decimal::ONE || !leverage.fract().is_zero() {
            return Err(Error::invalid_argument(
                "leverage",
                format!("{leverage} is not a whole number of at least 1"),
            ));
        }
        let symbol = self.symbol_info(symbol).await?.symbol;
        self.write_setting(self.trading.set_leverage(symbol, leverage.normalize()))
            .await?;
        Ok(self.settings(symbol.as_str()).await?.leverage)
    }

    /// Cross or isolated margin: per symbol on Binance USD-M (`symbol` required), for the
    /// whole unified account on Bybit (`symbol` must be `None`).
    pub async fn set_margin_mode(&self, symbol: Option<&str>, mode: MarginMode) -> Result<()> {
        let symbol = self.symbol_or_none(symbol).await?;
        self.write_setting(self.trading.set_margin_mode(symbol, mode)?)
            .await
    }

    /// One-way or hedge mode: account-wide on Binance USD-M (`symbol` must be `None`); per
    /// symbol on Bybit, or with `None` every USDT perpetual without a position or open order.
    pub async fn set_position_mode(&self, symbol: Option<&str>, mode: PositionMode) -> Result<()> {
        let symbol = self.symbol_or_none(symbol).await?;
        self.write_setting(self.trading.set_position_mode(symbol, mode)?)
            .await
    }

    /// A symbol's leverage, margin mode and position mode, as the venue reports them now.
    pub async fn settings(&self, symbol: &str) -> Result<PositionSettings> {
        let symbol = self.symbol_info(symbol).await?.symbol;
        let requests = self.trading.settings(symbol);
        if requests.is_empty() {
            return Err(self.no_settings());
        }
        let mut answers = Vec::with_capacity(requests.len());
        for r in &requests {
            answers.push(self.request(r).await?);
        }
        self.trading.settings_of(symbol, &answers)
    }
}
