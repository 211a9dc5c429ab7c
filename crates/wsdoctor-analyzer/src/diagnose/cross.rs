//! Facts across the connections of a capture, the rules that need them
//! (retries, client-id takeovers, repeated idle cuts, the two legs of a
//! proxied request, ports known to speak MQTT, TLS or clear text), and the
//! capture's verdict. Everything here is bounded: a hostile capture with a
//! million connections keeps a few thousand facts at most.

use super::{policy::policy, ConnDiag, Counts, Finding, Severity, Status, Verdict};
use crate::capture::{self, Ts};
use crate::event::{CaptureSummary, ConnSummary, Opening};
use crate::flow::{ConnMeta, Dir, Endpoint};
use crate::proto::handshake::{Outcome, UpgradeInfo};
use crate::proto::http::Request;
use crate::wire::{self, Skip};
use foldhash::{HashMap, HashSet};
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

/// Servers remembered per kind (MQTT, TLS, clear text).
const MAX_SERVERS: usize = 4096;
/// HTTP requests remembered to find the backend leg of a proxied request.
const MAX_REQUESTS: usize = 512;
/// How long after the device's request the proxy's backend request may come.
const LEG_WINDOW_SECS: f64 = 5.0;
/// Client/server pairs followed for `device_retry`.
const MAX_RETRY_PAIRS: usize = 4096;
/// Client ids followed for takeovers, and sessions per id.
const MAX_CLIENT_IDS: usize = 4096;
const MAX_SESSIONS_PER_ID: usize = 256;
/// A session ended this long after a newer CONNECT with its id was taken over.
const TAKEOVER_SECS: f64 = 2.0;
/// Findings waiting for the end of the capture.
const MAX_DEFERRED: usize = 1024;
/// Distinct finding groups tallied for the verdict.
const MAX_GROUPS: usize = 2048;
const MAX_IDLE_CUTS: usize = 4096;

/// What a deferred finding waits for.
pub(super) enum DeferKind {
    /// An Upgrade the server closed at once without an answer: a plain MQTT
    /// or a TLS listener, if the capture shows the port speaking one.
    Unanswered {
        server: Endpoint,
        to_mqtt: Box<Finding>,
        to_tls: Box<Finding>,
    },
    /// A 404: does another path work on this server?
    PathWorks { server: Endpoint, uri: String },
    /// A ClientHello closed at once: is the port known to speak clear text?
    IfPlain { server: Endpoint },
    /// A server-side close after silence: an idle cut, unless another
    /// connection took the session's client id over.
    IdleCut { stream: u64 },
}

/// An HTTP request seen, for the proxy-leg rule.
#[derive(Clone, Debug)]
pub(super) struct Leg {
    pub stream: u64,
    pub frame: u64,
    pub ts: f64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub method: String,
    pub uri: String,
    /// `HTTP/1.0` or `HTTP/1.1` (httparse reads no other version).
    pub version: &'static str,
    pub upgrade: Option<String>,
    pub connection: Option<String>,
}

impl Leg {
    pub fn headers_text(&self) -> String {
        let mut v = Vec::new();
        v.push(match &self.upgrade {
            Some(u) => format!("Upgrade: {u}"),
            None => "no Upgrade header".into(),
        });
        v.push(match &self.connection {
            Some(c) => format!("Connection: {c}"),
            None => "no Connection header".into(),
        });
        v.join(", ")
    }

    /// What the proxy changed: the facts that make the backend refuse.
    pub fn what_was_dropped(&self) -> String {
        let mut v = Vec::new();
        if self.upgrade.is_none() {
            v.push("the Upgrade header was removed");
        }
        if !self
            .connection
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().contains("upgrade"))
        {
            v.push("Connection: upgrade was not passed on");
        }
        if self.version == "HTTP/1.0" {
            v.push("the request was downgraded to HTTP/1.0");
        }
        if v.is_empty() {
            "the request was passed on unchanged".into()
        } else {
            v.join(", ")
        }
    }
}

#[derive(Default)]
struct Attempts {
    count: u64,
    first: Vec<(u64, u64)>,
    first_ts: Option<f64>,
    last_ts: Option<f64>,
}

