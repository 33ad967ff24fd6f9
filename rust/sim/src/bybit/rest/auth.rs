//! Bybit v5 signed requests: the `X-BAPI-*` headers, HMAC-SHA256 over timestamp, key, recv
//! window and payload, and the recv window check (PROTOCOLS.md 2.3, 4.4).

use axum::http::{HeaderMap, StatusCode};

use super::{Fail, fail};
use crate::binance::rest::hmac_hex;
use crate::bybit::BybitState;

pub(super) fn authenticate(
    st: &BybitState,
    headers: &HeaderMap,
    payload: &str,
    now: i64,
) -> Result<usize, Fail> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (key, timestamp, sign) = (
        header("X-BAPI-API-KEY"),
        header("X-BAPI-TIMESTAMP"),
        header("X-BAPI-SIGN"),
    );
    let recv_window = header("X-BAPI-RECV-WINDOW");
    if key.is_empty() || timestamp.is_empty() || sign.is_empty() {
        return Err(Fail {
            http: StatusCode::UNAUTHORIZED,
            code: 10003,
            msg: "API key is invalid.".into(),
            result: None,
        });
    }
    let account = st
        .spot
        .lock()
        .account_by_key(&key)
        .ok_or_else(|| fail(10003, "API key is invalid."))?;
    let window: i64 = if recv_window.is_empty() {
        5000
    } else {
        recv_window
            .parse()
            .map_err(|_| fail(10001, "recv_window invalid"))?
    };
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| fail(10001, "timestamp invalid"))?;
    let origin = format!("{timestamp}{key}{recv_window}{payload}");
    let secret = st.spot.lock().accounts[account].secret.clone();
    if !hmac_hex(&secret, &origin).eq_ignore_ascii_case(&sign) {
        return Err(fail(10004, format!("error sign! origin_string[{origin}]")));
    }
    if !(now - window <= ts && ts < now + 1000) {
        return Err(fail(
            10002,
            format!(
                "invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts}],server_timestamp[{now}],recv_window[{window}]"
            ),
        ));
    }
    Ok(account)
}
