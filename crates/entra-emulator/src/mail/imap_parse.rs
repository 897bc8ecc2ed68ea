//! IMAP4rev1 command syntax (RFC 3501 §9): tokens (atoms, quoted strings, literals,
//! parenthesised lists; `BODY[...]<...>` stays one atom), sequence sets, FETCH items and
//! SEARCH keys.

use time::{Date, Month, OffsetDateTime};

use crate::mail::mailbox::Message;
use crate::mail::mime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Atom(String),
    /// A quoted string or a literal.
    Str(Vec<u8>),
    List(Vec<Token>),
}

impl Token {
    /// An astring's text (atom or string).
    pub fn text(&self) -> Option<String> {
        match self {
            Token::Atom(atom) => Some(atom.clone()),
            Token::Str(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            Token::List(_) => None,
        }
    }

    pub fn atom(&self) -> Option<&str> {
        match self {
            Token::Atom(atom) => Some(atom),
            _ => None,
        }
    }
}

/// The syntax is wrong (`BAD Command Argument Error. 11`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError;

/// If `line` ends with a literal announcement `{n}` or `{n+}`: its size and whether it is
/// non-synchronising (LITERAL+).
pub fn trailing_literal(line: &[u8]) -> Option<(usize, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let digits = &inner[open + 1..];
    let (digits, plus) = match digits.strip_suffix(b"+") {
        Some(d) => (d, true),
        None => (digits, false),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse()
        .ok()
        .map(|n| (n, plus))
}

/// Splits a whole command (literals inline as `{n}\r\n<bytes>`) into tokens.
pub fn tokenize(input: &[u8]) -> Result<Vec<Token>, SyntaxError> {
    let mut parser = Parser {
        bytes: input,
        at: 0,
    };
    let tokens = parser.sequence(None)?;
    Ok(tokens)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn sequence(&mut self, close: Option<u8>) -> Result<Vec<Token>, SyntaxError> {
        let mut tokens = Vec::new();
        loop {
            while self.peek() == Some(b' ') {
                self.at += 1;
            }
            match self.peek() {
                None if close.is_none() => return Ok(tokens),
                None => return Err(SyntaxError),
                Some(c) if Some(c) == close => {
                    self.at += 1;
                    return Ok(tokens);
                }
                Some(b'(') => {
                    self.at += 1;
                    tokens.push(Token::List(self.sequence(Some(b')'))?));
                }
                Some(b')') => return Err(SyntaxError),
                Some(b'"') => tokens.push(self.quoted()?),
                Some(b'{') => tokens.push(self.literal()?),
                Some(_) => tokens.push(self.atom()?),
            }
        }
    }

    fn quoted(&mut self) -> Result<Token, SyntaxError> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r' | b'\n') => return Err(SyntaxError),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Token::Str(out));
                }
                Some(b'\\') => {
                    let next = *self.bytes.get(self.at + 1).ok_or(SyntaxError)?;
                    out.push(next);
                    self.at += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn literal(&mut self) -> Result<Token, SyntaxError> {
        let close = self.bytes[self.at..]
            .iter()
            .position(|b| *b == b'}')
            .ok_or(SyntaxError)?
            + self.at;
        let digits =
            std::str::from_utf8(&self.bytes[self.at + 1..close]).map_err(|_| SyntaxError)?;
        let size: usize = digits
            .trim_end_matches('+')
            .parse()
            .map_err(|_| SyntaxError)?;
        let start = close + 1;
        if self.bytes.get(start..start + 2) != Some(b"\r\n") {
            return Err(SyntaxError);
        }
        let data = self
            .bytes
            .get(start + 2..start + 2 + size)
            .ok_or(SyntaxError)?;
        self.at = start + 2 + size;
        Ok(Token::Str(data.to_vec()))
    }

    fn atom(&mut self) -> Result<Token, SyntaxError> {
        let start = self.at;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'[' => depth += 1,
                b']' if depth > 0 => depth -= 1,
                b' ' | b'(' | b')' | b'"' | b'{' if depth == 0 => break,
                b'\r' | b'\n' => break,
                _ => {}
            }
            self.at += 1;
        }
        if depth > 0 || self.at == start {
            return Err(SyntaxError);
        }
        Ok(Token::Atom(
            String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned(),
        ))
    }
}

/// One element of a sequence set; `None` is `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range(pub Option<u32>, pub Option<u32>);

/// A sequence set (`1:*`, `2,4:7`, `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<Range>);

