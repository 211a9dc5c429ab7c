//! The HTML report opened in a real browser (headless Debian `chromium`):
//! - it renders, shows the verdict of each capture, and a capture whose
//!   request path, headers, error page, MQTT client id, topic and payload
//!   hold `<script>` / `<img onerror>` strings shows every one of them (as
//!   tshark reads them from the capture) as text and injects nothing
//!   (checked in the DOM the browser built: no element, no attribute, no
//!   script but the page's own);
//! - a link to a connection's drill-down opens it, with the page's script
//!   and without it (screenshots: the page grows by the drill-down's
//!   content; the DOM has the `<details>` open), and printing shows every
//!   drill-down (the PDF has the pages the drill-downs take);
//! - the report made from JSON Lines is the same page, byte for byte, and
//!   the same DOM.
//!
//! Without `/usr/bin/chromium` the browser part is skipped, unless `CI` is
//! set (then it fails). With `WSDOCTOR_HTML_SCREENSHOT=OUT.png` it also saves
//! the page (as `OUT.html`) and a 1280x2000 screenshot of its top there.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wsdoctor::analyze::{analyze_path, Options};
use wsdoctor::report::html;
use wsdoctor::report::ingest::Ingest;
use wsdoctor::report::jsonl::Jsonl;
use wsdoctor::report::model::{CaptureReport, ModelOpts};

const CHROMIUM: &str = "/usr/bin/chromium";
const SAMPLES: [&str; 5] = [
    "iis75-404.pcap",
    "iis8-ok.pcap",
    "hostile-strings.pcap",
    "ws-close.pcap",
    "mqtt-connect-refused.pcap",
];

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

/// The same reports, built from the JSON Lines of the same captures.
fn reports_from_jsonl() -> Vec<CaptureReport> {
    let mut buf = Vec::new();
    for name in SAMPLES {
        let mut sink = Jsonl::new(&mut buf, name);
        analyze_path(&samples().join(name), &Options::default(), &mut sink);
    }
    let mut ing = Ingest::new(ModelOpts::default());
    ing.read("mem", &buf[..]).unwrap();
    assert_eq!(ing.bad_lines, 0);
    ing.finish()
}

fn browser_present() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{CHROMIUM} is missing and CI is set: install the Debian package `chromium`");
    }
    eprintln!("SKIPPED: {CHROMIUM} not installed (apt-get install chromium)");
    false
}

/// The page without its script: as a browser with scripts off shows it.
fn without_script(page: &str) -> String {
    let tag = format!("<script>{}</script>", html::SCRIPT);
    assert!(page.contains(&tag));
    page.replace(&tag, "")
}

