//! Binance REST signing (PROTOCOLS.md 2.1): every parameter goes in the query string, the
//! signature covers that string exactly as sent, then is appended as `signature` (Ed25519
//! signatures are base64 and must be percent-encoded).

use std::time::Duration;

use crate::venue::Credentials;

/// The signed query: `params` + `recvWindow` + `timestamp`, then `signature`.
pub fn signed_query(
    credentials: &Credentials,
    params: &[(String, String)],
    timestamp_ms: i64,
    recv_window: Duration,
) -> String {
    let mut all: Vec<(&str, String)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    all.push(("recvWindow", recv_window.as_millis().to_string()));
    all.push(("timestamp", timestamp_ms.to_string()));
    let payload = serde_urlencoded::to_string(&all).expect("strings always encode");
    let signature = credentials.sign(&payload);
    let signature = serde_urlencoded::to_string([("signature", signature)]).expect("encodes");
    format!("{payload}&{signature}")
}

/// A WebSocket API request's signature (PROTOCOLS.md 2.2): every parameter, sorted by name,
/// `k=v` joined by `&`, not URL-encoded.
pub fn ws_api_signature(credentials: &Credentials, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let payload: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    credentials.sign(&payload.join("&"))
}

/// The parameters of a WebSocket API request that only authenticates (`session.logon`,
/// `userDataStream.subscribe.signature`): the key and the time, signed.
pub fn ws_api_auth(credentials: &Credentials, timestamp_ms: i64) -> serde_json::Value {
    let api_key = credentials.api_key();
    let signature = ws_api_signature(
        credentials,
        &[
            ("apiKey".into(), api_key.to_owned()),
            ("timestamp".into(), timestamp_ms.to_string()),
        ],
    );
    serde_json::json!({"apiKey": api_key, "timestamp": timestamp_ms, "signature": signature})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_query_as_sent() {
        let c = Credentials::new(
            "k",
            "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
        )
        .unwrap();
        let params: Vec<(String, String)> = [
            ("symbol", "LTCBTC"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "0.1"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let query = signed_query(&c, &params, 1499827319559, Duration::from_millis(5000));
        assert_eq!(
            query,
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000\
             &timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }
}
