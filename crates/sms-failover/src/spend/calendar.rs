//! Wall time and Beijing calendar periods, for caps per day and per month.
//!
//! China keeps one time zone, UTC+8, without daylight saving: a Beijing day starts at 16:00 UTC of the
//! previous UTC day. Dates are computed from the Unix time with the civil-calendar arithmetic of
//! Howard Hinnant's `days_from_civil`, so no time-zone database is needed.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Tells the wall time to spend caps (whose periods are calendar days and months, not durations).
pub trait WallClock: Send + Sync + fmt::Debug {
    /// Seconds since the Unix epoch.
    fn unix_seconds(&self) -> u64;
}

/// The operating system's wall clock. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemWallClock;

impl WallClock for SystemWallClock {
    fn unix_seconds(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }
}

/// A wall clock that moves only when told to, for tests of day and month boundaries.
///
/// ```
/// use std::time::Duration;
/// use sms_failover::{ManualWallClock, WallClock};
/// let clock = ManualWallClock::at(1_800_000_000);
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(clock.unix_seconds(), 1_800_000_060);
/// ```
#[derive(Debug, Default)]
pub struct ManualWallClock {
    now: AtomicU64,
}

impl ManualWallClock {
    /// A clock standing still at `unix_seconds`.
    pub fn at(unix_seconds: u64) -> Self {
        Self {
            now: AtomicU64::new(unix_seconds),
        }
    }

    /// Moves the clock forward by `by` (whole seconds).
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(by.as_secs(), Ordering::Relaxed);
    }

    /// Sets the clock (it must not go backwards in a running chain).
    pub fn set(&self, unix_seconds: u64) {
        self.now.store(unix_seconds, Ordering::Relaxed);
    }
}

impl WallClock for ManualWallClock {
    fn unix_seconds(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }
}

/// Beijing's offset from UTC, in seconds.
const BEIJING_OFFSET: u64 = 8 * 60 * 60;
const DAY: u64 = 24 * 60 * 60;

/// A calendar period a cap counts over, in Beijing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapPeriod {
    /// From 00:00 to 24:00 Beijing time.
    Day,
    /// From the first of the month 00:00 Beijing time to the first of the next.
    Month,
}

impl CapPeriod {
    /// `"day"` or `"month"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    /// The period containing `unix_seconds`: its name (`2026-11-28` or `2026-11`) and when it ends
    /// (Unix seconds).
    ///
    /// ```
    /// use sms_failover::CapPeriod;
    /// // 2026-11-28 15:59:59 UTC is 23:59:59 in Beijing; one second later the next day starts.
    /// let t = 1_795_881_599;
    /// assert_eq!(CapPeriod::Day.at(t), ("2026-11-28".to_owned(), t + 1));
    /// assert_eq!(CapPeriod::Day.at(t + 1).0, "2026-11-29");
    /// assert_eq!(CapPeriod::Month.at(t).0, "2026-11");
    /// ```
    pub fn at(self, unix_seconds: u64) -> (String, u64) {
        let local_day = (unix_seconds + BEIJING_OFFSET) / DAY;
        let (year, month, day) = civil_from_days(local_day);
        match self {
            Self::Day => {
                let ends = (local_day + 1) * DAY - BEIJING_OFFSET;
                (format!("{year:04}-{month:02}-{day:02}"), ends)
            }
            Self::Month => {
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                let ends = days_from_civil(next_year, next_month, 1) * DAY - BEIJING_OFFSET;
                (format!("{year:04}-{month:02}"), ends)
            }
        }
    }
}

impl fmt::Display for CapPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Unix time as Beijing wall time, `2026-11-29 00:00`.
pub fn beijing_minute(unix_seconds: u64) -> String {
    let local = unix_seconds + BEIJING_OFFSET;
    let (year, month, day) = civil_from_days(local / DAY);
    let minutes = (local % DAY) / 60;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        minutes / 60,
        minutes % 60
    )
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The day count since 1970-01-01 of a date (from 1970 on).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip_over_centuries() {
        for days in (0..200_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2028, 2, 29)), (2028, 2, 29));
    }

    #[test]
    fn beijing_day_and_month_boundaries() {
        // 2026-12-31 16:00:00 UTC = 2027-01-01 00:00 Beijing.
        let new_year = days_from_civil(2027, 1, 1) * DAY - BEIJING_OFFSET;
        assert_eq!(
            CapPeriod::Day.at(new_year - 1),
            ("2026-12-31".to_owned(), new_year)
        );
        assert_eq!(
            CapPeriod::Month.at(new_year - 1),
            ("2026-12".to_owned(), new_year)
        );
        assert_eq!(CapPeriod::Day.at(new_year).0, "2027-01-01");
        let february_end = days_from_civil(2027, 3, 1) * DAY - BEIJING_OFFSET;
        assert_eq!(
            CapPeriod::Month.at(new_year),
            (
                "2027-01".to_owned(),
                days_from_civil(2027, 2, 1) * DAY - BEIJING_OFFSET
            )
        );
        assert_eq!(
            CapPeriod::Month.at(february_end - 1),
            ("2027-02".to_owned(), february_end)
        );
        assert_eq!(beijing_minute(new_year), "2027-01-01 00:00");
        assert_eq!(beijing_minute(new_year - 60), "2026-12-31 23:59");
    }
}
