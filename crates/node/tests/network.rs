//! Several in-process nodes on loopback with `[p2p]` enabled running a
//! BFT-DPoS chain with short slots: blocks flow, the LIB advances on every
//! node, a transaction sent to one node is included exactly once and seen
//! by all, and a node started late syncs to the head.
//!
//! Timing is generous and every check polls: the test must hold on a
//! loaded 2-core box.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aergo_crypto::{dev_genesis, dev_key, sign_tx, PrivateKey};
use aergo_node::{api::Api, init_data_dir, InitOptions, Node, NodeConfig, RunningNode};
use aergo_rpc::Handler;
use aergo_types::genesis::DposGenesis;
use aergo_types::{Amount, ChainId, Genesis, Hash, TxBody};
use serde_json::json;

const SLOT_MS: u64 = 500;
const PRODUCERS: u32 = 3;

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

fn genesis() -> (Genesis, Vec<PrivateKey>) {
    genesis_with(PRODUCERS)
}

fn genesis_with(producers: u32) -> (Genesis, Vec<PrivateKey>) {
    genesis_with_slot(producers, SLOT_MS)
}

fn genesis_with_slot(producers: u32, slot_ms: u64) -> (Genesis, Vec<PrivateKey>) {
    let bps = (0..producers).map(|i| dev_key("bp", i).public_key().peer_id()).collect();
    let chain_id = ChainId::new(0, false, false, "dpos.net.test", "dpos").unwrap();
    let (mut g, accounts) = dev_genesis(chain_id, now_ns(), 4, Amount::from_aergo(1_000_000).unwrap(), bps).unwrap();
    g.dpos = Some(DposGenesis { block_interval_ms: Some(slot_ms), ..Default::default() });
    g.validate().unwrap();
    (g, accounts)
}

async fn start(dir: &std::path::Path, genesis: &Genesis, key: PrivateKey, bootstrap: Vec<String>) -> RunningNode {
    let mut config = NodeConfig::default();
    config.listen_on_free_ports();
    config.p2p.enabled = true;
    config.p2p.listen = "/ip4/127.0.0.1/tcp/0".into();
    config.p2p.bootstrap = bootstrap;
    if !aergo_node::DataDir::is_initialised(dir) {
        init_data_dir(dir, InitOptions { genesis: genesis.clone(), node_key: key, config: config.clone() }).unwrap();
    }
    let node = Arc::new(Node::open_with_config(dir, config).unwrap());
    node.start().await.unwrap()
}

/// Polls `f` every 200 ms until it holds or `timeout` passes.
async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool, state: impl Fn() -> String) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}: {}", state());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn heights(nodes: &[&RunningNode]) -> String {
    let v: Vec<(u64, u64, usize)> = nodes
        .iter()
        .map(|n| (n.node.chain().head().height, n.node.chain().lib().height, n.node.peers().len()))
        .collect();
    format!("(head, lib, peers) per node: {v:?}")
}

