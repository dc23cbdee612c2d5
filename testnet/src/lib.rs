//! Local Clearhouse networks on loopback: everything `clearhouse-testnet up`
//! and the whole-network tests need.
//!
//! [`generate`] writes a fresh network into a folder: one key per demo bank
//! (validator, network identity, treasury), demo customer accounts with key
//! files, a genesis (bank *i* issues the *i*-th asset of [`ASSETS`]; every
//! demo account opens with a balance in every asset) and one node config per
//! validator (and per requested observer) with free loopback ports.
//! [`spawn_node`] runs a `clearhouse-node` process for a config.
//! [`join`] adds a bank to a generated network (`add-bank`) and reads a
//! network back ([`Testnet::open`]).

pub mod bench;
pub mod door;
pub mod join;
pub mod quotes;
pub mod sim;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};

use clearhouse_ledger::AccountId;
use clearhouse_ledger::crypto::{Keypair, sha256};
use clearhouse_ledger::genesis::{
    AccountEntry, AssetEntry, CreditCapEntry, CreditEntry, EscrowEntry, FeeEntry, Genesis,
    GenesisFile, MemberEntry, OverseerEntry,
};
use clearhouse_ledger::sealed::{SealingKey, SealingSecret};
use clearhouse_node::api::trust::Trust;
use clearhouse_node::config::{ApiTls, Limits, NodeConfig, PeerConfig, Role, Timeouts};
use clearhouse_node::keyfile;

/// The demo assets, one per bank in order.
pub const ASSETS: [(&str, u8); 10] = [
    ("CNY", 2),
    ("USD", 2),
    ("EUR", 2),
    ("JPY", 0),
    ("GBP", 2),
    ("CHF", 2),
    ("SGD", 2),
    ("HKD", 2),
    ("AUD", 2),
    ("CAD", 2),
];

/// Opening balance of every demo account in every asset, in whole units.
pub const OPENING_UNITS: u64 = 1_000_000;

/// Every bank treasury's opening balance in every asset, whole units: the
/// liquidity its customers' credit lines draw on.
pub const TREASURY_OPENING_UNITS: u64 = 10_000_000;

/// Credit parameters of the testnet genesis: below this rating no credit is
/// usable, and each rating point allows this many whole units of credit
/// (a new account, rated 500, may owe up to 5,000 units).
pub const CREDIT_MIN_RATING: u16 = 400;
/// See [`CREDIT_MIN_RATING`].
pub const CREDIT_PER_POINT_UNITS: u64 = 10;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Folder to write into (created).
    pub dir: PathBuf,
    /// Validators, one per bank (1 to 10).
    pub validators: usize,
    /// Observers (they follow by sync and serve the API).
    pub observers: usize,
    /// Demo customer accounts per bank.
    pub accounts_per_bank: usize,
    /// Derive every key from this seed (tests); `None` draws fresh keys.
    pub seed: Option<u64>,
    /// Consensus timeouts for every node.
    pub timeouts: Timeouts,
    /// Node limits.
    pub limits: Limits,
    /// Serve every node's API over TLS: a testnet CA (`tls/ca.pem`) and a
    /// certificate per node for `127.0.0.1` and `localhost`.
    pub tls: bool,
}

/// Consensus timeouts for tests on loopback, where messages arrive in
/// milliseconds: rounds that fail move on quickly.
pub fn loopback_test_timeouts() -> Timeouts {
    Timeouts {
        propose_ms: 400,
        propose_delta_ms: 200,
        prevote_ms: 200,
        prevote_delta_ms: 100,
        precommit_ms: 200,
        precommit_delta_ms: 100,
        rebroadcast_ms: 500,
        deadline_block_ms: 200,
    }
}

impl Spec {
    /// Defaults for a demo: 4 validators, no observer, 4 accounts per bank.
    pub fn new(dir: PathBuf) -> Spec {
        Spec {
            dir,
            validators: 4,
            observers: 0,
            accounts_per_bank: 4,
            seed: None,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            tls: false,
        }
    }
}

/// One node's files and addresses.
#[derive(Debug, Clone)]
pub struct NodeFiles {
    /// Its name (`bank-0`, or `observer-0`).
    pub name: String,
    /// Its config file.
    pub config_path: PathBuf,
    /// Its config.
    pub config: NodeConfig,
}

impl NodeFiles {
    /// The API base URL (`https` when the node serves TLS).
    pub fn api_url(&self) -> String {
        self.config.api_url()
    }
}

