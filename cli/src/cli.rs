//! The command line: clap definitions only. What each command does lives in
//! [`crate::commands`]; parsing failures become one-line usage errors
//! (exit 2) in [`parse`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::CliError;

const LONG_ABOUT: &str = "\
The Clearhouse command-line tool: keys, transactions, queries and audit.

The node is --node URL, else $CLEARHOUSE_NODE, else the first node of a local
testnet started with default settings (the `api` address in
./clearhouse-testnet/bank-0/node.toml). Amounts are typed the human way,
e.g. \"12.50 CNY\", using the asset's decimals.

Reads of private data are signed requests: --auth-key FILE names the key
(an account's own, a bank's API key, an auditor's or a regulator's); the
transaction commands sign with --key unless --auth-key is given. `status`
says whom the node took the caller to be.

--json prints machine-readable output (documented in cli/README.md) instead
of aligned tables.";

/// `clearhouse`: the whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "clearhouse",
    version,
    about = "The Clearhouse command-line tool: keys, transactions, queries and audit.",
    long_about = LONG_ABOUT,
    after_help = crate::exit::EXIT_CODES_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// The node's API base URL, e.g. http://127.0.0.1:8000 [default: the
    /// first node of ./clearhouse-testnet]
    #[arg(long, global = true, env = "CLEARHOUSE_NODE", value_name = "URL")]
    pub node: Option<String>,

    /// Sign every request with this key file: an account's own key (its
    /// own data), a bank's API key (its customers'), an auditor's or a
    /// regulator's (everything). Transaction commands default to --key.
    #[arg(long, global = true, env = "CLEARHOUSE_AUTH_KEY", value_name = "FILE")]
    pub auth_key: Option<PathBuf>,

    /// Trust an https node whose certificate chains to one in this PEM
    /// file (a bank's CA, a testnet's tls/ca.pem) [default: the local
    /// testnet's tls/ca.pem when the node is found from it, else the
    /// system's CA bundle]
    #[arg(long, global = true, env = "CLEARHOUSE_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate and inspect key files.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Move an amount from the key's account to another account.
    Transfer(TransferArgs),
    /// Mint an amount into an account (the issuing bank's treasury key).
    Issue(IssueArgs),
    /// Burn an amount from the treasury's own balance (the issuing bank's
    /// treasury key).
    Redeem(RedeemArgs),
    /// Guaranteed payments held in escrow: open, release, refund, dispute,
    /// resolve, show.
    #[command(subcommand)]
    Escrow(EscrowCommand),
    /// Credit lines, attestations and credit records: grant, revoke,
    /// attest, show.
    #[command(subcommand)]
    Credit(CreditCommand),
    /// Atomic swaps (payment versus payment): propose, consent, submit.
    #[command(subcommand)]
    Swap(SwapCommand),
    /// FX quotes: post, withdraw, list, show (pay through one with
    /// `transfer --via QUOTE`).
    #[command(subcommand)]
    Quote(QuoteCommand),
    /// On-chain governance: propose changes of the network, vote on them,
    /// show proposals (a bank's governance key).
    #[command(subcommand)]
    Governance(GovernanceCommand),
    /// Register or inspect accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Inspect transactions.
    #[command(subcommand)]
    Tx(TxCommand),
    /// Inspect blocks.
    #[command(subcommand)]
    Block(BlockCommand),
    /// Show the node's status: chain, height, validators, peers.
    Status,
    /// Verify the chain from genesis, export it, check inclusion proofs.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Fetch and check snapshots: the state at a certified height, to start
    /// a new node from (`clearhouse-node --from-snapshot FILE`).
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// ISO 20022: sign and submit the payments of a pacs.008 message;
    /// report on them as pacs.002 (status) or camt.054 (notification).
    #[command(subcommand)]
    Iso20022(IsoCommand),
    /// Show the validator set in force at the tip or at --height (member,
    /// key, voting power, the set's hash, quorum and first height), or
    /// with --changes every set change from genesis.
    Validators(ValidatorsArgs),
}

/// `clearhouse validators [--height H] [--changes]`.
#[derive(Debug, clap::Args)]
pub struct ValidatorsArgs {
    /// The set certifying this block (≥ 1, at most the tip; above the tip
    /// exits 5) [default: the tip]
    #[arg(long, value_name = "H", conflicts_with = "changes")]
    pub height: Option<u64>,
    /// List every set change from genesis instead: its first height, hash,
    /// and who joined, left, or changed power or key.
    #[arg(long)]
    pub changes: bool,
}

