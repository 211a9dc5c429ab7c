//! Who answered an Upgrade: the server product, version and operating
//! system, identified from the response.
//!
//! The server is identified from the `Server` header, `X-Powered-By` /
//! `X-AspNet-Version`, and, when the header is missing, the body of IIS
//! error and welcome pages. Each fact found is named in `evidence`; a header
//! alone can be faked, so the confidence says how much agrees.

use super::http::Response;

/// What is known of the server product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerProduct {
    /// The product, e.g. `IIS`, `nginx`, `Apache`.
    pub product: String,
    /// Its version as shown (`7.5`), when known.
    pub version: Option<String>,
    /// The operating system it implies or names (`Windows 7 / Server 2008 R2`).
    pub os: Option<String>,
    /// `yes`, `no`, `optional` (a feature to enable) or `unknown`.
    pub websocket: &'static str,
    /// What identified it, in order: `server_header`, `x_powered_by`,
    /// `x_aspnet_version`, `error_page`, ...
    pub evidence: Vec<&'static str>,
    /// `high` (independent facts agree), `medium` (one header), `low` (hints only).
    pub confidence: &'static str,
}

/// A server in words, `IIS 7.5 (Windows 7 / Server 2008 R2)`, or `an
/// unidentified server` for `None`: product, then version and operating
/// system when known.
pub fn describe(product: Option<(&str, Option<&str>, Option<&str>)>) -> String {
    let Some((product, version, os)) = product else {
        return "an unidentified server".to_string();
    };
    let mut s = product.to_string();
    if let Some(v) = version {
        s.push(' ');
        s.push_str(v);
    }
    if let Some(os) = os {
        s.push_str(" (");
        s.push_str(os);
        s.push(')');
    }
    s
}

/// Windows release of an IIS version.
pub fn iis_windows(version: &str) -> Option<&'static str> {
    Some(match version {
        "5.0" => "Windows 2000",
        "5.1" => "Windows XP",
        "6.0" => "Windows Server 2003",
        "7.0" => "Windows Vista / Server 2008",
        "7.5" => "Windows 7 / Server 2008 R2",
        "8.0" => "Windows 8 / Server 2012",
        "8.5" => "Windows 8.1 / Server 2012 R2",
        "10.0" => "Windows 10+ / Server 2016+",
        _ => return None,
    })
}

/// Major.minor of an IIS version as a comparable number (7.5 -> 75).
fn iis_rank(version: &str) -> Option<u32> {
    let mut it = version.split('.');
    let major: u32 = it.next()?.trim().parse().ok()?;
    let minor: u32 = it.next().unwrap_or("0").trim().parse().ok()?;
    // A version too large to rank is not ranked (WebSocket support unknown).
    major.checked_mul(10)?.checked_add(minor.min(9))
}

/// Is this IIS version older than 8.0 (no WebSocket at all)?
pub fn is_pre_iis8(version: &str) -> bool {
    iis_rank(version).is_some_and(|r| r < 80)
}

/// The IIS version an error page or welcome page shows, if any. The page
/// is searched as bytes (its ASCII markers cannot straddle a byte that is
/// not UTF-8), so it is not validated as text first.
fn iis_from_body(body: &[u8]) -> Option<String> {
    let digits = |c: &u8| c.is_ascii_digit() || *c == b'.';
    // "IIS 7.5 Detailed Error - 404.0 - Not Found", "IIS 8.5 Detailed Error"
    if let Some(i) = crate::find_ascii_ci(body, b" Detailed Error") {
        let before = body.get(..i).unwrap_or(&[]);
        if let Some(j) = memchr::memmem::rfind(before, b"IIS ") {
            let v = super::lossy(before.get(j.saturating_add(4)..).unwrap_or(&[]));
            let v = v.trim();
            if !v.is_empty() && v.len() <= 5 && v.bytes().all(|c| digits(&c)) {
                return Some(if v.contains('.') {
                    v.to_string()
                } else {
                    format!("{v}.0")
                });
            }
        }
    }
    // "Microsoft-IIS/7.5" quoted in a page
    if let Some(i) = crate::find_ascii_ci(body, b"Microsoft-IIS/") {
        let rest = body.get(i.saturating_add(14)..).unwrap_or(&[]);
        let n = rest.iter().take_while(|c| digits(c)).count();
        if n > 0 {
            return Some(super::lossy(rest.get(..n).unwrap_or(&[])).into_owned());
        }
    }
    // The IIS 7.x default page: <title>IIS7</title>
    if crate::find_ascii_ci(body, b"<title>IIS7</title>").is_some() {
        return Some("7".to_string());
    }
    None
}