/// One MQTT session of a client id.
#[derive(Clone, Debug)]
struct IdSession {
    stream: u64,
    client: Endpoint,
    server: Endpoint,
    connect: (u64, f64),
    /// The first close (frame, time, by the server, RST).
    end: Option<(u64, f64, bool, bool)>,
    /// DISCONNECT 0x8E from the broker (frame).
    taken_over: Option<u64>,
}

/// One server-side idle cut.
#[derive(Clone, Debug)]
struct IdleCut {
    stream: u64,
    server: Endpoint,
    quiet: f64,
    keep_alive: Option<u16>,
}

/// A finding group tallied for the verdict.
struct Group {
    code: &'static str,
    group: Option<String>,
    severity: Severity,
    rank: u8,
    order: usize,
    first: Finding,
    count: u64,
    streams: Vec<u64>,
    amount: u64,
}

#[derive(Default)]
pub(super) struct Cross {
    pub capture_end: Option<Ts>,
    counts: Counts,
    protocols: BTreeMap<&'static str, u64>,
    sni: Vec<String>,
    groups: Vec<Group>,
    groups_dropped: u64,
    retries: BTreeMap<(IpAddr, Endpoint), Attempts>,
    ids: HashMap<String, Vec<IdSession>>,
    mqtt_servers: HashSet<Endpoint>,
    tls_servers: HashSet<Endpoint>,
    plain_servers: HashSet<Endpoint>,
    requests: VecDeque<Leg>,
    accepted_paths: HashMap<Endpoint, Vec<(String, u64)>>,
    deferred: Vec<(DeferKind, Finding)>,
    /// Deferred findings decided early (the deferred list was full).
    resolved: Vec<Finding>,
    idle: Vec<IdleCut>,
}

fn remember(set: &mut HashSet<Endpoint>, e: Endpoint) {
    if set.len() < MAX_SERVERS {
        set.insert(e);
    }
}

impl Cross {
    pub fn tally(&mut self, f: &Finding) {
        if let Some(g) = self
            .groups
            .iter_mut()
            .find(|g| g.code == f.code && g.group == f.group && g.severity == f.severity)
        {
            g.count += 1;
            if let Some(s) = f.stream {
                if g.streams.len() < 50 && !g.streams.contains(&s) {
                    g.streams.push(s);
                }
            }
            g.amount = g.amount.saturating_add(f.amount.map_or(0, |a| a.0));
            return;
        }
        if self.groups.len() >= MAX_GROUPS {
            self.groups_dropped += 1;
            return;
        }
        let order = self.groups.len();
        self.groups.push(Group {
            code: f.code,
            group: f.group.clone(),
            severity: f.severity,
            rank: policy(f.code).rank,
            order,
            first: f.clone(),
            count: 1,
            streams: f.stream.into_iter().collect(),
            amount: f.amount.map_or(0, |a| a.0),
        });
    }

    pub fn request(&mut self, meta: &ConnMeta, frame: u64, ts: Ts, req: &Request) {
        if self.requests.len() >= MAX_REQUESTS {
            self.requests.pop_front();
        }
        self.requests.push_back(Leg {
            stream: meta.stream,
            frame,
            ts: ts.as_f64(),
            client: meta.client,
            server: meta.server,
            method: req.method.clone(),
            uri: req.uri.clone(),
            version: if req.minor_version == 0 {
                "HTTP/1.0"
            } else {
                "HTTP/1.1"
            },
            upgrade: req.headers.get("upgrade").map(str::to_string),
            connection: req.headers.get("connection").map(str::to_string),
        });
    }

    /// The request a proxy sent on behalf of `u`: same method and path,
    /// another connection, from the proxy's host (or towards another
    /// server), within a few seconds after the device's request.
    pub fn backend_leg(&self, meta: &ConnMeta, u: &UpgradeInfo) -> Option<Leg> {
        self.requests
            .iter()
            .filter(|l| {
                l.stream != meta.stream
                    && l.method == u.request.method
                    && l.uri == u.request.uri
                    && l.ts >= u.request_ts - 0.001
                    && l.ts <= u.request_ts + LEG_WINDOW_SECS
                    && l.server != meta.server
                    && (l.client.ip == meta.server.ip || l.server.ip != meta.server.ip)
            })
            .min_by(|a, b| a.ts.total_cmp(&b.ts))
            .cloned()
    }