/// `clearhouse iso20022 …`.
#[derive(Debug, Subcommand)]
pub enum IsoCommand {
    /// Turn each credit transfer of a pacs.008 message into a payment
    /// signed by --key (every DbtrAcct must be its account), checked in
    /// full before the first is sent.
    Import {
        /// The pacs.008 XML file.
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        /// Send the references in the clear instead of sealed for the
        /// banks on both sides, the regulators and the auditors.
        #[arg(long)]
        clear_details: bool,
        /// Common transaction options.
        #[command(flatten)]
        options: TxOptions,
    },
    /// Report on the payments of a pacs.008 message as the chain holds
    /// them: a pacs.002 status report (ACSC settled, RJCT rejected with
    /// its reason, PDNG not committed), or a camt.054 notification of the
    /// settled ones that debit or credit --account.
    Export {
        /// The original pacs.008 XML file.
        #[arg(long, value_name = "FILE")]
        original: std::path::PathBuf,
        /// Which report.
        #[arg(long, value_enum)]
        report: IsoReport,
        /// The account a camt.054 notifies (64 hex digits).
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
        /// Write the report here instead of to stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
}

/// A report `iso20022 export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IsoReport {
    /// Payment status report.
    #[value(name = "pacs.002")]
    Pacs002,
    /// Debit/credit notification.
    #[value(name = "camt.054")]
    Camt054,
}

/// `clearhouse snapshot …`.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Download the node's snapshot at its tip and check it against the
    /// genesis (certificate and state root) before keeping it.
    Fetch {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The genesis file [default: ./clearhouse-testnet/genesis.toml]
        #[arg(long, value_name = "FILE")]
        genesis: Option<PathBuf>,
    },
    /// Check a snapshot file against the genesis: its checksum, that its
    /// certificate carries a quorum of the validator set for its block,
    /// and that its state hashes to that block's state root.
    Verify {
        /// The snapshot file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The genesis file [default: ./clearhouse-testnet/genesis.toml]
        #[arg(long, value_name = "FILE")]
        genesis: Option<PathBuf>,
    },
}

