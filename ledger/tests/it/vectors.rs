//! Golden vectors: the exact bytes a client in another language must
//! produce. If one of these changes, every signature on every chain changes.

use clearhouse_ledger::amount::Rate;
use clearhouse_ledger::certificate::{VoteKind, proposal_signing_bytes, vote_signing_bytes};
use clearhouse_ledger::crypto::{Keypair, Signature};
use clearhouse_ledger::sealed::{SealedDetails, SealingContext, SealingSecret};
use clearhouse_ledger::{AccountId, Amount, AssetCode, Body, Hash, Transaction};

fn sender() -> Keypair {
    Keypair::from_seed(&[7u8; 32])
}

fn transfer() -> Transaction {
    Transaction {
        chain_id: Hash([0x11; 32]),
        sender: sender().account(),
        nonce: 5,
        fee: Amount(250),
        expiry_height: 1_000,
        body: Body::Transfer {
            to: AccountId([0x22; 32]),
            asset: AssetCode::new("CNY").unwrap(),
            amount: Amount(12_345),
        },
    }
}

const TRANSFER_SIGNING_BYTES: &str = concat!(
    "636c656172686f7573652f7472616e73616374696f6e2f763100", // tag + NUL
    "1111111111111111111111111111111111111111111111111111111111111111", // chain id
    "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c", // sender
    "0000000000000005",                                     // nonce
    "000000000000000000000000000000fa",                     // fee
    "00000000000003e8",                                     // expiry height
    "00000000",                                             // body: transfer
    "2222222222222222222222222222222222222222222222222222222222222222", // to
    "0000000000000003434e59",                               // asset "CNY"
    "00000000000000000000000000003039",                     // amount
);

#[test]
fn transfer_signing_bytes_are_pinned() {
    let bytes = transfer().signing_bytes().unwrap();
    assert_eq!(hex::encode(&bytes), TRANSFER_SIGNING_BYTES);
}

#[test]
fn transfer_signature_and_id_are_pinned() {
    let signed = transfer().sign(&sender()).unwrap();
    assert_eq!(signed.signature.to_hex(), TRANSFER_SIGNATURE);
    assert_eq!(signed.id().unwrap().to_hex(), TRANSFER_ID);
    // The wire form is the signing bytes without the tag, then the signature.
    let wire = signed.encode().unwrap();
    let tag_len = clearhouse_ledger::crypto::tag::TRANSACTION.len();
    assert_eq!(
        hex::encode(&wire),
        format!(
            "{}{}",
            &TRANSFER_SIGNING_BYTES[tag_len * 2..],
            TRANSFER_SIGNATURE
        )
    );
    assert_eq!(
        signed.id_and_wire_len().unwrap(),
        (signed.id().unwrap(), wire.len()),
        "the id and wire size from one encoding"
    );
    signed.verify(&Hash([0x11; 32])).unwrap();
}

#[test]
fn the_wire_size_follows_from_the_signing_bytes_for_every_body_size() {
    // Bodies of different lengths, and a longer asset code: the shortcut
    // must not depend on the body.
    let mut tx = transfer();
    let bodies = [
        Body::RegisterAccount {
            account: AccountId([0x33; 32]),
        },
        Body::Redeem {
            asset: AssetCode::new("USD").unwrap(),
            amount: Amount(1),
        },
        Body::Issue {
            to: AccountId([0x55; 32]),
            asset: AssetCode::new("GOLDBAR").unwrap(),
            amount: Amount(u128::MAX),
        },
    ];
    for body in bodies {
        tx.body = body;
        let signed = tx.clone().sign(&sender()).unwrap();
        assert_eq!(
            signed.id_and_wire_len().unwrap(),
            (signed.id().unwrap(), signed.encode().unwrap().len()),
            "{:?}",
            signed.tx.body
        );
    }
}

const TRANSFER_SIGNATURE: &str = "f491b890186268238f36c33c7e2a5962273459bff2b035d24ae855e1208857b6228af3a6b8920eca6fb77ead6339cfb5538cbbcb7eefe7a88a0ea146872f6107";
const TRANSFER_ID: &str = "0a4263b9ce3fb6b0718af624889a9318f8fe89bd1ffd21c209eed698ec3a0a4b";