/// Pixels darker than the page background in a screenshot (8-bit RGB or
/// RGBA PNG, as Chromium writes them; decoded here with flate2).
fn ink(png: &[u8]) -> u64 {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let (mut w, mut ct, mut idat) = (0usize, 0u8, Vec::new());
    let mut i = 8;
    while i + 8 <= png.len() {
        let n = u32::from_be_bytes(png[i..i + 4].try_into().unwrap()) as usize;
        let (ty, data) = (&png[i + 4..i + 8], &png[i + 8..i + 8 + n]);
        match ty {
            b"IHDR" => {
                w = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "bit depth");
                assert_eq!(data[12], 0, "interlace");
                ct = data[9];
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        i += 12 + n;
    }
    let bpp = match ct {
        2 => 3,
        6 => 4,
        c => panic!("colour type {c}"),
    };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = w * bpp;
    let mut prev = vec![0u8; stride];
    let mut dark = 0;
    for row in raw.chunks(stride + 1) {
        let (f, mut line) = (row[0], row[1..].to_vec());
        for x in 0..stride {
            let a = if x >= bpp { line[x - bpp] as i32 } else { 0 };
            let b = prev[x] as i32;
            let c = if x >= bpp { prev[x - bpp] as i32 } else { 0 };
            let add = match f {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("filter {f}"),
            };
            line[x] = line[x].wrapping_add(add as u8);
        }
        dark += line
            .chunks(bpp)
            .filter(|p| (p[0] as u32 + p[1] as u32 + p[2] as u32) < 600)
            .count() as u64;
        prev = line;
    }
    dark
}

/// Pages of a PDF Chromium printed.
fn pdf_pages(pdf: &[u8]) -> usize {
    let pat = b"/Type /Page";
    pdf.windows(pat.len() + 1)
        .filter(|w| &w[..pat.len()] == pat && w[pat.len()] != b's')
        .count()
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
fn chromium(tmp: &Path, page: impl AsRef<std::ffi::OsStr>, extra: &[&str]) -> String {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let profile = tmp.join(format!("profile-{n}"));
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
    .arg(page.as_ref())
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

    // Static checks, browser or not: nothing to fetch, nothing to run but
    // the page's own script.
    let lower = page.to_ascii_lowercase();
    assert_eq!(lower.matches("<script").count(), 1, "script elements");
    assert!(page.contains(&format!("<script>{}</script>", html::SCRIPT)));
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

    if !browser_present() {
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

    // Nothing was injected: no script element but ours, no on* attribute,
    // no element from the hostile strings (img, svg onload...).
    let els = elements(&dom);
    assert!(els.len() > 100, "too few elements parsed: {}", els.len());
    assert_eq!(els.iter().filter(|(t, _)| t == "script").count(), 1);
    for (tag, attrs) in &els {
        assert!(
            !matches!(
                tag.as_str(),
                "img" | "iframe" | "object" | "embed" | "link" | "base" | "form"
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
    assert_eq!(
        dom_lower.matches("<script").count(),
        1,
        "a script element in the DOM that is not the page's"
    );
    // The script ran (the filters it shows are there) and did nothing else.
    assert!(dom.contains("5 of 5 shown"), "the summary filters");
    // The hostile strings are there, as text.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(dom.contains("&lt;img src=x onerror=alert(2)&gt;"));
    // The client id and the topic of the hostile capture, shown as text.
    assert!(dom.contains("client \"&lt;script&gt;alert(1)&lt;/script&gt;\""));
    assert!(dom.contains("wsdoctor/&lt;img src=x onerror=alert(2)&gt;"));
    // Every string of the hostile capture, as tshark reads it: the request
    // line, every header of the request and of the 404, the error page's
    // title, the MQTT client id and topics; and the payload the client sent
    // (samples/gen/scenarios/paho_session.py, script "hostile").
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(samples().join("hostile-strings.truth.json")).unwrap(),
    )
    .unwrap();
    let mut wanted: Vec<String> = Vec::new();
    for st in truth["streams"].as_array().unwrap() {
        for m in st["http"].as_array().into_iter().flatten() {
            if let Some(uri) = m["uri"].as_str() {
                wanted.push(format!(
                    "{} {uri} {}",
                    m["method"].as_str().unwrap(),
                    m["version"].as_str().unwrap()
                ));
            }
            for h in m["headers"].as_array().unwrap() {
                wanted.push(format!(
                    "{}: {}",
                    h[0].as_str().unwrap(),
                    h[1].as_str().unwrap()
                ));
            }
            if let Some(body) = m["body_head"].as_str() {
                let t = body
                    .split("<title>")
                    .nth(1)
                    .unwrap()
                    .split("</title>")
                    .next()
                    .unwrap();
                wanted.push(format!("“{t}”"));
            }
        }
        for p in st["mqtt_packets"].as_array().into_iter().flatten() {
            for k in ["client_id", "topic"] {
                if let Some(v) = p[k].as_str() {
                    wanted.push(v.to_string());
                }
            }
            for t in p["topics"].as_array().into_iter().flatten() {
                wanted.push(t.as_str().unwrap().to_string());
            }
        }
    }
    wanted.push("<script>alert(3)</script>".into());
    assert!(wanted.len() > 15, "{wanted:?}");
    for w in &wanted {
        assert!(dom.contains(&as_dom_text(w)), "not shown as text: {w}");
    }
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

/// A link into a drill-down opens it, with the page's script and without;
/// printing shows every drill-down.
#[test]
fn drill_down_opens_from_a_link_and_in_print() {
    if !browser_present() {
        return;
    }
    // One capture, so that the whole page fits the window: a screenshot
    // with a fragment then shows the page unscrolled (headless Chromium
    // draws nothing when it has to scroll for one).
    let mut r = CaptureReport::new("samples/ws-close.pcap");
    analyze_path(
        &samples().join("ws-close.pcap"),
        &Options::default(),
        &mut r,
    );
    let page = html::render(&[r], "drill-down");
    let target = "cap-samples-ws-close-pcap-s0-detail";
    assert!(page.contains(&format!("id=\"{target}\"")));
    let tmp = temp_dir();
    for (name, text) in [
        ("with-script", page.clone()),
        ("no-script", without_script(&page)),
    ] {
        let file = tmp.join(format!("{name}.html"));
        std::fs::write(&file, &text).unwrap();
        let url = format!("file://{}", file.display());
        let shot = |frag: &str, n: &str| {
            let out = tmp.join(format!("{name}-{n}.png"));
            chromium(
                &tmp,
                format!("{url}{frag}"),
                &[
                    &format!("--screenshot={}", out.display()),
                    "--window-size=1280,4000",
                ],
            );
            ink(&std::fs::read(&out).expect("screenshot written"))
        };
        let closed = shot("", "closed");
        let opened = shot(&format!("#{target}"), "opened");
        assert!(
            closed > 10_000,
            "{name}: the page drew ({closed} dark pixels)"
        );
        // The drill-down holds the Upgrade, the MQTT packets and the end.
        assert!(
            opened > closed + closed / 3,
            "{name}: the drill-down did not open ({closed} -> {opened} dark pixels)"
        );
        if name == "no-script" {
            // --dump-dom needs scripts; the page without its script still
            // runs none of its own.
            let dom = chromium(&tmp, format!("{url}#{target}"), &["--dump-dom"]);
            assert!(dom.contains("<details class=\"drill\" open=\"\">"), "{dom}");
            assert!(
                dom.contains("id=\"filters\" hidden=\"\""),
                "filters stay hidden without the script"
            );
        } else {
            let dom = chromium(&tmp, format!("{url}#{target}"), &["--dump-dom"]);
            assert!(dom.contains("<details class=\"drill\" open=\"\">"));
        }
    }
    // Printing: the print style sheet shows closed drill-downs; without that
    // rule the PDF is shorter.
    let rule = "details::details-content{content-visibility:visible;display:block}";
    assert!(page.contains(rule));
    let pdf = |text: &str, n: &str| {
        let file = tmp.join(format!("print-{n}.html"));
        std::fs::write(&file, text).unwrap();
        let out = tmp.join(format!("print-{n}.pdf"));
        chromium(
            &tmp,
            &file,
            &[
                "--no-pdf-header-footer",
                &format!("--print-to-pdf={}", out.display()),
            ],
        );
        pdf_pages(&std::fs::read(&out).expect("PDF written"))
    };
    let full = pdf(&without_script(&page), "full");
    let bare = pdf(&without_script(&page).replace(rule, ""), "bare");
    assert!(
        bare >= 1 && full > bare,
        "printed pages: {full} with the drill-downs, {bare} without"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The report made from JSON Lines is the same page and the same DOM.
#[test]
fn report_from_jsonl_is_the_same_page() {
    let direct = html::render(&reports(), "same");
    let again = html::render(&reports_from_jsonl(), "same");
    assert!(direct == again, "the pages differ");
    if !browser_present() {
        return;
    }
    let tmp = temp_dir();
    let (a, b) = (tmp.join("direct.html"), tmp.join("jsonl.html"));
    std::fs::write(&a, &direct).unwrap();
    std::fs::write(&b, &again).unwrap();
    let (da, db) = (
        chromium(&tmp, &a, &["--dump-dom"]),
        chromium(&tmp, &b, &["--dump-dom"]),
    );
    assert!(da.len() > 10_000 && da == db, "the DOMs differ");
    let _ = std::fs::remove_dir_all(&tmp);
}
