//! Transactions: the signed envelope and its bodies.
//!
//! The envelope carries the chain id, the sender, its nonce, the most fee the
//! sender accepts, an expiry height and the body; the sender signs the
//! envelope's signing bytes with ed25519 (see the crate docs for the layout
//! byte by byte). The transaction id is the SHA-256 of the signing bytes, so
//! it excludes the signature: no signature variant makes a new id.
//!
//! [`Body`] grows by appending variants (escrow, credit, swap, governance): a
//! variant's index is part of the signing bytes and never changes.

use serde::{Deserialize, Serialize};

use crate::amount::{Amount, Rate};
use crate::codec::{self, CodecError, TX_BYTES_MAX};
use crate::crypto::{self, CryptoError, Keypair, Signature, sha256, tag};
use crate::ids::{AccountId, AssetCode, Category, ChainId, Hash, MemberId};
use crate::payment::{PaymentData, PaymentDetails};
use crate::sealed::{SealingContext, SealingSecret};
use crate::state::governance::Action;

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Variant 0. Move `amount` of `asset` from the sender to `to` (another
    /// account). The fee is paid in the same asset, on top of `amount`.
    Transfer {
        /// The receiving account.
        to: AccountId,
        /// What is moved.
        asset: AssetCode,
        /// How much, in minor units.
        amount: Amount,
    },
    /// Variant 1. Mint `amount` of `asset` into `to`; only the issuing bank's
    /// treasury may send it. Supply grows by `amount`.
    Issue {
        /// The credited account.
        to: AccountId,
        /// The asset, issued by the sender's bank.
        asset: AssetCode,
        /// How much, in minor units.
        amount: Amount,
    },
    /// Variant 2. Burn `amount` of `asset` from the sender's own balance; only
    /// the issuing bank's treasury may send it (a customer redeems by paying
    /// the treasury, which burns and pays out off-chain). Supply shrinks.
    Redeem {
        /// The asset, issued by the sender's bank.
        asset: AssetCode,
        /// How much, in minor units.
        amount: Amount,
    },
    /// Variant 3. Register `account` as a customer of the sender's bank; only
    /// a bank's treasury may send it. Refused for keys that are not on the
    /// curve or have small order.
    RegisterAccount {
        /// The new account's public key.
        account: AccountId,
    },
    /// Variant 4. Open a guaranteed payment: `amount` of `asset` leaves the
    /// sender (the buyer) and is held for `seller`. The buyer pays the
    /// transfer fee of the schedule on opening. The escrow's id is this
    /// transaction's id. See `state::escrow` for the life cycle.
    EscrowOpen {
        /// Who is paid when the escrow releases.
        seller: AccountId,
        /// What is held.
        asset: AssetCode,
        /// How much, in minor units.
        amount: Amount,
        /// The member bank that resolves a dispute.
        arbiter: MemberId,
        /// The last height at which the buyer may release an undisputed
        /// escrow or either party may dispute; past it, an undisputed escrow
        /// releases to the seller. A disputed escrow may still be conceded
        /// (released by the buyer, refunded by the seller) until it settles.
        confirm_deadline: u64,
        /// The last height at which the arbiter may resolve a dispute; past
        /// it, an unresolved dispute refunds the buyer.
        arbiter_deadline: u64,
        /// What the payment is for (e.g. the hash of the order).
        reference: Hash,
    },
    /// Variant 5. The buyer releases the escrow to the seller.
    EscrowRelease {
        /// The escrow id (its opening transaction's id).
        escrow: Hash,
    },
    /// Variant 6. The seller refunds the escrow to the buyer.
    EscrowRefund {
        /// The escrow id.
        escrow: Hash,
    },
    /// Variant 7. The buyer or the seller disputes an open escrow.
    EscrowDispute {
        /// The escrow id.
        escrow: Hash,
    },
    /// Variant 8. The arbiter bank's treasury settles a disputed escrow:
    /// `to_seller` to the seller, the rest to the buyer.
    EscrowResolve {
        /// The escrow id.
        escrow: Hash,
        /// The seller's part, minor units, at most the escrowed amount.
        to_seller: Amount,
    },
    /// Variant 9. The treasury of the bank hosting `account` grants (or
    /// changes) a credit line in `asset`. Debt already drawn stays.
    CreditGrant {
        /// The customer.
        account: AccountId,
        /// The asset of the line.
        asset: AssetCode,
        /// The granted limit, minor units (the usable limit may be lower:
        /// it is capped by the account's trust rating).
        limit: Amount,
        /// Blocks within which each draw must be repaid.
        period_blocks: u64,
    },
    /// Variant 10. The hosting bank's treasury revokes a credit line: the
    /// limit becomes zero, drawn debt stays until repaid.
    CreditRevoke {
        /// The customer.
        account: AccountId,
        /// The asset of the line.
        asset: AssetCode,
    },
    /// Variant 11. A member bank's treasury files a credit attestation about
    /// an account. A bank's latest attestation about an account replaces
    /// its earlier one in the account's credit record.
    CreditAttest {
        /// The account attested.
        account: AccountId,
        /// Favourable (`true`) or adverse (`false`).
        positive: bool,
        /// What it is about, e.g. `repayment`.
        category: Category,
        /// The bank's reference for the evidence (a document hash).
        reference: Hash,
    },
    /// Variant 12. A transfer that carries payment data: the payer's
    /// end-to-end id and remittance information (see [`crate::payment`]).
    /// It moves money exactly as [`Body::Transfer`] does, fee included.
    Payment {
        /// The receiving account.
        to: AccountId,
        /// What is moved.
        asset: AssetCode,
        /// How much, in minor units.
        amount: Amount,
        /// The payment's data.
        details: PaymentDetails,
    },
    /// Variant 13. An atomic swap, payment versus payment: `give_amount` of
    /// `give_asset` moves from the sender to `counterparty` and
    /// `take_amount` of `take_asset` from `counterparty` to the sender, in
    /// one step: both legs settle or neither does. The counterparty
    /// consents by signing [`Transaction::swap_consent_bytes`] (the same
    /// envelope, this signature zeroed, under its own tag); the sender's
    /// signature covers everything. Each side pays its leg's fee in the
    /// asset it gives, on top: the sender at most the envelope's `fee`,
    /// the counterparty at most `counter_fee`.
    Swap {
        /// The other party, who signs the consent.
        counterparty: AccountId,
        /// What the sender gives.
        give_asset: AssetCode,
        /// How much it gives, minor units.
        give_amount: Amount,
        /// What the sender receives.
        take_asset: AssetCode,
        /// How much it receives, minor units.
        take_amount: Amount,
        /// The most fee the counterparty accepts, in `take_asset`.
        counter_fee: Amount,
        /// The counterparty's ed25519 signature over the consent bytes.
        counter_signature: Signature,
    },
    /// Variant 14. A bank's treasury posts an FX quote: it pays out
    /// `pay_asset` at `rate` for `receive_asset`, up to `maximum` of
    /// `pay_asset` in all, through height `valid_until`. The quote's id is
    /// this transaction's id (see `state::fx`).
    QuotePost {
        /// What the bank pays out.
        pay_asset: AssetCode,
        /// What it takes in.
        receive_asset: AssetCode,
        /// Minor units of `pay_asset` per minor units of `receive_asset`.
        rate: Rate,
        /// The most of `pay_asset` the quote pays out in all.
        maximum: Amount,
        /// The last height at which the quote may be used.
        valid_until: u64,
    },
    /// Variant 15. The posting bank's treasury withdraws a quote.
    QuoteWithdraw {
        /// The quote id.
        quote: Hash,
    },
    /// Variant 16. A cross-currency transfer with its payment data: the
    /// sender pays `amount` of `asset` (and the fee, in `asset`) to the
    /// quoting bank, and `to` receives the quote's other asset, `amount`
    /// converted at the quote's rate, rounded down.
    CrossTransfer {
        /// The receiving account.
        to: AccountId,
        /// What the sender pays: the quote's `receive_asset`.
        asset: AssetCode,
        /// How much it pays, minor units.
        amount: Amount,
        /// The quote it converts at.
        quote: Hash,
        /// The payment's data (sealed under the payer's asset and amount).
        details: PaymentDetails,
    },
    /// Variant 17. A member bank's governance account proposes `action`;
    /// votes are taken for `voting_period` blocks, this one included. The
    /// proposal's id is this transaction's id; proposing counts as the
    /// proposer's yes (see `state::governance`).
    Propose {
        /// What would change.
        action: Action,
        /// Blocks during which votes count.
        voting_period: u64,
    },
    /// Variant 18. A member bank's governance account votes on a proposal.
    Vote {
        /// The proposal id.
        proposal: Hash,
        /// `true` for yes.
        approve: bool,
    },
}

