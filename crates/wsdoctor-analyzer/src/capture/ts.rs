//! Capture timestamps: seconds + nanoseconds, with the number of fractional
//! digits the capture actually carries (6 for microsecond pcap, 9 for nanosecond).

use std::fmt;

/// A point in capture time (UTC), with the precision of its source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ts {
    pub secs: i64,
    pub nanos: u32,
    /// Fractional digits to print (0..=9).
    pub digits: u8,
}

impl Ts {
    pub fn new(secs: i64, nanos: u32, digits: u8) -> Ts {
        Ts {
            secs,
            nanos: nanos.min(999_999_999),
            digits: digits.min(9),
        }
    }

    /// Build from a count of `units` where one second is `per_sec` units.
    pub fn from_units(units: u64, per_sec: u64, offset_secs: i64, digits: u8) -> Ts {
        let per_sec = per_sec.max(1);
        Ts::from_parts(
            units / per_sec,
            units % per_sec,
            per_sec,
            offset_secs,
            digits,
        )
    }

    /// Build from whole seconds and `frac` units of a second that has
    /// `per_sec` units (`frac < per_sec`). Resolutions that divide a
    /// nanosecond evenly (micro- and nanoseconds, the common ones) take a
    /// multiplication, the others a 128-bit division.
    pub fn from_parts(secs: u64, frac: u64, per_sec: u64, offset_secs: i64, digits: u8) -> Ts {
        let per_sec = per_sec.max(1);
        let frac = frac.min(per_sec - 1);
        let nanos = if 1_000_000_000 % per_sec == 0 {
            (frac * (1_000_000_000 / per_sec)) as u32
        } else {
            ((frac as u128) * 1_000_000_000u128 / per_sec as u128) as u32
        };
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        Ts::new(secs.saturating_add(offset_secs), nanos, digits)
    }

    /// A timestamp `us` microseconds after the epoch (tests, fuzzing).
    pub fn from_micros(us: i64) -> Ts {
        Ts::new(
            us.div_euclid(1_000_000),
            (us.rem_euclid(1_000_000) * 1000) as u32,
            6,
        )
    }

    /// Microseconds since the epoch (saturating), for time arithmetic.
    pub fn micros(&self) -> i64 {
        self.secs
            .saturating_mul(1_000_000)
            .saturating_add((self.nanos / 1000) as i64)
    }

    /// Seconds as f64 (for durations in reports).
    pub fn as_f64(&self) -> f64 {
        self.secs as f64 + self.nanos as f64 / 1e9
    }
}

/// Civil date from days since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Ts {
    /// RFC 3339 UTC, e.g. `2026-11-25T16:53:01.123456Z`, into a stack
    /// buffer (at most 30 bytes): timestamps are written for every record,
    /// and `core::fmt` padding cost more than the rest of a JSON line.
    pub fn rfc3339(&self) -> ([u8; 32], usize) {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400) as u32;
        let (y, mo, d) = civil_from_days(days);
        // Years outside 0..=9999 cannot be written in RFC 3339; clamp.
        let y = y.clamp(0, 9999) as u32;
        let mut b = [0u8; 32];
        let digit = |v: u32| b'0' + (v % 10) as u8;
        b[0] = digit(y / 1000);
        b[1] = digit(y / 100);
        b[2] = digit(y / 10);
        b[3] = digit(y);
        b[4] = b'-';
        b[5] = digit(mo / 10);
        b[6] = digit(mo);
        b[7] = b'-';
        b[8] = digit(d / 10);
        b[9] = digit(d);
        b[10] = b'T';
        let (h, mi, se) = (sod / 3600, (sod / 60) % 60, sod % 60);
        b[11] = digit(h / 10);
        b[12] = digit(h);
        b[13] = b':';
        b[14] = digit(mi / 10);
        b[15] = digit(mi);
        b[16] = b':';
        b[17] = digit(se / 10);
        b[18] = digit(se);
        let mut n = 19;
        if self.digits > 0 {
            b[n] = b'.';
            n += 1;
            let digits = usize::from(self.digits.min(9));
            let mut frac = self.nanos.min(999_999_999) / 10u32.pow(9 - digits as u32);
            for i in (0..digits).rev() {
                b[n + i] = digit(frac);
                frac /= 10;
            }
            n += digits;
        }
        b[n] = b'Z';
        (b, n + 1)
    }
}

impl fmt::Display for Ts {
    /// RFC 3339 UTC, e.g. `2026-11-25T16:53:01.123456Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, n) = self.rfc3339();
        // Only ASCII digits and separators were written.
        f.write_str(std::str::from_utf8(&b[..n]).unwrap_or("?"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(Ts::new(0, 0, 6).to_string(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            Ts::new(1_764_089_581, 123_456_789, 9).to_string(),
            "2025-11-25T16:53:01.123456789Z"
        );
        assert_eq!(
            Ts::new(1_764_089_581, 123_456_000, 6).to_string(),
            "2025-11-25T16:53:01.123456Z"
        );
        assert_eq!(
            Ts::new(951_782_400, 0, 0).to_string(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(Ts::new(-1, 0, 0).to_string(), "1969-12-31T23:59:59Z");
        // 2106 overflow capture: u32 seconds max
        assert_eq!(
            Ts::new(u32::MAX as i64, 0, 0).to_string(),
            "2106-02-07T06:28:15Z"
        );
        // Every precision, and years RFC 3339 cannot write (clamped).
        assert_eq!(
            Ts::new(0, 5_000_000, 3).to_string(),
            "1970-01-01T00:00:00.005Z"
        );
        assert_eq!(
            Ts::new(0, 999_999_999, 1).to_string(),
            "1970-01-01T00:00:00.9Z"
        );
        assert_eq!(Ts::new(i64::MAX, 999_999_999, 9).to_string().len(), 30);
        assert!(Ts::new(i64::MIN, 0, 0).to_string().starts_with("0000-"));
        assert!(Ts::new(i64::MAX, 0, 0).to_string().starts_with("9999-"));
    }

    #[test]
    fn parts_agree_with_the_wide_division() {
        for per_sec in [
            1u64,
            10,
            1_000,
            1_024,
            1_000_000,
            3_000_000,
            1_000_000_000,
            1 << 40,
        ] {
            for frac in [
                0u64,
                1,
                per_sec / 3,
                per_sec / 2,
                per_sec - 1,
                per_sec,
                u64::MAX,
            ] {
                let t = Ts::from_parts(7, frac, per_sec, -2, 9);
                let f = frac.min(per_sec - 1);
                let wide = (f as u128 * 1_000_000_000 / per_sec as u128) as u32;
                assert_eq!((t.secs, t.nanos), (5, wide), "{per_sec} {frac}");
            }
        }
        assert_eq!(Ts::from_parts(u64::MAX, 0, 1, 0, 0).secs, i64::MAX);
    }

    #[test]
    fn units_conversion() {
        let t = Ts::from_units(1_500, 1_000, 0, 3);
        assert_eq!((t.secs, t.nanos), (1, 500_000_000));
        // power-of-two resolution 2^-10
        let t = Ts::from_units(1024 + 512, 1024, 0, 9);
        assert_eq!((t.secs, t.nanos), (1, 500_000_000));
        let t = Ts::from_units(u64::MAX, 1, 0, 0);
        assert_eq!(t.secs, i64::MAX);
        let _ = t.to_string(); // far future still formats
    }
}