/// A demo account with its key file.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    /// The account.
    pub account: AccountId,
    /// Its hosting bank.
    pub bank: String,
    /// Its key file.
    pub key_file: PathBuf,
}

/// A generated network.
#[derive(Debug, Clone)]
pub struct Testnet {
    /// Its folder.
    pub dir: PathBuf,
    /// The genesis file.
    pub genesis_path: PathBuf,
    /// The genesis.
    pub genesis: Genesis,
    /// Validators first, then observers.
    pub nodes: Vec<NodeFiles>,
    /// Demo accounts (customers), bank by bank.
    pub accounts: Vec<DemoAccount>,
    /// Each bank's treasury key file, in bank order.
    pub treasuries: Vec<PathBuf>,
    /// Each bank's governance key file, in bank order: signs its proposals
    /// and votes (`clearhouse governance … --key`).
    pub governors: Vec<PathBuf>,
    /// Each bank's back-office API key file, in bank order: signs reads
    /// of its customers' data (`clearhouse --auth-key`).
    pub bank_api_keys: Vec<PathBuf>,
    /// The auditor's API key file (reads everything).
    pub auditor_key: PathBuf,
    /// The regulator's API key file (reads everything).
    pub regulator_key: PathBuf,
    /// The CA certificate the nodes' API certificates chain to, when they
    /// serve TLS (`tls/ca.pem`).
    pub ca_cert: Option<PathBuf>,
    /// The banks `add-bank` added, in that order (their nodes are also
    /// the last of `nodes`; their customers are not in `accounts`, since
    /// they exist on chain only once their bank registers them).
    pub added: Vec<join::AddedBank>,
}

impl Testnet {
    /// How a client trusts this network's nodes (their CA when they serve
    /// TLS).
    pub fn trust(&self) -> Result<Trust, TestnetError> {
        Trust::load(self.ca_cert.as_deref()).map_err(TestnetError::Io)
    }

    /// An HTTP agent for this network's APIs: errors as answers (not
    /// `Err`), `timeout` end to end, TLS checked against [`Self::trust`].
    pub fn agent(&self, timeout: std::time::Duration) -> Result<ureq::Agent, TestnetError> {
        let trust = self.trust()?;
        let url = self
            .nodes
            .first()
            .map(NodeFiles::api_url)
            .unwrap_or_default();
        Ok(ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .tls_config(trust.config(&url))
            .build()
            .new_agent())
    }
}

/// A testnet CA and the certificates it signs for the nodes' APIs.
struct TestnetCa {
    key: rcgen::KeyPair,
    certificate: rcgen::Certificate,
}

impl TestnetCa {
    /// A fresh CA, written as `dir/ca.pem` (its key is kept in memory only:
    /// nothing can sign another certificate for this testnet later).
    fn create(dir: &Path) -> Result<(TestnetCa, PathBuf), TestnetError> {
        let tls = |e: rcgen::Error| TestnetError::Io(format!("testnet CA: {e}"));
        std::fs::create_dir_all(dir).map_err(io(dir.display()))?;
        let key = rcgen::KeyPair::generate().map_err(tls)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Clearhouse testnet CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let certificate = params.self_signed(&key).map_err(tls)?;
        let path = dir.join("ca.pem");
        std::fs::write(&path, certificate.pem()).map_err(io(path.display()))?;
        Ok((TestnetCa { key, certificate }, path))
    }

    /// A certificate for `name`'s API on loopback, written into `dir` as
    /// `api-cert.pem` and `api-key.pem` (owner-only).
    fn issue(&self, name: &str, dir: &Path) -> Result<ApiTls, TestnetError> {
        let tls = |e: rcgen::Error| TestnetError::Io(format!("{name} API certificate: {e}"));
        let key = rcgen::KeyPair::generate().map_err(tls)?;
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .map_err(tls)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .map_err(tls)?;
        let cert_file = dir.join("api-cert.pem");
        let key_file = dir.join("api-key.pem");
        std::fs::write(&cert_file, certificate.pem()).map_err(io(cert_file.display()))?;
        write_private(&key_file, key.serialize_pem().as_bytes())?;
        Ok(ApiTls {
            cert_file,
            key_file,
        })
    }
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TestnetError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path.display()))?;
    file.write_all(bytes).map_err(io(path.display()))
}

