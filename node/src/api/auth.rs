//! Signed API requests: the bytes a caller signs, the `authorization`
//! header that carries the signature, and a signer for clients. Shared
//! (no `server` feature): the CLI, the testnet bench and the tests sign
//! with [`RequestSigner`]; the node checks with `access` (feature `server`).
//!
//! A request that reads or writes private data carries
//!
//! ```text
//! authorization: Clearhouse-Ed25519 key=<64 hex>,ts=<unix ms>,nonce=<32 hex>,sig=<128 hex>
//! ```
//!
//! where `sig` is an ed25519 signature by `key` over [`signing_bytes`]:
//!
//! | bytes | what |
//! |---|---|
//! | 26 | the tag `clearhouse/api-request/v1\0` |
//! | 32 | the chain id |
//! | 4 + n | the node's name (u32 big-endian length, UTF-8): a request signed for one node is refused by another |
//! | 4 + n | the method, upper case (`GET`) |
//! | 4 + n | the path and query exactly as sent (`/v1/accounts/ab…?x=1`) |
//! | 32 | SHA-256 of the body (of nothing for a `GET`) |
//! | 8 | the timestamp, unix milliseconds, u64 big-endian |
//! | 16 | the nonce |
//!
//! The node accepts a timestamp within [`SKEW_MS_MAX`] of its own clock and
//! each (key, nonce) once while its timestamp is in that window, so a
//! captured request cannot be replayed. The key must be one the chain
//! knows: a member bank's API key, an auditor's or a regulator's (genesis),
//! or a registered account's own key. Why not mutual TLS: a signature binds
//! the exact request (method, path, body) to a key the chain already
//! registers, survives proxies and load balancers that end TLS, and needs
//! no certificate authority the banks would have to agree on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use clearhouse_ledger::crypto::{Keypair, Signature, sha256};
use clearhouse_ledger::{AccountId, ChainId};

/// The domain tag of a request's signing bytes.
pub const API_REQUEST_TAG: &[u8] = b"clearhouse/api-request/v1\0";

/// The header's scheme word.
pub const SCHEME: &str = "Clearhouse-Ed25519";

/// How far a request's timestamp may be from the node's clock, either way.
pub const SKEW_MS_MAX: u64 = 60_000;

/// The longest `authorization` header the node reads (a well-formed one
/// is about 300 bytes).
pub const HEADER_BYTES_MAX: usize = 512;

/// Bytes of a nonce.
pub const NONCE_BYTES: usize = 16;

/// The parsed `authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The signing key (public).
    pub key: [u8; 32],
    /// Unix milliseconds when the request was signed.
    pub ts_ms: u64,
    /// Unique per key within the window.
    pub nonce: [u8; NONCE_BYTES],
    /// The signature over [`signing_bytes`].
    pub signature: Signature,
}

/// Why an `authorization` header does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Longer than [`HEADER_BYTES_MAX`].
    #[error("the authorization header is longer than {HEADER_BYTES_MAX} bytes")]
    TooLong,
    /// Not `Clearhouse-Ed25519 …`.
    #[error("the authorization scheme is not {SCHEME}")]
    Scheme,
    /// A field is missing, repeated, unknown or malformed.
    #[error("authorization field {0}")]
    Field(String),
}

