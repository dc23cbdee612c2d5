//! Transaction commands: `transfer`, `issue`, `redeem`, `account register`,
//! and the signing, submitting and waiting that `escrow` and `credit` share.
//!
//! Each one reads the sender's key, asks the node for the chain id and
//! height (`/v1/status`) and the sender's next nonce (`/v1/accounts/…`),
//! converts the human amount with the asset's decimals ([`Prepared::decimals`]
//! is the one place that finds them), signs, submits and, with `--wait`,
//! polls until the transaction is committed or rejected.
//!
//! Fees: the envelope's `fee` is the most the sender accepts; the chain
//! charges its schedule's fee, never more. `--max-fee` sets it; otherwise a
//! transfer offers `amount / 100 + 100` minor units (its schedule fee on a
//! local testnet is 0.01 plus 2 basis points), and issue and redeem, which
//! pay no fee, offer 0. The receipt shows the fee actually charged.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::payment::{
    EndToEndId, NOT_PROVIDED, PaymentData, PaymentDataError, PaymentDetails, Remittance,
};
use clearhouse_ledger::sealed::{SealedDetails, SealingContext, SealingKey};
use clearhouse_ledger::{
    AccountId, Amount, AssetCode, Body, ChainId, Hash, SignedTransaction, Transaction,
};
use clearhouse_node::api::dto::{self, ErrorCode, Outcome, TransactionStatus, TxState};

use crate::amount::{self, HumanAmount};
use crate::cli::{IssueArgs, RedeemArgs, TransferArgs, TxOptions};
use crate::client::{Client, ClientError, Submitted, WAIT_MS_PER_POLL};
use crate::commands::keys::read_key;
use crate::commands::{Context, parse_account};
use crate::defaults;
use crate::exit::CliError;
use crate::output::{Table, cell, print, print_json};

/// A transaction command's amount, read the human way, with its asset's
/// decimals and the most fee the user accepts (if given).
pub(crate) struct Priced<'a> {
    pub(crate) prepared: Prepared<'a>,
    pub(crate) asset: AssetCode,
    pub(crate) decimals: u8,
    pub(crate) amount: Amount,
    pub(crate) max_fee: Option<Amount>,
}

impl<'a> Priced<'a> {
    /// Parses `amount` ("12.50 CNY") and `max_fee`, prepares the sender, and
    /// finds the asset's decimals (looking at `counterparty` too).
    pub(crate) fn new(
        context: &'a Context,
        options: &'a TxOptions,
        amount: &str,
        max_fee: Option<&str>,
        counterparty: Option<&AccountId>,
    ) -> Result<Priced<'a>, CliError> {
        let human = HumanAmount::parse(amount)?;
        let max_fee = max_fee.map(HumanAmount::parse).transpose()?;
        let prepared = Prepared::new(context, options)?;
        let decimals = prepared.decimals(&human.asset, counterparty)?;
        let amount = positive(human.to_minor_units(decimals)?, &human)?;
        let max_fee = match max_fee {
            Some(max_fee) => Some(fee_in(&max_fee, &human.asset, decimals)?),
            None => None,
        };
        Ok(Priced {
            prepared,
            asset: human.asset,
            decimals,
            amount,
            max_fee,
        })
    }

    /// Signs and sends `body` with the given fee cap.
    pub(crate) fn send(self, context: &Context, body: Body, fee: Amount) -> Result<(), CliError> {
        self.prepared
            .send(context, body, fee, Some((self.asset, self.decimals)))
    }
}

/// `clearhouse transfer`.
pub fn transfer(context: &Context, args: &TransferArgs) -> Result<(), CliError> {
    let to = parse_account(&args.to, "--to account")?;
    let priced = Priced::new(
        context,
        &args.options,
        &args.amount,
        args.max_fee.as_deref(),
        Some(&to),
    )?;
    let fee = priced
        .max_fee
        .unwrap_or_else(|| default_transfer_fee(priced.amount));
    let asset = priced.asset.clone();
    let amount = priced.amount;
    if let Some(quote) = &args.via {
        let quote = crate::commands::parse_hash(quote, "--via quote id")?;
        // A cross-currency transfer always carries payment data.
        let data = match payment_data(args)? {
            Some(data) => data,
            None => PaymentData {
                end_to_end_id: EndToEndId::new(NOT_PROVIDED)
                    .map_err(|e| CliError::Internal(e.to_string()))?,
                remittance: Remittance::default(),
            },
        };
        let details =
            priced
                .prepared
                .payment_details(&to, &asset, amount, data, args.clear_details)?;
        let body = Body::CrossTransfer {
            to,
            asset,
            amount,
            quote,
            details,
        };
        return priced.send(context, body, fee);
    }
    let body = match payment_data(args)? {
        Some(data) => Body::Payment {
            details: priced.prepared.payment_details(
                &to,
                &asset,
                amount,
                data,
                args.clear_details,
            )?,
            to,
            asset,
            amount,
        },
        None => Body::Transfer { to, asset, amount },
    };
    priced.send(context, body, fee)
}