/// A failure to generate or launch a network.
#[derive(Debug, thiserror::Error)]
pub enum TestnetError {
    /// The file system failed.
    #[error("{0}")]
    Io(String),
    /// The request is out of range.
    #[error("{0}")]
    Invalid(String),
    /// A generated genesis was refused (our bug).
    #[error("genesis: {0}")]
    Genesis(#[from] clearhouse_ledger::genesis::GenesisError),
    /// A key file could not be written.
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    /// A config could not be written.
    #[error(transparent)]
    Config(#[from] clearhouse_node::config::ConfigError),
}

fn io(context: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> TestnetError {
    move |error| TestnetError::Io(format!("{context}: {error}"))
}

/// A loopback address with a port that was free a moment ago, and that
/// this process has not handed out before.
///
/// A node's libp2p listener sets `SO_REUSEPORT`, so two nodes given one
/// port would both start and the kernel would split the connections meant
/// for one between them (the node refuses an address already bound without
/// it, but not one handed out twice before either binds). So ports are
/// never handed out twice by one process, and they are drawn at random from
/// below the kernel's ephemeral range, where outgoing connections (and
/// `bind` to port 0 in other processes) take theirs. Two processes can
/// still draw the same port in the moment before either binds it; at a few
/// dozen ports in use out of thousands that is rare, and then the node that
/// binds second almost always refuses to start rather than share (its
/// check and libp2p's bind are two steps, so two nodes starting in the
/// same instant could both pass the check).
pub fn free_address() -> Result<SocketAddr, TestnetError> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    if ephemeral_low >= PORTS_LOW + 1_000 {
        for _ in 0..1_000 {
            let port = rand::random_range(PORTS_LOW..ephemeral_low);
            if given.contains(&port) {
                continue;
            }
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
                let address = listener.local_addr().map_err(io("choosing a free port"))?;
                given.insert(port);
                return Ok(address);
            }
        }
    }
    // No room below the ephemeral range (or all of it taken): let the
    // kernel choose, still never twice.
    for _ in 0..1_000 {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(io("choosing a free port"))?;
        let address = listener.local_addr().map_err(io("choosing a free port"))?;
        if given.insert(address.port()) {
            return Ok(address);
        }
    }
    Err(TestnetError::Io("no free loopback port found".into()))
}

/// The lowest port [`free_address`] draws (below it sit the ports most
/// commonly registered to services).
const PORTS_LOW: u16 = 20_000;

struct Keys {
    seed: Option<u64>,
}

impl Keys {
    fn secret(&self, label: &str) -> [u8; 32] {
        match self.seed {
            Some(seed) => sha256(&[b"clearhouse-testnet", &seed.to_be_bytes(), label.as_bytes()]).0,
            None => rand::random::<[u8; 32]>(),
        }
    }

