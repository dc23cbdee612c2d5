//! Genesis: the TOML file that starts a chain, its validation, its hash (the
//! chain id) and the initial state.
//!
//! ```toml
//! chain_name = "clearhouse-local"
//! genesis_time_ms = 1763700000000
//!
//! [[members]]
//! id = "bank-a"                 # a-z, 0-9, '-'
//! name = "Bank A"
//! validator_key = "…64 hex…"    # ed25519 public key signing votes
//! network_key = "…64 hex…"      # ed25519 public key of its libp2p identity
//! voting_power = 10
//! treasury = "…64 hex…"         # the bank's own account (created automatically)
//! governance_key = "…64 hex…"   # its governance account: proposes and votes (created automatically)
//! addresses = ["/ip4/10.0.0.1/tcp/7000"]  # optional: where its node listens, for peers to dial
//! api_key = "…64 hex…"          # optional: its back office's API request key
//! sealing_key = "…64 hex…"      # optional: X25519 key payment details are sealed to
//!
//! [[auditors]]                  # optional: read everything through the API
//! id = "audit-1"
//! name = "Audit Firm"
//! key = "…64 hex…"              # its API request key
//! sealing_key = "…64 hex…"      # optional: sealed payment details include it
//!
//! [[regulators]]                # optional: read everything, compliance actions
//! id = "regulator"
//! name = "Regulator"
//! key = "…64 hex…"
//! sealing_key = "…64 hex…"      # optional; a regulator's is required in every sealed payment
//!
//! [[assets]]
//! code = "CNY"
//! issuer = "bank-a"
//! decimals = 2
//!
//! [[accounts]]
//! key = "…64 hex…"
//! bank = "bank-a"
//! balances = { CNY = "1000000.00" }   # human amounts, the asset's decimals
//!
//! [[fees]]
//! asset = "CNY"
//! flat = "0.01"
//! basis_points = 5
//! receiving_share = 3000        # optional: 30 % of the fee to the payee's bank
//!
//! [governance]                  # optional; these are the defaults
//! activation_offset = 10        # blocks from a proposal passing to taking effect
//! voting_period_min = 1         # blocks
//! voting_period_max = 100000
//!
//! [escrow]                      # optional; these are the defaults
//! deadline_blocks_max = 1000000 # latest arbiter deadline, blocks after opening
//!
//! [credit]                      # optional; without it no credit is offered
//! rating_version = 1            # the trust rating formula (state::credit)
//! min_rating = 400              # below it, no credit is usable
//! period_blocks_max = 1000000   # longest repayment period of a grant
//!
//! [[credit.caps]]               # usable limit ≤ rating × per_point
//! asset = "CNY"
//! per_point = "10.00"
//! ```
//!
//! An asset's opening supply is the sum of its opening balances. The chain id
//! is `SHA-256(genesis tag ‖ canonical encoding of the validated genesis)`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::amount::{Amount, AmountError, DECIMALS_MAX};
use crate::codec::{self, CodecError};
use crate::crypto::{self, CryptoError, sha256, tag};
use crate::ids::{AccountId, AssetCode, ChainId, Hash, IdError, MemberId};
use crate::sealed::SealingKey;
use crate::state::credit::{CreditParams, RATING_MAX, RATING_VERSIONS};
use crate::state::escrow::EscrowParams;
use crate::state::governance;
use crate::state::memory::MemoryState;
use crate::state::{
    AccountState, AssetState, FeeRule, Member, Overseer, OverseerRole, Params, StateKey, ViewError,
    commitment,
};
use crate::validators::{ValidatorKey, ValidatorSet, ValidatorSetError};

/// Most bytes of a member's display name.
pub const MEMBER_NAME_BYTES_MAX: usize = 128;

