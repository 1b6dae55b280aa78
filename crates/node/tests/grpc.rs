//! The gRPC face in-process: every JSON-RPC method with a gRPC twin gives
//! the same answer through both on the same node, and bad input on the
//! gRPC port (unknown methods, malformed and oversize messages, stream
//! floods, cancelled streams, browsers from other origins, bad WebSocket
//! calls) gets a clear status while the node keeps serving.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use aergo_crypto::{sign_tx, PrivateKey};
use aergo_exec::contract::{encode_call_payload, encode_deploy_payload};
use aergo_grpc::pb::aergo_rpc_service_client::AergoRpcServiceClient;
use aergo_grpc::pb::*;
use aergo_grpc::Code;
use aergo_node::grpc::GrpcApi;
use aergo_node::{api::Api, init_dev_data_dir, Node, NodeConfig};
use aergo_rpc::Handler;
use aergo_types::{Address, Amount, Hash, TxBody, TxList, TxType};
use serde_json::{json, Value};
use tonic::transport::Channel;

const SOURCE: &str = "
CREATE TABLE accounts (id VARCHAR(64) PRIMARY KEY, balance NUMERIC(20, 2) NOT NULL DEFAULT 0);
CREATE FUNCTION transfer(sender VARCHAR, to VARCHAR, amount NUMERIC) RETURNS VARCHAR AS $$
BEGIN
    UPDATE accounts SET balance = balance - amount WHERE id = sender;
    UPDATE accounts SET balance = balance + amount WHERE id = to;
    PERFORM aergo_emit('moved', '[\"' || sender || '\", \"' || to || '\"]');
    RETURN 'OK';
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION balance_of(who VARCHAR) RETURNS NUMERIC AS $$
    SELECT balance FROM accounts WHERE id = who;
$$ LANGUAGE sql;
INSERT INTO accounts VALUES ('alice', 100), ('bob', 50);
";

struct Fixture {
    node: Arc<Node>,
    api: Arc<Api>,
    /// Kept so the streams' stop signal does not fire.
    _stop: tokio::sync::watch::Sender<bool>,
    keys: Vec<PrivateKey>,
    nonce: u64,
    now_ns: i64,
    grpc: AergoRpcServiceClient<Channel>,
    addr: std::net::SocketAddr,
    _server: aergo_grpc::GrpcServerHandle,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(config: NodeConfig) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let (_, keys) = init_dev_data_dir(dir.path(), config.clone()).unwrap();
        let node = Arc::new(Node::open_with_config(dir.path(), config.clone()).unwrap());
        let api = Arc::new(Api::new(node.clone()));
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let server =
            aergo_grpc::serve("127.0.0.1:0".parse().unwrap(), GrpcApi::new(api.clone(), stop_rx), config.grpc_limits())
                .await
                .unwrap();
        let addr = server.local_addr;
        let grpc = AergoRpcServiceClient::connect(format!("http://{addr}")).await.unwrap();
        Fixture { node, api, _stop: stop, keys, nonce: 0, now_ns: i64::MAX / 2, grpc, addr, _server: server, _dir: dir }
    }

    fn call(&self, method: &str, params: Value) -> Result<Value, aergo_rpc::RpcError> {
        self.api.call(method, params)
    }

    fn tx(&mut self, tx_type: TxType, to: Option<&Address>, payload: Vec<u8>) -> aergo_types::Tx {
        self.nonce += 1;
        let chain = self.node.chain().rules().chain_id_hash;
        let body =
            TxBody::new(tx_type, self.nonce, &self.keys[0].address(), to, Amount::ZERO, &chain).with_payload(payload);
        sign_tx(body, &self.keys[0])
    }

    fn send(&mut self, tx_type: TxType, to: Option<&Address>, payload: Vec<u8>) -> String {
        let tx = self.tx(tx_type, to, payload);
        self.call("sendTx", json!([hex::encode(tx.encode())])).unwrap()["hash"].as_str().unwrap().to_string()
    }

    fn produce(&mut self) -> u64 {
        self.now_ns += 10_000_000_000;
        self.node.produce_once(self.now_ns).unwrap().expect("a block").height
    }
}

