//! Binance REST routes: which endpoint a method and path of each market is, whether it is
//! signed, its request weight, and the dispatch of an authenticated request to its handler.

use axum::http::{HeaderMap, Method};
use serde_json::json;

use super::{Answer, Params, account, algo, listen_key, market, orders};
use crate::binance::BinanceState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Ping,
    Time,
    ExchangeInfo,
    Depth,
    Trades,
    Klines,
    PremiumIndex,
    OpenInterest,
    FundingRate,
    Ticker24h,
    BookTicker,
    PlaceOrder,
    /// Spot `orderList/oco`.
    PlaceOco,
    /// Spot keep-priority amend; USD-M modify.
    AmendOrder,
    CancelReplace,
    /// USD-M `batchOrders`: place (POST), modify (PUT), cancel (DELETE).
    PlaceBatch,
    AmendBatch,
    CancelBatch,
    CancelOrder,
    QueryOrder,
    /// USD-M's algo service: `algoOrder` (POST, GET, DELETE), `openAlgoOrders`, `algoOpenOrders`.
    AlgoPlace,
    AlgoQuery,
    AlgoCancel,
    AlgoOpen,
    AlgoCancelAll,
    OpenOrders,
    CancelAll,
    Account,
    MyTrades,
    AllOrders,
    AggTrades,
    RetiredListenKey,
    ListenKeyCreate,
    ListenKeyKeepalive,
    ListenKeyClose,
    Balance,
    PositionRisk,
    SymbolConfig,
    Leverage,
    MarginType,
    SetDual,
    GetDual,
    /// Spot-host wallet and margin listings some clients read at start-up (ccxt's load_markets).
    CapitalConfig,
    MarginPairs,
    LeverageBracket,
}

/// `(endpoint, signed)` for a method and path of this market.
pub(super) fn route(spot: bool, method: &Method, path: &str) -> Option<(Endpoint, bool)> {
    use Endpoint::*;
    let m = method.as_str();
    let found = if spot {
        match (m, path) {
            ("GET", "/api/v3/ping") => (Ping, false),
            ("GET", "/api/v3/time") => (Time, false),
            ("GET", "/api/v3/exchangeInfo") => (ExchangeInfo, false),
            ("GET", "/api/v3/depth") => (Depth, false),
            ("GET", "/api/v3/trades") => (Trades, false),
            ("GET", "/api/v3/aggTrades") => (AggTrades, false),
            ("GET", "/api/v3/allOrders") => (AllOrders, true),
            ("GET", "/api/v3/klines") => (Klines, false),
            ("GET", "/api/v3/ticker/24hr") => (Ticker24h, false),
            ("GET", "/api/v3/ticker/bookTicker") => (BookTicker, false),
            ("POST", "/api/v3/order") => (PlaceOrder, true),
            ("POST", "/api/v3/orderList/oco") => (PlaceOco, true),
            ("PUT", "/api/v3/order/amend/keepPriority") => (AmendOrder, true),
            ("POST", "/api/v3/order/cancelReplace") => (CancelReplace, true),
            ("DELETE", "/api/v3/order") => (CancelOrder, true),
            ("GET", "/api/v3/order") => (QueryOrder, true),
            ("GET", "/api/v3/openOrders") => (OpenOrders, true),
            ("DELETE", "/api/v3/openOrders") => (CancelAll, true),
            ("GET", "/api/v3/account") => (Account, true),
            ("GET", "/api/v3/myTrades") => (MyTrades, true),
            (_, "/api/v3/userDataStream") => (RetiredListenKey, false),
            ("GET", "/sapi/v1/capital/config/getall") => (CapitalConfig, true),
            ("GET", "/sapi/v1/margin/allPairs" | "/sapi/v1/margin/isolated/allPairs") => {
                (MarginPairs, true)
            }
            _ => return None,
        }
    } else {
        match (m, path) {
            ("GET", "/fapi/v1/ping") => (Ping, false),
            ("GET", "/fapi/v1/time") => (Time, false),
            ("GET", "/fapi/v1/exchangeInfo") => (ExchangeInfo, false),
            ("GET", "/fapi/v1/depth") => (Depth, false),
            ("GET", "/fapi/v1/trades") => (Trades, false),
            ("GET", "/fapi/v1/aggTrades") => (AggTrades, false),
            ("GET", "/fapi/v1/allOrders") => (AllOrders, true),
            ("GET", "/fapi/v1/klines") => (Klines, false),
            ("GET", "/fapi/v1/premiumIndex") => (PremiumIndex, false),
            ("GET", "/fapi/v1/openInterest") => (OpenInterest, false),
            ("GET", "/fapi/v1/fundingRate") => (FundingRate, false),
            ("GET", "/fapi/v1/ticker/24hr") => (Ticker24h, false),
            ("GET", "/fapi/v1/ticker/bookTicker") => (BookTicker, false),
            ("POST", "/fapi/v1/order") => (PlaceOrder, true),
            ("PUT", "/fapi/v1/order") => (AmendOrder, true),
            ("POST", "/fapi/v1/batchOrders") => (PlaceBatch, true),
            ("PUT", "/fapi/v1/batchOrders") => (AmendBatch, true),
            ("DELETE", "/fapi/v1/batchOrders") => (CancelBatch, true),
            ("DELETE", "/fapi/v1/order") => (CancelOrder, true),
            ("GET", "/fapi/v1/order") => (QueryOrder, true),
            ("GET", "/fapi/v1/openOrders") => (OpenOrders, true),
            ("POST", "/fapi/v1/algoOrder") => (AlgoPlace, true),
            ("GET", "/fapi/v1/algoOrder") => (AlgoQuery, true),
            ("DELETE", "/fapi/v1/algoOrder") => (AlgoCancel, true),
            ("GET", "/fapi/v1/openAlgoOrders") => (AlgoOpen, true),
            ("DELETE", "/fapi/v1/algoOpenOrders") => (AlgoCancelAll, true),
            ("DELETE", "/fapi/v1/allOpenOrders") => (CancelAll, true),
            ("GET", "/fapi/v2/account" | "/fapi/v3/account") => (Account, true),
            ("GET", "/fapi/v2/balance" | "/fapi/v3/balance") => (Balance, true),
            ("GET", "/fapi/v2/positionRisk" | "/fapi/v3/positionRisk") => (PositionRisk, true),
            ("GET", "/fapi/v1/userTrades") => (MyTrades, true),
            ("GET", "/fapi/v1/symbolConfig") => (SymbolConfig, true),
            ("POST", "/fapi/v1/leverage") => (Leverage, true),
            ("POST", "/fapi/v1/marginType") => (MarginType, true),
            ("POST", "/fapi/v1/positionSide/dual") => (SetDual, true),
            ("GET", "/fapi/v1/positionSide/dual") => (GetDual, true),
            ("GET", "/fapi/v1/leverageBracket") => (LeverageBracket, true),
            ("POST", "/fapi/v1/listenKey") => (ListenKeyCreate, false),
            ("PUT", "/fapi/v1/listenKey") => (ListenKeyKeepalive, false),
            ("DELETE", "/fapi/v1/listenKey") => (ListenKeyClose, false),
            _ => return None,
        }
    };
    Some(found)
}

