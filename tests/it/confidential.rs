//! Confidential payment details on a whole network: a payment between
//! customers of banks 0 and 1, sealed for both banks, the regulator and the
//! auditor, carried and executed by bank 2's validator too. The banks
//! involved read the reference through their own nodes; bank 2 is refused
//! the payment and the account, and neither its node nor its store can
//! open the reference; the auditor reads everything, and opens the
//! reference with its own sealing key. Sealed details that leave out a
//! party the chain requires are rejected with a typed reason.

use clearhouse_ledger::payment::{EndToEndId, PaymentData, PaymentDetails, Remittance};
use clearhouse_ledger::sealed::{SealError, SealedDetails, SealingContext, SealingKey};
use clearhouse_ledger::store::StoredChain;
use clearhouse_ledger::{Amount, AssetCode, Block, Body, SignedTransaction, codec};
use clearhouse_node::api::dto::{self, TxState};
use serde_json::Value;

use crate::cluster::Cluster;

const E2E: &str = "SEALED/2026/0001";
const REMITTANCE: &str = "invoice 4711, private to both banks";

/// Account `from`'s payment of 25.00 CNY to `to` with the test's data
/// sealed for `recipients`.
fn sealed(
    cluster: &Cluster,
    from: usize,
    nonce: u64,
    to: usize,
    recipients: &[SealingKey],
) -> SignedTransaction {
    let to = cluster.keys[to].account();
    let asset = AssetCode::new("CNY").unwrap();
    let amount = Amount(2_500);
    let context = SealingContext::new(
        &cluster.chain_id,
        &cluster.keys[from].account(),
        &to,
        &asset,
        amount,
    );
    let data = PaymentData {
        end_to_end_id: EndToEndId::new(E2E).unwrap(),
        remittance: Remittance::new(REMITTANCE).unwrap(),
    };
    let seed = [u8::try_from(nonce).unwrap() + 1; 32];
    let details = SealedDetails::seal(&data, recipients, &context, seed).unwrap();
    cluster.sign(
        from,
        nonce,
        Body::Payment {
            to,
            asset,
            amount,
            details: PaymentDetails::Sealed(details),
        },
    )
}

