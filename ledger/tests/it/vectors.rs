//! Golden vectors: the exact bytes a client in another language must
//! produce. If one of these changes, every signature on every chain changes.

use clearhouse_ledger::certificate::{VoteKind, proposal_signing_bytes, vote_signing_bytes};
use clearhouse_ledger::crypto::Keypair;
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