/// Most bytes a genesis file may have.
pub const GENESIS_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The genesis file as written in TOML (text fields, not yet validated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    /// A human name for the chain.
    pub chain_name: String,
    /// When the chain starts, milliseconds since the Unix epoch (informative).
    pub genesis_time_ms: u64,
    /// The member banks.
    pub members: Vec<MemberEntry>,
    /// The assets.
    #[serde(default)]
    pub assets: Vec<AssetEntry>,
    /// The opening accounts.
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// Fee rules.
    #[serde(default)]
    pub fees: Vec<FeeEntry>,
    /// Escrow parameters (defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow: Option<EscrowEntry>,
    /// Credit parameters (defaults, and no credit offered, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<CreditEntry>,
    /// Auditors: read everything through the API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auditors: Vec<OverseerEntry>,
    /// Regulators: read everything, and take compliance actions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regulators: Vec<OverseerEntry>,
    /// Governance limits (defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance: Option<GovernanceEntry>,
}

/// The `[governance]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceEntry {
    /// Blocks from a proposal passing to taking effect (≥ 1).
    pub activation_offset: u64,
    /// The shortest voting period, in blocks (≥ 1).
    pub voting_period_min: u64,
    /// The longest voting period, in blocks.
    pub voting_period_max: u64,
}

/// An `[[auditors]]` or `[[regulators]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverseerEntry {
    /// Its id (a-z, 0-9, '-'), distinct from every member's.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Its API request public key, hex.
    pub key: String,
    /// Its X25519 sealing key, hex (absent: sealed payment details are not
    /// sealed for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing_key: Option<String>,
}

/// The `[escrow]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscrowEntry {
    /// Latest arbiter deadline, in blocks after the opening block (≥ 1).
    pub deadline_blocks_max: u64,
}

/// The `[credit]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditEntry {
    /// The trust rating formula (only 1 exists).
    pub rating_version: u16,
    /// Below this rating (0 to 1000) no credit is usable.
    pub min_rating: u16,
    /// Longest repayment period of a grant, in blocks (≥ 1).
    pub period_blocks_max: u64,
    /// `[[credit.caps]]`: per asset, the usable-limit cap per rating point.
    #[serde(default)]
    pub caps: Vec<CreditCapEntry>,
}

/// A `[[credit.caps]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditCapEntry {
    /// Asset code.
    pub asset: String,
    /// Cap per rating point, human amount.
    pub per_point: String,
}

/// A `[[members]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    /// Member id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Validator public key, hex.
    pub validator_key: String,
    /// libp2p identity public key, hex.
    pub network_key: String,
    /// Voting power (> 0).
    pub voting_power: u64,
    /// Treasury account public key, hex.
    pub treasury: String,
    /// Governance account public key, hex: signs the bank's proposals and
    /// votes.
    pub governance_key: String,
    /// Its node's libp2p listen addresses (multiaddr text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// The back office's API request public key, hex (absent: the bank
    /// cannot call the API as a bank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The X25519 key payment details are sealed to, hex (absent: its
    /// customers' payments carry their details in the clear only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing_key: Option<String>,
}

/// An `[[assets]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetEntry {
    /// Asset code.
    pub code: String,
    /// Issuing member id.
    pub issuer: String,
    /// Decimal places (at most 18).
    pub decimals: u8,
}

/// An `[[accounts]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// Account public key, hex.
    pub key: String,
    /// Hosting member id.
    pub bank: String,
    /// Opening balances: asset code to human amount.
    #[serde(default)]
    pub balances: BTreeMap<String, String>,
}

/// A `[[fees]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeEntry {
    /// Asset code.
    pub asset: String,
    /// Flat part, human amount.
    pub flat: String,
    /// Proportional part in basis points (at most 10,000).
    pub basis_points: u16,
    /// The receiving bank's share of the fee, basis points of the fee (at
    /// most 10,000; default 0: the sending bank keeps it all).
    #[serde(default)]
    pub receiving_share: u16,
}

/// A validated genesis: what the chain id hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// A human name for the chain.
    pub chain_name: String,
    /// Start time, milliseconds since the Unix epoch.
    pub genesis_time_ms: u64,
    /// Member banks in order (validator order).
    pub members: Vec<Member>,
    /// Assets with their opening supply.
    pub assets: BTreeMap<AssetCode, AssetState>,
    /// Opening accounts (treasuries included).
    pub accounts: BTreeMap<AccountId, AccountState>,
    /// Chain parameters.
    pub params: Params,
    /// Auditors, then regulators, in file order.
    pub overseers: Vec<Overseer>,
}

