//! `clearhouse-testnet bench`: committed payments per second and
//! submit-to-commit latency, against this machine's ceiling measured in the
//! same run.
//!
//! The ceiling: `verify_strict` verifications per second on one core, times
//! the cores, divided by the validators (every validator verifies every
//! payment once). Transfers are signed before the clock starts; they are
//! submitted open-loop (on a fixed schedule, whatever the network does)
//! through the batch endpoint (its binary form, so the bench spends no time
//! on hex and JSON), spread over all nodes. Commits are observed
//! by polling the nodes' block receipts (each node in turn); a payment's
//! latency is from its submission to the poll that first sees its block
//! (polls every 20 ms).
//!
//! [`find_max`] searches for the highest sustainable rate on one network:
//! steps of a fixed duration at rising rates (x1.5 each) until one fails,
//! then bisection between the last pass and the first failure. Before each
//! step the previous one drains (every node's mempool empty). A step is
//! sustainable ([`StepVerdict`]) when
//! - the submitter offered at least 95 % of the target rate and no payment
//!   was refused at submission (a full mempool is back-pressure);
//! - every submitted payment committed;
//! - committed payments/s kept up: the step's committed payments over its
//!   duration stretched by the backlog's growth (1.5 x the rise of the
//!   median latency from the first third of submissions to the last) are at
//!   least 95 % of the target rate;
//! - latency stayed bounded: p99 at most [`LATENCY_P99_BOUND_MS`], and the
//!   backlog did not grow: the median latency of the last third of the
//!   submissions is at most 1.5 x that of the first third plus 250 ms.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::payment::{
    EndToEndId, NOT_PROVIDED, PaymentData, PaymentDetails, Remittance,
};
use clearhouse_ledger::{
    AccountId, Amount, AssetCode, Body, ChainId, Hash, SignedTransaction, Transaction,
};
use clearhouse_node::api::auth::RequestSigner;
use clearhouse_node::api::dto;
use clearhouse_node::api::{WIRE_BATCH_MEDIA_TYPE, frame_wire_batch};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The p99 submit-to-commit latency above which a step is not sustainable.
pub const LATENCY_P99_BOUND_MS: u64 = 2_000;
/// The fraction of the target rate a sustainable step offers and commits.
pub const KEEP_UP_FRACTION: f64 = 0.95;
/// Each ramp step offers 3/2 of the previous rate.
const RAMP_NUMERATOR: u64 = 3;
const RAMP_DENOMINATOR: u64 = 2;
/// Bisection stops when the failing rate is within this fraction of the passing one.
const BISECT_RESOLUTION: f64 = 0.05;
/// Longest wait for a step's payments to commit after its offering ends.
const DRAIN_MAX: Duration = Duration::from_secs(30);
/// Submitting threads per node (each waits for its batch's answer).
const SUBMITTERS_PER_NODE: usize = 3;
/// How many admitted-but-uncommitted payments a step asks every node about.
const UNCOMMITTED_EXAMPLES_MAX: usize = 3;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    /// Offered payments per second.
    pub rate: u64,
    /// How long to offer them.
    pub duration: Duration,
    /// Every payer pays this one account (the hot-account scenario).
    pub hot_account: bool,
    /// Payments per batch submission.
    pub batch: usize,
    /// The percentage of payments that are cross-currency transfers through
    /// an FX quote (the rest plain transfers); see [`Payers::with_quote`].
    pub cross_currency_percent: u8,
}

/// How [`find_max`] searches.
#[derive(Debug, Clone)]
pub struct SearchSpec {
    /// The first rate tried.
    pub start_rate: u64,
    /// How long each step offers load.
    pub step_duration: Duration,
    /// Most steps (ramp and bisection together).
    pub steps_max: usize,
    /// Payments per batch submission.
    pub batch: usize,
    /// Every payer pays one account.
    pub hot_account: bool,
}

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The JSON written to the report file.
    pub json: Value,
    /// The human table.
    pub table: String,
}

/// `verify_strict` verifications per second on one core: the fastest of
/// five 200 ms rounds (about 1 s in all). On a shared VM the speed of a core
/// drifts (one round can be half the next); the fastest round is what the
/// core can do, so the ceiling is never understated and the fraction of it
/// never flattered. What is timed is `VerifyingKey::verify_strict` alone,
/// on a key parsed once, over a message as long as a transfer's signing
/// bytes: a node parses a payer's key once too (its key cache), so parsing
/// is not counted into the ceiling (counting it would lower the ceiling by
/// about a tenth and flatter the fraction).
pub fn verify_rate_per_core() -> Result<f64, String> {
    use std::hint::black_box;
    let key = Keypair::from_seed(&[9; 32]);
    let message = probe_message(&key)?;
    let signature = ed25519_dalek::Signature::from_bytes(&key.sign(&message).0);
    let public = ed25519_dalek::VerifyingKey::from_bytes(&key.account().0)
        .map_err(|error| format!("ceiling probe: its own key does not parse: {error}"))?;
    public
        .verify_strict(&message, &signature)
        .map_err(|error| format!("ceiling probe: its own signature fails: {error}"))?;
    let round = || {
        let started = Instant::now();
        let mut count = 0u64;
        while started.elapsed() < Duration::from_millis(200) {
            for _ in 0..100 {
                let verdict = black_box(&public)
                    .verify_strict(black_box(message.as_slice()), black_box(&signature));
                let _ = black_box(verdict);
            }
            count += 100;
        }
        count as f64 / started.elapsed().as_secs_f64()
    };
    Ok((0..5).map(|_| round()).fold(0.0, f64::max))
}

