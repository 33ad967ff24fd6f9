//! Bybit v5 signing (PROTOCOLS.md 2.3, 2.4): REST requests carry `X-BAPI-*` headers whose
//! signature covers `timestamp + apiKey + recvWindow + (query string | JSON body)` as sent; the
//! private WebSocket authenticates with a signature of `"GET/realtime" + expires`.

use std::time::Duration;

use crate::venue::Credentials;

/// The four `X-BAPI-*` headers of a request whose query string or body is `payload`.
pub fn headers(
    credentials: &Credentials,
    timestamp_ms: i64,
    recv_window: Duration,
    payload: &str,
) -> [(&'static str, String); 4] {
    let recv_window = recv_window.as_millis().to_string();
    let timestamp = timestamp_ms.to_string();
    let signature = credentials.sign(&format!(
        "{timestamp}{}{recv_window}{payload}",
        credentials.api_key()
    ));
    [
        ("X-BAPI-API-KEY", credentials.api_key().to_owned()),
        ("X-BAPI-TIMESTAMP", timestamp),
        ("X-BAPI-RECV-WINDOW", recv_window),
        ("X-BAPI-SIGN", signature),
    ]
}

/// The `auth` op's arguments: `[apiKey, expires, signature]`.
pub fn ws_auth(credentials: &Credentials, expires_ms: i64) -> (String, i64, String) {
    let signature = credentials.sign(&format!("GET/realtime{expires_ms}"));
    (credentials.api_key().to_owned(), expires_ms, signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    fn hmac(secret: &str, payload: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(payload.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn headers_sign_timestamp_key_window_and_payload() {
        let c = Credentials::new("XXXXXXXXXX", "secret").unwrap();
        let h = headers(
            &c,
            1658384314791,
            Duration::from_millis(5000),
            "category=option&symbol=BTC-29JUL22-25000-C",
        );
        assert_eq!(h[1].1, "1658384314791");
        assert_eq!(h[2].1, "5000");
        let expected = hmac(
            "secret",
            "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C",
        );
        assert_eq!(h[3].1, expected);
        assert_eq!(
            ws_auth(&c, 1662350400000).2,
            hmac("secret", "GET/realtime1662350400000")
        );
    }
}