/// Identify the server from a response (headers and the first bytes of its body).
pub fn identify_server(resp: &Response, body: &[u8]) -> Option<ServerProduct> {
    let server = resp.headers.get("server").map(str::trim);
    let powered = resp.headers.get("x-powered-by").map(str::trim);
    let aspnet = resp.headers.get("x-aspnet-version").is_some();
    // The page is read only when the headers leave the product open (IIS
    // or no Server header): most answers come from other servers.
    let need_body = server.is_none_or(|s| s.starts_with("Microsoft-IIS/"));
    let body_iis = if need_body { iis_from_body(body) } else { None };
    let mut evidence = Vec::new();

    if let Some(s) = server {
        if let Some(rest) = s.strip_prefix("Microsoft-IIS/") {
            let v: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            evidence.push("server_header");
            if powered.is_some_and(|p| p.contains("ASP.NET")) {
                evidence.push("x_powered_by");
            }
            if aspnet {
                evidence.push("x_aspnet_version");
            }
            let mut confidence = "medium";
            if let Some(b) = &body_iis {
                evidence.push("error_page");
                if b == &v || (b == "7" && v.starts_with('7')) {
                    confidence = "high";
                }
            }
            return Some(iis_product(Some(v), evidence, confidence));
        }
        if s.starts_with("Microsoft-HTTPAPI/") {
            evidence.push("server_header");
            return Some(ServerProduct {
                product: "HTTP.sys".into(),
                version: s.strip_prefix("Microsoft-HTTPAPI/").map(str::to_string),
                os: Some("Windows".into()),
                websocket: "unknown",
                evidence,
                confidence: "medium",
            });
        }
        let lower = s.to_ascii_lowercase();
        let (product, websocket) = if lower.starts_with("nginx") {
            ("nginx", "optional")
        } else if lower.starts_with("apache") {
            ("Apache", "optional")
        } else if lower.contains("mosquitto") {
            ("mosquitto", "yes")
        } else {
            ("", "unknown")
        };
        evidence.push("server_header");
        let version = s
            .split('/')
            .nth(1)
            .map(|v| v.split_whitespace().next().unwrap_or(v).to_string());
        return Some(ServerProduct {
            product: if product.is_empty() {
                s.to_string()
            } else {
                product.to_string()
            },
            version,
            os: None,
            websocket,
            evidence,
            confidence: "medium",
        });
    }
    // No Server header: the body (and ASP.NET headers) may still tell.
    if let Some(v) = body_iis {
        evidence.push("error_page");
        if powered.is_some_and(|p| p.contains("ASP.NET")) {
            evidence.push("x_powered_by");
        }
        if aspnet {
            evidence.push("x_aspnet_version");
        }
        let confidence = if evidence.len() > 1 { "medium" } else { "low" };
        return Some(iis_product(Some(v), evidence, confidence));
    }
    if powered.is_some_and(|p| p.contains("ASP.NET")) || aspnet {
        evidence.push(if aspnet {
            "x_aspnet_version"
        } else {
            "x_powered_by"
        });
        return Some(ServerProduct {
            product: "IIS".into(),
            version: None,
            os: Some("Windows".into()),
            websocket: "unknown",
            evidence,
            confidence: "low",
        });
    }
    None
}