/// What the probe signs: the signing bytes of a transfer like the bench's
/// own, so the probe hashes as many SHA-512 blocks per check as a node does.
fn probe_message(key: &Keypair) -> Result<Vec<u8>, String> {
    let transfer = Transaction {
        chain_id: Hash([7; 32]),
        sender: key.account(),
        nonce: 1,
        fee: Amount(1_000_000),
        expiry_height: u64::MAX,
        body: Body::Transfer {
            to: key.account(),
            asset: AssetCode::new("CNY").map_err(|error| format!("ceiling probe: {error}"))?,
            amount: Amount(1),
        },
    };
    transfer
        .signing_bytes()
        .map_err(|error| format!("ceiling probe: {error}"))
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Paying accounts with their next nonces, so successive steps on one
/// network keep signing valid transfers.
pub struct Payers {
    chain_id: ChainId,
    keys: Vec<Keypair>,
    nonces: Vec<u64>,
    asset: AssetCode,
    hot: Option<AccountId>,
    next: usize,
    /// A quote taking `asset`, and the percentage of payments sent through it.
    quote: Option<(Hash, u8)>,
}

impl Payers {
    /// Payers whose next nonce is 0 (a fresh network); with `hot`, every
    /// payment goes to that account.
    pub fn new(
        chain_id: ChainId,
        keys: Vec<Keypair>,
        asset: AssetCode,
        hot: Option<AccountId>,
    ) -> Payers {
        let nonces = vec![0; keys.len()];
        Payers {
            chain_id,
            keys,
            nonces,
            asset,
            hot,
            next: 0,
            quote: None,
        }
    }

    /// Sends `percent` of the payments (one in each hundred, spread evenly)
    /// as cross-currency transfers through `quote`, which must take the
    /// payers' asset: 1.00 of it each, with payment data in the clear.
    pub fn with_quote(mut self, quote: Hash, percent: u8) -> Payers {
        self.quote = Some((quote, percent.min(100)));
        self
    }

    /// Reads each payer's next nonce from a node (a network that already
    /// carried payments, e.g. with `--attach`).
    pub fn fetch_nonces(&mut self, target: &Target) -> Result<(), String> {
        let agent = http_agent();
        for (key, nonce) in self.keys.iter().zip(self.nonces.iter_mut()) {
            let account = key.account().to_hex();
            let answer: dto::Account = target
                .read(&agent, &format!("/v1/accounts/{account}"))
                .ok_or_else(|| format!("cannot read account {account}"))?;
            *nonce = answer.nonce;
        }
        Ok(())
    }

    /// How many accounts pay.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no account pays.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Signs the next `count` transfers, round-robin over the payers.
    pub fn sign(
        &mut self,
        count: usize,
    ) -> Result<Vec<SignedTransaction>, clearhouse_ledger::codec::CodecError> {
        let n = self.keys.len();
        let not_provided = EndToEndId::new(NOT_PROVIDED).ok();
        (0..count)
            .map(|_| {
                let from = self.next % n;
                self.next = self.next.wrapping_add(1);
                let to = self
                    .hot
                    .unwrap_or_else(|| self.keys[(from + 1) % n].account());
                // Payment k goes through the quote when floor((k + 1) p / 100)
                // passes an integer: p of every hundred, spread evenly.
                let k = self.next.wrapping_sub(1);
                let through = self.quote.filter(|(_, percent)| {
                    let p = usize::from(*percent);
                    (k % 100 + 1) * p / 100 != (k % 100) * p / 100
                });
                let body = match (through, &not_provided) {
                    (Some((quote, _)), Some(end_to_end_id)) => Body::CrossTransfer {
                        to,
                        asset: self.asset.clone(),
                        amount: Amount(100),
                        quote,
                        details: PaymentDetails::Clear(PaymentData {
                            end_to_end_id: end_to_end_id.clone(),
                            remittance: Remittance::default(),
                        }),
                    },
                    _ => Body::Transfer {
                        to,
                        asset: self.asset.clone(),
                        amount: Amount(1),
                    },
                };
                let tx = Transaction {
                    chain_id: self.chain_id,
                    sender: self.keys[from].account(),
                    nonce: self.nonces[from],
                    fee: Amount(1_000_000),
                    expiry_height: u64::MAX,
                    body,
                };
                self.nonces[from] += 1;
                tx.sign(&self.keys[from])
            })
            .collect()
    }
}

/// Signs `count` transfers among `keys` (or all to `hot`), nonces in order
/// from 0.
pub fn presign(
    chain_id: ChainId,
    keys: &[Keypair],
    asset: &AssetCode,
    count: usize,
    hot: Option<AccountId>,
) -> Result<Vec<SignedTransaction>, clearhouse_ledger::codec::CodecError> {
    let keys = keys.iter().map(|k| Keypair::from_seed(&k.seed())).collect();
    Payers::new(chain_id, keys, asset.clone(), hot).sign(count)
}

/// A node the bench drives, with the keys it signs requests with: its
/// bank's API key to submit (bank 0's for an observer), the auditor's to
/// follow commits (which reads every receipt).
#[derive(Clone)]
pub struct Target {
    /// The node's API base URL.
    pub url: String,
    submit: RequestSigner,
    read: RequestSigner,
}

impl Target {
    /// A target signing with these keys for node `node` of `chain_id`.
    pub fn new(
        url: String,
        node: &str,
        chain_id: ChainId,
        submit_key: Keypair,
        read_key: Keypair,
    ) -> Target {
        Target {
            url,
            submit: RequestSigner::new(submit_key, chain_id, node),
            read: RequestSigner::new(read_key, chain_id, node),
        }
    }

    /// Every node of `testnet`, validators then observers.
    pub fn all(testnet: &crate::Testnet) -> Result<Vec<Target>, String> {
        let chain_id = testnet.genesis.chain_id().map_err(|e| e.to_string())?;
        let read = |path: &std::path::Path| {
            clearhouse_node::keyfile::read(path).map_err(|e| e.to_string())
        };
        testnet
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let bank = testnet
                    .bank_api_keys
                    .get(i)
                    .or(testnet.bank_api_keys.first())
                    .ok_or("the testnet has no bank")?;
                Ok(Target::new(
                    node.api_url(),
                    &node.name,
                    chain_id,
                    read(bank)?,
                    read(&testnet.auditor_key)?,
                ))
            })
            .collect()
    }

    /// `GET path` signed by the reading key, as a `T` (see [`get`]).
    fn read<T: DeserializeOwned>(&self, agent: &ureq::Agent, path: &str) -> Option<T> {
        let mut answer = agent
            .get(&format!("{}{path}", self.url))
            .header("authorization", self.read.header("GET", path, b""))
            .call()
            .ok()?;
        if !answer.status().is_success() {
            return None;
        }
        answer.body_mut().read_json().ok()
    }
}

fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// A successful answer as the node's type `T`; `None` for an error status
/// (the agent does not treat one as an error), no answer, or an answer
/// that is not a `T`.
fn get<T: DeserializeOwned>(agent: &ureq::Agent, url: &str) -> Option<T> {
    let mut answer = agent.get(url).call().ok()?;
    if !answer.status().is_success() {
        return None;
    }
    answer.body_mut().read_json().ok()
}

/// A node's height, from `/v1/status`.
fn height_of(agent: &ureq::Agent, url: &str) -> Option<u64> {
    get::<dto::NodeStatus>(agent, &format!("{url}/v1/status")).map(|s| s.height)
}

/// CPU seconds and peak RSS (KiB) of a process, from /proc.
fn process_usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let peak_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((ticks / 100.0, peak_kib))
}

/// The value at `percent` (nearest rank) of sorted values.
pub(crate) fn percentile(sorted: &[u64], percent: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (percent.min(100) * (sorted.len() - 1) + 50) / 100;
    sorted[rank]
}

/// What the submitter threads report: accepted ids with their submit
/// times, the count refused, and how long submitting took.
type Submitted = (Vec<(Hash, Instant)>, u64, Duration);

/// The raw observations of one step of load.
struct Step {
    rate: u64,
    duration: Duration,
    /// Each node's height after the step (`None`: no answer).
    heights: Vec<Option<u64>>,
    /// What the nodes say of a few admitted payments not seen committed.
    uncommitted: Vec<Value>,
    submitted: Vec<(Hash, Instant)>,
    refused: u64,
    submit_elapsed: Duration,
    committed_at: HashMap<Hash, Instant>,
    rejected: u64,
    blocks: u64,
    observed: Duration,
    /// The machine's CPU time by kind over the observation, in percent
    /// (`None` where `/proc/stat` cannot be read).
    machine: Option<Value>,
}

/// This machine's CPU time by kind, from the first line of `/proc/stat`
/// (in ticks, summed over the cores): user (with nice), system (with irq
/// and softirq), idle, iowait, and steal, the time the hypervisor gave this
/// VM's CPUs to someone else. A step taken while the host steals CPU runs
/// on a slower machine than the ceiling's probe may have measured, so the
/// report shows it.
#[derive(Debug, Clone, Copy)]
struct MachineCpu {
    user: u64,
    system: u64,
    idle: u64,
    iowait: u64,
    steal: u64,
}

impl MachineCpu {
    fn read() -> Option<MachineCpu> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|field| field.parse().ok())
            .collect::<Option<_>>()?;
        let field = |i: usize| fields.get(i).copied().unwrap_or(0);
        Some(MachineCpu {
            user: field(0) + field(1),
            system: field(2) + field(5) + field(6),
            idle: field(3),
            iowait: field(4),
            steal: field(7),
        })
    }

    /// Percentages of the time between `earlier` and `self`.
    fn percent_since(&self, earlier: &MachineCpu) -> Value {
        let user = self.user.saturating_sub(earlier.user);
        let system = self.system.saturating_sub(earlier.system);
        let idle = self.idle.saturating_sub(earlier.idle);
        let iowait = self.iowait.saturating_sub(earlier.iowait);
        let steal = self.steal.saturating_sub(earlier.steal);
        let total = (user + system + idle + iowait + steal).max(1) as f64;
        let share = |ticks: u64| 100.0 * ticks as f64 / total;
        json!({
            "user": share(user),
            "system": share(system),
            "idle": share(idle),
            "iowait": share(iowait),
            "steal": share(steal),
        })
    }
}

/// Whether a step was sustainable, and why not (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepVerdict {
    /// It kept up.
    Sustainable,
    /// It did not; the reason names the failed criterion.
    Unsustainable(String),
}