/// `clearhouse keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new ed25519 key into a new file (mode 0600; never
    /// overwrites) and print its public key, which is the account id.
    New {
        /// The key file to create.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print the public key (account id) of a key file.
    Show {
        /// The key file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Options every transaction command takes.
#[derive(Debug, Args)]
pub struct TxOptions {
    /// The sender's key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Block until the transaction is committed or rejected, then print the
    /// receipt.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up (exit 7) after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout_secs: u64,
    /// The transaction expires this many blocks after the current height.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub expiry_blocks: u64,
    /// Use this nonce instead of the next free one; resending the same
    /// transaction with the same nonce is an idempotent retry.
    #[arg(long, value_name = "N")]
    pub nonce: Option<u64>,
    /// Genesis file to read the asset's decimals from when the node's
    /// answers do not tell [default: ./clearhouse-testnet/genesis.toml]
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
}

/// `clearhouse transfer`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The receiving account (64 hex digits).
    #[arg(long, value_name = "ACCOUNT")]
    pub to: String,
    /// How much, e.g. "12.50 CNY".
    #[arg(long, value_name = "AMOUNT")]
    pub amount: String,
    /// The most fee accepted, in the same asset, e.g. "0.10 CNY"
    /// [default: amount/100 + 100 minor units]. The fee charged is the
    /// chain's schedule, never more than this.
    #[arg(long, value_name = "AMOUNT")]
    pub max_fee: Option<String>,
    /// The payer's end-to-end id (ISO 20022 EndToEndId: 1 to 35 printable
    /// ASCII characters), signed with the payment and searchable with
    /// `clearhouse tx find`. With it or `--reference`, the transfer carries
    /// payment data [default with `--reference` alone: NOTPROVIDED].
    #[arg(long, value_name = "ID")]
    pub end_to_end_id: Option<String>,
    /// Remittance information: what the payment is for, up to 140 bytes of
    /// text (e.g. "invoice 2026-118").
    #[arg(long, value_name = "TEXT")]
    pub reference: Option<String>,
    /// Send the end-to-end id and reference in the clear, readable by every
    /// node. By default they are sealed (encrypted) for the banks on both
    /// sides, the regulators and the auditors; other banks' validators still
    /// check the payment but cannot read them.
    #[arg(long)]
    pub clear_details: bool,
    /// Pay through this FX quote (its id, from `clearhouse quote list`):
    /// the amount (and the fee) is in the asset the quote takes, and the
    /// payee receives the quote's other asset, converted at its rate and
    /// rounded down.
    #[arg(long, value_name = "QUOTE")]
    pub via: Option<String>,
    /// Common transaction options.
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse swap …`.
#[derive(Debug, Subcommand)]
pub enum SwapCommand {
    /// Propose an atomic swap (payment versus payment) with another
    /// account: both legs settle in one step or neither does. With
    /// `--counter-key` both parties sign here and it is sent; without, the
    /// proposal is written to `--out` for the counterparty's `consent`.
    Propose(SwapProposeArgs),
    /// Sign a swap proposal as its counterparty (`--key`), after showing
    /// what it gives and takes; writes the consent into the file.
    Consent {
        /// The proposal file.
        file: PathBuf,
        /// The counterparty's key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Sign and send a consented swap proposal as its proposer.
    Submit {
        /// The proposal file, with the counterparty's consent.
        file: PathBuf,
        /// Common transaction options (`--key`: the proposer's; its nonce
        /// and expiry are those of the proposal).
        #[command(flatten)]
        options: TxOptions,
    },
}

/// `clearhouse swap propose`.
#[derive(Debug, Args)]
pub struct SwapProposeArgs {
    /// The counterparty's account (64 hex digits).
    #[arg(long = "with", value_name = "ACCOUNT")]
    pub counterparty: String,
    /// What the key's account gives, e.g. "100.00 CNY".
    #[arg(long, value_name = "AMOUNT")]
    pub give: String,
    /// What it receives in exchange, e.g. "14.00 USD".
    #[arg(long, value_name = "AMOUNT")]
    pub take: String,
    /// The most fee the proposer accepts, in the asset it gives
    /// [default: 1% + 100 minor units].
    #[arg(long, value_name = "AMOUNT")]
    pub max_fee: Option<String>,
    /// The most fee the counterparty accepts, in the asset it gives
    /// [default: 1% + 100 minor units].
    #[arg(long, value_name = "AMOUNT")]
    pub counter_max_fee: Option<String>,
    /// The counterparty's key file: sign its consent here and send.
    #[arg(long, value_name = "FILE", conflicts_with = "out")]
    pub counter_key: Option<PathBuf>,
    /// Write the proposal here for the counterparty to consent to.
    #[arg(long, value_name = "FILE", required_unless_present = "counter_key")]
    pub out: Option<PathBuf>,
    /// Common transaction options.
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse quote …`.
#[derive(Debug, Subcommand)]
pub enum QuoteCommand {
    /// Post an FX quote (a bank treasury's key): pay out one asset for
    /// another at a rate, up to a maximum, for a number of blocks.
    Post(QuotePostArgs),
    /// Withdraw a quote this bank posted.
    Withdraw {
        /// The quote id.
        quote: String,
        /// Common transaction options.
        #[command(flatten)]
        options: TxOptions,
    },
    /// List the live quotes, best rate for the payer first.
    List {
        /// Only quotes taking FROM and paying TO, e.g. CNY/USD.
        #[arg(long, value_name = "FROM/TO")]
        pair: Option<String>,
    },
    /// Show one live quote.
    Show {
        /// The quote id.
        quote: String,
    },
}

/// `clearhouse quote post`.
#[derive(Debug, Args)]
pub struct QuotePostArgs {
    /// The asset the bank pays out (the payee receives), e.g. USD.
    #[arg(long, value_name = "ASSET")]
    pub pay: String,
    /// The asset it takes in (the payer pays), e.g. CNY.
    #[arg(long, value_name = "ASSET")]
    pub receive: String,
    /// How much of `--pay` one unit of `--receive` buys, e.g. 0.1385; or
    /// an exact fraction of minor units, e.g. 1385/10000.
    #[arg(long, value_name = "RATE")]
    pub rate: String,
    /// The most the quote pays out in all, e.g. "50000.00 USD".
    #[arg(long, value_name = "AMOUNT")]
    pub maximum: String,
    /// The quote is usable for this many blocks after the current height.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub valid_blocks: u64,
    /// Common transaction options.
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse governance …`.
#[derive(Debug, Subcommand)]
pub enum GovernanceCommand {
    /// Propose a change of the network (the bank's governance key): one
    /// action, voted on for --voting-period blocks; proposing counts as the
    /// bank's yes. The proposal's id is the transaction's hash.
    #[command(subcommand)]
    Propose(Box<ProposeAction>),
    /// Vote on a proposal (the bank's governance key), once.
    Vote(VoteArgs),
    /// List the proposals (newest first), or show one in detail.
    Show {
        /// The proposal id (the hash of the transaction that proposed it).
        #[arg(value_name = "ID", conflicts_with_all = ["status", "limit"])]
        proposal: Option<String>,
        /// Only proposals in this status.
        #[arg(long, value_enum, value_name = "STATUS")]
        status: Option<ProposalStatusArg>,
        /// At most this many (1 to 200).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=200))]
        limit: Option<u16>,
    },
}

/// The statuses `governance show --status` filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProposalStatusArg {
    /// Voting, or passed and not yet in effect.
    Open,
    /// Votes are being taken.
    Voting,
    /// Passed, taking effect at a known height.
    Passed,
    /// Took effect.
    Applied,
    /// Passed, but no longer fitted the state when due.
    Failed,
    /// Voted down.
    Rejected,
    /// Undecided at the end of its voting period.
    Expired,
}

/// Options every proposal takes.
#[derive(Debug, Args)]
pub struct ProposeOptions {
    /// Votes count for this many blocks, the proposing one included
    /// (within the chain's `[governance]` bounds).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub voting_period: u64,
    /// Common transaction options (`--key`: the bank's governance key).
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse governance propose …`: one subcommand per action.
#[derive(Debug, Subcommand)]
pub enum ProposeAction {
    /// Admit a bank: its member entry, validator, treasury and governance
    /// accounts.
    AddMember(AddMemberArgs),
    /// Remove a member for good (its id and keys are never used again).
    RemoveMember {
        /// The member, e.g. bank-3.
        #[arg(value_name = "MEMBER")]
        member: String,
        /// Proposal options.
        #[command(flatten)]
        propose: ProposeOptions,
    },
    /// Suspend an active member: its validator stops counting and its
    /// accounts send nothing until reinstated.
    SuspendMember {
        /// The member.
        #[arg(value_name = "MEMBER")]
        member: String,
        /// Proposal options.
        #[command(flatten)]
        propose: ProposeOptions,
    },
    /// Suspend the member whose validator signed twice, citing the
    /// evidence on record (`clearhouse evidence` lists it).
    SuspendForEvidence {
        /// The evidence id (64 hex digits).
        #[arg(value_name = "EVIDENCE")]
        evidence: String,
        /// Proposal options.
        #[command(flatten)]
        propose: ProposeOptions,
    },
    /// Reinstate a suspended member.
    ReinstateMember {
        /// The member.
        #[arg(value_name = "MEMBER")]
        member: String,
        /// Proposal options.
        #[command(flatten)]
        propose: ProposeOptions,
    },
    /// Change a member's voting power.
    SetVotingPower {
        /// The member.
        #[arg(value_name = "MEMBER")]
        member: String,
        /// Its new voting power (above zero).
        #[arg(value_name = "N")]
        voting_power: u64,
        /// Proposal options.
        #[command(flatten)]
        propose: ProposeOptions,
    },
    /// Replace a member's validator key (a key never used before).
    RotateValidatorKey {
        /// The member.
        #[arg(value_name = "MEMBER")]
        member: String,
        /// The new ed25519 public key (64 hex digits).
        #[arg(value_name = "HEX")]
        validator_key: String,
        /// Proposal options.
        #[command(flatten)]
        propose: ProposeOptions,
    },
    /// Replace a member's published listen addresses.
    SetAddresses(SetAddressesArgs),
    /// Register a new asset issued by an active member.
    RegisterAsset {
        /// The asset code, e.g. GBP.
        #[arg(value_name = "CODE")]
        code: String,
        /// Decimal places of its human unit (at most 18).
        #[arg(long, value_name = "N")]
        decimals: u8,
        /// The issuing member, e.g. bank-1.
        #[arg(long, value_name = "MEMBER")]
        issuer: String,
        /// Proposal options.
        #[command(flatten)]
        propose: ProposeOptions,
    },
    /// Set an asset's fee rule, or remove it (--none: transfers move free).
    SetFee(SetFeeArgs),
    /// Change the escrow horizon: the latest arbiter deadline, in blocks
    /// after opening.
    SetEscrowDeadlineMax {
        /// Blocks.
        #[arg(value_name = "N")]
        blocks: u64,
        /// Proposal options.
        #[command(flatten)]
        propose: ProposeOptions,
    },
    /// Change the credit terms (caps apart).
    SetCredit {
        /// The trust rating formula.
        #[arg(long, value_name = "V")]
        rating_version: u16,
        /// Below this rating no credit is usable.
        #[arg(long, value_name = "N")]
        min_rating: u16,
        /// The longest repayment period of a grant, in blocks.
        #[arg(long, value_name = "N")]
        period_blocks_max: u64,
        /// Proposal options.
        #[command(flatten)]
        propose: ProposeOptions,
    },
    /// Set an asset's credit cap per rating point, or remove it (--none:
    /// no credit in it).
    SetCreditCap(SetCreditCapArgs),
    /// Change the governance limits.
    SetGovernance {
        /// Blocks from passing to taking effect.
        #[arg(long, value_name = "N")]
        activation_offset: u64,
        /// The shortest voting period, in blocks.
        #[arg(long, value_name = "N")]
        voting_period_min: u64,
        /// The longest voting period, in blocks.
        #[arg(long, value_name = "N")]
        voting_period_max: u64,
        /// Proposal options.
        #[command(flatten)]
        propose: ProposeOptions,
    },
}

/// `clearhouse governance propose add-member`: the new bank's entry, as
/// flags or as a file holding its genesis `[[members]]` table.
#[derive(Debug, Args)]
pub struct AddMemberArgs {
    /// A TOML file holding the bank's `[[members]]` table as a genesis
    /// file writes it (id, name, validator_key, network_key, voting_power,
    /// treasury, governance_key, optional api_key, sealing_key, addresses).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["id", "name", "validator_key", "network_key", "voting_power",
            "treasury", "governance_key", "api_key", "sealing_key", "address"]
    )]
    pub from_file: Option<PathBuf>,
    /// Its member id, e.g. bank-4 (never used before).
    #[arg(long, value_name = "ID", required_unless_present = "from_file")]
    pub id: Option<String>,
    /// Its display name.
    #[arg(long, value_name = "NAME", required_unless_present = "from_file")]
    pub name: Option<String>,
    /// Its validator's ed25519 public key (64 hex digits).
    #[arg(long, value_name = "HEX", required_unless_present = "from_file")]
    pub validator_key: Option<String>,
    /// Its libp2p identity's ed25519 public key (64 hex digits).
    #[arg(long, value_name = "HEX", required_unless_present = "from_file")]
    pub network_key: Option<String>,
    /// Its validator's voting power.
    #[arg(long, value_name = "N", required_unless_present = "from_file")]
    pub voting_power: Option<u64>,
    /// Its treasury account (64 hex digits).
    #[arg(long, value_name = "HEX", required_unless_present = "from_file")]
    pub treasury: Option<String>,
    /// Its governance account (64 hex digits).
    #[arg(long, value_name = "HEX", required_unless_present = "from_file")]
    pub governance_key: Option<String>,
    /// Its back office's API request key (64 hex digits).
    #[arg(long, value_name = "HEX")]
    pub api_key: Option<String>,
    /// Its X25519 sealing key (64 hex digits).
    #[arg(long, value_name = "HEX")]
    pub sealing_key: Option<String>,
    /// A libp2p listen address of its node (repeat for more).
    #[arg(long, value_name = "MULTIADDR")]
    pub address: Vec<String>,
    /// Proposal options.
    #[command(flatten)]
    pub propose: ProposeOptions,
}