    pub fn defer(&mut self, kind: DeferKind, fallback: Finding) {
        if self.deferred.len() < MAX_DEFERRED {
            self.deferred.push((kind, fallback));
        } else {
            self.resolved.push(fallback);
        }
    }

    pub fn deferred_for(&self, stream: u64) -> bool {
        self.deferred
            .iter()
            .any(|(_, f)| f.stream == Some(stream) && f.severity >= Severity::Warning)
    }

    pub fn carries_mqtt(&self, e: Endpoint) -> bool {
        self.mqtt_servers.contains(&e)
    }
    pub fn carries_tls(&self, e: Endpoint) -> bool {
        self.tls_servers.contains(&e)
    }
    pub fn carries_plain(&self, e: Endpoint) -> bool {
        self.plain_servers.contains(&e)
    }

    pub fn idle_cut(&mut self, meta: &ConnMeta, quiet: f64, keep_alive: Option<u16>) {
        if self.idle.len() < MAX_IDLE_CUTS {
            self.idle.push(IdleCut {
                stream: meta.stream,
                server: meta.server,
                quiet,
                keep_alive,
            });
        }
    }

    /// A connection ended: remember what later rules need.
    pub fn connection(&mut self, meta: &ConnMeta, d: &ConnDiag, s: &ConnSummary) {
        let c = &mut self.counts;
        c.tcp += 1;
        let proto = if s.protocol == "tls" && s.decrypted() {
            "tls (decrypted, no HTTP or MQTT inside)"
        } else {
            s.protocol
        };
        *self.protocols.entry(proto).or_default() += 1;
        let mqtt_seen = s.mqtt.as_ref().is_some_and(|m| {
            m.summary
                .counts_c2s
                .iter()
                .chain(&m.summary.counts_s2c)
                .any(|&n| n > 0)
        });
        match s.protocol {
            "websocket" => {
                c.websocket += 1;
                if mqtt_seen {
                    c.mqtt_websocket += 1;
                }
            }
            "mqtt" => c.mqtt_tcp += 1,
            "tls" if s.decrypted() => {}
            "tls" => {
                c.tls += 1;
                if let Some(n) = &s.sni {
                    if self.sni.len() < 8 && !self.sni.contains(n) {
                        self.sni.push(n.clone());
                    }
                }
            }
            "http" => c.http += 1,
            _ => {}
        }
        if s.decrypted() {
            c.tls_decrypted += 1;
        }
        let ws_tried = d.upgrades.iter().any(|u| u.websocket);
        let ws_ok = d
            .upgrades
            .iter()
            .any(|u| u.websocket && u.handshake.outcome == Outcome::Accepted);
        let m = s.mqtt.as_ref();
        let connect = m.and_then(|m| m.connect);
        if ws_tried || connect.is_some() {
            c.attempts += 1;
            let ok = match connect {
                Some(_) => m.is_some_and(|m| m.connack.is_some_and(|x| x.2 == 0)),
                None => ws_ok,
            };
            if ok {
                c.accepted += 1;
            }
        }
        // What the server port speaks.
        if matches!(s.opening[0], Opening::MqttConnect | Opening::Mqtt) && s.protocol == "mqtt" {
            remember(&mut self.mqtt_servers, meta.server);
        }
        if matches!(s.opening[1], Opening::TlsRecord { content_type: 22 }) {
            remember(&mut self.tls_servers, meta.server);
        }
        if s.opening[1] == Opening::HttpResponse || (s.protocol == "mqtt" && mqtt_seen) {
            remember(&mut self.plain_servers, meta.server);
        }
        for u in d.upgrades.iter().filter(|u| u.websocket) {
            if u.handshake.outcome == Outcome::Accepted {
                let paths = self.accepted_paths.entry(meta.server).or_default();
                if paths.len() < 8 && !paths.iter().any(|p| p.0 == u.request.uri) {
                    paths.push((u.request.uri.clone(), meta.stream));
                }
                continue;
            }
            let key = (meta.client.ip, meta.server);
            if self.retries.len() < MAX_RETRY_PAIRS || self.retries.contains_key(&key) {
                let a = self.retries.entry(key).or_default();
                a.count += 1;
                if a.first.len() < 20 {
                    a.first.push((meta.stream, u.request_frame));
                }
                a.first_ts.get_or_insert(u.request_ts);
                a.last_ts = Some(u.request_ts);
            }
        }
        if let (Some(id), Some((cf, cts))) = (super::conn::client_id(s), connect) {
            if self.ids.len() < MAX_CLIENT_IDS || self.ids.contains_key(id) {
                let v = self.ids.entry(id.to_string()).or_default();
                if v.len() < MAX_SESSIONS_PER_ID {
                    let end = meta
                        .first_close
                        .map(|c| (c.frame, c.ts.as_f64(), c.by == Dir::S2C, c.rst));
                    let taken_over = m
                        .and_then(|m| m.disconnect[1])
                        .filter(|x| x.2 == 0x8e)
                        .map(|x| x.0);
                    v.push(IdSession {
                        stream: meta.stream,
                        client: meta.client,
                        server: meta.server,
                        connect: (cf, cts.as_f64()),
                        end,
                        taken_over,
                    });
                }
            }
        }
    }

