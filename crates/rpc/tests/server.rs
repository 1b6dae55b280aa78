//! The transports against a real server on loopback.

use std::sync::Arc;

use aergo_rpc::{serve, Handler, Page, RpcError, RpcLimits, LIMIT_EXCEEDED, PARSE_ERROR};
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
            // Holds a request slot for a while, like a slow query.
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_millis(params[0].as_u64().unwrap_or(0)));
                Ok(json!("slept"))
            }
            _ => Err(RpcError::method_not_found(method)),
        }
    }

    fn subscribe(&self, topic: &str, _params: &Value) -> Result<broadcast::Receiver<Value>, RpcError> {
        match topic {
            "blocks" => Ok(self.blocks.subscribe()),
            other => Err(RpcError::invalid_params(format!("unknown topic {other:?}"))),
        }
    }

    fn page(&self, path: &str) -> Option<Page> {
        let csp = "default-src 'none'";
        match path {
            "/" => Some(Page {
                content_type: "text/html; charset=utf-8",
                body: b"<p>hi</p>",
                content_security_policy: csp,
            }),
            "/app.js" => Some(Page { content_type: "text/javascript", body: b"1;", content_security_policy: csp }),
            _ => None,
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

/// Reads from a raw connection until the server closes it or `limit_ms`
/// passes; returns what came and whether the server closed.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit_ms: u64) -> (String, bool) {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(limit_ms);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn stalled_and_idle_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let (server, _tx) = start(RpcLimits { header_timeout_ms: 300, ..RpcLimits::default() }).await;
    // Headers that never end.
    let mut stalled = tokio::net::TcpStream::connect(server.local_addr).await.unwrap();
    stalled.write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl").await.unwrap();
    // A connection that never sends anything.
    let mut silent = tokio::net::TcpStream::connect(server.local_addr).await.unwrap();
    let t0 = std::time::Instant::now();
    let (_, closed) = read_until_closed(&mut stalled, 5_000).await;
    assert!(closed, "a connection whose headers never end must be closed");
    let (_, closed) = read_until_closed(&mut silent, 5_000).await;
    assert!(closed, "a silent connection must be closed");
    assert!(t0.elapsed() < std::time::Duration::from_secs(4), "closed after {:?}", t0.elapsed());
    // The server still serves.
    let r: Value = reqwest::Client::new()
        .post(format!("http://{}/", server.local_addr))
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["result"], json!([1]));
    server.shutdown().await;
}

#[tokio::test]
async fn connections_are_capped_per_client() {
    use tokio::io::AsyncWriteExt;
    let limits = RpcLimits { max_connections_per_client: 3, header_timeout_ms: 60_000, ..RpcLimits::default() };
    let (server, _tx) = start(limits).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = tokio::net::TcpStream::connect(server.local_addr).await.unwrap();
        c.write_all(b"POST / HTTP/1.1\r\n").await.unwrap();
        held.push(c);
    }
    // Give the accept loop time to count them.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut fourth = tokio::net::TcpStream::connect(server.local_addr).await.unwrap();
    let (text, closed) = read_until_closed(&mut fourth, 5_000).await;
    assert!(closed, "{text}");
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("-32005") && text.contains("per-client limit"), "{text}");
    // Another address is not affected (the whole 127/8 is loopback).
    let other =
        reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let r: Value = other
        .post(format!("http://{}/", server.local_addr))
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[2]}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["result"], json!([2]));
    // Closing one frees its slot.
    drop(held.pop());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut again = tokio::net::TcpStream::connect(server.local_addr).await.unwrap();
    again.write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 53\r\n\r\n").await.unwrap();
    again.write_all(br#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[3]}"#).await.unwrap();
    let (text, _) = read_until_closed(&mut again, 1_000).await;
    assert!(text.starts_with("HTTP/1.1 200") && text.contains("[3]"), "{text}");
    server.shutdown().await;
}

