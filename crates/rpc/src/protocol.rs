//! JSON-RPC 2.0 framing: parsing requests, shaping responses, error codes.
//!
//! Everything here is transport-agnostic; the HTTP and WebSocket servers
//! both feed raw bytes to [`handle_payload`].

use serde_json::{json, Value};

use crate::{Handler, RpcError, RpcLimits};

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i64 = -32603;
/// The request, batch or response is larger than the server allows.
pub const LIMIT_EXCEEDED: i64 = -32005;
/// The request was well-formed but the node refused it (a rejected
/// transaction, an unknown block, ...).
pub const REJECTED: i64 = -32000;
/// What was asked for does not exist.
pub const NOT_FOUND: i64 = -32001;

/// One parsed call, before dispatch.
#[derive(Debug)]
pub(crate) struct Call {
    pub id: Option<Value>,
    pub method: String,
    pub params: Value,
}

/// Outcome of parsing one element of a payload.
pub(crate) enum Parsed {
    Call(Call),
    /// A malformed element: respond with this error (id `null` when unknown).
    Invalid {
        id: Value,
        error: RpcError,
    },
}

/// Result of handling a whole payload.
pub(crate) enum Reply {
    /// Nothing to send back (only notifications).
    None,
    /// A JSON document to send back.
    Json(String),
}

pub(crate) fn error_object(id: Value, error: &RpcError) -> Value {
    let mut err = json!({ "code": error.code, "message": error.message });
    if let Some(data) = &error.data {
        err["data"] = data.clone();
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": err })
}

pub(crate) fn result_object(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

fn parse_element(element: Value) -> Parsed {
    let Value::Object(mut obj) = element else {
        return Parsed::Invalid {
            id: Value::Null,
            error: RpcError::new(INVALID_REQUEST, "expected a request object, got another JSON value"),
        };
    };
    let id = obj.remove("id");
    let response_id = id.clone().unwrap_or(Value::Null);
    if let Some(id) = &id {
        if !(id.is_null() || id.is_number() || id.is_string()) {
            return Parsed::Invalid {
                id: Value::Null,
                error: RpcError::new(INVALID_REQUEST, "\"id\" must be a number, a string or null"),
            };
        }
    }
    match obj.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => {}
        other => {
            return Parsed::Invalid {
                id: response_id,
                error: RpcError::new(
                    INVALID_REQUEST,
                    format!("expected \"jsonrpc\": \"2.0\", got {}", other.map_or("nothing".into(), |v| v.to_string())),
                ),
            }
        }
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        other => {
            return Parsed::Invalid {
                id: response_id,
                error: RpcError::new(
                    INVALID_REQUEST,
                    format!(
                        "expected \"method\" to be a string, got {}",
                        other.map_or("nothing".into(), |v| v.to_string())
                    ),
                ),
            }
        }
    };
    let params = match obj.remove("params") {
        None => Value::Array(Vec::new()),
        Some(p @ (Value::Array(_) | Value::Object(_))) => p,
        Some(other) => {
            return Parsed::Invalid {
                id: response_id,
                error: RpcError::new(
                    INVALID_REQUEST,
                    format!("expected \"params\" to be an array or object, got {other}"),
                ),
            }
        }
    };
    Parsed::Call(Call { id, method, params })
}

/// Handles one payload (a request or a batch) and returns the reply.
///
/// `dispatch` runs one call; the HTTP server passes the handler, the
/// WebSocket server wraps it to intercept subscription methods.
pub(crate) fn handle_payload(
    bytes: &[u8],
    limits: &RpcLimits,
    dispatch: &mut dyn FnMut(&str, Value) -> Result<Value, RpcError>,
) -> Reply {
    if bytes.len() > limits.max_request_bytes {
        let err = RpcError::new(
            LIMIT_EXCEEDED,
            format!("request of {} bytes exceeds the limit of {} bytes", bytes.len(), limits.max_request_bytes),
        );
        return Reply::Json(error_object(Value::Null, &err).to_string());
    }
    let doc: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            let err = RpcError::new(PARSE_ERROR, format!("invalid JSON: {e}"));
            return Reply::Json(error_object(Value::Null, &err).to_string());
        }
    };
    match doc {
        Value::Array(elements) => {
            if elements.is_empty() {
                let err = RpcError::new(INVALID_REQUEST, "empty batch");
                return Reply::Json(error_object(Value::Null, &err).to_string());
            }
            if elements.len() > limits.max_batch_len {
                let err = RpcError::new(
                    LIMIT_EXCEEDED,
                    format!("batch of {} calls exceeds the limit of {}", elements.len(), limits.max_batch_len),
                );
                return Reply::Json(error_object(Value::Null, &err).to_string());
            }
            let mut responses = Vec::with_capacity(elements.len());
            let mut total_bytes = 0usize;
            for element in elements {
                if let Some(resp) = run_element(element, limits, dispatch) {
                    total_bytes += resp.len();
                    if total_bytes > limits.max_response_bytes {
                        let err = RpcError::new(
                            LIMIT_EXCEEDED,
                            format!("batch response exceeds the limit of {} bytes", limits.max_response_bytes),
                        );
                        return Reply::Json(error_object(Value::Null, &err).to_string());
                    }
                    responses.push(resp);
                }
            }
            if responses.is_empty() {
                Reply::None
            } else {
                Reply::Json(format!("[{}]", responses.join(",")))
            }
        }
        single => match run_element(single, limits, dispatch) {
            Some(resp) => Reply::Json(resp),
            None => Reply::None,
        },
    }
}

