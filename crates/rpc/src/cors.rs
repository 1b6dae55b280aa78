//! Which browser pages may call the node's APIs (CORS), shared by the
//! JSON-RPC server here and the gRPC-web server of `aergo-grpc`.
//!
//! Pages served from this machine (`http://localhost[:port]`,
//! `http://127.0.0.1[:port]`, `http://[::1][:port]`, or https) are always
//! allowed: the APIs listen on loopback by default, so a local wallet or
//! explorer page is the common caller. Other origins must be listed in the
//! configuration (`"*"` allows any). A page from an origin not allowed
//! gets no `Access-Control-Allow-Origin`, so the browser keeps the answer
//! from it.

/// Whether a page at `origin` may call, given the configured `allowed`.
pub fn origin_allowed(allowed: &[String], origin: &[u8]) -> bool {
    is_loopback_origin(origin) || allowed.iter().any(|o| o == "*" || o.as_bytes() == origin)
}

/// A page served from this machine.
pub fn is_loopback_origin(origin: &[u8]) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else { return false };
    let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) else {
        return false;
    };
    let (host, port) = match rest.strip_prefix("[::1]") {
        Some(after) => ("[::1]", after),
        None => match rest.find(':') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        },
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]") && (port.is_empty() || is_port(port))
}

fn is_port(s: &str) -> bool {
    s.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks configured origins: each `"*"` or a value a header can carry.
pub fn validate_origins(what: &str, allowed: &[String]) -> Result<(), String> {
    for o in allowed {
        if o != "*" && (o.is_empty() || o.bytes().any(|b| b.is_ascii_control() || b == b' ')) {
            return Err(format!(
                "{what}: {o:?} is not an origin (expected e.g. \"https://explorer.example\" or \"*\")"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins() {
        for ok in [
            "http://localhost",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:5173",
            "https://localhost",
        ] {
            assert!(is_loopback_origin(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "http://localhost.evil.com",
            "http://127.0.0.1.nip.io",
            "http://evil.com",
            "null",
            "http://localhost:",
            "http://localhost:abc",
            "http://[::1].evil",
            "file://",
        ] {
            assert!(!is_loopback_origin(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn configured_origins() {
        assert!(!origin_allowed(&[], b"https://explorer.example"));
        assert!(origin_allowed(&["https://explorer.example".into()], b"https://explorer.example"));
        assert!(origin_allowed(&["*".into()], b"https://anything.example"));
        assert!(validate_origins("x", &["https://a.example".into(), "*".into()]).is_ok());
        assert!(validate_origins("x", &["bad origin".into()]).is_err());
    }
}
