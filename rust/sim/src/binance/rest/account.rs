//! Binance REST account: balances and account summary, USD-M positions, symbol configuration,
//! leverage and its brackets, and the spot wallet listing clients read at start-up.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Answer, ApiError, Params, symbol_of};
use crate::binance::{BinanceState, fixed};
use crate::exchange::Reject;

pub(super) fn account_json(st: &BinanceState, account: usize, now: i64) -> Answer {
    let ex = st.market.lock();
    let a = &ex.accounts[account];
    if st.spot() {
        let balances: Vec<Value> = a
            .balances
            .iter()
            .map(|(asset, b)| json!({"asset": asset, "free": fixed(b.free, 8), "locked": fixed(b.locked, 8)}))
            .collect();
        return Ok(
            json!({"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": true, "canWithdraw": true, "canDeposit": true, "brokered": false, "requireSelfTradePrevention": false,
            "preventSor": false, "updateTime": now, "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"],
            "uid": 1000 + account}),
        );
    }
    let upnl = ex.total_unrealized(account);
    let usdt = a.balances.get("USDT").cloned().unwrap_or_default();
    let wallet = usdt.free + usdt.locked;
    let positions: Vec<Value> = a
        .positions
        .iter()
        .filter(|(_, p)| !p.size.is_zero())
        .map(|((s, leg), p)| {
            let mark = ex.mark(s);
            json!({"symbol": s, "positionSide": leg.word(), "positionAmt": p.size.normalize().to_string(),
                "unrealizedProfit": fixed(ex.unrealized(account, s, *leg), 8), "isolatedMargin": "0", "notional": fixed(p.size * mark, 8),
                "isolatedWallet": "0", "initialMargin": fixed((p.size * mark).abs() / ex.leverage(account, s), 8), "maintMargin": "0",
                "updateTime": p.updated_ms})
        })
        .collect();
    Ok(
        json!({"totalInitialMargin": fixed(usdt.locked, 8), "totalMaintMargin": "0.00000000",
        "totalWalletBalance": fixed(wallet, 8), "totalUnrealizedProfit": fixed(upnl, 8),
        "totalMarginBalance": fixed(wallet + upnl, 8), "totalPositionInitialMargin": "0.00000000",
        "totalOpenOrderInitialMargin": fixed(usdt.locked, 8), "totalCrossWalletBalance": fixed(wallet, 8),
        "totalCrossUnPnl": fixed(upnl, 8), "availableBalance": fixed(usdt.free, 8), "maxWithdrawAmount": fixed(usdt.free, 8),
        "assets": [{"asset": "USDT", "walletBalance": fixed(wallet, 8), "unrealizedProfit": fixed(upnl, 8),
            "marginBalance": fixed(wallet + upnl, 8), "maintMargin": "0.00000000", "initialMargin": fixed(usdt.locked, 8),
            "positionInitialMargin": "0.00000000", "openOrderInitialMargin": fixed(usdt.locked, 8),
            "crossWalletBalance": fixed(wallet, 8), "crossUnPnl": fixed(upnl, 8), "availableBalance": fixed(usdt.free, 8),
            "maxWithdrawAmount": fixed(usdt.free, 8), "updateTime": now}],
        "positions": positions}),
    )
}

pub(super) fn balance(st: &BinanceState, account: usize, now: i64) -> Answer {
    let ex = st.market.lock();
    let a = &ex.accounts[account];
    let list: Vec<Value> = a
        .balances
        .iter()
        .map(|(asset, b)| {
            let upnl = ex.total_unrealized(account);
            let wallet = b.free + b.locked;
            json!({"accountAlias": "SgsR", "asset": asset, "balance": fixed(wallet, 8),
                "crossWalletBalance": fixed(wallet, 8), "crossUnPnl": fixed(upnl, 8),
                "availableBalance": fixed(b.free, 8), "maxWithdrawAmount": fixed(b.free, 8),
                "marginAvailable": true, "updateTime": now})
        })
        .collect();
    Ok(Value::Array(list))
}

pub(super) fn position_risk(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let ex = st.market.lock();
    let a = &ex.accounts[account];
    let filter = params.get("symbol");
    let list: Vec<Value> = ex
        .symbols
        .keys()
        .filter(|s| filter.is_none_or(|f| f == s.as_str()))
        .flat_map(|s| ex.legs(account, s).iter().map(move |leg| (s, *leg)))
        .filter_map(|(s, leg)| {
            let p = a.positions.get(&(s.clone(), leg))?;
            if p.size.is_zero() && filter.is_none() {
                return None;
            }
            let spec = &ex.symbols[s].spec;
            let mark = ex.mark(s);
            let leverage = ex.leverage(account, s);
            // The bracket the simulator publishes: maintenance margin 0.4% of the notional.
            let maint = (p.size * mark).abs() * Decimal::new(4, 3);
            let margin_type = if a.settings.isolated.contains(s) { "isolated" } else { "cross" };
            Some(json!({"symbol": s, "positionSide": leg.word(), "positionAmt": fixed(p.size, spec.qty_decimals()),
                "entryPrice": p.entry.normalize().to_string(), "breakEvenPrice": p.entry.normalize().to_string(),
                "markPrice": fixed(mark, 8), "unRealizedProfit": fixed(ex.unrealized(account, s, leg), 8),
                "liquidationPrice": "0", "isolatedMargin": "0", "notional": fixed(p.size * mark, 8),
                "marginAsset": "USDT", "isolatedWallet": "0", "initialMargin": fixed((p.size * mark).abs() / leverage, 8),
                "maintMargin": fixed(maint, 8), "positionInitialMargin": fixed((p.size * mark).abs() / leverage, 8),
                "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0", "askNotional": "0",
                "leverage": leverage.normalize().to_string(), "marginType": margin_type, "updateTime": p.updated_ms}))
        })
        .collect();
    Ok(Value::Array(list))
}

