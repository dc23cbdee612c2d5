//! Test support (feature `testing`): a deterministic chain of banks, assets
//! and funded accounts, all keys derived from labels, with helpers to sign
//! transactions and certify blocks. For tests and simulations of this and
//! the other crates; a node never enables it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::missing_panics_doc,
    missing_docs
)]

use std::collections::BTreeMap;

use crate::certificate::CommitCertificate;
use crate::crypto::{Keypair, sha256};
use crate::genesis::{
    AccountEntry, AssetEntry, CreditCapEntry, CreditEntry, EscrowEntry, FeeEntry, Genesis,
    GenesisFile, MemberEntry, OverseerEntry,
};
use crate::payment::{EndToEndId, PaymentData, PaymentDetails, Remittance};
use crate::sealed::{SealedDetails, SealingContext, SealingKey, SealingSecret};
use crate::state::{BlockOutcome, Signatures, StateView, propose_block};
use crate::validators::ValidatorKey;
use crate::{AccountId, Amount, AssetCode, Body, SignedTransaction, Transaction};

/// Derives a key from a label: same label, same key, on every machine.
pub fn key(label: &str) -> Keypair {
    Keypair::from_seed(&sha256(&[b"clearhouse-test-key", label.as_bytes()]).0)
}

/// A deterministic sealing secret for `label`.
pub fn sealing(label: &str) -> SealingSecret {
    SealingSecret::from_bytes(sha256(&[b"clearhouse-test-sealing", label.as_bytes()]).0)
}

fn payment_data(end_to_end_id: &str, remittance: &str) -> PaymentData {
    PaymentData {
        end_to_end_id: EndToEndId::new(end_to_end_id).unwrap(),
        remittance: Remittance::new(remittance).unwrap(),
    }
}

pub const ASSETS: [&str; 4] = ["CNY", "USD", "EUR", "JPY"];

/// A chain with `banks` banks (bank i issues ASSETS[i]) and `accounts`
/// customer accounts spread over the banks, each funded in every asset.
pub struct Fixture {
    pub file: GenesisFile,
    pub genesis: Genesis,
    pub validators: Vec<Keypair>,
    pub treasuries: Vec<Keypair>,
    pub accounts: Vec<Keypair>,
}

pub const OPENING_BALANCE: &str = "1000.00";

/// Each treasury's opening balance in every asset (JPY: 100000): the money
/// its customers' credit lines draw on.
pub const TREASURY_OPENING_BALANCE: &str = "100000.00";

impl Fixture {
    pub fn new(banks: usize, accounts: usize) -> Fixture {
        assert!((1..=ASSETS.len()).contains(&banks));
        let validators: Vec<Keypair> = (0..banks).map(|i| key(&format!("validator-{i}"))).collect();
        let treasuries: Vec<Keypair> = (0..banks).map(|i| key(&format!("treasury-{i}"))).collect();
        let customers: Vec<Keypair> = (0..accounts)
            .map(|i| key(&format!("account-{i}")))
            .collect();
        let members = (0..banks)
            .map(|i| MemberEntry {
                id: format!("bank-{i}"),
                name: format!("Bank {i}"),
                validator_key: validators[i].account().to_hex(),
                network_key: key(&format!("network-{i}")).account().to_hex(),
                voting_power: 10,
                treasury: treasuries[i].account().to_hex(),
                governance_key: Fixture::governor(i).account().to_hex(),
                addresses: Vec::new(),
                api_key: Some(Fixture::api_key(i).account().to_hex()),
                sealing_key: Some(Fixture::sealing(i).public().to_hex()),
            })
            .collect();
        let assets = (0..banks)
            .map(|i| AssetEntry {
                code: ASSETS[i].into(),
                issuer: format!("bank-{i}"),
                decimals: if ASSETS[i] == "JPY" { 0 } else { 2 },
            })
            .collect::<Vec<_>>();
        let account_entries = customers
            .iter()
            .enumerate()
            .map(|(i, account)| AccountEntry {
                key: account.account().to_hex(),
                bank: format!("bank-{}", i % banks),
                balances: assets
                    .iter()
                    .map(|asset| {
                        let amount = if asset.decimals == 0 {
                            "1000"
                        } else {
                            OPENING_BALANCE
                        };
                        (asset.code.clone(), amount.to_owned())
                    })
                    .collect(),
            })
            .chain(treasuries.iter().enumerate().map(|(i, treasury)| {
                AccountEntry {
                    key: treasury.account().to_hex(),
                    bank: format!("bank-{i}"),
                    balances: assets
                        .iter()
                        .map(|asset| {
                            let amount = if asset.decimals == 0 {
                                "100000"
                            } else {
                                TREASURY_OPENING_BALANCE
                            };
                            (asset.code.clone(), amount.to_owned())
                        })
                        .collect(),
                }
            }))
            .collect();
        // Asset 2 (EUR) has no fee rule: it moves free.
        let fees = (0..banks)
            .filter(|i| *i != 2)
            .map(|i| FeeEntry {
                asset: ASSETS[i].into(),
                flat: if ASSETS[i] == "JPY" {
                    "1".into()
                } else {
                    "0.01".into()
                },
                basis_points: 5,
                receiving_share: 0,
            })
            .collect();
        let file = GenesisFile {
            chain_name: "clearhouse-test".into(),
            genesis_time_ms: 1_763_700_000_000,
            members,
            assets,
            accounts: account_entries,
            fees,
            escrow: Some(EscrowEntry {
                deadline_blocks_max: 1_000,
            }),
            // Every asset but the last offers credit: 1.00 (1 yen) per point.
            credit: Some(CreditEntry {
                rating_version: 1,
                min_rating: 400,
                period_blocks_max: 1_000,
                caps: (0..banks.saturating_sub(1).max(1))
                    .map(|i| CreditCapEntry {
                        asset: ASSETS[i].into(),
                        per_point: if ASSETS[i] == "JPY" { "1" } else { "1.00" }.into(),
                    })
                    .collect(),
            }),
            auditors: vec![OverseerEntry {
                id: "auditor".into(),
                name: "Test Auditor".into(),
                key: Fixture::auditor().account().to_hex(),
                sealing_key: Some(sealing("auditor").public().to_hex()),
            }],
            regulators: vec![OverseerEntry {
                id: "regulator".into(),
                name: "Test Regulator".into(),
                key: Fixture::regulator().account().to_hex(),
                sealing_key: Some(sealing("regulator").public().to_hex()),
            }],
            governance: None,
        };
        let genesis = file.validate().expect("fixture genesis is valid");
        Fixture {
            file,
            genesis,
            validators,
            treasuries,
            accounts: customers,
        }
    }

