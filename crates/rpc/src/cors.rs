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

/// Checks configured host names: each `"*"` or a DNS name.
pub fn validate_hosts(what: &str, allowed: &[String]) -> Result<(), String> {
    for h in allowed {
        let ok = h == "*"
            || (!h.is_empty()
                && h.len() <= 253
                && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
        if !ok {
            return Err(format!("{what}: {h:?} is not a host name (letters, digits, '-', '.') or \"*\""));
        }
    }
    Ok(())
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

/// Whether a request's `Host` header may be served, given the configured
/// `allowed` host names (`"*"`: any). Without this, a web page whose own
/// name its attacker re-points at this machine (DNS rebinding) would be
/// same-origin with the node's API, and every browser rule would let it
/// read and call it. Always allowed: no `Host` (not a browser), an IP
/// address (a page cannot rebind to an address literal: its origin would be
/// that address, not the attacker's name), `localhost`, and the names
/// listed; ports are ignored.
pub fn host_allowed(allowed: &[String], host: Option<&[u8]>) -> bool {
    let Some(host) = host else { return true };
    let Ok(host) = std::str::from_utf8(host) else { return false };
    let name = match host.strip_prefix('[') {
        // [v6]:port
        Some(rest) => return rest.split(']').next().is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        None => host.rsplit_once(':').map_or(host, |(n, port)| if is_port(&format!(":{port}")) { n } else { host }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || allowed.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(&name))
}

#[cfg(test)]
mod host_tests {
    use super::host_allowed;

    #[test]
    fn hosts() {
        let none: Vec<String> = Vec::new();
        let listed = vec!["node.example".to_string()];
        let any = vec!["*".to_string()];
        for (host, allowed, ok) in [
            (None, &none, true),
            (Some("127.0.0.1:7847"), &none, true),
            (Some("10.1.2.3"), &none, true),
            (Some("[::1]:7847"), &none, true),
            (Some("localhost:7847"), &none, true),
            (Some("LOCALHOST."), &none, true),
            (Some("evil.example:7847"), &none, false),
            (Some("127.0.0.1.evil.example"), &none, false),
            (Some("[evil]:1"), &none, false),
            (Some("node.example:7847"), &listed, true),
            (Some("NODE.example"), &listed, true),
            (Some("other.example"), &listed, false),
            (Some("anything.example"), &any, true),
        ] {
            assert_eq!(host_allowed(allowed, host.map(str::as_bytes)), ok, "{host:?} with {allowed:?}");
        }
        assert!(!host_allowed(&none, Some(&[0xff, 0xfe])), "not UTF-8");
    }
}
