//! Membership by vote on a live network: a bank joins (written by
//! `add-bank`, admitted by the governance commands it prints, run through
//! the CLI), votes, registers its asset and pays; an original bank is
//! removed and cut off; a fee change takes effect at its height. All under
//! a steady payment load.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clearhouse_ledger::{Amount, AssetCode, Body, Transaction};
use clearhouse_node::api::auth::RequestSigner;
use clearhouse_node::api::dto;
use clearhouse_testnet::Testnet;
use clearhouse_testnet::join::{AddBank, PROPOSAL, add_bank};

use crate::cluster::Cluster;

/// Runs one printed `clearhouse …` command against node `url`, with
/// [`PROPOSAL`] replaced by `proposal`; asserts it succeeded.
fn cli(url: &str, argv: &[String], proposal: &str) {
    let args: Vec<String> = ["clearhouse", "--node", url]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(argv.iter().skip(1).map(|a| a.replace(PROPOSAL, proposal)))
        .collect();
    let code = clearhouse_cli::main_with_args(args.clone());
    assert_eq!(code, 0, "{args:?}");
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// The proposal node 0 lists that `seen` does not hold yet (the one just
/// sent), added to `seen`.
fn new_proposal(cluster: &Cluster, seen: &mut BTreeSet<String>) -> String {
    let list: dto::Proposals =
        serde_json::from_value(cluster.get(0, "/v1/governance/proposals")).unwrap();
    let fresh: Vec<String> = list
        .proposals
        .iter()
        .map(|p| p.id.clone())
        .filter(|id| !seen.contains(id))
        .collect();
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    seen.insert(fresh[0].clone());
    fresh[0].clone()
}

/// Waits until proposal `id` is applied; the height it took effect at.
fn applied(cluster: &Cluster, id: &str) -> u64 {
    let mut at = 0;
    cluster.wait_until(Duration::from_secs(20), "the proposal to apply", || {
        let proposal: dto::Proposal =
            serde_json::from_value(cluster.get(0, &format!("/v1/governance/proposals/{id}")))
                .unwrap();
        assert!(
            !matches!(
                proposal.status,
                dto::ProposalStatus::Failed
                    | dto::ProposalStatus::Rejected
                    | dto::ProposalStatus::Expired
            ),
            "{proposal:?}"
        );
        // Applied: `status_at` is the height it took effect at.
        at = proposal.status_at.unwrap_or(0);
        proposal.status == dto::ProposalStatus::Applied
    });
    at
}

/// Whether any certificate at heights `from..=tip` of node 0 carries a
/// precommit of `validator`.
fn signs_after(cluster: &Cluster, validator: &str, from: u64) -> bool {
    (from..=cluster.height(0)).any(|h| {
        let certificate: dto::Certificate =
            serde_json::from_value(cluster.get(0, &format!("/v1/blocks/{h}/certificate"))).unwrap();
        certificate.votes.iter().any(|v| v.validator == validator)
    })
}

fn signs_after_at(cluster: &Cluster, validator: &str, h: u64) -> bool {
    let certificate: dto::Certificate =
        serde_json::from_value(cluster.get(0, &format!("/v1/blocks/{h}/certificate"))).unwrap();
    certificate.votes.iter().any(|v| v.validator == validator)
}

/// A steady load: the customers of banks 0 and 1 pay each other 0.01 CNY,
/// one payment each every 100 ms, to nodes 0 to 2 in turn. Returns every
/// acknowledged payment's hash.
fn load(
    cluster: &Cluster,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<(String, clearhouse_ledger::SignedTransaction)>> {
    let payers: Vec<_> = cluster
        .testnet
        .accounts
        .iter()
        .filter(|a| a.bank == "bank-0" || a.bank == "bank-1")
        .map(|a| clearhouse_node::keyfile::read(&a.key_file).unwrap())
        .collect();
    let agent = cluster.agent.clone();
    let chain_id = cluster.chain_id;
    let targets: Vec<(String, RequestSigner)> = (0..3)
        .map(|i| (cluster.url(i), cluster.bank(i, i)))
        .collect();
    std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        let mut nonce = 0;
        let mut round = 0usize;
        while !stop.load(Ordering::SeqCst) {
            let batch: Vec<_> = (0..payers.len())
                .map(|p| {
                    Transaction {
                        chain_id,
                        sender: payers[p].account(),
                        nonce,
                        fee: Amount(1_000_000),
                        expiry_height: 1_000_000,
                        body: Body::Transfer {
                            to: payers[(p + 1) % payers.len()].account(),
                            asset: AssetCode::new("CNY").unwrap(),
                            amount: Amount(1),
                        },
                    }
                    .sign(&payers[p])
                    .unwrap()
                })
                .collect();
            let (url, signer) = &targets[round % targets.len()];
            let body = serde_json::to_vec(&dto::BatchRequest {
                transactions: batch
                    .iter()
                    .map(|t| hex::encode(t.encode().unwrap()))
                    .collect(),
            })
            .unwrap();
            let path = "/v1/transactions/batch";
            let mut response = agent
                .post(&format!("{url}{path}"))
                .header("content-type", "application/json")
                .header("authorization", signer.header("POST", path, &body))
                .send(&body[..])
                .unwrap();
            assert_eq!(response.status().as_u16(), 202);
            let answer: dto::BatchAnswer = response.body_mut().read_json().unwrap();
            for (result, tx) in answer.results.iter().zip(batch) {
                assert!(
                    matches!(result, dto::BatchResult::Accepted { .. }),
                    "{result:?}"
                );
                acknowledged.push((tx.id().unwrap().to_hex(), tx));
            }
            nonce += 1;
            round += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        acknowledged
    })
}

/// A 4-bank network under load admits a fifth bank by vote (it syncs and
/// precommits), which registers its own asset and pays another bank's
/// customer in it; an original bank is removed (cut off, no longer
/// voting); a fee change takes effect at its activation height. No commit
/// gap over 10 s, every acknowledged payment committed, one state
/// everywhere, and the auditor verifies the whole chain.
#[test]
fn a_bank_joins_pays_and_another_leaves_by_vote_under_load() {
    let started = Instant::now();
    let mut cluster = Cluster::start(4, 0, 2, 21);
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(&cluster, stop.clone());

    // The new bank's files, and the commands add-bank prints.
    let added = add_bank(&AddBank {
        dir: cluster.testnet.dir.clone(),
        name: "bank-4".into(),
        asset: Some(("NZD".into(), 2)),
        customers: 1,
        seed: Some(21),
    })
    .unwrap();
    let reopened = Testnet::open(&cluster.testnet.dir).unwrap();
    assert_eq!(reopened.nodes.len(), 5);
    let commands = added.commands(&reopened);
    cluster.testnet.nodes.push(added.node.clone());
    cluster.nodes.push(None);
    cluster.processes.push(None);
    // Started before it is admitted: it waits for the others to let it in.
    cluster.start_node(4);
    let url = cluster.url(0);
    let mut seen = BTreeSet::new();

    cli(&url, &commands.propose_member, "");
    let add = new_proposal(&cluster, &mut seen);
    for vote in &commands.member_votes {
        cli(&url, vote, &add);
    }
    let joined_at = applied(&cluster, &add);
    assert!(joined_at > 10, "{joined_at}");
    assert!(!signs_after(&cluster, &added.member.validator_key, 1));
    let validator = added.member.validator_key.clone();
    cluster.wait_until(
        Duration::from_secs(15),
        "bank-4 to sync and precommit",
        || signs_after(&cluster, &validator, joined_at + 1),
    );
    eprintln!(
        "bank-4 joined at {joined_at}, signing by {:?}",
        started.elapsed()
    );

    // Its asset, and a fee change, proposed side by side.
    let register = commands.register_asset.clone().unwrap();
    cli(&url, &register, "");
    let asset = new_proposal(&cluster, &mut seen);
    let governor = |i: usize| cluster.testnet.governors[i].display().to_string();
    cli(
        &url,
        &words(&format!(
            "clearhouse governance propose set-fee USD --flat 0.05 --basis-points 0 --key {} --wait",
            governor(1)
        )),
        "",
    );
    let fee = new_proposal(&cluster, &mut seen);
    // A USD payment before the change pays the old fee.
    let payer = cluster
        .testnet
        .accounts
        .iter()
        .position(|a| a.bank == "bank-2")
        .unwrap();
    let payee = cluster.keys[0].account();
    let usd_paid = |cluster: &Cluster, nonce: u64| -> (u64, u128) {
        let account = cluster.keys[payer].account();
        let before = cluster.balance(0, &account, "USD");
        let tx = cluster.transfer(payer, nonce, payee, "USD", 10_000);
        cluster.submit_accepted(0, &tx);
        let status = cluster.final_everywhere(1, &tx).remove(0);
        assert_eq!(status.status, dto::TxState::Committed, "{status:?}");
        let after = cluster.balance(0, &account, "USD");
        (status.height.unwrap(), before - after - 10_000)
    };
    let (_, old_fee) = usd_paid(&cluster, 0);
    assert_ne!(old_fee, 5);
    for vote in &commands.asset_votes {
        cli(&url, vote, &asset);
    }
    for i in [0, 2, 3] {
        cli(
            &url,
            &words(&format!(
                "clearhouse governance vote {fee} --yes --key {} --wait",
                governor(i)
            )),
            "",
        );
    }
    applied(&cluster, &asset);
    let fee_at = applied(&cluster, &fee);
    let (height, new_fee) = usd_paid(&cluster, 1);
    assert!(height >= fee_at, "{height} < {fee_at}");
    assert_eq!(new_fee, 5, "0.05 USD flat, no basis points");

    // Bank-4's customer, registered and funded in NZD, pays bank-0's.
    for command in commands.register_customers.iter().chain(&commands.issue) {
        cli(&url, command, "");
    }
    let customer = clearhouse_node::keyfile::read(&added.customers[0].key_file).unwrap();
    let nzd = Transaction {
        chain_id: cluster.chain_id,
        sender: customer.account(),
        nonce: 0,
        fee: Amount(1_000_000),
        expiry_height: 1_000_000,
        body: Body::Transfer {
            to: payee,
            asset: AssetCode::new("NZD").unwrap(),
            amount: Amount(12_345),
        },
    }
    .sign(&customer)
    .unwrap();
    cluster.submit_accepted(4, &nzd);
    for status in cluster.final_everywhere(5, &nzd) {
        assert_eq!(status.status, dto::TxState::Committed, "{status:?}");
    }
    assert_eq!(cluster.balance(2, &payee, "NZD"), 12_345);
    eprintln!("bank-4 paid in NZD by {:?}", started.elapsed());

    // Bank-3 removed: cut off everywhere, its votes gone from certificates.
    cli(
        &url,
        &words(&format!(
            "clearhouse governance propose remove-member bank-3 --key {} --wait",
            governor(0)
        )),
        "",
    );
    let remove = new_proposal(&cluster, &mut seen);
    let voters = [
        governor(1),
        governor(2),
        added.governor.display().to_string(),
    ];
    for key in voters {
        cli(
            &url,
            &words(&format!(
                "clearhouse governance vote {PROPOSAL} --yes --key {key} --wait"
            )),
            &remove,
        );
    }
    let removed_at = applied(&cluster, &remove);
    let removed_key = cluster.testnet.genesis.members[3].network_key;
    let removed_key = hex::encode(removed_key);
    let others = [0, 1, 2, 4];
    cluster.wait_until(Duration::from_secs(10), "bank-3 to be cut off", || {
        others
            .iter()
            .all(|i| !cluster.status(*i).peers.contains(&removed_key))
    });
    // It stays out: its node keeps dialling, and is refused.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(200));
        for i in others {
            assert!(
                !cluster.status(i).peers.contains(&removed_key),
                "node {i} holds a connection with the removed bank"
            );
        }
    }
    let removed_validator = cluster.testnet.genesis.members[3].validator_key.to_hex();
    let tip = cluster.height(0);
    assert!(tip > removed_at + 2, "{tip} {removed_at}");
    let still: Vec<u64> = (removed_at + 2..=tip)
        .filter(|h| signs_after_at(&cluster, &removed_validator, *h))
        .collect();
    assert!(
        still.is_empty(),
        "removed at {removed_at}, still signing {still:?}"
    );
    assert!(signs_after(&cluster, &validator, removed_at + 2));
    cluster.stop_node(3);

    // The load ends; every acknowledged payment is committed.
    stop.store(true, Ordering::SeqCst);
    let acknowledged = loader.join().unwrap();
    assert!(acknowledged.len() > 200, "{}", acknowledged.len());
    for (hash, _) in &acknowledged {
        let status = cluster.transaction(0, hash, 20_000);
        assert_eq!(status.status, dto::TxState::Committed, "{hash}: {status:?}");
    }
    let last = acknowledged.last().map(|(_, tx)| tx.clone()).unwrap();
    cluster.final_everywhere(3, &last);
    let hash = last.id().unwrap().to_hex();
    assert!(cluster.transaction(4, &hash, 20_000).status.is_final());

    // One state everywhere, at one height.
    let height = others.iter().map(|i| cluster.height(*i)).min().unwrap();
    let roots: BTreeSet<String> = others
        .iter()
        .map(|i| {
            let block: dto::Block =
                serde_json::from_value(cluster.get(*i, &format!("/v1/blocks/{height}"))).unwrap();
            block.state_root
        })
        .collect();
    assert_eq!(roots.len(), 1, "{roots:?}");

    // The auditor verifies the whole chain, validator-set changes and all.
    let genesis = cluster.testnet.genesis.clone();
    let summary = clearhouse_cli::audit::verify(
        &genesis,
        &clearhouse_cli::audit::ChainSource::Node {
            url: cluster.url(4),
            auth: Some(Arc::new(
                clearhouse_node::keyfile::read(&cluster.testnet.auditor_key).unwrap(),
            )),
            trust: clearhouse_cli::tls::Trust::default(),
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert!(summary.blocks >= height, "{} < {height}", summary.blocks);

    // No commit gap over 10 s (block 1 follows the genesis time, 0).
    let tip = cluster.height(0);
    let at = |h: u64| -> u64 {
        let block: dto::Block =
            serde_json::from_value(cluster.get(0, &format!("/v1/blocks/{h}"))).unwrap();
        block.timestamp_ms
    };
    let mut gap_max = 0;
    let mut previous = at(1);
    for h in 2..=tip {
        let now = at(h);
        gap_max = gap_max.max(now.saturating_sub(previous));
        previous = now;
    }
    assert!(gap_max <= 10_000, "a commit gap of {gap_max} ms");
    let heights = cluster.shutdown_and_check_stores();
    assert_eq!(heights.len(), 5);
    eprintln!(
        "{} payments acknowledged and committed over {tip} blocks, longest gap {gap_max} ms, in {:?}",
        acknowledged.len(),
        started.elapsed()
    );
}
