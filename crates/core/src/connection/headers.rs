//! Default headers merged with a request's own (python-o365 §4.5): the request's value wins,
//! except `Prefer`, whose preferences from both are sent (`"<request>, <default>"`).

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::{Error, Result};

pub(super) fn merge(defaults: &[(String, String)], own: &[(String, String)]) -> Result<HeaderMap> {
    let mut merged = HeaderMap::new();
    for (name, value) in defaults {
        merged.insert(header_name(name)?, header_value(name, value)?);
    }
    for (name, value) in own {
        let key = header_name(name)?;
        let value = match merged.get(&key) {
            Some(default) if key.as_str() == "prefer" => {
                let default = default.to_str().unwrap_or_default();
                header_value(name, &format!("{value}, {default}"))?
            }
            _ => header_value(name, value)?,
        };
        merged.insert(key, value);
    }
    Ok(merged)
}

fn header_name(name: &str) -> Result<HeaderName> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        Error::invalid_input(
            "header name",
            format!("`{name}` is not a valid header name"),
        )
    })
}

/// The value is not echoed in the error: a caller may put a credential in a header.
fn header_value(name: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| {
        Error::invalid_input(
            "header value",
            format!("the value of `{name}` has characters a header cannot carry"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn own_headers_win_except_prefer_which_is_combined() {
        let defaults = pairs(&[("Prefer", "IdType=\"ImmutableId\""), ("X-Team", "a")]);
        let own = pairs(&[
            ("prefer", "outlook.timezone=\"UTC\""),
            ("x-team", "b"),
            ("X-Other", "c"),
        ]);
        let merged = merge(&defaults, &own).unwrap();
        assert_eq!(
            merged["prefer"],
            "outlook.timezone=\"UTC\", IdType=\"ImmutableId\""
        );
        assert_eq!(merged["x-team"], "b");
        assert_eq!(merged["x-other"], "c");
        assert_eq!(
            merge(&defaults, &[]).unwrap()["prefer"],
            "IdType=\"ImmutableId\""
        );
    }

    #[test]
    fn bad_headers_are_refused_without_echoing_the_value() {
        let error = merge(&[], &pairs(&[("Authorization", "Bearer secret\n")])).unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
        assert!(merge(&[], &pairs(&[("bad name", "x")])).is_err());
    }
}