    /// Cross-connection findings, at the end of the capture.
    pub fn finish(&mut self, out: &mut Vec<Finding>) {
        out.append(&mut self.resolved);
        self.retry_findings(out);
        let taken = self.takeover_findings(out);
        self.idle.retain(|c| !taken.contains(&c.stream));
        let deferred = std::mem::take(&mut self.deferred);
        for (kind, fallback) in deferred {
            match kind {
                DeferKind::Unanswered {
                    server,
                    to_mqtt,
                    to_tls,
                } => out.push(if self.carries_mqtt(server) {
                    *to_mqtt
                } else if self.carries_tls(server) {
                    *to_tls
                } else {
                    fallback
                }),
                DeferKind::PathWorks { server, uri } => {
                    let mut f = fallback;
                    if let Some((w, st)) = self
                        .accepted_paths
                        .get(&server)
                        .and_then(|p| p.iter().find(|p| p.0 != uri))
                    {
                        f.message.push_str(&format!(
                            "; the capture shows WebSocket working on {w} on this server (tcp.stream {st})"
                        ));
                        f.hint = Some(format!(
                            "Nothing is served on {uri}, and the same server accepts WebSocket on {w}: set the device's WebSocket path to {w}."
                        ));
                    }
                    out.push(f);
                }
                DeferKind::IdleCut { stream } => {
                    if !taken.contains(&stream) {
                        out.push(fallback);
                    }
                }
                DeferKind::IfPlain { server } => {
                    let mut f = fallback;
                    if !self.carries_plain(server) {
                        f.code = "tls_handshake_incomplete";
                        f.severity = policy(f.code).severity;
                        f.message = f.message.replace("got no TLS answer", "got no answer");
                    }
                    out.push(f);
                }
            }
        }
    }

    fn retry_findings(&mut self, out: &mut Vec<Finding>) {
        for ((client, server), a) in std::mem::take(&mut self.retries) {
            if a.count < 3 {
                continue;
            }
            let (first, last) = (a.first_ts.unwrap_or(0.0), a.last_ts.unwrap_or(0.0));
            let every = (last - first) / (a.count - 1) as f64;
            let streams: Vec<String> = a.first.iter().map(|x| x.0.to_string()).collect();
            out.push(
                Finding::of(
                    "device_retry",
                    format!(
                        "{client} retried the WebSocket upgrade to {server} {} times, every ~{every:.1} s (tcp.stream {}{})",
                        a.count,
                        streams.join(", "),
                        if a.count as usize > a.first.len() { ", ..." } else { "" }
                    ),
                )
                .frames(a.first.iter().map(|x| x.1)),
            );
        }
    }