#[test]
fn register_and_issue_layouts_are_pinned() {
    let mut tx = transfer();
    tx.body = Body::RegisterAccount {
        account: AccountId([0x33; 32]),
    };
    let bytes = hex::encode(tx.signing_bytes().unwrap());
    assert!(
        bytes.ends_with(&format!("00000003{}", "33".repeat(32))),
        "{bytes}"
    );
    tx.body = Body::Issue {
        to: AccountId([0x55; 32]),
        asset: AssetCode::new("EUR").unwrap(),
        amount: Amount(2),
    };
    let bytes = hex::encode(tx.signing_bytes().unwrap());
    assert_eq!(
        &bytes[bytes.len() - 2 * (4 + 32 + 11 + 16)..],
        format!(
            "00000001{}000000000000000345555200000000000000000000000000000002",
            "55".repeat(32)
        )
    );
    tx.body = Body::Redeem {
        asset: AssetCode::new("USD").unwrap(),
        amount: Amount(1),
    };
    let bytes = hex::encode(tx.signing_bytes().unwrap());
    assert!(
        bytes.ends_with("00000002000000000000000355534400000000000000000000000000000001"),
        "{bytes}"
    );
}

#[test]
fn precommit_signing_bytes_are_pinned() {
    let bytes = vote_signing_bytes(
        VoteKind::Precommit,
        &Hash([0x11; 32]),
        7,
        2,
        Some(&Hash([0x44; 32])),
    );
    assert_eq!(
        hex::encode(bytes),
        concat!(
            "636c656172686f7573652f707265636f6d6d69742f763100",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "0000000000000007",
            "00000002",
            "01",
            "4444444444444444444444444444444444444444444444444444444444444444",
        )
    );
    let nil = vote_signing_bytes(VoteKind::Prevote, &Hash([0x11; 32]), 7, 2, None);
    assert_eq!(
        hex::encode(nil),
        "636c656172686f7573652f707265766f74652f763100111111111111111111111111111111111111111111111111111111111111111100000000000000070000000200"
    );
}

#[test]
fn proposal_signing_bytes_are_pinned() {
    let bytes = proposal_signing_bytes(&Hash([0x11; 32]), 7, 2, &Hash([0x44; 32]), Some(1));
    assert_eq!(
        hex::encode(bytes),
        concat!(
            "636c656172686f7573652f70726f706f73616c2f763100",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "0000000000000007",
            "00000002",
            "4444444444444444444444444444444444444444444444444444444444444444",
            "0100000001",
        )
    );
    let none = proposal_signing_bytes(&Hash([0x11; 32]), 7, 2, &Hash([0x44; 32]), None);
    assert!(hex::encode(none).ends_with("444400"));
}

fn payment() -> Transaction {
    use clearhouse_ledger::payment::{EndToEndId, PaymentData, PaymentDetails, Remittance};
    let mut tx = transfer();
    tx.body = Body::Payment {
        to: AccountId([0x22; 32]),
        asset: AssetCode::new("CNY").unwrap(),
        amount: Amount(12_345),
        details: PaymentDetails::Clear(PaymentData {
            end_to_end_id: EndToEndId::new("INV-2026-118").unwrap(),
            remittance: Remittance::new("invoice 118, May").unwrap(),
        }),
    };
    tx
}

const PAYMENT_BODY: &str = concat!(
    "0000000c",                                                         // body: payment
    "2222222222222222222222222222222222222222222222222222222222222222", // to
    "0000000000000003434e59",                                           // asset "CNY"
    "00000000000000000000000000003039",                                 // amount
    "00000000",                                                         // details: clear
    "000000000000000c494e562d323032362d313138",                         // end-to-end id
    "0000000000000010696e766f696365203131382c204d6179",                 // remittance
);

#[test]
fn payment_layout_signature_and_id_are_pinned() {
    let tx = payment();
    let bytes = hex::encode(tx.signing_bytes().unwrap());
    // The envelope is the transfer's; only the body differs.
    let envelope_hex = 2 * (26 + 32 + 32 + 8 + 16 + 8);
    assert_eq!(
        &bytes[..envelope_hex],
        &TRANSFER_SIGNING_BYTES[..envelope_hex]
    );
    assert_eq!(&bytes[envelope_hex..], PAYMENT_BODY);
    let signed = tx.sign(&sender()).unwrap();
    assert_eq!(signed.signature.to_hex(), PAYMENT_SIGNATURE);
    assert_eq!(signed.id().unwrap().to_hex(), PAYMENT_ID);
    signed.verify(&Hash([0x11; 32])).unwrap();
}

