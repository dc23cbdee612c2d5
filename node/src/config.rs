//! The node's TOML configuration. `node/example-config.toml` is a
//! documented example; every field is described there.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Votes in consensus (its key must be a genesis validator).
    Validator,
    /// Follows the chain by sync and serves the API; never signs.
    Observer,
}

/// A peer to dial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's network (libp2p) public key, hex.
    pub key: String,
    /// Where it listens.
    pub address: SocketAddr,
}

/// Every bound of the node, with its unit in the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most transactions in a block.
    pub block_txs_max: usize,
    /// Most transaction bytes in a block.
    pub block_bytes_max: usize,
    /// Most transactions the mempool holds.
    pub mempool_txs_max: usize,
    /// Most bytes the mempool holds.
    pub mempool_bytes_max: usize,
    /// Most pending transactions per sender.
    pub sender_txs_max: usize,
    /// Largest HTTP request body.
    pub api_body_bytes_max: usize,
    /// Most transactions in one batch submission.
    pub api_batch_txs_max: usize,
    /// Longest a status request may wait for a transaction to become final.
    pub api_wait_ms_max: u64,
    /// Most transactions gossiped in one batch.
    pub gossip_batch_txs_max: usize,
    /// Most API connections open at once; one more is answered 503 and
    /// closed.
    pub api_connections_max: usize,
    /// Longest a client may take to send a request's headers (the first
    /// request's and every later one's on a kept-alive connection) before
    /// its connection is closed.
    pub api_header_timeout_ms: u64,
    /// Longest a client may take to send a request's body: 408 after it.
    pub api_body_timeout_ms: u64,
    /// Requests per second one caller may make (a signed caller by its key,
    /// an unsigned one by its IP address), sustained; `0` for no limit.
    pub api_caller_requests_per_sec: u32,
    /// Requests one caller may make at once above its sustained rate.
    pub api_caller_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            block_txs_max: 2_000,
            block_bytes_max: 4 * 1024 * 1024,
            mempool_txs_max: 100_000,
            mempool_bytes_max: 64 * 1024 * 1024,
            sender_txs_max: 1_000,
            api_body_bytes_max: 8 * 1024 * 1024,
            api_batch_txs_max: 10_000,
            api_wait_ms_max: 30_000,
            gossip_batch_txs_max: 2_000,
            api_connections_max: 1_024,
            api_header_timeout_ms: 10_000,
            api_body_timeout_ms: 30_000,
            api_caller_requests_per_sec: 2_000,
            api_caller_burst: 4_000,
        }
    }
}

/// Consensus timeouts: `base + round × delta`, milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Waiting for a proposal.
    pub propose_ms: u64,
    /// Added per round.
    pub propose_delta_ms: u64,
    /// Waiting for prevotes after a quorum of any.
    pub prevote_ms: u64,
    /// Added per round.
    pub prevote_delta_ms: u64,
    /// Waiting for precommits after a quorum of any.
    pub precommit_ms: u64,
    /// Added per round.
    pub precommit_delta_ms: u64,
    /// How often the node re-sends its messages of the current height (its
    /// own and those it received), once the height has gone this long
    /// without a commit.
    pub rebroadcast_ms: u64,
    /// While an escrow or credit deadline is pending (deadlines are
    /// heights), an idle node starts the next height this long after its
    /// last commit, so deadlines pass in bounded time on a quiet chain.
    pub deadline_block_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            propose_ms: 1_000,
            propose_delta_ms: 500,
            prevote_ms: 500,
            prevote_delta_ms: 250,
            precommit_ms: 500,
            precommit_delta_ms: 250,
            rebroadcast_ms: 1_000,
            deadline_block_ms: 1_000,
        }
    }
}