    /// Returns the streams whose session was taken over.
    fn takeover_findings(&mut self, out: &mut Vec<Finding>) -> HashSet<u64> {
        let mut all = HashSet::default();
        let mut ids: Vec<(String, Vec<IdSession>)> = std::mem::take(&mut self.ids)
            .into_iter()
            .filter(|(_, v)| v.len() >= 2)
            .collect();
        ids.sort_by(|a, b| a.1[0].stream.cmp(&b.1[0].stream));
        for (id, mut v) in ids {
            v.sort_by(|a, b| a.connect.1.total_cmp(&b.connect.1));
            let mut taken = Vec::new();
            for (i, a) in v.iter().enumerate() {
                let Some((ef, et, by_server, _)) = a.end else {
                    continue;
                };
                let newer = v.iter().skip(i + 1).find(|b| {
                    b.server == a.server
                        && b.connect.1 >= a.connect.1
                        && b.connect.1 <= et + 0.001
                        && et - b.connect.1 <= TAKEOVER_SECS
                });
                if let Some(b) = newer {
                    if by_server || a.taken_over.is_some() {
                        taken.push((a.stream, a.taken_over.unwrap_or(ef), b.stream, b.connect.0));
                    }
                }
            }
            if taken.is_empty() {
                continue;
            }
            all.extend(taken.iter().map(|t| t.0));
            let mut clients: Vec<String> = Vec::new();
            for s in &v {
                let c = s.client.ip.to_string();
                if !clients.contains(&c) && clients.len() < 8 {
                    clients.push(c);
                }
            }
            let said = v.iter().filter(|s| s.taken_over.is_some()).count();
            let span = v.last().map_or(0.0, |l| l.connect.1) - v[0].connect.1;
            let how = if said > 0 {
                format!("the broker sent DISCONNECT 0x8E (Session taken over) {said} time(s)")
            } else {
                "the broker closed the older connection each time, without saying why".to_string()
            };
            let streams: Vec<String> = taken.iter().map(|t| t.0.to_string()).collect();
            let mut frames: Vec<u64> = taken.iter().flat_map(|t| [t.3, t.1]).collect();
            frames.truncate(24);
            out.push(
                Finding::of(
                    "mqtt_client_id_takeover",
                    format!(
                        "client id \"{id}\" was used by {} connections from {} to {} in {span:.1} s; {} time(s) a new CONNECT ended the older session (taken over: tcp.stream {}); {how}",
                        v.len(),
                        clients.join(", "),
                        v[0].server,
                        taken.len(),
                        streams.join(", "),
                    ),
                )
                .frames(frames)
                .group(id.clone())
                .amount(taken.len() as u64, "takeover(s)"),
            );
        }
        all
    }

