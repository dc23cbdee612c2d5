//! `clearhouse audit`: verify a chain from genesis trusting nothing else,
//! export it for offline verification, and check inclusion proofs.
//!
//! [`verify`] reads blocks with their certificates from a node's API, from a
//! node's data folder (its append-only history, read in place and
//! read-only), or from an export file, and checks, block by block, stopping
//! at the first failure with its height:
//! 1. the block decodes (canonically, within its limit) and is the next
//!    height, for this chain, extending the previous block's hash (the chain
//!    id for height 1);
//! 2. the Merkle roots of its transaction ids and of its signatures'
//!    hashes are the header's (so the block hash names this exact body);
//! 3. every transaction's signature verifies (`verify_strict`, this chain);
//! 4. the certificate names this block and holds valid precommits of
//!    distinct validators with more than two thirds of the power of the
//!    validator set in force at its height: the set the re-executed chain
//!    recorded from the newest height at or below it
//!    (`StateKey::ValidatorSetFrom`, genesis for height 1), whose hash the
//!    header carries; the summary lists each set checked against;
//! 5. re-execution on the state rebuilt from genesis reproduces the
//!    header's receipts root and state root;
//! 6. for every asset, the balances plus the money held in escrow sum to
//!    the supply (escrows, credit lines and credit records are re-executed
//!    with everything else in step 5 and covered by the state root).
//!
//! Export file format: the 24 ASCII bytes `CLEARHOUSE-CHAIN-EXPORT` and a
//! NUL, a `u32` version (1), the 32-byte chain id, then for each height
//! from 1: a `u32` length and the canonical block, a `u32` length and the
//! canonical certificate (integers big-endian).

mod reader;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clearhouse_ledger::block::signatures_root;
use clearhouse_ledger::certificate::CommitCertificate;
use clearhouse_ledger::codec;
use clearhouse_ledger::genesis::Genesis;
use clearhouse_ledger::merkle::{self, InclusionProof};
use clearhouse_ledger::state::memory::MemoryState;
use clearhouse_ledger::state::{self, Holding, Signatures, StateKey, StateView};
use clearhouse_ledger::validators::ValidatorSet;
use clearhouse_ledger::{Amount, AssetCode, Block, BlockHeader, Hash, SignedTransaction};
use clearhouse_node::api::dto;

use reader::{ChainReader, open_reader};
pub use reader::{EXPORT_MAGIC, EXPORT_VERSION, NodeApi};

/// Where the chain to verify comes from.
#[derive(Debug, Clone)]
pub enum ChainSource {
    /// A node's HTTP API (`/v1/chain`).
    Node {
        /// Base URL, e.g. `http://127.0.0.1:8000`.
        url: String,
        /// The key `/v1/chain` requests are signed with (an auditor's or
        /// a regulator's: the chain is theirs to read whole).
        auth: Option<std::sync::Arc<clearhouse_ledger::crypto::Keypair>>,
        /// How an https node's certificate is checked.
        trust: crate::tls::Trust,
    },
    /// A node's data directory (copied, then read; never modified).
    DataDir(PathBuf),
    /// A file written by [`export`].
    File(PathBuf),
}

/// What a successful verification saw.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Blocks verified.
    pub blocks: u64,
    /// Transactions verified.
    pub transactions: u64,
    /// Validators in the set in force after the last block.
    pub validators: usize,
    /// Every validator set the certificates were checked against: its
    /// first height and hash, oldest first.
    pub sets: Vec<(u64, Hash)>,
    /// Wall time.
    pub elapsed: Duration,
    /// The chain.
    pub chain_id: Hash,
    /// The state root after the last block.
    pub state_root: Hash,
    /// Supply per asset after the last block.
    pub supply: Vec<(AssetCode, Amount)>,
}

/// Why an audit stopped.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The chain is wrong at `height`.
    #[error("height {height}: {what}")]
    Failed {
        /// The first height that failed.
        height: u64,
        /// What failed.
        what: String,
    },
    /// The node could not be reached.
    #[error("node unreachable: {0}")]
    Unreachable(String),
    /// The source could not be read (file, folder, malformed answer).
    #[error("{0}")]
    Source(String),
    /// The node refused the caller (401 or 403).
    #[error("{0}")]
    Denied(String),
}