impl Body {
    /// A short lower-case name for logs and receipts.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Transfer { .. } => "transfer",
            Body::Issue { .. } => "issue",
            Body::Redeem { .. } => "redeem",
            Body::RegisterAccount { .. } => "register_account",
            Body::EscrowOpen { .. } => "escrow_open",
            Body::EscrowRelease { .. } => "escrow_release",
            Body::EscrowRefund { .. } => "escrow_refund",
            Body::EscrowDispute { .. } => "escrow_dispute",
            Body::EscrowResolve { .. } => "escrow_resolve",
            Body::CreditGrant { .. } => "credit_grant",
            Body::CreditRevoke { .. } => "credit_revoke",
            Body::CreditAttest { .. } => "credit_attest",
            Body::Payment { .. } => "payment",
            Body::Swap { .. } => "swap",
            Body::QuotePost { .. } => "quote_post",
            Body::QuoteWithdraw { .. } => "quote_withdraw",
            Body::CrossTransfer { .. } => "cross_transfer",
            Body::Propose { .. } => "propose",
            Body::Vote { .. } => "vote",
        }
    }
}

/// The signed part of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The chain this transaction is for (the genesis hash).
    pub chain_id: ChainId,
    /// Who signs and pays.
    pub sender: AccountId,
    /// The sender's next nonce: transactions of one sender apply in nonce
    /// order, each exactly once, starting at 0.
    pub nonce: u64,
    /// The most fee the sender accepts, in minor units of the asset the body
    /// moves. The fee charged is the schedule's, never more than this.
    pub fee: Amount,
    /// The last height at which this transaction may be included.
    pub expiry_height: u64,
    /// What it does.
    pub body: Body,
}