/// `clearhouse governance propose set-addresses`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("addresses").required(true).args(["address", "clear"])))]
pub struct SetAddressesArgs {
    /// The member.
    #[arg(value_name = "MEMBER")]
    pub member: String,
    /// A libp2p listen address (repeat for more); the list replaces the
    /// published one.
    #[arg(long, value_name = "MULTIADDR")]
    pub address: Vec<String>,
    /// Publish no address at all.
    #[arg(long)]
    pub clear: bool,
    /// Proposal options.
    #[command(flatten)]
    pub propose: ProposeOptions,
}

/// `clearhouse governance propose set-fee`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("fee_rule").required(true).args(["flat", "none"])))]
pub struct SetFeeArgs {
    /// The asset, e.g. CNY.
    #[arg(value_name = "ASSET")]
    pub asset: String,
    /// Charged on every transfer, e.g. "0.01 CNY" (or "0.01").
    #[arg(long, value_name = "AMOUNT", requires = "basis_points")]
    pub flat: Option<String>,
    /// Plus this many basis points (1/10,000) of the amount.
    #[arg(long, value_name = "N", requires = "flat")]
    pub basis_points: Option<u16>,
    /// The receiving bank's share of the fee, in basis points of the fee.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "flat")]
    pub receiving_share: u16,
    /// Remove the asset's fee rule.
    #[arg(long)]
    pub none: bool,
    /// Proposal options.
    #[command(flatten)]
    pub propose: ProposeOptions,
}

