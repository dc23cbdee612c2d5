//! A bank joining a running testnet: `clearhouse-testnet add-bank`.
//!
//! [`add_bank`] writes, into a folder `generate` (or `up`) wrote, what a new
//! bank brings: its keys in `keys/` named like the genesis banks'
//! (`NAME-validator.key`, `-network`, `-treasury`, `-governance`, `-api`,
//! `-sealing`, `NAME-customer-J.key`), a node config `NAME/node.toml` on
//! free loopback ports whose peers are the existing validators, and its
//! member entry `NAME/member.toml` (one genesis `[[members]]` table, as
//! `clearhouse governance propose add-member --from-file` reads it, with
//! the node's listen address so the others dial it once it is admitted).
//! The bank is recorded last, in `added-banks.toml`: that record is what
//! [`Testnet::open`] (and so `up`) reads to start its node with the others.
//!
//! Nothing here talks to the chain: [`JoinCommands`] are the governance
//! commands the members run (the proposal, enough votes to pass it, and
//! for the bank's own asset its registration), computed from the folder
//! alone on the assumption that every bank it lists is a member with the
//! testnet's voting power ([`VOTING_POWER`]); `clearhouse governance show`
//! tells what the chain actually decided.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use clearhouse_ledger::genesis::{Genesis, MemberEntry};
use clearhouse_ledger::ids::{AssetCode, MemberId};
use clearhouse_ledger::sealed::SealingSecret;
use clearhouse_node::config::{NodeConfig, PeerConfig, Role};
use clearhouse_node::keyfile;

use crate::{DemoAccount, Keys, NodeFiles, Testnet, TestnetError, free_address, io};

/// The record of the banks added to a testnet folder.
pub const ADDED_BANKS_FILE: &str = "added-banks.toml";
/// A new bank's member entry, in its node's folder.
pub const MEMBER_FILE: &str = "member.toml";
/// Every testnet bank's voting power (the genesis banks' too).
pub const VOTING_POWER: u64 = 10;
/// Stands for the proposal id in the printed vote commands: the id is the
/// proposal transaction's hash, printed when it is sent.
pub const PROPOSAL: &str = "<PROPOSAL>";
/// Most decimals of an asset (the chain's bound).
const DECIMALS_MAX: u8 = 18;

/// What to add.
#[derive(Debug, Clone)]
pub struct AddBank {
    /// The testnet folder.
    pub dir: PathBuf,
    /// The new bank's member id (e.g. `bank-4`), also its node's name.
    pub name: String,
    /// Its own asset, code and decimals, registered by governance after it
    /// joins.
    pub asset: Option<(String, u8)>,
    /// Demo customer accounts (registered by its treasury once it joins).
    pub customers: usize,
    /// Derive every key from this seed (tests); `None` draws fresh keys.
    pub seed: Option<u64>,
}

/// One line of `added-banks.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedBankRecord {
    /// Its member id and node name.
    pub name: String,
    /// Its own asset's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// Its own asset's decimals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
    /// How many demo customers it has.
    pub customers: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddedBanksFile {
    #[serde(default)]
    banks: Vec<AddedBankRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberFile {
    members: Vec<MemberEntry>,
}

/// An added bank's files.
#[derive(Debug, Clone)]
pub struct AddedBank {
    /// What `added-banks.toml` says of it.
    pub record: AddedBankRecord,
    /// Its node.
    pub node: NodeFiles,
    /// Its member entry's file.
    pub member_file: PathBuf,
    /// Its member entry.
    pub member: MemberEntry,
    /// Its treasury key file (registers its customers, issues its asset).
    pub treasury: PathBuf,
    /// Its governance key file (proposes and votes once it is a member).
    pub governor: PathBuf,
    /// Its back office's API key file.
    pub api_key: PathBuf,
    /// Its demo customers (not on chain until its treasury registers them).
    pub customers: Vec<DemoAccount>,
}

/// Why a bank could not be added (each with its exit code).
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The folder holds no testnet.
    #[error("{0} is not a testnet folder (no genesis.toml: make one with `clearhouse-testnet up`)")]
    NotATestnet(PathBuf),
    /// The name is a member's, an added bank's or a folder's already.
    #[error("the name {0} is taken in this testnet")]
    NameTaken(String),
    /// The asset code is the genesis', or another added bank's.
    #[error("the asset code {0} is taken in this testnet")]
    AssetTaken(String),
    /// The testnet serves TLS from a CA whose key was not kept.
    #[error(
        "this testnet serves its API over TLS and its CA key was not kept: no certificate can be made for a new node"
    )]
    Tls,
    /// A bad name, code or count.
    #[error("{0}")]
    Invalid(String),
    /// The folder's files could not be read or written.
    #[error(transparent)]
    Testnet(#[from] TestnetError),
}