impl Transaction {
    /// The bytes the sender signs: the transaction tag, then the canonical
    /// encoding of this envelope.
    pub fn signing_bytes(&self) -> Result<Vec<u8>, CodecError> {
        let mut bytes = tag::TRANSACTION.to_vec();
        codec::encode_into(self, &mut bytes)?;
        Ok(bytes)
    }

    /// The transaction id: SHA-256 of the signing bytes.
    pub fn id(&self) -> Result<Hash, CodecError> {
        Ok(sha256(&[&self.signing_bytes()?]))
    }

    /// A payment's details with the context they are sealed under; `None`
    /// for every other body.
    pub fn payment_details(&self) -> Option<(&PaymentDetails, SealingContext)> {
        match &self.body {
            Body::Payment {
                to,
                asset,
                amount,
                details,
            }
            | Body::CrossTransfer {
                to,
                asset,
                amount,
                details,
                ..
            } => Some((
                details,
                SealingContext::new(&self.chain_id, &self.sender, to, asset, *amount),
            )),
            _ => None,
        }
    }

    /// A payment's data: in the clear, or opened with `secret` where it is
    /// sealed for it. `None` for other bodies and for details this reader
    /// cannot open.
    pub fn payment_data(&self, secret: Option<&SealingSecret>) -> Option<PaymentData> {
        let (Body::Payment { details, .. } | Body::CrossTransfer { details, .. }) = &self.body
        else {
            return None;
        };
        match details {
            PaymentDetails::Clear(data) => Some(data.clone()),
            // The context is hashed only for a payment this secret can open.
            PaymentDetails::Sealed(sealed) => {
                let secret = secret.filter(|secret| sealed.is_sealed_for(&secret.public()))?;
                let (_, context) = self.payment_details()?;
                sealed.open(secret, &context).ok()
            }
        }
    }

    /// What a swap's counterparty signs: the swap consent tag, then the
    /// canonical encoding of this envelope with the body's
    /// `counter_signature` set to 64 zero bytes. It covers the sender, its
    /// nonce (so a consent is good for one transaction only), the fee it
    /// accepts, the expiry and both legs. `None` for other bodies.
    pub fn swap_consent_bytes(&self) -> Option<Result<Vec<u8>, CodecError>> {
        let Body::Swap { .. } = &self.body else {
            return None;
        };
        let mut unsigned = self.clone();
        if let Body::Swap {
            counter_signature, ..
        } = &mut unsigned.body
        {
            *counter_signature = Signature([0; 64]);
        }
        let mut bytes = tag::SWAP_CONSENT.to_vec();
        Some(codec::encode_into(&unsigned, &mut bytes).map(|()| bytes))
    }

    /// The counterparty's consent to this swap, signed with its key: the
    /// body's `counter_signature` becomes it. Does nothing to other bodies.
    pub fn with_consent(mut self, counterparty: &Keypair) -> Result<Transaction, CodecError> {
        if let Some(bytes) = self.swap_consent_bytes() {
            let signature = counterparty.sign(&bytes?);
            if let Body::Swap {
                counter_signature, ..
            } = &mut self.body
            {
                *counter_signature = signature;
            }
        }
        Ok(self)
    }

    /// Signs the envelope with the sender's key.
    pub fn sign(self, key: &Keypair) -> Result<SignedTransaction, CodecError> {
        let signature = key.sign(&self.signing_bytes()?);
        Ok(SignedTransaction {
            tx: self,
            signature,
        })
    }
}

/// A transaction with the sender's signature: what is gossiped and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    /// The signed envelope.
    pub tx: Transaction,
    /// ed25519 signature by `tx.sender` over `tx.signing_bytes()`.
    pub signature: Signature,
}

