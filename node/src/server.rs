//! Starting and stopping a node (feature `server`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use clearhouse_ledger::genesis::Genesis;
use clearhouse_ledger::state;
use clearhouse_ledger::store::{Store, StoreConfig};
use clearhouse_ledger::validators::ValidatorKey;

use crate::config::{NodeConfig, Role};
use crate::driver::{DriverError, DriverParts, Signer, Status};
use crate::mempool::{Mempool, MempoolLimits};
use crate::network::{Network, NetworkConfig, NetworkKey, NetworkLimits};
use crate::{api, driver, keyfile, metrics, network, wal, wire};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A file could not be read.
    #[error("{0}")]
    Io(String),
    /// The genesis is invalid.
    #[error("genesis: {0}")]
    Genesis(#[from] clearhouse_ledger::genesis::GenesisError),
    /// A key file is unusable.
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    /// The sealing key file's public key is no party's sealing key.
    #[error("sealing key {0} is not the sealing key of a member, auditor or regulator")]
    UnknownSealingKey(clearhouse_ledger::sealed::SealingKey),
    /// A validator's sealing key file is not its own bank's.
    #[error("sealing key {0} is not the sealing key of this validator's bank")]
    NotOwnSealingKey(clearhouse_ledger::sealed::SealingKey),
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] clearhouse_ledger::store::StoreError),
    /// The WAL could not be opened.
    #[error(transparent)]
    Wal(#[from] wal::WalError),
    /// The network could not start.
    #[error("network: {0}")]
    Network(#[from] network::NetworkError),
    /// A configured key is not hex.
    #[error("configuration: {0}")]
    Config(String),
}

/// A running node.
pub struct NodeHandle {
    /// Where the HTTP API listens.
    pub api_address: SocketAddr,
    /// This node's network identity.
    pub network_key: NetworkKey,
    stop: watch::Sender<bool>,
    driver: JoinHandle<Result<(), DriverError>>,
    api: JoinHandle<std::io::Result<()>>,
    network: network::NetworkHandle,
    status: watch::Receiver<Status>,
}

impl NodeHandle {
    /// The driver's latest status.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Whether the driver stopped (a fatal error, or shutdown).
    pub fn is_finished(&self) -> bool {
        self.driver.is_finished()
    }

    /// Stops every task and waits for each; returns the driver's result.
    pub async fn shutdown(self) -> Result<(), DriverError> {
        let _ = self.stop.send(true);
        let driver = self.driver.await;
        let _ = self.api.await;
        self.network.shutdown().await;
        match driver {
            Ok(result) => result,
            Err(error) => Err(DriverError::Commit {
                height: 0,
                reason: format!("driver task failed: {error}"),
            }),
        }
    }

    /// Waits until the driver stops by itself (a fatal error), then stops
    /// the rest. For the binary.
    pub async fn wait_for_stop(
        mut self,
        ctrl_c: impl std::future::Future<Output = ()>,
    ) -> Result<(), DriverError> {
        tokio::select! {
            () = ctrl_c => {}
            result = &mut self.driver => {
                let _ = self.stop.send(true);
                let _ = self.api.await;
                self.network.shutdown().await;
                return result.unwrap_or_else(|error| Err(DriverError::Commit { height: 0, reason: error.to_string() }));
            }
        }
        self.shutdown().await
    }
}

fn parse_network_key(text: &str) -> Result<NetworkKey, StartError> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key)
        .map_err(|_| StartError::Config(format!("{text:?} is not a 64-hex-digit network key")))?;
    Ok(NetworkKey(key))
}

/// Starts the store of the node configured by `config` from the snapshot
/// file at `snapshot` (checked against the configured genesis: its
/// certificate and its state root), before [`start`]. Refused when the
/// data directory already holds a store: a snapshot never replaces a
/// store's history. Returns the snapshot's height.
pub fn import_snapshot(config: &NodeConfig, snapshot: &Path) -> Result<u64, StartError> {
    let genesis_text = std::fs::read_to_string(&config.genesis_file)
        .map_err(|e| StartError::Io(format!("{}: {e}", config.genesis_file.display())))?;
    let genesis = Genesis::from_toml(&genesis_text)?;
    let file = std::fs::File::open(snapshot)
        .map_err(|e| StartError::Io(format!("{}: {e}", snapshot.display())))?;
    let snapshot = clearhouse_ledger::store::snapshot::Snapshot::read_from(file)
        .map_err(clearhouse_ledger::store::StoreError::from)?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::Io(format!("{}: {e}", config.data_dir.display())))?;
    let store = Store::import(
        &config.data_dir.join("store"),
        &genesis,
        &snapshot,
        StoreConfig::default(),
    )?;
    let height = store.tip()?.height;
    store.flush()?;
    Ok(height)
}