/// Request weight (PROTOCOLS.md 3.1 and 3.3).
pub(super) fn weight(spot: bool, endpoint: Endpoint, params: &Params) -> u32 {
    use Endpoint::*;
    let has_symbol = params.get("symbol").is_some();
    let limit = params.get("limit").and_then(|l| l.parse::<u32>().ok());
    match (spot, endpoint) {
        (_, Ping | Time) => 1,
        (true, ExchangeInfo) => 20,
        (false, ExchangeInfo) => 1,
        (true, Depth) => match limit.unwrap_or(100) {
            0..=100 => 5,
            101..=500 => 25,
            501..=1000 => 50,
            _ => 250,
        },
        (false, Depth) => match limit.unwrap_or(500) {
            0..=50 => 2,
            51..=100 => 5,
            101..=500 => 10,
            _ => 20,
        },
        (_, PremiumIndex) => {
            if has_symbol {
                1
            } else {
                10
            }
        }
        (_, OpenInterest | FundingRate) => 1,
        (true, Klines) => 2,
        (false, Klines) => match limit.unwrap_or(500) {
            0..=99 => 1,
            100..=499 => 2,
            500..=1000 => 5,
            _ => 10,
        },
        (true, Trades) => 25,
        (false, Trades) => 5,
        (true, Ticker24h) => {
            if has_symbol {
                2
            } else {
                80
            }
        }
        (false, Ticker24h) => {
            if has_symbol {
                1
            } else {
                40
            }
        }
        (_, BookTicker) => {
            if has_symbol {
                2
            } else {
                4
            }
        }
        (true, PlaceOrder | CancelReplace | PlaceOco) => 1,
        (false, PlaceOco) => 1,
        (false, PlaceOrder) => 0,
        (true, AmendOrder) => 4,
        (false, AmendOrder) => 0,
        (false, CancelReplace) => 1,
        (_, PlaceBatch | AmendBatch) => 5,
        (_, CancelBatch) => 1,
        (_, CancelOrder) => 1,
        (true, QueryOrder) => 4,
        (false, QueryOrder) => 1,
        (true, OpenOrders) => {
            if has_symbol {
                6
            } else {
                80
            }
        }
        (false, OpenOrders) => {
            if has_symbol {
                1
            } else {
                40
            }
        }
        (_, CancelAll) => 1,
        (_, AlgoPlace) => 0,
        (_, AlgoQuery | AlgoCancel | AlgoCancelAll) => 1,
        (_, AlgoOpen) => {
            if has_symbol {
                1
            } else {
                40
            }
        }
        (true, Account) => 20,
        (true, MyTrades) => {
            if params.get("orderId").is_some() {
                5
            } else {
                20
            }
        }
        (false, Account | Balance | PositionRisk | MyTrades | AllOrders) => 5,
        (true, AllOrders) => 20,
        (true, AggTrades) => 4,
        (false, AggTrades) => 20,
        (_, SymbolConfig | Leverage | LeverageBracket | MarginType) => 1,
        (_, SetDual) => 1,
        (_, GetDual) => 30,
        (_, CapitalConfig) => 10,
        (_, MarginPairs) => 1,
        (_, RetiredListenKey | ListenKeyCreate | ListenKeyKeepalive | ListenKeyClose) => 1,
        (true, Balance | PositionRisk) => 5,
    }
}