    /// The same chain with the receiving bank taking `share` basis points
    /// of every fee.
    pub fn with_receiving_share(mut self, share: u16) -> Fixture {
        for fee in &mut self.file.fees {
            fee.receiving_share = share;
        }
        self.genesis = self.file.validate().expect("fixture genesis is valid");
        self
    }

    /// Bank `i`'s sealing secret.
    pub fn sealing(i: usize) -> SealingSecret {
        sealing(&format!("bank-{i}"))
    }

    /// Every sealing key a payment between customers of banks `a` and `b`
    /// is sealed for by [`Fixture::sealed_payment`]: both banks, the
    /// regulator and the auditor.
    pub fn sealing_keys(a: usize, b: usize) -> Vec<SealingKey> {
        vec![
            Fixture::sealing(a).public(),
            Fixture::sealing(b).public(),
            sealing("regulator").public(),
            sealing("auditor").public(),
        ]
    }

    /// Bank `i`'s API request key.
    pub fn api_key(i: usize) -> Keypair {
        key(&format!("api-{i}"))
    }

    /// Bank `i`'s governance key.
    pub fn governor(i: usize) -> Keypair {
        key(&format!("governance-{i}"))
    }

    /// The auditor's API request key.
    pub fn auditor() -> Keypair {
        key("auditor")
    }

    /// The regulator's API request key.
    pub fn regulator() -> Keypair {
        key("regulator")
    }

    pub fn chain_id(&self) -> crate::ChainId {
        self.genesis.chain_id().unwrap()
    }

    pub fn asset(&self, index: usize) -> AssetCode {
        AssetCode::new(ASSETS[index]).unwrap()
    }

    pub fn sign(&self, sender: &Keypair, nonce: u64, body: Body) -> SignedTransaction {
        Transaction {
            chain_id: self.chain_id(),
            sender: sender.account(),
            nonce,
            fee: Amount(u128::MAX),
            expiry_height: u64::MAX,
            body,
        }
        .sign(sender)
        .unwrap()
    }

    pub fn transfer(
        &self,
        sender: &Keypair,
        nonce: u64,
        to: AccountId,
        asset: usize,
        amount: u128,
    ) -> SignedTransaction {
        self.sign(
            sender,
            nonce,
            Body::Transfer {
                to,
                asset: self.asset(asset),
                amount: Amount(amount),
            },
        )
    }

    /// A transfer carrying payment data in the clear.
    #[allow(clippy::too_many_arguments)]
    pub fn payment(
        &self,
        sender: &Keypair,
        nonce: u64,
        to: AccountId,
        asset: usize,
        amount: u128,
        end_to_end_id: &str,
        remittance: &str,
    ) -> SignedTransaction {
        let details = PaymentDetails::Clear(payment_data(end_to_end_id, remittance));
        self.payment_with(sender, nonce, to, asset, amount, details)
    }

