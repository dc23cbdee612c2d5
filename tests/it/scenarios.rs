//! The node issue's scenarios.

use std::time::{Duration, Instant};

use crate::cluster::Cluster;

/// Four validators; 2,000 transfers submitted round-robin to all four:
/// every one committed; all nodes at the same height, blocks and state
/// root; every asset's supply conserved.
#[test]
fn four_validators_commit_two_thousand_transfers() {
    let mut cluster = Cluster::start(4, 0, 10, 1);
    let senders = cluster.keys.len(); // 40
    let per_sender = 2_000 / senders as u64;
    let mut txs = Vec::new();
    for nonce in 0..per_sender {
        for from in 0..senders {
            let to = cluster.keys[(from + 1 + nonce as usize) % senders].account();
            txs.push(cluster.transfer(from, nonce, to, "CNY", 100 + u128::from(nonce)));
        }
    }
    assert_eq!(txs.len(), 2_000);
    let started = Instant::now();
    // Round-robin over the four nodes, in batches of 100.
    for (k, batch) in txs.chunks(100).enumerate() {
        for result in cluster.submit_batch(k % 4, batch) {
            assert!(result.get("hash").is_some(), "refused: {result}");
        }
    }
    for tx in &txs {
        let hash = tx.id().unwrap().to_hex();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let status = cluster.get(0, &format!("/v1/transactions/{hash}?wait_ms=5000"));
            if status["status"] == "committed" {
                break;
            }
            assert!(status["status"] != "rejected", "{status}");
            assert!(
                Instant::now() < deadline,
                "transaction {hash} not committed: {status}"
            );
        }
    }
    let elapsed = started.elapsed();
    cluster.wait_until(Duration::from_secs(30), "all nodes at one tip", || {
        let tips = cluster.tips();
        let first = tips.values().next().cloned();
        tips.values().all(|t| Some(t.clone()) == first)
    });
    let height = cluster.height(0);
    eprintln!(
        "2,000 transfers committed in {:.2}s ({:.0}/s) over {height} blocks",
        elapsed.as_secs_f64(),
        2_000.0 / elapsed.as_secs_f64()
    );
    let metrics = ureq::get(&format!("{}/metrics", cluster.url(0)))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(metrics.contains("clearhouse_commit_latency_ms_count"));
    cluster.stop_node(0);
    let heights = cluster.shutdown_and_check_stores();
    assert!(heights.iter().all(|h| *h == heights[0]), "{heights:?}");
}
