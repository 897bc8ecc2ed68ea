//! Text for people: tables, durations, standard output that tolerates a closed pipe.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::{Failure, Result};

/// Writes to standard output. A reader that went away (`| head`) is not an error.
pub fn out(text: &str) -> Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::local(format!(
            "cannot write to standard output: {error}"
        ))),
    }
}

/// Pretty JSON and a newline.
pub fn out_json(value: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|error| Failure::local(format!("cannot encode JSON: {error}")))?;
    text.push('\n');
    out(&text)
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// A span of seconds, coarse: `45s`, `59m`, `2h 05m`, `3d 4h`.
pub fn span(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d {}h", seconds / 86400, seconds % 86400 / 3600),
    }
}

/// How long until `expires_at`: `59m`, `expired 3m ago`, `-` when there is no token.
pub fn expires_in(expires_at: Option<i64>, now: i64) -> String {
    match expires_at {
        None => "-".to_owned(),
        Some(at) if at > now => span(at - now),
        Some(at) => format!("expired {} ago", span(now - at)),
    }
}

/// Columns padded to their widest cell, two spaces apart, no trailing blanks.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|header| header.chars().count())
        .collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header_row: Vec<String> = headers.iter().map(|header| (*header).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if index > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(
                ' ',
                width.saturating_sub(cell.chars().count()),
            ));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// A field as text: strings as they are, numbers and booleans printed, absent or null as `-`.
pub fn field(value: &Value, name: &str) -> String {
    match value.get(name) {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(text)) if text.is_empty() => "-".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map_or_else(|| item.to_string(), str::to_owned)
            })
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spans_and_expiry() {
        assert_eq!(span(45), "45s");
        assert_eq!(span(59 * 60 + 59), "59m");
        assert_eq!(span(2 * 3600 + 5 * 60), "2h 05m");
        assert_eq!(span(3 * 86400 + 4 * 3600 + 1), "3d 4h");
        assert_eq!(expires_in(None, 100), "-");
        assert_eq!(expires_in(Some(100 + 3599), 100), "59m");
        assert_eq!(expires_in(Some(100), 100 + 180), "expired 3m ago");
    }

    #[test]
    fn tables_align_by_characters() {
        let text = table(
            &["USERNAME", "ALIAS"],
            &[
                vec!["adèle@contoso.com".into(), "work".into()],
                vec!["a@b".into(), "-".into()],
            ],
        );
        assert_eq!(
            text,
            "USERNAME           ALIAS\nadèle@contoso.com  work\na@b                -\n"
        );
    }

    #[test]
    fn fields_print_plainly() {
        let value = json!({"a": "x", "b": null, "c": 3, "d": ["s", "t"], "e": ""});
        assert_eq!(field(&value, "a"), "x");
        assert_eq!(field(&value, "b"), "-");
        assert_eq!(field(&value, "c"), "3");
        assert_eq!(field(&value, "d"), "s t");
        assert_eq!(field(&value, "e"), "-");
        assert_eq!(field(&value, "missing"), "-");
    }
}
