//! The bad-input catalogue, WebSocket door: one dev node process whose
//! `config.toml` lowers the WebSocket bounds (4 connections, 64 KiB
//! messages), one table of bad messages and bad frames, each naming what is
//! sent and what must come back: a JSON-RPC error (code and message
//! fragment), a result, or the connection closed (with the close code the
//! server sends). Subscription and connection bounds follow. A witness
//! connection subscribed to blocks stays open throughout: after every case
//! the node still answers over HTTP and over the witness, and its head,
//! state root and pool are unchanged; at the end a transfer goes through
//! and the witness is told of its block.
//!
//! Run it alone with `cargo test -p aergo-cli --test catalogue_ws`.

mod common;

use std::time::Duration;

use aergo_client::keys::dev_account;
use aergo_crypto::sign_tx;
use aergo_node::{init_dev_data_dir, NodeConfig};
use aergo_rpc::{INVALID_PARAMS, INVALID_REQUEST, LIMIT_EXCEEDED, METHOD_NOT_FOUND, PARSE_ERROR};
use aergo_types::{Amount, TxBody};
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

const MAX_WS_CONNECTIONS: usize = 4;
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// The server's bound on subscriptions per connection.
const MAX_SUBSCRIPTIONS: usize = 16;
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// What a case sends.
enum Send {
    Text(String),
    Binary(Vec<u8>),
    /// Raw bytes after a hand-made upgrade: frames the client library
    /// would never write.
    Frames(Vec<u8>),
}

/// What must come back.
enum Expect {
    Error {
        code: i64,
        fragment: &'static str,
    },
    Result(Value),
    /// The server closes the connection, with this close code when it
    /// sends a close frame.
    Closed(Option<u16>),
}

struct Case {
    name: &'static str,
    send: Send,
    expect: Expect,
}

fn text(name: &'static str, body: &str, code: i64, fragment: &'static str) -> Case {
    Case { name, send: Send::Text(body.to_string()), expect: Expect::Error { code, fragment } }
}

/// A client frame: FIN and `opcode` in the first byte (plus `extra` bits),
/// masked with a zero key unless `masked` is false.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![first];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            f.push(mask_bit | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(mask_bit | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        f.extend_from_slice(&[0, 0, 0, 0]);
    }
    f.extend_from_slice(payload);
    f
}

fn cases() -> Vec<Case> {
    let batch = format!("[{}]", vec![r#"{"jsonrpc":"2.0","id":1,"method":"status"}"#; 101].join(","));
    let big = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"status","params":["{}"]}}"#, "x".repeat(MAX_MESSAGE_BYTES));
    vec![
        text("invalid JSON", "{not json", PARSE_ERROR, "invalid JSON"),
        text("empty message", "", PARSE_ERROR, "invalid JSON"),
        Case {
            name: "binary garbage",
            send: Send::Binary(vec![0xff, 0x00, 0xfe, 0x13, 0x37]),
            expect: Expect::Error { code: PARSE_ERROR, fragment: "invalid JSON" },
        },
        text("wrong version", r#"{"jsonrpc":"1.0","id":1,"method":"status"}"#, INVALID_REQUEST, "\"2.0\""),
        text("unknown method", r#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#, METHOD_NOT_FOUND, "no method named"),
        text("huge batch", &batch, LIMIT_EXCEEDED, "batch of 101 calls exceeds the limit of 100"),
        text("deep nesting", &format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)), PARSE_ERROR, "recursion limit"),
        text(
            "unknown topic",
            r#"{"jsonrpc":"2.0","id":1,"method":"subscribe","params":["mempool"]}"#,
            INVALID_PARAMS,
            "unknown topic \"mempool\"",
        ),
        text(
            "subscribe without a topic",
            r#"{"jsonrpc":"2.0","id":1,"method":"subscribe","params":[]}"#,
            INVALID_PARAMS,
            "expected params [topic]",
        ),
        text(
            "unsubscribe without an id",
            r#"{"jsonrpc":"2.0","id":1,"method":"unsubscribe","params":["abc"]}"#,
            INVALID_PARAMS,
            "expected params [subscription id]",
        ),
        Case {
            name: "unsubscribe of an unknown id",
            send: Send::Text(r#"{"jsonrpc":"2.0","id":1,"method":"unsubscribe","params":[987654]}"#.into()),
            expect: Expect::Result(json!(false)),
        },
        Case { name: "oversize message", send: Send::Text(big), expect: Expect::Closed(Some(1009)) },
        Case {
            name: "oversize frame header",
            send: Send::Frames(frame(0x81, &vec![b' '; MAX_MESSAGE_BYTES + 1], true)),
            expect: Expect::Closed(Some(1009)),
        },
        Case {
            name: "unmasked client frame",
            send: Send::Frames(frame(0x81, br#"{"jsonrpc":"2.0","id":1,"method":"status"}"#, false)),
            expect: Expect::Closed(Some(1002)),
        },
        Case {
            name: "reserved bits set",
            send: Send::Frames(frame(0x81 | 0x40, b"{}", true)),
            expect: Expect::Closed(Some(1002)),
        },
        Case {
            name: "reserved opcode",
            send: Send::Frames(frame(0x83, b"{}", true)),
            expect: Expect::Closed(Some(1002)),
        },
        Case {
            name: "continuation without a first frame",
            send: Send::Frames(frame(0x80, b"{}", true)),
            expect: Expect::Closed(Some(1002)),
        },
        Case {
            name: "fragmented control frame",
            send: Send::Frames(frame(0x09, b"ping", true)),
            expect: Expect::Closed(Some(1002)),
        },
        Case {
            name: "control frame over 125 bytes",
            send: Send::Frames(frame(0x89, &[0u8; 200], true)),
            expect: Expect::Closed(Some(1002)),
        },
        Case {
            name: "text frame that is not UTF-8",
            send: Send::Frames(frame(0x81, &[0xff, 0xfe, 0xfd], true)),
            expect: Expect::Closed(Some(1007)),
        },
    ]
}

async fn connect(ws_url: &str) -> Ws {
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20));
    tokio_tungstenite::connect_async_with_config(ws_url, Some(config), false).await.expect("connect").0
}

/// Connects once the server has freed the slots of connections the test
/// closed (it counts them down as it notices, a moment later).
async fn connect_when_free(ws_url: &str) -> Ws {
    for _ in 0..50 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(ws_url).await {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no free WebSocket slot after 5 s");
}

/// The next answer (not a notification), or `None` if the connection
/// ended; `Err` carries the close code, if the server sent one.
async fn answer(ws: &mut Ws) -> Result<Value, Option<u16>> {
    loop {
        let msg = match tokio::time::timeout(ANSWER_TIMEOUT, ws.next()).await {
            Err(_) => panic!("no answer within {ANSWER_TIMEOUT:?}"),
            Ok(None) | Ok(Some(Err(_))) => return Err(None),
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).expect("answers are JSON");
                if v["method"] == "subscription" {
                    continue;
                }
                return Ok(v);
            }
            Message::Close(f) => return Err(f.map(|f| u16::from(f.code))),
            _ => continue,
        }
    }
}