/// The sealing key must be a party's in the state in force; a validator's
/// must be its own bank's. A validator whose bank is not a member yet (a
/// joining bank, syncing up to its admission) may hold a key the chain
/// does not know yet: it opens nothing until the chain names it.
fn check_sealing_key(
    store: &Store,
    config: &NodeConfig,
    public: clearhouse_ledger::sealed::SealingKey,
) -> Result<(), StartError> {
    let members = state::read_members(store)
        .map_err(|e| StartError::Config(format!("the member list: {e}")))?;
    let overseers = state::read_overseers(store)
        .map_err(|e| StartError::Config(format!("the overseers: {e}")))?;
    if let (Role::Validator, Some(path)) = (config.role, &config.key_file) {
        // A validator opens what is sealed for its own bank only.
        let validator = ValidatorKey(keyfile::read(path)?.account().0);
        return match members.iter().find(|m| m.validator_key == validator) {
            Some(member) if member.sealing_key == Some(public) => Ok(()),
            Some(_) => Err(StartError::NotOwnSealingKey(public)),
            None => {
                tracing::warn!(key = %public.to_hex(), "this validator's bank is not a member yet: its sealing key opens nothing until it is");
                Ok(())
            }
        };
    }
    let known = members
        .iter()
        .filter_map(|member| member.sealing_key)
        .chain(overseers.iter().filter_map(|o| o.sealing_key))
        .any(|key| key == public);
    if known {
        Ok(())
    } else {
        Err(StartError::UnknownSealingKey(public))
    }
}