/// The payment data `--end-to-end-id` and `--reference` give, if any.
fn payment_data(args: &TransferArgs) -> Result<Option<PaymentData>, CliError> {
    if args.end_to_end_id.is_none() && args.reference.is_none() {
        return Ok(None);
    }
    let usage = |error: PaymentDataError| CliError::Usage(error.to_string());
    let end_to_end_id =
        EndToEndId::new(args.end_to_end_id.as_deref().unwrap_or(NOT_PROVIDED)).map_err(usage)?;
    let remittance =
        Remittance::new(args.reference.as_deref().unwrap_or_default()).map_err(usage)?;
    Ok(Some(PaymentData {
        end_to_end_id,
        remittance,
    }))
}

/// `clearhouse issue`.
pub fn issue(context: &Context, args: &IssueArgs) -> Result<(), CliError> {
    let to = parse_account(&args.to, "--to account")?;
    let priced = Priced::new(
        context,
        &args.options,
        &args.amount,
        args.max_fee.as_deref(),
        Some(&to),
    )?;
    let fee = priced.max_fee.unwrap_or(Amount::ZERO);
    let body = Body::Issue {
        to,
        asset: priced.asset.clone(),
        amount: priced.amount,
    };
    priced.send(context, body, fee)
}

/// `clearhouse redeem`.
pub fn redeem(context: &Context, args: &RedeemArgs) -> Result<(), CliError> {
    let priced = Priced::new(
        context,
        &args.options,
        &args.amount,
        args.max_fee.as_deref(),
        None,
    )?;
    let fee = priced.max_fee.unwrap_or(Amount::ZERO);
    let body = Body::Redeem {
        asset: priced.asset.clone(),
        amount: priced.amount,
    };
    priced.send(context, body, fee)
}

/// `clearhouse account register`.
pub fn register_account(
    context: &Context,
    account: &str,
    options: &TxOptions,
) -> Result<(), CliError> {
    let account = parse_account(account, "--account")?;
    let prepared = Prepared::new(context, options)?;
    prepared.send(
        context,
        Body::RegisterAccount { account },
        Amount::ZERO,
        None,
    )
}

/// How many nonces the CLI tries when it fills in the nonce itself (other
/// transactions of the sender pending, or a block committed meanwhile)
/// before it reports the node's refusal.
pub const NONCE_TRIES_MAX: u64 = 64;

/// The default most fee of a transfer: 1% of the amount plus 100 minor
/// units, far above a local testnet's schedule (0.01 + 2 basis points).
pub fn default_transfer_fee(amount: Amount) -> Amount {
    Amount((amount.0 / 100).saturating_add(100))
}

pub(crate) fn positive(amount: Amount, human: &HumanAmount) -> Result<Amount, CliError> {
    if amount.is_zero() {
        return Err(CliError::Usage(format!(
            "invalid amount {human}: must be more than zero"
        )));
    }
    Ok(amount)
}

fn fee_in(max_fee: &HumanAmount, asset: &AssetCode, decimals: u8) -> Result<Amount, CliError> {
    if max_fee.asset != *asset {
        return Err(CliError::Usage(format!(
            "invalid --max-fee {max_fee}: the fee is paid in {}",
            asset.as_str()
        )));
    }
    max_fee.to_minor_units(decimals)
}