    /// A payment whose data is sealed for `recipients`, its seed derived
    /// from the payer and nonce (deterministic: for tests, never for a
    /// real payment).
    #[allow(clippy::too_many_arguments)]
    pub fn sealed_payment(
        &self,
        sender: &Keypair,
        nonce: u64,
        to: AccountId,
        asset: usize,
        amount: u128,
        end_to_end_id: &str,
        remittance: &str,
        recipients: &[SealingKey],
    ) -> SignedTransaction {
        let context = SealingContext::new(
            &self.chain_id(),
            &sender.account(),
            &to,
            &self.asset(asset),
            Amount(amount),
        );
        // Tests only: a seed anyone can compute is no secret. A client
        // draws 32 random bytes per payment.
        let seed = sha256(&[b"seed", &sender.account().0, &nonce.to_be_bytes()]).0;
        let data = payment_data(end_to_end_id, remittance);
        let sealed = SealedDetails::seal(&data, recipients, &context, seed).unwrap();
        self.payment_with(
            sender,
            nonce,
            to,
            asset,
            amount,
            PaymentDetails::Sealed(sealed),
        )
    }

    fn payment_with(
        &self,
        sender: &Keypair,
        nonce: u64,
        to: AccountId,
        asset: usize,
        amount: u128,
        details: PaymentDetails,
    ) -> SignedTransaction {
        let body = Body::Payment {
            to,
            asset: self.asset(asset),
            amount: Amount(amount),
            details,
        };
        self.sign(sender, nonce, body)
    }

    /// Proposes a block of `txs` on `view` (validator 0 proposes).
    pub fn propose(&self, view: &dyn StateView, txs: Vec<SignedTransaction>) -> BlockOutcome {
        let proposer = ValidatorKey(self.validators[0].account().0);
        let height = view.tip().unwrap().height + 1;
        propose_block(
            view,
            txs,
            proposer,
            1_763_700_000_000 + height * 1000,
            Signatures::Verify,
        )
        .unwrap()
    }

    /// A certificate signed by every validator.
    pub fn certify(&self, outcome: &BlockOutcome) -> CommitCertificate {
        let keys: Vec<&Keypair> = self.validators.iter().collect();
        CommitCertificate::sign(
            &self.chain_id(),
            outcome.block.header.height,
            0,
            outcome.block_hash,
            &keys,
        )
    }
}

/// Per asset over every entry of a state: the money held (balances plus
/// open and disputed escrows, counted here independently of the ledger's
/// own `state::holding`) and the recorded supply.
pub fn balances_per_asset(
    entries: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> BTreeMap<AssetCode, (u128, u128)> {
    use crate::codec;
    use crate::state::escrow::{EscrowState, EscrowStatus};
    use crate::state::{AccountState, AssetState, StateKey};
    let mut out: BTreeMap<AssetCode, (u128, u128)> = BTreeMap::new();
    for (key, value) in entries {
        match codec::decode::<StateKey, 256>(key).unwrap() {
            StateKey::Account(_) => {
                let account: AccountState = codec::decode::<_, 1_048_576>(value).unwrap();
                for (asset, amount) in account.balances {
                    assert!(amount.0 > 0, "zero balances are never stored");
                    let slot = out.entry(asset).or_default();
                    slot.0 = slot.0.checked_add(amount.0).unwrap();
                }
            }
            StateKey::Asset(code) => {
                let asset: AssetState = codec::decode::<_, 1_048_576>(value).unwrap();
                out.entry(code).or_default().1 = asset.supply.0;
            }
            StateKey::Escrow(_) => {
                let escrow: EscrowState = codec::decode::<_, 1_048_576>(value).unwrap();
                if matches!(escrow.status, EscrowStatus::Open | EscrowStatus::Disputed) {
                    let slot = out.entry(escrow.asset).or_default();
                    slot.0 = slot.0.checked_add(escrow.amount.0).unwrap();
                }
            }
            StateKey::Members
            | StateKey::Params
            | StateKey::Due(_)
            | StateKey::Overseers
            | StateKey::Quote(_)
            | StateKey::QuoteBook(_)
            | StateKey::Proposal(_)
            | StateKey::Agenda
            | StateKey::ValidatorSetFrom(_)
            | StateKey::ValidatorSetHeights
            | StateKey::Evidence(_)
            | StateKey::EvidenceLog => {}
        }
    }
    out
}

/// Asserts that for every asset the money held sums to the supply.
pub fn assert_conserved(entries: &BTreeMap<Vec<u8>, Vec<u8>>) {
    for (asset, (sum, supply)) in balances_per_asset(entries) {
        assert_eq!(sum, supply, "{asset}: balances {sum} != supply {supply}");
    }
}