fn iis_product(
    version: Option<String>,
    evidence: Vec<&'static str>,
    confidence: &'static str,
) -> ServerProduct {
    let (os, websocket) = match version.as_deref() {
        Some("7") => (
            Some("Windows Vista / 7 / Server 2008 (R2)".to_string()),
            "no",
        ),
        Some(v) => (
            iis_windows(v).map(str::to_string),
            if is_pre_iis8(v) {
                "no"
            } else if iis_rank(v).is_some() {
                "optional"
            } else {
                "unknown"
            },
        ),
        None => (None, "unknown"),
    };
    ServerProduct {
        product: "IIS".into(),
        version: version.map(|v| if v == "7" { "7.x".to_string() } else { v }),
        os,
        websocket,
        evidence,
        confidence,
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn iis_version_from_pages_that_are_not_utf8() {
        let cases: [(&[u8], Option<&str>); 7] = [
            (
                b"<h1>\xff\xfeIIS 7.5 Detailed Error - 404.0\xff</h1>",
                Some("7.5"),
            ),
            (b"iis 8 detailed error", None),
            (b"IIS 8 Detailed Error", Some("8.0")),
            (b"IIS 7.5\xc2\xa0 Detailed Error", Some("7.5")),
            (b"\x80 server: microsoft-iis/10.0\x80", Some("10.0")),
            (b"<TITLE>iis7</TITLE>\xff", Some("7")),
            (b"\xff\xff\xff", None),
        ];
        for (page, want) in cases {
            assert_eq!(
                iis_from_body(page).as_deref(),
                want,
                "{:?}",
                String::from_utf8_lossy(page)
            );
        }
    }

    use crate::http::{parse_response, Head, HttpLimits};

    #[test]
    fn describes_a_server_in_words() {
        assert_eq!(
            describe(Some((
                "IIS",
                Some("7.5"),
                Some("Windows 7 / Server 2008 R2")
            ))),
            "IIS 7.5 (Windows 7 / Server 2008 R2)"
        );
        assert_eq!(describe(Some(("nginx", None, None))), "nginx");
        assert_eq!(describe(None), "an unidentified server");
    }

    fn resp(s: &str) -> Response {
        match parse_response(s.as_bytes(), &HttpLimits::default()) {
            Head::Complete(r, _) => r,
            _ => panic!("bad test response"),
        }
    }

    #[test]
    fn identifies_iis75_by_header_and_page() {
        let r = resp(
            "HTTP/1.1 404 Not Found\r\nServer: Microsoft-IIS/7.5\r\nX-Powered-By: ASP.NET\r\n\r\n",
        );
        let p = identify_server(
            &r,
            b"<title>IIS 7.5 Detailed Error - 404.0 - Not Found</title>",
        )
        .unwrap();
        assert_eq!(p.product, "IIS");
        assert_eq!(p.version.as_deref(), Some("7.5"));
        assert_eq!(p.os.as_deref(), Some("Windows 7 / Server 2008 R2"));
        assert_eq!(p.websocket, "no");
        assert_eq!(p.confidence, "high");
        assert_eq!(
            p.evidence,
            vec!["server_header", "x_powered_by", "error_page"]
        );
    }

    #[test]
    fn identifies_iis_by_page_alone() {
        let r = resp("HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n");
        let p = identify_server(
            &r,
            b"<h1>Server Error</h1><title>IIS 7.5 Detailed Error - 404.0",
        )
        .unwrap();
        assert_eq!(p.version.as_deref(), Some("7.5"));
        assert_eq!(p.evidence, vec!["error_page"]);
        assert_eq!(p.confidence, "low");
        let p = identify_server(&r, b"<html><head><title>IIS7</title>").unwrap();
        assert_eq!(p.websocket, "no");
    }

    #[test]
    fn iis8_and_others() {
        let p = identify_server(
            &resp("HTTP/1.1 404 x\r\nServer: Microsoft-IIS/8.5\r\n\r\n"),
            b"",
        )
        .unwrap();
        assert_eq!(p.websocket, "optional");
        assert_eq!(p.os.as_deref(), Some("Windows 8.1 / Server 2012 R2"));
        let p =
            identify_server(&resp("HTTP/1.1 426 x\r\nServer: nginx/1.22.1\r\n\r\n"), b"").unwrap();
        assert_eq!(
            (p.product.as_str(), p.version.as_deref()),
            ("nginx", Some("1.22.1"))
        );
        assert!(identify_server(&resp("HTTP/1.1 404 x\r\n\r\n"), b"hello").is_none());
        assert!(
            is_pre_iis8("7.5") && is_pre_iis8("6.0") && !is_pre_iis8("8.0") && !is_pre_iis8("10.0")
        );
    }
}
