//! IPv4 fragment reassembly within bounded memory.

use crate::capture::Ts;
use foldhash::HashMap;
use std::net::IpAddr;

/// Limits of fragment reassembly.
#[derive(Clone, Debug)]
pub struct DefragLimits {
    /// Datagrams being reassembled at once; beyond it the oldest is dropped.
    pub max_datagrams: usize,
    /// Bytes held over all datagrams.
    pub max_bytes: usize,
    /// Fragments older than this (capture time) are dropped.
    pub timeout_secs: i64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 1024,
            max_bytes: 8 << 20,
            timeout_secs: 60,
        }
    }
}

struct Partial {
    data: Vec<u8>,
    /// Covered byte ranges, sorted, merged.
    have: Vec<(u32, u32)>,
    total: Option<u32>,
    first_us: i64,
}

/// Reassembles fragmented IPv4 datagrams.
#[derive(Default)]
pub struct Defrag {
    map: HashMap<(IpAddr, IpAddr, u32), Partial>,
    bytes: usize,
    pub dropped: u64,
}

const MAX_DATAGRAM: u32 = 65_535;

impl Defrag {
    /// Add a fragment; returns the whole payload when complete.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        lim: &DefragLimits,
        src: IpAddr,
        dst: IpAddr,
        id: u32,
        offset: u32,
        more: bool,
        payload: &[u8],
        ts: Ts,
    ) -> Option<Vec<u8>> {
        let now = ts.micros();
        let end = offset.checked_add(payload.len() as u32)?;
        if end > MAX_DATAGRAM {
            self.dropped += 1;
            return None;
        }
        self.expire(lim, now);
        let k = (src, dst, id);
        if !self.map.contains_key(&k) {
            if self.map.len() >= lim.max_datagrams {
                self.drop_oldest();
            }
            self.map.insert(
                k,
                Partial {
                    data: Vec::new(),
                    have: Vec::new(),
                    total: None,
                    first_us: now,
                },
            );
        }
        let grow = {
            let p = self.map.get(&k)?;
            (end as usize).saturating_sub(p.data.len())
        };
        while self.bytes + grow > lim.max_bytes && self.map.len() > 1 {
            if !self.drop_oldest_except(&k) {
                break;
            }
        }
        if self.bytes + grow > lim.max_bytes {
            self.dropped += 1;
            if let Some(p) = self.map.remove(&k) {
                self.bytes -= p.data.len();
            }
            return None;
        }
        let p = self.map.get_mut(&k)?;
        if grow > 0 {
            p.data.resize(end as usize, 0);
            self.bytes += grow;
        }
        // First copy wins for overlapping bytes, as for TCP.
        let mut pos = offset;
        for &(a, b) in p.have.iter() {
            if pos >= end {
                break;
            }
            if b <= pos {
                continue;
            }
            if a > pos {
                let stop = a.min(end);
                p.data[pos as usize..stop as usize]
                    .copy_from_slice(&payload[(pos - offset) as usize..(stop - offset) as usize]);
            }
            pos = pos.max(b);
        }
        if pos < end {
            p.data[pos as usize..end as usize].copy_from_slice(&payload[(pos - offset) as usize..]);
        }
        p.have.push((offset, end));
        p.have.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(p.have.len());
        for &(a, b) in &p.have {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        p.have = merged;
        if !more {
            p.total = Some(end);
        }
        let done = matches!((p.total, p.have.as_slice()), (Some(t), [(0, b)]) if *b >= t);
        if done {
            let p = self.map.remove(&k)?;
            self.bytes -= p.data.len();
            let mut data = p.data;
            data.truncate(p.total.unwrap_or(0) as usize);
            return Some(data);
        }
        None
    }

    fn expire(&mut self, lim: &DefragLimits, now: i64) {
        let limit = lim.timeout_secs.saturating_mul(1_000_000);
        let before = self.map.len();
        let mut freed = 0;
        self.map.retain(|_, p| {
            let keep = now.saturating_sub(p.first_us) <= limit;
            if !keep {
                freed += p.data.len();
            }
            keep
        });
        self.bytes -= freed;
        self.dropped += (before - self.map.len()) as u64;
    }

    fn drop_oldest(&mut self) -> bool {
        let Some(k) = self
            .map
            .iter()
            .min_by_key(|(_, p)| p.first_us)
            .map(|(k, _)| *k)
        else {
            return false;
        };
        if let Some(p) = self.map.remove(&k) {
            self.bytes -= p.data.len();
            self.dropped += 1;
        }
        true
    }

    fn drop_oldest_except(&mut self, keep: &(IpAddr, IpAddr, u32)) -> bool {
        let Some(k) = self
            .map
            .iter()
            .filter(|(k, _)| *k != keep)
            .min_by_key(|(_, p)| p.first_us)
            .map(|(k, _)| *k)
        else {
            return false;
        };
        if let Some(p) = self.map.remove(&k) {
            self.bytes -= p.data.len();
            self.dropped += 1;
        }
        true
    }

    /// Datagrams still incomplete.
    pub fn pending(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembles_in_any_order() {
        let data: Vec<u8> = (0..100u8).collect();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let lim = DefragLimits::default();
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut d = Defrag::default();
            let parts = [(0u32, 40usize), (40, 80), (80, 100)];
            let mut got = None;
            for &i in &order {
                let (s, e) = parts[i];
                let more = e != 100;
                got = got.or(d.add(&lim, a, a, 7, s, more, &data[s as usize..e], Ts::default()));
            }
            assert_eq!(got.as_deref(), Some(&data[..]));
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn memory_is_bounded() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let lim = DefragLimits {
            max_datagrams: 10,
            max_bytes: 10_000,
            timeout_secs: 60,
        };
        let mut d = Defrag::default();
        for id in 0..10_000u32 {
            d.add(&lim, a, a, id, 60_000, true, &[1; 1000], Ts::default());
            assert!(d.bytes <= 10_000 + 61_000);
            assert!(d.pending() <= 10);
        }
    }
}
