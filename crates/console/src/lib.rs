//! aergo-console: the web console (AERGO Hub in the browser), served by the
//! node itself on its JSON-RPC port.
//!
//! Bird's-eye view: three hand-written files in `assets/` (an HTML shell,
//! one script, one style sheet) and an icon, compiled into the binary with
//! `include_bytes!`. There is no build step and no JavaScript toolchain:
//! what is in `assets/` is what the browser runs. The node's JSON-RPC
//! server serves them at `GET /` and `GET /console/...` (through
//! `aergo_rpc::Handler::page`) with [`CONTENT_SECURITY_POLICY`]; the page
//! then talks to the same port: JSON-RPC over `POST /` for everything, and
//! the `blocks` subscription over `/ws` for live blocks. So the console can
//! do exactly what the public API allows, with the API's limits, and
//! nothing else.
//!
//! The script is a small hash router (`#/block/12`, `#/tx/HASH`,
//! `#/account/ADDR`, `#/sql?q=...&height=...`, `#/producers`, `#/node`,
//! `#/branches`) whose views build the DOM with `createElement` and
//! `textContent` only: chain data (contract source, event arguments, table
//! rows, names) is never parsed as HTML.
//!
//! Architecture invariants, checked by this crate's tests:
//! - no asset names another origin: no CDN, fonts or analytics, so the
//!   console works offline and leaks no visit;
//! - no `innerHTML`, `outerHTML`, `insertAdjacentHTML`, `document.write`,
//!   `eval` or `new Function` in the script, and no inline script or style
//!   in the HTML, so the strict policy below needs no exceptions.
//!
//! Deliberately absent: knowledge of the node. The console is files; the
//! API it calls is the node's documented JSON-RPC.

/// A file of the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asset {
    /// Where it is served.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// Sent with every asset. Scripts, styles and images come from the node
/// only; the page connects only to the node (`'self'` covers its
/// WebSocket); it cannot be framed, post forms or change its base URL.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const INDEX: Asset =
    Asset { path: "/", content_type: "text/html; charset=utf-8", body: include_bytes!("../assets/index.html") };

/// Every asset, by path.
pub const ASSETS: &[Asset] = &[
    INDEX,
    Asset { path: "/index.html", ..INDEX },
    Asset {
        path: "/console/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/app.js"),
    },
    Asset {
        path: "/console/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/style.css"),
    },
    Asset { path: "/console/icon.svg", content_type: "image/svg+xml", body: include_bytes!("../assets/icon.svg") },
];

/// The asset served at `path` (exact match: nothing is read from disk, so
/// no path can reach outside the console).
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(a: &Asset) -> &'static str {
        std::str::from_utf8(a.body).expect("assets are UTF-8")
    }

    #[test]
    fn every_reference_of_the_page_is_served() {
        let html = text(asset("/").unwrap());
        let mut refs = 0;
        for attr in ["src=\"", "href=\""] {
            for part in html.split(attr).skip(1) {
                let target = part.split('"').next().unwrap();
                if target.starts_with('#') {
                    continue;
                }
                assert!(asset(target).is_some(), "index.html references {target}, which is not served");
                refs += 1;
            }
        }
        assert!(refs >= 3, "the page loads its script, style and icon");
        assert!(asset("/nope").is_none());
        assert!(asset("/console/../index.html").is_none());
    }

    #[test]
    fn no_asset_reaches_another_origin() {
        for a in ASSETS {
            // The SVG namespace is a name, not a request.
            let t = text(a).replace("http://www.w3.org/2000/svg", "");
            for needle in ["http://", "https://", "//cdn", "@import", "url("] {
                assert!(!t.contains(needle), "{} contains {needle:?}", a.path);
            }
        }
    }

    #[test]
    fn the_script_never_parses_data_as_html_or_code() {
        let js = text(asset("/console/app.js").unwrap());
        for banned in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
            assert!(!js.contains(banned), "app.js uses {banned}");
        }
        let html = text(asset("/").unwrap());
        assert!(!html.contains("<script>") && !html.contains("style="), "no inline script or style");
        assert!(!html.contains("onclick"), "no inline handlers");
    }

    #[test]
    fn the_policy_is_strict() {
        assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }
}
