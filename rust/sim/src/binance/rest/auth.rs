//! Binance SIGNED requests: the signature taken out of the query or body, HMAC-SHA256 signing,
//! and the API key, signature and timestamp/recvWindow checks (PROTOCOLS.md 2.1, 4.4).

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use sha2::Sha256;

use super::{ApiError, Params};
use crate::binance::BinanceState;

/// Removes `signature=...` from a raw query or body, returning what was signed and the value.
fn split_signature(raw: &str) -> (String, Option<String>) {
    let mut kept = Vec::new();
    let mut signature = None;
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        match part.strip_prefix("signature=") {
            Some(sig) => signature = Some(sig.to_owned()),
            None => kept.push(part),
        }
    }
    (kept.join("&"), signature)
}

pub fn hmac_hex(secret: &str, payload: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Binance's SIGNED checks: API key, signature over query + body, then timestamp/recvWindow.
pub(super) fn authenticate(
    st: &BinanceState,
    headers: &HeaderMap,
    query: &str,
    body: &str,
    params: &Params,
) -> Result<usize, ApiError> {
    let key = headers
        .get("X-MBX-APIKEY")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::new(401, -2014, "API-key format invalid."));
    }
    let account = st.market.lock().account_by_key(key);
    let Some(account) = account else {
        return Err(ApiError::new(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ));
    };
    let (signed_query, sig_q) = split_signature(query);
    let (signed_body, sig_b) = split_signature(body);
    let signature = sig_q
        .or(sig_b)
        .ok_or_else(|| ApiError::mandatory("signature"))?;
    // Ed25519 signatures are base64 and arrive percent-encoded.
    let signature = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("s={signature}"))
        .ok()
        .and_then(|mut v| v.pop())
        .map_or(signature, |(_, s)| s);
    let valid = {
        let ex = st.market.lock();
        crate::binance::signature_ok(
            &ex.accounts[account],
            key,
            &format!("{signed_query}{signed_body}"),
            &signature,
        )
    };
    if !valid {
        return Err(ApiError::bad(
            -1022,
            "Signature for this request is not valid.",
        ));
    }
    check_timestamp(st, params)?;
    Ok(account)
}

/// A signed request's `timestamp` against its `recvWindow` on the venue's clock.
pub fn check_timestamp(st: &BinanceState, params: &Params) -> Result<(), ApiError> {
    let timestamp = params
        .int("timestamp")?
        .ok_or_else(|| ApiError::mandatory("timestamp"))?;
    let recv_window = match params.get("recvWindow") {
        Some(text) => text.parse::<Decimal>().map_err(|_| {
            ApiError::bad(-1100, "Illegal characters found in parameter 'recvWindow'.")
        })?,
        None => Decimal::from(5000),
    };
    if recv_window > Decimal::from(60_000) {
        return Err(ApiError::bad(-1131, "recvWindow must be less than 60000"));
    }
    let server = st.market.clock.now_ms();
    if timestamp >= server + 1000 {
        return Err(ApiError::bad(
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if Decimal::from(server - timestamp) > recv_window {
        return Err(ApiError::bad(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_hmac_test_vector() {
        // PROTOCOLS.md 2.1 (Binance's own example).
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            hmac_hex(secret, payload),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn the_signature_is_taken_out_of_what_was_signed() {
        let (rest, sig) = split_signature("a=1&signature=abc&b=2");
        assert_eq!((rest.as_str(), sig.as_deref()), ("a=1&b=2", Some("abc")));
        assert_eq!(split_signature("").1, None);
    }
}
