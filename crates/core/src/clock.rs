//! Instants as the snapshot format writes them: RFC 3339 text, held as Unix seconds.
//!
//! The core never reads a clock; every caller passes `now` in.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant, to the second, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `seconds` after 1970-01-01T00:00:00Z.
    pub const fn from_unix(seconds: i64) -> Timestamp {
        Timestamp(seconds)
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 text such as `2027-01-01T00:00:00Z`; fractions of a second are dropped.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        parse_rfc3339(text.as_bytes()).map(Timestamp).ok_or_else(|| TimestampError { text: text.to_owned() })
    }

    /// This instant moved by `seconds`, saturating at the ends of time.
    pub const fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Outside the years 0..=9999 RFC 3339 has no spelling; say what we hold.
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&self.0) {
            return write!(f, "@{}", self.0);
        }
        let days = self.0.div_euclid(DAY);
        let seconds = self.0.rem_euclid(DAY);
        let (year, month, day) = civil_from_days(days);
        let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }
}

const DAY: i64 = 86_400;
/// 0000-01-01T00:00:00Z.
const MIN_SECONDS: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z.
const MAX_SECONDS: i64 = 253_402_300_799;

/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t` and `z` may be lower case. A leap
/// second (`:60`) reads as the second before it.
fn parse_rfc3339(text: &[u8]) -> Option<i64> {
    let mut cursor = Cursor { text, at: 0 };
    let year = cursor.digits(4)?;
    cursor.one_of(b"-")?;
    let month = cursor.digits(2)?;
    cursor.one_of(b"-")?;
    let day = cursor.digits(2)?;
    cursor.one_of(b"Tt")?;
    let hour = cursor.digits(2)?;
    cursor.one_of(b":")?;
    let minute = cursor.digits(2)?;
    cursor.one_of(b":")?;
    let second = cursor.digits(2)?;
    let at = cursor.at;
    let mut rest = text.get(at..)?;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = fraction.get(digits..)?;
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let value = |a: u8, b: u8| i64::from(a - b'0') * 10 + i64::from(b - b'0');
            let (hours, minutes) = (value(*h1, *h2), value(*m1, *m2));
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'+' { seconds } else { -seconds }
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let second = second.min(59);
    Some(days_from_civil(year, month, day) * DAY + hour * 3600 + minute * 60 + second - offset)
}

/// A position in RFC 3339 text.
struct Cursor<'a> {
    text: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// A number of exactly `count` ASCII digits.
    fn digits(&mut self, count: usize) -> Option<i64> {
        let field = self.text.get(self.at..self.at + count)?;
        if !field.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += count;
        Some(field.iter().fold(0, |n, digit| n * 10 + i64::from(digit - b'0')))
    }

    /// One byte, any of `allowed`.
    fn one_of(&mut self, allowed: &[u8]) -> Option<()> {
        let byte = self.text.get(self.at)?;
        if !allowed.contains(byte) {
            return None;
        }
        self.at += 1;
        Some(())
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Text that is not an RFC 3339 instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    text: String,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not an RFC 3339 time such as `2027-01-01T00:00:00Z`", self.text)
    }
}

impl std::error::Error for TimestampError {}

impl Serialize for Timestamp {
    /// Refuses an instant RFC 3339 cannot spell (outside the years 0 to 9999): what is written
    /// must read back.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&self.0) {
            return Err(serde::ser::Error::custom(format!(
                "{self} is outside the years 0 to 9999 that RFC 3339 can write"
            )));
        }
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        let instant = Timestamp::parse("2027-01-01T00:00:00Z").unwrap();
        assert_eq!(instant.unix(), 1_798_761_600);
        assert_eq!(instant.to_string(), "2027-01-01T00:00:00Z");
        assert_eq!(Timestamp::parse("2027-01-01T01:00:00+01:00").unwrap(), instant);
    }

    #[test]
    fn refuses_other_text() {
        for text in [
            "2027-01-01",
            "tomorrow",
            "2027-13-01T00:00:00Z",
            "2027-02-29T00:00:00Z",
            "2027-01-01T24:00:00Z",
            "2027-01-01T00:00:00",
            "2027-01-01T00:00:00.Z",
            "2027-01-01T00:00:00+1:00",
            "2027-01-01T00:00:00+24:00",
            "+2027-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z ",
            "२०२७-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn reads_what_rfc3339_allows() {
        let leap_day = Timestamp::parse("2024-02-29T12:00:00.123456Z").unwrap();
        assert_eq!(leap_day.to_string(), "2024-02-29T12:00:00Z");
        assert_eq!(Timestamp::parse("1970-01-01t00:00:00z").unwrap().unix(), 0);
        assert_eq!(Timestamp::parse("1969-12-31T23:59:59-00:00").unwrap().unix(), -1);
        assert_eq!(Timestamp::from_unix(i64::MAX).to_string(), format!("@{}", i64::MAX));
        assert_eq!(Timestamp::from_unix(super::MAX_SECONDS).to_string(), "9999-12-31T23:59:59Z");
        assert_eq!(Timestamp::from_unix(super::MIN_SECONDS).to_string(), "0000-01-01T00:00:00Z");
    }

    proptest::proptest! {
        /// The hand-written reader and writer agree with the `time` crate everywhere.
        #[test]
        fn agrees_with_the_time_crate(seconds in super::MIN_SECONDS..=super::MAX_SECONDS, offset in -1439i32..=1439) {
            use time::format_description::well_known::Rfc3339;
            let reference = time::OffsetDateTime::from_unix_timestamp(seconds).unwrap();
            proptest::prop_assert_eq!(Timestamp::from_unix(seconds).to_string(), reference.format(&Rfc3339).unwrap());
            let shifted = reference.to_offset(time::UtcOffset::from_whole_seconds(offset * 60).unwrap());
            if let Ok(text) = shifted.format(&Rfc3339) {
                proptest::prop_assert_eq!(Timestamp::parse(&text).map(Timestamp::unix), Ok(seconds));
            }
        }
    }
}