/// Starts a node.
pub async fn start(config: NodeConfig) -> Result<NodeHandle, StartError> {
    let genesis_text = std::fs::read_to_string(&config.genesis_file)
        .map_err(|e| StartError::Io(format!("{}: {e}", config.genesis_file.display())))?;
    let genesis = Genesis::from_toml(&genesis_text)?;
    let chain_id = genesis.chain_id()?;
    let validators = genesis.validator_set()?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::Io(format!("{}: {e}", config.data_dir.display())))?;
    let sealing = match &config.sealing_key_file {
        Some(path) => Some(keyfile::read_sealing(path)?),
        None => None,
    };
    let sealing_public = sealing.as_ref().map(|secret| secret.public());
    let store = Store::open_with(
        &config.data_dir.join("store"),
        &genesis,
        StoreConfig {
            keep_blocks: config.keep_blocks,
            sealing,
            ..StoreConfig::default()
        },
    )?;
    if let Some(repair) = store.repair() {
        tracing::warn!(%repair, "the store's history ended in a torn record, cut at open");
    }

    if let Some(public) = sealing_public {
        check_sealing_key(&store, &config, public)?;
    }
    let signer = match (config.role, &config.key_file) {
        (Role::Validator, Some(path)) => {
            let key = keyfile::read(path)?;
            let validator_key = ValidatorKey(key.account().0);
            let members = state::read_members(&store)
                .map_err(|e| StartError::Config(format!("the member list: {e}")))?;
            let in_force = state::validator_set(&members)
                .map_err(|e| StartError::Config(format!("the validator set in force: {e}")))?;
            if in_force.get(&validator_key).is_none() {
                // A joining bank's node: it follows the chain and signs once
                // governance puts its key in the set.
                tracing::warn!(
                    key = %validator_key,
                    "this validator's key is not in the set in force: following the chain until it is"
                );
            }
            Some(Signer { key })
        }
        _ => None,
    };
    let wal = match signer {
        Some(_) => Some(wal::Wal::open(&config.data_dir.join("consensus.wal"))?),
        None => None,
    };

    let network_key = keyfile::read(&config.network_key_file)?;
    // The members in force (the chain's list, which governance changes),
    // then the configured observers and peers; the driver keeps the
    // network's allow-list following the chain.
    let members = state::read_members(&store)
        .map_err(|e| StartError::Config(format!("the member list: {e}")))?;
    let mut fixed: Vec<NetworkKey> = Vec::new();
    for observer in &config.observers {
        fixed.push(parse_network_key(observer)?);
    }
    let peers = config
        .peers
        .iter()
        .map(|peer| Ok((parse_network_key(&peer.key)?, peer.address)))
        .collect::<Result<Vec<_>, StartError>>()?;
    // Peers named in the config are allowed too (an observer dials members,
    // and members list it under `observers`), except a member's node: that
    // one is allowed exactly while the chain says the member is active
    // (`driver::allowed_peers`).
    for (key, _) in &peers {
        if !fixed.contains(key) {
            fixed.push(*key);
        }
    }
    let allowed = driver::allowed_peers(&members, &fixed);
    // A configured peer the chain has removed or suspended is not dialled
    // (the allow-list refuses it, and the network refuses to start with a
    // configured peer outside the allow-list).
    let peers = peers
        .into_iter()
        .filter(|(key, _)| {
            let keep = allowed.contains(key);
            if !keep {
                tracing::warn!(%key, "a configured peer is a member the chain no longer admits: not dialling it");
            }
            keep
        })
        .collect();
    let network = Network::start(NetworkConfig {
        identity_seed: network_key.seed(),
        listen: config.listen,
        peers,
        allowed,
        limits: NetworkLimits {
            gossip_consensus_bytes_max: wire::CONSENSUS_MESSAGE_BYTES_MAX,
            gossip_tx_bytes_max: wire::TX_BATCH_BYTES_MAX,
            sync_request_bytes_max: wire::SYNC_REQUEST_BYTES_MAX,
            sync_response_bytes_max: wire::SYNC_RESPONSE_BYTES_MAX,
            ..NetworkLimits::default()
        },
    })
    .await?;
    let local_network_key = network.local_key();
    let Network {
        client,
        events,
        handle: network_handle,
    } = network;

    let limits = config.limits.clone();
    let mempool = Mempool::new(MempoolLimits {
        mempool_txs_max: limits.mempool_txs_max,
        mempool_bytes_max: limits.mempool_bytes_max,
        sender_txs_max: limits.sender_txs_max,
    });
    let (stop, shutdown) = watch::channel(false);
    let (status_tx, status_rx) = watch::channel(Status::default());
    let (commands_tx, commands_rx) = mpsc::channel(1024);
    let metrics = Arc::new(metrics::Metrics::default());
    let tls = match &config.api_tls {
        Some(tls) => {
            Some(api::tls::server_config(tls).map_err(|e| StartError::Config(e.to_string()))?)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.api)
        .await
        .map_err(|e| StartError::Io(format!("API address {}: {e}", config.api)))?;
    let api_address = listener
        .local_addr()
        .map_err(|e| StartError::Io(format!("API address: {e}")))?;
    let api_state = api::ApiState {
        name: config.name.clone(),
        role: config.role,
        chain_id,
        store: store.clone(),
        validators: validators.clone(),
        commands: commands_tx,
        status: status_rx.clone(),
        metrics: metrics.clone(),
        limits: limits.clone(),
        snapshots: Arc::new(tokio::sync::Semaphore::new(1)),
        gate: Arc::new(api::access::Gate::new(chain_id, &config.name, &store)?),
        limiter: Arc::new(api::front::RateLimiter::new(
            limits.api_caller_requests_per_sec,
            limits.api_caller_burst,
        )),
    };
    let api = tokio::spawn(api::serve(listener, api_state, tls, shutdown.clone()));
    let driver = tokio::spawn(driver::run(DriverParts {
        chain_id,
        store,
        fixed_peers: fixed,
        signer,
        wal,
        mempool,
        network: client,
        events,
        commands: commands_rx,
        status: status_tx,
        metrics,
        limits,
        timeouts: config.timeouts.clone(),
        shutdown,
    }));
    tracing::info!(name = %config.name, %api_address, api_tls = config.api_tls.is_some(), network_key = %hex::encode(local_network_key.0), "node started");
    Ok(NodeHandle {
        api_address,
        network_key: local_network_key,
        stop,
        driver,
        api,
        network: network_handle,
        status: status_rx,
    })
}
