//! How a client (feature `client`: the CLI, the testnet, the tests) trusts
//! a node it reaches over `https://`.
//!
//! A node with `[api_tls]` in its config serves its API over TLS (rustls;
//! see `api::tls`). A client checks the node's certificate against the
//! certificates of a CA file (the CLI's `--ca-cert FILE`; PEM, one or more:
//! a bank's private CA, or a testnet's `tls/ca.pem`), else against the
//! system's bundle (`/etc/ssl/certs/ca-certificates.crt` and
//! its usual places). Verification is never switched off. Plain `http://`
//! URLs ignore all of this.

use std::path::Path;
use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};

/// Where the system's CA bundle is on the usual Linux distributions.
const SYSTEM_BUNDLES: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The certificates an https node's certificate must chain to.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// From `--ca-cert`; `None`: the system bundle.
    roots: Option<Arc<Vec<Certificate<'static>>>>,
}

impl Trust {
    /// Trusts the certificates in `ca_file` (PEM), or the system's bundle
    /// when `None`. A file that cannot be read or holds no certificate is
    /// an error that says so.
    pub fn load(ca_file: Option<&Path>) -> Result<Trust, String> {
        let Some(path) = ca_file else {
            return Ok(Trust::default());
        };
        let text =
            std::fs::read(path).map_err(|e| format!("CA certificate {}: {e}", path.display()))?;
        let certificates =
            certificates(&text).map_err(|e| format!("CA certificate {}: {e}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!(
                "CA certificate {}: no PEM certificate in it",
                path.display()
            ));
        }
        Ok(Trust {
            roots: Some(Arc::new(certificates)),
        })
    }

    /// The TLS settings for requests to `base_url` (the system bundle is
    /// read only for an `https` URL without `--ca-cert`).
    pub fn config(&self, base_url: &str) -> TlsConfig {
        let builder = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ));
        if !base_url.starts_with("https://") {
            return builder.build();
        }
        let roots = match &self.roots {
            Some(roots) => roots.clone(),
            None => Arc::new(system_bundle()),
        };
        builder.root_certs(RootCerts::Specific(roots)).build()
    }
}

/// The certificates of a PEM text (other items, such as keys, skipped).
fn certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let PemItem::Certificate(certificate) = item.map_err(|e| e.to_string())? {
            out.push(certificate);
        }
    }
    Ok(out)
}

/// The first readable system bundle's certificates; none if there is none
/// (then every https node fails its check, and the error says to pass
/// `--ca-cert`).
fn system_bundle() -> Vec<Certificate<'static>> {
    SYSTEM_BUNDLES
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .find_map(|text| certificates(&text).ok().filter(|c| !c.is_empty()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert!(
            Trust::load(Some(&missing))
                .unwrap_err()
                .contains("missing.pem")
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem at all\n").unwrap();
        assert!(
            Trust::load(Some(&empty))
                .unwrap_err()
                .contains("no PEM certificate")
        );
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, certified.cert.pem()).unwrap();
        let trust = Trust::load(Some(&good)).unwrap();
        assert_eq!(trust.roots.as_ref().map(|r| r.len()), Some(1));
    }
}