impl JoinError {
    /// The process exit code: 2 bad input, 3 not a testnet, 4 a name or
    /// asset code taken, 1 anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            JoinError::Invalid(_) | JoinError::Tls => 2,
            JoinError::NotATestnet(_) => 3,
            JoinError::NameTaken(_) | JoinError::AssetTaken(_) => 4,
            JoinError::Testnet(_) => 1,
        }
    }
}

fn toml_error(path: &Path) -> impl FnOnce(toml::de::Error) -> TestnetError + '_ {
    move |error| TestnetError::Io(format!("{}: {error}", path.display()))
}

/// The banks recorded in `dir`'s `added-banks.toml` (none without it).
pub fn added_banks(dir: &Path) -> Result<Vec<AddedBankRecord>, TestnetError> {
    let path = dir.join(ADDED_BANKS_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).map_err(io(path.display()))?;
    let file: AddedBanksFile = toml::from_str(&text).map_err(toml_error(&path))?;
    Ok(file.banks)
}

fn write_added_banks(dir: &Path, banks: Vec<AddedBankRecord>) -> Result<(), TestnetError> {
    let path = dir.join(ADDED_BANKS_FILE);
    let text = toml::to_string(&AddedBanksFile { banks })
        .map_err(|e| TestnetError::Io(format!("{}: {e}", path.display())))?;
    // Written aside and renamed: a cut-off write leaves the old record.
    let temporary = dir.join(format!("{ADDED_BANKS_FILE}.tmp"));
    std::fs::write(&temporary, text).map_err(io(temporary.display()))?;
    std::fs::rename(&temporary, &path).map_err(io(path.display()))
}

fn read_node(config_path: PathBuf) -> Result<NodeFiles, TestnetError> {
    let config = NodeConfig::read(&config_path)?;
    Ok(NodeFiles {
        name: config.name.clone(),
        config_path,
        config,
    })
}

fn customer_accounts(
    keys: &Path,
    bank: &str,
    count: Option<usize>,
) -> Result<Vec<DemoAccount>, TestnetError> {
    let mut accounts = Vec::new();
    for j in 0..count.unwrap_or(usize::MAX) {
        let key_file = keys.join(format!("{bank}-customer-{j}.key"));
        let key = match keyfile::read(&key_file) {
            Ok(key) => key,
            // The genesis banks' customers are counted by their files.
            Err(_) if count.is_none() => break,
            Err(error) => return Err(error.into()),
        };
        accounts.push(DemoAccount {
            account: key.account(),
            bank: bank.to_owned(),
            key_file,
        });
    }
    Ok(accounts)
}

fn load_added(dir: &Path, record: AddedBankRecord) -> Result<AddedBank, TestnetError> {
    let keys = dir.join("keys");
    let node_dir = dir.join(&record.name);
    let node = read_node(node_dir.join("node.toml"))?;
    let member_file = node_dir.join(MEMBER_FILE);
    let text = std::fs::read_to_string(&member_file).map_err(io(member_file.display()))?;
    let file: MemberFile = toml::from_str(&text).map_err(toml_error(&member_file))?;
    let member = file.members.into_iter().next().ok_or_else(|| {
        TestnetError::Io(format!("{}: no [[members]] table", member_file.display()))
    })?;
    let name = record.name.clone();
    Ok(AddedBank {
        customers: customer_accounts(&keys, &name, Some(record.customers))?,
        record,
        node,
        member_file,
        member,
        treasury: keys.join(format!("{name}-treasury.key")),
        governor: keys.join(format!("{name}-governance.key")),
        api_key: keys.join(format!("{name}-api.key")),
    })
}

