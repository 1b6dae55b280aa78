//! The bounds of the gRPC server, each named, each with the Go node's
//! habits where it has them.

/// Limits of [`crate::serve`]. A message over a size limit gets
/// `OUT_OF_RANGE` (tonic's codec; the Go node says `RESOURCE_EXHAUSTED`);
/// a stream past
/// the per-connection cap is refused by HTTP/2 itself (`REFUSED_STREAM`),
/// which clients retry on another connection or report as `UNAVAILABLE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcLimits {
    /// Largest request message, in bytes. A transaction list of the Go
    /// node's largest size fits (its `TxMaxSize` is 200 KiB per tx).
    pub max_request_bytes: usize,
    /// Largest response message, in bytes (a block with its body).
    pub max_response_bytes: usize,
    /// HTTP/2 streams (calls) open at once on one connection.
    pub max_streams_per_connection: u32,
    /// Open connections in total; the next one is closed on accept.
    pub max_connections: usize,
    /// Unary calls running at once across all connections; more wait.
    pub max_running_calls: usize,
    /// Deadline of a unary call, in milliseconds (`DEADLINE_EXCEEDED`).
    pub call_timeout_ms: u64,
    /// Origins a browser page may call from (gRPC-web), besides loopback
    /// pages (`http://localhost[:port]`, `http://127.0.0.1[:port]`),
    /// which are always allowed. `"*"` allows any origin.
    pub cors_origins: Vec<String>,
}

impl Default for GrpcLimits {
    fn default() -> Self {
        GrpcLimits {
            max_request_bytes: 4 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            max_streams_per_connection: 128,
            max_connections: 512,
            max_running_calls: 64,
            call_timeout_ms: 30_000,
            cors_origins: Vec::new(),
        }
    }
}

impl GrpcLimits {
    /// Refuses zeros: a zero cap would make the server refuse everything.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("max_request_bytes", self.max_request_bytes as u64),
            ("max_response_bytes", self.max_response_bytes as u64),
            ("max_streams_per_connection", self.max_streams_per_connection as u64),
            ("max_connections", self.max_connections as u64),
            ("max_running_calls", self.max_running_calls as u64),
            ("call_timeout_ms", self.call_timeout_ms),
        ] {
            if v == 0 {
                return Err(format!("grpc.{name} must be at least 1, got 0"));
            }
        }
        aergo_rpc::cors::validate_origins("grpc.cors_origins", &self.cors_origins)
    }

    /// Whether a browser page at `origin` may call the server.
    pub fn origin_allowed(&self, origin: &[u8]) -> bool {
        aergo_rpc::cors::origin_allowed(&self.cors_origins, origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_origins_and_zeros() {
        let mut l = GrpcLimits::default();
        assert!(!l.origin_allowed(b"https://explorer.example"));
        l.cors_origins = vec!["https://explorer.example".into()];
        assert!(l.origin_allowed(b"https://explorer.example"));
        assert!(l.validate().is_ok());
        l.max_connections = 0;
        assert_eq!(l.validate().unwrap_err(), "grpc.max_connections must be at least 1, got 0");
    }
}
