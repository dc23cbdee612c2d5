//! Key files: one key per file, TOML, written with mode 0600: an ed25519
//! signing key (kind `ed25519`), or an X25519 sealing secret (kind
//! `x25519`, `secret_seed` holding the 32 secret bytes).
//!
//! ```toml
//! # Clearhouse ed25519 key. Keep this file secret.
//! kind = "ed25519"
//! public_key = "…64 hex digits…"
//! secret_seed = "…64 hex digits…"
//! ```
//!
//! Reading checks the public key matches the seed and refuses a file that
//! others than its owner can read or write.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::sealed::{SealingKey, SealingSecret};
use clearhouse_ledger::{AccountId, Hash};

/// Most bytes a key file may have.
pub const KEY_FILE_BYTES_MAX: u64 = 4096;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    kind: String,
    public_key: String,
    secret_seed: String,
}

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file system refused.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        error: std::io::Error,
    },
    /// Not a key file.
    #[error("{path}: not a key file: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Readable or writable by others than its owner.
    #[error("{path}: permissions {mode:o} let others read the key; run chmod 600")]
    PermissionsTooOpen {
        /// The file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |error| KeyFileError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Writes `key` to a new file at `path` (never overwrites), mode 0600.
pub fn write(path: &Path, key: &Keypair) -> Result<(), KeyFileError> {
    write_file(
        path,
        &KeyFile {
            kind: ED25519.into(),
            public_key: key.account().to_hex(),
            secret_seed: hex::encode(key.seed()),
        },
    )
}

/// Writes a sealing secret (kind `x25519`) to a new file at `path` (never
/// overwrites), mode 0600.
pub fn write_sealing(path: &Path, secret: &SealingSecret) -> Result<(), KeyFileError> {
    write_file(
        path,
        &KeyFile {
            kind: X25519.into(),
            public_key: secret.public().to_hex(),
            secret_seed: hex::encode(secret.to_bytes()),
        },
    )
}

const ED25519: &str = "ed25519";
const X25519: &str = "x25519";

fn write_file(path: &Path, file: &KeyFile) -> Result<(), KeyFileError> {
    let text = format!(
        "# Clearhouse {} key. Keep this file secret.\n{}",
        file.kind,
        toml::to_string(file).map_err(|error| KeyFileError::Malformed {
            path: path.to_owned(),
            reason: error.to_string(),
        })?
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(text.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    Ok(())
}

/// Reads an ed25519 key file.
pub fn read(path: &Path) -> Result<Keypair, KeyFileError> {
    let (file, malformed) = read_file(path, ED25519)?;
    let seed = Hash::from_hex(&file.secret_seed).map_err(|e| malformed(e.to_string()))?;
    let public = AccountId::from_hex(&file.public_key).map_err(|e| malformed(e.to_string()))?;
    let key = Keypair::from_seed(&seed.0);
    if key.account() != public {
        return Err(malformed("public_key does not match secret_seed".into()));
    }
    Ok(key)
}

/// Reads a sealing key file (kind `x25519`).
pub fn read_sealing(path: &Path) -> Result<SealingSecret, KeyFileError> {
    let (file, malformed) = read_file(path, X25519)?;
    let secret = Hash::from_hex(&file.secret_seed).map_err(|e| malformed(e.to_string()))?;
    let secret = SealingSecret::from_bytes(secret.0);
    let public = SealingKey::from_hex(&file.public_key).map_err(|e| malformed(e.to_string()))?;
    if secret.public() != public {
        return Err(malformed("public_key does not match secret_seed".into()));
    }
    Ok(secret)
}

type Malformed<'a> = Box<dyn Fn(String) -> KeyFileError + 'a>;

/// Reads a key file of `kind`, refusing one others may read.
fn read_file<'a>(path: &'a Path, kind: &str) -> Result<(KeyFile, Malformed<'a>), KeyFileError> {
    let metadata = std::fs::metadata(path).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::PermissionsTooOpen {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let malformed: Malformed<'a> = Box::new(move |reason: String| KeyFileError::Malformed {
        path: path.to_owned(),
        reason,
    });
    if metadata.len() > KEY_FILE_BYTES_MAX {
        return Err(malformed(format!("larger than {KEY_FILE_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let file: KeyFile = toml::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    if file.kind != kind {
        return Err(malformed(format!(
            "a key of kind {:?}, {kind:?} expected",
            file.kind
        )));
    }
    Ok((file, malformed))
}