    fn key(&self, label: &str) -> Keypair {
        Keypair::from_seed(&self.secret(label))
    }
}

/// Writes a fresh network into `spec.dir`.
pub fn generate(spec: &Spec) -> Result<Testnet, TestnetError> {
    if !(1..=ASSETS.len()).contains(&spec.validators) {
        return Err(TestnetError::Invalid(format!(
            "--validators must be between 1 and {}",
            ASSETS.len()
        )));
    }
    // Absolute: node configs name files by path, and a node resolves a
    // relative path against its config file's folder, not ours.
    let dir = &std::path::absolute(&spec.dir).map_err(io(spec.dir.display()))?;
    let keys_dir = dir.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(io(keys_dir.display()))?;
    let keys = Keys { seed: spec.seed };
    let write_key = |name: &str| -> Result<(Keypair, PathBuf), TestnetError> {
        let key = keys.key(name);
        let path = keys_dir.join(format!("{name}.key"));
        keyfile::write(&path, &key)?;
        Ok((key, path))
    };
    let write_sealing = |name: &str| -> Result<(SealingKey, PathBuf), TestnetError> {
        let secret = SealingSecret::from_bytes(keys.secret(&format!("{name}-sealing")));
        let path = keys_dir.join(format!("{name}-sealing.key"));
        keyfile::write_sealing(&path, &secret)?;
        Ok((secret.public(), path))
    };

    let mut members = Vec::new();
    let mut assets = Vec::new();
    let mut fees = Vec::new();
    let mut validator_files = Vec::new();
    let mut network_files = Vec::new();
    let mut treasuries = Vec::new();
    let mut governors = Vec::new();
    let mut bank_api_keys = Vec::new();
    let mut sealing_files = Vec::new();
    for (i, (code, decimals)) in ASSETS.iter().copied().enumerate().take(spec.validators) {
        let bank = format!("bank-{i}");
        let (validator, validator_path) = write_key(&format!("{bank}-validator"))?;
        let (network, network_path) = write_key(&format!("{bank}-network"))?;
        let (treasury, treasury_path) = write_key(&format!("{bank}-treasury"))?;
        let (governor, governor_path) = write_key(&format!("{bank}-governance"))?;
        governors.push(governor_path);
        let (api, api_path) = write_key(&format!("{bank}-api"))?;
        bank_api_keys.push(api_path);
        let (sealing, sealing_path) = write_sealing(&bank)?;
        sealing_files.push(sealing_path);
        members.push(MemberEntry {
            id: bank.clone(),
            name: format!("Demo Bank {i}"),
            validator_key: validator.account().to_hex(),
            network_key: network.account().to_hex(),
            voting_power: 10,
            treasury: treasury.account().to_hex(),
            governance_key: governor.account().to_hex(),
            addresses: Vec::new(),
            api_key: Some(api.account().to_hex()),
            sealing_key: Some(sealing.to_hex()),
        });
        assets.push(AssetEntry {
            code: code.into(),
            issuer: bank.clone(),
            decimals,
        });
        fees.push(FeeEntry {
            asset: code.into(),
            flat: if decimals == 0 {
                "1".into()
            } else {
                "0.01".into()
            },
            basis_points: 2,
            // The payee's bank keeps 30 % of the fee of a payment it receives.
            receiving_share: 3_000,
        });
        validator_files.push(validator_path);
        network_files.push((network, network_path));
        treasuries.push(treasury_path);
    }
    let mut accounts = Vec::new();
    let mut account_entries = Vec::new();
    for i in 0..spec.validators {
        for j in 0..spec.accounts_per_bank {
            let (key, path) = write_key(&format!("bank-{i}-customer-{j}"))?;
            account_entries.push(AccountEntry {
                key: key.account().to_hex(),
                bank: format!("bank-{i}"),
                balances: assets
                    .iter()
                    .map(|a| (a.code.clone(), OPENING_UNITS.to_string()))
                    .collect(),
            });
            accounts.push(DemoAccount {
                account: key.account(),
                bank: format!("bank-{i}"),
                key_file: path,
            });
        }
    }
    // Treasuries open with liquidity in every asset: a bank funds its
    // customers' credit draws from its treasury.
    for (i, member) in members.iter().enumerate() {
        account_entries.push(AccountEntry {
            key: member.treasury.clone(),
            bank: format!("bank-{i}"),
            balances: assets
                .iter()
                .map(|a| (a.code.clone(), TREASURY_OPENING_UNITS.to_string()))
                .collect(),
        });
    }
    let (auditor, auditor_key) = write_key("auditor")?;
    let (regulator, regulator_key) = write_key("regulator")?;
    let (auditor_sealing, _) = write_sealing("auditor")?;
    let (regulator_sealing, _) = write_sealing("regulator")?;
    let file = GenesisFile {
        chain_name: "clearhouse-testnet".into(),
        genesis_time_ms: 0,
        members,
        credit: Some(CreditEntry {
            rating_version: 1,
            min_rating: CREDIT_MIN_RATING,
            period_blocks_max: 100_000,
            caps: assets
                .iter()
                .map(|a| CreditCapEntry {
                    asset: a.code.clone(),
                    per_point: CREDIT_PER_POINT_UNITS.to_string(),
                })
                .collect(),
        }),
        escrow: Some(EscrowEntry {
            deadline_blocks_max: 100_000,
        }),
        assets,
        accounts: account_entries,
        fees,
        auditors: vec![OverseerEntry {
            id: "auditor".into(),
            name: "Demo Audit Firm".into(),
            key: auditor.account().to_hex(),
            sealing_key: Some(auditor_sealing.to_hex()),
        }],
        regulators: vec![OverseerEntry {
            id: "regulator".into(),
            name: "Demo Regulator".into(),
            key: regulator.account().to_hex(),
            sealing_key: Some(regulator_sealing.to_hex()),
        }],
        governance: None,
    };
    let genesis = file.validate()?;
    let genesis_path = dir.join("genesis.toml");
    std::fs::write(&genesis_path, file.to_toml()?).map_err(io(genesis_path.display()))?;

    let ca = if spec.tls {
        Some(TestnetCa::create(&dir.join("tls"))?)
    } else {
        None
    };
    let mut observer_keys = Vec::new();
    for i in 0..spec.observers {
        observer_keys.push(write_key(&format!("observer-{i}-network"))?);
    }
    let validator_addresses = (0..spec.validators)
        .map(|_| free_address())
        .collect::<Result<Vec<_>, _>>()?;
    let mut nodes = Vec::new();
    let node = |name: String,
                role: Role,
                key_file: Option<PathBuf>,
                sealing_key_file: Option<PathBuf>,
                network_key_file: PathBuf,
                listen: SocketAddr,
                peers: Vec<PeerConfig>,
                observers: Vec<String>|
     -> Result<NodeFiles, TestnetError> {
        let node_dir = dir.join(&name);
        std::fs::create_dir_all(&node_dir).map_err(io(node_dir.display()))?;
        let config = NodeConfig {
            name: name.clone(),
            role,
            data_dir: node_dir.join("data"),
            genesis_file: genesis_path.clone(),
            key_file,
            network_key_file,
            sealing_key_file,
            listen,
            api: free_address()?,
            keep_blocks: None,
            peers,
            observers,
            api_tls: match &ca {
                Some((ca, _)) => Some(ca.issue(&name, &node_dir)?),
                None => None,
            },
            limits: spec.limits.clone(),
            timeouts: spec.timeouts.clone(),
        };
        let config_path = node_dir.join("node.toml");
        std::fs::write(&config_path, config.to_toml()?).map_err(io(config_path.display()))?;
        Ok(NodeFiles {
            name,
            config_path,
            config,
        })
    };
    let observer_hex: Vec<String> = observer_keys
        .iter()
        .map(|(k, _)| k.account().to_hex())
        .collect();
    for i in 0..spec.validators {
        let peers = (0..spec.validators)
            .filter(|j| *j != i)
            .map(|j| PeerConfig {
                key: network_files[j].0.account().to_hex(),
                address: validator_addresses[j],
            })
            .collect();
        nodes.push(node(
            format!("bank-{i}"),
            Role::Validator,
            Some(validator_files[i].clone()),
            Some(sealing_files[i].clone()),
            network_files[i].1.clone(),
            validator_addresses[i],
            peers,
            observer_hex.clone(),
        )?);
    }
    for (i, (_, path)) in observer_keys.iter().enumerate() {
        let peers = (0..spec.validators)
            .map(|j| PeerConfig {
                key: network_files[j].0.account().to_hex(),
                address: validator_addresses[j],
            })
            .collect();
        nodes.push(node(
            format!("observer-{i}"),
            Role::Observer,
            None,
            None,
            path.clone(),
            free_address()?,
            peers,
            Vec::new(),
        )?);
    }
    Ok(Testnet {
        dir: dir.clone(),
        genesis_path,
        genesis,
        nodes,
        accounts,
        treasuries,
        governors,
        bank_api_keys,
        auditor_key,
        regulator_key,
        ca_cert: ca.map(|(_, path)| path),
        added: Vec::new(),
    })
}

/// The `clearhouse-node` binary next to the running executable (both live
/// in the same cargo target folder), or on `CLEARHOUSE_NODE_BIN`.
pub fn node_binary() -> Result<PathBuf, TestnetError> {
    if let Ok(path) = std::env::var("CLEARHOUSE_NODE_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(io("locating this executable"))?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    // Test binaries live one level down, in `deps/`.
    if dir.ends_with("deps") {
        dir.pop();
    }
    let candidate = dir.join("clearhouse-node");
    if candidate.exists() {
        Ok(candidate)
    } else {
        Err(TestnetError::Io(format!(
            "{} not found: build it first (cargo build --bins)",
            candidate.display()
        )))
    }
}

/// Starts a `clearhouse-node` process for `node`, logging to `<node dir>/node.log`.
pub fn spawn_node(binary: &Path, node: &NodeFiles) -> Result<Child, TestnetError> {
    let log_path = node
        .config_path
        .parent()
        .map(|d| d.join("node.log"))
        .unwrap_or_else(|| PathBuf::from("node.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io(log_path.display()))?;
    Command::new(binary)
        .arg("--config")
        .arg(&node.config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(io(binary.display()))
}