const PAYMENT_SIGNATURE: &str = "5f1a569d9bb2415160b5fd630265b7e85592975173b0a9e9135372e158db5c1525d8fc4f3ab5ec44c398bf22616a1974d7ca59fa2da986acf2cec2dbf1774209";
const PAYMENT_ID: &str = "c27de3857b707c6577b98a7bd3e53ad640a30d955c18d364e7c1e3caa1536aa3";

/// Every body's bytes, each written from the table in the crate docs: a
/// body added without its row here fails the count below.
#[test]
fn every_body_layout_is_pinned() {
    use clearhouse_ledger::MemberId;
    use clearhouse_ledger::ids::Category;
    use clearhouse_ledger::sealed::SealingKey;
    use clearhouse_ledger::state::governance::{Action, NewMember};
    use clearhouse_ledger::validators::ValidatorKey;
    let acc = |b: u8| AccountId([b; 32]);
    let h = |b: u8| Hash([b; 32]);
    let cny = || AssetCode::new("CNY").unwrap();
    let a32 = |b: u8| format!("{b:02x}").repeat(32);
    let asset_hex = "0000000000000003434e59";
    let amount_hex = |n: u128| format!("{n:032x}");
    let u64_hex = |n: u64| format!("{n:016x}");
    let text_hex = |t: &str| format!("{}{}", u64_hex(t.len() as u64), hex::encode(t));
    let cases: Vec<(Body, String)> = vec![
        (
            Body::Transfer {
                to: acc(1),
                asset: cny(),
                amount: Amount(7),
            },
            format!("00000000{}{asset_hex}{}", a32(1), amount_hex(7)),
        ),
        (
            Body::Issue {
                to: acc(1),
                asset: cny(),
                amount: Amount(7),
            },
            format!("00000001{}{asset_hex}{}", a32(1), amount_hex(7)),
        ),
        (
            Body::Redeem {
                asset: cny(),
                amount: Amount(7),
            },
            format!("00000002{asset_hex}{}", amount_hex(7)),
        ),
        (
            Body::RegisterAccount { account: acc(3) },
            format!("00000003{}", a32(3)),
        ),
        (
            Body::EscrowOpen {
                seller: acc(4),
                asset: cny(),
                amount: Amount(9),
                arbiter: MemberId::new("bank-b").unwrap(),
                confirm_deadline: 100,
                arbiter_deadline: 200,
                reference: h(5),
            },
            format!(
                "00000004{}{asset_hex}{}{}{}{}{}",
                a32(4),
                amount_hex(9),
                text_hex("bank-b"),
                u64_hex(100),
                u64_hex(200),
                a32(5)
            ),
        ),
        (
            Body::EscrowRelease { escrow: h(6) },
            format!("00000005{}", a32(6)),
        ),
        (
            Body::EscrowRefund { escrow: h(6) },
            format!("00000006{}", a32(6)),
        ),
        (
            Body::EscrowDispute { escrow: h(6) },
            format!("00000007{}", a32(6)),
        ),
        (
            Body::EscrowResolve {
                escrow: h(6),
                to_seller: Amount(3),
            },
            format!("00000008{}{}", a32(6), amount_hex(3)),
        ),
        (
            Body::CreditGrant {
                account: acc(7),
                asset: cny(),
                limit: Amount(1_000),
                period_blocks: 50,
            },
            format!(
                "00000009{}{asset_hex}{}{}",
                a32(7),
                amount_hex(1_000),
                u64_hex(50)
            ),
        ),
        (
            Body::CreditRevoke {
                account: acc(7),
                asset: cny(),
            },
            format!("0000000a{}{asset_hex}", a32(7)),
        ),
        (
            Body::CreditAttest {
                account: acc(7),
                positive: true,
                category: Category::new("repayment").unwrap(),
                reference: h(8),
            },
            format!("0000000b{}01{}{}", a32(7), text_hex("repayment"), a32(8)),
        ),
        (payment().body, PAYMENT_BODY.to_owned()),
        (
            Body::Swap {
                counterparty: acc(9),
                give_asset: cny(),
                give_amount: Amount(7),
                take_asset: AssetCode::new("EUR").unwrap(),
                take_amount: Amount(5),
                counter_fee: Amount(2),
                counter_signature: Signature([0xab; 64]),
            },
            format!(
                "0000000d{}{asset_hex}{}{}{}{}{}",
                a32(9),
                amount_hex(7),
                text_hex("EUR"),
                amount_hex(5),
                amount_hex(2),
                "ab".repeat(64)
            ),
        ),
        (
            Body::QuotePost {
                pay_asset: AssetCode::new("EUR").unwrap(),
                receive_asset: cny(),
                rate: Rate {
                    numerator: 3,
                    denominator: 20,
                },
                maximum: Amount(1_000_000),
                valid_until: 500,
            },
            format!(
                "0000000e{}{asset_hex}{}{}{}{}",
                text_hex("EUR"),
                u64_hex(3),
                u64_hex(20),
                amount_hex(1_000_000),
                u64_hex(500)
            ),
        ),
        (
            Body::QuoteWithdraw { quote: h(10) },
            format!("0000000f{}", a32(10)),
        ),
        // Each governance action's own layout is pinned below.
        (cross_transfer().body, CROSS_TRANSFER_BODY.to_owned()),
        (
            Body::Propose {
                action: Action::AddMember(NewMember {
                    id: MemberId::new("bank-e").unwrap(),
                    name: "Bank E".into(),
                    validator_key: ValidatorKey([0x0e; 32]),
                    network_key: [0x1e; 32],
                    voting_power: 10,
                    treasury: acc(0x2e),
                    governance: acc(0x3e),
                    api_key: None,
                    sealing_key: Some(SealingKey([0x4e; 32])),
                    addresses: vec!["/ip4/10.0.0.5/tcp/7000".into()],
                }),
                voting_period: 100,
            },
            format!(
                "00000011{}{}{}{}{}{}{}{}{}01{}{}{}{}",
                "00000000", // action: add member
                text_hex("bank-e"),
                text_hex("Bank E"),
                a32(0x0e),
                a32(0x1e),
                u64_hex(10),
                a32(0x2e),
                a32(0x3e),
                "00",       // no API key
                a32(0x4e),  // a sealing key (after its 01)
                u64_hex(1), // one address
                text_hex("/ip4/10.0.0.5/tcp/7000"),
                u64_hex(100), // voting period
            ),
        ),
        (
            Body::Vote {
                proposal: h(12),
                approve: true,
            },
            format!("00000012{}01", a32(12)),
        ),
    ];
    assert_eq!(cases.len(), 19, "one case per body variant");
    let envelope_hex = 2 * (26 + 32 + 32 + 8 + 16 + 8);
    let mut tx = transfer();
    for (body, expected) in cases {
        let kind = body.kind();
        tx.body = body;
        let bytes = hex::encode(tx.signing_bytes().unwrap());
        assert_eq!(&bytes[envelope_hex..], expected, "{kind}");
        // And the bytes decode back to the same transaction.
        let signed = tx.clone().sign(&sender()).unwrap();
        let decoded =
            clearhouse_ledger::SignedTransaction::decode(&signed.encode().unwrap()).unwrap();
        assert_eq!(decoded, signed, "{kind}");
    }
}