impl Testnet {
    /// Reads back a network written by `generate` (or `up`) and the banks
    /// `add-bank` added to it: the genesis banks' nodes and the observers
    /// first, in folder order, then the added banks' in the order added.
    pub fn open(dir: &Path) -> Result<Testnet, JoinError> {
        let dir = &std::path::absolute(dir).map_err(io(dir.display()))?;
        let genesis_path = dir.join("genesis.toml");
        if !genesis_path.is_file() {
            return Err(JoinError::NotATestnet(dir.clone()));
        }
        let text = std::fs::read_to_string(&genesis_path).map_err(io(genesis_path.display()))?;
        let genesis = Genesis::from_toml(&text).map_err(TestnetError::Genesis)?;
        let records = added_banks(dir)?;
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("node.toml").exists())
            .filter(|p| {
                !records
                    .iter()
                    .any(|r| p.file_name().is_some_and(|n| *n == *r.name))
            })
            .collect();
        entries.sort();
        let mut nodes = entries
            .into_iter()
            .map(|path| read_node(path.join("node.toml")))
            .collect::<Result<Vec<_>, _>>()?;
        let added = records
            .into_iter()
            .map(|record| load_added(dir, record))
            .collect::<Result<Vec<_>, _>>()?;
        nodes.extend(added.iter().map(|bank| bank.node.clone()));
        let keys = dir.join("keys");
        let banks: Vec<String> = (0..genesis.members.len())
            .map(|i| format!("bank-{i}"))
            .collect();
        let mut accounts = Vec::new();
        for bank in &banks {
            accounts.extend(customer_accounts(&keys, bank, None)?);
        }
        let key_files = |suffix: &str| -> Vec<PathBuf> {
            banks
                .iter()
                .map(|bank| keys.join(format!("{bank}-{suffix}.key")))
                .collect()
        };
        Ok(Testnet {
            dir: dir.clone(),
            genesis_path,
            treasuries: key_files("treasury"),
            governors: key_files("governance"),
            bank_api_keys: key_files("api"),
            auditor_key: keys.join("auditor.key"),
            regulator_key: keys.join("regulator.key"),
            ca_cert: Some(dir.join("tls").join("ca.pem")).filter(|p| p.exists()),
            genesis,
            nodes,
            accounts,
            added,
        })
    }
}

