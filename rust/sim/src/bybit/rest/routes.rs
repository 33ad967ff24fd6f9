//! Bybit v5 REST routes: which endpoint a method and path is, the per-UID limit of each signed
//! one, and the dispatch of an authenticated request to its handler.

use std::collections::HashMap;

use axum::http::Method;
use serde_json::json;

use super::{Answer, account, fail, market, orders};
use crate::bybit::{BybitState, Category};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Time,
    Instruments,
    Orderbook,
    Tickers,
    RecentTrades,
    Kline,
    OpenInterest,
    FundingHistory,
    Create,
    Amend,
    CreateBatch,
    AmendBatch,
    CancelBatch,
    Cancel,
    CancelAll,
    Realtime,
    History,
    Executions,
    Wallet,
    Positions,
    SetLeverage,
    TradingStop,
    SwitchMode,
    SetMarginMode,
    /// Account metadata clients read before trading (ccxt's load_markets and first private call).
    CoinInfo,
    ApiKeyInfo,
    AccountInfo,
}

/// A signed endpoint's per-UID limit: `(name, linear per second, spot per second)`.
pub(super) type UidLimit = (&'static str, u32, u32);

/// The endpoint, and its per-UID limit when it is signed.
pub(super) fn route(method: &Method, path: &str) -> Option<(Endpoint, Option<UidLimit>)> {
    use Endpoint::*;
    Some(match (method.as_str(), path) {
        ("GET", "/v5/market/time") => (Time, None),
        ("GET", "/v5/market/instruments-info") => (Instruments, None),
        ("GET", "/v5/market/orderbook") => (Orderbook, None),
        ("GET", "/v5/market/tickers") => (Tickers, None),
        ("GET", "/v5/market/recent-trade") => (RecentTrades, None),
        ("GET", "/v5/market/kline") => (Kline, None),
        ("GET", "/v5/market/open-interest") => (OpenInterest, None),
        ("GET", "/v5/market/funding/history") => (FundingHistory, None),
        ("POST", "/v5/order/create") => (Create, Some(("order/create", 10, 20))),
        ("POST", "/v5/order/amend") => (Amend, Some(("order/amend", 10, 10))),
        ("POST", "/v5/order/create-batch") => (CreateBatch, Some(("order/create-batch", 10, 20))),
        ("POST", "/v5/order/amend-batch") => (AmendBatch, Some(("order/amend-batch", 10, 20))),
        ("POST", "/v5/order/cancel-batch") => (CancelBatch, Some(("order/cancel-batch", 10, 20))),
        ("POST", "/v5/order/cancel") => (Cancel, Some(("order/cancel", 10, 20))),
        ("POST", "/v5/order/cancel-all") => (CancelAll, Some(("order/cancel-all", 10, 20))),
        ("GET", "/v5/order/realtime") => (Realtime, Some(("order/realtime", 50, 50))),
        ("GET", "/v5/order/history") => (History, Some(("order/history", 50, 50))),
        ("GET", "/v5/execution/list") => (Executions, Some(("execution/list", 50, 50))),
        ("GET", "/v5/account/wallet-balance") => (Wallet, Some(("account/wallet-balance", 50, 50))),
        ("GET", "/v5/position/list") => (Positions, Some(("position/list", 50, 50))),
        ("POST", "/v5/position/set-leverage") => {
            (SetLeverage, Some(("position/set-leverage", 10, 10)))
        }
        ("POST", "/v5/position/trading-stop") => {
            (TradingStop, Some(("position/trading-stop", 10, 10)))
        }
        ("POST", "/v5/position/switch-mode") => {
            (SwitchMode, Some(("position/switch-mode", 10, 10)))
        }
        ("POST", "/v5/account/set-margin-mode") => {
            (SetMarginMode, Some(("account/set-margin-mode", 5, 5)))
        }
        ("GET", "/v5/asset/coin/query-info") => (CoinInfo, Some(("asset/coin/query-info", 5, 5))),
        ("GET", "/v5/user/query-api") => (ApiKeyInfo, Some(("user/query-api", 10, 10))),
        ("GET", "/v5/account/info") => (AccountInfo, Some(("account/info", 50, 50))),
        _ => return None,
    })
}

pub(super) fn dispatch(
    st: &BybitState,
    endpoint: Endpoint,
    category: Option<Category>,
    account: Option<usize>,
    params: &HashMap<String, String>,
    granted: usize,
    now: i64,
) -> Answer {
    use Endpoint::*;
    if endpoint == Time {
        return Ok(
            json!({"timeSecond": (now / 1000).to_string(), "timeNano": format!("{}000000", now)}),
        );
    }
    match endpoint {
        Wallet => return account::wallet(st, account.expect("signed"), params),
        CoinInfo => return account::coin_info(st, account.expect("signed")),
        ApiKeyInfo => return account::api_key_info(st, account.expect("signed")),
        AccountInfo => return account::account_info(st, account.expect("signed"), now),
        SetMarginMode => return account::set_margin_mode(st, account.expect("signed"), params),
        _ => {}
    }
    // The kline endpoint alone defaults to linear when no category is named.
    let category = category
        .or((endpoint == Kline && !params.contains_key("category")).then_some(Category::Linear))
        .ok_or_else(|| fail(10001, "params error: category is invalid"))?;
    let market = st.market(category);
    let symbol = params
        .get("symbol")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    match endpoint {
        Instruments => market::instruments(market, category, symbol),
        Orderbook => market::orderbook(market, category, params, now),
        Tickers => market::tickers(market, category, symbol, now),
        RecentTrades => market::recent_trades(market, category, params),
        Kline => market::klines(market, category, params, now),
        OpenInterest => market::open_interest(market, category, params, now),
        FundingHistory => market::funding_history(market, category, params, now),
        Create => orders::create(st, category, account.expect("signed"), params, now),
        Amend => orders::amend(market, category, account.expect("signed"), params, now),
        CreateBatch | AmendBatch | CancelBatch => orders::batch(
            st,
            endpoint,
            category,
            account.expect("signed"),
            params,
            granted,
            now,
        ),
        Cancel => orders::cancel(market, category, account.expect("signed"), params, now),
        CancelAll => orders::cancel_all(
            market,
            category,
            account.expect("signed"),
            symbol,
            params,
            now,
        ),
        Realtime | History => orders::list(
            market,
            endpoint,
            category,
            account.expect("signed"),
            symbol,
            params,
            now,
        ),
        Executions => orders::executions(
            market,
            category,
            account.expect("signed"),
            symbol,
            params,
            now,
        ),
        Positions => account::positions(market, category, account.expect("signed"), symbol, params),
        SetLeverage => account::set_leverage(market, account.expect("signed"), params),
        SwitchMode => account::switch_mode(market, account.expect("signed"), params),
        TradingStop => {
            account::trading_stop(market, category, account.expect("signed"), params, now)
        }
        Time | Wallet | CoinInfo | ApiKeyInfo | AccountInfo | SetMarginMode => {
            unreachable!("handled above")
        }
    }
}
