//! The HTML report opened in a real browser (headless Debian `chromium`):
//! it renders, shows the verdict of each capture, and a capture whose MQTT
//! topic, client id, HTTP header and error page hold `<script>` /
//! `<img onerror>` strings injects nothing (checked in the DOM the browser
//! built).
//!
//! Without `/usr/bin/chromium` the test is skipped, unless `CI` is set (then
//! it fails). With `WSDOCTOR_HTML_SCREENSHOT=OUT.png` it also saves the page
//! (as `OUT.html`) and a 1280x2000 screenshot there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wsdoctor::analyze::{analyze_path, Options};
use wsdoctor::report::html;
use wsdoctor::report::model::CaptureReport;

const CHROMIUM: &str = "/usr/bin/chromium";
const SAMPLES: [&str; 3] = ["iis75-404.pcap", "iis8-ok.pcap", "hostile-strings.pcap"];

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn reports() -> Vec<CaptureReport> {
    SAMPLES
        .iter()
        .map(|name| {
            let mut r = CaptureReport::new(name);
            analyze_path(&samples().join(name), &Options::default(), &mut r);
            r
        })
        .collect()
}

/// A fresh directory of this test under the system temp dir.
fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let d = std::env::temp_dir().join(format!("wsdoctor-html-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Run chromium headless on `page` with `extra` arguments; its stdout.
fn chromium(tmp: &Path, page: &Path, extra: &[&str]) -> String {
    let profile = tmp.join(format!("profile-{}", extra.len()));
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(page)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("start chromium");
    // Read stdout on a thread so a full pipe cannot stall the browser.
    let mut out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let start = Instant::now();
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => {
                assert!(status.success(), "chromium failed: {status}");
                break;
            }
            None if start.elapsed() > Duration::from_secs(120) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 120 s");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    reader.join().expect("stdout reader")
}

/// How the browser serialises a text node: `&`, `<`, `>` and NBSP escaped.
fn as_dom_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

/// Every element of a serialised DOM: (tag name, attribute names), lowercase.
fn elements(dom: &str) -> Vec<(String, Vec<String>)> {
    let b = dom.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' || i + 1 >= b.len() || !b[i + 1].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        i += 1;
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        let tag = dom[start..i].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                i += 1;
                break;
            }
            let n0 = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/')
            {
                i += 1;
            }
            attrs.push(dom[n0..i].to_ascii_lowercase());
            if i < b.len() && b[i] == b'=' {
                i += 1;
                if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                    let q = b[i];
                    i += 1;
                    while i < b.len() && b[i] != q {
                        i += 1;
                    }
                    i += 1;
                } else {
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                }
            }
        }
        // Raw-text elements: skip their content.
        if tag == "style" || tag == "script" {
            if let Some(end) = dom[i.min(dom.len())..].find(&format!("</{tag}")) {
                i += end;
            }
        }
        out.push((tag, attrs));
    }
    out
}

#[test]
fn html_report_renders_in_chromium_and_injects_nothing() {
    let reports = reports();
    let page = html::render(&reports, "wsdoctor browser test <script>alert(0)</script>");

    // Static checks, browser or not: nothing to fetch, nothing to run.
    let lower = page.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a script element in the page");
    assert!(!lower.contains("<img"), "an img element in the page");
    for scheme in ["http://", "https://", "//"] {
        for (i, _) in lower.match_indices(scheme) {
            let before = &lower[..i];
            let ok = before.ends_with("xmlns=\"") // the SVG namespace: a name, not a fetch
                || (scheme == "//" && (before.ends_with("http:") || before.ends_with("https:")))
                || !before.ends_with(['"', '\'', '(', '=']); // not a URL-valued attribute or url()
            assert!(
                ok,
                "a URL in the page: {}",
                &lower[i..(i + 60).min(lower.len())]
            );
        }
    }

    if !Path::new(CHROMIUM).exists() {
        if std::env::var_os("CI").is_some() {
            panic!("{CHROMIUM} is missing and CI is set: install the Debian package `chromium`");
        }
        eprintln!("SKIPPED html_report_renders_in_chromium_and_injects_nothing: {CHROMIUM} not installed (apt-get install chromium)");
        return;
    }

    let tmp = temp_dir();
    let file = tmp.join("report.html");
    std::fs::write(&file, &page).expect("write the page");
    let dom = chromium(&tmp, &file, &["--dump-dom"]);

    // It rendered: the DOM holds each capture's verdict.
    assert!(dom.contains("</html>"), "no DOM dumped: {dom}");
    for r in &reports {
        let v = r.verdict();
        assert!(
            dom.contains(&as_dom_text(&v)),
            "verdict of {} not in the DOM: {v}",
            r.file
        );
    }
    assert!(dom.contains("IIS 7.5 (Windows 7 / Server 2008 R2)"));
    assert!(dom.contains("no problems found"));

    // Nothing was injected: no script element, no on* attribute, no element
    // from the hostile strings (img, svg onload...).
    let els = elements(&dom);
    assert!(els.len() > 100, "too few elements parsed: {}", els.len());
    for (tag, attrs) in &els {
        assert!(
            !matches!(
                tag.as_str(),
                "script" | "img" | "iframe" | "object" | "embed" | "link" | "base" | "form"
            ),
            "a <{tag}> element in the DOM"
        );
        for a in attrs {
            assert!(!a.starts_with("on"), "<{tag}> has an event attribute {a}");
            assert!(
                !matches!(a.as_str(), "src" | "srcdoc" | "formaction"),
                "<{tag}> has a {a} attribute"
            );
        }
    }
    let dom_lower = dom.to_ascii_lowercase();
    assert!(
        !dom_lower.contains("<script"),
        "a script element in the DOM"
    );
    // The hostile strings are there, as text.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(dom.contains("&lt;img src=x onerror=alert(2)&gt;"));
    // The client id and the topic of the hostile capture, shown as text.
    assert!(dom.contains("client \"&lt;script&gt;alert(1)&lt;/script&gt;\""));
    assert!(dom.contains("wsdoctor/&lt;img src=x onerror=alert(2)&gt;"));
    // The page title is text too.
    assert!(
        dom.contains("<title>wsdoctor browser test &lt;script&gt;alert(0)&lt;/script&gt;</title>")
    );

    // Optionally a screenshot for a person to look at.
    if let Some(out) = std::env::var_os("WSDOCTOR_HTML_SCREENSHOT") {
        let out = PathBuf::from(out);
        let _ = std::fs::write(out.with_extension("html"), &page);
        let _ = std::fs::remove_file(&out);
        chromium(
            &tmp,
            &file,
            &[
                &format!("--screenshot={}", out.display()),
                "--window-size=1280,2000",
            ],
        );
        let png = std::fs::read(&out).expect("screenshot written");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
