//! Wall-clock helpers: Unix seconds and Beijing-time (UTC+8) calendar formatting.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BEIJING_OFFSET_SECS: i64 = 8 * 3600;

/// Seconds since the Unix epoch (negative before it).
pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Milliseconds since the Unix epoch (negative before it).
pub(crate) fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `ms` milliseconds after (or before) the epoch.
pub(crate) fn from_unix_millis(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 { UNIX_EPOCH + d } else { UNIX_EPOCH - d }
}

/// Days since the epoch of the Beijing calendar day of `t` (the providers' daily limits reset at
/// Beijing midnight).
pub(crate) fn beijing_day(t: SystemTime) -> i64 {
    (unix_secs(t) + BEIJING_OFFSET_SECS).div_euclid(86_400)
}

/// Beijing calendar fields: (year, month, day, hour, minute, second).
fn beijing_fields(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = unix_secs(t) + BEIJING_OFFSET_SECS;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let h = u32::try_from(rem / 3600).unwrap_or(0);
    let min = u32::try_from(rem % 3600 / 60).unwrap_or(0);
    let s = u32::try_from(rem % 60).unwrap_or(0);
    (y, m, d, h, min, s)
}

/// `YYYY-MM-DD HH:MM:SS` in Beijing time (ihuyi `report_time`).
pub(crate) fn format_dashed(t: SystemTime) -> String {
    let (y, m, d, h, min, s) = beijing_fields(t);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}")
}

/// `YYYYMMDDHHMM` in Beijing time (Juxiang `time`).
pub(crate) fn format_compact(t: SystemTime) -> String {
    let (y, m, d, h, min, _) = beijing_fields(t);
    format!("{y:04}{m:02}{d:02}{h:02}{min:02}")
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian date of a day count.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1))
}

/// The two layouts the providers use for scheduled times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeLayout {
    /// `YYYY-MM-DD HH:MM:SS` (10658 MMS).
    Dashed,
    /// `YYYYMMDDHHMM` (Juxiang).
    CompactMinutes,
}

/// Whether `s` is a plausible calendar time in exactly `layout` (separators where the layout has
/// them, digits everywhere else; month 1-12, day 1-31, hour < 24, minute and second < 60). Exact, so
/// that a client sending the other provider's layout is caught.
pub(crate) fn is_calendar_time(s: &str, layout: TimeLayout) -> bool {
    let pattern: &[u8] = match layout {
        TimeLayout::Dashed => b"dddd-dd-dd dd:dd:dd",
        TimeLayout::CompactMinutes => b"dddddddddddd",
    };
    let bytes = s.as_bytes();
    let shaped = bytes.len() == pattern.len()
        && bytes
            .iter()
            .zip(pattern)
            .all(|(b, p)| if *p == b'd' { b.is_ascii_digit() } else { b == p });
    if !shaped {
        return false;
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let field = |range: std::ops::Range<usize>| digits.get(range).and_then(|f| f.parse::<u32>().ok());
    let second_ok = layout == TimeLayout::CompactMinutes || matches!(field(12..14), Some(0..=59));
    second_ok
        && matches!(
            (field(4..6), field(6..8), field(8..10), field(10..12)),
            (Some(1..=12), Some(1..=31), Some(0..=23), Some(0..=59))
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_formatting_of_known_instants() {
        assert_eq!(format_dashed(UNIX_EPOCH), "1970-01-01 08:00:00");
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(format_dashed(t), "2023-11-15 06:13:20");
        // 2024-02-29 12:00:00 UTC, a leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_208_000);
        assert_eq!(format_compact(leap), "202402292000");
        // 16:00 UTC is already the next Beijing day.
        assert_eq!(beijing_day(UNIX_EPOCH + Duration::from_secs(16 * 3600)), 1);
        assert_eq!(unix_millis(from_unix_millis(-1_500)), -1_500);
    }

    #[test]
    fn calendar_times() {
        use TimeLayout::{CompactMinutes, Dashed};
        assert!(is_calendar_time("2030-01-02 03:04:05", Dashed));
        assert!(is_calendar_time("203001020304", CompactMinutes));
        assert!(!is_calendar_time("2030-13-02 03:04:05", Dashed));
        assert!(!is_calendar_time("2030-01-02 03:04:60", Dashed));
        assert!(!is_calendar_time("20300102030", CompactMinutes));
        assert!(!is_calendar_time("tomorrow", CompactMinutes));
        // Each provider's layout only: the other one's is not accepted.
        assert!(!is_calendar_time("20300102030405", Dashed));
        assert!(!is_calendar_time("2030-01-02 0304", CompactMinutes));
        assert!(!is_calendar_time("2030-01-02 03:04", Dashed));
    }
}
