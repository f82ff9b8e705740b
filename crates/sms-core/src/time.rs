//! Wall-clock times as the providers write them: civil date and time in China Standard Time (UTC+8).
//!
//! The providers take and return local Beijing times in several textual forms (`2026-11-22 08:30:00`,
//! `202611220830`). Keeping one small type for them avoids a date-time dependency and keeps the UTC+8
//! conversion in one place.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Offset of China Standard Time from UTC, in seconds.
const CST_OFFSET_SECONDS: i64 = 8 * 3600;

/// A date and time in China Standard Time (UTC+8), to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BeijingTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

/// A date-time text that is not a valid time in the expected form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeParseError {
    input: String,
    expected: &'static str,
}

impl fmt::Display for TimeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid time {:?}: expected {}", self.input, self.expected)
    }
}

impl std::error::Error for TimeParseError {}

impl BeijingTime {
    /// Builds a time from its fields, checking that the date exists.
    ///
    /// # Errors
    /// [`TimeParseError`] for an impossible date or time (month 13, 30 February, hour 24, …).
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, TimeParseError> {
        let valid = (1970..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        if valid {
            Ok(Self {
                year,
                month,
                day,
                hour,
                minute,
                second,
            })
        } else {
            Err(TimeParseError {
                input: format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"),
                expected: "a real calendar date and time",
            })
        }
    }

    /// The current time.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Converts a system time (times before 1970 clamp to the epoch).
    pub fn from_system_time(time: SystemTime) -> Self {
        let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self::from_unix_seconds(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    /// Converts Unix seconds (UTC) to Beijing time. Out-of-range values clamp to 1970 or 9999.
    pub fn from_unix_seconds(unix: i64) -> Self {
        const MAX: i64 = 253_402_271_999 - CST_OFFSET_SECONDS; // 9999-12-31 23:59:59 +08:00
        let local = unix.clamp(0, MAX) + CST_OFFSET_SECONDS;
        let days = local.div_euclid(86_400);
        let rem = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// Unix seconds (UTC) of this time.
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
            - CST_OFFSET_SECONDS
    }

    /// This time as a [`SystemTime`].
    pub fn to_system_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(self.unix_seconds()).unwrap_or(0))
    }

    /// Parses `YYYY-MM-DD HH:MM:SS` (also accepting `T` or `/` separators and a missing seconds field).
    ///
    /// # Errors
    /// [`TimeParseError`] when the text is not such a time.
    pub fn parse_dashed(input: &str) -> Result<Self, TimeParseError> {
        let fail = || TimeParseError {
            input: input.to_owned(),
            expected: "YYYY-MM-DD HH:MM[:SS]",
        };
        let digits: Vec<u32> = input
            .trim()
            .split(['-', '/', ' ', 'T', ':'])
            .filter(|part| !part.is_empty())
            .map(|part| {
                if part.len() <= 4 && part.bytes().all(|b| b.is_ascii_digit()) {
                    part.parse::<u32>().map_err(|_| fail())
                } else {
                    Err(fail())
                }
            })
            .collect::<Result<_, _>>()?;
        let [year, month, day, hour, minute, rest @ ..] = digits.as_slice() else {
            return Err(fail());
        };
        let second = match rest {
            [] => 0,
            [s] => *s,
            _ => return Err(fail()),
        };
        let narrow = |v: u32| u8::try_from(v).map_err(|_| fail());
        Self::new(
            u16::try_from(*year).map_err(|_| fail())?,
            narrow(*month)?,
            narrow(*day)?,
            narrow(*hour)?,
            narrow(*minute)?,
            narrow(second)?,
        )
        .map_err(|_| fail())
    }

    /// Parses the compact `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS` form.
    ///
    /// # Errors
    /// [`TimeParseError`] when the text is not such a time.
    pub fn parse_compact(input: &str) -> Result<Self, TimeParseError> {
        let fail = || TimeParseError {
            input: input.to_owned(),
            expected: "YYYYMMDDHHMM[SS]",
        };
        let text = input.trim();
        if !(text.len() == 12 || text.len() == 14) || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail());
        }
        let field = |range: std::ops::Range<usize>| text[range].parse::<u16>().map_err(|_| fail());
        let small = |range| field(range).and_then(|v| u8::try_from(v).map_err(|_| fail()));
        let second = if text.len() == 14 { small(12..14)? } else { 0 };
        Self::new(
            field(0..4)?,
            small(4..6)?,
            small(6..8)?,
            small(8..10)?,
            small(10..12)?,
            second,
        )
        .map_err(|_| fail())
    }

    /// Parses any form a provider is known to use: dashed, compact, or 10-digit Unix seconds.
    ///
    /// # Errors
    /// [`TimeParseError`] when none of the forms match.
    pub fn parse_any(input: &str) -> Result<Self, TimeParseError> {
        let text = input.trim();
        if text.len() == 10
            && text.bytes().all(|b| b.is_ascii_digit())
            && let Ok(secs) = text.parse::<i64>()
        {
            return Ok(Self::from_unix_seconds(secs));
        }
        Self::parse_compact(text)
            .or_else(|_| Self::parse_dashed(text))
            .map_err(|_| TimeParseError {
                input: input.to_owned(),
                expected: "YYYY-MM-DD HH:MM:SS, YYYYMMDDHHMM[SS] or Unix seconds",
            })
    }

    /// `YYYY-MM-DD HH:MM:SS`.
    pub fn format_dashed(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `YYYYMMDDHHMM` (seconds dropped).
    pub fn format_compact_minutes(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }

    /// The year.
    pub fn year(&self) -> u16 {
        self.year
    }
    /// The month, 1 to 12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month, from 1.
    pub fn day(&self) -> u8 {
        self.day
    }
    /// The hour, 0 to 23.
    pub fn hour(&self) -> u8 {
        self.hour
    }
    /// The minute, 0 to 59.
    pub fn minute(&self) -> u8 {
        self.minute
    }
    /// The second, 0 to 59.
    pub fn second(&self) -> u8 {
        self.second
    }
}