fn failed(height: u64, what: impl Into<String>) -> AuditError {
    AuditError::Failed {
        height,
        what: what.into(),
    }
}

/// Verifies every block from `source` against `genesis`; `progress` gets
/// (blocks done, total if known) after each block.
pub fn verify(
    genesis: &Genesis,
    source: &ChainSource,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Summary, AuditError> {
    let started = Instant::now();
    let chain_id = genesis
        .chain_id()
        .map_err(|e| AuditError::Source(format!("genesis: {e}")))?;
    let mut reader = open_reader(source, &chain_id)?;
    let mut auditor = Auditor::new(genesis)?;
    while let Some(item) = reader.next_block()? {
        let height = auditor
            .state
            .tip()
            .map_err(|e| failed(0, e.to_string()))?
            .height
            + 1;
        auditor.check(height, &item.block, &item.certificate)?;
        progress(height, reader.total());
    }
    let validators = auditor
        .sets
        .last()
        .map_or(0, |(_, set)| set.validators().len());
    Ok(Summary {
        blocks: auditor.blocks,
        transactions: auditor.transactions,
        validators,
        sets: auditor
            .sets
            .iter()
            .filter(|(from, _)| *from <= auditor.blocks.max(1))
            .map(|(from, set)| set.hash().map(|hash| (*from, hash)))
            .collect::<Result<_, _>>()
            .map_err(|e| AuditError::Source(e.to_string()))?,
        elapsed: started.elapsed(),
        chain_id,
        state_root: auditor.state.root(),
        supply: auditor.supply.into_iter().collect(),
    })
}

/// The re-executed state and running totals.
struct Auditor {
    chain_id: Hash,
    state: MemoryState,
    /// Per asset: the money held, balances plus open escrows (kept up to
    /// date from each block's writes), and the recorded supply.
    held: BTreeMap<AssetCode, Amount>,
    supply: BTreeMap<AssetCode, Amount>,
    blocks: u64,
    transactions: u64,
    /// The validator sets recorded so far with their first heights, oldest
    /// first: genesis's from 1, then each one a block wrote for the next.
    sets: Vec<(u64, ValidatorSet)>,
}

impl Auditor {
    fn new(genesis: &Genesis) -> Result<Auditor, AuditError> {
        let state = genesis
            .memory_state()
            .map_err(|e| AuditError::Source(format!("genesis: {e}")))?;
        let mut held: BTreeMap<AssetCode, Amount> = BTreeMap::new();
        let mut supply: BTreeMap<AssetCode, Amount> = BTreeMap::new();
        let writes = genesis
            .initial_writes()
            .map_err(|e| AuditError::Source(format!("genesis: {e}")))?;
        for (key, value) in writes {
            let Some(value) = value else { continue };
            let holding = state::holding(&key, &value)
                .map_err(|e| AuditError::Source(format!("genesis: {e}")))?;
            count(&mut held, &mut supply, holding, true)
                .map_err(|e| AuditError::Source(format!("genesis: {e}")))?;
        }
        let first: ValidatorSet = state::read(&state, &StateKey::ValidatorSetFrom(1))
            .map_err(|e| AuditError::Source(format!("genesis: {e}")))?
            .ok_or_else(|| AuditError::Source("genesis records no validator set".into()))?;
        Ok(Auditor {
            chain_id: genesis
                .chain_id()
                .map_err(|e| AuditError::Source(e.to_string()))?,
            sets: vec![(1, first)],
            state,
            held,
            supply,
            blocks: 0,
            transactions: 0,
        })
    }

    fn check(&mut self, height: u64, block: &[u8], certificate: &[u8]) -> Result<(), AuditError> {
        // 1. Decoding, height, chain, parent.
        let block = Block::decode(block)
            .map_err(|e| failed(height, format!("block does not decode: {e}")))?;
        let certificate = CommitCertificate::decode(certificate)
            .map_err(|e| failed(height, format!("certificate does not decode: {e}")))?;
        let header = &block.header;
        if header.height != height {
            return Err(failed(
                height,
                format!(
                    "found the block of height {} where {height} was expected (missing or reordered)",
                    header.height
                ),
            ));
        }
        if header.chain_id != self.chain_id {
            return Err(failed(
                height,
                format!("block is for chain {}", header.chain_id),
            ));
        }
        let tip = self
            .state
            .tip()
            .map_err(|e| failed(height, e.to_string()))?;
        if header.previous_hash != tip.block_hash {
            return Err(failed(
                height,
                format!(
                    "previous hash {} is not the hash {} of block {}",
                    header.previous_hash, tip.block_hash, tip.height
                ),
            ));
        }
        // 2. and 3. Transaction and signatures roots, and signatures.
        let mut ids = Vec::with_capacity(block.transactions.len());
        for (index, tx) in block.transactions.iter().enumerate() {
            let id = tx
                .verify(&self.chain_id)
                .map_err(|e| failed(height, format!("transaction {index}: {e}")))?;
            ids.push(id);
        }
        let tx_root = merkle::root(&ids);
        if tx_root != header.tx_root {
            return Err(failed(
                height,
                format!(
                    "transaction root {} does not match the header's {}",
                    tx_root, header.tx_root
                ),
            ));
        }
        let signatures = signatures_root(&block.transactions);
        if signatures != header.signatures_root {
            return Err(failed(
                height,
                format!(
                    "signatures root {} does not match the header's {}",
                    signatures, header.signatures_root
                ),
            ));
        }
        // 4. Certificate against the validator set in force at this height:
        //    the newest recorded from a height at or below it.
        let (from, validators) = self
            .sets
            .iter()
            .rev()
            .find(|(from, _)| *from <= height)
            .ok_or_else(|| failed(height, "no validator set is recorded for this height"))?;
        let block_hash = block.hash().map_err(|e| failed(height, e.to_string()))?;
        certificate
            .verify(&self.chain_id, height, &block_hash, validators)
            .map_err(|e| {
                let hash = validators.hash().map(|h| h.to_hex()).unwrap_or_default();
                failed(
                    height,
                    format!("certificate: {e} (checked against the set {hash} in force from height {from})"),
                )
            })?;
        // 5. Re-execution (signatures were checked above), header roots
        //    including the validator-set hash.
        let outcome = state::apply_block(&self.state, &block, Signatures::AlreadyVerified)
            .map_err(|e| failed(height, format!("re-execution: {e}")))?;
        // 6. Conservation, from this block's writes.
        self.account_for(&outcome.execution.writes, height)?;
        self.state.commit(&outcome);
        // A block after which the set differs records the next one.
        let next = height.saturating_add(1);
        if let Some(set) =
            state::read::<ValidatorSet>(&self.state, &StateKey::ValidatorSetFrom(next))
                .map_err(|e| failed(height, e.to_string()))?
        {
            self.sets.push((next, set));
        }
        for (asset, supply) in &self.supply {
            let sum = self.held.get(asset).copied().unwrap_or_default();
            if sum != *supply {
                return Err(failed(
                    height,
                    format!("{asset}: balances and escrows hold {sum}, supply is {supply}"),
                ));
            }
        }
        self.blocks += 1;
        self.transactions += block.transactions.len() as u64;
        Ok(())
    }

    /// Updates the running sums of money held and the supplies from a
    /// block's writes (before they are committed to the state, which still
    /// holds the old values). Entries count through `state::holding`:
    /// balances and the money escrows hold.
    fn account_for(
        &mut self,
        writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        height: u64,
    ) -> Result<(), AuditError> {
        for (key, value) in writes {
            let before = self
                .state
                .get(key)
                .map_err(|e| failed(height, e.to_string()))?;
            if let Some(before) = before {
                let holding =
                    state::holding(key, &before).map_err(|e| failed(height, e.to_string()))?;
                count(&mut self.held, &mut self.supply, holding, false)
                    .map_err(|e| failed(height, e))?;
            }
            match value {
                Some(after) => {
                    let holding =
                        state::holding(key, after).map_err(|e| failed(height, e.to_string()))?;
                    count(&mut self.held, &mut self.supply, holding, true)
                        .map_err(|e| failed(height, e))?;
                }
                None => {
                    // A deleted asset has no supply left.
                    if let Ok(StateKey::Asset(code)) = codec::decode::<StateKey, 256>(key) {
                        self.supply.insert(code, Amount::ZERO);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Adds (`add`) or removes one entry's holding from the running sums.
fn count(
    held: &mut BTreeMap<AssetCode, Amount>,
    supply: &mut BTreeMap<AssetCode, Amount>,
    holding: Holding,
    add: bool,
) -> Result<(), String> {
    match holding {
        Holding::Money(money) => {
            for (asset, amount) in money {
                let sum = held.entry(asset.clone()).or_default();
                *sum = if add {
                    sum.checked_add(amount)
                } else {
                    sum.checked_sub(amount)
                }
                .ok_or_else(|| format!("{asset}: holdings arithmetic overflows"))?;
            }
        }
        Holding::Supply(code, amount) => {
            if add {
                supply.insert(code, amount);
            }
        }
        Holding::Nothing => {}
    }
    Ok(())
}

/// Writes the chain of the node at `node_url` (blocks and certificates) to
/// `out` in the export format; returns the number of blocks. The file is
/// written next to `out` and renamed into place when complete.
pub fn export(
    node: &NodeApi,
    out: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<u64, AuditError> {
    let chain_id = Hash::from_hex(&node.status().chain_id)
        .map_err(|e| AuditError::Source(format!("the node's status has a bad chain id: {e}")))?;
    let mut reader = reader::NodeReader::new(node, &chain_id)?;
    let mut writer = ExportWriter::create(out, &chain_id)?;
    let mut blocks = 0;
    while let Some(item) = reader.next_block()? {
        writer.push(&item.block, &item.certificate)?;
        blocks += 1;
        progress(blocks, reader.total());
    }
    writer.finish()?;
    Ok(blocks)
}

/// Writes an export file: to `<out>.partial` first, renamed over `out` by
/// [`ExportWriter::finish`], so a reader never sees half an export.
pub struct ExportWriter {
    file: std::io::BufWriter<std::fs::File>,
    temporary: PathBuf,
    out: PathBuf,
}

impl ExportWriter {
    /// Starts an export of chain `chain_id`.
    pub fn create(out: &Path, chain_id: &Hash) -> Result<ExportWriter, AuditError> {
        let temporary = out.with_extension("partial");
        let mut writer = ExportWriter {
            file: std::io::BufWriter::new(
                std::fs::File::create(&temporary)
                    .map_err(|e| AuditError::Source(format!("{}: {e}", temporary.display())))?,
            ),
            temporary,
            out: out.to_path_buf(),
        };
        writer.write(EXPORT_MAGIC)?;
        writer.write(&EXPORT_VERSION.to_be_bytes())?;
        writer.write(&chain_id.0)?;
        Ok(writer)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), AuditError> {
        self.file
            .write_all(bytes)
            .map_err(|e| AuditError::Source(format!("{}: {e}", self.temporary.display())))
    }

    /// Appends the next block and its certificate (canonical bytes).
    pub fn push(&mut self, block: &[u8], certificate: &[u8]) -> Result<(), AuditError> {
        for part in [block, certificate] {
            let len = u32::try_from(part.len())
                .map_err(|_| AuditError::Source("block too large".into()))?;
            self.write(&len.to_be_bytes())?;
            self.write(part)?;
        }
        Ok(())
    }

    /// Flushes, syncs and renames the file into place.
    pub fn finish(mut self) -> Result<(), AuditError> {
        let temporary = self.temporary.clone();
        let io = |e: std::io::Error| AuditError::Source(format!("{}: {e}", temporary.display()));
        self.file.flush().map_err(io)?;
        self.file.get_ref().sync_all().map_err(io)?;
        std::fs::rename(&self.temporary, &self.out)
            .map_err(|e| AuditError::Source(format!("{}: {e}", self.out.display())))
    }
}

/// A verified inclusion proof.
#[derive(Debug, Clone)]
pub struct ProofReport {
    /// The transaction.
    pub tx_hash: Hash,
    /// Its block height.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// The certified block.
    pub block_hash: Hash,
    /// "applied" or "rejected: reason".
    pub outcome: String,
    /// The hash of the validator set the certificate was checked against.
    pub set_hash: Hash,
    /// The first height that set certifies (1: the genesis set).
    pub set_from: u64,
}

/// Fetches and verifies an inclusion proof of `tx_hash` from `node_url`:
/// the transaction hashes to `tx_hash`, its Merkle path leads to the
/// header's transaction root, and the header is certified by more than two
/// thirds of the validator set in force at its height. That set is found
/// from the genesis one by following the node's `/v1/validators/changes`
/// (see [`check_proof`]): nothing but the genesis is trusted.
///
/// The receipt shown is the node's word: the header's receipts root
/// certifies it, but proving one receipt needs the block's receipts (use
/// `audit verify` for that).
pub fn proof(genesis: &Genesis, node: &NodeApi, tx_hash: &Hash) -> Result<ProofReport, AuditError> {
    let answer: dto::TransactionProof =
        node.get(&format!("/v1/proofs/transactions/{}", tx_hash.to_hex()))?;
    let mut changes: dto::ValidatorSetChanges = node.get("/v1/validators/changes")?;
    while let Some(from) = changes.next_from.take() {
        if from > answer.height {
            break;
        }
        let page: dto::ValidatorSetChanges =
            node.get(&format!("/v1/validators/changes?from={from}"))?;
        if page.changes.first().is_none_or(|c| c.from_height < from) {
            return Err(AuditError::Source(
                "the node's validator-set pages do not move on".into(),
            ));
        }
        changes.changes.extend(page.changes);
        changes.next_from = page.next_from;
    }
    check_proof(genesis, &answer, &changes.changes, tx_hash)
}

/// Checks a fetched inclusion proof of `tx_hash` (see [`proof`]) with the
/// node's record of validator-set changes. The set in force at the
/// proof's height is found by a walk from the genesis set: for each
/// change from height `h` at or below it, the handover header of block
/// `h - 1` must name the set in force so far (`validator_set_hash`), be
/// certified by it, and name the new set next (`next_validator_set_hash`);
/// a node that leaves a change out is caught by the next header naming a
/// set it did not show. The proof's header must then name the set reached.
pub fn check_proof(
    genesis: &Genesis,
    answer: &dto::TransactionProof,
    changes: &[dto::ValidatorSetChange],
    tx_hash: &Hash,
) -> Result<ProofReport, AuditError> {
    let chain_id = genesis
        .chain_id()
        .map_err(|e| AuditError::Source(e.to_string()))?;
    let bytes = |field: &str, text: &str| -> Result<Vec<u8>, AuditError> {
        hex::decode(text)
            .map_err(|e| AuditError::Source(format!("the proof has no valid {field}: {e}")))
    };
    let height = answer.height;
    let bad = |what: String| failed(height, what);
    let tx = SignedTransaction::decode(&bytes("transaction", &answer.transaction)?)
        .map_err(|e| bad(format!("transaction: {e}")))?;
    let header: BlockHeader = codec::decode::<BlockHeader, 4096>(&bytes("header", &answer.header)?)
        .map_err(|e| bad(format!("header: {e}")))?;
    let certificate = CommitCertificate::decode(&bytes("certificate", &answer.certificate)?)
        .map_err(|e| bad(format!("certificate: {e}")))?;
    let siblings = answer
        .proof
        .siblings
        .iter()
        .map(|s| Hash::from_hex(s).ok())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| AuditError::Source("malformed proof siblings".into()))?;
    let inclusion = InclusionProof {
        index: answer.proof.index,
        leaf_count: answer.proof.leaf_count,
        siblings,
    };
    let id = tx
        .verify(&chain_id)
        .map_err(|e| bad(format!("transaction: {e}")))?;
    if id != *tx_hash {
        return Err(bad(format!(
            "the node returned transaction {id}, not {tx_hash}"
        )));
    }
    if header.height != height || header.chain_id != chain_id {
        return Err(bad("the header is for another height or chain".into()));
    }
    if !inclusion.verify(&id, &header.tx_root) {
        return Err(bad(
            "the Merkle path does not lead to the header's transaction root".into(),
        ));
    }
    let block_hash = header.hash().map_err(|e| bad(e.to_string()))?;
    let (set_from, validators) = set_in_force(genesis, &chain_id, changes, height)?;
    let set_hash = validators.hash().map_err(|e| bad(e.to_string()))?;
    if header.validator_set_hash != set_hash {
        return Err(bad(format!(
            "the header names validator set {}, not {set_hash}, the set in force from height {set_from}",
            header.validator_set_hash
        )));
    }
    certificate
        .verify(&chain_id, height, &block_hash, &validators)
        .map_err(|e| {
            bad(format!(
                "certificate: {e} (checked against the set {set_hash} in force from height {set_from})"
            ))
        })?;
    let outcome = match answer.receipt.outcome {
        dto::Outcome::Rejected => format!(
            "rejected: {}",
            answer.receipt.reason.as_deref().unwrap_or("")
        ),
        dto::Outcome::Applied => dto::Outcome::Applied.to_string(),
    };
    Ok(ProofReport {
        tx_hash: *tx_hash,
        height,
        index: inclusion.index,
        block_hash,
        outcome,
        set_hash,
        set_from,
    })
}

/// The validator set certifying `height` and its first height, reached
/// from the genesis set through the handovers of `changes` (oldest first).
fn set_in_force(
    genesis: &Genesis,
    chain_id: &Hash,
    changes: &[dto::ValidatorSetChange],
    height: u64,
) -> Result<(u64, ValidatorSet), AuditError> {
    let mut from = 1;
    let mut set = genesis
        .validator_set()
        .map_err(|e| AuditError::Source(e.to_string()))?;
    for change in changes {
        let next_from = change.from_height;
        if next_from <= from {
            // The genesis set itself, or a node listing out of order.
            if next_from == 1 && from == 1 {
                continue;
            }
            return Err(AuditError::Source(format!(
                "the node lists the set from height {next_from} after the one from {from}"
            )));
        }
        if next_from > height {
            break;
        }
        let before = next_from - 1;
        let bad = |what: String| failed(before, format!("validator-set handover: {what}"));
        let handover = change.handover.as_ref().ok_or_else(|| {
            AuditError::Source(format!(
                "the node does not hold block {before}, which hands over to the validator set                  from height {next_from}: ask an archival node"
            ))
        })?;
        let header_bytes = hex::decode(&handover.header)
            .map_err(|e| AuditError::Source(format!("a handover header is not hex: {e}")))?;
        let header: BlockHeader = codec::decode::<BlockHeader, 4096>(&header_bytes)
            .map_err(|e| bad(format!("header: {e}")))?;
        let certificate_bytes = hex::decode(&handover.certificate)
            .map_err(|e| AuditError::Source(format!("a handover certificate is not hex: {e}")))?;
        let certificate = CommitCertificate::decode(&certificate_bytes)
            .map_err(|e| bad(format!("certificate: {e}")))?;
        if header.height != before || header.chain_id != *chain_id {
            return Err(bad("the header is for another height or chain".into()));
        }
        let current = set.hash().map_err(|e| bad(e.to_string()))?;
        if header.validator_set_hash != current {
            return Err(bad(format!(
                "the header names validator set {}, not {current}, the set in force from height {from}                  (a set change is missing)",
                header.validator_set_hash
            )));
        }
        let block_hash = header.hash().map_err(|e| bad(e.to_string()))?;
        certificate
            .verify(chain_id, before, &block_hash, &set)
            .map_err(|e| bad(format!("certificate: {e}")))?;
        let validators = change
            .validators
            .iter()
            .map(|v| {
                Ok(clearhouse_ledger::validators::Validator {
                    member: clearhouse_ledger::MemberId::new(&v.member)
                        .map_err(|e| e.to_string())?,
                    key: clearhouse_ledger::validators::ValidatorKey::from_hex(&v.key)
                        .map_err(|e| e.to_string())?,
                    voting_power: v.voting_power,
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| AuditError::Source(format!("a listed validator is malformed: {e}")))?;
        let next = ValidatorSet::new(validators)
            .map_err(|e| AuditError::Source(format!("a listed validator set is invalid: {e}")))?;
        let next_hash = next.hash().map_err(|e| bad(e.to_string()))?;
        if header.next_validator_set_hash != next_hash {
            return Err(bad(format!(
                "the header names {} to certify height {next_from}, not the listed set {next_hash}",
                header.next_validator_set_hash
            )));
        }
        from = next_from;
        set = next;
    }
    Ok((from, set))
}
