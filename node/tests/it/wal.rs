//! The WAL keeps what was flushed, cuts a torn tail, refuses damage in the
//! middle, and prunes durably.

use clearhouse_ledger::Hash;
use clearhouse_ledger::certificate::VoteKind;
use clearhouse_ledger::testing::key;
use clearhouse_node::wal::{Wal, WalError, WalRecord};
use clearhouse_node::wire::{ConsensusMessage, SignedVote};

fn vote(height: u64, round: u32) -> ConsensusMessage {
    ConsensusMessage::Vote(SignedVote::sign(
        &Hash([1; 32]),
        height,
        round,
        VoteKind::Prevote,
        Some(Hash([2; 32])),
        &key("v"),
    ))
}

#[test]
fn records_survive_reopen_and_a_torn_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consensus.wal");
    {
        let (mut wal, records) = Wal::open(&path).unwrap();
        assert!(records.is_empty());
        wal.append_signed(&vote(1, 0)).unwrap();
        wal.append_received(&vote(1, 1)).unwrap();
        wal.append_signed(&vote(1, 2)).unwrap();
    }
    let full = std::fs::read(&path).unwrap();
    // Every cut inside the last record is a torn tail: the first two survive.
    let second_end = {
        let (_, records) = Wal::open(&path).unwrap();
        assert_eq!(records.len(), 3);
        full.len() - (full.len() / 3) // roughly inside the last record
    };
    for cut in [full.len() - 1, full.len() - 40, second_end] {
        std::fs::write(&path, &full[..cut]).unwrap();
        let (_, records) = Wal::open(&path).unwrap();
        assert_eq!(records.len(), 2, "cut at {cut}");
        assert_eq!(records[0], WalRecord::Signed(vote(1, 0)));
        assert_eq!(
            std::fs::metadata(&path).unwrap().len() as usize,
            full.len() / 3 * 2,
            "cut at {cut}"
        );
    }
}

#[test]
fn damage_in_the_middle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consensus.wal");
    {
        let (mut wal, _) = Wal::open(&path).unwrap();
        for round in 0..3 {
            wal.append_signed(&vote(1, round)).unwrap();
        }
    }
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[50] ^= 0xff; // inside the first record's payload
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Wal::open(&path),
        Err(WalError::Corrupt { offset: 0, .. })
    ));
}

#[test]
fn pruning_keeps_only_later_heights() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consensus.wal");
    let (mut wal, _) = Wal::open(&path).unwrap();
    let records = vec![
        WalRecord::Signed(vote(1, 0)),
        WalRecord::Received(vote(2, 0)),
    ];
    for record in &records {
        match record {
            WalRecord::Signed(m) => wal.append_signed(m).unwrap(),
            WalRecord::Received(m) => wal.append_received(m).unwrap(),
        }
    }
    wal.prune_below(2, &records).unwrap();
    wal.append_signed(&vote(2, 1)).unwrap();
    drop(wal);
    let (_, reopened) = Wal::open(&path).unwrap();
    assert_eq!(
        reopened,
        vec![
            WalRecord::Received(vote(2, 0)),
            WalRecord::Signed(vote(2, 1))
        ]
    );
}
