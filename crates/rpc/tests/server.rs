//! The transports against a real server on loopback.

use std::sync::Arc;

use aergo_rpc::{serve, Handler, RpcError, RpcLimits, LIMIT_EXCEEDED, PARSE_ERROR};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

struct Echo {
    blocks: broadcast::Sender<Value>,
}

impl Handler for Echo {
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "echo" => Ok(params),
            _ => Err(RpcError::method_not_found(method)),
        }
    }

    fn subscribe(&self, topic: &str, _params: &Value) -> Result<broadcast::Receiver<Value>, RpcError> {
        match topic {
            "blocks" => Ok(self.blocks.subscribe()),
            other => Err(RpcError::invalid_params(format!("unknown topic {other:?}"))),
        }
    }
}

async fn start(limits: RpcLimits) -> (aergo_rpc::RpcServerHandle, broadcast::Sender<Value>) {
    let (tx, _) = broadcast::channel(16);
    let handler = Arc::new(Echo { blocks: tx.clone() });
    let handle = serve("127.0.0.1:0".parse().unwrap(), handler, limits).await.unwrap();
    (handle, tx)
}

#[tokio::test]
async fn http_calls_and_limits() {
    let (server, _tx) = start(RpcLimits { max_request_bytes: 200, ..RpcLimits::default() }).await;
    let url = format!("http://{}/", server.local_addr);
    let client = reqwest::Client::new();
    let r: Value = client
        .post(&url)
        .body(r#"{"jsonrpc":"2.0","id":7,"method":"echo","params":{"a":1}}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r, json!({"jsonrpc":"2.0","id":7,"result":{"a":1}}));

    let r: Value = client.post(&url).body("{oops").send().await.unwrap().json().await.unwrap();
    assert_eq!(r["error"]["code"], json!(PARSE_ERROR));

    let big = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"echo","params":["{}"]}}"#, "x".repeat(500));
    let resp = client.post(&url).body(big).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["error"]["code"], json!(LIMIT_EXCEEDED));
    assert!(r["error"]["message"].as_str().unwrap().contains("200 bytes"));
    server.shutdown().await;
}

#[tokio::test]
async fn websocket_calls_and_subscriptions() {
    let (server, tx) = start(RpcLimits { max_subscriptions_per_connection: 1, ..RpcLimits::default() }).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.local_addr)).await.unwrap();
    let next = async |ws: &mut tokio_tungstenite::WebSocketStream<_>| -> Value {
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                _ => continue,
            }
        }
    };
    ws.send(Message::text(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[5]}"#)).await.unwrap();
    assert_eq!(next(&mut ws).await["result"], json!([5]));

    ws.send(Message::text(r#"{"jsonrpc":"2.0","id":2,"method":"subscribe","params":["blocks"]}"#)).await.unwrap();
    let sub = next(&mut ws).await["result"].as_u64().unwrap();
    ws.send(Message::text(r#"{"jsonrpc":"2.0","id":3,"method":"subscribe","params":["blocks"]}"#)).await.unwrap();
    assert_eq!(next(&mut ws).await["error"]["code"], json!(LIMIT_EXCEEDED));

    tx.send(json!({"height": 9})).unwrap();
    let note = next(&mut ws).await;
    assert_eq!(note["method"], json!("subscription"));
    assert_eq!(note["params"]["subscription"], json!(sub));
    assert_eq!(note["params"]["result"]["height"], json!(9));

    ws.send(Message::text(format!(r#"{{"jsonrpc":"2.0","id":4,"method":"unsubscribe","params":[{sub}]}}"#)))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await["result"], json!(true));
    server.shutdown().await;
}