/// A node's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// A name for logs and `/v1/status`.
    pub name: String,
    /// Validator or observer.
    pub role: Role,
    /// Where the store and the write-ahead log live (created if missing).
    pub data_dir: PathBuf,
    /// The genesis TOML.
    pub genesis_file: PathBuf,
    /// The validator key file (validators only).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The network (libp2p identity) key file.
    pub network_key_file: PathBuf,
    /// The sealing key file (kind `x25519`) of the bank or overseer this
    /// node serves: its public key must be that party's `sealing_key` in
    /// genesis. With it the node indexes and opens, for callers who may see
    /// a payment, the payment data sealed for that party (absent: sealed
    /// data stays sealed here, as on any third bank's node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing_key_file: Option<PathBuf>,
    /// The peer-to-peer listen address.
    pub listen: SocketAddr,
    /// The HTTP API address.
    pub api: SocketAddr,
    /// Keep only about this many of the latest blocks on disk, removing
    /// the oldest history segments as the chain grows (absent: keep the
    /// whole chain, an archival node). A pruning node serves state, the
    /// latest blocks and snapshots; peers far behind and auditors need an
    /// archival node. At least `clearhouse_ledger::store::KEEP_BLOCKS_MIN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_blocks: Option<u64>,
    /// Peers to dial.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// Network keys (hex) of observers allowed to connect, besides members.
    #[serde(default)]
    pub observers: Vec<String>,
    /// TLS on the API (absent: plain HTTP, for a loopback testnet or behind
    /// a proxy that terminates TLS). Requests are signed either way; TLS
    /// keeps what they carry and what they answer private on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_tls: Option<ApiTls>,
    /// Bounds.
    #[serde(default)]
    pub limits: Limits,
    /// Consensus timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
}

/// The API's certificate and key (PEM files; relative paths are relative to
/// the config file's folder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiTls {
    /// The node's certificate chain, its own certificate first.
    pub cert_file: PathBuf,
    /// Its private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key_file: PathBuf,
}

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not readable.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        error: std::io::Error,
    },
    /// Not valid TOML of this shape.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl NodeConfig {
    /// Reads a config file; relative paths in it are relative to its folder.
    pub fn read(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
            path: path.to_owned(),
            error,
        })?;
        let mut config: NodeConfig = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        config.resolve_paths(base);
        config.check().map_err(|reason| ConfigError::Invalid {
            path: path.to_owned(),
            reason,
        })?;
        Ok(config)
    }

    /// Renders TOML.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError::Invalid {
            path: PathBuf::new(),
            reason: e.to_string(),
        })
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        resolve(&mut self.data_dir);
        resolve(&mut self.genesis_file);
        resolve(&mut self.network_key_file);
        if let Some(key_file) = &mut self.key_file {
            resolve(key_file);
        }
        if let Some(sealing_key_file) = &mut self.sealing_key_file {
            resolve(sealing_key_file);
        }
        if let Some(tls) = &mut self.api_tls {
            resolve(&mut tls.cert_file);
            resolve(&mut tls.key_file);
        }
    }

    /// The API's base URL (`https` when it serves TLS).
    pub fn api_url(&self) -> String {
        let scheme = if self.api_tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.api)
    }

    /// Checks what serde cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.role == Role::Validator && self.key_file.is_none() {
            return Err("a validator needs key_file".into());
        }
        if let Some(keep) = self.keep_blocks {
            let min = clearhouse_ledger::store::KEEP_BLOCKS_MIN;
            if keep < min {
                return Err(format!(
                    "keep_blocks is {keep}, at least {min} blocks are kept"
                ));
            }
        }
        let limits = &self.limits;
        if limits.block_txs_max == 0 || limits.block_bytes_max == 0 || limits.mempool_txs_max == 0 {
            return Err("block and mempool limits must be positive".into());
        }
        if limits.block_txs_max > clearhouse_ledger::state::BLOCK_TXS_MAX {
            return Err(format!(
                "block_txs_max exceeds the ledger's {}",
                clearhouse_ledger::state::BLOCK_TXS_MAX
            ));
        }
        Ok(())
    }
}
