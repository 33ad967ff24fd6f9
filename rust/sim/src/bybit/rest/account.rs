//! Bybit v5 REST account: the unified wallet, linear positions and leverage, and the coin,
//! API key and account metadata clients read before trading; the position object the private
//! stream reuses.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Answer, bad_symbol, fail, need, unknown};
use crate::bybit::{BybitState, Category, num};
use crate::exchange::{Exchange, Kind};
use crate::market::Market;

pub(super) fn wallet(st: &BybitState, account: usize, params: &HashMap<String, String>) -> Answer {
    if params.get("accountType").map(String::as_str) != Some("UNIFIED") {
        return Err(fail(
            10001,
            "params error: accountType only support UNIFIED",
        ));
    }
    let wanted: Option<Vec<&str>> = params.get("coin").map(|c| c.split(',').collect());
    let mut coins: std::collections::BTreeMap<String, (Decimal, Decimal)> = Default::default();
    let mut upnl = Decimal::ZERO;
    for market in [&st.spot, &st.linear] {
        let ex = market.lock();
        for (asset, b) in &ex.accounts[account].balances {
            let entry = coins.entry(asset.clone()).or_default();
            entry.0 += b.free + b.locked;
            entry.1 += b.locked;
        }
        if ex.kind == Kind::Perp {
            upnl += ex.accounts[account]
                .positions
                .keys()
                .map(|s| ex.unrealized(account, s))
                .sum::<Decimal>();
        }
    }
    let list: Vec<Value> = coins
        .iter()
        .filter(|(c, (w, _))| wanted.as_ref().map_or(!w.is_zero(), |list| list.contains(&c.as_str())))
        .map(|(c, (w, locked))| {
            let pnl = if c == "USDT" { upnl } else { Decimal::ZERO };
            json!({"coin": c, "equity": num(w + pnl), "usdValue": num(*w), "walletBalance": num(*w), "locked": num(*locked),
                "availableToWithdraw": "", "availableToBorrow": "", "borrowAmount": "0", "accruedInterest": "0",
                "totalOrderIM": num(*locked), "totalPositionIM": "0", "totalPositionMM": "0", "unrealisedPnl": num(pnl),
                "cumRealisedPnl": "0", "bonus": "0", "collateralSwitch": true, "marginCollateral": true, "spotBorrow": "0",
                "free": num(w - locked)})
        })
        .collect();
    let total: Decimal = coins.get("USDT").map_or(Decimal::ZERO, |c| c.0);
    Ok(
        json!({"list": [{"accountType": "UNIFIED", "accountIMRate": "0", "accountMMRate": "0", "accountLTV": "0",
        "totalEquity": num(total + upnl), "totalWalletBalance": num(total), "totalMarginBalance": num(total + upnl),
        "totalAvailableBalance": num(total), "totalPerpUPL": num(upnl), "totalInitialMargin": "0",
        "totalMaintenanceMargin": "0", "coin": list}]}),
    )
}

pub(super) fn coin_info(st: &BybitState, account: usize) -> Answer {
    let ex = st.spot.lock();
    let rows: Vec<Value> = ex.accounts[account]
        .balances
        .keys()
        .map(|c| json!({"name": c, "coin": c, "remainAmount": "1000000", "chains": []}))
        .collect();
    Ok(json!({"rows": rows}))
}

pub(super) fn api_key_info(st: &BybitState, account: usize) -> Answer {
    let key = st.spot.lock().accounts[account].api_key.clone();
    Ok(
        json!({"id": "1", "note": "tradewire-sim", "apiKey": key, "readOnly": 0, "secret": "",
        "permissions": {"ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"], "Wallet": [],
            "Options": [], "Derivatives": [], "CopyTrading": [], "BlockTrade": [], "Exchange": [], "NFT": []},
        "ips": ["*"], "type": 1, "deadlineDay": -1, "expiredAt": "", "createdAt": "", "unified": 1, "uta": 1,
        "userID": 1000 + account, "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0",
        "affiliateID": 0, "rsaPublicKey": "", "isMaster": true}),
    )
}

pub(super) fn account_info(now: i64) -> Answer {
    Ok(
        json!({"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": false,
        "spotHedgingStatus": "OFF", "updatedTime": now.to_string(), "dcpStatus": "OFF", "timeWindow": 10,
        "smpGroup": 0}),
    )
}

pub(super) fn positions(
    market: &Market,
    category: Category,
    acct: usize,
    symbol: Option<&str>,
    params: &HashMap<String, String>,
) -> Answer {
    if category != Category::Linear {
        return Err(fail(10001, "params error: category only support linear"));
    }
    let ex = market.lock();
    if symbol.is_none() && params.get("settleCoin").is_none() {
        return Err(fail(
            10001,
            "params error: symbol or settleCoin is required",
        ));
    }
    if symbol.is_some_and(|s| unknown(&ex, s)) {
        return Err(bad_symbol(category));
    }
    let list: Vec<Value> = ex
        .symbols
        .keys()
        .filter(|s| symbol.is_none_or(|f| f == s.as_str()))
        .filter(|s| {
            symbol.is_some()
                || ex.accounts[acct]
                    .positions
                    .get(*s)
                    .is_some_and(|p| !p.size.is_zero())
        })
        .map(|s| position_json(&ex, acct, s))
        .collect();
    Ok(json!({"category": "linear", "list": list, "nextPageCursor": ""}))
}

pub(super) fn set_leverage(
    market: &Market,
    account: usize,
    params: &HashMap<String, String>,
) -> Answer {
    let mut ex = market.lock();
    let name = need(params, "symbol")?.to_owned();
    let buy: Decimal = need(params, "buyLeverage")?
        .parse()
        .map_err(|_| fail(10001, "params error: buyLeverage"))?;
    ex.set_leverage(account, &name, buy)
        .map_err(|_| fail(10001, "params error: leverage invalid"))?;
    Ok(json!({}))
}

pub fn position_json(ex: &Exchange, account: usize, symbol: &str) -> Value {
    let p = ex.accounts[account]
        .positions
        .get(symbol)
        .cloned()
        .unwrap_or_default();
    let mark = ex.mark(symbol);
    let side = if p.size.is_zero() {
        ""
    } else if p.size.is_sign_positive() {
        "Buy"
    } else {
        "Sell"
    };
    let value = p.size.abs() * p.entry;
    json!({"positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": symbol, "side": side,
        "size": num(p.size.abs()), "avgPrice": num(p.entry), "entryPrice": num(p.entry), "positionValue": num(value), "tradeMode": 0,
        "positionStatus": "Normal", "autoAddMargin": 0, "adlRankIndicator": if p.size.is_zero() { 0 } else { 2 },
        "leverage": num(p.leverage), "positionBalance": num(value / p.leverage), "markPrice": num(mark), "liqPrice": "",
        "bustPrice": "", "positionMM": "0", "positionIM": num(value / p.leverage), "tpslMode": "Full", "takeProfit": "0",
        "stopLoss": "0", "trailingStop": "0", "unrealisedPnl": num(ex.unrealized(account, symbol)),
        "curRealisedPnl": num(p.realized), "cumRealisedPnl": num(p.realized), "seq": p.updated_ms, "isReduceOnly": false,
        "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "createdTime": p.updated_ms.to_string(),
        "updatedTime": p.updated_ms.to_string(), "breakEvenPrice": num(p.entry), "category": "linear"})
}
