//! The contract API in-process: deploy and call through `sendTx`, then
//! `query`, `queryContract`, `getContract`, `getABI`, `getEvents`.

use std::sync::Arc;

use aergo_crypto::{sign_tx, PrivateKey};
use aergo_exec::contract::{encode_call_payload, encode_deploy_payload};
use aergo_node::{api::Api, init_dev_data_dir, Node, NodeConfig};
use aergo_rpc::Handler;
use aergo_types::{Address, Amount, Hash, TxBody, TxType};
use serde_json::{json, Value};

const SOURCE: &str = "
CREATE TABLE accounts (id VARCHAR(64) PRIMARY KEY, balance NUMERIC(20, 2) NOT NULL DEFAULT 0 CHECK (balance >= 0));
CREATE FUNCTION transfer(sender VARCHAR, to VARCHAR, amount NUMERIC) RETURNS VARCHAR AS $$
DECLARE
    sender_balance NUMERIC;
BEGIN
    SELECT balance INTO sender_balance FROM accounts WHERE id = sender;
    IF NOT FOUND THEN
        RETURN 'Sender not found';
    END IF;
    IF sender_balance < amount THEN
        RETURN 'Not enough balance';
    END IF;
    PERFORM id FROM accounts WHERE id = to;
    IF NOT FOUND THEN
        RETURN 'Receiver not found';
    END IF;
    UPDATE accounts SET balance = balance - amount WHERE id = sender;
    UPDATE accounts SET balance = balance + amount WHERE id = to;
    PERFORM aergo_emit('transfer', '[\"' || sender || '\", \"' || to || '\", \"' || amount || '\"]');
    RETURN 'OK';
END;
$$ LANGUAGE plpgsql;
INSERT INTO accounts VALUES ('alice', 100), ('bob', 50);
";

struct Net {
    node: Arc<Node>,
    api: Api,
    keys: Vec<PrivateKey>,
    nonces: Vec<u64>,
    now_ns: i64,
}

impl Net {
    fn new(config: NodeConfig) -> (Net, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let (_, keys) = init_dev_data_dir(dir.path(), config.clone()).unwrap();
        let node = Arc::new(Node::open_with_config(dir.path(), config).unwrap());
        let api = Api::new(node.clone());
        let n = keys.len();
        (Net { node, api, keys, nonces: vec![0; n], now_ns: i64::MAX / 2 }, dir)
    }

    fn call(&self, method: &str, params: Value) -> Result<Value, aergo_rpc::RpcError> {
        self.api.call(method, params)
    }

    fn send(&mut self, from: usize, tx_type: TxType, to: Option<&Address>, payload: Vec<u8>) -> String {
        self.nonces[from] += 1;
        let chain_id_hash = self.node.chain().rules().chain_id_hash;
        let body =
            TxBody::new(tx_type, self.nonces[from], &self.keys[from].address(), to, Amount::ZERO, &chain_id_hash)
                .with_payload(payload);
        let raw = hex::encode(sign_tx(body, &self.keys[from]).encode());
        let sent = self.call("sendTx", json!([raw])).unwrap();
        sent["hash"].as_str().unwrap().to_string()
    }

    fn produce(&mut self) -> u64 {
        self.now_ns += 10_000_000_000;
        self.node.produce_once(self.now_ns).unwrap().expect("a block").height
    }

    fn receipt(&self, hash: &str) -> Value {
        self.call("getReceipt", json!([hash])).unwrap()
    }
}