pub(super) fn dispatch(
    st: &BinanceState,
    endpoint: Endpoint,
    account: Option<usize>,
    params: &Params,
    headers: &HeaderMap,
) -> Answer {
    use Endpoint::*;
    let now = st.market.clock.now_ms();
    let acct = || account.expect("signed endpoints carry an account");
    match endpoint {
        Ping => Ok(json!({})),
        Time => Ok(json!({"serverTime": now})),
        ExchangeInfo => market::exchange_info(st, params, now),
        Depth => market::depth(st, params, now),
        Trades => market::trades(st, params),
        Klines => market::klines(st, params, now),
        PremiumIndex => market::premium_index(st, params, now),
        OpenInterest => market::open_interest(st, params, now),
        FundingRate => market::funding_rate(st, params, now),
        Ticker24h => market::ticker(st, params, now),
        BookTicker => market::book_ticker(st, params, now),
        PlaceOrder => orders::place(st, acct(), params, now),
        PlaceOco => orders::place_oco(st, acct(), params, now),
        AmendOrder if st.spot() => orders::amend_keep_priority(st, acct(), params, now),
        AmendOrder => orders::modify(st, acct(), params, now),
        CancelReplace => orders::cancel_replace(st, acct(), params, now),
        PlaceBatch | AmendBatch | CancelBatch => orders::batch(st, endpoint, acct(), params, now),
        CancelOrder => orders::cancel(st, acct(), params, now),
        QueryOrder => orders::query(st, acct(), params),
        OpenOrders => orders::open_orders(st, acct(), params),
        CancelAll => orders::cancel_all(st, acct(), params, now),
        AlgoPlace => algo::place(st, acct(), params, now),
        AlgoQuery => algo::query(st, acct(), params),
        AlgoCancel => algo::cancel(st, acct(), params, now),
        AlgoOpen => algo::open(st, acct(), params),
        AlgoCancelAll => algo::cancel_all(st, acct(), params, now),
        Account => account::account_json(st, acct(), now),
        Balance => account::balance(st, acct(), now),
        PositionRisk => account::position_risk(st, acct(), params),
        SymbolConfig => account::symbol_config(st, acct(), params),
        Leverage => account::leverage(st, acct(), params),
        MarginType => account::margin_type(st, acct(), params),
        SetDual => account::set_dual(st, acct(), params),
        GetDual => account::get_dual(st, acct()),
        RetiredListenKey => listen_key::retired(),
        ListenKeyCreate | ListenKeyKeepalive | ListenKeyClose => {
            listen_key::listen_key(st, endpoint, headers, now)
        }
        MyTrades => orders::my_trades(st, acct(), params),
        AllOrders => orders::all_orders(st, acct(), params),
        AggTrades => market::agg_trades(st, params),
        CapitalConfig => account::capital_config(st, acct()),
        // No margin trading in the simulator.
        MarginPairs => Ok(json!([])),
        LeverageBracket => account::leverage_bracket(st, params),
    }
}