/// The swap's counterparty: a fixed seed, like `sender()`.
fn counterparty() -> Keypair {
    Keypair::from_seed(&[8u8; 32])
}

/// The sender gives 12,345 CNY for 1,500 EUR from `counterparty()`, who
/// accepts a fee of at most 30 EUR; the envelope is the transfer's.
/// `docs/sign_transfer.py` builds and signs the same swap.
fn swap() -> Transaction {
    let mut tx = transfer();
    tx.body = Body::Swap {
        counterparty: counterparty().account(),
        give_asset: AssetCode::new("CNY").unwrap(),
        give_amount: Amount(12_345),
        take_asset: AssetCode::new("EUR").unwrap(),
        take_amount: Amount(1_500),
        counter_fee: Amount(30),
        counter_signature: Signature([0; 64]),
    };
    tx.with_consent(&counterparty()).unwrap()
}

/// The swap's body up to its counter signature (the last 64 bytes).
const SWAP_BODY_FIELDS: &str = concat!(
    "0000000d",                                                         // body: swap
    "1398f62c6d1a457c51ba6a4b5f3dbd2f69fca93216218dc8997e416bd17d93ca", // counterparty
    "0000000000000003434e59",                                           // give asset "CNY"
    "00000000000000000000000000003039",                                 // give amount
    "0000000000000003455552",                                           // take asset "EUR"
    "000000000000000000000000000005dc",                                 // take amount
    "0000000000000000000000000000001e",                                 // counter fee
);