fn b58(bytes: &[u8]) -> String {
    Hash::from_slice("hash", bytes).unwrap().to_string()
}

fn addr_text(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        Value::Null
    } else {
        json!(Address::from_bytes(bytes).unwrap().to_string())
    }
}

fn aer(bytes: &[u8]) -> String {
    Amount::from_be_bytes(bytes).unwrap().aer().to_string()
}

fn hash_bytes(text: &str) -> Vec<u8> {
    Hash::from_base58(text).unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_rpc_method_with_a_grpc_twin_answers_the_same() {
    let mut f = Fixture::new(NodeConfig::default()).await;
    let deploy = f.send(TxType::Deploy, None, encode_deploy_payload(SOURCE, None));
    f.produce();
    let contract_text = f.call("getReceipt", json!([deploy])).unwrap()["contractAddress"].as_str().unwrap().to_string();
    let contract = Address::parse(&contract_text).unwrap();
    let call = f.send(
        TxType::Call,
        Some(&contract),
        encode_call_payload("transfer", &[json!("alice"), json!("bob"), json!("5")]),
    );
    let transfer_to = f.keys[1].address();
    let transfer = {
        f.nonce += 1;
        let chain = f.node.chain().rules().chain_id_hash;
        let body = TxBody::transfer(f.nonce, &f.keys[0].address(), &transfer_to, Amount::ONE_AERGO, &chain);
        let tx = sign_tx(body, &f.keys[0]);
        f.call("sendTx", json!([hex::encode(tx.encode())])).unwrap()["hash"].as_str().unwrap().to_string()
    };
    let height = f.produce();
    let mut g = f.grpc.clone();

    // status / Blockchain
    let s = f.call("status", json!([])).unwrap();
    let b = g.blockchain(Empty {}).await.unwrap().into_inner();
    assert_eq!(json!(b.best_height), s["height"]);
    assert_eq!(json!(b58(&b.best_block_hash)), s["hash"]);
    assert_eq!(json!(b58(&b.best_chain_id_hash)), s["chainIdHash"]);
    let info = b.chain_info.unwrap();
    assert_eq!(json!(info.id.unwrap().magic), s["chainId"]["magic"]);

    // getParams / GetChainInfo
    let params = f.call("getParams", json!([])).unwrap();
    // A parameter this chain does not have is absent in JSON, empty bytes
    // in gRPC.
    let param = |name: &str, bytes: &[u8]| {
        let j = params.as_array().unwrap().iter().find(|p| p["name"] == name).map(|p| p["value"].clone());
        assert_eq!(j, (!bytes.is_empty()).then(|| json!(aer(bytes))), "{name}");
    };
    param("GASPRICE", &info.gasprice);
    param("NAMEPRICE", &info.nameprice);
    param("STAKINGMIN", &info.stakingminimum);
    assert!(!info.gasprice.is_empty());
    assert_eq!(json!(aer(&info.gasprice)), s["gasPrice"]);

    // getBlock / GetBlock, by height and by hash, and the list methods.
    for h in 0..=height {
        let j = f.call("getBlock", json!([h, true])).unwrap();
        let by_height = g.get_block(SingleBytes { value: h.to_le_bytes().to_vec() }).await.unwrap().into_inner();
        let by_hash = g.get_block(SingleBytes { value: hash_bytes(j["hash"].as_str().unwrap()) }).await.unwrap();
        assert_eq!(by_hash.into_inner(), by_height);
        let header = by_height.header.as_ref().unwrap();
        assert_eq!(json!(b58(&by_height.hash)), j["hash"]);
        assert_eq!(json!(header.block_no), j["height"]);
        assert_eq!(json!(b58(&header.blocks_root_hash)), j["stateRoot"]);
        assert_eq!(json!(header.timestamp), j["timestamp"]);
        let hashes: Vec<Value> = by_height.txs().iter().map(|t| json!(b58(&t.hash))).collect();
        let json_hashes: Vec<Value> = j["txs"].as_array().unwrap().iter().map(|t| t["hash"].clone()).collect();
        assert_eq!(hashes, json_hashes, "height {h}");
        let meta = g.get_block_metadata(SingleBytes { value: by_height.hash.clone() }).await.unwrap().into_inner();
        assert_eq!((json!(meta.txcount), meta.header.as_ref()), (j["txCount"].clone(), Some(header)));
    }
    let listed = g
        .list_block_headers(ListParams { height: 0, size: 10, asc: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let heights: Vec<u64> = listed.blocks.iter().map(|b| b.header.as_ref().unwrap().block_no).collect();
    assert_eq!(heights, (0..=height).collect::<Vec<_>>());
    assert!(listed.blocks.iter().all(|b| b.body.is_none()), "headers come without bodies");
    let down = g.list_block_metadata(ListParams { size: 2, ..Default::default() }).await.unwrap().into_inner();
    let heights: Vec<u64> = down.blocks.iter().map(|b| b.header.as_ref().unwrap().block_no).collect();
    assert_eq!(heights, vec![height, height - 1], "from the head down");
    let head_hash = hash_bytes(s["hash"].as_str().unwrap());
    let back = g
        .list_block_headers(ListParams { hash: head_hash.clone(), size: 5, offset: 1, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let heights: Vec<u64> = back.blocks.iter().map(|b| b.header.as_ref().unwrap().block_no).collect();
    assert_eq!(heights, (0..height).rev().collect::<Vec<_>>(), "back from the head, one skipped");
    let far = g
        .list_block_headers(ListParams { hash: head_hash, size: 5, offset: u32::MAX, asc: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(far.blocks.len(), 1, "an offset past genesis stops there");
    let page = g
        .get_block_body(BlockBodyParams {
            hashornumber: height.to_le_bytes().to_vec(),
            paging: Some(PageParams { offset: 1, size: 1 }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((page.total, page.offset, page.size), (2, 1, 1));
    assert_eq!(json!(b58(&page.body.unwrap().txs[0].hash)), json!(transfer));

    // getTx / GetTX and GetBlockTX
    for hash in [&deploy, &call, &transfer] {
        let j = f.call("getTx", json!([hash])).unwrap();
        let t = g.get_tx(SingleBytes { value: hash_bytes(hash) }).await.unwrap().into_inner();
        let body = t.body.as_ref().unwrap();
        assert_eq!(json!(b58(&t.hash)), j["hash"]);
        assert_eq!(json!(body.nonce), j["nonce"]);
        assert_eq!(addr_text(&body.account), j["from"]);
        assert_eq!(addr_text(&body.recipient), j["to"]);
        assert_eq!(json!(hex::encode(&body.payload)), j["payload"]);
        assert_eq!(json!(aer(&body.amount)), j["amount"]);
        let in_block = g.get_block_tx(SingleBytes { value: hash_bytes(hash) }).await.unwrap().into_inner();
        let idx = in_block.tx_idx.unwrap();
        assert_eq!((json!(b58(&idx.block_hash)), json!(idx.idx)), (j["blockHash"].clone(), j["index"].clone()));
    }

    // getReceipt / GetReceipt
    for hash in [&deploy, &call, &transfer] {
        let j = f.call("getReceipt", json!([hash])).unwrap();
        let r = g.get_receipt(SingleBytes { value: hash_bytes(hash) }).await.unwrap().into_inner();
        assert_eq!(json!(r.status), j["status"]);
        assert_eq!(json!(r.ret), j["ret"]);
        assert_eq!(json!(r.gas_used), j["gasUsed"]);
        assert_eq!(json!(aer(&r.fee_used)), j["fee"]);
        assert_eq!(json!(r.block_no), j["blockHeight"]);
        assert_eq!(json!(b58(&r.block_hash)), j["blockHash"]);
        assert_eq!(json!(r.tx_index), j["txIndex"]);
        assert_eq!(addr_text(&r.contract_address), j["contractAddress"]);
        assert_eq!(addr_text(&r.from), j["from"]);
        let names: Vec<Value> = r.events.iter().map(|e| json!(e.event_name)).collect();
        let json_names: Vec<Value> = j["events"].as_array().unwrap().iter().map(|e| e["name"].clone()).collect();
        assert_eq!(names, json_names);
    }

    // getAccount / GetState
    for who in [f.keys[0].address(), f.keys[1].address(), contract.clone()] {
        let j = f.call("getAccount", json!([who.to_string()])).unwrap();
        let st = g.get_state(SingleBytes { value: who.as_bytes().to_vec() }).await.unwrap().into_inner();
        assert_eq!((json!(aer(&st.balance)), json!(st.nonce)), (j["balance"].clone(), j["nonce"].clone()));
        let proof = g
            .get_state_and_proof(AccountAndRoot { account: who.as_bytes().to_vec(), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(proof.state.unwrap(), st);
    }

    // queryContract / QueryContract
    let q = f.call("queryContract", json!([contract_text, { "Name": "balance_of", "Args": ["bob"] }])).unwrap();
    let payload = json!({ "Name": "balance_of", "Args": ["bob"] }).to_string().into_bytes();
    let r = g
        .query_contract(Query { contract_address: contract.as_bytes().to_vec(), queryinfo: payload })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(json!(String::from_utf8(r.value).unwrap()), q["ret"]);

    // getABI / GetABI
    let j = f.call("getABI", json!([contract_text])).unwrap();
    let abi = g.get_abi(SingleBytes { value: contract.as_bytes().to_vec() }).await.unwrap().into_inner();
    assert_eq!(json!(abi.language), j["language"]);
    let names: Vec<(String, Vec<String>)> =
        abi.functions.iter().map(|f| (f.name.clone(), f.arguments.iter().map(|a| a.name.clone()).collect())).collect();
    let json_names: Vec<(String, Vec<String>)> = j["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let args = f["arguments"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_string());
            (f["name"].as_str().unwrap().to_string(), args.collect())
        })
        .collect();
    assert_eq!(names, json_names);

    // getEvents / ListEvents
    let j = f.call("getEvents", json!([{ "contract": contract_text }])).unwrap();
    let ev = g
        .list_events(FilterInfo { contract_address: contract.as_bytes().to_vec(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ev.events.len(), 1);
    let je = &j["events"][0];
    let e = &ev.events[0];
    assert_eq!((json!(e.event_name), json!(e.json_args)), (je["name"].clone(), je["args"].clone()));
    assert_eq!((json!(e.block_no), json!(b58(&e.block_hash))), (je["blockHeight"].clone(), je["blockHash"].clone()));
    assert_eq!(json!(b58(&e.tx_hash)), je["txHash"]);
    let filtered = g
        .list_events(FilterInfo {
            contract_address: contract.as_bytes().to_vec(),
            arg_filter: br#"{"1": "carol"}"#.to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(filtered.events.is_empty(), "argFilter applies");

    // getPeers / GetPeers (a node alone), getStake / GetStaking (no DPoS).
    assert_eq!(f.call("getPeers", json!([])).unwrap(), json!([]));
    assert!(g.get_peers(PeersParams::default()).await.unwrap().into_inner().peers.is_empty());
    let e = f.call("getStake", json!([f.keys[0].address().to_string()])).unwrap_err();
    let st = g.get_staking(AccountAddress { value: f.keys[0].address().as_bytes().to_vec() }).await.unwrap_err();
    assert_eq!((e.code, st.code()), (aergo_rpc::NOT_FOUND, Code::NotFound));
    assert_eq!(st.message(), e.message);

    // sendTx / CommitTX: the same refusal, with the Go node's status.
    let stale = {
        let chain = f.node.chain().rules().chain_id_hash;
        sign_tx(TxBody::transfer(1, &f.keys[0].address(), &transfer_to, Amount::ONE_AERGO, &chain), &f.keys[0])
    };
    let e = f.call("sendTx", json!([hex::encode(stale.encode())])).unwrap_err();
    let c = g.commit_tx(TxList { txs: vec![stale] }).await.unwrap().into_inner().results.remove(0);
    assert_eq!(e.data.unwrap()["reason"], "NONCE_TOO_LOW");
    assert_eq!(c.error, CommitStatus::TxNonceTooLow as i32);
    assert!(c.detail.starts_with("NONCE_TOO_LOW: ") && c.detail.contains(&e.message), "{} / {}", c.detail, e.message);
    let fresh = f.tx(TxType::Transfer, Some(&transfer_to), Vec::new());
    let c = g.commit_tx(TxList { txs: vec![fresh.clone()] }).await.unwrap().into_inner().results.remove(0);
    assert_eq!((c.error, c.hash), (CommitStatus::TxOk as i32, fresh.hash.clone()));
    let pending = g.get_receipt(SingleBytes { value: fresh.hash.clone() }).await.unwrap_err();
    assert_eq!(pending.code(), Code::NotFound);
    assert!(pending.message().starts_with("tx not found"), "herapy waits on these words: {}", pending.message());
    assert_eq!(g.get_tx(SingleBytes { value: fresh.hash.clone() }).await.unwrap().into_inner(), fresh, "pending tx");

    // Absent things.
    let missing = g.get_block(SingleBytes { value: 999u64.to_le_bytes().to_vec() }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(f.call("getBlock", json!([999])).is_err());
    let bad = g.get_state(SingleBytes { value: vec![1, 2, 3] }).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{}", bad.message());
    let unimpl = g.send_tx(aergo_types::Tx::default()).await.unwrap_err();
    assert_eq!(unimpl.code(), Code::Unimplemented);
    assert!(unimpl.message().contains("holds no keys"), "{}", unimpl.message());
    assert!(g.get_accounts(Empty {}).await.unwrap().into_inner().accounts.is_empty());
}

/// Raw bytes in and out, for requests no generated stub would send.
#[derive(Clone, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}

async fn raw_call(addr: std::net::SocketAddr, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, tonic::Status> {
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut client = tonic::client::Grpc::new(channel).max_decoding_message_size(64 << 20);
    client.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static(path);
    client.unary(tonic::Request::new(body), path, RawCodec).await.map(|r| r.into_inner())
}

/// One HTTP/1.1 request by hand (what a browser's gRPC-web sends); the
/// whole response as text.
fn http1(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_the_grpc_port_gets_clear_statuses_and_the_node_keeps_serving() {
    let mut config = NodeConfig::default();
    config.grpc.max_streams = 20;
    config.grpc.max_request_bytes = 64 * 1024;
    let f = Fixture::new(config).await;
    let mut g = f.grpc.clone();

    // An unknown method.
    let e = raw_call(f.addr, "/types.AergoRPCService/NoSuchMethod", Vec::new()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
    // Bytes that are not the request message.
    let e = raw_call(f.addr, "/types.AergoRPCService/GetBlock", vec![0xff; 16]).await.unwrap_err();
    assert!(matches!(e.code(), Code::Internal | Code::InvalidArgument), "{e:?}");
    assert!(e.message().contains("decode"), "{}", e.message());
    // A message over grpc.max_request_bytes.
    let e = raw_call(f.addr, "/types.AergoRPCService/CommitTX", vec![0u8; 100 * 1024]).await.unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");
    // A height of 9 bytes, a hash of 31.
    let e = g.get_block(SingleBytes { value: vec![1; 9] }).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = g.get_tx(SingleBytes { value: vec![1; 31] }).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("32-byte"), "{}", e.message());

    // More streams than grpc.max_streams: the extra ones are refused; once
    // the clients go, their permits come back.
    let mut open = Vec::new();
    let mut refused = 0;
    for _ in 0..30 {
        match g.list_block_stream(Empty {}).await {
            Ok(s) => open.push(s.into_inner()),
            Err(e) => {
                assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
                refused += 1;
            }
        }
    }
    assert_eq!((open.len(), refused), (20, 10));
    drop(open);
    let mut reopened = None;
    for _ in 0..100 {
        if let Ok(s) = g.list_block_stream(Empty {}).await {
            reopened = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "a stream opens again after the others were cancelled");

    // A thousand calls at once over one connection: all answered.
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let mut g = g.clone();
            tokio::spawn(async move { g.blockchain(Empty {}).await.map(|r| r.into_inner().best_height) })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap(), 0);
    }

    // gRPC-web from a loopback page: served, with CORS for that origin.
    let frame = [0u8, 0, 0, 0, 0];
    let head = |origin: &str| {
        format!(
            "POST /types.AergoRPCService/Blockchain HTTP/1.1\r\nHost: {}\r\nContent-Type: application/grpc-web+proto\r\n\
             X-Grpc-Web: 1\r\nOrigin: {origin}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            f.addr,
            frame.len()
        )
    };
    let ok = http1(f.addr, &head("http://localhost:3000"), &frame);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.to_ascii_lowercase().contains("access-control-allow-origin: http://localhost:3000"), "{ok}");
    assert!(ok.contains("grpc-status:0"), "{ok}");
    let other = http1(f.addr, &head("https://evil.example"), &frame);
    assert!(!other.to_ascii_lowercase().contains("access-control-allow-origin"), "{other}");

    // Still serving.
    assert_eq!(g.blockchain(Empty {}).await.unwrap().into_inner().best_height, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_block_streams_all_get_the_next_block_and_go_away_cleanly() {
    let mut f = Fixture::new(NodeConfig::default()).await;
    // Eight connections of 125 streams: under the HTTP/2 cap per
    // connection (128) and the node's cap on streams (1,024).
    let mut streams = Vec::new();
    for _ in 0..8 {
        let mut g = AergoRpcServiceClient::connect(format!("http://{}", f.addr)).await.unwrap();
        for _ in 0..125 {
            streams.push(g.list_block_stream(Empty {}).await.unwrap().into_inner());
        }
    }
    assert_eq!(streams.len(), 1000);
    let to = f.keys[1].address();
    let tx = f.tx(TxType::Transfer, Some(&to), Vec::new());
    f.call("sendTx", json!([hex::encode(tx.encode())])).unwrap();
    let height = f.produce();
    for s in streams.iter_mut() {
        let block = tokio::time::timeout(Duration::from_secs(30), s.message()).await.unwrap().unwrap().unwrap();
        assert_eq!(block.header.unwrap().block_no, height);
    }
    // The clients go; every stream's task ends and its permit returns, so
    // the cap is whole again: 1,024 more open.
    drop(streams);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tx = f.tx(TxType::Transfer, Some(&to), Vec::new());
    f.call("sendTx", json!([hex::encode(tx.encode())])).unwrap();
    f.produce();
    let mut g = f.grpc.clone();
    let mut again = Vec::new();
    for _ in 0..100 {
        if again.len() == 100 {
            break;
        }
        match g.list_block_stream(Empty {}).await {
            Ok(s) => again.push(s),
            Err(e) => panic!("a stream was refused after the others closed: {e:?}"),
        }
    }
    assert_eq!(g.blockchain(Empty {}).await.unwrap().into_inner().best_height, height + 1);
}

/// A gRPC-web call over WebSocket as herajs's browser provider makes it:
/// headers, `0`-prefixed frames, `1`; returns the binary messages
/// received until the server closes, or the handshake error.
async fn ws_call(
    addr: std::net::SocketAddr,
    method: &str,
    subprotocol: &str,
    frames: Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, String> {
    ws_call_from(addr, method, subprotocol, None, frames).await
}

/// [`ws_call`] from a browser page at `origin`.
async fn ws_call_from(
    addr: std::net::SocketAddr,
    method: &str,
    subprotocol: &str,
    origin: Option<&str>,
    frames: Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, String> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("ws://{addr}/types.AergoRPCService/{method}").into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", subprotocol.parse().unwrap());
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::client_async(req, stream).await.map_err(|e| e.to_string())?;
    ws.send(Message::Binary(b"content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n".to_vec().into()))
        .await
        .unwrap();
    for f in frames {
        if ws.send(Message::Binary(f.into())).await.is_err() {
            break;
        }
    }
    let mut got = Vec::new();
    while let Some(Ok(msg)) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap() {
        match msg {
            Message::Binary(b) => got.push(b.to_vec()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_over_websocket_serves_calls_and_refuses_bad_ones() {
    let mut config = NodeConfig::default();
    config.grpc.max_request_bytes = 64 * 1024;
    config.grpc.call_timeout_ms = 500;
    let f = Fixture::new(config).await;

    // A call: the header frame, the message, the trailers with status 0.
    let got = ws_call(f.addr, "Blockchain", "grpc-websockets", vec![vec![0, 0, 0, 0, 0, 0], vec![1]]).await.unwrap();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0][0], 0x80, "a header frame first");
    assert!(String::from_utf8_lossy(&got[0][5..]).contains("application/grpc-web"), "{:?}", got[0]);
    assert_eq!(got[1][0], 0, "a message frame");
    let status: BlockchainStatus = prost::Message::decode(&got[1][5..]).unwrap();
    assert_eq!(status.best_height, 0);
    assert!(String::from_utf8_lossy(&got[2]).contains("grpc-status:0"), "{:?}", got[2]);

    // A page from this machine is served; one from another origin is
    // refused at the handshake (browsers apply no CORS to WebSockets).
    let call = vec![vec![0, 0, 0, 0, 0, 0], vec![1]];
    let local =
        ws_call_from(f.addr, "Blockchain", "grpc-websockets", Some("http://localhost:3000"), call.clone()).await;
    assert_eq!(local.unwrap().len(), 3);
    let e =
        ws_call_from(f.addr, "Blockchain", "grpc-websockets", Some("https://evil.example"), call).await.unwrap_err();
    assert!(e.contains("403"), "{e}");
    // Another subprotocol: the handshake is refused.
    let e = ws_call(f.addr, "Blockchain", "something-else", vec![]).await.unwrap_err();
    assert!(e.contains("400"), "{e}");
    // A request over grpc.max_request_bytes, a frame of an unknown kind, a
    // request never finished: closed without an answer.
    let big = [vec![0u8], vec![0u8; 100 * 1024]].concat();
    assert!(ws_call(f.addr, "CommitTX", "grpc-websockets", vec![big, vec![1]]).await.unwrap().is_empty());
    assert!(ws_call(f.addr, "Blockchain", "grpc-websockets", vec![vec![7, 1, 2]]).await.unwrap().is_empty());
    assert!(ws_call(f.addr, "Blockchain", "grpc-websockets", vec![vec![0, 0, 0, 0, 0, 0]]).await.unwrap().is_empty());
    // An unknown method answers UNIMPLEMENTED in its trailers.
    let got = ws_call(f.addr, "NoSuchMethod", "grpc-websockets", vec![vec![0, 0, 0, 0, 0, 0], vec![1]]).await.unwrap();
    let all = got.iter().map(|m| String::from_utf8_lossy(m).to_string()).collect::<String>();
    assert!(all.contains("grpc-status:12") || all.contains("grpc-status: 12"), "{all}");

    // Still serving, on every transport.
    let mut g = f.grpc.clone();
    assert_eq!(g.blockchain(Empty {}).await.unwrap().into_inner().best_height, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stops_promptly_with_streams_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::default();
    config.listen_on_free_ports();
    init_dev_data_dir(dir.path(), config.clone()).unwrap();
    let node = Arc::new(Node::open_with_config(dir.path(), config).unwrap());
    let running = node.start().await.unwrap();
    let mut g = AergoRpcServiceClient::connect(format!("http://{}", running.grpc_addr)).await.unwrap();
    let mut blocks = g.list_block_stream(Empty {}).await.unwrap().into_inner();
    let mut events = g.list_event_stream(FilterInfo::default()).await.unwrap().into_inner();
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), running.shutdown()).await.expect("the node stopped");
    assert!(started.elapsed() < Duration::from_secs(6), "stopping took {:?}", started.elapsed());
    // Both streams ended with the node.
    let b = tokio::time::timeout(Duration::from_secs(5), blocks.message()).await.unwrap();
    assert!(!matches!(b, Ok(Some(_))), "{b:?}");
    let e = tokio::time::timeout(Duration::from_secs(5), events.message()).await.unwrap();
    assert!(!matches!(e, Ok(Some(_))), "{e:?}");
}