/// Adds a bank to the testnet in `spec.dir` (see the module docs).
pub fn add_bank(spec: &AddBank) -> Result<AddedBank, JoinError> {
    let testnet = Testnet::open(&spec.dir)?;
    let dir = testnet.dir.clone();
    let name = spec.name.trim();
    MemberId::new(name).map_err(|e| JoinError::Invalid(format!("invalid name {name:?}: {e}")))?;
    let taken = testnet
        .genesis
        .members
        .iter()
        .any(|m| m.id.as_str() == name)
        || testnet.added.iter().any(|b| b.record.name == name)
        || testnet.nodes.iter().any(|n| n.name == name)
        || ["keys", "tls"].contains(&name)
        || dir.join(name).exists();
    if taken {
        return Err(JoinError::NameTaken(name.to_owned()));
    }
    if let Some((code, decimals)) = &spec.asset {
        let asset = AssetCode::new(code.trim())
            .map_err(|e| JoinError::Invalid(format!("invalid asset code {code:?}: {e}")))?;
        if *decimals > DECIMALS_MAX {
            return Err(JoinError::Invalid(format!(
                "--decimals must be at most {DECIMALS_MAX}"
            )));
        }
        let taken = testnet.genesis.assets.contains_key(&asset)
            || testnet
                .added
                .iter()
                .any(|b| b.record.asset.as_deref() == Some(asset.as_str()));
        if taken {
            return Err(JoinError::AssetTaken(asset.as_str().to_owned()));
        }
    }
    if testnet.ca_cert.is_some() {
        return Err(JoinError::Tls);
    }
    let template = testnet
        .nodes
        .iter()
        .find(|n| n.config.role == Role::Validator)
        .ok_or_else(|| JoinError::Invalid("the testnet has no validator node".into()))?;

    let keys_dir = dir.join("keys");
    let keys = Keys { seed: spec.seed };
    let write_key =
        |label: &str| -> Result<(clearhouse_ledger::crypto::Keypair, PathBuf), TestnetError> {
            let key = keys.key(&format!("added-{label}"));
            let path = keys_dir.join(format!("{label}.key"));
            keyfile::write(&path, &key)?;
            Ok((key, path))
        };
    let (validator, validator_file) = write_key(&format!("{name}-validator"))?;
    let (network, network_file) = write_key(&format!("{name}-network"))?;
    let (treasury, treasury_file) = write_key(&format!("{name}-treasury"))?;
    let (governor, governor_file) = write_key(&format!("{name}-governance"))?;
    let (api, api_file) = write_key(&format!("{name}-api"))?;
    let sealing = SealingSecret::from_bytes(keys.secret(&format!("added-{name}-sealing")));
    let sealing_file = keys_dir.join(format!("{name}-sealing.key"));
    keyfile::write_sealing(&sealing_file, &sealing).map_err(TestnetError::Key)?;
    let mut customers = Vec::new();
    for j in 0..spec.customers {
        let (key, key_file) = write_key(&format!("{name}-customer-{j}"))?;
        customers.push(DemoAccount {
            account: key.account(),
            bank: name.to_owned(),
            key_file,
        });
    }

    // Its peers: every existing validator's node (the genesis banks' and
    // the banks added before it).
    let mut peers = Vec::new();
    for node in testnet
        .nodes
        .iter()
        .filter(|n| n.config.role == Role::Validator)
    {
        let key = keyfile::read(&node.config.network_key_file).map_err(TestnetError::Key)?;
        peers.push(PeerConfig {
            key: key.account().to_hex(),
            address: node.config.listen,
        });
    }
    let node_dir = dir.join(name);
    std::fs::create_dir_all(&node_dir).map_err(io(node_dir.display()))?;
    let listen = free_address()?;
    let config = NodeConfig {
        name: name.to_owned(),
        role: Role::Validator,
        data_dir: node_dir.join("data"),
        genesis_file: testnet.genesis_path.clone(),
        key_file: Some(validator_file),
        network_key_file: network_file,
        sealing_key_file: Some(sealing_file),
        listen,
        api: free_address()?,
        keep_blocks: template.config.keep_blocks,
        peers,
        observers: template.config.observers.clone(),
        api_tls: None,
        limits: template.config.limits.clone(),
        timeouts: template.config.timeouts.clone(),
    };
    let config_path = node_dir.join("node.toml");
    std::fs::write(
        &config_path,
        config.to_toml().map_err(TestnetError::Config)?,
    )
    .map_err(io(config_path.display()))?;
    let member = MemberEntry {
        id: name.to_owned(),
        name: format!("Demo Bank {name}"),
        validator_key: validator.account().to_hex(),
        network_key: network.account().to_hex(),
        voting_power: VOTING_POWER,
        treasury: treasury.account().to_hex(),
        governance_key: governor.account().to_hex(),
        addresses: vec![format!("/ip4/{}/tcp/{}", listen.ip(), listen.port())],
        api_key: Some(api.account().to_hex()),
        sealing_key: Some(sealing.public().to_hex()),
    };
    let member_file = node_dir.join(MEMBER_FILE);
    let text = toml::to_string(&MemberFile {
        members: vec![member.clone()],
    })
    .map_err(|e| TestnetError::Io(format!("{}: {e}", member_file.display())))?;
    std::fs::write(
        &member_file,
        format!(
            "# {name}'s member entry, for `clearhouse governance propose add-member --from-file {}`\n{text}",
            member_file.display()
        ),
    )
    .map_err(io(member_file.display()))?;

    let record = AddedBankRecord {
        name: name.to_owned(),
        asset: spec.asset.as_ref().map(|(code, _)| code.trim().to_owned()),
        decimals: spec.asset.as_ref().map(|(_, decimals)| *decimals),
        customers: spec.customers,
    };
    let mut records: Vec<AddedBankRecord> =
        testnet.added.iter().map(|b| b.record.clone()).collect();
    records.push(record.clone());
    write_added_banks(&dir, records)?;
    Ok(AddedBank {
        record,
        node: NodeFiles {
            name: name.to_owned(),
            config_path,
            config,
        },
        member_file,
        member,
        treasury: treasury_file,
        governor: governor_file,
        api_key: api_file,
        customers,
    })
}