#[test]
fn swap_consent_layout_signature_and_id_are_pinned() {
    use clearhouse_ledger::crypto::{tag, verify};
    let tx = swap();
    let bytes = tx.signing_bytes().unwrap();
    let envelope_hex = 2 * (26 + 32 + 32 + 8 + 16 + 8);
    let bytes_hex = hex::encode(&bytes);
    assert_eq!(
        &bytes_hex[..envelope_hex],
        &TRANSFER_SIGNING_BYTES[..envelope_hex]
    );
    assert_eq!(
        &bytes_hex[envelope_hex..],
        format!("{SWAP_BODY_FIELDS}{SWAP_COUNTER_SIGNATURE}")
    );
    // The consent bytes: the consent tag, then the envelope with the
    // counter signature (the last 64 bytes) zeroed.
    let consent = tx.swap_consent_bytes().unwrap().unwrap();
    assert_eq!(tag::SWAP_CONSENT, b"clearhouse/swap-consent/v1\0");
    assert_eq!(tag::SWAP_CONSENT.len(), 27);
    assert!(consent.starts_with(tag::SWAP_CONSENT));
    let mut expected = tag::SWAP_CONSENT.to_vec();
    expected.extend_from_slice(&bytes[tag::TRANSACTION.len()..bytes.len() - 64]);
    expected.extend_from_slice(&[0; 64]);
    assert_eq!(consent, expected);
    // The consent does not depend on the counter signature already in place.
    let mut unsigned = tx.clone();
    let Body::Swap {
        counter_signature, ..
    } = &mut unsigned.body
    else {
        unreachable!()
    };
    assert_eq!(counter_signature.to_hex(), SWAP_COUNTER_SIGNATURE);
    *counter_signature = Signature([0; 64]);
    assert_eq!(unsigned.swap_consent_bytes().unwrap().unwrap(), consent);
    verify(
        &counterparty().account().0,
        &consent,
        &Signature::from_hex(SWAP_COUNTER_SIGNATURE).unwrap(),
    )
    .unwrap();
    // Other bodies have no consent.
    assert!(transfer().swap_consent_bytes().is_none());
    let signed = tx.sign(&sender()).unwrap();
    assert_eq!(signed.signature.to_hex(), SWAP_SIGNATURE);
    assert_eq!(signed.id().unwrap().to_hex(), SWAP_ID);
    signed.verify(&Hash([0x11; 32])).unwrap();
}

const SWAP_COUNTER_SIGNATURE: &str = "3ace136eee8fd7694ab72d7936f37a8cfcc500e2538ae9873ccba2f1a10c7c35bd70326b7e9d8067879a8d8ec66b72af1ef812947ee4e1f507b7419a22b99f04";
const SWAP_SIGNATURE: &str = "21322e9aa9d9796a718371191ba289918bb1a32c25352deaf3c83022d5bf8d437250712fed91039c6cd4afcb07ad6c06c995987a3fdd2f063be5be8b4c790a07";
const SWAP_ID: &str = "59a4204fb8cdc37183bd4c4202f20fc022efa731f26115d2287d918c5b530030";

/// The golden payment's data, carried by a cross-currency transfer at the
/// quote 0x44….
fn cross_transfer() -> Transaction {
    let mut tx = payment();
    let Body::Payment {
        to,
        asset,
        amount,
        details,
    } = tx.body
    else {
        unreachable!()
    };
    tx.body = Body::CrossTransfer {
        to,
        asset,
        amount,
        quote: Hash([0x44; 32]),
        details,
    };
    tx
}

const CROSS_TRANSFER_BODY: &str = concat!(
    "00000010",                                                         // body: cross transfer
    "2222222222222222222222222222222222222222222222222222222222222222", // to
    "0000000000000003434e59",                                           // asset "CNY"
    "00000000000000000000000000003039",                                 // amount
    "4444444444444444444444444444444444444444444444444444444444444444", // quote
    "00000000",                                                         // details: clear
    "000000000000000c494e562d323032362d313138",                         // end-to-end id
    "0000000000000010696e766f696365203131382c204d6179",                 // remittance
);

#[test]
fn cross_transfer_layout_signature_and_id_are_pinned() {
    let tx = cross_transfer();
    let bytes = hex::encode(tx.signing_bytes().unwrap());
    let envelope_hex = 2 * (26 + 32 + 32 + 8 + 16 + 8);
    assert_eq!(
        &bytes[..envelope_hex],
        &TRANSFER_SIGNING_BYTES[..envelope_hex]
    );
    assert_eq!(&bytes[envelope_hex..], CROSS_TRANSFER_BODY);
    let signed = tx.clone().sign(&sender()).unwrap();
    assert_eq!(signed.signature.to_hex(), CROSS_TRANSFER_SIGNATURE);
    assert_eq!(signed.id().unwrap().to_hex(), CROSS_TRANSFER_ID);
    signed.verify(&Hash([0x11; 32])).unwrap();
    let data = tx.payment_data(None).unwrap();
    assert_eq!(data.end_to_end_id.as_str(), "INV-2026-118");
}

