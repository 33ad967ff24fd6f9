//! API keys and what signs with them: an HMAC secret (both venues) or an Ed25519 private key
//! (Binance, given as the PKCS#8 PEM the venue's key generator writes). Secrets never appear in
//! `Debug`, logs or errors.

use base64::Engine;
use ed25519_dalek::Signer;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{Error, Result};

enum Key {
    Hmac(Vec<u8>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

pub struct Credentials {
    api_key: String,
    key: Key,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_ed25519() { "ed25519" } else { "hmac" };
        f.debug_struct("Credentials")
            .field("api_key", &redact(&self.api_key))
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

/// The first four characters, enough to tell keys apart in a log.
pub fn redact(key: &str) -> String {
    let shown: String = key.chars().take(4).collect();
    format!("{shown}…")
}

impl Credentials {
    /// `api_secret` is an HMAC secret, or an Ed25519 private key as PKCS#8 PEM.
    pub fn new(api_key: &str, api_secret: &str) -> Result<Credentials> {
        let printable = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !printable(api_key) {
            return Err(Error::invalid_argument(
                "api_key",
                "must be non-empty printable ASCII without spaces",
            ));
        }
        let secret = api_secret.trim();
        let key = if secret.starts_with("-----BEGIN") {
            let key = ed25519_dalek::SigningKey::from_pkcs8_pem(secret).map_err(|e| {
                Error::invalid_argument(
                    "api_secret",
                    format!("not an Ed25519 PKCS#8 PEM private key ({e})"),
                )
            })?;
            Key::Ed25519(Box::new(key))
        } else if printable(secret) {
            Key::Hmac(secret.as_bytes().to_vec())
        } else {
            return Err(Error::invalid_argument(
                "api_secret",
                "must be an HMAC secret (printable ASCII) or an Ed25519 PKCS#8 PEM key",
            ));
        };
        Ok(Credentials {
            api_key: api_key.to_owned(),
            key,
        })
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub fn is_ed25519(&self) -> bool {
        matches!(self.key, Key::Ed25519(_))
    }

    /// HMAC-SHA256 as lowercase hex, or an Ed25519 signature as base64.
    pub fn sign(&self, payload: &str) -> String {
        match &self.key {
            Key::Hmac(secret) => {
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
                mac.update(payload.as_bytes());
                hex::encode(mac.finalize().into_bytes())
            }
            Key::Ed25519(key) => base64::engine::general_purpose::STANDARD
                .encode(key.sign(payload.as_bytes()).to_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_binance_official_vector() {
        let c = Credentials::new(
            "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
        )
        .unwrap();
        let payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            c.sign(payload),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn ed25519_pem_keys_sign_verifiably() {
        use ed25519_dalek::Verifier;
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let pem = key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        let c = Credentials::new("edkey", &pem).unwrap();
        assert!(c.is_ed25519());
        let signature = base64::engine::general_purpose::STANDARD
            .decode(c.sign("apiKey=edkey&timestamp=1"))
            .unwrap();
        let signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
        assert!(
            key.verifying_key()
                .verify(b"apiKey=edkey&timestamp=1", &signature)
                .is_ok()
        );
    }

    #[test]
    fn bad_keys_are_refused_and_secrets_never_printed() {
        let err = Credentials::new("", "s").unwrap_err().to_string();
        assert!(err.contains("api_key"), "{err}");
        let err = Credentials::new(
            "k",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("Ed25519"), "{err}");
        let c = Credentials::new("ABCDEFGHIJ", "topsecretvalue").unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("topsecretvalue") && !shown.contains("EFGH"),
            "{shown}"
        );
    }
}