/// Everything a transaction needs from the key file and the node before its
/// body is known.
pub(crate) struct Prepared<'a> {
    options: &'a TxOptions,
    key: Keypair,
    pub(crate) client: Client,
    chain_id: ChainId,
    pub(crate) height: u64,
    /// The sender's account, `None` if not registered (the node will refuse
    /// the transaction, and says so better than we could guess).
    sender: Option<dto::Account>,
    /// Past the nonces this command has submitted.
    next_nonce: std::cell::Cell<u64>,
    /// The sealing recipients asked for, by payee.
    sealing: std::cell::RefCell<std::collections::HashMap<AccountId, Vec<dto::SealingRecipient>>>,
    /// A swap's counterparty key, to sign its consent for the nonce chosen.
    counter_key: Option<Keypair>,
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(context: &Context, options: &'a TxOptions) -> Result<Prepared<'a>, CliError> {
        let key = read_key(&options.key)?;
        let client = context.client_or(Some(&options.key))?;
        let status = client.status()?;
        let chain_id = Hash::from_hex(&status.chain_id)
            .map_err(|e| malformed(&client, &format!("status with a bad chain_id: {e}")))?;
        let height = status.height;
        let sender = client.account(&key.account())?;
        Ok(Prepared {
            options,
            key,
            client,
            chain_id,
            height,
            sender,
            next_nonce: std::cell::Cell::new(0),
            sealing: std::cell::RefCell::default(),
            counter_key: None,
        })
    }

    /// Signs every swap this command sends with `counterparty`'s consent
    /// too (for the nonce each one gets).
    pub(crate) fn with_counter_key(mut self, counterparty: Keypair) -> Prepared<'a> {
        self.counter_key = Some(counterparty);
        self
    }

    /// The chain id the node reported.
    pub(crate) fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    /// The sender's next nonce as the node reported it at the start.
    pub(crate) fn nonce(&self) -> u64 {
        nonce_of(self.sender.as_ref())
    }

    /// Signs `transaction` exactly as given (its nonce, fee and expiry are
    /// fixed: another party consented to them), submits it and reports as
    /// [`Prepared::send`] does.
    pub(crate) fn send_exact(
        &self,
        context: &Context,
        transaction: Transaction,
        fee_asset: Option<(AssetCode, u8)>,
    ) -> Result<(), CliError> {
        let signed = transaction
            .sign(&self.key)
            .map_err(|e| CliError::Internal(format!("cannot sign the transaction: {e}")))?;
        let hash = signed
            .id()
            .map_err(|e| CliError::Internal(format!("cannot hash the transaction: {e}")))?;
        let answer = match self.client.submit(&signed).map_err(refused)? {
            Submitted::Final(status) => Some(*status),
            Submitted::Pending => None,
        };
        let submitted = SubmittedTx {
            transaction: signed,
            hash,
            answer,
        };
        self.report(context, &submitted, fee_asset)
    }

    /// The decimals of `asset`: from the balances the node reports for the
    /// sender, then for `other` (the recipient, if the caller may read
    /// it), then from the node's `GET /v1/assets/{code}`, then from the genesis file
    /// (`--genesis` or the local testnet's); exit 2 if none tells.
    pub(crate) fn decimals(
        &self,
        asset: &AssetCode,
        other: Option<&AccountId>,
    ) -> Result<u8, CliError> {
        if let Some(decimals) = self
            .sender
            .as_ref()
            .and_then(|a| balance_decimals(a, asset))
        {
            return Ok(decimals);
        }
        if let Some(other) = other {
            // The recipient's account is private to it, its bank and the
            // overseers: outside the caller's scope, ask the genesis.
            let theirs = match self.client.account(other) {
                Ok(account) => account,
                Err(error) if error.is(ErrorCode::OutOfScope) => None,
                Err(error) => return Err(error.into()),
            };
            if let Some(decimals) = theirs.as_ref().and_then(|a| balance_decimals(a, asset)) {
                return Ok(decimals);
            }
        }
        // The chain's own word, public.
        if let Some(found) = self.client.asset(asset.as_str())? {
            return Ok(found.decimals);
        }
        let Some(path) = defaults::genesis_path(self.options.genesis.as_deref()) else {
            return Err(CliError::Usage(format!(
                "cannot tell how many decimals {} has: the accounts involved hold none; \
                 pass --genesis FILE",
                asset.as_str()
            )));
        };
        self.genesis_decimals(&path, asset)
    }

    fn genesis_decimals(&self, path: &Path, asset: &AssetCode) -> Result<u8, CliError> {
        let genesis = defaults::load_genesis(path)?;
        let chain_id = genesis
            .chain_id()
            .map_err(|e| CliError::Usage(format!("genesis {}: {e}", path.display())))?;
        if chain_id != self.chain_id {
            return Err(CliError::Usage(format!(
                "genesis {} is for chain {chain_id}, the node is on chain {}",
                path.display(),
                self.chain_id
            )));
        }
        genesis
            .assets
            .get(asset)
            .map(|state| state.decimals)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "unknown asset {}: not on this chain",
                    asset.as_str()
                ))
            })
    }

    /// The signing account.
    pub(crate) fn account(&self) -> AccountId {
        self.key.account()
    }

    /// `data` as a payment of `amount` `asset` to `to` carries it: sealed
    /// for the banks on both sides, the regulators and the auditors that
    /// publish sealing keys (as `GET /v1/sealing-keys` names them), or in
    /// the clear when `clear`. Exit 2 if a party the chain requires
    /// publishes no key.
    pub(crate) fn payment_details(
        &self,
        to: &AccountId,
        asset: &AssetCode,
        amount: Amount,
        data: PaymentData,
        clear: bool,
    ) -> Result<PaymentDetails, CliError> {
        if clear {
            return Ok(PaymentDetails::Clear(data));
        }
        let sender = self.account();
        let recipients = match self.sealing.borrow().get(to) {
            Some(known) => known.clone(),
            None => self.client.sealing_keys(&sender, to)?.recipients,
        };
        let mut keys = Vec::with_capacity(recipients.len());
        for recipient in &recipients {
            match (&recipient.sealing_key, recipient.required) {
                (Some(text), _) => keys.push(
                    SealingKey::from_hex(text)
                        .map_err(|e| malformed(&self.client, &format!("sealing keys: {e}")))?,
                ),
                (None, true) => {
                    return Err(CliError::Usage(format!(
                        "{} publishes no sealing key, so the payment data cannot be sealed for it; pass --clear-details to send the reference in the clear",
                        recipient.party
                    )));
                }
                (None, false) => {}
            }
        }
        self.sealing.borrow_mut().insert(*to, recipients);
        let context = SealingContext::new(&self.chain_id, &sender, to, asset, amount);
        let sealed = SealedDetails::seal(&data, &keys, &context, rand::random::<[u8; 32]>())
            .map_err(|e| CliError::Usage(format!("the payment data cannot be sealed: {e}")))?;
        Ok(PaymentDetails::Sealed(sealed))
    }

    /// The sender's next nonce as the node sees it now.
    fn account_nonce(&self) -> Result<u64, CliError> {
        let account = self.client.account(&self.key.account())?;
        Ok(nonce_of(account.as_ref()))
    }

    /// Signs `body`, submits it and reports; with `--wait`, until final.
    pub(crate) fn send(
        &self,
        context: &Context,
        body: Body,
        fee: Amount,
        fee_asset: Option<(AssetCode, u8)>,
    ) -> Result<(), CliError> {
        let submitted = self.submit(body, fee)?;
        self.report(context, &submitted, fee_asset)
    }

    /// Waits (with `--wait`) and prints the receipt; exit codes for a
    /// rejection and a timeout.
    pub(crate) fn report(
        &self,
        context: &Context,
        submitted: &SubmittedTx,
        fee_asset: Option<(AssetCode, u8)>,
    ) -> Result<(), CliError> {
        let (answer, timed_out) = self.wait(submitted)?;
        let hash = submitted.hash;
        let receipt = receipt_json(&hash, answer.as_ref());
        if context.json {
            print_json(&receipt);
        } else {
            let counter_asset = match &submitted.transaction.tx.body {
                Body::Swap { take_asset, .. } => Some(take_asset.clone()),
                _ => None,
            };
            let mut table = receipt_table(&receipt, fee_asset.as_ref());
            if let (Some(counter_fee), Some(asset)) = (&receipt.counter_fee, counter_asset) {
                table.field("counter fee", self.human(counter_fee, &asset));
            }
            if let Some(converted) = &receipt.converted {
                let received = match AssetCode::new(&converted.asset) {
                    Ok(asset) => self.human(&converted.minor_units, &asset),
                    Err(_) => format!("{} {}", converted.minor_units, converted.asset),
                };
                table.field(
                    "received",
                    format!(
                        "{received} (rate {}/{} in minor units)",
                        converted.rate.numerator, converted.rate.denominator
                    ),
                );
            }
            print(&table.render());
        }
        if timed_out {
            return Err(CliError::WaitTimedOut(format!(
                "transaction {hash} is still pending after {} s",
                self.options.timeout_secs
            )));
        }
        if receipt.status == TxState::Rejected {
            return Err(CliError::Rejected(format!(
                "transaction {hash} rejected: {}",
                receipt.reason.as_deref().unwrap_or("no reason given")
            )));
        }
        Ok(())
    }

    /// Minor units of `asset` for people, with the decimals the chain
    /// states for it (as minor units when it does not say).
    pub(crate) fn human(&self, minor_units: &str, asset: &AssetCode) -> String {
        match self.client.asset(asset.as_str()) {
            Ok(Some(found)) => human_fee(minor_units, Some(&(asset.clone(), found.decimals))),
            _ => format!("{minor_units} minor units of {}", asset.as_str()),
        }
    }

    /// Signs `body` with the next free nonce (or `--nonce`) and submits it.
    pub(crate) fn submit(&self, body: Body, fee: Amount) -> Result<SubmittedTx, CliError> {
        // After this command's own earlier submissions (an import's), the
        // next free nonce is past them: start there, not from the account.
        let nonce = match self.options.nonce {
            Some(nonce) => nonce,
            None => nonce_of(self.sender.as_ref()).max(self.next_nonce.get()),
        };
        let expiry_height = self
            .height
            .checked_add(self.options.expiry_blocks)
            .ok_or_else(|| CliError::Usage("--expiry-blocks is too large".into()))?;
        let sign = |nonce: u64| -> Result<(SignedTransaction, Hash), CliError> {
            let mut unsigned = Transaction {
                chain_id: self.chain_id,
                sender: self.key.account(),
                nonce,
                fee,
                expiry_height,
                body: body.clone(),
            };
            if let Some(counterparty) = &self.counter_key {
                unsigned = unsigned
                    .with_consent(counterparty)
                    .map_err(|e| CliError::Internal(format!("cannot sign the consent: {e}")))?;
            }
            let transaction = unsigned
                .sign(&self.key)
                .map_err(|e| CliError::Internal(format!("cannot sign the transaction: {e}")))?;
            let hash = transaction
                .id()
                .map_err(|e| CliError::Internal(format!("cannot hash the transaction: {e}")))?;
            Ok((transaction, hash))
        };

        // The account's nonce counts committed transactions only: while
        // earlier ones are pending, the next free nonce is further on. An
        // identical transaction already pending (the same command run twice
        // within a block) would be taken for a resubmission of it, so it
        // moves the nonce on too. With --nonce the user chose: resending the
        // same bytes is then an idempotent retry.
        let automatic = self.options.nonce.is_none();
        let mut nonce = nonce;
        let mut pending_ahead = 0;
        let mut tries = 0;
        let (transaction, hash, answer) = loop {
            tries += 1;
            let may_retry = automatic && tries < NONCE_TRIES_MAX;
            let next = nonce
                .checked_add(pending_ahead)
                .ok_or_else(|| CliError::Rejected("the sender's nonces are exhausted".into()))?;
            let (transaction, hash) = sign(next)?;
            if may_retry {
                match self.client.transaction(&hash, 0)?.status {
                    TxState::Unknown => {}
                    TxState::Pending => {
                        pending_ahead += 1;
                        continue;
                    }
                    // Committed since the nonce was read: read it again.
                    TxState::Committed | TxState::Rejected => {
                        nonce = self.account_nonce()?;
                        pending_ahead = 0;
                        continue;
                    }
                }
            }
            match self.client.submit(&transaction) {
                // With an automatic nonce this is meant as a new payment:
                // identical bytes already final mean an identical earlier
                // payment committed between the check above and the submit
                // (its nonce is used), not that this one did.
                Ok(Submitted::Final(_)) if may_retry => {
                    nonce = self.account_nonce()?;
                    pending_ahead = 0;
                }
                Ok(Submitted::Final(status)) => break (transaction, hash, Some(*status)),
                Ok(Submitted::Pending) => break (transaction, hash, None),
                Err(error) if error.is(ErrorCode::NoncePending) && may_retry => {
                    pending_ahead += 1;
                }
                // A block committed since the nonce was read.
                Err(error) if error.is(ErrorCode::NonceUsed) && may_retry => {
                    nonce = self.account_nonce()?;
                    pending_ahead = 0;
                }
                Err(error) => return Err(refused(error)),
            }
        };
        self.next_nonce.set(
            transaction
                .tx
                .nonce
                .saturating_add(1)
                .max(self.next_nonce.get()),
        );
        Ok(SubmittedTx {
            transaction,
            hash,
            answer,
        })
    }

    /// With `--wait`, polls until `submitted` is final or the timeout
    /// passes: the last answer (`None`: still pending) and whether it timed
    /// out. Without, the answer the submission gave.
    pub(crate) fn wait(
        &self,
        submitted: &SubmittedTx,
    ) -> Result<(Option<TransactionStatus>, bool), CliError> {
        self.wait_until(submitted, self.deadline())
    }

    /// The `--wait` deadline counted from now.
    pub(crate) fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs(self.options.timeout_secs)
    }

    /// [`Prepared::wait`] with a deadline of the caller's (one for many
    /// transactions).
    pub(crate) fn wait_until(
        &self,
        submitted: &SubmittedTx,
        deadline: Instant,
    ) -> Result<(Option<TransactionStatus>, bool), CliError> {
        let SubmittedTx {
            transaction,
            hash,
            answer,
        } = submitted;
        let mut answer = answer.clone();
        let mut timed_out = false;
        if self.options.wait {
            while answer.is_none() {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    timed_out = true;
                    break;
                }
                let wait_ms = u64::try_from(remaining.as_millis())
                    .unwrap_or(u64::MAX)
                    .clamp(1, WAIT_MS_PER_POLL);
                let status = self.client.transaction(hash, wait_ms)?;
                match status.status {
                    TxState::Committed | TxState::Rejected => answer = Some(status),
                    // The node forgot it (restarted, mempool lost): the same
                    // bytes again are harmless, and final if already final.
                    TxState::Unknown => {
                        if let Submitted::Final(status) =
                            self.client.submit(transaction).map_err(refused)?
                        {
                            answer = Some(*status);
                        }
                    }
                    TxState::Pending => {}
                }
            }
        }
        Ok((answer, timed_out))
    }
}