/// One client floods slow requests; another's requests still run, and the
/// flood is refused with 429 / -32005 beyond its share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_client_does_not_starve_another() {
    let limits = RpcLimits { max_requests_in_flight: 8, max_requests_per_client: 4, ..RpcLimits::default() };
    let (server, _tx) = start(limits).await;
    let url = format!("http://{}/", server.local_addr);
    let flooder = reqwest::Client::new();
    let mut flood = Vec::new();
    for _ in 0..24 {
        let (c, url) = (flooder.clone(), url.clone());
        flood.push(tokio::spawn(async move {
            let resp =
                c.post(&url).body(r#"{"jsonrpc":"2.0","id":1,"method":"sleep","params":[400]}"#).send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let polite =
        reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    for i in 0..3 {
        let resp = polite
            .post(&url)
            .body(format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"echo","params":[{i}]}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let r: Value = resp.json().await.unwrap();
        assert_eq!(r["result"], json!([i]), "{r}");
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in flood {
        let (status, body) = t.await.unwrap();
        match status {
            200 => ok += 1,
            429 => {
                assert_eq!(body["error"]["code"], json!(LIMIT_EXCEEDED), "{body}");
                assert!(body["error"]["message"].as_str().unwrap().contains("127.0.0.1"), "{body}");
                refused += 1;
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(ok >= 4 && refused >= 1, "ok {ok}, refused {refused}");
    server.shutdown().await;
}

/// A client that breaks the WebSocket framing is told why before the
/// connection ends: 1009 for a message above the bound, 1002 for a frame
/// a client must not send (RFC 6455, 7.4.1). Other clients are not
/// affected.
#[tokio::test]
async fn websocket_violations_get_a_close_code() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (server, _tx) = start(RpcLimits { max_request_bytes: 1024, ..RpcLimits::default() }).await;
    let url = format!("ws://{}/ws", server.local_addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::text("x".repeat(2000))).await.unwrap();
    let close = loop {
        match ws.next().await {
            Some(Ok(Message::Close(f))) => break f,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let close = close.expect("a close code");
    assert_eq!(u16::from(close.code), 1009);
    assert!(close.reason.contains("exceeds the limit of 1024 bytes"), "{}", close.reason);

    // An unmasked client frame, by hand.
    let mut s = tokio::net::TcpStream::connect(server.local_addr).await.unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed during the upgrade");
        got.extend_from_slice(&buf[..n]);
    }
    s.write_all(&[0x81, 0x02, b'{', b'}']).await.unwrap();
    let mut bytes = Vec::new();
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), read).await.expect("the connection stays open");
    assert!(bytes.len() >= 4 && bytes[0] == 0x88 && bytes[2..4] == 1002u16.to_be_bytes(), "{bytes:02x?}");
    assert!(String::from_utf8_lossy(&bytes[4..]).contains("unmasked"), "{bytes:02x?}");

    // The server still serves.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::text(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}"#)).await.unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no answer") };
    assert_eq!(serde_json::from_str::<Value>(&t).unwrap()["result"], json!([1]));
    server.shutdown().await;
}

#[tokio::test]
async fn health_and_cors_for_browser_pages() {
    let limits = RpcLimits { cors_origins: vec!["https://explorer.example".into()], ..RpcLimits::default() };
    let (server, _tx) = start(limits).await;
    let base = format!("http://{}", server.local_addr);
    let client = reqwest::Client::new();

    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");

    // A preflight and a call from a page on this machine, from a listed
    // origin, and from another origin (which gets no allow header, so the
    // browser keeps the answer from the page).
    for (origin, allowed) in
        [("http://localhost:3000", true), ("https://explorer.example", true), ("https://evil.example", false)]
    {
        let pre = client
            .request(reqwest::Method::OPTIONS, format!("{base}/"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
            .await
            .unwrap();
        let allow = pre.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(allow.as_deref(), allowed.then_some(origin), "preflight from {origin}");
        let call = client
            .post(format!("{base}/"))
            .header("Origin", origin)
            .header("Content-Type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}"#)
            .send()
            .await
            .unwrap();
        let allow = call.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(allow.as_deref(), allowed.then_some(origin), "call from {origin}");
        assert_eq!(call.json::<Value>().await.unwrap()["result"], json!([1]));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn static_pages_beside_the_api() {
    let (server, _tx) = start(RpcLimits::default()).await;
    let base = format!("http://{}", server.local_addr);
    let client = reqwest::Client::new();

    let index = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let h = index.headers();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["content-security-policy"], "default-src 'none'");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(index.text().await.unwrap(), "<p>hi</p>");
    let js = client.get(format!("{base}/app.js")).send().await.unwrap();
    assert_eq!((js.status().as_u16(), js.text().await.unwrap()), (200, "1;".to_string()));

    // Unknown and overlong paths are 404; other methods 405.
    for path in ["/nope", "/app.js/", &format!("/{}", "a".repeat(10_000))] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // Traversals, sent raw (an HTTP client would normalise them away):
    // pages are matched exactly, so they name nothing.
    for path in ["/x/../app.js", "/%2e%2e/app.js", "//app.js"] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(server.local_addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
    }
    let put = client.put(format!("{base}/app.js")).body("x").send().await.unwrap();
    assert_eq!(put.status(), 405);

    // The API on the same path is untouched.
    let call = client
        .post(format!("{base}/"))
        .header("Content-Type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[2]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(call.json::<Value>().await.unwrap()["result"], json!([2]));
    server.shutdown().await;
}

#[tokio::test]
async fn websockets_from_other_origins_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let limits = RpcLimits { cors_origins: vec!["https://explorer.example".into()], ..RpcLimits::default() };
    let (server, _tx) = start(limits).await;
    let addr = server.local_addr;
    let own = format!("http://{addr}");
    // No Origin (a program), a loopback page, a listed origin and a page
    // this server served connect; a page of another site does not.
    for (origin, allowed) in [
        (None, true),
        (Some("http://localhost:3000"), true),
        (Some("https://explorer.example"), true),
        (Some(own.as_str()), true),
        (Some("https://evil.example"), false),
        (Some("http://evil.example:1"), false),
    ] {
        let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("Origin", o.parse().unwrap());
        }
        let result = tokio_tungstenite::connect_async(req).await;
        match (allowed, result) {
            (true, Ok((mut ws, _))) => ws.close(None).await.unwrap(),
            (false, Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => assert_eq!(resp.status(), 403),
            (a, r) => panic!("origin {origin:?}: allowed {a}, got {:?}", r.map(|_| ())),
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn requests_naming_other_hosts_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = RpcLimits { allowed_hosts: vec!["node.example".into()], ..RpcLimits::default() };
    let (server, _tx) = start(limits).await;
    let addr = server.local_addr;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}"#;
    for (host, status) in [
        (Some(format!("127.0.0.1:{}", addr.port())), "200"),
        (Some(format!("localhost:{}", addr.port())), "200"),
        (Some("node.example".to_string()), "200"),
        (Some("rebound.evil.example".to_string()), "403"),
        (None, "200"),
    ] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (version, host_line) = match &host {
            Some(h) => ("HTTP/1.1", format!("Host: {h}\r\n")),
            None => ("HTTP/1.0", String::new()),
        };
        let req = format!(
            "POST / {version}\r\n{host_line}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let got = answer.split_whitespace().nth(1).unwrap_or_default().to_string();
        assert_eq!(got, status, "Host {host:?}: {answer}");
        if status == "403" {
            assert!(answer.contains("allowed_hosts"), "{answer}");
        }
    }
    server.shutdown().await;
}