impl Credentials {
    /// Parses a header value.
    pub fn parse(value: &[u8]) -> Result<Credentials, HeaderError> {
        if value.len() > HEADER_BYTES_MAX {
            return Err(HeaderError::TooLong);
        }
        let text = std::str::from_utf8(value).map_err(|_| HeaderError::Scheme)?;
        let rest = text
            .strip_prefix(SCHEME)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or(HeaderError::Scheme)?;
        let (mut key, mut ts, mut nonce, mut sig) = (None, None, None, None);
        for field in rest.split(',') {
            let (name, value) = field
                .trim()
                .split_once('=')
                .ok_or_else(|| HeaderError::Field(format!("{field:?} is not name=value")))?;
            let slot = match name {
                "key" => &mut key,
                "ts" => &mut ts,
                "nonce" => &mut nonce,
                "sig" => &mut sig,
                other => return Err(HeaderError::Field(format!("{other:?} is unknown"))),
            };
            if slot.replace(value).is_some() {
                return Err(HeaderError::Field(format!("{name} is repeated")));
            }
        }
        let missing = |name: &str| HeaderError::Field(format!("{name} is missing"));
        let key = hex_array::<32>(key.ok_or_else(|| missing("key"))?, "key")?;
        let ts = ts.ok_or_else(|| missing("ts"))?;
        let ts_ms = if ts.bytes().all(|b| b.is_ascii_digit()) && ts.len() <= 19 {
            ts.parse().ok()
        } else {
            None
        }
        .ok_or_else(|| HeaderError::Field("ts is not unix milliseconds".into()))?;
        let nonce = hex_array::<NONCE_BYTES>(nonce.ok_or_else(|| missing("nonce"))?, "nonce")?;
        let signature = Signature(hex_array::<64>(sig.ok_or_else(|| missing("sig"))?, "sig")?);
        Ok(Credentials {
            key,
            ts_ms,
            nonce,
            signature,
        })
    }

    /// The header value.
    pub fn to_header(&self) -> String {
        format!(
            "{SCHEME} key={},ts={},nonce={},sig={}",
            hex::encode(self.key),
            self.ts_ms,
            hex::encode(self.nonce),
            self.signature.to_hex()
        )
    }
}

fn hex_array<const N: usize>(text: &str, name: &str) -> Result<[u8; N], HeaderError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| HeaderError::Field(format!("{name} is not {} hex digits", N * 2)))?;
    Ok(out)
}

/// What a request's signature covers (see the module's table).
pub struct RequestParts<'a> {
    /// The chain.
    pub chain_id: &'a ChainId,
    /// The node the request is for (its `/v1/status` `node`).
    pub node: &'a str,
    /// `GET`, `POST`.
    pub method: &'a str,
    /// Path and query, as sent.
    pub path_and_query: &'a str,
    /// The body.
    pub body: &'a [u8],
}