/// Runs one element and returns its serialized response (`None` for a
/// notification).
fn run_element(
    element: Value,
    limits: &RpcLimits,
    dispatch: &mut dyn FnMut(&str, Value) -> Result<Value, RpcError>,
) -> Option<String> {
    match parse_element(element) {
        Parsed::Invalid { id, error } => Some(error_object(id, &error).to_string()),
        Parsed::Call(call) => {
            let outcome = dispatch(&call.method, call.params);
            let id = call.id?;
            let text = match outcome {
                Ok(result) => result_object(id.clone(), result).to_string(),
                Err(error) => error_object(id.clone(), &error).to_string(),
            };
            if text.len() > limits.max_response_bytes {
                let err = RpcError::new(
                    LIMIT_EXCEEDED,
                    format!(
                        "response of {} bytes exceeds the limit of {} bytes; narrow the request",
                        text.len(),
                        limits.max_response_bytes
                    ),
                );
                return Some(error_object(id, &err).to_string());
            }
            Some(text)
        }
    }
}

/// Answers one HTTP request body (a call or a batch) with `handler`, as
/// the HTTP server does: the serialized response, or `None` when the body
/// held only notifications. Subscriptions are refused: they need a
/// WebSocket. Pure apart from what `handler` does, so embedders with their
/// own transport and the fuzz targets reach the same framing.
pub fn respond(bytes: &[u8], limits: &RpcLimits, handler: &dyn Handler) -> Option<String> {
    let reply = handle_payload(bytes, limits, &mut |method, params| match method {
        "subscribe" | "unsubscribe" => {
            Err(RpcError::new(INVALID_REQUEST, "subscriptions need a WebSocket connection (GET /ws)"))
        }
        _ => dispatch_to(handler, method, params),
    });
    match reply {
        Reply::None => None,
        Reply::Json(text) => Some(text),
    }
}

/// Dispatches to a [`Handler`], mapping a missing method to the standard
/// error.
pub(crate) fn dispatch_to(handler: &dyn Handler, method: &str, params: Value) -> Result<Value, RpcError> {
    handler.call(method, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "echo" => Ok(params),
            "big" => Ok(Value::String("x".repeat(1000))),
            _ => Err(RpcError::method_not_found(method)),
        }
    }

    fn run(payload: &str, limits: &RpcLimits) -> Option<Value> {
        match handle_payload(payload.as_bytes(), limits, &mut echo) {
            Reply::None => None,
            Reply::Json(s) => Some(serde_json::from_str(&s).unwrap()),
        }
    }

    #[test]
    fn single_call_and_notification() {
        let l = RpcLimits::default();
        let r = run(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[1,2]}"#, &l).unwrap();
        assert_eq!(r["result"], json!([1, 2]));
        assert_eq!(r["id"], json!(1));
        assert!(run(r#"{"jsonrpc":"2.0","method":"echo"}"#, &l).is_none());
    }

    #[test]
    fn malformed_inputs_get_standard_errors() {
        let l = RpcLimits::default();
        assert_eq!(run("{not json", &l).unwrap()["error"]["code"], json!(PARSE_ERROR));
        assert_eq!(run("[]", &l).unwrap()["error"]["code"], json!(INVALID_REQUEST));
        assert_eq!(run("42", &l).unwrap()["error"]["code"], json!(INVALID_REQUEST));
        assert_eq!(run(r#"{"id":1,"method":"echo"}"#, &l).unwrap()["error"]["code"], json!(INVALID_REQUEST));
        assert_eq!(
            run(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":3}"#, &l).unwrap()["error"]["code"],
            json!(INVALID_REQUEST)
        );
        assert_eq!(
            run(r#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#, &l).unwrap()["error"]["code"],
            json!(METHOD_NOT_FOUND)
        );
    }

    #[test]
    fn batch_limits() {
        let l = RpcLimits { max_batch_len: 2, max_response_bytes: 500, ..RpcLimits::default() };
        let ok = run(r#"[{"jsonrpc":"2.0","id":1,"method":"echo"},{"jsonrpc":"2.0","id":2,"method":"echo"}]"#, &l);
        assert_eq!(ok.unwrap().as_array().unwrap().len(), 2);
        let too_many = run(
            r#"[{"jsonrpc":"2.0","id":1,"method":"echo"},{"jsonrpc":"2.0","id":2,"method":"echo"},{"jsonrpc":"2.0","id":3,"method":"echo"}]"#,
            &l,
        );
        assert_eq!(too_many.unwrap()["error"]["code"], json!(LIMIT_EXCEEDED));
        let big = run(r#"{"jsonrpc":"2.0","id":1,"method":"big"}"#, &l).unwrap();
        assert_eq!(big["error"]["code"], json!(LIMIT_EXCEEDED));
        let l = RpcLimits { max_request_bytes: 10, ..RpcLimits::default() };
        assert_eq!(
            run(r#"{"jsonrpc":"2.0","id":1,"method":"echo"}"#, &l).unwrap()["error"]["code"],
            json!(LIMIT_EXCEEDED)
        );
    }
}