/// Offers `transactions` at `rate` over all `urls` (one submitting thread
/// per node, one shared schedule), observing commits on node 0 until every
/// accepted payment committed or `duration + drain` passed.
fn offer(
    rate: u64,
    duration: Duration,
    batch: usize,
    targets: &[Target],
    transactions: &[SignedTransaction],
    drain: Duration,
) -> Step {
    let urls: Vec<String> = targets.iter().map(|t| t.url.clone()).collect();
    let agent = http_agent();
    let start_height = height_of(&agent, &urls[0]).unwrap_or(0);
    let total = transactions.len();
    let batch = batch.max(1);
    let interval = Duration::from_secs_f64(batch as f64 / rate.max(1) as f64);
    // Each batch's ids and body (the batch endpoint's binary form), built
    // before the clock starts, as the payments were signed.
    let batches: Vec<(Vec<Hash>, Option<Vec<u8>>)> = transactions
        .chunks(batch)
        .map(|chunk| {
            let wire: Vec<Vec<u8>> = chunk
                .iter()
                .map(|t| t.encode().unwrap_or_default())
                .collect();
            (
                chunk.iter().map(|t| t.id().unwrap_or(Hash::ZERO)).collect(),
                frame_wire_batch(wire.iter().map(Vec::as_slice)).ok(),
            )
        })
        .collect();
    let urls_for_submit = targets.to_vec();
    let machine_before = MachineCpu::read();
    let started = Instant::now();
    // Submitting threads on one schedule: batch k is due at start +
    // k x interval and goes to node k mod nodes, sent by thread k mod
    // threads. Several threads per node keep the offered rate open-loop:
    // one waiting for a slow admission does not hold back the next batch.
    let batches = std::sync::Arc::new(batches);
    let mut submitter = Some(std::thread::spawn(move || {
        let nodes = urls_for_submit.len().max(1);
        let count = nodes * SUBMITTERS_PER_NODE;
        let threads: Vec<_> = (0..count)
            .map(|thread| {
                let batches = batches.clone();
                let target = urls_for_submit[thread % nodes].clone();
                let url = format!("{}/v1/transactions/batch", target.url);
                std::thread::spawn(move || {
                    let agent = http_agent();
                    let mut submitted: Vec<(Hash, Instant)> = Vec::new();
                    let mut refused = 0u64;
                    for (k, (ids, body)) in batches
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| k % count == thread)
                    {
                        let due = started + interval * u32::try_from(k).unwrap_or(u32::MAX);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let now = Instant::now();
                        match body
                            .as_deref()
                            .and_then(|body| {
                                agent
                                    .post(&url)
                                    .header("content-type", WIRE_BATCH_MEDIA_TYPE)
                                    .header(
                                        "authorization",
                                        target.submit.header(
                                            "POST",
                                            "/v1/transactions/batch",
                                            body,
                                        ),
                                    )
                                    .send(body)
                                    .ok()
                            })
                            // An error status (the whole batch refused) or
                            // an answer not one per payment refuses them all.
                            .filter(|r| r.status().is_success())
                            .and_then(|mut r| r.body_mut().read_json::<dto::BatchAnswer>().ok())
                            .map(|answer| answer.results)
                            .filter(|results| results.len() == ids.len())
                        {
                            Some(results) => {
                                for (result, id) in results.iter().zip(ids) {
                                    if matches!(result, dto::BatchResult::Accepted { .. }) {
                                        submitted.push((*id, now));
                                    } else {
                                        refused += 1;
                                    }
                                }
                            }
                            None => refused += ids.len() as u64,
                        }
                    }
                    (submitted, refused)
                })
            })
            .collect();
        let mut submitted: Vec<(Hash, Instant)> = Vec::with_capacity(total);
        let mut refused = 0u64;
        for thread in threads {
            if let Ok((ids, refusals)) = thread.join() {
                submitted.extend(ids);
                refused += refusals;
            }
        }
        (submitted, refused, started.elapsed())
    }));

    // Observe commits: the tip on node 0, each block's receipts from the
    // nodes in turn.
    let mut committed_at: HashMap<Hash, Instant> = HashMap::new();
    let mut rejected = 0u64;
    let mut blocks = 0u64;
    let mut height = start_height;
    let deadline = started + duration + drain;
    let mut submit_done: Option<Submitted> = None;
    loop {
        let tip = height_of(&agent, &urls[0]).unwrap_or(height);
        while height < tip {
            height += 1;
            // Receipts alone: rendering whole blocks as JSON cost node 0
            // about a tenth of its CPU, which the chain then lacked. Each
            // height from another node, so no one node carries the
            // observation (a committed block is final on every node).
            let first = usize::try_from(height).unwrap_or(0) % urls.len();
            let Some(block) = (0..targets.len()).find_map(|k| {
                let from = &targets[(first + k) % targets.len()];
                from.read::<dto::BlockReceipts>(&agent, &format!("/v1/blocks/{height}/receipts"))
            }) else {
                height -= 1;
                break;
            };
            let now = Instant::now();
            blocks += 1;
            for receipt in &block.receipts {
                if let Some(id) = receipt
                    .tx_id
                    .as_deref()
                    .and_then(|h| Hash::from_hex(h).ok())
                {
                    committed_at.insert(id, now);
                    if receipt.outcome == dto::Outcome::Rejected {
                        rejected += 1;
                    }
                }
            }
        }
        if submitter.as_ref().is_some_and(|h| h.is_finished()) {
            submit_done = submitter.take().and_then(|h| h.join().ok());
        }
        let all_in = submit_done.as_ref().is_some_and(|(submitted, _, _)| {
            submitted
                .iter()
                .all(|(id, _)| committed_at.contains_key(id))
        });
        if all_in || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (submitted, refused, submit_elapsed) = match submit_done {
        Some(done) => done,
        None => submitter
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default(),
    };
    // Every node's height once the step is over: a node that stopped
    // following the others shows here (the others commit without it).
    let heights = urls.iter().map(|url| height_of(&agent, url)).collect();
    // A payment admitted but not seen committed: what every node says of
    // it (pending where, or unknown), for the first few.
    let uncommitted = submitted
        .iter()
        .filter(|(id, _)| !committed_at.contains_key(id))
        .take(UNCOMMITTED_EXAMPLES_MAX)
        .map(|(id, _)| {
            let answers: Vec<Value> = targets
                .iter()
                .map(|target| {
                    let path = format!("/v1/transactions/{}", id.to_hex());
                    match agent
                        .get(&format!("{}{path}", target.url))
                        .header("authorization", target.read.header("GET", &path, b""))
                        .call()
                    {
                        Ok(mut answer) => json!({
                            "http_status": answer.status().as_u16(),
                            "answer": answer.body_mut().read_json::<Value>().unwrap_or(Value::Null),
                        }),
                        Err(error) => json!({"error": error.to_string()}),
                    }
                })
                .collect();
            json!({"tx_id": id.to_hex(), "nodes": answers})
        })
        .collect();
    Step {
        rate,
        duration,
        heights,
        uncommitted,
        submitted,
        refused,
        submit_elapsed,
        committed_at,
        rejected,
        blocks,
        observed: started.elapsed(),
        machine: machine_before
            .zip(MachineCpu::read())
            .map(|(before, after)| after.percent_since(&before)),
    }
}

impl Step {
    /// Submit-to-commit latencies (ms) of the committed payments, in
    /// submission order.
    fn latencies_in_order(&self) -> Vec<u64> {
        let mut by_submit: Vec<&(Hash, Instant)> = self.submitted.iter().collect();
        by_submit.sort_by_key(|(_, at)| *at);
        by_submit
            .iter()
            .filter_map(|(id, at)| {
                self.committed_at
                    .get(id)
                    .map(|c| u64::try_from(c.duration_since(*at).as_millis()).unwrap_or(u64::MAX))
            })
            .collect()
    }

