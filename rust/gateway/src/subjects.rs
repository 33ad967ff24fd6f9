//! The gateway's subjects. Version 1, under a prefix (default `tw`):
//!
//! | subject | what | how |
//! |---|---|---|
//! | `tw.v1.md.<label>.trades.<symbol>` | public trades | publish ([`wire::TradeMsg`](crate::wire::TradeMsg)) |
//! | `tw.v1.md.<label>.tickers.<symbol>` | 24 h tickers | publish ([`wire::TickerMsg`](crate::wire::TickerMsg)) |
//! | `tw.v1.md.<label>.book.<symbol>` | every book diff, numbered | publish ([`wire::BookDiffMsg`](crate::wire::BookDiffMsg)) |
//! | `tw.v1.md.<label>.snapshot.<symbol>` | the whole book and its number | request/reply ([`wire::BookSnapshotMsg`](crate::wire::BookSnapshotMsg)) |
//! | `tw.v1.md.<label>.symbol.<symbol>` | a symbol's rules | request/reply ([`wire::SymbolInfoMsg`](crate::wire::SymbolInfoMsg)) |
//! | `tw.v1.md.<label>.served` | what the gateway serves | request/reply ([`wire::ServedMsg`](crate::wire::ServedMsg)) |
//! | `tw.v1.md.<label>.gateway` | a gateway became the one serving the label | publish ([`gateway_ha::ActiveMsg`](crate::gateway_ha::ActiveMsg)) |
//!
//! | `tw.v1.acct.<label>.order.<symbol>` | every change of every order | JetStream ([`wire::OrderUpdateMsg`](crate::wire::OrderUpdateMsg)) |
//! | `tw.v1.acct.<label>.balance.<asset>` | an asset's funds when they change | JetStream ([`wire::BalanceMsg`](crate::wire::BalanceMsg)) |
//! | `tw.v1.acct.<label>.position.<symbol>` | a position when it changes (a hedge-mode leg: `<symbol>-LONG` / `-SHORT`) | JetStream ([`wire::PositionMsg`](crate::wire::PositionMsg)) |
//! | `tw.v1.cmd.<label>.<verb>` | place, cancel, cancel_all, order, resolve, open_orders, balances, positions | request/reply |
//!
//! `<label>` names a venue market as connectors do (`binance-spot`, `bybit-linear`);
//! `<symbol>` is the venue's spelling (`BTCUSDT`). Market data lives under `md.`, the account
//! under `acct.` and commands under `cmd.`, so one NATS permission each (`tw.v1.md.>`)
//! grants one kind and nothing else. The account subjects of a label are kept in the
//! JetStream stream [`Subjects::account_stream`].

use tradewire_core::{Error, Result};

/// The schema version in every subject; a change that breaks readers gets a new one.
pub const VERSION: &str = "v1";

/// The default prefix.
pub const PREFIX: &str = "tw";

/// Builds the subjects of one prefix.
#[derive(Debug, Clone)]
pub struct Subjects {
    root: String,
}

impl Default for Subjects {
    fn default() -> Self {
        Subjects::new(PREFIX).expect("the default prefix is a token")
    }
}

impl Subjects {
    pub fn new(prefix: &str) -> Result<Subjects> {
        token("prefix", prefix)?;
        Ok(Subjects {
            root: format!("{prefix}.{VERSION}"),
        })
    }

    fn market_data(&self, label: &str, kind: &str, symbol: &str) -> Result<String> {
        token("label", label)?;
        token("symbol", symbol)?;
        Ok(format!("{}.md.{label}.{kind}.{symbol}", self.root))
    }

    pub fn trades(&self, label: &str, symbol: &str) -> Result<String> {
        self.market_data(label, "trades", symbol)
    }

    pub fn tickers(&self, label: &str, symbol: &str) -> Result<String> {
        self.market_data(label, "tickers", symbol)
    }

    pub fn book(&self, label: &str, symbol: &str) -> Result<String> {
        self.market_data(label, "book", symbol)
    }

    pub fn snapshot(&self, label: &str, symbol: &str) -> Result<String> {
        self.market_data(label, "snapshot", symbol)
    }

    pub fn symbol(&self, label: &str, symbol: &str) -> Result<String> {
        self.market_data(label, "symbol", symbol)
    }