/// How many main-chain blocks of `node` hold the transaction.
fn inclusions(node: &Node, tx: &Hash) -> usize {
    let chain = node.chain();
    (1..=chain.head().height)
        .filter(|h| {
            let block = chain.blocks().block_by_height(*h).unwrap().unwrap();
            block.txs().iter().any(|t| t.hash == tx.to_vec())
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dpos_nodes_produce_finalize_gossip_and_sync() {
    let (g, accounts) = genesis();
    let dirs: Vec<tempfile::TempDir> = (0..=PRODUCERS).map(|_| tempfile::tempdir().unwrap()).collect();

    let first = start(dirs[0].path(), &g, dev_key("bp", 0), Vec::new()).await;
    assert_eq!(first.p2p_addrs.len(), 1, "{:?}", first.p2p_addrs);
    let boot = first.p2p_addrs.clone();
    let mut nodes = vec![first];
    for i in 1..PRODUCERS {
        let mut bootstrap = boot.clone();
        bootstrap.extend(nodes.last().unwrap().p2p_addrs.iter().cloned());
        bootstrap.dedup();
        nodes.push(start(dirs[i as usize].path(), &g, dev_key("bp", i), bootstrap).await);
    }
    let all: Vec<&RunningNode> = nodes.iter().collect();

    // Status reports the consensus fields.
    let api = Api::new(nodes[1].node.clone());
    let status = api.call("status", json!([])).unwrap();
    assert_eq!(status["consensus"], json!("dpos"));
    assert_eq!(status["role"], json!("producer"));
    assert_eq!(status["peerId"], json!(dev_key("bp", 1).public_key().peer_id()));

    // Blocks flow and the LIB advances everywhere.
    wait_for(
        "every node at LIB 5",
        Duration::from_secs(90),
        || nodes.iter().all(|n| n.node.chain().lib().height >= 5),
        || heights(&all),
    )
    .await;
    let peers = api.call("getPeers", json!([])).unwrap();
    assert_eq!(peers.as_array().unwrap().len(), (PRODUCERS - 1) as usize, "{peers}");
    let producers = api.call("getProducers", json!([])).unwrap();
    assert_eq!(producers["producers"].as_array().unwrap().len(), PRODUCERS as usize, "{producers}");
    let params = api.call("getParams", json!([])).unwrap();
    assert!(params.as_array().unwrap().iter().any(|p| p["name"] == json!("BPCOUNT")), "{params}");
    let stake = api.call("getStake", json!([accounts[0].address().to_string()])).unwrap();
    assert_eq!(stake["amount"], json!("0"), "{stake}");
    let metrics = api.metrics().unwrap();
    assert!(metrics.contains(&format!("aergo_peers {}", PRODUCERS - 1)), "{metrics}");

    // A transaction sent to one node: gossiped, included once, final and
    // visible on all.
    let chain_id_hash = nodes[0].node.chain().rules().chain_id_hash;
    let amount = Amount::from_aergo(7).unwrap();
    let body = TxBody::transfer(1, &accounts[0].address(), &accounts[1].address(), amount, &chain_id_hash);
    let tx = sign_tx(body, &accounts[0]);
    let hash = nodes[2].node.submit(tx).unwrap();
    wait_for(
        "the transaction final on every node",
        Duration::from_secs(90),
        || {
            nodes.iter().all(|n| {
                let chain = n.node.chain();
                match chain.blocks().tx_location(&hash).unwrap() {
                    Some(loc) => chain
                        .blocks()
                        .block_by_hash(&loc.block_hash)
                        .unwrap()
                        .is_some_and(|b| b.header().unwrap().block_no <= chain.lib().height),
                    None => false,
                }
            })
        },
        || heights(&all),
    )
    .await;
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(inclusions(&n.node, &hash), 1, "node {i}");
        let recipient = aergo_exec::account(&n.node.chain().head_state(), &accounts[1].address()).unwrap();
        assert_eq!(recipient.balance, Amount::from_aergo(1_000_007).unwrap(), "node {i}");
    }

    // A follower started late syncs to the head and follows it.
    let target = nodes[0].node.chain().head().height;
    let late = start(dirs[PRODUCERS as usize].path(), &g, dev_key("follower", 0), vec![boot[0].clone()]).await;
    let late_api = Api::new(late.node.clone());
    assert_eq!(late_api.call("status", json!([])).unwrap()["role"], json!("follower"));
    wait_for(
        "the late node past the head it joined at",
        Duration::from_secs(120),
        || late.node.chain().lib().height >= target,
        || {
            format!(
                "late: head {} lib {} sync {:?}; {}",
                late.node.chain().head().height,
                late.node.chain().lib().height,
                late.node.sync_progress(),
                heights(&all)
            )
        },
    )
    .await;
    assert_eq!(inclusions(&late.node, &hash), 1);
    let lib = late.node.chain().lib();
    assert_eq!(nodes[0].node.chain().blocks().hash_at(lib.height).unwrap(), Some(lib.hash));
    let progress = late.node.sync_progress();
    assert!(progress.target >= target, "{progress:?}");

    // A producer that stops and restarts from its data directory resumes:
    // with three producers all are needed for a quorum, so finality only
    // goes on once it is back.
    let stopped = nodes.pop().unwrap();
    stopped.shutdown().await;
    let lib_while_down = nodes[0].node.chain().lib().height;
    let back = start(dirs[(PRODUCERS - 1) as usize].path(), &g, dev_key("bp", PRODUCERS - 1), boot.clone()).await;
    nodes.push(back);
    let all: Vec<&RunningNode> = nodes.iter().chain(std::iter::once(&late)).collect();
    wait_for(
        "finality again on every node after the restart",
        Duration::from_secs(120),
        || all.iter().all(|n| n.node.chain().lib().height >= lib_while_down + 5),
        || heights(&all),
    )
    .await;
    let lib = nodes[0].node.chain().lib();
    for n in &all {
        assert_eq!(n.node.chain().blocks().hash_at(lib.height).unwrap(), Some(lib.hash), "one final chain");
    }

    late.shutdown().await;
    for n in nodes {
        n.shutdown().await;
    }
}

/// A bad p2p address is refused when the node opens, before its stores
/// exist (and `init` does not write such a configuration).
#[test]
fn a_bad_p2p_address_is_a_clear_error() {
    let (g, _) = genesis();
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::default();
    config.listen_on_free_ports();
    config.p2p.enabled = true;
    config.p2p.listen = "/ip4/127.0.0.1/tcp/0".into();
    config.p2p.bootstrap = vec!["not a multiaddr".into()];
    let init = InitOptions { genesis: g.clone(), node_key: dev_key("bp", 0), config: config.clone() };
    let err = init_data_dir(dir.path(), init).err().expect("refused");
    assert!(err.to_string().contains("p2p.bootstrap"), "{err}");
    assert!(!dir.path().join("genesis.json").exists(), "init wrote a directory it refuses");
    let good = InitOptions { genesis: g, node_key: dev_key("bp", 0), config: NodeConfig::default() };
    init_data_dir(dir.path(), good).unwrap();
    let err = Node::open_with_config(dir.path(), config).err().expect("refused");
    assert!(err.to_string().contains("p2p.bootstrap"), "{err}");
    assert!(!dir.path().join("chain").exists(), "the chain store was created");
}

/// What a raw network peer claims about itself: the victim's genesis, at
/// height 0, with no blocks to serve.
struct Claim(aergo_net::PeerStatus);

impl aergo_net::SyncProvider for Claim {
    fn status(&self) -> aergo_net::PeerStatus {
        self.0
    }
    fn blocks(&self, _: u64, _: u32, _: usize) -> aergo_net::Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }
}

/// A raw peer gossips undecodable blocks: the node rejects them, its
/// network penalises and disconnects the sender, and the chain goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_sending_garbage_is_disconnected_and_the_node_goes_on() {
    let (g, _) = genesis_with(1);
    let dir = tempfile::tempdir().unwrap();
    let victim = start(dir.path(), &g, dev_key("bp", 0), Vec::new()).await;
    let chain = victim.node.chain().clone();
    let status = aergo_net::PeerStatus {
        chain_id_hash: chain.rules().chain_id_hash,
        genesis_hash: chain.genesis_hash(),
        best_height: 0,
        best_hash: chain.genesis_hash(),
        lib_height: 0,
    };
    let mut cfg = aergo_net::NetConfig::new(dev_key("attacker", 0), chain.rules().chain_id_hash);
    cfg.listen_addrs = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    cfg.bootstrap = vec![victim.p2p_addrs[0].parse().unwrap()];
    let (attacker, mut events) = aergo_net::Network::start(cfg, Arc::new(Claim(status))).await.unwrap();
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let attacker_id = attacker.local_peer_id().to_base58();
    wait_for(
        "the attacker connected",
        Duration::from_secs(60),
        || victim.node.peers().iter().any(|p| p.peer_id == attacker_id),
        || format!("{:?}", victim.node.peers()),
    )
    .await;
    let lib_before = victim.node.chain().lib().height;
    // Distinct garbage each time (gossip drops duplicates), until the
    // victim has cut the attacker off.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = 0u32;
    loop {
        let gone = match attacker.peers().await {
            Ok(p) => p.is_empty(),
            Err(_) => true,
        };
        if gone && !victim.node.peers().iter().any(|p| p.peer_id == attacker_id) && sent > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the attacker was not disconnected after {sent} garbage blocks");
        let mut garbage = b"\x0a\xff\xff\xff\xff\x0f not a block ".to_vec();
        garbage.extend_from_slice(&sent.to_be_bytes());
        if attacker.publish_block(garbage).await.is_ok() {
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Two invalid blocks reach the ban threshold; a few more may be in
    // flight before the disconnect shows.
    println!("attacker cut off after {sent} garbage blocks");
    assert!(sent <= 10, "{sent} garbage blocks before the disconnect");
    // The node keeps producing and finalizing.
    wait_for(
        "the LIB to advance after the attack",
        Duration::from_secs(60),
        || victim.node.chain().lib().height >= lib_before + 3,
        || heights(&[&victim]),
    )
    .await;
    let _ = attacker.shutdown().await;
    victim.shutdown().await;
}

fn gov_tx(node: &Node, key: &PrivateKey, nonce: u64, amount: Amount, payload: serde_json::Value) -> aergo_types::Tx {
    let chain_id_hash = node.chain().rules().chain_id_hash;
    let system = aergo_types::Address::name(aergo_types::address::AERGO_SYSTEM).unwrap();
    let body =
        TxBody::new(aergo_types::TxType::Governance, nonce, &key.address(), Some(&system), amount, &chain_id_hash)
            .with_payload(payload.to_string().into_bytes());
    sign_tx(body, key)
}

/// Staking and votes sent as ordinary transactions show in `getStake`,
/// `getProducers`, `getParams` and `getParamVotes`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_transactions_show_in_the_dpos_api() {
    let (g, accounts) = genesis_with(1);
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &g, dev_key("bp", 0), Vec::new()).await;
    let node = running.node.clone();
    let api = Api::new(node.clone());
    let bp = dev_key("bp", 0).public_key().peer_id();
    let stake = Amount::from_aergo(20_000).unwrap();
    let name_price = "2000000000000000000";
    let txs = [
        gov_tx(&node, &accounts[0], 1, stake, json!({"Name": "v1stake"})),
        gov_tx(&node, &accounts[0], 2, Amount::ZERO, json!({"Name": "v1voteBP", "Args": [bp]})),
        gov_tx(&node, &accounts[0], 3, Amount::ZERO, json!({"Name": "v1voteDAO", "Args": ["NAMEPRICE", name_price]})),
    ];
    let hashes: Vec<Hash> = txs.into_iter().map(|tx| node.submit(tx).unwrap()).collect();
    wait_for(
        "the governance transactions final",
        Duration::from_secs(90),
        || {
            hashes.iter().all(|h| {
                let chain = node.chain();
                chain.blocks().tx_location(h).unwrap().is_some_and(|loc| {
                    chain
                        .blocks()
                        .block_by_hash(&loc.block_hash)
                        .unwrap()
                        .is_some_and(|b| b.header().unwrap().block_no <= chain.lib().height)
                })
            })
        },
        || heights(&[&running]),
    )
    .await;
    for h in &hashes {
        let r = api.call("getReceipt", json!([h.to_string()])).unwrap();
        assert_eq!(r["status"], json!("SUCCESS"), "{r}");
    }
    let s = api.call("getStake", json!([accounts[0].address().to_string()])).unwrap();
    assert_eq!(s["amount"], json!(stake.aer().to_string()), "{s}");
    let since = s["sinceHeight"].as_u64().unwrap();
    assert!(since >= 1, "{s}");
    assert_eq!(
        s["unlockHeight"].as_u64().unwrap(),
        since + aergo_types::genesis::DposSettings::DEFAULT_STAKE_LOCK_BLOCKS
    );
    let p = api.call("getProducers", json!([])).unwrap();
    assert_eq!(p["candidates"], json!([{"peerId": bp, "votes": stake.aer().to_string()}]), "{p}");
    assert_eq!(p["producers"][0]["peerId"], json!(bp), "{p}");
    assert_eq!(p["producers"][0]["votes"], json!(stake.aer().to_string()), "{p}");
    let votes = api.call("getParamVotes", json!(["NAMEPRICE"])).unwrap();
    assert_eq!(votes, json!([{"value": name_price, "votes": stake.aer().to_string()}]));
    assert_eq!(api.call("getParamVotes", json!(["BPCOUNT"])).unwrap(), json!([]));
    let err = api.call("getParamVotes", json!(["NOPE"])).unwrap_err();
    assert_eq!(err.code, aergo_rpc::INVALID_PARAMS, "{}", err.message);
    let params = api.call("getParams", json!([])).unwrap();
    let names: Vec<&str> = params.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for n in [
        "BPCOUNT",
        "STAKINGMIN",
        "GASPRICE",
        "NAMEPRICE",
        "STAKINGLOCK",
        "MAXTXGAS",
        "MAXBLOCKGAS",
        "SLASHPERCENT",
        "FILEPRICE",
        "FILERENT",
    ] {
        assert!(names.contains(&n), "{n} missing from {params}");
    }
    running.shutdown().await;
}