/// A signed transaction the node accepted (or already knew final).
pub(crate) struct SubmittedTx {
    /// What was sent.
    pub(crate) transaction: SignedTransaction,
    /// Its id.
    pub(crate) hash: Hash,
    /// The node's final answer, if it gave one on submission.
    pub(crate) answer: Option<TransactionStatus>,
}

/// The keys of a transaction command's `--json` receipt, sorted: a stable,
/// documented shape (`null` where a key does not apply).
pub const RECEIPT_JSON_KEYS: [&str; 10] = [
    "converted",
    "counter_fee",
    "fee",
    "hash",
    "height",
    "index",
    "outcome",
    "reason",
    "reason_code",
    "status",
];

/// The `--json` receipt of a transaction command: every key of
/// [`RECEIPT_JSON_KEYS`] is present, `null` where the state does not have
/// the field (unlike the node's answer, which leaves such fields out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandReceipt {
    /// The transaction id, hex.
    pub hash: String,
    /// Pending (no answer yet), committed or rejected.
    pub status: TxState,
    /// Its block.
    pub height: Option<u64>,
    /// Its position in the block.
    pub index: Option<u32>,
    /// Applied or rejected.
    pub outcome: Option<Outcome>,
    /// The fee charged, minor units.
    pub fee: Option<String>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The rejection's stable code.
    pub reason_code: Option<String>,
    /// A swap's counterparty fee, minor units.
    pub counter_fee: Option<String>,
    /// A cross-currency transfer's conversion: what the payee received.
    pub converted: Option<dto::Conversion>,
}

