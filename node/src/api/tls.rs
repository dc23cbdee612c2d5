//! TLS on the API (feature `server`), by configuration
//! ([`crate::config::ApiTls`]): rustls with the aws-lc-rs provider (the one
//! the network's libp2p stack already builds), TLS 1.3 and 1.2 with rustls's
//! safe defaults, HTTP/1.1 by ALPN, no client certificates (callers are
//! identified by their signed requests, see [`super::auth`]).
//!
//! The handshake is bounded by `api_header_timeout_ms` and counted in the
//! same connection bound as plain connections; a failed or slow one is
//! closed and counted (`clearhouse_api_tls_failed_total`). A connection over
//! the bound is closed without an answer (a plain-text 503 would be noise to
//! a TLS client).

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::ApiTls;

/// Why the API's TLS configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or holds no PEM of the
    /// expected kind.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair (the key does not match the certificate, or
    /// is of a kind it does not support).
    #[error("API TLS: {0}")]
    Refused(String),
}

/// The rustls server configuration for `tls`.
pub fn server_config(tls: &ApiTls) -> Result<Arc<ServerConfig>, TlsError> {
    let certificates = read_certificates(&tls.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file).map_err(|e| TlsError::File {
        path: tls.key_file.display().to_string(),
        reason: format!("no usable private key: {e}"),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Refused(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(|e| TlsError::Refused(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file, in order; at least one.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file_error = |reason: String| TlsError::File {
        path: path.display().to_string(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(e.to_string()))?;
    if certificates.is_empty() {
        return Err(file_error("no certificate in it".into()));
    }
    Ok(certificates)
}