/// `clearhouse governance propose set-credit-cap`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("cap").required(true).args(["per_point", "none"])))]
pub struct SetCreditCapArgs {
    /// The asset, e.g. CNY.
    #[arg(value_name = "ASSET")]
    pub asset: String,
    /// The cap per rating point, e.g. "10.00 CNY" (or "10.00").
    #[arg(value_name = "AMOUNT")]
    pub per_point: Option<String>,
    /// Offer no credit in the asset.
    #[arg(long)]
    pub none: bool,
    /// Proposal options.
    #[command(flatten)]
    pub propose: ProposeOptions,
}

/// `clearhouse governance vote`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("verdict").required(true).args(["yes", "no"])))]
pub struct VoteArgs {
    /// The proposal id (64 hex digits).
    #[arg(value_name = "ID")]
    pub proposal: String,
    /// Vote for it.
    #[arg(long)]
    pub yes: bool,
    /// Vote against it.
    #[arg(long)]
    pub no: bool,
    /// Common transaction options (`--key`: the bank's governance key).
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The credited account (64 hex digits).
    #[arg(long, value_name = "ACCOUNT")]
    pub to: String,
    /// How much, e.g. "1000 CNY".
    #[arg(long, value_name = "AMOUNT")]
    pub amount: String,
    /// The most fee accepted, e.g. "0 CNY" [default: 0; issuing is free].
    #[arg(long, value_name = "AMOUNT")]
    pub max_fee: Option<String>,
    /// Common transaction options.
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse redeem`.
#[derive(Debug, Args)]
pub struct RedeemArgs {
    /// How much, e.g. "1000 CNY".
    #[arg(long, value_name = "AMOUNT")]
    pub amount: String,
    /// The most fee accepted, e.g. "0 CNY" [default: 0; redeeming is free].
    #[arg(long, value_name = "AMOUNT")]
    pub max_fee: Option<String>,
    /// Common transaction options.
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse escrow …`.
#[derive(Debug, Subcommand)]
pub enum EscrowCommand {
    /// Pay into an escrow for a seller (the key is the buyer's). The amount
    /// and the transfer fee leave the buyer now; the escrow's id is the
    /// transaction's hash.
    Open(EscrowOpenArgs),
    /// Release an escrow to the seller (the buyer's key).
    Release(EscrowStepArgs),
    /// Refund an escrow to the buyer (the seller's key).
    Refund(EscrowStepArgs),
    /// Dispute an open escrow before its confirmation deadline (the buyer's
    /// or the seller's key); the arbiter bank then decides.
    Dispute(EscrowStepArgs),
    /// Settle a disputed escrow with a split (the arbiter bank's treasury
    /// key): --to-seller goes to the seller, the rest back to the buyer.
    Resolve(EscrowResolveArgs),
    /// Show an escrow: parties, amount, deadlines, status, settlement.
    Show {
        /// The escrow id (the hash of the transaction that opened it).
        #[arg(value_name = "ESCROW")]
        escrow: String,
    },
}

/// `clearhouse escrow open`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what_for").required(true).args(["reference", "order"])))]
pub struct EscrowOpenArgs {
    /// The seller's account (64 hex digits).
    #[arg(long, value_name = "ACCOUNT")]
    pub to: String,
    /// How much, e.g. "250.00 CNY".
    #[arg(long, value_name = "AMOUNT")]
    pub amount: String,
    /// The member bank that decides a dispute, e.g. bank-2.
    #[arg(long, value_name = "BANK")]
    pub arbiter: String,
    /// The buyer may release, and either party dispute, until this many
    /// blocks after the current height; then the escrow releases to the
    /// seller by itself.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub confirm_blocks: u64,
    /// The arbiter may resolve a dispute until this many blocks after the
    /// confirmation deadline; then the escrow refunds the buyer by itself.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub arbiter_blocks: u64,
    /// What the payment is for: a 32-byte hash (64 hex digits), e.g. of the
    /// order document.
    #[arg(long, value_name = "HASH")]
    pub reference: Option<String>,
    /// What the payment is for, as text: its SHA-256 becomes the reference.
    #[arg(long, value_name = "TEXT")]
    pub order: Option<String>,
    /// The most fee accepted, in the same asset [default: amount/100 + 100
    /// minor units].
    #[arg(long, value_name = "AMOUNT")]
    pub max_fee: Option<String>,
    /// Common transaction options.
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse escrow release|refund|dispute`.
#[derive(Debug, Args)]
pub struct EscrowStepArgs {
    /// The escrow id (64 hex digits).
    #[arg(long, value_name = "ESCROW")]
    pub escrow: String,
    /// Common transaction options.
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse escrow resolve`.
#[derive(Debug, Args)]
pub struct EscrowResolveArgs {
    /// The escrow id (64 hex digits).
    #[arg(long, value_name = "ESCROW")]
    pub escrow: String,
    /// The seller's part, e.g. "30.00 CNY"; the rest goes to the buyer.
    #[arg(long, value_name = "AMOUNT")]
    pub to_seller: String,
    /// Common transaction options.
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse credit …`.
#[derive(Debug, Subcommand)]
pub enum CreditCommand {
    /// Grant or change a customer's credit line (the treasury key of the
    /// bank hosting the account).
    Grant(CreditGrantArgs),
    /// Revoke a credit line: the limit becomes zero, debt stays until
    /// repaid (the hosting bank's treasury key).
    Revoke {
        /// The customer's account (64 hex digits).
        #[arg(long, value_name = "ACCOUNT")]
        account: String,
        /// The asset of the line, e.g. CNY.
        #[arg(long, value_name = "ASSET")]
        asset: String,
        /// Common transaction options.
        #[command(flatten)]
        options: TxOptions,
    },
    /// File a credit attestation about an account (any member bank's
    /// treasury key); it replaces the bank's earlier one.
    Attest(CreditAttestArgs),
    /// Show an account's credit record, trust rating and credit lines.
    Show {
        /// The account (64 hex digits).
        #[arg(value_name = "ACCOUNT")]
        account: String,
    },
}

/// `clearhouse credit grant`.
#[derive(Debug, Args)]
pub struct CreditGrantArgs {
    /// The customer's account (64 hex digits).
    #[arg(long, value_name = "ACCOUNT")]
    pub account: String,
    /// The granted limit, e.g. "1000.00 CNY" (the usable limit may be lower:
    /// the chain caps it by the account's trust rating).
    #[arg(long, value_name = "AMOUNT")]
    pub limit: String,
    /// Blocks within which each draw must be repaid.
    #[arg(long, value_name = "N")]
    pub period_blocks: u64,
    /// Common transaction options.
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse credit attest`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("verdict").required(true).args(["positive", "negative"])))]
#[command(group(clap::ArgGroup::new("evidence_ref").required(true).args(["reference", "evidence"])))]
pub struct CreditAttestArgs {
    /// The account attested (64 hex digits).
    #[arg(long, value_name = "ACCOUNT")]
    pub account: String,
    /// A favourable attestation.
    #[arg(long)]
    pub positive: bool,
    /// An adverse attestation.
    #[arg(long)]
    pub negative: bool,
    /// What it is about: 1 to 32 of a-z, 0-9, '-' and '_', e.g. repayment.
    #[arg(long, value_name = "CATEGORY")]
    pub category: String,
    /// The evidence: a 32-byte hash (64 hex digits).
    #[arg(long, value_name = "HASH")]
    pub reference: Option<String>,
    /// The evidence as text: its SHA-256 becomes the reference.
    #[arg(long, value_name = "TEXT")]
    pub evidence: Option<String>,
    /// Common transaction options.
    #[command(flatten)]
    pub options: TxOptions,
}