/// The receipt of transaction `hash` from the node's last answer (`None`:
/// still pending).
pub fn receipt_json(hash: &Hash, answer: Option<&TransactionStatus>) -> CommandReceipt {
    CommandReceipt {
        hash: hash.to_hex(),
        status: answer.map_or(TxState::Pending, |a| a.status),
        height: answer.and_then(|a| a.height),
        index: answer.and_then(|a| a.index),
        outcome: answer.and_then(|a| a.outcome),
        fee: answer.and_then(|a| a.fee.clone()),
        reason: answer.and_then(|a| a.reason.clone()),
        reason_code: answer.and_then(|a| a.reason_code.clone()),
        counter_fee: answer.and_then(|a| a.counter_fee.clone()),
        converted: answer.and_then(|a| a.converted.clone()),
    }
}

fn receipt_table(receipt: &CommandReceipt, fee_asset: Option<&(AssetCode, u8)>) -> Table {
    let mut table = Table::key_values();
    table
        .field("hash", receipt.hash.as_str())
        .field("status", receipt.status.as_str());
    if receipt.status == TxState::Pending {
        return table;
    }
    table
        .field("height", cell(receipt.height))
        .field("index", cell(receipt.index))
        .field("outcome", cell(receipt.outcome));
    if let Some(fee) = &receipt.fee {
        table.field("fee", human_fee(fee, fee_asset));
    }
    if let Some(reason) = &receipt.reason {
        table
            .field("reason", reason.as_str())
            .field("reason code", cell(receipt.reason_code.as_deref()));
    }
    table
}