impl SequenceSet {
    pub fn parse(text: &str) -> Result<SequenceSet, SyntaxError> {
        let number = |part: &str| -> Result<Option<u32>, SyntaxError> {
            if part == "*" {
                Ok(None)
            } else {
                match part.parse::<u32>() {
                    Ok(0) | Err(_) => Err(SyntaxError),
                    Ok(n) => Ok(Some(n)),
                }
            }
        };
        let ranges = text
            .split(',')
            .map(|item| match item.split_once(':') {
                Some((a, b)) => Ok(Range(number(a)?, number(b)?)),
                None => {
                    let n = number(item)?;
                    Ok(Range(n, n))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SequenceSet(ranges))
    }

    /// Whether `n` is in the set when `*` stands for `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|Range(a, b)| {
            let a = a.unwrap_or(largest);
            let b = b.unwrap_or(largest);
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            (low..=high).contains(&n)
        })
    }

    pub fn looks_like(text: &str) -> bool {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'*' | b':' | b','))
    }
}

/// A `BODY[...]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Section {
    /// `BODY[]`, `BODY[1.2]`: the whole message or a part's content.
    Part(Vec<u32>),
    Header(Vec<u32>),
    Text(Vec<u32>),
    Mime(Vec<u32>),
    Fields {
        part: Vec<u32>,
        names: Vec<String>,
        not: bool,
    },
}

/// One FETCH item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem {
    Uid,
    Flags,
    InternalDate,
    Rfc822Size,
    Envelope,
    BodyStructure,
    /// `BODY` alone: the non-extensible structure.
    Body,
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    Section {
        peek: bool,
        section: Section,
        partial: Option<(usize, usize)>,
    },
}

impl FetchItem {
    /// Whether fetching this marks the message \Seen.
    pub fn sets_seen(&self) -> bool {
        matches!(
            self,
            FetchItem::Rfc822 | FetchItem::Rfc822Text | FetchItem::Section { peek: false, .. }
        )
    }
}

/// The FETCH item list: a macro, one item, or a list.
pub fn fetch_items(token: &Token) -> Result<Vec<FetchItem>, SyntaxError> {
    let atoms: Vec<&str> = match token {
        Token::Atom(atom) => {
            match atom.to_ascii_uppercase().as_str() {
                "ALL" => {
                    return Ok(vec![
                        FetchItem::Flags,
                        FetchItem::InternalDate,
                        FetchItem::Rfc822Size,
                        FetchItem::Envelope,
                    ]);
                }
                "FAST" => {
                    return Ok(vec![
                        FetchItem::Flags,
                        FetchItem::InternalDate,
                        FetchItem::Rfc822Size,
                    ]);
                }
                "FULL" => {
                    return Ok(vec![
                        FetchItem::Flags,
                        FetchItem::InternalDate,
                        FetchItem::Rfc822Size,
                        FetchItem::Envelope,
                        FetchItem::Body,
                    ]);
                }
                _ => {}
            }
            vec![atom.as_str()]
        }
        Token::List(items) => items
            .iter()
            .map(|t| t.atom().ok_or(SyntaxError))
            .collect::<Result<_, _>>()?,
        Token::Str(_) => return Err(SyntaxError),
    };
    atoms.into_iter().map(fetch_item).collect()
}

fn fetch_item(atom: &str) -> Result<FetchItem, SyntaxError> {
    let upper = atom.to_ascii_uppercase();
    let simple = match upper.as_str() {
        "UID" => Some(FetchItem::Uid),
        "FLAGS" => Some(FetchItem::Flags),
        "INTERNALDATE" => Some(FetchItem::InternalDate),
        "RFC822.SIZE" => Some(FetchItem::Rfc822Size),
        "ENVELOPE" => Some(FetchItem::Envelope),
        "BODYSTRUCTURE" => Some(FetchItem::BodyStructure),
        "BODY" => Some(FetchItem::Body),
        "RFC822" => Some(FetchItem::Rfc822),
        "RFC822.HEADER" => Some(FetchItem::Rfc822Header),
        "RFC822.TEXT" => Some(FetchItem::Rfc822Text),
        _ => None,
    };
    if let Some(item) = simple {
        return Ok(item);
    }
    let (peek, rest) = if let Some(rest) = upper.strip_prefix("BODY.PEEK[") {
        (true, rest)
    } else if let Some(rest) = upper.strip_prefix("BODY[") {
        (false, rest)
    } else {
        return Err(SyntaxError);
    };
    let close = rest.rfind(']').ok_or(SyntaxError)?;
    let section = section(&rest[..close])?;
    let tail = &rest[close + 1..];
    let partial = if tail.is_empty() {
        None
    } else {
        let inner = tail
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .ok_or(SyntaxError)?;
        let (start, length) = inner.split_once('.').ok_or(SyntaxError)?;
        Some((
            start.parse().map_err(|_| SyntaxError)?,
            length.parse().map_err(|_| SyntaxError)?,
        ))
    };
    Ok(FetchItem::Section {
        peek,
        section,
        partial,
    })
}