/// Upgrades a raw connection by hand.
async fn raw_upgrade(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).await.unwrap(), 1, "closed during the upgrade");
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    s
}

/// Reads until the server closes; returns the close code of a close frame
/// among what came, and whether the connection ended in time.
async fn raw_until_closed(s: &mut TcpStream) -> (Option<u16>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
    let closed = loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    };
    // Server frames are unmasked: a close frame is 0x88, length, code.
    let code =
        got.windows(4).find(|w| w[0] == 0x88 && w[1] >= 2 && w[1] < 126).map(|w| u16::from_be_bytes([w[2], w[3]]));
    (code, closed)
}

async fn run_case(c: &Case, ws_url: &str, addr: &str) -> Result<(), String> {
    match &c.send {
        Send::Frames(bytes) => {
            let mut s = raw_upgrade(addr).await;
            s.write_all(bytes).await.map_err(|e| format!("write: {e}"))?;
            let (code, closed) = raw_until_closed(&mut s).await;
            match &c.expect {
                Expect::Closed(want) if closed && code == *want => Ok(()),
                _ => Err(format!("closed {closed}, close code {code:?}")),
            }
        }
        Send::Text(_) | Send::Binary(_) => {
            let mut ws = connect(ws_url).await;
            let msg = match &c.send {
                Send::Text(t) => Message::text(t.clone()),
                Send::Binary(b) => Message::binary(b.clone()),
                Send::Frames(_) => unreachable!(),
            };
            // The server may close while a large message is still being
            // written: that is part of the answer, not a test failure.
            let _ = ws.send(msg).await;
            let got = answer(&mut ws).await;
            // Close and wait for the end, so the server has freed the
            // connection's slot before the next case connects.
            let _ = ws.close(None).await;
            while let Ok(Some(Ok(_))) = tokio::time::timeout(ANSWER_TIMEOUT, ws.next()).await {}
            match (&c.expect, got) {
                (Expect::Error { code, fragment }, Ok(v))
                    if v["error"]["code"] == *code
                        && v["error"]["message"].as_str().is_some_and(|m| m.contains(fragment)) =>
                {
                    Ok(())
                }
                (Expect::Result(want), Ok(v)) if v["result"] == *want => Ok(()),
                (Expect::Closed(want), Err(code)) if code == *want => Ok(()),
                (_, got) => Err(format!("got {got:?}")),
            }
        }
    }
}

