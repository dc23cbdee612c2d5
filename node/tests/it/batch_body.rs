//! The binary batch body of `POST /v1/transactions/batch`: framing and
//! every way a body can fail to split.

use clearhouse_node::api::{WireBatchError, frame_wire_batch, split_wire_batch};

#[test]
fn a_framed_batch_splits_back_into_the_same_transactions() {
    let transactions: Vec<Vec<u8>> = vec![vec![1, 2, 3], Vec::new(), vec![9; 300], vec![0xff]];
    let body = frame_wire_batch(transactions.iter().map(Vec::as_slice)).unwrap();
    assert_eq!(body.len(), 4 * 4 + 3 + 300 + 1);
    assert_eq!(&body[..7], &[3, 0, 0, 0, 1, 2, 3]);
    let split = split_wire_batch(&body, 4).unwrap();
    assert_eq!(
        split,
        transactions.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );
    assert!(split_wire_batch(&[], 0).unwrap().is_empty());
}

#[test]
fn a_body_that_does_not_split_is_refused_with_the_reason() {
    let body = frame_wire_batch([&[7u8; 10][..], &[8u8; 20][..]]).unwrap();
    assert_eq!(
        split_wire_batch(&body, 1),
        Err(WireBatchError::TooMany { most: 1 })
    );
    // Cut inside the second length, then inside the second transaction.
    assert_eq!(
        split_wire_batch(&body[..16], 2),
        Err(WireBatchError::CutLength { index: 1 })
    );
    assert_eq!(
        split_wire_batch(&body[..30], 2),
        Err(WireBatchError::CutTransaction {
            index: 1,
            declared: 20,
            remaining: 12
        })
    );
    // Bytes after the most items that cannot even hold a length are a
    // cut body, not one item too many.
    assert_eq!(
        split_wire_batch(&[0, 0, 0, 0, 1], 1),
        Err(WireBatchError::CutLength { index: 1 })
    );
    assert_eq!(split_wire_batch(&[0; 8], 2).unwrap().len(), 2);
    // A length far beyond the body.
    assert_eq!(
        split_wire_batch(&[0xff, 0xff, 0xff, 0xff, 1], 5),
        Err(WireBatchError::CutTransaction {
            index: 0,
            declared: u32::MAX as usize,
            remaining: 1
        })
    );
}
