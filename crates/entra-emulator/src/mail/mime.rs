//! Just enough of RFC 5322 and MIME for IMAP: the header and text sections, header fields,
//! ENVELOPE and BODYSTRUCTURE (RFC 3501 §7.4.2), and IMAP string quoting.

/// Where the header ends: the index just past the blank line (or the whole message when there
/// is none).
pub fn header_end(raw: &[u8]) -> usize {
    let mut line_start = 0;
    while line_start < raw.len() {
        let end = raw[line_start..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|p| line_start + p + 1)
            .unwrap_or(raw.len());
        let line = &raw[line_start..end];
        if line == b"\r\n" || line == b"\n" {
            return end;
        }
        line_start = end;
    }
    raw.len()
}

/// `(header including the blank line, text)`.
pub fn split(raw: &[u8]) -> (&[u8], &[u8]) {
    raw.split_at(header_end(raw))
}

/// The header's fields: name and the raw bytes of the whole field (folded lines included).
pub fn fields(header: &[u8]) -> Vec<(String, &[u8])> {
    let mut out: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    let mut start = 0;
    while start < header.len() {
        let end = header[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|p| start + p + 1)
            .unwrap_or(header.len());
        let line = &header[start..end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some((_, range)) = out.last_mut() {
                range.end = end;
            }
        } else {
            let name = line
                .iter()
                .position(|b| *b == b':')
                .map(|colon| String::from_utf8_lossy(&line[..colon]).trim().to_owned())
                .unwrap_or_default();
            out.push((name, start..end));
        }
        start = end;
    }
    out.into_iter()
        .map(|(name, range)| (name, &header[range]))
        .collect()
}