    /// What every [`Subjects::symbol`] of `label` starts with (the symbol follows).
    pub fn symbol_prefix(&self, label: &str) -> Result<String> {
        token("label", label)?;
        Ok(format!("{}.md.{label}.symbol.", self.root))
    }

    pub fn served(&self, label: &str) -> Result<String> {
        token("label", label)?;
        Ok(format!("{}.md.{label}.served", self.root))
    }

    /// Where a gateway announces that it serves `label` (a new one after a failover).
    pub fn gateway(&self, label: &str) -> Result<String> {
        token("label", label)?;
        Ok(format!("{}.md.{label}.gateway", self.root))
    }

    /// An account subject: `kind` is `order`, `balance` or `position`; `key` the symbol or
    /// asset.
    pub fn account(&self, label: &str, kind: &str, key: &str) -> Result<String> {
        token("label", label)?;
        token("key", key)?;
        Ok(format!("{}.acct.{label}.{kind}.{key}", self.root))
    }

    /// Every `kind` subject of a label's account (`order`, `balance`, `position`), or all of
    /// them (`None`).
    pub fn account_all(&self, label: &str, kind: Option<&str>) -> Result<String> {
        token("label", label)?;
        Ok(match kind {
            Some(kind) => format!("{}.acct.{label}.{kind}.>", self.root),
            None => format!("{}.acct.{label}.>", self.root),
        })
    }

    /// The JetStream stream that keeps a label's account subjects (`tw_v1_acct_binance-spot`).
    pub fn account_stream(&self, label: &str) -> Result<String> {
        token("label", label)?;
        Ok(format!("{}_acct_{label}", self.root.replace('.', "_")))
    }

    /// A command to a label's gateway.
    pub fn command(&self, label: &str, verb: &str) -> Result<String> {
        token("label", label)?;
        Ok(format!("{}.cmd.{label}.{verb}", self.root))
    }

    /// What every [`Subjects::command`] of `label` starts with (the verb follows).
    pub fn command_prefix(&self, label: &str) -> Result<String> {
        token("label", label)?;
        Ok(format!("{}.cmd.{label}.", self.root))
    }
}

/// A subject token: letters, digits, `-` and `_` (NATS splits on `.`, and `*`, `>` and
/// white space are not allowed). Venue symbols and labels are all of this form; anything else
/// is refused rather than rewritten, so a subject always names exactly one thing.
pub fn token<'a>(field: &str, text: &'a str) -> Result<&'a str> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(text)
    } else {
        Err(Error::invalid_argument(
            field,
            format!("{text:.70?} cannot be a subject token: use letters, digits, '-' and '_'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_stream_under_its_version_and_label() {
        let s = Subjects::default();
        assert_eq!(
            s.trades("binance-spot", "BTCUSDT").unwrap(),
            "tw.v1.md.binance-spot.trades.BTCUSDT"
        );
        assert_eq!(
            s.snapshot("bybit-linear", "ETHUSDT").unwrap(),
            "tw.v1.md.bybit-linear.snapshot.ETHUSDT"
        );
        assert_eq!(
            s.served("binance-usdm").unwrap(),
            "tw.v1.md.binance-usdm.served"
        );
        assert_eq!(
            s.account("bybit-linear", "balance", "USDT").unwrap(),
            "tw.v1.acct.bybit-linear.balance.USDT"
        );
        assert_eq!(
            s.account_all("bybit-linear", Some("order")).unwrap(),
            "tw.v1.acct.bybit-linear.order.>"
        );
        assert_eq!(
            s.account_stream("binance-usdm").unwrap(),
            "tw_v1_acct_binance-usdm"
        );
        assert_eq!(
            s.command("binance-spot", "place").unwrap(),
            "tw.v1.cmd.binance-spot.place"
        );
        let prefix = s.symbol_prefix("binance-spot").unwrap();
        assert_eq!(
            format!("{prefix}BTCUSDT"),
            s.symbol("binance-spot", "BTCUSDT").unwrap()
        );
    }

    #[test]
    fn refuses_what_would_change_the_subject() {
        let s = Subjects::default();
        for bad in ["BTC.USDT", "*", ">", "BTC USDT", ""] {
            assert!(
                matches!(
                    s.trades("binance-spot", bad),
                    Err(Error::InvalidArgument { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(Subjects::new("a.b").is_err());
    }
}
