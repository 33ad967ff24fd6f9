//! Derivatives account settings: leverage, margin mode, position mode — each written as the
//! venue scopes it (per symbol or for the whole account) and read back from the venue. Setting
//! what is already set succeeds (the venues' "not modified" refusals are not errors here).

use super::Connector;
use crate::model::{
    Decimal, MarginMode, Position, PositionMode, PositionSettings, PositionSide, Symbol,
};
use crate::net::Request;
use crate::orders::PositionExits;
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

    /// Sets a position's own take-profit, stop-loss and/or trailing stop (Bybit linear,
    /// `tpslMode` Full): when one fires, the whole position closes at MARKET; the venue
    /// resizes them with the position and drops them when it closes. A zero trigger (or
    /// distance) removes one; `None` leaves it as it is. Returns the position as the venue then
    /// reports it.
    pub async fn set_position_exits(&self, symbol: &str, exits: PositionExits) -> Result<Position> {
        let PositionExits {
            position_side,
            take_profit,
            stop_loss,
            trailing_stop,
            activation_price,
        } = exits;
        if take_profit.is_none() && stop_loss.is_none() && trailing_stop.is_none() {
            return Err(Error::invalid_argument(
                "take_profit",
                "give a take_profit, a stop_loss or a trailing_stop",
            ));
        }
        if activation_price.is_some() && trailing_stop.is_none_or(|d| d.is_zero()) {
            return Err(Error::invalid_argument(
                "activation_price",
                "activates a trailing_stop: give its distance too",
            ));
        }
        if position_side == Some(PositionSide::Flat) {
            return Err(Error::invalid_argument(
                "position_side",
                "LONG or SHORT (a hedge-mode leg), or none in one-way mode",
            ));
        }
        let info = self.symbol_info(symbol).await?;
        let on_grid = |p: Decimal| crate::orders::check::multiple(p, info.tick_size);
        for (name, price) in [
            ("trailing_stop", trailing_stop),
            ("activation_price", activation_price),
        ] {
            if let Some(p) = price.filter(|p| *p < Decimal::ZERO || !on_grid(*p)) {
                return Err(Error::invalid_argument(
                    name,
                    format!(
                        "{p} must be 0 (remove) or a positive multiple of the tick size {}",
                        info.tick_size
                    ),
                ));
            }
        }
        for (name, exit) in [("take_profit", take_profit), ("stop_loss", stop_loss)] {
            let Some(e) = exit else { continue };
            if e.price.is_some() {
                return Err(Error::invalid_argument(
                    name,
                    "a position's own exit closes at MARKET: it takes no limit price",
                ));
            }
            if e.trigger < Decimal::ZERO || !on_grid(e.trigger) {
                return Err(Error::invalid_argument(
                    name,
                    format!(
                        "trigger {} must be 0 (remove) or a positive multiple of the tick size {}",
                        e.trigger, info.tick_size
                    ),
                ));
            }
        }
        let request = self
            .trading
            .position_exits(info.symbol, &exits)
            .ok_or_else(|| {
                Error::invalid_argument(
                    "market",
                    format!(
                        "{} {} has no take-profit / stop-loss of a position",
                        self.venue, self.market
                    ),
                )
            })?;
        match self.request(&request).await {
            Ok(_) => {}
            Err(e) if self.trading.unchanged(&e) => {}
            Err(e) => return Err(e),
        }
        self.positions(Some(info.symbol.as_str()))
            .await?
            .into_iter()
            .find(|p| p.position_side == position_side)
            .ok_or_else(|| Error::Internal(format!("no {symbol} position in the venue's answer")))
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