/// `clearhouse account …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Register an account as a customer of the key's bank (a bank's
    /// treasury key).
    Register {
        /// The new account's public key (64 hex digits).
        #[arg(long, value_name = "ACCOUNT")]
        account: String,
        /// Common transaction options.
        #[command(flatten)]
        options: TxOptions,
    },
    /// Show an account's bank, nonce and balances.
    Show {
        /// The account (64 hex digits).
        #[arg(value_name = "ACCOUNT")]
        account: String,
    },
}

/// `clearhouse tx …`.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Show a transaction's status, receipt and body.
    Show {
        /// The transaction hash (64 hex digits).
        #[arg(value_name = "HASH")]
        hash: String,
    },
    /// List the committed payments carrying an end-to-end id that the
    /// caller may see (its own, a bank's customers', or all for an auditor
    /// or regulator), newest first.
    Find {
        /// The end-to-end id, as the payer gave it.
        #[arg(long, value_name = "ID")]
        end_to_end_id: String,
        /// At most this many (1 to 100).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=100))]
        limit: u16,
    },
}

/// `clearhouse block …`.
#[derive(Debug, Subcommand)]
pub enum BlockCommand {
    /// Show a block's header and transactions.
    Show {
        /// A height, or `latest`.
        #[arg(value_name = "HEIGHT|latest")]
        height: String,
    },
}