fn body(status: &Value) -> &Value {
    &status["transaction"]["body"]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Every file under `dir`, read whole.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[test]
fn only_the_banks_involved_the_regulator_and_the_auditor_read_a_sealed_reference() {
    let cluster = Cluster::start(3, 0, 1, 47);
    let (payer, payee) = (0, 1);
    let payer_account = cluster.keys[payer].account().to_hex();

    // The payer asks its own node whom to seal for.
    let signer = cluster.signer(0, &cluster.testnet.accounts[payer].key_file);
    let path = format!(
        "/v1/sealing-keys?from={payer_account}&to={}",
        cluster.keys[payee].account()
    );
    let (status, answer) = cluster.get_as(0, &path, Some(&signer));
    assert_eq!(status, 200, "{answer}");
    let answer: dto::SealingKeys = serde_json::from_value(answer).unwrap();
    let parties: Vec<(&str, bool)> = answer
        .recipients
        .iter()
        .map(|r| (r.party.as_str(), r.required))
        .collect();
    assert_eq!(
        parties,
        [
            ("bank-0", true),
            ("bank-1", true),
            ("auditor", false),
            ("regulator", true)
        ]
    );
    let key = |party: &str| {
        let entry = answer.recipients.iter().find(|r| r.party == party).unwrap();
        SealingKey::from_hex(entry.sealing_key.as_deref().unwrap()).unwrap()
    };
    let everyone = [
        key("bank-0"),
        key("bank-1"),
        key("regulator"),
        key("auditor"),
    ];
    // An account asks for its own payments only, a bank for its
    // customers' only.
    let others = format!(
        "/v1/sealing-keys?from={}&to={}",
        cluster.keys[payee].account(),
        cluster.keys[2].account()
    );
    let (status, refused) = cluster.get_as(0, &others, Some(&signer));
    assert_eq!(status, 403, "{refused}");
    let (status, refused) = cluster.get_as(2, &path, Some(&cluster.bank(2, 2)));
    assert_eq!(status, 403, "{refused}");

    let payment = sealed(&cluster, payer, 0, payee, &everyone);
    let hash = payment.id().unwrap().to_hex();
    cluster.submit_accepted(0, &payment);
    let committed = cluster.transaction(2, &hash, 10_000);
    assert_eq!(committed.status, TxState::Committed);
    assert_eq!(committed.outcome, Some(dto::Outcome::Applied));
    let height = committed.height.unwrap();
    // Every node at that height, so each has executed and stored the block.
    cluster.wait_until(
        std::time::Duration::from_secs(10),
        "every node at the block",
        || (0..3).all(|i| cluster.height(i) >= height),
    );

    // Bank 0 and bank 1 read the reference through their own nodes, and
    // find the payment by it.
    for bank in [0, 1] {
        let signer = cluster.bank(bank, bank);
        let (status, found) =
            cluster.get_as(bank, &format!("/v1/transactions/{hash}"), Some(&signer));
        assert_eq!(status, 200, "bank {bank}: {found}");
        assert_eq!(body(&found)["details"], "sealed", "{found}");
        assert_eq!(body(&found)["end_to_end_id"], E2E);
        assert_eq!(body(&found)["remittance"], REMITTANCE);
        assert_eq!(body(&found)["sealed_for"].as_array().unwrap().len(), 4);
        let search = format!("/v1/transactions?end_to_end_id={}", E2E.replace('/', "%2F"));
        let (status, found) = cluster.get_as(bank, &search, Some(&signer));
        assert_eq!(status, 200, "{found}");
        let found = found["transactions"].as_array().unwrap();
        assert_eq!(found.len(), 1, "bank {bank} finds its payment by reference");
        assert_eq!(found[0]["hash"], hash.as_str());
    }

    // Bank 2 carried the block but may not see the payment or the account.
    let outsider = cluster.bank(2, 2);
    for path in [
        format!("/v1/transactions/{hash}"),
        format!("/v1/accounts/{payer_account}"),
    ] {
        let (status, refused) = cluster.get_as(2, &path, Some(&outsider));
        assert_eq!(status, 403, "{path}: {refused}");
        assert_eq!(refused["error"]["code"], "out_of_scope");
    }
    // Bank 2's node cannot open it for anyone: the auditor asking there sees
    // the payment, sealed, without its data; nor does its index know it.
    let (status, seen) = cluster.get_as(
        2,
        &format!("/v1/transactions/{hash}"),
        Some(&cluster.auditor(2)),
    );
    assert_eq!(status, 200, "{seen}");
    assert_eq!(body(&seen)["details"], "sealed_unreadable", "{seen}");
    assert!(body(&seen).get("end_to_end_id").is_none(), "{seen}");
    assert!(body(&seen).get("remittance").is_none(), "{seen}");
    let search = format!("/v1/transactions?end_to_end_id={}", E2E.replace('/', "%2F"));
    let (_, none) = cluster.get_as(2, &search, Some(&cluster.auditor(2)));
    assert_eq!(none["transactions"].as_array().unwrap().len(), 0, "{none}");
    // The auditor reads everything through a node that can open it.
    let (status, read) = cluster.get_as(
        0,
        &format!("/v1/transactions/{hash}"),
        Some(&cluster.auditor(0)),
    );
    assert_eq!(status, 200);
    assert_eq!(body(&read)["remittance"], REMITTANCE);

    // Sealed details that leave out a required party are rejected, typed.
    let without_regulator = sealed(&cluster, payer, 1, payee, &everyone[..2]);
    let without_payee_bank = sealed(&cluster, payer, 2, payee, &[everyone[0], everyone[2]]);
    for (tx, party) in [
        (&without_regulator, "regulator"),
        (&without_payee_bank, "bank-1"),
    ] {
        cluster.submit_accepted(0, tx);
        let status = cluster.transaction(0, &tx.id().unwrap().to_hex(), 10_000);
        assert_eq!(status.outcome, Some(dto::Outcome::Rejected), "{status:?}");
        assert_eq!(status.reason_code.as_deref(), Some("not_sealed_for"));
        assert!(status.reason.unwrap().contains(party));
    }

    // Bank 2's own files: the block holds the payment, sealed; bank 2's
    // sealing key does not open it, the auditor's does; and no file of
    // bank 2's node holds the reference or the remittance in the clear.
    let data_dir = cluster.testnet.nodes[2].config.data_dir.clone();
    let chain = StoredChain::open(&data_dir.join("store")).unwrap();
    let block: Block =
        codec::decode::<Block, { codec::BLOCK_BYTES_MAX }>(&chain.block(height).unwrap().unwrap())
            .unwrap();
    let stored = block
        .transactions
        .iter()
        .find(|tx| tx.id().unwrap().to_hex() == hash)
        .unwrap();
    let (details, context) = stored.tx.payment_details().unwrap();
    let sealed_details = details.sealed().unwrap();
    let keys_dir = cluster.testnet.dir.join("keys");
    let bank_2 =
        clearhouse_node::keyfile::read_sealing(&keys_dir.join("bank-2-sealing.key")).unwrap();
    assert_eq!(
        sealed_details.open(&bank_2, &context),
        Err(SealError::NotARecipient(bank_2.public()))
    );
    let auditor =
        clearhouse_node::keyfile::read_sealing(&keys_dir.join("auditor-sealing.key")).unwrap();
    let opened = sealed_details.open(&auditor, &context).unwrap();
    assert_eq!(opened.remittance.as_str(), REMITTANCE);
    drop(chain);
    let mut checked = 0;
    for (path, bytes) in files(&data_dir) {
        assert!(
            !contains(&bytes, E2E.as_bytes()),
            "{} holds the end-to-end id",
            path.display()
        );
        assert!(
            !contains(&bytes, b"invoice 4711"),
            "{} holds the remittance",
            path.display()
        );
        checked += bytes.len();
    }
    assert!(checked > 0);
    cluster.shutdown_and_check_stores();
}
