//! Where the CLI looks when a flag is not given.
//!
//! A local testnet (`clearhouse-testnet up`) chooses free ports when it is
//! generated, so there is no fixed default URL. Instead the default node is
//! read from the default testnet folder in the current directory:
//! `--node`, else `CLEARHOUSE_NODE` (both handled by clap), else the `api`
//! address of `./clearhouse-testnet/bank-0/node.toml`. The default genesis
//! is `./clearhouse-testnet/genesis.toml`; a testnet started with `--tls`
//! is reached over https, trusting its `./clearhouse-testnet/tls/ca.pem`.

use std::path::{Path, PathBuf};

use clearhouse_ledger::genesis::Genesis;
use clearhouse_node::config::NodeConfig;

use crate::exit::CliError;

/// The folder `clearhouse-testnet up` writes by default.
pub const TESTNET_DIR: &str = "clearhouse-testnet";

/// The node config of the first node of a default testnet.
pub fn testnet_node_config() -> PathBuf {
    Path::new(TESTNET_DIR).join("bank-0").join("node.toml")
}

/// The genesis of a default testnet.
pub fn testnet_genesis() -> PathBuf {
    Path::new(TESTNET_DIR).join("genesis.toml")
}

/// The node URL: the flag (or `CLEARHOUSE_NODE`) if given, else the first
/// node of the default testnet in the current directory.
pub fn node_url(flag: Option<&str>) -> Result<String, CliError> {
    if let Some(url) = flag.map(str::trim).filter(|u| !u.is_empty()) {
        return Ok(url.to_owned());
    }
    let config_path = testnet_node_config();
    if !config_path.exists() {
        return Err(CliError::Usage(format!(
            "no node given: pass --node URL or set CLEARHOUSE_NODE \
             (no local testnet at {})",
            config_path.display()
        )));
    }
    let config = NodeConfig::read(&config_path).map_err(|e| {
        CliError::Usage(format!(
            "no node given and the local testnet's config is unreadable ({e}): \
             pass --node URL or set CLEARHOUSE_NODE"
        ))
    })?;
    Ok(config.api_url())
}

/// The CA file an https node is checked against: the flag (or
/// `CLEARHOUSE_CA_CERT`) if given, else the default testnet's
/// `tls/ca.pem` when the node itself comes from that testnet (no `--node`)
/// and the file exists, else none (the system's bundle).
pub fn ca_cert(flag: Option<&Path>, node_flag: Option<&str>) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_owned());
    }
    if node_flag.map(str::trim).is_some_and(|u| !u.is_empty()) {
        return None;
    }
    Some(testnet_ca_cert()).filter(|p| p.exists())
}

/// The CA certificate of a default testnet started with `--tls`.
pub fn testnet_ca_cert() -> PathBuf {
    Path::new(TESTNET_DIR).join("tls").join("ca.pem")
}

/// The genesis file: the flag if given, else the default testnet's if it
/// exists.
pub fn genesis_path(flag: Option<&Path>) -> Option<PathBuf> {
    match flag {
        Some(path) => Some(path.to_owned()),
        None => Some(testnet_genesis()).filter(|p| p.exists()),
    }
}

/// Reads and validates a genesis file (exit 2 if it is not one).
pub fn load_genesis(path: &Path) -> Result<Genesis, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("genesis {}: {e}", path.display())))?;
    Genesis::from_toml(&text)
        .map_err(|e| CliError::Usage(format!("genesis {}: {e}", path.display())))
}

/// The genesis for a command that needs one: the flag, else the default
/// testnet's, else exit 2 saying so.
pub fn required_genesis(flag: Option<&Path>) -> Result<(PathBuf, Genesis), CliError> {
    let path = genesis_path(flag).ok_or_else(|| {
        CliError::Usage(format!(
            "no genesis given: pass --genesis FILE (no local testnet at {})",
            testnet_genesis().display()
        ))
    })?;
    let genesis = load_genesis(&path)?;
    Ok((path, genesis))
}