impl fmt::Display for BeijingTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} +08:00", self.format_dashed())
    }
}

impl serde::Serialize for BeijingTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.format_dashed())
    }
}

impl<'de> serde::Deserialize<'de> for BeijingTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_any(&text).map_err(serde::de::Error::custom)
    }
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's days-from-civil algorithms (public domain), for the proleptic Gregorian calendar.
fn days_from_civil(year: u16, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (u16, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_round_trip_in_utc_plus_eight() {
        // 2026-11-22 00:00:00 UTC is 08:00 in Beijing.
        let t = BeijingTime::from_unix_seconds(1_795_305_600);
        assert_eq!(t.format_dashed(), "2026-11-22 08:00:00");
        assert_eq!(t.unix_seconds(), 1_795_305_600);
        // Midnight UTC+8 crossing a year boundary and a leap day.
        let t = BeijingTime::from_unix_seconds(1_704_038_400); // 2023-12-31 16:00 UTC
        assert_eq!(t.format_dashed(), "2024-01-01 00:00:00");
        let leap = BeijingTime::new(2024, 2, 29, 23, 59, 59).unwrap();
        assert_eq!(BeijingTime::from_unix_seconds(leap.unix_seconds()), leap);
    }

    #[test]
    fn parses_provider_forms() {
        let t = BeijingTime::parse_compact("200505241713").unwrap();
        assert_eq!(t.format_dashed(), "2005-05-24 17:13:00");
        assert_eq!(t.format_compact_minutes(), "200505241713");
        assert_eq!(
            BeijingTime::parse_dashed("2016-08-01 12:00:05").unwrap().second(),
            5
        );
        assert_eq!(BeijingTime::parse_any("2016/08/01 12:00").unwrap().minute(), 0);
        assert_eq!(BeijingTime::parse_any("1795305600").unwrap().hour(), 8);
        for bad in [
            "",
            "2016-13-01 00:00:00",
            "2023-02-29 00:00:00",
            "20050524171",
            "abc",
            "2016-08-01 24:00",
        ] {
            assert!(BeijingTime::parse_any(bad).is_err(), "{bad}");
        }
        assert!(BeijingTime::parse_compact("200502301713").is_err());
    }
}