    /// The capture's verdict from everything found.
    pub fn verdict(&self, summary: &CaptureSummary, error: Option<&str>) -> Verdict {
        let counts = self.counts.clone();
        if let Some(m) = error {
            if summary.packets == 0 {
                return Verdict {
                    status: Status::Unreadable,
                    code: None,
                    cause: format!("could not analyse: {m}"),
                    connections: 0,
                    counts,
                };
            }
        }
        let top = self.groups.iter().max_by(|a, b| {
            (
                a.severity,
                std::cmp::Reverse(a.rank),
                std::cmp::Reverse(a.order),
            )
                .cmp(&(
                    b.severity,
                    std::cmp::Reverse(b.rank),
                    std::cmp::Reverse(b.order),
                ))
        });
        if let Some(g) = top.filter(|g| g.severity >= Severity::Warning) {
            // All groups of the top code count for the headline.
            let same: Vec<&Group> = self
                .groups
                .iter()
                .filter(|x| x.code == g.code && x.severity == g.severity)
                .collect();
            let n: u64 = same.iter().map(|x| x.streams.len().max(1) as u64).sum();
            return Verdict {
                status: if g.severity == Severity::Error {
                    Status::Error
                } else {
                    Status::Warning
                },
                code: Some(g.code),
                cause: self.headline(g, &same, n),
                connections: n,
                counts,
            };
        }
        let inconclusive = |cause: String| Verdict {
            status: Status::Inconclusive,
            code: None,
            cause,
            connections: 0,
            counts: counts.clone(),
        };
        if let Some(g) = self
            .groups
            .iter()
            .find(|g| g.code == "capture_ended_before_answer")
        {
            let ok = if counts.accepted > 0 {
                format!("{} session(s) accepted, but ", counts.accepted)
            } else {
                String::new()
            };
            return Verdict {
                code: Some(g.code),
                ..inconclusive(format!("{ok}{}", g.first.message))
            };
        }
        if counts.tcp == 0 {
            if let Some(g) = self.groups.iter().find(|g| g.code == "capture_no_tcp") {
                return Verdict {
                    code: Some(g.code),
                    ..inconclusive(g.first.message.clone())
                };
            }
            return inconclusive(
                "no TCP connections in this capture: nothing that could carry HTTP, WebSocket or MQTT".into(),
            );
        }
        let device = counts.websocket + counts.mqtt_tcp + counts.attempts;
        if device == 0 {
            if counts.tls > 0 {
                let sni = if self.sni.is_empty() {
                    String::new()
                } else {
                    format!(" (SNI {})", self.sni.join(", "))
                };
                return Verdict {
                    code: Some("tls_encrypted"),
                    ..inconclusive(format!(
                        "{} TLS connection(s){sni}: encrypted, the MQTT or WebSocket inside cannot be seen; a capture with a TLS key log (--tls-keylog) would decide",
                        counts.tls
                    ))
                };
            }
            let what: Vec<String> = self
                .protocols
                .iter()
                .map(|(p, n)| format!("{p} {n}"))
                .collect();
            return inconclusive(format!(
                "no MQTT or WebSocket traffic in this capture ({} TCP connection(s): {}); capture on the interface and port the device uses",
                counts.tcp,
                what.join(", ")
            ));
        }
        let mut parts = Vec::new();
        if counts.mqtt_websocket > 0 {
            parts.push(format!(
                "{} MQTT-over-WebSocket session(s)",
                counts.mqtt_websocket
            ));
        } else if counts.websocket > 0 {
            parts.push(format!("{} WebSocket connection(s)", counts.websocket));
        }
        if counts.mqtt_tcp > 0 {
            parts.push(format!("{} MQTT session(s)", counts.mqtt_tcp));
        }
        if parts.is_empty() {
            parts.push(format!("{} TCP connection(s)", counts.tcp));
        }
        let mut cause = format!("{}, no problems found", parts.join(" and "));
        if counts.tls > 0 {
            cause.push_str(&format!(
                " ({} encrypted TLS connection(s) not decoded)",
                counts.tls
            ));
        }
        Verdict {
            status: Status::Ok,
            code: None,
            cause,
            connections: 0,
            counts,
        }
    }