/// Head, state root and pool, over HTTP: the node serves and nothing moved.
async fn snapshot(url: &str) -> Value {
    let (status, v) = post_raw(url, br#"{"jsonrpc":"2.0","id":1,"method":"status"}"#.to_vec()).await;
    assert_eq!(status, 200, "{v}");
    let r = &v["result"];
    json!([r["height"], r["hash"], r["stateRoot"], r["pool"]])
}

/// The witness still answers a call.
async fn witness_answers(w: &mut Ws) -> bool {
    if w.send(Message::text(r#"{"jsonrpc":"2.0","id":"w","method":"status"}"#)).await.is_err() {
        return false;
    }
    matches!(answer(w).await, Ok(v) if v["id"] == "w" && v["result"]["height"].is_u64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_door_refuses_bad_messages_and_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");
    let mut config = NodeConfig::default();
    config.rpc.max_ws_connections = MAX_WS_CONNECTIONS;
    config.rpc.max_request_bytes = MAX_MESSAGE_BYTES;
    init_dev_data_dir(&dir, config).unwrap();
    let node = NodeProc::dev(&dir);
    let url = node.url.clone();
    let addr = url.trim_start_matches("http://").to_string();
    let ws_url = format!("ws://{addr}/ws");

    let mut witness = connect(&ws_url).await;
    witness
        .send(Message::text(r#"{"jsonrpc":"2.0","id":"sub","method":"subscribe","params":["blocks"]}"#))
        .await
        .unwrap();
    let sub = answer(&mut witness).await.unwrap()["result"].clone();
    assert!(sub.is_u64(), "{sub}");
    let before = snapshot(&url).await;

    let cases = cases();
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(e) = run_case(c, &ws_url, &addr).await {
            failures.push(format!("{}: {e}", c.name));
        }
        if snapshot(&url).await != before {
            failures.push(format!("{}: the state changed", c.name));
        }
        if !witness_answers(&mut witness).await {
            failures.push(format!("{}: the witness connection stopped answering", c.name));
        }
    }

    // Subscriptions per connection: the bound, then a clear refusal; an
    // unsubscribe frees a slot.
    let mut ws = connect(&ws_url).await;
    let mut ids = Vec::new();
    for i in 0..MAX_SUBSCRIPTIONS {
        ws.send(Message::text(format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"subscribe","params":["blocks"]}}"#)))
            .await
            .unwrap();
        ids.push(answer(&mut ws).await.unwrap()["result"].clone());
    }
    ws.send(Message::text(r#"{"jsonrpc":"2.0","id":99,"method":"subscribe","params":["blocks"]}"#)).await.unwrap();
    let v = answer(&mut ws).await.unwrap();
    if v["error"]["code"] != LIMIT_EXCEEDED
        || !v["error"]["message"].as_str().unwrap_or_default().contains("16 subscriptions")
    {
        failures.push(format!("too many subscriptions: {v}"));
    }
    ws.send(Message::text(format!(r#"{{"jsonrpc":"2.0","id":100,"method":"unsubscribe","params":[{}]}}"#, ids[0])))
        .await
        .unwrap();
    assert_eq!(answer(&mut ws).await.unwrap()["result"], true);
    ws.send(Message::text(r#"{"jsonrpc":"2.0","id":101,"method":"subscribe","params":["blocks"]}"#)).await.unwrap();
    if !answer(&mut ws).await.unwrap()["result"].is_u64() {
        failures.push("a freed subscription slot is not reusable".into());
    }
    drop(ws);

    // Connections: the witness and three more reach the bound; the next
    // upgrade is refused with 503 and -32005; closing one frees its slot.
    let mut held = Vec::new();
    for _ in 1..MAX_WS_CONNECTIONS {
        held.push(connect_when_free(&ws_url).await);
    }
    match tokio_tungstenite::connect_async(&ws_url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
            if resp.status() != 503 || !body.contains("-32005") || !body.contains("WebSocket connections") {
                failures.push(format!("too many connections: HTTP {} {body}", resp.status()));
            }
        }
        Err(e) => failures.push(format!("too many connections: {e}")),
        Ok(_) => failures.push("too many connections: the fifth connection was accepted".into()),
    }
    if snapshot(&url).await != before {
        failures.push("too many connections: HTTP stopped serving or the state changed".into());
    }
    held.pop().unwrap().close(None).await.unwrap();
    // Closing one frees its slot.
    let again = connect_when_free(&ws_url).await;
    drop(held);
    drop(again);

    println!("catalogue_ws: {} cases", cases.len() + 3);
    assert!(failures.is_empty(), "{} of the cases failed:\n{}", failures.len(), failures.join("\n\n"));

    // Still serving: a transfer commits and the witness hears of its block.
    let key = dev_account(0).unwrap();
    let chain = node.client().status().await.unwrap().chain_id_hash;
    let tx = sign_tx(
        TxBody::transfer(1, &key.address(), &dev_account(1).unwrap().address(), Amount::ONE_AERGO, &chain),
        &key,
    );
    let hash = node.client().send_tx(&tx).await.unwrap();
    let r = node.client().wait_receipt(&hash, WAIT_MS).await.unwrap();
    let height = r["blockHeight"].clone();
    loop {
        let msg = tokio::time::timeout(ANSWER_TIMEOUT, witness.next()).await.expect("a notification").unwrap().unwrap();
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["params"]["subscription"] == sub && v["params"]["result"]["height"] == height {
            break;
        }
    }
}