const CROSS_TRANSFER_SIGNATURE: &str = "b8b1f06b708b1679221b4e8010eba61063a28332382b5c45ad5f99e6cc4ab5b128f8e1bae618db452cfdaed4df5ec54abf2468e37319c628cd5ef304c2305407";
const CROSS_TRANSFER_ID: &str = "2f0bf7d4958e1605ce2c4c7a5d768e172d0178dd6eb3ac4e0891964780a23384";

#[test]
fn payment_data_out_of_its_rules_never_decodes() {
    let signed = payment().sign(&sender()).unwrap();
    let wire = signed.encode().unwrap();
    let good = hex::encode(&wire);
    let e2e = "000000000000000c494e562d323032362d313138";
    assert!(good.contains(e2e));
    let bad_ids = [
        String::new(),
        " LEADING".to_owned(),
        "TRAILING ".to_owned(),
        "TAB\tINSIDE".to_owned(),
        "X".repeat(36),
        "NON-ASCII-\u{e9}".to_owned(),
    ];
    for bad in bad_ids {
        let replaced = good.replace(e2e, &format!("{:016x}{}", bad.len(), hex::encode(&bad)));
        let bytes = hex::decode(replaced).unwrap();
        assert!(
            clearhouse_ledger::SignedTransaction::decode(&bytes).is_err(),
            "end-to-end id {bad:?} decoded"
        );
    }
    let remittance = "0000000000000010696e766f696365203131382c204d6179";
    for bad in ["x".repeat(141), "line\nbreak".to_owned()] {
        let replaced = good.replace(
            remittance,
            &format!("{:016x}{}", bad.len(), hex::encode(&bad)),
        );
        let bytes = hex::decode(replaced).unwrap();
        assert!(
            clearhouse_ledger::SignedTransaction::decode(&bytes).is_err(),
            "remittance of {} bytes decoded",
            bad.len()
        );
    }
    // 140 bytes of multi-byte UTF-8 is fine; an unknown details variant is not.
    let ok = "\u{20ac}".repeat(46);
    assert_eq!(ok.len(), 138);
    let replaced = good.replace(
        remittance,
        &format!("{:016x}{}", ok.len(), hex::encode(&ok)),
    );
    assert!(clearhouse_ledger::SignedTransaction::decode(&hex::decode(replaced).unwrap()).is_ok());
    let unknown = good.replace(&format!("00000000{e2e}"), &format!("00000009{e2e}"));
    assert!(clearhouse_ledger::SignedTransaction::decode(&hex::decode(unknown).unwrap()).is_err());
}

/// The golden payment of `payment()` with its data sealed for two
/// recipients, from a fixed "random" seed 0x31… and the recipients'
/// secrets 0x51… and 0x52….
/// `docs/sign_transfer.py` builds the same bytes with Python's
/// `cryptography` from the description in `ledger::sealed` alone.
fn sealed_payment() -> (Transaction, [SealingSecret; 2]) {
    use clearhouse_ledger::payment::PaymentDetails;
    let secrets = [
        SealingSecret::from_bytes([0x51; 32]),
        SealingSecret::from_bytes([0x52; 32]),
    ];
    let mut tx = payment();
    let Body::Payment {
        to,
        asset,
        amount,
        details,
    } = &mut tx.body
    else {
        unreachable!()
    };
    let context = SealingContext::new(&Hash([0x11; 32]), &sender().account(), to, asset, *amount);
    let data = details.clear().unwrap().clone();
    let keys = [secrets[0].public(), secrets[1].public()];
    *details =
        PaymentDetails::Sealed(SealedDetails::seal(&data, &keys, &context, [0x31; 32]).unwrap());
    (tx, secrets)
}