/// A fee in minor units (as the node writes it) for people.
pub fn human_fee(minor_units: &str, asset: Option<&(AssetCode, u8)>) -> String {
    match (minor_units.parse::<u128>(), asset) {
        (Ok(units), Some((asset, decimals))) => {
            amount::format(Amount(units), *decimals, asset.as_str())
        }
        _ => minor_units.to_owned(),
    }
}

/// The decimals an account's balance of `asset` is written with.
fn balance_decimals(account: &dto::Account, asset: &AssetCode) -> Option<u8> {
    account
        .balances
        .iter()
        .find(|balance| balance.asset.as_deref() == Some(asset.as_str()))
        .and_then(|balance| balance.amount.as_deref())
        .and_then(amount::decimals_of)
}

/// The next nonce of an account answer; 0 for an unregistered sender (the
/// node refuses it, and says why).
fn nonce_of(account: Option<&dto::Account>) -> u64 {
    account.map_or(0, |account| account.nonce)
}

/// A refused submission: any client error (a 4xx code, or a 4xx status
/// without a known code) is a rejection (exit 4).
fn refused(error: ClientError) -> CliError {
    match error {
        ClientError::Http {
            status,
            code,
            message,
        } if (400..500).contains(&code.map_or(status, ErrorCode::http_status)) => {
            let code = code.map_or("no code", ErrorCode::as_str);
            CliError::Rejected(format!(
                "transaction refused by the node: {message} ({code})"
            ))
        }
        other => other.into(),
    }
}

