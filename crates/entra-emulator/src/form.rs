//! Form and query parameters, parsed leniently so that malformed input reaches Microsoft's
//! error handling instead of a framework rejection.

use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes; the first occurrence of a name wins.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut map = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(bytes) {
            map.entry(key.into_owned())
                .or_insert_with(|| value.into_owned());
        }
        Params(map)
    }

    /// A parameter's value; empty values count as absent, as Microsoft treats them.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, crate::errors::AadError> {
        self.get(name)
            .ok_or_else(|| crate::errors::AadError::missing(name))
    }
}