/// Why a genesis file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// Not TOML of the expected shape.
    #[error("genesis is not valid TOML: {0}")]
    Toml(String),
    /// Larger than [`GENESIS_BYTES_MAX`].
    #[error("genesis file of {0} bytes is too large")]
    TooLarge(usize),
    /// An empty chain name.
    #[error("chain_name must not be empty")]
    EmptyChainName,
    /// No members.
    #[error("genesis has no members")]
    NoMembers,
    /// A malformed id or hex key.
    #[error("{field}: {error}")]
    Id {
        /// Where.
        field: String,
        /// What.
        error: IdError,
    },
    /// A sealing key that is not 64 hex digits or is a low-order point.
    #[error("{field}: {error}")]
    SealingKey {
        /// Where.
        field: String,
        /// What.
        error: crate::sealed::SealError,
    },
    /// A key that cannot verify signatures safely.
    #[error("{field}: {error}")]
    Key {
        /// Where.
        field: String,
        /// What.
        error: CryptoError,
    },
    /// One value where uniqueness is required, twice.
    #[error("duplicate {what}: {value}")]
    Duplicate {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// An asset whose issuer is not a member.
    #[error("asset {asset}: issuer {issuer} is not a member")]
    UnknownIssuer {
        /// The asset.
        asset: String,
        /// The named issuer.
        issuer: String,
    },
    /// An account whose bank is not a member.
    #[error("account {account}: bank {bank} is not a member")]
    UnknownBank {
        /// The account.
        account: String,
        /// The named bank.
        bank: String,
    },
    /// A balance or fee in an asset that does not exist.
    #[error("{field}: asset {asset} is not defined in [[assets]]")]
    UnknownAsset {
        /// Where.
        field: String,
        /// The asset.
        asset: String,
    },
    /// A treasury listed under another bank's accounts.
    #[error("account {account} is the treasury of {treasury_of} but is listed under bank {bank}")]
    TreasuryElsewhere {
        /// The account.
        account: String,
        /// Whose treasury it is.
        treasury_of: String,
        /// The bank it is listed under.
        bank: String,
    },
    /// More decimals than [`DECIMALS_MAX`].
    #[error("asset {asset}: {decimals} decimals, at most {DECIMALS_MAX} allowed")]
    Decimals {
        /// The asset.
        asset: String,
        /// Its decimals.
        decimals: u8,
    },
    /// More than 10,000 basis points.
    #[error("fee for {asset}: {basis_points} basis points, at most 10000 allowed")]
    BasisPoints {
        /// The asset.
        asset: String,
        /// The value.
        basis_points: u16,
    },
    /// A receiving bank's share of more than the whole fee.
    #[error(
        "fee for {asset}: receiving_share {receiving_share} basis points of the fee, at most 10000 allowed"
    )]
    ReceivingShare {
        /// The asset.
        asset: String,
        /// The value.
        receiving_share: u16,
    },
    /// A human amount that does not parse.
    #[error("{field}: {error}")]
    Amount {
        /// Where.
        field: String,
        /// What.
        error: AmountError,
    },
    /// An asset's opening supply exceeds 2^128 - 1.
    #[error("asset {0}: opening supply overflows")]
    SupplyOverflow(String),
    /// The members do not form a validator set (zero power, overflow...).
    #[error("validator set: {0}")]
    ValidatorSet(#[from] ValidatorSetError),
    /// A display name longer than [`MEMBER_NAME_BYTES_MAX`].
    #[error("member {0}: name longer than {MEMBER_NAME_BYTES_MAX} bytes")]
    NameTooLong(String),
    /// An API request key that is also an account, or another party's key.
    #[error("{field}: key {key} is already an account or another party's key")]
    KeyReused {
        /// Where.
        field: String,
        /// The key, hex.
        key: String,
    },
    /// An opening state value too large to store.
    #[error("opening state value of {0} bytes exceeds the state value limit")]
    StateValueTooLarge(usize),
    /// A rating formula version this software does not implement.
    #[error("credit.rating_version {0} is unknown (known: {RATING_VERSIONS:?})")]
    RatingVersion(u16),
    /// A parameter outside its range.
    #[error("{field} = {value}: must be {min} to {max}")]
    OutOfRange {
        /// Which parameter.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The least allowed.
        min: u64,
        /// The most allowed.
        max: u64,
    },
    /// A field checked by the governance rules (addresses, the
    /// `[governance]` limits).
    #[error("{field}: {reason}")]
    Invalid {
        /// Where.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Encoding failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

fn invalid(field: String) -> impl FnOnce(crate::state::RejectReason) -> GenesisError {
    move |reason| GenesisError::Invalid {
        field,
        reason: reason.to_string(),
    }
}

fn in_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), GenesisError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(GenesisError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

fn id_err(field: String) -> impl FnOnce(IdError) -> GenesisError {
    move |error| GenesisError::Id { field, error }
}

fn parse_key(field: String, text: &str) -> Result<[u8; 32], GenesisError> {
    let bytes = Hash::from_hex(text).map_err(id_err(field.clone()))?.0;
    crypto::check_public_key(&bytes).map_err(|error| GenesisError::Key { field, error })?;
    Ok(bytes)
}

fn parse_sealing_key(
    field: String,
    text: Option<&String>,
    seen: &mut BTreeSet<SealingKey>,
) -> Result<Option<SealingKey>, GenesisError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let key =
        SealingKey::from_hex(text).map_err(|error| GenesisError::SealingKey { field, error })?;
    insert_unique(seen, key, "sealing key", text)?;
    Ok(Some(key))
}

fn insert_unique<T: Ord>(
    seen: &mut BTreeSet<T>,
    value: T,
    what: &'static str,
    shown: &str,
) -> Result<(), GenesisError> {
    if seen.insert(value) {
        Ok(())
    } else {
        Err(GenesisError::Duplicate {
            what,
            value: shown.to_owned(),
        })
    }
}

impl GenesisFile {
    /// Parses TOML text (without validating it).
    pub fn from_toml(text: &str) -> Result<GenesisFile, GenesisError> {
        if text.len() > GENESIS_BYTES_MAX {
            return Err(GenesisError::TooLarge(text.len()));
        }
        toml::from_str(text).map_err(|error| GenesisError::Toml(error.to_string()))
    }

    /// Renders TOML text.
    pub fn to_toml(&self) -> Result<String, GenesisError> {
        toml::to_string(self).map_err(|error| GenesisError::Toml(error.to_string()))
    }

    /// Checks everything and builds the typed genesis.
    pub fn validate(&self) -> Result<Genesis, GenesisError> {
        if self.chain_name.trim().is_empty() {
            return Err(GenesisError::EmptyChainName);
        }
        if self.members.is_empty() {
            return Err(GenesisError::NoMembers);
        }
        let mut members = Vec::new();
        if let Some(entry) = self
            .members
            .iter()
            .find(|m| m.name.len() > MEMBER_NAME_BYTES_MAX)
        {
            return Err(GenesisError::NameTooLong(entry.id.clone()));
        }
        let (mut ids, mut keys, mut treasuries) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let mut sealing_keys = BTreeSet::new();
        for (index, entry) in self.members.iter().enumerate() {
            let field = |name: &str| format!("members[{index}].{name}");
            let id = MemberId::new(&entry.id).map_err(id_err(field("id")))?;
            let validator_key = parse_key(field("validator_key"), &entry.validator_key)?;
            let network_key = parse_key(field("network_key"), &entry.network_key)?;
            let treasury = parse_key(field("treasury"), &entry.treasury)?;
            let governance = parse_key(field("governance_key"), &entry.governance_key)?;
            governance::check_addresses(&entry.addresses).map_err(invalid(field("addresses")))?;
            insert_unique(&mut ids, id.clone(), "member id", &entry.id)?;
            insert_unique(
                &mut keys,
                validator_key,
                "validator key",
                &entry.validator_key,
            )?;
            insert_unique(&mut keys, network_key, "network key", &entry.network_key)?;
            insert_unique(&mut treasuries, treasury, "treasury", &entry.treasury)?;
            insert_unique(
                &mut treasuries,
                governance,
                "treasury or governance key",
                &entry.governance_key,
            )?;
            let api_key = match &entry.api_key {
                Some(text) => {
                    let key = parse_key(field("api_key"), text)?;
                    insert_unique(&mut keys, key, "key", text)?;
                    Some(key)
                }
                None => None,
            };
            let sealing_key = parse_sealing_key(
                field("sealing_key"),
                entry.sealing_key.as_ref(),
                &mut sealing_keys,
            )?;
            members.push(Member {
                id,
                name: entry.name.clone(),
                validator_key: ValidatorKey(validator_key),
                network_key,
                voting_power: entry.voting_power,
                treasury: AccountId(treasury),
                api_key,
                sealing_key,
                governance: AccountId(governance),
                status: governance::MemberStatus::Active,
                addresses: entry.addresses.clone(),
            });
        }
        let mut overseers = Vec::new();
        let roles = [
            ("auditors", OverseerRole::Auditor, &self.auditors),
            ("regulators", OverseerRole::Regulator, &self.regulators),
        ];
        for (table, role, entries) in roles {
            for (index, entry) in entries.iter().enumerate() {
                let field = |name: &str| format!("{table}[{index}].{name}");
                let id = MemberId::new(&entry.id).map_err(id_err(field("id")))?;
                if entry.name.len() > MEMBER_NAME_BYTES_MAX {
                    return Err(GenesisError::NameTooLong(entry.id.clone()));
                }
                let api_key = parse_key(field("key"), &entry.key)?;
                insert_unique(&mut ids, id.clone(), "member or overseer id", &entry.id)?;
                insert_unique(&mut keys, api_key, "key", &entry.key)?;
                let sealing_key = parse_sealing_key(
                    field("sealing_key"),
                    entry.sealing_key.as_ref(),
                    &mut sealing_keys,
                )?;
                overseers.push(Overseer {
                    id,
                    name: entry.name.clone(),
                    role,
                    api_key,
                    sealing_key,
                });
            }
        }
        // Zero power, duplicate keys and overflow, with the set's own checks.
        crate::state::validator_set(&members)?;

        let mut assets = BTreeMap::new();
        for entry in &self.assets {
            let code = AssetCode::new(&entry.code).map_err(id_err("assets.code".into()))?;
            let issuer = MemberId::new(&entry.issuer)
                .map_err(id_err(format!("assets[{}].issuer", entry.code)))?;
            if !members.iter().any(|m| m.id == issuer) {
                return Err(GenesisError::UnknownIssuer {
                    asset: entry.code.clone(),
                    issuer: entry.issuer.clone(),
                });
            }
            if entry.decimals > DECIMALS_MAX {
                return Err(GenesisError::Decimals {
                    asset: entry.code.clone(),
                    decimals: entry.decimals,
                });
            }
            let state = AssetState {
                issuer,
                decimals: entry.decimals,
                supply: Amount::ZERO,
            };
            if assets.insert(code, state).is_some() {
                return Err(GenesisError::Duplicate {
                    what: "asset",
                    value: entry.code.clone(),
                });
            }
        }
        let asset = |field: String, text: &str| -> Result<(AssetCode, u8), GenesisError> {
            let code = AssetCode::new(text).map_err(id_err(field.clone()))?;
            match assets.get(&code) {
                Some(state) => Ok((code, state.decimals)),
                None => Err(GenesisError::UnknownAsset {
                    field,
                    asset: text.to_owned(),
                }),
            }
        };

        let mut params = Params::default();
        if let Some(entry) = &self.governance {
            params.governance = governance::GovernanceParams {
                activation_offset: entry.activation_offset,
                voting_period_min: entry.voting_period_min,
                voting_period_max: entry.voting_period_max,
            };
            governance::check_governance_params(&params.governance)
                .map_err(invalid("governance".into()))?;
        }
        for entry in &self.fees {
            let field = format!("fees[{}]", entry.asset);
            let (code, decimals) = asset(field.clone(), &entry.asset)?;
            if entry.basis_points > 10_000 {
                return Err(GenesisError::BasisPoints {
                    asset: entry.asset.clone(),
                    basis_points: entry.basis_points,
                });
            }
            let flat = Amount::parse_decimal(&entry.flat, decimals).map_err(|error| {
                GenesisError::Amount {
                    field: format!("{field}.flat"),
                    error,
                }
            })?;
            if entry.receiving_share > 10_000 {
                return Err(GenesisError::ReceivingShare {
                    asset: entry.asset.clone(),
                    receiving_share: entry.receiving_share,
                });
            }
            let rule = FeeRule {
                flat,
                basis_points: entry.basis_points,
                receiving_share: entry.receiving_share,
            };
            if params.fees.insert(code, rule).is_some() {
                return Err(GenesisError::Duplicate {
                    what: "fee rule for asset",
                    value: entry.asset.clone(),
                });
            }
        }

        if let Some(entry) = &self.escrow {
            in_range(
                "escrow.deadline_blocks_max",
                entry.deadline_blocks_max,
                1,
                u64::MAX / 2,
            )?;
            params.escrow = EscrowParams {
                deadline_blocks_max: entry.deadline_blocks_max,
            };
        }
        if let Some(entry) = &self.credit {
            if !RATING_VERSIONS.contains(&entry.rating_version) {
                return Err(GenesisError::RatingVersion(entry.rating_version));
            }
            in_range(
                "credit.min_rating",
                u64::from(entry.min_rating),
                0,
                u64::from(RATING_MAX),
            )?;
            in_range(
                "credit.period_blocks_max",
                entry.period_blocks_max,
                1,
                u64::MAX / 2,
            )?;
            let mut caps = BTreeMap::new();
            for cap in &entry.caps {
                let field = format!("credit.caps[{}]", cap.asset);
                let (code, decimals) = asset(field.clone(), &cap.asset)?;
                let per_point =
                    Amount::parse_decimal(&cap.per_point, decimals).map_err(|error| {
                        GenesisError::Amount {
                            field: format!("{field}.per_point"),
                            error,
                        }
                    })?;
                if caps.insert(code, per_point).is_some() {
                    return Err(GenesisError::Duplicate {
                        what: "credit cap for asset",
                        value: cap.asset.clone(),
                    });
                }
            }
            params.credit = CreditParams {
                rating_version: entry.rating_version,
                min_rating: entry.min_rating,
                period_blocks_max: entry.period_blocks_max,
                caps,
            };
        }

        let mut accounts: BTreeMap<AccountId, AccountState> = BTreeMap::new();
        let mut supplies: BTreeMap<AssetCode, Amount> = BTreeMap::new();
        for entry in &self.accounts {
            let field = format!("accounts[{}]", entry.key);
            let key = AccountId(parse_key(format!("{field}.key"), &entry.key)?);
            let bank = MemberId::new(&entry.bank).map_err(id_err(format!("{field}.bank")))?;
            if !members.iter().any(|m| m.id == bank) {
                return Err(GenesisError::UnknownBank {
                    account: entry.key.clone(),
                    bank: entry.bank.clone(),
                });
            }
            if let Some(owner) = members.iter().find(|m| m.governance == key) {
                return Err(GenesisError::Duplicate {
                    what: "account (it is the governance key of a member)",
                    value: format!("{} of {}", entry.key, owner.id),
                });
            }
            if let Some(owner) = members.iter().find(|m| m.treasury == key)
                && owner.id != bank
            {
                return Err(GenesisError::TreasuryElsewhere {
                    account: entry.key.clone(),
                    treasury_of: owner.id.to_string(),
                    bank: entry.bank.clone(),
                });
            }
            let mut balances = BTreeMap::new();
            for (asset_text, amount_text) in &entry.balances {
                let (code, decimals) = asset(format!("{field}.balances"), asset_text)?;
                let amount = Amount::parse_decimal(amount_text, decimals).map_err(|error| {
                    GenesisError::Amount {
                        field: format!("{field}.balances.{asset_text}"),
                        error,
                    }
                })?;
                if amount.is_zero() {
                    continue;
                }
                let supply = supplies.entry(code.clone()).or_insert(Amount::ZERO);
                *supply = supply
                    .checked_add(amount)
                    .ok_or_else(|| GenesisError::SupplyOverflow(asset_text.clone()))?;
                balances.insert(code, amount);
            }
            let mut state = AccountState::new(bank);
            state.balances = balances;
            if accounts.insert(key, state).is_some() {
                return Err(GenesisError::Duplicate {
                    what: "account",
                    value: entry.key.clone(),
                });
            }
        }
        for member in &members {
            accounts
                .entry(member.treasury)
                .or_insert_with(|| AccountState::new(member.id.clone()));
            accounts.insert(member.governance, AccountState::new(member.id.clone()));
        }
        for (code, supply) in supplies {
            if let Some(state) = assets.get_mut(&code) {
                state.supply = supply;
            }
        }
        // A request key names one caller: never an account as well.
        for (field, key) in members
            .iter()
            .filter_map(|m| {
                m.api_key
                    .map(|key| (format!("members[{}].api_key", m.id), key))
            })
            .chain(
                overseers
                    .iter()
                    .map(|o| (format!("{}.key", o.id), o.api_key)),
            )
        {
            if accounts.contains_key(&AccountId(key)) {
                return Err(GenesisError::KeyReused {
                    field,
                    key: hex::encode(key),
                });
            }
        }
        let genesis = Genesis {
            chain_name: self.chain_name.clone(),
            genesis_time_ms: self.genesis_time_ms,
            members,
            assets,
            accounts,
            params,
            overseers,
        };
        // Every opening value must be readable back under the state limit.
        for value in genesis.initial_writes()?.into_values().flatten() {
            if value.len() > crate::codec::STATE_VALUE_BYTES_MAX {
                return Err(GenesisError::StateValueTooLarge(value.len()));
            }
        }
        Ok(genesis)
    }
}

impl Genesis {
    /// Reads and validates a genesis TOML text.
    pub fn from_toml(text: &str) -> Result<Genesis, GenesisError> {
        GenesisFile::from_toml(text)?.validate()
    }

    /// The chain id: the hash of this genesis.
    pub fn chain_id(&self) -> Result<ChainId, GenesisError> {
        Ok(sha256(&[tag::GENESIS, &codec::encode(self)?]))
    }

    /// The validator set at height 1.
    pub fn validator_set(&self) -> Result<ValidatorSet, GenesisError> {
        Ok(crate::state::validator_set(&self.members)?)
    }

    /// Every state entry of the opening state, encoded.
    pub fn initial_writes(&self) -> Result<BTreeMap<Vec<u8>, Option<Vec<u8>>>, GenesisError> {
        let mut writes = BTreeMap::new();
        writes.insert(
            StateKey::Members.encode()?,
            Some(codec::encode(&self.members)?),
        );
        writes.insert(
            StateKey::Params.encode()?,
            Some(codec::encode(&self.params)?),
        );
        writes.insert(
            StateKey::Overseers.encode()?,
            Some(codec::encode(&self.overseers)?),
        );
        writes.insert(
            StateKey::ValidatorSetFrom(1).encode()?,
            Some(codec::encode(&self.validator_set()?)?),
        );
        writes.insert(
            StateKey::ValidatorSetHeights.encode()?,
            Some(codec::encode(&vec![1u64])?),
        );
        for (code, state) in &self.assets {
            writes.insert(
                StateKey::Asset(code.clone()).encode()?,
                Some(codec::encode(state)?),
            );
        }
        for (id, state) in &self.accounts {
            writes.insert(
                StateKey::Account(*id).encode()?,
                Some(codec::encode(state)?),
            );
        }
        Ok(writes)
    }

    /// The opening state in memory.
    pub fn memory_state(&self) -> Result<MemoryState, GenesisError> {
        let mut state = MemoryState::empty(self.chain_id()?);
        let writes = self.initial_writes()?;
        let update = commitment::update(&state, &writes).map_err(view_to_codec)?;
        state.write(&writes, &update);
        Ok(state)
    }
}

fn view_to_codec(error: ViewError) -> GenesisError {
    // An empty in-memory view cannot fail; keep the error typed all the same.
    GenesisError::Codec(CodecError::Encode(error.to_string()))
}