#[test]
fn sealed_payment_layout_signature_and_id_are_pinned() {
    let (tx, secrets) = sealed_payment();
    let bytes = hex::encode(tx.signing_bytes().unwrap());
    let envelope_hex = 2 * (26 + 32 + 32 + 8 + 16 + 8);
    let body = &bytes[envelope_hex..];
    // Up to the details, the clear payment's body.
    let fields_hex = 2 * (4 + 32 + 11 + 16);
    assert_eq!(&body[..fields_hex], &PAYMENT_BODY[..fields_hex]);
    let details = &body[fields_hex..];
    assert_eq!(&details[..8], "00000001", "details: sealed");
    assert_eq!(&details[8..72], SEALED_EPHEMERAL_PUBLIC);
    // Then the key commitment (32), and the count of recipients.
    assert_eq!(&details[136..152], "0000000000000002", "two recipients");
    // Each recipient: key (32), wrapped key (32), tag (16); keys ascending.
    let recipient = |i: usize| &details[152 + 160 * i..152 + 160 * (i + 1)];
    assert!(recipient(0)[..64] < recipient(1)[..64]);
    let mut keys: Vec<String> = secrets.iter().map(|s| s.public().to_hex()).collect();
    keys.sort();
    assert_eq!(&recipient(0)[..64], keys[0]);
    assert_eq!(&recipient(1)[..64], keys[1]);
    let ciphertext = &details[152 + 320..];
    assert_eq!(
        &ciphertext[..16],
        "00000000000000d8",
        "216 ciphertext bytes"
    );
    assert_eq!(ciphertext.len(), 16 + 2 * 216);
    assert_eq!(
        hex::encode(clearhouse_ledger::crypto::sha256(&[&hex::decode(details).unwrap()]).0),
        SEALED_DETAILS_SHA256
    );
    let signed = tx.clone().sign(&sender()).unwrap();
    assert_eq!(signed.signature.to_hex(), SEALED_PAYMENT_SIGNATURE);
    assert_eq!(signed.id().unwrap().to_hex(), SEALED_PAYMENT_ID);
    // Each recipient opens the clear payment's data.
    for secret in &secrets {
        let data = tx.payment_data(Some(secret)).unwrap();
        assert_eq!(data.end_to_end_id.as_str(), "INV-2026-118");
        assert_eq!(data.remittance.as_str(), "invoice 118, May");
    }
    assert!(tx.payment_data(None).is_none());
}

const SEALED_EPHEMERAL_PUBLIC: &str =
    "7a3fbff2b27ea66e97ce354203e0a7ea5f8fe70cb11b79b8c9abc6fa21c3a60a";
const SEALED_DETAILS_SHA256: &str =
    "37fbf9a06355af01a8b711946c1373984cd5bf678e9c2a2f0fafe8ee9c7cacf1";
const SEALED_PAYMENT_SIGNATURE: &str = "3d4140d68b696ee383a2f31a792296609a7787d85e239a11fa9f3e4007b4262d1a0c98fd7eb9295dc56252f6a3c67af9edd4f15926b4e51aa3f36851ed998308";
const SEALED_PAYMENT_ID: &str = "69cc188c52a7ec5a5ca572dd941cd52b76ef8b4902d6bf53419fe1084048d85e";

/// `docs/sign_transfer.py`, which knows only the documented layout, builds
/// every transaction above (the swap's consent included) with Python's `cryptography` to the same
/// signature and id. CI installs `cryptography` and sets
/// `CLEARHOUSE_REQUIRE_PYTHON=1`, so there this test cannot skip; on a
/// machine without them it says so and passes.
#[test]
fn the_python_client_reproduces_the_golden_vectors() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/sign_transfer.py");
    let required = std::env::var("CLEARHOUSE_REQUIRE_PYTHON").is_ok_and(|v| v == "1");
    let output = std::process::Command::new("python3").arg(script).output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        other => {
            assert!(
                !required,
                "python3 {script} failed (pip install cryptography): {other:?}"
            );
            eprintln!("skipped: python3 with `cryptography` is not available ({other:?})");
            return;
        }
    };
    let text = String::from_utf8(output.stdout).unwrap();
    let value = |section: &str, field: &str| -> String {
        let mut lines = text.lines().skip_while(|l| *l != section).skip(1);
        lines
            .find_map(|l| l.trim().strip_prefix(field).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("{section} {field} missing in:\n{text}"))
    };
    assert_eq!(value("transfer", "signature"), TRANSFER_SIGNATURE);
    assert_eq!(value("transfer", "id"), TRANSFER_ID);
    assert_eq!(value("payment", "signature"), PAYMENT_SIGNATURE);
    assert_eq!(value("payment", "id"), PAYMENT_ID);
    assert_eq!(
        value("sealed details", "ephemeral"),
        SEALED_EPHEMERAL_PUBLIC
    );
    assert_eq!(value("sealed details", "sha256"), SEALED_DETAILS_SHA256);
    assert_eq!(
        value("sealed payment", "signature"),
        SEALED_PAYMENT_SIGNATURE
    );
    assert_eq!(value("sealed payment", "id"), SEALED_PAYMENT_ID);
    assert_eq!(value("swap", "counter_signature"), SWAP_COUNTER_SIGNATURE);
    assert_eq!(value("swap", "signature"), SWAP_SIGNATURE);
    assert_eq!(value("swap", "id"), SWAP_ID);
    assert_eq!(
        value("cross_transfer", "signature"),
        CROSS_TRANSFER_SIGNATURE
    );
    assert_eq!(value("cross_transfer", "id"), CROSS_TRANSFER_ID);
}