#[test]
fn deploy_call_query_and_list_events() {
    let (mut net, _dir) = Net::new(NodeConfig::default());
    let deploy = net.send(0, TxType::Deploy, None, encode_deploy_payload(SOURCE, None));
    let deployed_at = net.produce();
    let r = net.receipt(&deploy);
    assert_eq!(r["status"], json!("CREATED"), "{r}");
    let contract_text = r["contractAddress"].as_str().unwrap().to_string();
    let contract = Address::parse(&contract_text).unwrap();
    assert_eq!(contract, Address::contract_from(&net.keys[0].address(), 1));

    let call = net.send(
        1,
        TxType::Call,
        Some(&contract),
        encode_call_payload("transfer", &[json!("alice"), json!("bob"), json!("30")]),
    );
    let bad = net.send(1, TxType::Call, Some(&contract), encode_call_payload("nope", &[]));
    let called_at = net.produce();
    let r = net.receipt(&call);
    assert_eq!(r["status"], json!("SUCCESS"), "{r}");
    assert_eq!(r["ret"], json!("\"OK\""));
    assert_eq!(r["events"][0]["name"], json!("transfer"));
    assert_eq!(r["events"][0]["contract"], json!(contract_text));
    let r = net.receipt(&bad);
    assert_eq!(r["status"], json!("ERROR"));
    assert!(r["ret"].as_str().unwrap().contains("no public function \"nope\""), "{r}");

    // query: at the head, at the deploy height, with the contract's schema.
    let sql = "SELECT id, balance FROM accounts ORDER BY id";
    let q = net.call("query", json!([sql, { "contract": contract_text }])).unwrap();
    assert_eq!(q["columns"], json!(["id", "balance"]));
    assert_eq!(q["rows"], json!([["alice", "70.00"], ["bob", "80.00"]]));
    assert_eq!(q["height"], json!(called_at));
    assert!(q["gasUsed"].as_u64().unwrap() > 0);
    let old = net.call("query", json!([sql, { "contract": contract_text, "height": deployed_at }])).unwrap();
    assert_eq!(old["rows"], json!([["alice", "100.00"], ["bob", "50.00"]]));
    // Fully qualified, without a contract; system tables too.
    let schema = net.call("getContract", json!([contract_text])).unwrap()["schema"].as_str().unwrap().to_string();
    let q = net.call("query", json!([format!("SELECT count(*) FROM {schema}.accounts")])).unwrap();
    assert_eq!(q["rows"], json!([[2]]));
    let q = net.call("query", json!(["SELECT count(*) FROM sys.contracts"])).unwrap();
    assert_eq!(q["rows"], json!([[1]]));
    // queryContract: both forms.
    let q = net.call("queryContract", json!([sql, { "contract": contract_text }])).unwrap();
    assert_eq!(q["rows"][0][0], json!("alice"));
    let q = net
        .call("queryContract", json!([contract_text, { "Name": "transfer", "Args": ["alice", "bob", "1000"] }]))
        .unwrap();
    assert_eq!(q["result"], json!("Not enough balance"));
    assert_eq!(q["ret"], json!("\"Not enough balance\""));

    // getContract and getABI.
    let c = net.call("getContract", json!([contract_text])).unwrap();
    assert_eq!(c["creator"], json!(net.keys[0].address().to_string()));
    assert_eq!(c["deployedHeight"], json!(deployed_at));
    assert_eq!(c["sourceHash"], json!(Hash::sha256(SOURCE.as_bytes()).to_hex()));
    assert_eq!(c["source"], json!(SOURCE));
    assert_eq!(c["balance"], json!("0"));
    let abi = net.call("getABI", json!([contract_text])).unwrap();
    assert_eq!(abi["language"], json!("sql"));
    assert_eq!(
        abi["functions"],
        json!([{
            "name": "transfer",
            "arguments": [{"name": "sender", "type": "TEXT"}, {"name": "to", "type": "TEXT"}, {"name": "amount", "type": "NUMERIC"}],
            "returns": "TEXT",
        }])
    );

    // getEvents: by contract, by name, by heights.
    let ev = net.call("getEvents", json!([{ "contract": contract_text }])).unwrap();
    let events = ev["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["name"], json!("transfer"));
    assert_eq!(events[0]["args"], json!("[\"alice\", \"bob\", \"30\"]"));
    assert_eq!(events[0]["blockHeight"], json!(called_at));
    assert_eq!(events[0]["txHash"], json!(call));
    let block = net.call("getBlock", json!([called_at])).unwrap();
    assert_eq!(events[0]["blockHash"], block["hash"]);
    assert_eq!(ev["truncated"], json!(false));
    let none = net.call("getEvents", json!([{ "name": "other" }])).unwrap();
    assert_eq!(none["events"], json!([]));
    let before = net.call("getEvents", json!([{ "toHeight": deployed_at }])).unwrap();
    assert_eq!(before["events"], json!([]));
}

#[test]
fn contract_api_errors_are_clear() {
    let mut config = NodeConfig::default();
    config.query.max_rows = 2;
    config.query.gas_limit = 100_000;
    config.query.max_event_blocks = 5;
    let (mut net, _dir) = Net::new(config);
    let deploy = net.send(0, TxType::Deploy, None, encode_deploy_payload(SOURCE, None));
    net.produce();
    let contract = net.receipt(&deploy)["contractAddress"].as_str().unwrap().to_string();
    let code = |r: Result<Value, aergo_rpc::RpcError>| r.unwrap_err();

    // Writes are refused and change nothing.
    let root = net.call("status", json!([])).unwrap()["stateRoot"].clone();
    for sql in ["DELETE FROM accounts", "UPDATE accounts SET balance = 0", "DROP TABLE accounts"] {
        let e = code(net.call("query", json!([sql, { "contract": contract }])));
        assert_eq!(e.code, aergo_rpc::INVALID_PARAMS, "{sql}: {}", e.message);
        assert!(e.message.contains("read-only"), "{sql}: {}", e.message);
    }
    let e = code(net.call("queryContract", json!([contract, { "Name": "transfer", "Args": ["alice", "bob", "1"] }])));
    assert!(e.message.contains("read-only"), "{}", e.message);
    assert_eq!(net.call("status", json!([])).unwrap()["stateRoot"], root);
    // Caps.
    let e = code(net.call("query", json!(["SELECT * FROM (VALUES (1), (2), (3)) AS v(x)"])));
    assert_eq!(e.code, aergo_rpc::LIMIT_EXCEEDED, "{}", e.message);
    assert!(e.message.contains("rows"), "{}", e.message);
    let values: Vec<String> = (0..300).map(|i| format!("({i})")).collect();
    let values = values.join(", ");
    let heavy = format!("SELECT count(*) FROM (VALUES {values}) AS a(x), (VALUES {values}) AS b(y)");
    let e = code(net.call("query", json!([heavy])));
    assert_eq!(e.code, aergo_rpc::LIMIT_EXCEEDED, "{}", e.message);
    assert!(e.message.contains("out of gas"), "{}", e.message);
    let e = code(net.call("getEvents", json!([{ "fromHeight": 0, "toHeight": 100 }])));
    assert_eq!(e.code, aergo_rpc::LIMIT_EXCEEDED, "{}", e.message);
    // Bad input.
    let e = code(net.call("query", json!(["SELEC 1"])));
    assert_eq!(e.code, aergo_rpc::INVALID_PARAMS);
    assert!(e.message.contains("syntax error"), "{}", e.message);
    let e = code(net.call("query", json!(["SELECT 1", { "hieght": 1 }])));
    assert!(e.message.contains("unknown key"), "{}", e.message);
    let e = code(net.call("query", json!(["SELECT 1", { "height": 99 }])));
    assert_eq!(e.code, aergo_rpc::NOT_FOUND);
    let nowhere = Address::contract_from(&net.keys[1].address(), 5).to_string();
    for method in ["getContract", "getABI"] {
        let e = code(net.call(method, json!([nowhere])));
        assert_eq!(e.code, aergo_rpc::NOT_FOUND, "{method}");
    }
    let e = code(net.call("query", json!(["SELECT 1", { "contract": nowhere }])));
    assert_eq!(e.code, aergo_rpc::NOT_FOUND);
    let e = code(net.call("queryContract", json!([contract, { "Name": "nope" }])));
    assert!(e.message.contains("no public function"), "{}", e.message);
    let e = code(net.call("getContract", json!(["AmNot"])));
    assert_eq!(e.code, aergo_rpc::INVALID_PARAMS);
    let e = code(net.call("getEvents", json!([{ "fromHeight": 3, "toHeight": 1 }])));
    assert_eq!(e.code, aergo_rpc::INVALID_PARAMS);
}

#[test]
fn diff_shows_the_rows_each_block_changed() {
    let mut config = NodeConfig::default();
    config.query.max_rows = 50;
    let (mut net, _dir) = Net::new(config);
    let genesis = 0;
    let deploy = net.send(0, TxType::Deploy, None, encode_deploy_payload(SOURCE, None));
    let deployed_at = net.produce();
    let contract = net.receipt(&deploy)["contractAddress"].as_str().unwrap().to_string();
    let address = Address::parse(&contract).unwrap();
    let args = [json!("alice"), json!("bob"), json!("30")];
    net.send(1, TxType::Call, Some(&address), encode_call_payload("transfer", &args));
    let called_at = net.produce();

    // The call: two rows of the contract's table changed, and the
    // accounts of the sender and the producer (fee) in sys.accounts.
    let d = net.call("diff", json!([deployed_at, called_at])).unwrap();
    assert_eq!((d["from"]["height"].clone(), d["to"]["height"].clone()), (json!(deployed_at), json!(called_at)));
    let rels = d["relations"].as_array().unwrap();
    let table = rels.iter().find(|r| r["name"].as_str().unwrap().ends_with(".accounts")).unwrap();
    assert_eq!((table["kind"].as_str(), table["change"].as_str()), (Some("table"), Some("rows")), "{table}");
    assert_eq!(table["columns"], json!(["id", "balance"]));
    let rows = table["rows"].as_array().unwrap();
    let keys: Vec<&Value> = rows.iter().map(|r| &r["key"]).collect();
    assert_eq!(keys, [&json!(["alice"]), &json!(["bob"])]);
    assert_eq!((rows[0]["old"][1].clone(), rows[0]["new"][1].clone()), (json!("100.00"), json!("70.00")), "{table}");
    assert_eq!((rows[1]["old"][1].clone(), rows[1]["new"][1].clone()), (json!("50.00"), json!("80.00")), "{table}");
    let sys = rels.iter().find(|r| r["name"] == "sys.accounts").unwrap();
    assert_eq!(sys["rows"].as_array().unwrap().len(), 2, "the sender's nonce and balance, the producer's fee: {sys}");
    assert!(!rels.iter().any(|r| r["kind"] == "index"), "indexes follow from their tables");

    // The deploy: the contract's table created with its rows, its function
    // created; by block hash, and one table only.
    let from_hash = net.call("getBlock", json!([genesis])).unwrap()["hash"].clone();
    let d = net.call("diff", json!([from_hash, deployed_at])).unwrap();
    let created: Vec<(String, String)> = d["relations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["change"] == "created")
        .map(|r| (r["kind"].as_str().unwrap().to_string(), r["name"].as_str().unwrap().to_string()))
        .collect();
    assert!(created.iter().any(|(k, n)| k == "table" && n.ends_with(".accounts")), "{created:?}");
    assert!(created.iter().any(|(k, n)| k == "function" && n.ends_with(".transfer()")), "{created:?}");
    let name = table["name"].as_str().unwrap();
    let only = net.call("diff", json!([deployed_at - 1, deployed_at, { "table": name }])).unwrap();
    assert_eq!(only["relations"].as_array().unwrap().len(), 1);
    assert_eq!(only["relations"][0]["rows"].as_array().unwrap().len(), 2, "both rows added");
    assert!(only["relations"][0]["rows"][0]["old"].is_null());

    // Reversed, the same rows the other way; a limit that truncates; the
    // same block twice is no change.
    let back = net.call("diff", json!([called_at, deployed_at, { "table": name }])).unwrap();
    assert_eq!(back["relations"][0]["rows"][0]["new"][1], json!("100.00"));
    let cut = net.call("diff", json!([deployed_at, called_at, { "limit": 1 }])).unwrap();
    assert_eq!(cut["truncated"], json!(true));
    let same = net.call("diff", json!([called_at, called_at])).unwrap();
    assert_eq!(same["relations"], json!([]));

    // Index rows follow from their tables: they are not listed and take
    // nothing from the limit. A deploy with an indexed table, diffed with a
    // limit of exactly the rows it lists, is whole.
    let indexed = "CREATE TABLE t (id INT PRIMARY KEY, v INT); CREATE INDEX t_v ON t (v); \
                   INSERT INTO t VALUES (1, 10), (2, 20), (3, 30);";
    net.send(0, TxType::Deploy, None, encode_deploy_payload(indexed, None));
    let indexed_at = net.produce();
    let all = net.call("diff", json!([called_at, indexed_at])).unwrap();
    let rows: usize = all["relations"].as_array().unwrap().iter().map(|r| r["rows"].as_array().unwrap().len()).sum();
    assert!(rows >= 3, "{all}");
    let exact = net.call("diff", json!([called_at, indexed_at, { "limit": rows }])).unwrap();
    assert_eq!(exact["truncated"], json!(false), "{exact}");

    // Bad input: an unknown block, a limit above query.max_rows, options
    // it does not know.
    assert_eq!(net.call("diff", json!([0, 999])).unwrap_err().code, aergo_rpc::NOT_FOUND);
    let e = net.call("diff", json!([0, called_at, { "limit": 51 }])).unwrap_err();
    assert_eq!(e.code, aergo_rpc::LIMIT_EXCEEDED, "{}", e.message);
    let e = net.call("diff", json!([0, called_at, { "tables": name }])).unwrap_err();
    assert_eq!(e.code, aergo_rpc::INVALID_PARAMS, "{}", e.message);
}