    /// The step's figures as JSON (no ceiling, no nodes).
    fn figures(&self) -> Value {
        let in_order = self.latencies_in_order();
        let mut latencies = in_order.clone();
        latencies.sort_unstable();
        let committed = latencies.len() as u64;
        let p50 = percentile(&latencies, 50);
        // The schedule spans the duration; a submitter that fell behind took longer.
        let offered_per_s = self.submitted.len() as f64
            / self
                .submit_elapsed
                .max(self.duration)
                .as_secs_f64()
                .max(1e-9);
        let committed_per_s = committed as f64 / self.observed.as_secs_f64().max(1e-9);
        let third = in_order.len() / 3;
        let median_of = |slice: &[u64]| {
            let mut sorted = slice.to_vec();
            sorted.sort_unstable();
            percentile(&sorted, 50)
        };
        let first_third_p50 = median_of(&in_order[..third]);
        let last_third_p50 = median_of(&in_order[in_order.len() - third..]);
        // Sustained commit rate: the payments offered over the duration
        // committed over the duration stretched by the backlog's growth
        // (the thirds' midpoints are 2/3 of the duration apart). Unlike
        // counting commits in a window, block and batch granularity do not
        // bias it.
        let growth_ms = 1.5 * last_third_p50.saturating_sub(first_third_p50) as f64;
        let committed_per_s_sustained =
            committed as f64 / (self.duration.as_secs_f64() + growth_ms / 1000.0).max(1e-9);
        json!({
            "target_payments_per_s": self.rate,
            "duration_s": self.duration.as_secs_f64(),
            "offered_payments_per_s": offered_per_s,
            "committed_payments_per_s": committed_per_s,
            "committed_payments_per_s_sustained": committed_per_s_sustained,
            "submitted": self.submitted.len(),
            "committed": committed,
            "refused_at_submit": self.refused,
            "rejected_in_blocks": self.rejected,
            "latency_ms": {
                "p50": p50,
                "p99": percentile(&latencies, 99),
                "max": latencies.last().copied().unwrap_or(0),
                "p50_first_third": first_third_p50,
                "p50_last_third": last_third_p50,
            },
            "blocks": self.blocks,
            "blocks_per_s": self.blocks as f64 / self.observed.as_secs_f64(),
            "average_block_size": if self.blocks == 0 { 0.0 } else { committed as f64 / self.blocks as f64 },
            "node_heights_after": self.heights,
            "uncommitted_examples": self.uncommitted,
            "machine_cpu_percent": self.machine,
        })
    }

    /// Whether the step was sustainable (the module docs give the rules).
    fn verdict(&self, figures: &Value) -> StepVerdict {
        let target = self.rate as f64;
        let f = |key: &str| figures[key].as_f64().unwrap_or(0.0);
        let latency = |key: &str| figures["latency_ms"][key].as_u64().unwrap_or(u64::MAX);
        let submitted = figures["submitted"].as_u64().unwrap_or(0);
        let reason = if f("offered_payments_per_s") < KEEP_UP_FRACTION * target {
            format!(
                "offered {:.0}/s < {:.0} % of the target",
                f("offered_payments_per_s"),
                100.0 * KEEP_UP_FRACTION
            )
        } else if self.refused > 0 {
            format!("{} refused at submission", self.refused)
        } else if figures["committed"].as_u64().unwrap_or(0) < submitted {
            format!(
                "{} of {submitted} committed within the drain time",
                figures["committed"]
            )
        } else if f("committed_payments_per_s_sustained") < KEEP_UP_FRACTION * target {
            format!(
                "committed {:.0}/s < {:.0} % of the target",
                f("committed_payments_per_s_sustained"),
                100.0 * KEEP_UP_FRACTION
            )
        } else if latency("p99") > LATENCY_P99_BOUND_MS {
            format!("p99 {} ms > {LATENCY_P99_BOUND_MS} ms", latency("p99"))
        } else if latency("p50_last_third") > latency("p50_first_third") * 3 / 2 + 250 {
            format!(
                "backlog grew: p50 {} ms in the first third, {} ms in the last",
                latency("p50_first_third"),
                latency("p50_last_third")
            )
        } else {
            return StepVerdict::Sustainable;
        };
        StepVerdict::Unsustainable(reason)
    }
}

/// This machine's ceiling, measured more than once in a run (before the
/// load, and after it or after each step): a core's speed drifts over
/// minutes on a shared VM, so the highest measurement is the ceiling, and
/// a slow moment at the start cannot flatter the fraction.
struct Ceiling {
    validators: usize,
    /// `verify_strict`/s on one core, per measurement.
    samples: Vec<f64>,
}

impl Ceiling {
    /// Measures once.
    fn measure(validators: usize) -> Result<Ceiling, String> {
        let mut ceiling = Ceiling {
            validators,
            samples: Vec::new(),
        };
        ceiling.measure_again()?;
        Ok(ceiling)
    }

    fn measure_again(&mut self) -> Result<(), String> {
        self.samples.push(verify_rate_per_core()?);
        Ok(())
    }

    /// The highest `verify_strict`/s on one core measured.
    fn per_core(&self) -> f64 {
        self.samples.iter().copied().fold(0.0, f64::max)
    }

    /// Payments/s.
    fn payments_per_s(&self) -> f64 {
        self.per_core() * cores() as f64 / self.validators.max(1) as f64
    }

    fn json(&self) -> Value {
        json!({
            "verify_strict_per_s_one_core": self.per_core(),
            "measurements_per_s_one_core": self.samples,
            "cores": cores(),
            "payments_per_s": self.payments_per_s(),
        })
    }
}