/// A field's unfolded value (the first field of that name).
pub fn value(header: &[u8], name: &str) -> Option<String> {
    fields(header)
        .into_iter()
        .find(|(field, _)| field.eq_ignore_ascii_case(name))
        .map(|(_, raw)| {
            let text = String::from_utf8_lossy(raw);
            let after = text.split_once(':').map(|(_, v)| v).unwrap_or_default();
            after
                .split(['\r', '\n'])
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
}

/// `BODY[HEADER.FIELDS (...)]` (or `.NOT`): the chosen fields and a blank line.
pub fn select_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, raw) in fields(header) {
        let listed = names.iter().any(|n| n.eq_ignore_ascii_case(&name));
        if listed != not {
            out.extend_from_slice(raw);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// An IMAP string: quoted when it can be, else a literal.
pub fn string(bytes: &[u8]) -> Vec<u8> {
    let quotable = bytes.len() < 1024
        && bytes
            .iter()
            .all(|b| (0x20..0x7f).contains(b) && *b != b'"' && *b != b'\\');
    if quotable {
        let mut out = Vec::with_capacity(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        out
    } else {
        literal(bytes)
    }
}

/// `{n}\r\n` and the bytes.
pub fn literal(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{{{}}}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out
}

/// An nstring: NIL or a string.
pub fn nstring(value: Option<&str>) -> Vec<u8> {
    match value {
        None => b"NIL".to_vec(),
        Some(text) => string(text.as_bytes()),
    }
}

/// Splits on `sep` outside quotes, angle brackets and comments.
fn split_outside(text: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut angle, mut comment, mut escaped) = (false, false, 0u32, false);
    for c in text.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                escaped = true;
                current.push(c);
            }
            '"' if comment == 0 => {
                quoted = !quoted;
                current.push(c);
            }
            '<' if !quoted && comment == 0 => {
                angle = true;
                current.push(c);
            }
            '>' if !quoted && comment == 0 => {
                angle = false;
                current.push(c);
            }
            '(' if !quoted => {
                comment += 1;
                current.push(c);
            }
            ')' if !quoted && comment > 0 => {
                comment -= 1;
                current.push(c);
            }
            _ if c == sep && !quoted && !angle && comment == 0 => {
                parts.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
}

/// One parsed address: display name and `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub name: Option<String>,
    pub mailbox: String,
    pub host: String,
}

/// Parses an address list (`"Name" <a@b>, c@d, Name <e@f>`); groups are flattened.
pub fn addresses(value: &str) -> Vec<Address> {
    split_outside(value, ',')
        .into_iter()
        .filter_map(|part| {
            let part = part.trim();
            let part = part.rsplit_once(':').map(|(_, rest)| rest).unwrap_or(part);
            let part = part.trim().trim_end_matches(';').trim();
            if part.is_empty() {
                return None;
            }
            let (name, addr) = match (part.rfind('<'), part.rfind('>')) {
                (Some(open), Some(close)) if open < close => {
                    let name = part[..open].trim().trim_matches('"').replace("\\\"", "\"");
                    (
                        (!name.is_empty()).then_some(name),
                        part[open + 1..close].trim().to_owned(),
                    )
                }
                _ => (None, part.to_owned()),
            };
            let (mailbox, host) = addr.rsplit_once('@').unwrap_or((&addr, ""));
            Some(Address {
                name,
                mailbox: mailbox.to_owned(),
                host: host.to_owned(),
            })
        })
        .collect()
}

fn address_list(header: &[u8], name: &str) -> Vec<u8> {
    let list = value(header, name)
        .map(|v| addresses(&v))
        .unwrap_or_default();
    if list.is_empty() {
        return b"NIL".to_vec();
    }
    let mut out = b"(".to_vec();
    for address in list {
        out.push(b'(');
        out.extend(nstring(address.name.as_deref()));
        out.extend_from_slice(b" NIL ");
        out.extend(string(address.mailbox.as_bytes()));
        out.push(b' ');
        out.extend(string(address.host.as_bytes()));
        out.push(b')');
    }
    out.push(b')');
    out
}

/// The ENVELOPE of a message (RFC 3501 §7.4.2): sender and reply-to default to from.
pub fn envelope(raw: &[u8]) -> Vec<u8> {
    let (header, _) = split(raw);
    let mut out = b"(".to_vec();
    out.extend(nstring(value(header, "Date").as_deref()));
    out.push(b' ');
    out.extend(nstring(value(header, "Subject").as_deref()));
    let from = address_list(header, "From");
    for name in ["From", "Sender", "Reply-To"] {
        out.push(b' ');
        let list = address_list(header, name);
        if list == b"NIL" && name != "From" {
            out.extend_from_slice(&from);
        } else {
            out.extend(list);
        }
    }
    for name in ["To", "Cc", "Bcc"] {
        out.push(b' ');
        out.extend(address_list(header, name));
    }
    out.push(b' ');
    out.extend(nstring(value(header, "In-Reply-To").as_deref()));
    out.push(b' ');
    out.extend(nstring(value(header, "Message-ID").as_deref()));
    out.push(b')');
    out
}

/// `type/subtype; a=b; c="d"` → (type, subtype, params).
fn content_type(header: &[u8], default: (&str, &str)) -> (String, String, Vec<(String, String)>) {
    let Some(text) = value(header, "Content-Type") else {
        return (
            default.0.to_owned(),
            default.1.to_owned(),
            vec![("charset".to_owned(), "us-ascii".to_owned())],
        );
    };
    let mut parts = split_outside(&text, ';').into_iter();
    let kind = parts.next().unwrap_or_default();
    let (main, sub) = kind
        .trim()
        .split_once('/')
        .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
        .unwrap_or_else(|| (default.0.to_owned(), default.1.to_owned()));
    let params = parts
        .filter_map(|param| {
            let (key, value) = param.split_once('=')?;
            Some((
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect();
    (main, sub, params)
}

fn params_list(params: &[(String, String)]) -> Vec<u8> {
    if params.is_empty() {
        return b"NIL".to_vec();
    }
    let mut out = b"(".to_vec();
    for (i, (key, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend(string(key.to_ascii_uppercase().as_bytes()));
        out.push(b' ');
        out.extend(string(value.as_bytes()));
    }
    out.push(b')');
    out
}

/// The parts of a multipart body, each with its own header.
fn multipart_parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut line_start = 0;
    while line_start < body.len() {
        let end = body[line_start..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|p| line_start + p + 1)
            .unwrap_or(body.len());
        let line = String::from_utf8_lossy(&body[line_start..end]);
        let line = line.trim_end();
        if line.starts_with(&delimiter) {
            if let Some(begin) = start {
                // The CRLF before the delimiter belongs to the delimiter.
                let mut stop = line_start;
                if stop > begin && body[stop - 1] == b'\n' {
                    stop -= 1;
                    if stop > begin && body[stop - 1] == b'\r' {
                        stop -= 1;
                    }
                }
                parts.push(&body[begin..stop]);
            }
            if line[delimiter.len()..].starts_with("--") {
                return parts;
            }
            start = Some(end);
        }
        line_start = end;
    }
    parts
}

fn count_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

/// BODYSTRUCTURE (with `extended`) or BODY of a message or part.
pub fn body_structure(raw: &[u8], extended: bool) -> Vec<u8> {
    structure(raw, extended, ("text", "plain"), 0)
}

fn structure(raw: &[u8], extended: bool, default: (&str, &str), depth: usize) -> Vec<u8> {
    let (header, body) = split(raw);
    let (main, sub, params) = content_type(header, default);
    let boundary = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.clone());
    if main.eq_ignore_ascii_case("multipart")
        && let Some(boundary) = boundary
        && depth < 16
    {
        let child_default = if sub.eq_ignore_ascii_case("digest") {
            ("message", "rfc822")
        } else {
            ("text", "plain")
        };
        let mut out = b"(".to_vec();
        let parts = multipart_parts(body, &boundary);
        for part in &parts {
            out.extend(structure(part, extended, child_default, depth + 1));
        }
        if parts.is_empty() {
            out.extend(structure(b"\r\n", extended, ("text", "plain"), depth + 1));
        }
        out.push(b' ');
        out.extend(string(sub.to_ascii_uppercase().as_bytes()));
        if extended {
            out.push(b' ');
            out.extend(params_list(&params));
            out.extend_from_slice(b" NIL NIL NIL");
        }
        out.push(b')');
        return out;
    }
    let encoding = value(header, "Content-Transfer-Encoding")
        .unwrap_or_else(|| "7BIT".to_owned())
        .to_ascii_uppercase();
    let mut out = b"(".to_vec();
    out.extend(string(main.to_ascii_uppercase().as_bytes()));
    out.push(b' ');
    out.extend(string(sub.to_ascii_uppercase().as_bytes()));
    out.push(b' ');
    out.extend(params_list(&params));
    out.push(b' ');
    out.extend(nstring(value(header, "Content-ID").as_deref()));
    out.push(b' ');
    out.extend(nstring(value(header, "Content-Description").as_deref()));
    out.push(b' ');
    out.extend(string(encoding.as_bytes()));
    out.extend(format!(" {}", body.len()).into_bytes());
    if main.eq_ignore_ascii_case("message") && sub.eq_ignore_ascii_case("rfc822") {
        out.push(b' ');
        out.extend(envelope(body));
        out.push(b' ');
        out.extend(structure(body, extended, ("text", "plain"), depth + 1));
        out.extend(format!(" {}", count_lines(body)).into_bytes());
    } else if main.eq_ignore_ascii_case("text") {
        out.extend(format!(" {}", count_lines(body)).into_bytes());
    }
    if extended {
        out.extend_from_slice(b" NIL NIL NIL NIL");
    }
    out.push(b')');
    out
}

/// Encodes header text for a field: as is when ASCII, else an RFC 2047 encoded word.
pub fn header_text(text: &str) -> String {
    if text.is_ascii() {
        text.to_owned()
    } else {
        use base64::Engine;
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    }
}

/// `"Display Name" <address>` with the name quoted (or encoded when not ASCII).
pub fn mailbox(name: &str, address: &str) -> String {
    if name.is_ascii() {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\" <{address}>")
    } else {
        format!("{} <{address}>", header_text(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"From: \"A, B\" <a@example.com>\r\nTo: c@example.com, D <d@example.com>\r\nSubject: hi\r\n there\r\n\r\nbody\r\n";

    #[test]
    fn headers_fields_and_addresses() {
        let (header, text) = split(MESSAGE);
        assert_eq!(text, b"body\r\n");
        assert_eq!(value(header, "subject").as_deref(), Some("hi there"));
        assert_eq!(
            select_fields(header, &["SUBJECT".to_owned()], false),
            b"Subject: hi\r\n there\r\n\r\n"
        );
        assert_eq!(
            select_fields(header, &["X-TUID".to_owned()], false),
            b"\r\n"
        );
        let to = addresses(&value(header, "To").unwrap());
        assert_eq!(to.len(), 2);
        assert_eq!(to[1].name.as_deref(), Some("D"));
        assert_eq!(to[1].host, "example.com");
        let from = addresses(&value(header, "From").unwrap());
        assert_eq!(from[0].name.as_deref(), Some("A, B"));
        let envelope = String::from_utf8(envelope(MESSAGE)).unwrap();
        assert!(
            envelope.starts_with("(NIL \"hi there\" ((\"A, B\" NIL \"a\" \"example.com\"))"),
            "{envelope}"
        );
    }

    #[test]
    fn body_structures_of_single_and_multipart_messages() {
        let single = String::from_utf8(body_structure(MESSAGE, false)).unwrap();
        assert_eq!(
            single,
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 6 1)"
        );
        let multi = b"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\none\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>two</p>\r\n--b1--\r\n";
        let multi = String::from_utf8(body_structure(multi, true)).unwrap();
        assert!(
            multi.starts_with("((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 0 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\")"),
            "{multi}"
        );
        assert!(
            multi.ends_with(" \"ALTERNATIVE\" (\"BOUNDARY\" \"b1\") NIL NIL NIL)"),
            "{multi}"
        );
    }

    #[test]
    fn strings_are_quoted_or_literal() {
        assert_eq!(string(b"INBOX"), b"\"INBOX\"");
        assert_eq!(string(b"a\"b"), b"{3}\r\na\"b");
        assert_eq!(nstring(None), b"NIL");
    }
}
