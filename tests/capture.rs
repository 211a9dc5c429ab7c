//! Capture formats on real files: truncated pcap and pcapng, gzip, nanoseconds.

mod common;

use common::*;

fn finding<'a>(recs: &'a [serde_json::Value], code: &str) -> Option<&'a serde_json::Value> {
    recs.iter()
        .find(|r| r["type"] == "finding" && r["code"] == code)
}

#[test]
fn truncated_files_are_analysed_up_to_the_cut() {
    // samples/README.md: mqtt-truncated.pcap is the first 3106 bytes; record 35 starts at 3060.
    let (recs, out) = records(&samples().join("mqtt-truncated.pcap"));
    let cap = of_type(&recs, "capture")[0];
    assert_eq!(cap["complete"], false);
    assert_eq!(cap["packets"], 34);
    let f = finding(&recs, "capture_truncated").unwrap();
    assert!(f["message"].as_str().unwrap().contains("byte 3060"), "{f}");
    assert!(!out.error && out.problems > 0);
    // ws-mqtt-truncated.pcapng: cut inside the block of packet 23, which starts at byte 4572.
    let (recs, _) = records(&samples().join("ws-mqtt-truncated.pcapng"));
    let cap = of_type(&recs, "capture")[0];
    assert_eq!(
        (cap["complete"].clone(), cap["packets"].clone()),
        (false.into(), 22.into())
    );
    assert!(finding(&recs, "capture_truncated").unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("byte 4572"));
}

#[test]
fn gzip_reads_like_the_plain_file() {
    let strip = |mut v: Vec<serde_json::Value>| {
        for r in &mut v {
            r.as_object_mut().unwrap().remove("file");
        }
        v
    };
    let (a, _) = records(&samples().join("mqtt-tcp-basic.pcap"));
    let (b, _) = records(&samples().join("mqtt-gz.pcap.gz"));
    assert_eq!(strip(a), strip(b));
}

#[test]
fn nanosecond_timestamps_keep_their_precision() {
    let (recs, _) = records(&samples().join("mqtt-nsec.pcap"));
    let ts = of_type(&recs, "capture")[0]["first_ts"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ts.split('.').nth(1).unwrap().len(), 10, "{ts}"); // 9 digits + Z
    let (recs, _) = records(&samples().join("ws-mqtt.pcapng"));
    let ts = of_type(&recs, "capture")[0]["first_ts"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ts.split('.').nth(1).unwrap().len(), 10, "{ts}");
    let (recs, _) = records(&samples().join("mqtt-tcp-basic.pcap"));
    let ts = of_type(&recs, "capture")[0]["first_ts"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ts.split('.').nth(1).unwrap().len(), 7, "{ts}");
}

#[test]
fn every_public_capture_gives_records_or_a_clean_error() {
    let Some(dir) = public() else {
        return;
    };
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            continue;
        }
        let (recs, out) = records(&p);
        let caps = of_type(&recs, "capture").len();
        let errs = of_type(&recs, "error").len();
        assert!(
            caps == 1 || errs >= 1,
            "{}: {caps} capture records, {errs} errors",
            p.display()
        );
        if out.error {
            for e in of_type(&recs, "error") {
                assert!(!e["message"].as_str().unwrap().is_empty());
            }
        }
    }
}