/// Why a transaction is not acceptable at all, before any state is consulted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes are not a transaction.
    #[error("malformed transaction: {0}")]
    Codec(#[from] CodecError),
    /// Signed for another chain.
    #[error("transaction is for chain {found}, this chain is {expected}")]
    WrongChain {
        /// This chain's id.
        expected: ChainId,
        /// The transaction's chain id.
        found: ChainId,
    },
    /// The signature does not verify under the sender's key.
    #[error("bad signature: {0}")]
    Signature(#[from] CryptoError),
    /// A swap whose counterparty's consent does not verify (checked at
    /// admission by [`SignedTransaction::check_consent`]; a block carrying
    /// one is still valid, and its receipt says `BadConsent`).
    #[error("the swap counterparty's consent signature does not verify")]
    BadConsent,
}

impl SignedTransaction {
    /// Decodes wire bytes (at most [`TX_BYTES_MAX`], canonical, nothing trailing).
    pub fn decode(bytes: &[u8]) -> Result<SignedTransaction, TxError> {
        Ok(codec::decode::<SignedTransaction, TX_BYTES_MAX>(bytes)?)
    }

    /// The wire bytes.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self)
    }

    /// The transaction id.
    pub fn id(&self) -> Result<Hash, CodecError> {
        self.tx.id()
    }

    /// The id and the wire size, from one encoding of the envelope: the
    /// wire bytes are the envelope's encoding followed by the 64 signature
    /// bytes, and the signing bytes are the tag followed by that same
    /// envelope encoding. For a caller that needs both without encoding
    /// the transaction twice (gossip admission, on the driver's loop).
    pub fn id_and_wire_len(&self) -> Result<(Hash, usize), CodecError> {
        let signing_bytes = self.tx.signing_bytes()?;
        let wire_len = signing_bytes.len() - tag::TRANSACTION.len() + self.signature.0.len();
        Ok((sha256(&[&signing_bytes]), wire_len))
    }

    /// Checks the chain id and the signature (`verify_strict`), returning the
    /// transaction id.
    pub fn verify(&self, chain_id: &ChainId) -> Result<Hash, TxError> {
        if self.tx.chain_id != *chain_id {
            return Err(TxError::WrongChain {
                expected: *chain_id,
                found: self.tx.chain_id,
            });
        }
        let signing_bytes = self.tx.signing_bytes()?;
        crypto::verify(&self.tx.sender.0, &signing_bytes, &self.signature)?;
        Ok(sha256(&[&signing_bytes]))
    }

    /// For a swap, checks the counterparty's consent signature over
    /// [`Transaction::swap_consent_bytes`] (`verify_strict`); every other
    /// body passes. Needs no state: the counterparty's key is its account.
    pub fn check_consent(&self) -> Result<(), TxError> {
        let Body::Swap {
            counterparty,
            counter_signature,
            ..
        } = &self.tx.body
        else {
            return Ok(());
        };
        let bytes = match self.tx.swap_consent_bytes() {
            Some(bytes) => bytes?,
            None => return Err(TxError::BadConsent),
        };
        crypto::verify(&counterparty.0, &bytes, counter_signature).map_err(|_| TxError::BadConsent)
    }

    /// What [`SignedTransaction::verify`] answers for each transaction, in
    /// order, the signatures checked together ([`crypto::verify_batch`]).
    pub fn verify_batch<'a>(
        transactions: impl IntoIterator<Item = &'a SignedTransaction>,
        chain_id: &ChainId,
    ) -> Vec<Result<Hash, TxError>> {
        // Each transaction's signing bytes, or why it is refused before
        // its signature is looked at.
        let prepared: Vec<(&SignedTransaction, Result<Vec<u8>, TxError>)> = transactions
            .into_iter()
            .map(|signed| {
                let bytes = if signed.tx.chain_id != *chain_id {
                    Err(TxError::WrongChain {
                        expected: *chain_id,
                        found: signed.tx.chain_id,
                    })
                } else {
                    signed.tx.signing_bytes().map_err(TxError::from)
                };
                (signed, bytes)
            })
            .collect();
        let checks: Vec<crypto::SignatureCheck<'_>> = prepared
            .iter()
            .filter_map(|(signed, bytes)| {
                let message = bytes.as_ref().ok()?;
                Some(crypto::SignatureCheck {
                    key: &signed.tx.sender.0,
                    message,
                    signature: &signed.signature,
                })
            })
            .collect();
        let mut verdicts = crypto::verify_batch(&checks).into_iter();
        prepared
            .iter()
            .map(|(_, bytes)| {
                let message = bytes.as_ref().map_err(Clone::clone)?;
                match verdicts.next() {
                    Some(Ok(())) => Ok(sha256(&[message])),
                    Some(Err(error)) => Err(TxError::Signature(error)),
                    // One verdict per check: unreachable, and refused.
                    None => Err(TxError::Signature(CryptoError::BadSignature)),
                }
            })
            .collect()
    }
}