/// A node far behind (more blocks than one sync batch) catches up in
/// batches and then follows the head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_far_behind_syncs_in_batches() {
    let (g, _) = genesis_with_slot(1, 250);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let producer = start(dirs[0].path(), &g, dev_key("bp", 0), Vec::new()).await;
    // More than one batch of 64 blocks.
    wait_for(
        "the producer at height 80",
        Duration::from_secs(120),
        || producer.node.chain().lib().height >= 80,
        || heights(&[&producer]),
    )
    .await;
    let target = producer.node.chain().lib().height;
    let late = start(dirs[1].path(), &g, dev_key("follower", 1), producer.p2p_addrs.clone()).await;
    wait_for(
        "the late node at the producer's LIB",
        Duration::from_secs(120),
        || late.node.chain().lib().height >= target,
        || format!("late: {:?}; {}", late.node.sync_progress(), heights(&[&producer])),
    )
    .await;
    let lib = late.node.chain().lib();
    assert_eq!(producer.node.chain().blocks().hash_at(lib.height).unwrap(), Some(lib.hash));
    // And it follows: new blocks arrive by gossip.
    wait_for(
        "the late node following the head",
        Duration::from_secs(60),
        || late.node.chain().head().height >= target + 8,
        || format!("late: {:?}", late.node.sync_progress()),
    )
    .await;
    let progress = late.node.sync_progress();
    assert!(progress.target >= target && progress.current >= target, "{progress:?}");
    late.shutdown().await;
    producer.shutdown().await;
}