/// The commands that bring an added bank in, each an argument list
/// (`clearhouse` or `clearhouse-node` first).
#[derive(Debug, Clone)]
pub struct JoinCommands {
    /// The API the `clearhouse` commands talk to (`CLEARHOUSE_NODE`).
    pub node_url: String,
    /// The proposal to add the bank, by the first existing member.
    pub propose_member: Vec<String>,
    /// Enough yes votes of other members to pass it (with [`PROPOSAL`]).
    pub member_votes: Vec<Vec<String>>,
    /// Starts the new bank's node.
    pub start_node: Vec<String>,
    /// Once it is a member: the bank proposes its own asset.
    pub register_asset: Option<Vec<String>>,
    /// The yes votes that pass the asset (with [`PROPOSAL`]).
    pub asset_votes: Vec<Vec<String>>,
    /// Its treasury registers its customers.
    pub register_customers: Vec<Vec<String>>,
    /// Its treasury issues its asset to its customers.
    pub issue: Vec<Vec<String>>,
}

/// How many members of `members` (each of [`VOTING_POWER`]) must vote yes,
/// the proposer included, to pass a proposal: more than two thirds.
pub fn yes_needed(members: usize) -> usize {
    members.saturating_mul(2) / 3 + 1
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

impl AddedBank {
    /// The commands for this bank, in `testnet` (opened after it was
    /// added: the members are the genesis banks and the banks added before
    /// this one).
    pub fn commands(&self, testnet: &Testnet) -> JoinCommands {
        let name = self.record.name.as_str();
        let mut governors: Vec<PathBuf> = testnet.governors.clone();
        governors.extend(
            testnet
                .added
                .iter()
                .take_while(|b| b.record.name != name)
                .map(|b| b.governor.clone()),
        );
        let path = |p: &Path| p.display().to_string();
        let vote = |governor: &PathBuf| {
            argv(&[
                "clearhouse",
                "governance",
                "vote",
                PROPOSAL,
                "--yes",
                "--key",
                &path(governor),
                "--wait",
            ])
        };
        let (proposer, voters) = governors
            .split_first()
            .map_or((None, &[][..]), |(p, v)| (Some(p), v));
        let propose_member = argv(&[
            "clearhouse",
            "governance",
            "propose",
            "add-member",
            "--from-file",
            &path(&self.member_file),
            "--key",
            &proposer.map(|p| path(p)).unwrap_or_default(),
            "--wait",
        ]);
        let member_votes = voters
            .iter()
            .take(yes_needed(governors.len()).saturating_sub(1))
            .map(vote)
            .collect();
        // With the new bank a member, it proposes and the others vote.
        let asset = self.record.asset.as_deref().zip(self.record.decimals);
        let register_asset = asset.map(|(code, decimals)| {
            argv(&[
                "clearhouse",
                "governance",
                "propose",
                "register-asset",
                code,
                "--decimals",
                &decimals.to_string(),
                "--issuer",
                name,
                "--key",
                &path(&self.governor),
                "--wait",
            ])
        });
        let asset_votes = if asset.is_some() {
            governors
                .iter()
                .take(yes_needed(governors.len().saturating_add(1)).saturating_sub(1))
                .map(vote)
                .collect()
        } else {
            Vec::new()
        };
        let treasury = path(&self.treasury);
        let register_customers = self
            .customers
            .iter()
            .map(|c| {
                argv(&[
                    "clearhouse",
                    "account",
                    "register",
                    "--account",
                    &c.account.to_hex(),
                    "--key",
                    &treasury,
                    "--wait",
                ])
            })
            .collect();
        let issue = match asset {
            Some((code, _)) => self
                .customers
                .iter()
                .map(|c| {
                    argv(&[
                        "clearhouse",
                        "issue",
                        "--to",
                        &c.account.to_hex(),
                        "--amount",
                        &format!("{} {code}", crate::OPENING_UNITS),
                        "--key",
                        &treasury,
                        "--wait",
                    ])
                })
                .collect(),
            None => Vec::new(),
        };
        JoinCommands {
            node_url: testnet
                .nodes
                .first()
                .map(NodeFiles::api_url)
                .unwrap_or_default(),
            propose_member,
            member_votes,
            start_node: argv(&["clearhouse-node", "--config", &path(&self.node.config_path)]),
            register_asset,
            asset_votes,
            register_customers,
            issue,
        }
    }
}

/// One command as a shell line (arguments with spaces or quotes quoted).
pub fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|word| {
            if word.is_empty() || word.contains([' ', '"', '\'', '$', '\\']) {
                format!("'{}'", word.replace('\'', r"'\''"))
            } else {
                word.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_two_thirds_pass() {
        assert_eq!(yes_needed(4), 3);
        assert_eq!(yes_needed(5), 4);
        assert_eq!(yes_needed(6), 5);
        assert_eq!(yes_needed(7), 5);
    }

    #[test]
    fn a_bank_is_added_once_and_reopened_with_the_network() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = crate::Spec::new(dir.path().join("net"));
        spec.seed = Some(3);
        spec.accounts_per_bank = 1;
        let testnet = crate::generate(&spec).unwrap();
        let add = AddBank {
            dir: testnet.dir.clone(),
            name: "bank-4".into(),
            asset: Some(("NZD".into(), 2)),
            customers: 2,
            seed: Some(3),
        };
        let added = add_bank(&add).unwrap();
        assert_eq!(added.member.addresses.len(), 1);
        assert_eq!(added.node.config.peers.len(), 4);
        let reopened = Testnet::open(&testnet.dir).unwrap();
        assert_eq!(reopened.nodes.len(), 5);
        assert_eq!(reopened.nodes[4].name, "bank-4");
        assert_eq!(reopened.accounts.len(), 4);
        assert_eq!(reopened.added.len(), 1);
        assert_eq!(reopened.added[0].customers.len(), 2);
        let commands = reopened.added[0].commands(&reopened);
        assert_eq!(commands.member_votes.len(), 2);
        assert_eq!(commands.asset_votes.len(), 3);
        assert_eq!(commands.issue.len(), 2);
        // Taken names and codes, and a folder that is no testnet.
        assert!(matches!(add_bank(&add), Err(JoinError::NameTaken(_))));
        let taken_code = AddBank {
            name: "bank-5".into(),
            ..add.clone()
        };
        assert!(matches!(
            add_bank(&taken_code),
            Err(JoinError::AssetTaken(_))
        ));
        let genesis_code = AddBank {
            name: "bank-5".into(),
            asset: Some(("CNY".into(), 2)),
            ..add.clone()
        };
        assert_eq!(add_bank(&genesis_code).unwrap_err().exit_code(), 4);
        let nowhere = AddBank {
            dir: dir.path().join("nothing"),
            ..add.clone()
        };
        assert_eq!(add_bank(&nowhere).unwrap_err().exit_code(), 3);
        let bad_name = AddBank {
            name: "Bank Five!".into(),
            ..add
        };
        assert_eq!(add_bank(&bad_name).unwrap_err().exit_code(), 2);
    }
}