    fn headline(&self, g: &Group, same: &[&Group], n: u64) -> String {
        let more = if n > 1 {
            format!(" ({n} connections)")
        } else {
            String::new()
        };
        match g.code {
            "ws_upgrade_rejected_pre_iis8" => format!(
                "WebSocket upgrade refused by {}: this server cannot speak WebSocket, so the device's MQTT-over-WebSocket connection can never start{more}",
                g.group.as_deref().unwrap_or("an IIS older than 8.0")
            ),
            "conn_idle_timeout" => {
                let cuts: Vec<&IdleCut> = self.idle.iter().collect();
                let t: Vec<f64> = cuts.iter().map(|c| c.quiet).collect();
                let (lo, hi) = t.iter().fold((f64::MAX, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
                let ka = cuts.iter().find_map(|c| c.keep_alive);
                let around = if cuts.len() > 1 && hi - lo <= (lo * 0.1).max(1.0) {
                    format!("about {:.0} s", (lo + hi) / 2.0)
                } else {
                    format!("{lo:.0}-{hi:.0} s")
                };
                let server = cuts.first().map(|c| c.server.to_string()).unwrap_or_default();
                let streams: Vec<String> = cuts.iter().take(20).map(|c| c.stream.to_string()).collect();
                format!(
                    "idle sessions are cut after {around} by the server side ({server}: a proxy or load balancer idle timeout){}: {} session(s) ended without WebSocket Close or MQTT DISCONNECT (tcp.stream {})",
                    ka.map(|k| format!(", sooner than the device's MQTT keep-alive of {k} s")).unwrap_or_default(),
                    cuts.len(),
                    streams.join(", ")
                )
            }
            "mqtt_client_id_takeover" => g.first.message.clone(),
            _ => {
                let total: u64 = same.iter().map(|x| x.amount).sum();
                match g.first.amount {
                    Some((_, unit)) if n > 1 => format!(
                        "{} ({total} {unit} in all, {n} connections)",
                        g.first.message
                    ),
                    _ => format!("{}{more}", g.first.message),
                }
            }
        }
    }
}

/// What the capture reader and the wire decoder could not use.
#[derive(Clone, Debug, Default)]
pub struct DecodeIssues {
    /// Packets that were not TCP segments, by kind, most first: (kind,
    /// count, first frame).
    pub skipped: Vec<(Skip, u64, u64)>,
    /// Malformed packets by what was wrong: (what, count, first frame).
    pub malformed: Vec<(&'static str, u64, u64)>,
    pub fragments_dropped: u64,
    /// Oddities the reader went on from: (byte offset, message).
    pub warnings: Vec<(u64, String)>,
    /// The file ends inside a record at this byte offset.
    pub truncated_at: Option<u64>,
    /// The file could not be read to its end.
    pub incomplete: bool,
}

/// Findings about the capture file itself.
pub(super) fn decode_findings(d: &DecodeIssues, summary: &CaptureSummary, out: &mut Vec<Finding>) {
    undecoded_findings(d, summary, out);
    for (what, n, first) in &d.malformed {
        out.push(
            Finding::of(
                "capture_malformed_packet",
                format!("{n} packet(s) skipped: {what} (first: frame {first})"),
            )
            .frames([*first]),
        );
    }
    if d.fragments_dropped > 0 {
        out.push(Finding::of(
            "ip_fragments_dropped",
            format!(
                "{} fragmented IP datagram(s) could not be reassembled (incomplete, expired or over the limit)",
                d.fragments_dropped
            ),
        ));
    }
    for (off, m) in &d.warnings {
        out.push(Finding::of(
            "capture_warning",
            format!("at byte {off}: {m}"),
        ));
    }
    if let Some(off) = d.truncated_at {
        out.push(Finding::of(
            "capture_truncated",
            format!(
                "the file ends inside a record at byte {off}; the {} complete packet(s) before it were analysed",
                summary.packets
            ),
        ));
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::with_capacity(d.len() + d.len() / 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Kinds listed by name in a finding message (the rest are counted).
const KINDS_LISTED: usize = 6;

/// "N of M packets are X" for one kind, "N of M packets were not decoded:
/// a X, b Y" for several; kinds by count, most first.
fn kinds_message(kinds: &[(String, u64)], total: u64, verb: &str) -> String {
    let sum: u64 = kinds.iter().map(|k| k.1).sum();
    let mut list: Vec<String> = kinds
        .iter()
        .take(KINDS_LISTED)
        .map(|(w, n)| format!("{} {w}", thousands(*n)))
        .collect();
    if kinds.len() > KINDS_LISTED {
        let rest: u64 = kinds.iter().skip(KINDS_LISTED).map(|k| k.1).sum();
        list.push(format!(
            "{} in {} more kinds",
            thousands(rest),
            kinds.len() - KINDS_LISTED
        ));
    }
    match kinds {
        [(what, n)] => format!(
            "{} of {} packets are {what}: {verb}",
            thousands(*n),
            thousands(total)
        ),
        _ => format!(
            "{} of {} packets were {verb}: {}",
            thousands(sum),
            thousands(total),
            list.join(", ")
        ),
    }
}

/// Findings about what was not decoded: unsupported link types (one per
/// type), other encapsulations that may carry TCP (one finding with counts
/// by kind), and a capture without any TCP at all.
fn undecoded_findings(d: &DecodeIssues, summary: &CaptureSummary, out: &mut Vec<Finding>) {
    let packets = summary.packets;
    let counts = summary.counts;
    let incomplete = d.incomplete;
    let by_count: Vec<(&Skip, u64, u64)> = d.skipped.iter().map(|(k, n, f)| (k, *n, *f)).collect();
    let decoded_linktypes = || {
        let names: Vec<String> = wire::DECODED_LINKTYPES
            .iter()
            .map(|l| capture::Linktype(*l).to_string())
            .collect();
        names.join(", ")
    };
    for (k, n, first) in &by_count {
        if let Skip::LinkType { .. } = k {
            out.push(
                Finding::new(
                    "capture_unsupported_linktype",
                    Severity::Warning,
                    format!(
                        "{} (first: frame {first})",
                        kinds_message(&[(k.to_string(), *n)], packets, "not decoded")
                    ),
                )
                .frames([*first])
                .hint(format!("wsdoctor decodes these link types: {}. Convert the capture (Wireshark can export the packets as Ethernet or raw IP with 'editcap -T'), or capture on an interface with one of them.", decoded_linktypes())),
            );
        }
    }
    let undecoded: Vec<&(&Skip, u64, u64)> = by_count
        .iter()
        .filter(|(k, _, _)| k.could_carry_tcp() && !matches!(k, Skip::LinkType { .. }))
        .collect();
    if !undecoded.is_empty() {
        let kinds: Vec<(String, u64)> = undecoded
            .iter()
            .map(|(k, n, _)| (k.to_string(), *n))
            .collect();
        let mut hint = String::from("These packets may carry the connection you are looking for, but wsdoctor does not decode what they are. Decoded: Ethernet, VLAN, Linux cooked, loopback, raw IP, PPP, 802.11 (radiotap, PPI), NFLOG; IP-in-IP, 6in4, 4in6, 6in6, GRE, ERSPAN I/II/III, GRE-bridged Ethernet, EtherIP, MPLS, PPPoE, VXLAN, GTP-U. Open the frames named here in Wireshark, or capture before the encapsulation (on the server or the device itself).");
        if undecoded.iter().any(|(k, _, _)| k.encrypted()) {
            hint.push_str(" Encrypted layers (IPsec ESP, MACsec, WPA, MPPE, VPNs) can only be read with their keys: capture inside the tunnel or on an endpoint instead.");
        }
        if undecoded
            .iter()
            .any(|(k, _, _)| matches!(k, Skip::DepthLimit))
        {
            hint.push_str(&format!(" Tunnels nested more than {} levels deep (wire::MAX_TUNNEL_DEPTH) are not followed.", wire::MAX_TUNNEL_DEPTH));
        }
        out.push(
            Finding::new(
                "capture_not_decoded",
                Severity::Warning,
                kinds_message(&kinds, packets, "not decoded"),
            )
            .frames(undecoded.iter().map(|(_, _, f)| *f).take(10))
            .hint(hint),
        );
    }
    let any_undecoded = by_count.iter().any(|(k, _, _)| k.could_carry_tcp());
    if counts.tcp == 0 && !any_undecoded {
        let mut kinds: Vec<(String, u64)> = by_count
            .iter()
            .map(|(k, n, _)| (k.to_string(), *n))
            .collect();
        let bad: u64 = d.malformed.iter().map(|v| v.1).sum();
        if bad > 0 {
            kinds.push(("malformed".into(), bad));
        }
        if counts.fragments > 0 {
            kinds.push((
                "IP fragments never reassembled into TCP".into(),
                counts.fragments,
            ));
        }
        if packets == 0 && incomplete {
            return; // the truncation or the error says it all
        }
        let list = |k: &[(String, u64)]| {
            k.iter()
                .map(|(w, n)| format!("{} {w}", thousands(*n)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let message = match kinds.as_slice() {
            [] => "the capture holds no packets: nothing to analyse".to_string(),
            [(what, _)] if packets == 1 => {
                format!("no TCP in this capture, nothing to analyse: its one packet is {what}")
            }
            [(what, _)] => format!(
                "no TCP in this capture, nothing to analyse: all {} packets are {what}",
                thousands(packets)
            ),
            _ => format!(
                "no TCP in this capture, nothing to analyse: {} packets, none of them TCP: {}",
                thousands(packets),
                list(&kinds)
            ),
        };
        out.push(
            Finding::new("capture_no_tcp", Severity::Info, message)
                .hint("wsdoctor analyses TCP connections (HTTP, WebSocket, MQTT, TLS). Capture on the interface and ports the device uses, e.g. tcpdump -i any -w device.pcap 'tcp port 80 or tcp port 443 or tcp port 1883 or tcp port 8883'."),
        );
    }
}