fn section(text: &str) -> Result<Section, SyntaxError> {
    let text = text.trim();
    let mut part = Vec::new();
    let mut rest = text;
    while let Some(first) = rest.split('.').next() {
        match first.parse::<u32>() {
            Ok(0) => return Err(SyntaxError),
            Ok(n) => {
                part.push(n);
                rest = rest[first.len()..].trim_start_matches('.');
            }
            Err(_) => break,
        }
    }
    if rest.is_empty() {
        return Ok(Section::Part(part));
    }
    let (name, list) = match rest.split_once(' ') {
        Some((name, list)) => (name, Some(list)),
        None => (rest, None),
    };
    match (name, list) {
        ("HEADER", None) => Ok(Section::Header(part)),
        ("TEXT", None) => Ok(Section::Text(part)),
        ("MIME", None) if !part.is_empty() => Ok(Section::Mime(part)),
        ("HEADER.FIELDS" | "HEADER.FIELDS.NOT", Some(list)) => {
            let tokens = tokenize(list.as_bytes())?;
            let [Token::List(names)] = tokens.as_slice() else {
                return Err(SyntaxError);
            };
            let names = names
                .iter()
                .map(|t| t.text().ok_or(SyntaxError))
                .collect::<Result<Vec<_>, _>>()?;
            if names.is_empty() {
                return Err(SyntaxError);
            }
            Ok(Section::Fields {
                part,
                names,
                not: name.ends_with(".NOT"),
            })
        }
        _ => Err(SyntaxError),
    }
}

