//! Instants as the snapshot format writes them: RFC 3339 text, held as Unix seconds.
//!
//! The core never reads a clock; every caller passes `now` in.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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
        match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(parsed) => Ok(Timestamp(parsed.unix_timestamp())),
            Err(_) => Err(TimestampError { text: text.to_owned() }),
        }
    }

    /// This instant moved by `seconds`, saturating at the ends of time.
    pub const fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let formatted = OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|instant| instant.format(&Rfc3339).ok());
        match formatted {
            Some(text) => f.write_str(&text),
            // Outside the years 0..=9999 RFC 3339 has no spelling; say what we hold.
            None => write!(f, "@{}", self.0),
        }
    }
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
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
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
        assert!(Timestamp::parse("2027-01-01").is_err());
        assert!(Timestamp::parse("tomorrow").is_err());
    }
}
