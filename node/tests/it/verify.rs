//! Signature checks (`clearhouse_node::verify`): a batch answers what
//! each check alone answers, wherever it runs, and the verified cache
//! answers only for the exact bytes it checked.

use clearhouse_ledger::codec::TX_BYTES_MAX;
use clearhouse_ledger::testing::Fixture;
use clearhouse_ledger::tx::TxError;
use clearhouse_ledger::{Hash, SignedTransaction};
use clearhouse_node::mempool::AdmitError;
use clearhouse_node::verify::{Verified, VerifiedCache, job_verdicts, on_all_cores};

fn pay(f: &Fixture, from: usize, nonce: u64, amount: u128) -> SignedTransaction {
    let to = f.accounts[(from + 1) % f.accounts.len()].account();
    f.transfer(&f.accounts[from], nonce, to, 0, amount)
}

/// A batch (decoded or not, split over the cores or not) answers, item by
/// item and in order, what checking each alone answers: good ones, a
/// forged signature, another chain, undecodable and oversized bytes.
#[test]
fn a_checked_batch_answers_what_checking_each_alone_answers() {
    let f = Fixture::new(2, 6);
    let chain_id = pay(&f, 0, 0, 1).tx.chain_id;
    let mut wire: Vec<Vec<u8>> = Vec::new();
    for round in 0..40u64 {
        let good = pay(&f, (round % 6) as usize, round, 1 + u128::from(round));
        let mut forged = good.clone();
        forged.signature.0[(round % 64) as usize] ^= 0x10;
        let elsewhere = f.transfer(&f.accounts[0], round, f.accounts[1].account(), 0, 3);
        let mut other_chain = elsewhere.tx.clone();
        other_chain.chain_id = Hash([round as u8; 32]);
        let other_chain = other_chain.sign(&f.accounts[0]).unwrap();
        wire.push(good.encode().unwrap());
        wire.push(forged.encode().unwrap());
        wire.push(other_chain.encode().unwrap());
        match round % 4 {
            0 => wire.push(vec![0xff; 7]),
            1 => wire.push(vec![0; TX_BYTES_MAX + 1]),
            _ => {}
        }
    }
    // The batch first, so that keys new to the process cache go through
    // the batch's own parsing.
    let batch: Vec<_> = Verified::decode_and_check_batch(&wire, &chain_id)
        .into_iter()
        .map(|answer| answer.map(|v| v.id()))
        .collect();
    let alone: Vec<_> = wire
        .iter()
        .map(|bytes| Verified::decode_and_check(bytes, &chain_id).map(|v| v.id()))
        .collect();
    let good = alone.iter().filter(|answer| answer.is_ok()).count();
    assert_eq!(good, 40, "the batch must hold good items to tell apart");
    assert!(
        alone
            .iter()
            .any(|answer| matches!(answer, Err(AdmitError::Invalid(TxError::Signature(_)))))
    );
    assert_eq!(batch, alone);
    let split: Vec<_> = on_all_cores(
        wire.clone(),
        |chunk| Verified::decode_and_check_batch(&chunk, &chain_id),
        || panic!("no chunk fails"),
    )
    .into_iter()
    .map(|answer| answer.map(|v| v.id()))
    .collect();
    assert_eq!(split, alone);
    // The decoded form with wire sizes, as gossip and proposals check it:
    // an oversized size (here in the middle) is refused before its
    // signature is looked at, and the answers after it stay in place.
    let mut decoded: Vec<(SignedTransaction, usize)> = wire
        .iter()
        .filter_map(|bytes| Some((SignedTransaction::decode(bytes).ok()?, bytes.len())))
        .collect();
    let middle = decoded.len() / 2;
    decoded.insert(middle, (pay(&f, 2, 0, 1), TX_BYTES_MAX + 1));
    let one_by_one: Vec<_> = decoded
        .iter()
        .map(|(tx, len)| Verified::check(tx.clone(), *len, &chain_id).map(|v| v.id()))
        .collect();
    assert!(matches!(
        one_by_one[middle],
        Err(AdmitError::Invalid(TxError::Codec(_)))
    ));
    let together: Vec<_> = Verified::check_batch(decoded, &chain_id)
        .into_iter()
        .map(|answer| answer.map(|v| v.id()))
        .collect();
    assert_eq!(together, one_by_one);
}

/// An engine job's verdicts are the same on one thread and on all cores:
/// `None` exactly where a signature (or the chain) is wrong, in order.
#[test]
fn a_jobs_verdicts_do_not_depend_on_where_it_runs() {
    let f = Fixture::new(2, 6);
    let chain_id = pay(&f, 0, 0, 1).tx.chain_id;
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for round in 0..200u64 {
        let mut tx = pay(&f, (round % 6) as usize, round, 1 + u128::from(round));
        let good = round % 7 != 3;
        if !good {
            tx.signature.0[(round % 64) as usize] ^= 0x01;
        }
        let len = tx.encode().unwrap().len();
        expected.push(good.then(|| tx.id().unwrap()));
        items.push((tx, len));
    }
    let ids = |verdicts: Vec<Option<Verified>>| -> Vec<Option<Hash>> {
        verdicts.into_iter().map(|v| v.map(|v| v.id())).collect()
    };
    assert!(expected.iter().any(Option::is_none));
    assert_eq!(ids(job_verdicts(items.clone(), &chain_id, false)), expected);
    assert_eq!(ids(job_verdicts(items.clone(), &chain_id, true)), expected);
    let elsewhere = Hash([9; 32]);
    assert!(
        job_verdicts(items, &elsewhere, true)
            .iter()
            .all(Option::is_none),
        "nothing verifies for another chain"
    );
}

/// The cache answers for exactly the bytes it verified: a different
/// transaction under a held id is neither held nor taken (and does not
/// evict the held one); it forgets on commit and starts over at its bound.
#[test]
fn the_verified_cache_answers_only_for_what_it_checked() {
    let f = Fixture::new(2, 6);
    let chain_id = pay(&f, 0, 0, 1).tx.chain_id;
    let verified = |tx: &SignedTransaction| {
        Verified::check(tx.clone(), tx.encode().unwrap().len(), &chain_id).unwrap()
    };
    let mut cache = VerifiedCache::new(3);
    assert!(cache.is_empty());
    let a = pay(&f, 0, 0, 5);
    let id = a.id().unwrap();
    cache.insert(verified(&a));
    assert!(cache.holds(&id, &a));
    // Same id claimed by other bytes (a forged signature keeps the id's
    // body but not the signed bytes).
    let mut forged = a.clone();
    forged.signature.0[0] ^= 1;
    assert!(!cache.holds(&id, &forged));
    assert!(cache.take(&id, &forged).is_none());
    assert!(cache.holds(&id, &a), "a failed take leaves the held one");
    assert_eq!(cache.take(&id, &a).map(|v| v.id()), Some(id));
    assert!(!cache.holds(&id, &a) && cache.is_empty());
    cache.insert(verified(&a));
    cache.forget(&id);
    assert!(!cache.holds(&id, &a));
    // The bound: a fourth starts the cache over, and room for more than
    // it holds empties it.
    let txs: Vec<_> = (0..4).map(|n| pay(&f, 1, n, 1)).collect();
    for tx in &txs[..3] {
        cache.insert(verified(tx));
    }
    assert_eq!(cache.len(), 3);
    cache.insert(verified(&txs[3]));
    assert_eq!(cache.len(), 1);
    assert!(cache.holds(&txs[3].id().unwrap(), &txs[3]));
    cache.make_room(3);
    assert!(cache.is_empty());
    assert_eq!(cache.max(), 3);
}
