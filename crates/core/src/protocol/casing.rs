//! Key casing between our snake_case and an API's camelCase or PascalCase, like python-o365's
//! `to_snake_case` / `to_camel_case` / `to_pascal_case` (`O365/utils/casing.py`).
//!
//! Where we differ, on purpose:
//! - Acronyms are one word: `HTMLBody` → `html_body` and `userID` → `user_id` (python-o365:
//!   `h_t_m_l_body`, `user_i_d`); a leading acronym is lowered whole in camelCase
//!   (`HTMLBody` → `htmlBody`, python-o365: `hTMLBody`).
//! - A separator before an upper-case letter is dropped too (`user_ID` → `userID`).
//! - python-o365 deletes the characters around any space or punctuation before camel-casing
//!   (`"is read"` → `"iead"`); we treat spaces as separators.
//! - OData annotations (`@odata.type`) are never converted.
//!
//! Kept from python-o365: a separator before a digit stays (`address_line_2` →
//! `addressLine_2`), because camelCase cannot mark that boundary and `to_snake_case` would not
//! restore it.

use serde::{Deserialize, Serialize};

/// How a protocol spells keys. python-o365's base `Protocol` leaves keys unchanged unless a
/// casing function is given; Graph and Business Central use camelCase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Casing {
    Unchanged,
    CamelCase,
    PascalCase,
    SnakeCase,
}

impl Casing {
    pub fn apply(self, key: &str) -> String {
        match self {
            Casing::Unchanged => key.to_owned(),
            Casing::CamelCase => to_camel_case(key),
            Casing::PascalCase => to_pascal_case(key),
            Casing::SnakeCase => to_snake_case(key),
        }
    }
}

fn is_separator(c: char) -> bool {
    matches!(c, '_' | '-' | '.') || c.is_whitespace()
}

/// `isRead` → `is_read`, `HTMLBody` → `html_body`, `@odata.type` → `@odata_type`.
pub fn to_snake_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (index, &c) in chars.iter().enumerate() {
        if is_separator(c) {
            out.push('_');
            continue;
        }
        if c.is_uppercase() {
            let previous = index.checked_sub(1).map(|i| chars[i]);
            let next = chars.get(index + 1).copied();
            let starts_word = match previous {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                // The last capital of an acronym starts the next word: HTML|Body.
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                _ => false,
            };
            if starts_word && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `is_read` → `isRead`; already camelCase input is unchanged.
pub fn to_camel_case(key: &str) -> String {
    join_words(key, false)
}

/// `is_read` → `IsRead`.
pub fn to_pascal_case(key: &str) -> String {
    join_words(key, true)
}

fn join_words(key: &str, upper_first: bool) -> String {
    if key.starts_with('@') {
        return key.to_owned();
    }
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len());
    let mut index = 0;
    // The first word: its first letter, or a whole leading acronym, takes the wanted case.
    let leading_capitals = chars.iter().take_while(|c| c.is_uppercase()).count();
    let first_word_end = if leading_capitals > 1
        && chars
            .get(leading_capitals)
            .is_some_and(|c| c.is_lowercase())
    {
        leading_capitals - 1 // HTMLBody: lower "HTML", keep "B" for "Body"
    } else {
        leading_capitals.max(1)
    };
    while index < chars.len() && index < first_word_end {
        let c = chars[index];
        if upper_first && index == 0 {
            out.extend(c.to_uppercase());
        } else if upper_first {
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
        index += 1;
    }
    while index < chars.len() {
        let c = chars[index];
        match chars.get(index + 1) {
            Some(&next) if is_separator(c) && next.is_alphabetic() && !out.is_empty() => {
                out.extend(next.to_uppercase());
                index += 2;
            }
            _ => {
                out.push(c);
                index += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_from_api_keys() {
        let cases = [
            ("isRead", "is_read"),
            ("receivedDateTime", "received_date_time"),
            ("IsRead", "is_read"),
            ("HTMLBody", "html_body"),
            ("userID", "user_id"),
            ("ODataType", "o_data_type"),
            ("extensionAttribute1", "extension_attribute1"),
            ("value2X", "value2_x"),
            ("already_snake", "already_snake"),
            ("@odata.type", "@odata_type"),
            ("is-read", "is_read"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(to_snake_case(input), expected, "{input}");
        }
    }

    #[test]
    fn camel_case_from_our_keys() {
        let cases = [
            ("is_read", "isRead"),
            ("received_date_time", "receivedDateTime"),
            ("isRead", "isRead"),
            ("IsRead", "isRead"),
            ("HTMLBody", "htmlBody"),
            ("ID", "id"),
            ("user_id", "userId"),
            ("user_ID", "userID"),
            ("address_line_2", "addressLine_2"),
            ("is read", "isRead"),
            ("is-read", "isRead"),
            ("@odata.type", "@odata.type"),
            ("x", "x"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(to_camel_case(input), expected, "{input}");
        }
    }

    #[test]
    fn pascal_case_from_our_keys() {
        let cases = [
            ("is_read", "IsRead"),
            ("isRead", "IsRead"),
            ("IsRead", "IsRead"),
            ("html_body", "HtmlBody"),
            ("HTMLBody", "HTMLBody"),
            ("file_attachment_type", "FileAttachmentType"),
        ];
        for (input, expected) in cases {
            assert_eq!(to_pascal_case(input), expected, "{input}");
        }
    }

    #[test]
    fn graph_keys_round_trip() {
        for key in [
            "isRead",
            "receivedDateTime",
            "bodyPreview",
            "toRecipients",
            "parentFolderId",
            "onPremisesSamAccountName",
            "extensionAttribute1",
            "from",
        ] {
            assert_eq!(to_camel_case(&to_snake_case(key)), key);
        }
    }

    #[test]
    fn casing_applies_the_chosen_conversion() {
        assert_eq!(Casing::Unchanged.apply("is_read"), "is_read");
        assert_eq!(Casing::CamelCase.apply("is_read"), "isRead");
        assert_eq!(Casing::PascalCase.apply("is_read"), "IsRead");
        assert_eq!(Casing::SnakeCase.apply("isRead"), "is_read");
    }
}