/// Every governance action's bytes, after the propose body's variant
/// (`00000011`) and before its voting period.
#[test]
fn every_governance_action_layout_is_pinned() {
    use clearhouse_ledger::MemberId;
    use clearhouse_ledger::state::FeeRule;
    use clearhouse_ledger::state::governance::{Action, GovernanceParams, ParamChange};
    use clearhouse_ledger::validators::ValidatorKey;
    let u64_hex = |n: u64| format!("{n:016x}");
    let text_hex = |t: &str| format!("{}{}", u64_hex(t.len() as u64), hex::encode(t));
    let bank = || MemberId::new("bank-b").unwrap();
    let b = text_hex("bank-b");
    let cny = || AssetCode::new("CNY").unwrap();
    let asset_hex = "0000000000000003434e59";
    let cases: Vec<(Action, String)> = vec![
        (
            Action::RemoveMember { member: bank() },
            format!("00000001{b}"),
        ),
        (
            Action::SuspendMember { member: bank() },
            format!("00000002{b}"),
        ),
        (
            Action::ReinstateMember { member: bank() },
            format!("00000003{b}"),
        ),
        (
            Action::SetVotingPower {
                member: bank(),
                voting_power: 12,
            },
            format!("00000004{b}{}", u64_hex(12)),
        ),
        (
            Action::RotateValidatorKey {
                member: bank(),
                validator_key: ValidatorKey([0x5a; 32]),
            },
            format!("00000005{b}{}", "5a".repeat(32)),
        ),
        (
            Action::SetAddresses {
                member: bank(),
                addresses: Vec::new(),
            },
            format!("00000006{b}{}", u64_hex(0)),
        ),
        (
            Action::RegisterAsset {
                code: AssetCode::new("GBP").unwrap(),
                decimals: 2,
                issuer: bank(),
            },
            format!("00000007{}02{b}", text_hex("GBP")),
        ),
        (
            Action::SetFee {
                asset: cny(),
                rule: Some(FeeRule {
                    flat: Amount(1),
                    basis_points: 5,
                    receiving_share: 3_000,
                }),
            },
            format!("00000008{asset_hex}01{:032x}00050bb8", 1),
        ),
        (
            Action::SetFee {
                asset: cny(),
                rule: None,
            },
            format!("00000008{asset_hex}00"),
        ),
        (
            Action::SetParams(ParamChange::EscrowDeadlineMax(500)),
            format!("0000000900000000{}", u64_hex(500)),
        ),
        (
            Action::SetParams(ParamChange::Credit {
                rating_version: 1,
                min_rating: 400,
                period_blocks_max: 1_000,
            }),
            format!("00000009000000010001{:04x}{}", 400, u64_hex(1_000)),
        ),
        (
            Action::SetParams(ParamChange::CreditCap {
                asset: cny(),
                per_point: Some(Amount(100)),
            }),
            format!("0000000900000002{asset_hex}01{:032x}", 100),
        ),
        (
            Action::SetParams(ParamChange::Governance(GovernanceParams {
                activation_offset: 10,
                voting_period_min: 1,
                voting_period_max: 100_000,
            })),
            format!(
                "0000000900000003{}{}{}",
                u64_hex(10),
                u64_hex(1),
                u64_hex(100_000)
            ),
        ),
    ];
    let envelope_hex = 2 * (26 + 32 + 32 + 8 + 16 + 8);
    let mut tx = transfer();
    for (action, expected) in cases {
        let kind = action.kind();
        tx.body = Body::Propose {
            action,
            voting_period: 7,
        };
        let bytes = hex::encode(tx.signing_bytes().unwrap());
        assert_eq!(
            &bytes[envelope_hex..],
            format!("00000011{expected}{}", u64_hex(7)),
            "{kind}"
        );
        let signed = tx.clone().sign(&sender()).unwrap();
        let decoded =
            clearhouse_ledger::SignedTransaction::decode(&signed.encode().unwrap()).unwrap();
        assert_eq!(decoded, signed, "{kind}");
    }
}