fn malformed(client: &Client, reason: &str) -> CliError {
    CliError::Internal(format!(
        "malformed answer from {}: {reason}",
        client.base_url()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fee_covers_the_testnet_schedule() {
        // 12.50 CNY: schedule 1 + 1250 * 2 / 10_000 = 1 minor unit.
        assert_eq!(default_transfer_fee(Amount(1250)), Amount(112));
        assert_eq!(
            default_transfer_fee(Amount(u128::MAX)).0,
            u128::MAX / 100 + 100
        );
    }

    #[test]
    fn receipt_has_every_key_even_when_pending() {
        let hash = Hash([7; 32]);
        let pending = serde_json::to_value(receipt_json(&hash, None)).unwrap();
        let mut keys: Vec<&String> = pending.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, RECEIPT_JSON_KEYS);
        assert_eq!(pending["status"], "pending");
        assert!(pending["height"].is_null());
        let committed: TransactionStatus = serde_json::from_str(
            r#"{"hash": "ab", "status": "committed", "height": 3, "index": 0,
                "outcome": "applied", "fee": "1"}"#,
        )
        .unwrap();
        let receipt = receipt_json(&hash, Some(&committed));
        assert_eq!(receipt.height, Some(3));
        assert_eq!(receipt.fee.as_deref(), Some("1"));
        let json = serde_json::to_value(&receipt).unwrap();
        let mut keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, RECEIPT_JSON_KEYS);
    }

    #[test]
    fn fees_read_as_money() {
        let cny = (AssetCode::new("CNY").unwrap(), 2);
        assert_eq!(human_fee("1", Some(&cny)), "0.01 CNY");
        assert_eq!(human_fee("1", None), "1");
    }
}