/// `clearhouse audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Replay and verify the chain from genesis: hashes, Merkle roots,
    /// signatures, certificates, state roots. The chain comes from the node
    /// (--node, the default), a data directory (read-only) or an export file.
    Verify {
        /// The genesis file [default: ./clearhouse-testnet/genesis.toml]
        #[arg(long, value_name = "FILE")]
        genesis: Option<PathBuf>,
        /// Read the chain from a node's data directory (never modified).
        #[arg(long, value_name = "DIR", conflicts_with = "file")]
        data_dir: Option<PathBuf>,
        /// Read the chain from a file written by `audit export`.
        #[arg(long, value_name = "EXPORT")]
        file: Option<PathBuf>,
    },
    /// Write the node's chain (blocks and certificates) to a file.
    Export {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Fetch a transaction's inclusion proof with the certified header and
    /// verify it locally against the genesis validator set.
    Proof {
        /// The transaction hash (64 hex digits).
        #[arg(value_name = "TX_HASH")]
        hash: String,
        /// The genesis file [default: ./clearhouse-testnet/genesis.toml]
        #[arg(long, value_name = "FILE")]
        genesis: Option<PathBuf>,
    },
}

/// Parses the command line. `Ok(None)` means help or version was printed
/// and the process should exit 0; a parse failure is a one-line
/// [`CliError::Usage`].
pub fn parse<I, T>(args: I) -> Result<Option<Cli>, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::error::ErrorKind;
    match Cli::try_parse_from(args) {
        Ok(cli) => Ok(Some(cli)),
        Err(error) => match error.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                crate::output::print(&error.render().to_string());
                Ok(None)
            }
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
                Err(CliError::Usage(
                    "a subcommand is required: run with --help to list them".into(),
                ))
            }
            _ => Err(CliError::Usage(usage_line(&error.render().to_string()))),
        },
    }
}

/// clap's multi-line message as one line: its text before `Usage:`,
/// without the `error:` prefix and the hints.
fn usage_line(rendered: &str) -> String {
    let mut parts = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() {
            continue;
        }
        parts.push(
            line.strip_prefix("error:")
                .unwrap_or(line)
                .trim()
                .to_owned(),
        );
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parse_errors_are_one_line() {
        let error = parse(["clearhouse", "transfer", "--key", "k"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(!error.to_string().contains('\n'), "{error}");
        assert!(error.to_string().contains("--to"), "{error}");
    }
}