/// The bytes a request's signature covers.
pub fn signing_bytes(parts: &RequestParts<'_>, ts_ms: u64, nonce: &[u8; NONCE_BYTES]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        API_REQUEST_TAG.len() + 32 + 12 + parts.node.len() + parts.method.len() + 160,
    );
    out.extend_from_slice(API_REQUEST_TAG);
    out.extend_from_slice(&parts.chain_id.0);
    for text in [parts.node, parts.method, parts.path_and_query] {
        // A header line cannot come near 4 GiB; saturate rather than wrap.
        let length = u32::try_from(text.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(&sha256(&[parts.body]).0);
    out.extend_from_slice(&ts_ms.to_be_bytes());
    out.extend_from_slice(nonce);
    out
}

/// Signs requests for one node with one key.
#[derive(Clone)]
pub struct RequestSigner {
    key: Arc<Keypair>,
    chain_id: ChainId,
    node: String,
    salt: [u8; 32],
    counter: Arc<AtomicU64>,
}

impl std::fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSigner")
            .field("key", &self.key.account())
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl RequestSigner {
    /// A signer for requests to `node` of `chain_id`.
    pub fn new(key: Keypair, chain_id: ChainId, node: &str) -> RequestSigner {
        // Nonces: a counter under a salt unique to this signer (its key,
        // the clock and the process), so two signers never repeat one.
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let salt = sha256(&[
            b"clearhouse/api-nonce-salt",
            &key.account().0,
            &clock.to_be_bytes(),
            &std::process::id().to_be_bytes(),
        ])
        .0;
        RequestSigner {
            key: Arc::new(key),
            chain_id,
            node: node.to_owned(),
            salt,
            counter: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The signing key's public half.
    pub fn key(&self) -> AccountId {
        self.key.account()
    }

    /// The node it signs for.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The `authorization` header for a request sent now.
    pub fn header(&self, method: &str, path_and_query: &str, body: &[u8]) -> String {
        let ts_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let digest = sha256(&[&self.salt, &count.to_be_bytes()]).0;
        let mut nonce = [0u8; NONCE_BYTES];
        nonce.copy_from_slice(&digest[..NONCE_BYTES]);
        self.header_at(method, path_and_query, body, ts_ms, nonce)
    }

    /// The header with a given timestamp and nonce (tests build stale and
    /// replayed requests with it).
    pub fn header_at(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        ts_ms: u64,
        nonce: [u8; NONCE_BYTES],
    ) -> String {
        let parts = RequestParts {
            chain_id: &self.chain_id,
            node: &self.node,
            method,
            path_and_query,
            body,
        };
        let signature = self.key.sign(&signing_bytes(&parts, ts_ms, &nonce));
        Credentials {
            key: self.key.account().0,
            ts_ms,
            nonce,
            signature,
        }
        .to_header()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clearhouse_ledger::Hash;

    fn signer() -> RequestSigner {
        RequestSigner::new(Keypair::from_seed(&[7; 32]), Hash([1; 32]), "bank-0")
    }

    #[test]
    fn a_header_parses_back_and_its_signature_covers_the_request() {
        let s = signer();
        let header = s.header_at("GET", "/v1/accounts/ab?x=1", b"", 1_000, [9; 16]);
        let parsed = Credentials::parse(header.as_bytes()).unwrap();
        assert_eq!(parsed.key, s.key().0);
        assert_eq!(parsed.ts_ms, 1_000);
        assert_eq!(parsed.nonce, [9; 16]);
        let parts = RequestParts {
            chain_id: &Hash([1; 32]),
            node: "bank-0",
            method: "GET",
            path_and_query: "/v1/accounts/ab?x=1",
            body: b"",
        };
        let bytes = signing_bytes(&parts, 1_000, &[9; 16]);
        assert!(bytes.starts_with(API_REQUEST_TAG));
        clearhouse_ledger::crypto::verify(&parsed.key, &bytes, &parsed.signature).unwrap();
        // Another path, body, node or time: the signature does not cover it.
        for other in [
            RequestParts {
                path_and_query: "/v1/accounts/ab?x=2",
                ..parts
            },
            RequestParts {
                body: b"{}",
                ..parts
            },
            RequestParts {
                node: "bank-1",
                ..parts
            },
        ] {
            let bytes = signing_bytes(&other, 1_000, &[9; 16]);
            assert!(
                clearhouse_ledger::crypto::verify(&parsed.key, &bytes, &parsed.signature).is_err()
            );
        }
        let later = signing_bytes(&parts, 1_001, &[9; 16]);
        assert!(clearhouse_ledger::crypto::verify(&parsed.key, &later, &parsed.signature).is_err());
    }

    #[test]
    fn nonces_do_not_repeat() {
        let s = signer();
        let other = signer();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1_000 {
            for header in [s.header("GET", "/", b""), other.header("GET", "/", b"")] {
                let nonce = Credentials::parse(header.as_bytes()).unwrap().nonce;
                assert!(seen.insert(nonce));
            }
        }
    }

    #[test]
    fn malformed_headers_are_refused_by_name() {
        let good = signer().header_at("GET", "/", b"", 5, [0; 16]);
        assert!(Credentials::parse(good.as_bytes()).is_ok());
        let cases: Vec<(String, &str)> = vec![
            (good.replacen(SCHEME, "Bearer", 1), "scheme"),
            (good.replacen("ts=5", "ts=-5", 1), "ts"),
            (good.replacen("ts=5", "ts=5,ts=6", 1), "repeated"),
            (good.replacen("ts=5,", "", 1), "ts is missing"),
            (good.replacen("key=", "key=zz", 1), "key"),
            (format!("{good},extra=1"), "unknown"),
            (format!("{good}{}", " ".repeat(HEADER_BYTES_MAX)), "longer"),
        ];
        for (header, expected) in cases {
            let error = Credentials::parse(header.as_bytes()).unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{header}: {error} should mention {expected}"
            );
        }
    }
}