pub(super) fn symbol_config(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let ex = st.market.lock();
    let a = &ex.accounts[account];
    let filter = params.get("symbol");
    let list: Vec<Value> = ex
        .symbols
        .keys()
        .filter(|s| filter.is_none_or(|f| f == s.as_str()))
        .map(|s| {
            let lev = ex.leverage(account, s);
            let margin = if a.settings.isolated.contains(s) { "ISOLATED" } else { "CROSSED" };
            json!({"symbol": s, "marginType": margin, "isAutoAddMargin": false,
                "leverage": lev.trunc().to_string().parse::<i64>().unwrap_or(20), "maxNotionalValue": "1000000"})
        })
        .collect();
    Ok(Value::Array(list))
}

pub(super) fn leverage(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let mut ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?.to_owned();
    let leverage = params
        .int("leverage")?
        .ok_or_else(|| ApiError::mandatory("leverage"))?;
    ex.set_leverage(account, &symbol, Decimal::from(leverage))
        .map_err(|_| ApiError::bad(-4028, format!("Leverage {leverage} is not valid")))?;
    Ok(json!({"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}))
}

/// `POST /fapi/v1/marginType`: ISOLATED or CROSSED margin for one symbol.
pub(super) fn margin_type(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let mut ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?.to_owned();
    let isolated = match params.require("marginType")? {
        "ISOLATED" => true,
        "CROSSED" | "CROSS" => false,
        _ => return Err(ApiError::bad(-4044, "The margin type is invalid.")),
    };
    match ex.set_isolated(account, &[symbol], isolated) {
        Ok(()) => Ok(json!({"code": 200, "msg": "success"})),
        Err(Reject::NoChange) => Err(ApiError::bad(-4046, "No need to change margin type.")),
        Err(Reject::Busy { position: true }) => Err(ApiError::bad(
            -4048,
            "Margin type cannot be changed if there exists position.",
        )),
        Err(_) => Err(ApiError::bad(
            -4047,
            "Margin type cannot be changed if there exists open orders.",
        )),
    }
}

/// `POST /fapi/v1/positionSide/dual`: hedge mode (`true`) or one-way, for every symbol.
pub(super) fn set_dual(st: &BinanceState, account: usize, params: &Params) -> Answer {
    let mut ex = st.market.lock();
    let hedge = match params.require("dualSidePosition")? {
        "true" => true,
        "false" => false,
        _ => {
            return Err(ApiError::bad(
                -1100,
                "Illegal characters found in parameter 'dualSidePosition'.",
            ));
        }
    };
    let all: Vec<String> = ex.symbols.keys().cloned().collect();
    match ex.set_hedge(account, &all, hedge) {
        Ok(()) => Ok(json!({"code": 200, "msg": "success"})),
        Err(Reject::NoChange) => Err(ApiError::bad(-4059, "No need to change position side.")),
        Err(Reject::Busy { position: true }) => Err(ApiError::bad(
            -4068,
            "Position side cannot be changed if there exists position.",
        )),
        Err(_) => Err(ApiError::bad(
            -4067,
            "Position side cannot be changed if there exists open orders.",
        )),
    }
}

/// `GET /fapi/v1/positionSide/dual`.
pub(super) fn get_dual(st: &BinanceState, account: usize) -> Answer {
    let ex = st.market.lock();
    let hedge = !ex.accounts[account].settings.hedge.is_empty();
    Ok(json!({"dualSidePosition": hedge}))
}

pub(super) fn capital_config(st: &BinanceState, account: usize) -> Answer {
    let ex = st.market.lock();
    let list: Vec<Value> = ex.accounts[account]
        .balances
        .iter()
        .map(|(asset, b)| {
            json!({"coin": asset, "name": asset, "free": fixed(b.free, 8), "locked": fixed(b.locked, 8),
                "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
                "isLegalMoney": false, "trading": true, "depositAllEnable": false, "withdrawAllEnable": false,
                "networkList": []})
        })
        .collect();
    Ok(Value::Array(list))
}

pub(super) fn leverage_bracket(st: &BinanceState, params: &Params) -> Answer {
    let ex = st.market.lock();
    let filter = params.get("symbol");
    let list: Vec<Value> = ex
        .symbols
        .keys()
        .filter(|s| filter.is_none_or(|f| f == s.as_str()))
        .map(|s| json!({"symbol": s, "brackets": [{"bracket": 1, "initialLeverage": 125, "notionalCap": 1_000_000,
            "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0}]}))
        .collect();
    Ok(Value::Array(list))
}
