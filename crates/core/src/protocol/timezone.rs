//! The time zone a protocol asks Graph to answer in (`Prefer: outlook.timezone="..."`).
//!
//! python-o365 takes an IANA name (or the system zone) and sends its Windows name, e.g.
//! `Europe/Madrid` → `Romance Standard Time`. We accept either kind of name and send the
//! Windows one. We do not read the system zone here (the app decides that and passes it in);
//! without one, UTC.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `(IANA name, Windows name)` from CLDR, sorted by IANA name.
fn iana_to_windows() -> &'static [(&'static str, &'static str)] {
    static TABLE: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("windows_zones.tsv")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .filter_map(|line| line.split_once('\t'))
            .collect()
    })
}

/// A configured time zone: the name as given and the Windows name Graph is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct TimeZone {
    name: String,
    windows_name: &'static str,
}

impl TimeZone {
    pub fn utc() -> Self {
        TimeZone {
            name: "UTC".to_owned(),
            windows_name: "UTC",
        }
    }

    /// An IANA name (`Europe/Madrid`) or a Windows name (`Romance Standard Time`), matched
    /// ignoring case and stored in the table's spelling.
    pub fn parse(input: &str) -> Result<TimeZone> {
        let wanted = input.trim();
        let table = iana_to_windows();
        if let Some((iana, windows)) = table
            .iter()
            .find(|(iana, _)| iana.eq_ignore_ascii_case(wanted))
        {
            return Ok(TimeZone {
                name: (*iana).to_owned(),
                windows_name: windows,
            });
        }
        if let Some((_, windows)) = table
            .iter()
            .find(|(_, windows)| windows.eq_ignore_ascii_case(wanted))
        {
            return Ok(TimeZone {
                name: (*windows).to_owned(),
                windows_name: windows,
            });
        }
        Err(Error::invalid_input(
            "time zone",
            format!(
                "`{wanted}` is neither an IANA time zone (e.g. Europe/Madrid) nor a Windows one (e.g. Romance Standard Time)"
            ),
        ))
    }

    /// The name as configured (IANA or Windows).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn windows_name(&self) -> &'static str {
        self.windows_name
    }

    /// The value of the `Prefer` header: `outlook.timezone="Romance Standard Time"`.
    pub fn prefer_header_value(&self) -> String {
        format!("outlook.timezone=\"{}\"", self.windows_name)
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone::utc()
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl TryFrom<String> for TimeZone {
    type Error = Error;

    fn try_from(value: String) -> Result<TimeZone> {
        TimeZone::parse(&value)
    }
}

/// By hand: a derived impl would tie `'de` to the `'static` table entry.
impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        TimeZone::parse(&name).map_err(serde::de::Error::custom)
    }
}

impl From<TimeZone> for String {
    fn from(value: TimeZone) -> Self {
        value.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_map_to_windows_names() {
        let cases = [
            ("Europe/Madrid", "Romance Standard Time"),
            ("America/New_York", "Eastern Standard Time"),
            ("Asia/Tokyo", "Tokyo Standard Time"),
            ("Australia/Sydney", "AUS Eastern Standard Time"),
            ("UTC", "UTC"),
            ("Etc/UTC", "UTC"),
            ("europe/london", "GMT Standard Time"),
        ];
        for (iana, windows) in cases {
            let zone = TimeZone::parse(iana).unwrap();
            assert_eq!(zone.windows_name(), windows, "{iana}");
        }
        assert_eq!(
            TimeZone::parse("europe/london").unwrap().name(),
            "Europe/London"
        );
    }

    #[test]
    fn windows_names_are_accepted_as_they_are() {
        let zone = TimeZone::parse("romance standard time").unwrap();
        assert_eq!(zone.name(), "Romance Standard Time");
        assert_eq!(zone.windows_name(), "Romance Standard Time");
    }

    #[test]
    fn the_prefer_header_names_the_windows_zone() {
        let zone = TimeZone::parse("Europe/Madrid").unwrap();
        assert_eq!(
            zone.prefer_header_value(),
            r#"outlook.timezone="Romance Standard Time""#
        );
        assert_eq!(
            TimeZone::default().prefer_header_value(),
            r#"outlook.timezone="UTC""#
        );
    }

    #[test]
    fn unknown_zones_are_errors() {
        for bad in ["Mars/Olympus_Mons", "", "Romance"] {
            let error = TimeZone::parse(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_input", "{bad:?}");
        }
    }

    #[test]
    fn the_table_is_complete_and_well_formed() {
        let table = iana_to_windows();
        assert!(table.len() > 500, "only {} zones read", table.len());
        assert!(
            table.windows(2).all(|pair| pair[0].0 < pair[1].0),
            "sorted and unique"
        );
    }

    #[test]
    fn time_zones_serialise_as_their_configured_name() {
        let zone = TimeZone::parse("Europe/Madrid").unwrap();
        assert_eq!(serde_json::to_string(&zone).unwrap(), r#""Europe/Madrid""#);
        let back: TimeZone = serde_json::from_str(r#""Europe/Madrid""#).unwrap();
        assert_eq!(back, zone);
        assert!(serde_json::from_str::<TimeZone>(r#""Nowhere/Else""#).is_err());
    }
}