/// CPU seconds used so far by each process.
fn cpu_seconds(pids: &[u32]) -> Vec<f64> {
    pids.iter()
        .map(|p| process_usage(*p).map_or(0.0, |u| u.0))
        .collect()
}

/// Per node: CPU used since `cpu_before` over `elapsed`, and peak RSS.
fn node_usage(pids: &[u32], cpu_before: &[f64], elapsed: Duration) -> Vec<Value> {
    pids.iter()
        .zip(cpu_before)
        .map(|(pid, before)| {
            let (cpu, peak) = process_usage(*pid).unwrap_or((0.0, 0));
            json!({"pid": pid, "cpu_seconds": cpu - before, "cpu_percent": 100.0 * (cpu - before) / elapsed.as_secs_f64().max(1e-9), "peak_rss_mib": peak as f64 / 1024.0})
        })
        .collect()
}

/// Per node: its `/metrics` text (empty when it does not answer).
fn metrics_texts(urls: &[String]) -> Vec<String> {
    let agent = http_agent();
    urls.iter()
        .map(|url| {
            agent
                .get(&format!("{url}/metrics"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .unwrap_or_default()
        })
        .collect()
}

/// The values of a counter labelled by `label`, from one node's `/metrics`.
fn labelled(text: &str, metric: &str, label: &str) -> Vec<(String, f64)> {
    let prefix = format!("{metric}{{{label}=\"");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(prefix.as_str())?;
            let (value_label, value) = rest.split_once("\"} ")?;
            Some((value_label.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Per node: the labelled counters the bench reports as deltas.
struct Counters {
    busy: Vec<Vec<(String, f64)>>,
    checks: Vec<Vec<(String, f64)>>,
}

const BUSY_METRIC: (&str, &str) = ("clearhouse_driver_busy_seconds_total", "phase");
const CHECKS_METRIC: (&str, &str) = ("clearhouse_tx_signature_checks_total", "source");

impl Counters {
    /// One `/metrics` request per node.
    fn read(urls: &[String]) -> Counters {
        let texts = metrics_texts(urls);
        let per_node = |(metric, label): (&str, &str)| {
            texts
                .iter()
                .map(|text| labelled(text, metric, label))
                .collect()
        };
        Counters {
            busy: per_node(BUSY_METRIC),
            checks: per_node(CHECKS_METRIC),
        }
    }

    /// Per node, the driver's busy seconds per phase and the signature
    /// checks per source since `self`.
    fn delta(&self, urls: &[String]) -> (Vec<Value>, Vec<Value>) {
        let now = Counters::read(urls);
        (
            labelled_delta(&self.busy, &now.busy),
            labelled_delta(&self.checks, &now.checks),
        )
    }
}

fn labelled_delta(before: &[Vec<(String, f64)>], after: &[Vec<(String, f64)>]) -> Vec<Value> {
    after
        .iter()
        .zip(before)
        .map(|(after, before)| {
            let values: serde_json::Map<String, Value> = after
                .iter()
                .map(|(label, value)| {
                    let earlier = before
                        .iter()
                        .find(|(l, _)| l == label)
                        .map_or(0.0, |(_, v)| *v);
                    (label.clone(), json!(value - earlier))
                })
                .collect();
            Value::Object(values)
        })
        .collect()
}

/// Per node: transaction signature checks per committed payment, by source
/// (each payment should be checked once per node).
fn check_lines(table: &mut String, checks: &[Value], committed: f64) {
    use std::fmt::Write;
    if committed <= 0.0 {
        return;
    }
    for (i, sources) in checks.iter().enumerate() {
        let sources = sources.as_object().into_iter().flatten();
        let total: f64 = sources.clone().filter_map(|(_, v)| v.as_f64()).sum();
        let mut line = format!(
            "node {i} signature checks per payment: {:.3} (",
            total / committed
        );
        for (n, (source, count)) in sources.enumerate() {
            let sep = if n == 0 { "" } else { ", " };
            let _ = write!(
                line,
                "{sep}{source} {:.3}",
                count.as_f64().unwrap_or(0.0) / committed
            );
        }
        let _ = writeln!(table, "{line})");
    }
}

fn busy_lines(table: &mut String, busy: &[Value]) {
    use std::fmt::Write;
    for (i, phases) in busy.iter().enumerate() {
        let mut line = format!("node {i} driver busy s:");
        for (phase, seconds) in phases.as_object().into_iter().flatten() {
            let seconds = seconds.as_f64().unwrap_or(0.0);
            if seconds >= 0.005 {
                let _ = write!(line, " {phase} {seconds:.2}");
            }
        }
        let _ = writeln!(table, "{line}");
    }
}

fn node_lines(table: &mut String, nodes: &[Value]) {
    use std::fmt::Write;
    for (i, node) in nodes.iter().enumerate() {
        let _ = writeln!(
            table,
            "node {i}: cpu {:.0} %, peak RSS {:.0} MiB",
            node["cpu_percent"].as_f64().unwrap_or(0.0),
            node["peak_rss_mib"].as_f64().unwrap_or(0.0)
        );
    }
}

/// Runs the load against nodes at `urls` (every node is observed, in
/// turn), whose processes are `pids` (for CPU and memory; empty when
/// attached). Fails only if the ceiling probe cannot run.
pub fn run(
    spec: &BenchSpec,
    targets: &[Target],
    pids: &[u32],
    transactions: &[SignedTransaction],
    validators: usize,
) -> Result<BenchReport, String> {
    let urls: &[String] = &targets.iter().map(|t| t.url.clone()).collect::<Vec<_>>();
    let mut measured = Ceiling::measure(validators)?;
    let cpu_before = cpu_seconds(pids);
    let counters = Counters::read(urls);
    let step = offer(
        spec.rate,
        spec.duration,
        spec.batch,
        targets,
        transactions,
        DRAIN_MAX,
    );
    let nodes = node_usage(pids, &cpu_before, step.observed);
    let (busy, checks) = counters.delta(urls);
    measured.measure_again()?;
    let (ceiling_json, ceiling) = (measured.json(), measured.payments_per_s());
    let mut json = step.figures();
    let committed_per_s = json["committed_payments_per_s"].as_f64().unwrap_or(0.0);
    json["scenario"] = json!(match (spec.hot_account, spec.cross_currency_percent) {
        (true, 0) => "hot-account".to_owned(),
        (false, 0) => "transfers".to_owned(),
        (true, p) => format!("hot-account, {p} % cross-currency"),
        (false, p) => format!("transfers, {p} % cross-currency"),
    });
    json["cross_currency_percent"] = json!(spec.cross_currency_percent);
    json["validators"] = json!(validators);
    json["ceiling"] = ceiling_json.clone();
    json["fraction_of_ceiling"] = json!(committed_per_s / ceiling);
    json["nodes"] = json!(nodes);
    json["driver_busy_seconds"] = json!(busy);
    json["signature_checks"] = json!(checks);
    let mut table = step_table(&json);
    let _ = std::fmt::Write::write_fmt(
        &mut table,
        format_args!(
            "ceiling payments/s      {ceiling:.0}  ({:.0} verify_strict/s/core x {} cores / {validators} validators; the higher of {:.0} before and {:.0} after the load)\nfraction of ceiling     {:.1} %\n",
            measured.per_core(),
            cores(),
            measured.samples.first().copied().unwrap_or(0.0),
            measured.samples.last().copied().unwrap_or(0.0),
            100.0 * committed_per_s / ceiling
        ),
    );
    node_lines(&mut table, &nodes);
    busy_lines(&mut table, &busy);
    check_lines(
        &mut table,
        &checks,
        json["committed"].as_f64().unwrap_or(0.0),
    );
    Ok(BenchReport { json, table })
}

/// One step's figures as table lines.
fn step_table(json: &Value) -> String {
    use std::fmt::Write;
    let f = |key: &str| json[key].as_f64().unwrap_or(0.0);
    let mut table = String::new();
    if let Some(scenario) = json["scenario"].as_str() {
        let _ = writeln!(table, "scenario                {scenario}");
    }
    let _ = writeln!(
        table,
        "offered payments/s      {:.0}  (target {})",
        f("offered_payments_per_s"),
        json["target_payments_per_s"]
    );
    let _ = writeln!(
        table,
        "committed payments/s    {:.0}  ({} of {} submitted; {:.0}/s sustained)",
        f("committed_payments_per_s"),
        json["committed"],
        json["submitted"],
        f("committed_payments_per_s_sustained")
    );
    let _ = writeln!(
        table,
        "latency p50/p99/max ms  {}/{}/{}",
        json["latency_ms"]["p50"], json["latency_ms"]["p99"], json["latency_ms"]["max"]
    );
    let _ = writeln!(
        table,
        "refused / rejected      {} / {}",
        json["refused_at_submit"], json["rejected_in_blocks"]
    );
    let _ = writeln!(
        table,
        "blocks/s, avg size      {:.2}, {:.0}",
        f("blocks_per_s"),
        f("average_block_size")
    );
    let heights: Vec<String> = json["node_heights_after"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| h.as_u64().map_or("?".to_owned(), |h| h.to_string()))
        .collect();
    let _ = writeln!(table, "node heights after      {}", heights.join(" "));
    let machine = &json["machine_cpu_percent"];
    if machine.is_object() {
        let share = |kind: &str| machine[kind].as_f64().unwrap_or(0.0);
        let _ = writeln!(
            table,
            "machine cpu             user {:.0} %, system {:.0} %, idle {:.0} %, iowait {:.0} %, steal {:.0} % (taken by the host)",
            share("user"),
            share("system"),
            share("idle"),
            share("iowait"),
            share("steal")
        );
    }
    for example in json["uncommitted_examples"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let _ = writeln!(table, "not committed           {example}");
    }
    table
}

/// Waits until every node's mempool is empty (the last step drained), at
/// most `wait`. Returns whether it did.
fn wait_drained(urls: &[String], wait: Duration) -> bool {
    let agent = http_agent();
    let deadline = Instant::now() + wait;
    loop {
        let empty = urls.iter().all(|url| {
            get::<dto::NodeStatus>(&agent, &format!("{url}/v1/status")).map(|s| s.mempool_size)
                == Some(0)
        });
        if empty {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Finds the highest sustainable rate on one network: ramps by x1.5 from
/// `search.start_rate` until a step fails (or halves until one passes),
/// then bisects. Every step is in the report.
pub fn find_max(
    search: &SearchSpec,
    targets: &[Target],
    pids: &[u32],
    payers: &mut Payers,
    validators: usize,
) -> Result<BenchReport, String> {
    use std::fmt::Write;
    let urls: &[String] = &targets.iter().map(|t| t.url.clone()).collect::<Vec<_>>();
    let mut measured = Ceiling::measure(validators)?;
    let mut steps: Vec<Value> = Vec::new();
    let mut table = String::new();
    let _ = writeln!(
        table,
        "step  target/s  offered/s  committed/s  p50 ms  p99 ms  blocks/s  avg block  steal %  verdict"
    );
    let mut best: Option<Value> = None;
    let mut pass: Option<u64> = None;
    let mut fail: Option<u64> = None;
    let mut rate = search.start_rate.max(1);
    for index in 0..search.steps_max.max(1) {
        if !wait_drained(urls, DRAIN_MAX) {
            let _ = writeln!(
                table,
                "stopped: the network did not drain within {} s",
                DRAIN_MAX.as_secs()
            );
            break;
        }
        let step_ms = u64::try_from(search.step_duration.as_millis()).unwrap_or(u64::MAX);
        let count = usize::try_from(rate.saturating_mul(step_ms) / 1000).unwrap_or(usize::MAX);
        let transactions = payers.sign(count).map_err(|e| e.to_string())?;
        eprintln!(
            "step {index}: offering {rate} payments/s for {} s...",
            search.step_duration.as_secs_f64()
        );
        let cpu_before = cpu_seconds(pids);
        let counters = Counters::read(urls);
        let step = offer(
            rate,
            search.step_duration,
            search.batch,
            targets,
            &transactions,
            DRAIN_MAX,
        );
        let mut figures = step.figures();
        let verdict = step.verdict(&figures);
        figures["nodes"] = json!(node_usage(pids, &cpu_before, step.observed));
        let (busy, checks) = counters.delta(urls);
        figures["driver_busy_seconds"] = json!(busy);
        figures["signature_checks"] = json!(checks);
        figures["sustainable"] = json!(verdict == StepVerdict::Sustainable);
        if let StepVerdict::Unsustainable(reason) = &verdict {
            figures["why_not"] = json!(reason);
        }
        let f = |key: &str| figures[key].as_f64().unwrap_or(0.0);
        let _ = writeln!(
            table,
            "{index:>4}  {rate:>8}  {:>9.0}  {:>11.0}  {:>6}  {:>6}  {:>8.2}  {:>9.0}  {:>7}  {}",
            f("offered_payments_per_s"),
            f("committed_payments_per_s_sustained"),
            figures["latency_ms"]["p50"],
            figures["latency_ms"]["p99"],
            f("blocks_per_s"),
            f("average_block_size"),
            figures["machine_cpu_percent"]["steal"]
                .as_f64()
                .map_or("?".to_owned(), |steal| format!("{steal:.0}")),
            match &verdict {
                StepVerdict::Sustainable => "sustainable".to_owned(),
                StepVerdict::Unsustainable(reason) => reason.clone(),
            }
        );
        eprint!(
            "{}",
            table
                .lines()
                .last()
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        );
        measured.measure_again()?;
        steps.push(figures.clone());
        if verdict == StepVerdict::Sustainable {
            pass = Some(rate);
            best = Some(figures);
        } else {
            fail = Some(rate);
        }
        rate = match (pass, fail) {
            (Some(lo), None) => lo.saturating_mul(RAMP_NUMERATOR) / RAMP_DENOMINATOR + 1,
            (None, Some(hi)) => {
                if hi <= 10 {
                    break;
                }
                hi / 2
            }
            (Some(lo), Some(hi)) => {
                if (hi as f64) <= (lo as f64) * (1.0 + BISECT_RESOLUTION) {
                    break;
                }
                (lo + hi) / 2
            }
            (None, None) => break,
        };
    }
    let max_rate = pass.unwrap_or(0);
    let (ceiling_json, ceiling) = (measured.json(), measured.payments_per_s());
    let best_committed = best
        .as_ref()
        .and_then(|b| b["committed_payments_per_s_sustained"].as_f64())
        .unwrap_or(0.0);
    let _ = writeln!(
        table,
        "\nhighest sustainable rate {max_rate} payments/s ({:.1} % of the ceiling {ceiling:.0}: {:.0} verify_strict/s/core x {} cores / {validators} validators, the highest of {} measurements, before the search and after each step)",
        100.0 * max_rate as f64 / ceiling,
        measured.per_core(),
        cores(),
        measured.samples.len()
    );
    let _ = writeln!(
        table,
        "sustainable: offered >= {:.0} % of the target, nothing refused, all committed, committed/s >= {:.0} %, p99 <= {LATENCY_P99_BOUND_MS} ms, backlog not growing",
        100.0 * KEEP_UP_FRACTION,
        100.0 * KEEP_UP_FRACTION
    );
    let peak = node_usage(pids, &cpu_seconds(pids), Duration::from_secs(1));
    for (i, node) in peak.iter().enumerate() {
        let _ = writeln!(
            table,
            "node {i}: peak RSS {:.0} MiB",
            node["peak_rss_mib"].as_f64().unwrap_or(0.0)
        );
    }
    let json = json!({
        "mode": "find-max",
        "scenario": if search.hot_account { "hot-account" } else { "transfers" },
        "validators": validators,
        "criteria": {
            "keep_up_fraction": KEEP_UP_FRACTION,
            "latency_p99_bound_ms": LATENCY_P99_BOUND_MS,
            "backlog": "p50 of the last third of submissions <= 1.5 x p50 of the first third + 250 ms",
            "step_duration_s": search.step_duration.as_secs_f64(),
        },
        "max_sustainable_payments_per_s": max_rate,
        "max_sustainable_committed_payments_per_s": best_committed,
        "fraction_of_ceiling": max_rate as f64 / ceiling,
        "at_max": best,
        "ceiling": ceiling_json,
        "steps": steps,
        "peak_rss_mib": peak.iter().map(|n| n["peak_rss_mib"].clone()).collect::<Vec<_>>(),
    });
    Ok(BenchReport { json, table })
}

/// Writes the JSON report.
pub fn write_report(path: &Path, report: &BenchReport) -> std::io::Result<()> {
    std::fs::write(
        path,
        serde_json::to_string_pretty(&report.json).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cross_currency_mix_sends_its_percentage_through_the_quote() {
        let keys: Vec<Keypair> = (0..3u8).map(|i| Keypair::from_seed(&[i + 1; 32])).collect();
        let cny = AssetCode::new("CNY").unwrap();
        for percent in [0u8, 1, 25, 50, 100] {
            let mut payers = Payers::new(
                Hash([9; 32]),
                keys.iter().map(|k| Keypair::from_seed(&k.seed())).collect(),
                cny.clone(),
                None,
            )
            .with_quote(Hash([4; 32]), percent);
            let signed = payers.sign(400).unwrap();
            let through = signed
                .iter()
                .filter(|tx| matches!(tx.tx.body, Body::CrossTransfer { .. }))
                .count();
            assert_eq!(through, 4 * usize::from(percent), "{percent} %");
            // Nonces stay in order per payer whatever the body.
            for (i, tx) in signed.iter().enumerate() {
                assert_eq!(tx.tx.nonce, (i / 3) as u64);
            }
        }
    }
}