/// How a section is named in the response (`BODY[HEADER.FIELDS (DATE FROM)]`).
pub fn section_name(section: &Section) -> String {
    let prefix = |part: &[u32], what: &str| {
        let mut text: Vec<String> = part.iter().map(u32::to_string).collect();
        if !what.is_empty() {
            text.push(what.to_owned());
        }
        text.join(".")
    };
    match section {
        Section::Part(part) => prefix(part, ""),
        Section::Header(part) => prefix(part, "HEADER"),
        Section::Text(part) => prefix(part, "TEXT"),
        Section::Mime(part) => prefix(part, "MIME"),
        Section::Fields { part, names, not } => format!(
            "{} ({})",
            prefix(
                part,
                if *not {
                    "HEADER.FIELDS.NOT"
                } else {
                    "HEADER.FIELDS"
                }
            ),
            names
                .iter()
                .map(|n| n.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// The entity (header and body) a part number names. Part 1 of a message that is not
/// multipart is the message itself; parts of a message/rfc822 part are its message's.
fn entity<'a>(raw: &'a [u8], part: &[u32]) -> Option<&'a [u8]> {
    let kind_of =
        |entity: &[u8]| mime::value(mime::split(entity).0, "Content-Type").unwrap_or_default();
    let mut current = raw;
    for (depth, number) in part.iter().enumerate() {
        let mut scope = current;
        if depth > 0
            && kind_of(scope)
                .to_ascii_lowercase()
                .starts_with("message/rfc822")
        {
            scope = mime::split(scope).1;
        }
        let kind = kind_of(scope);
        let boundary = kind
            .to_ascii_lowercase()
            .starts_with("multipart/")
            .then(|| {
                kind.split(';').find_map(|p| {
                    let (key, value) = p.split_once('=')?;
                    key.trim()
                        .eq_ignore_ascii_case("boundary")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .flatten();
        if let Some(boundary) = boundary {
            let body = mime::split(scope).1;
            current = parts(body, &boundary).get(*number as usize - 1).copied()?;
        } else if *number == 1 {
            current = scope;
        } else {
            return None;
        }
    }
    Some(current)
}

fn parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut found = Vec::new();
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
                let mut stop = line_start;
                if stop > begin && body[stop - 1] == b'\n' {
                    stop -= 1;
                    if stop > begin && body[stop - 1] == b'\r' {
                        stop -= 1;
                    }
                }
                found.push(&body[begin..stop]);
            }
            if line[delimiter.len()..].starts_with("--") {
                return found;
            }
            start = Some(end);
        }
        line_start = end;
    }
    found
}

/// The bytes of a section of `raw` (empty when the part does not exist, as servers answer).
pub fn section_bytes(raw: &[u8], section: &Section) -> Vec<u8> {
    let pick = |part: &[u32]| entity(raw, part);
    let nested = |entity: &[u8], part: &[u32]| -> Vec<u8> {
        // HEADER/TEXT of a part are those of its encapsulated message.
        if part.is_empty() {
            entity.to_vec()
        } else {
            mime::split(entity).1.to_vec()
        }
    };
    match section {
        Section::Part(part) if part.is_empty() => raw.to_vec(),
        // A part's content: its body (part 1 of a message that is not multipart is the
        // message's body).
        Section::Part(part) => pick(part)
            .map(|e| mime::split(e).1.to_vec())
            .unwrap_or_default(),
        Section::Header(part) => pick(part)
            .map(|e| mime::split(&nested(e, part)).0.to_vec())
            .unwrap_or_default(),
        Section::Text(part) => pick(part)
            .map(|e| mime::split(&nested(e, part)).1.to_vec())
            .unwrap_or_default(),
        Section::Mime(part) => pick(part)
            .map(|e| mime::split(e).0.to_vec())
            .unwrap_or_default(),
        Section::Fields { part, names, not } => pick(part)
            .map(|e| {
                let message = nested(e, part);
                mime::select_fields(mime::split(&message).0, names, *not)
            })
            .unwrap_or_default(),
    }
}

/// A SEARCH key (RFC 3501 §6.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Sequence(SequenceSet),
    Uid(SequenceSet),
    Flag(String, bool),
    Recent(bool),
    New,
    Before(Date),
    On(Date),
    Since(Date),
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Header(String, String),
    Body(String),
    Text(String),
    Larger(usize),
    Smaller(usize),
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    And(Vec<SearchKey>),
}

/// `1-Feb-1994`.
pub fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let day: u8 = parts.next()?.parse().ok()?;
    let month = match parts.next()?.to_ascii_lowercase().as_str() {
        "jan" => Month::January,
        "feb" => Month::February,
        "mar" => Month::March,
        "apr" => Month::April,
        "may" => Month::May,
        "jun" => Month::June,
        "jul" => Month::July,
        "aug" => Month::August,
        "sep" => Month::September,
        "oct" => Month::October,
        "nov" => Month::November,
        "dec" => Month::December,
        _ => return None,
    };
    let year: i32 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Parses the SEARCH keys (the criteria after an optional CHARSET).
pub fn search_keys(tokens: &[Token]) -> Result<SearchKey, SyntaxError> {
    let mut at = 0;
    let mut keys = Vec::new();
    while at < tokens.len() {
        keys.push(search_key(tokens, &mut at)?);
    }
    if keys.is_empty() {
        return Err(SyntaxError);
    }
    Ok(if keys.len() == 1 {
        keys.remove(0)
    } else {
        SearchKey::And(keys)
    })
}

fn search_key(tokens: &[Token], at: &mut usize) -> Result<SearchKey, SyntaxError> {
    let token = tokens.get(*at).ok_or(SyntaxError)?;
    *at += 1;
    let string = |at: &mut usize| -> Result<String, SyntaxError> {
        let text = tokens.get(*at).and_then(Token::text).ok_or(SyntaxError)?;
        *at += 1;
        Ok(text)
    };
    let atom = match token {
        Token::List(inner) => return search_keys(inner),
        Token::Str(_) => return Err(SyntaxError),
        Token::Atom(atom) => atom.to_ascii_uppercase(),
    };
    let date = |text: String| parse_date(&text).ok_or(SyntaxError);
    let flag = |name: &str, on: bool| SearchKey::Flag(name.to_owned(), on);
    Ok(match atom.as_str() {
        "ALL" => SearchKey::All,
        "ANSWERED" => flag("\\Answered", true),
        "UNANSWERED" => flag("\\Answered", false),
        "DELETED" => flag("\\Deleted", true),
        "UNDELETED" => flag("\\Deleted", false),
        "DRAFT" => flag("\\Draft", true),
        "UNDRAFT" => flag("\\Draft", false),
        "FLAGGED" => flag("\\Flagged", true),
        "UNFLAGGED" => flag("\\Flagged", false),
        "SEEN" => flag("\\Seen", true),
        "UNSEEN" => flag("\\Seen", false),
        "KEYWORD" => SearchKey::Flag(string(at)?, true),
        "UNKEYWORD" => SearchKey::Flag(string(at)?, false),
        "RECENT" => SearchKey::Recent(true),
        "OLD" => SearchKey::Recent(false),
        "NEW" => SearchKey::New,
        "BEFORE" => SearchKey::Before(date(string(at)?)?),
        "ON" => SearchKey::On(date(string(at)?)?),
        "SINCE" => SearchKey::Since(date(string(at)?)?),
        "SENTBEFORE" => SearchKey::SentBefore(date(string(at)?)?),
        "SENTON" => SearchKey::SentOn(date(string(at)?)?),
        "SENTSINCE" => SearchKey::SentSince(date(string(at)?)?),
        "FROM" | "TO" | "CC" | "BCC" | "SUBJECT" => {
            let name = match atom.as_str() {
                "FROM" => "From",
                "TO" => "To",
                "CC" => "Cc",
                "BCC" => "Bcc",
                _ => "Subject",
            };
            SearchKey::Header(name.to_owned(), string(at)?)
        }
        "HEADER" => {
            let name = string(at)?;
            SearchKey::Header(name, string(at)?)
        }
        "BODY" => SearchKey::Body(string(at)?),
        "TEXT" => SearchKey::Text(string(at)?),
        "LARGER" => SearchKey::Larger(string(at)?.parse().map_err(|_| SyntaxError)?),
        "SMALLER" => SearchKey::Smaller(string(at)?.parse().map_err(|_| SyntaxError)?),
        "UID" => SearchKey::Uid(SequenceSet::parse(&string(at)?)?),
        "NOT" => SearchKey::Not(Box::new(search_key(tokens, at)?)),
        "OR" => {
            let left = search_key(tokens, at)?;
            let right = search_key(tokens, at)?;
            SearchKey::Or(Box::new(left), Box::new(right))
        }
        _ if SequenceSet::looks_like(&atom) => SearchKey::Sequence(SequenceSet::parse(&atom)?),
        _ => return Err(SyntaxError),
    })
}

fn contains(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn sent_date(raw: &[u8]) -> Option<Date> {
    let (header, _) = mime::split(raw);
    let value = mime::value(header, "Date")?;
    OffsetDateTime::parse(&value, &time::format_description::well_known::Rfc2822)
        .ok()
        .map(|d| d.date())
}

/// Whether message `seq` (its sequence number) matches; `largest` numbers stand for `*`.
pub fn matches(
    key: &SearchKey,
    message: &Message,
    seq: u32,
    largest_seq: u32,
    largest_uid: u32,
) -> bool {
    let recurse = |k: &SearchKey| matches(k, message, seq, largest_seq, largest_uid);
    let date = message.internal_date.date();
    match key {
        SearchKey::All => true,
        SearchKey::Sequence(set) => set.contains(seq, largest_seq),
        SearchKey::Uid(set) => set.contains(message.uid, largest_uid),
        SearchKey::Flag(name, on) => message.has_flag(name) == *on,
        // Exchange reports no message as \Recent.
        SearchKey::Recent(on) => !*on,
        SearchKey::New => false,
        SearchKey::Before(d) => date < *d,
        SearchKey::On(d) => date == *d,
        SearchKey::Since(d) => date >= *d,
        SearchKey::SentBefore(d) => sent_date(&message.raw).is_some_and(|s| s < *d),
        SearchKey::SentOn(d) => sent_date(&message.raw).is_some_and(|s| s == *d),
        SearchKey::SentSince(d) => sent_date(&message.raw).is_some_and(|s| s >= *d),
        SearchKey::Header(name, value) => {
            let (header, _) = mime::split(&message.raw);
            mime::fields(header).iter().any(|(field, raw)| {
                field.eq_ignore_ascii_case(name) && {
                    let text = String::from_utf8_lossy(raw);
                    let content = text.split_once(':').map(|(_, v)| v).unwrap_or_default();
                    value.is_empty() || contains(content, value)
                }
            })
        }
        SearchKey::Body(text) => {
            let (_, body) = mime::split(&message.raw);
            contains(&String::from_utf8_lossy(body), text)
        }
        SearchKey::Text(text) => contains(&String::from_utf8_lossy(&message.raw), text),
        SearchKey::Larger(n) => message.raw.len() > *n,
        SearchKey::Smaller(n) => message.raw.len() < *n,
        SearchKey::Not(inner) => !recurse(inner),
        SearchKey::Or(a, b) => recurse(a) || recurse(b),
        SearchKey::And(keys) => keys.iter().all(recurse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_lists_strings_literals_and_sections() {
        let tokens = tokenize(
            b"a1 UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (X-TUID MESSAGE-ID)]<0.100>) \"q \\\"x\\\"\" {3}\r\nabc",
        )
        .unwrap();
        assert_eq!(tokens[0], Token::Atom("a1".to_owned()));
        assert_eq!(tokens[3], Token::Atom("1:*".to_owned()));
        let Token::List(items) = &tokens[4] else {
            panic!("{tokens:?}")
        };
        assert_eq!(
            items[2],
            Token::Atom("BODY.PEEK[HEADER.FIELDS (X-TUID MESSAGE-ID)]<0.100>".to_owned())
        );
        assert_eq!(tokens[5], Token::Str(b"q \"x\"".to_vec()));
        assert_eq!(tokens[6], Token::Str(b"abc".to_vec()));
        assert_eq!(
            trailing_literal(b"A APPEND INBOX {310}"),
            Some((310, false))
        );
        assert_eq!(
            trailing_literal(b"A APPEND INBOX {310+}"),
            Some((310, true))
        );
        assert_eq!(trailing_literal(b"A NOOP"), None);
        assert!(tokenize(b"a (unclosed").is_err());
    }

    #[test]
    fn fetch_items_and_sections() {
        let items = fetch_items(
            &tokenize(
                b"(UID BODY.PEEK[HEADER.FIELDS (DATE FROM)] BODY[]<0.10> BODY[1.MIME] RFC822.SIZE)",
            )
            .unwrap()[0],
        )
        .unwrap();
        assert_eq!(items[0], FetchItem::Uid);
        assert_eq!(
            items[1],
            FetchItem::Section {
                peek: true,
                section: Section::Fields {
                    part: vec![],
                    names: vec!["DATE".to_owned(), "FROM".to_owned()],
                    not: false
                },
                partial: None
            }
        );
        assert_eq!(
            items[2],
            FetchItem::Section {
                peek: false,
                section: Section::Part(vec![]),
                partial: Some((0, 10))
            }
        );
        assert_eq!(
            section_name(&Section::Fields {
                part: vec![],
                names: vec!["date".to_owned()],
                not: true
            }),
            "HEADER.FIELDS.NOT (DATE)"
        );
        assert!(fetch_items(&Token::Atom("BOGUS".to_owned())).is_err());
        let raw = b"Subject: x\r\n\r\nbody\r\n";
        assert_eq!(section_bytes(raw, &Section::Part(vec![1])), b"body\r\n");
        assert_eq!(
            section_bytes(raw, &Section::Header(vec![])),
            b"Subject: x\r\n\r\n"
        );
        assert_eq!(section_bytes(raw, &Section::Text(vec![])), b"body\r\n");
        let multi = b"Content-Type: multipart/mixed; boundary=AbC\r\n\r\n--AbC\r\nContent-Type: text/plain\r\n\r\none\r\n--AbC\r\nContent-Type: text/plain\r\n\r\ntwo\r\n--AbC--\r\n";
        assert_eq!(section_bytes(multi, &Section::Part(vec![2])), b"two");
        assert_eq!(
            section_bytes(multi, &Section::Mime(vec![1])),
            b"Content-Type: text/plain\r\n\r\n"
        );
    }

    #[test]
    fn sequence_sets_and_search_keys() {
        let set = SequenceSet::parse("1,3:5,9:*").unwrap();
        assert!(set.contains(1, 12) && set.contains(4, 12) && set.contains(12, 12));
        assert!(!set.contains(2, 12) && !set.contains(6, 12));
        // 30:* includes the largest even when it is below 30.
        assert!(SequenceSet::parse("30:*").unwrap().contains(25, 25));
        assert!(SequenceSet::parse("0").is_err());
        let key = search_keys(
            &tokenize(b"OR SEEN (FROM \"emulator\" SINCE 1-Jun-2024) NOT UID 1:3").unwrap(),
        )
        .unwrap();
        let SearchKey::And(keys) = key else {
            panic!("{key:?}")
        };
        assert_eq!(keys.len(), 2);
        assert!(search_keys(&tokenize(b"SINCE 31-Foo-2024").unwrap()).is_err());
    }
}
