//! IMAP4rev1 (RFC 3501) like Exchange Online's `outlook.office365.com:993`: TLS from the first
//! byte; Exchange's greeting, capabilities and completion texts; `AUTHENTICATE XOAUTH2` with
//! the initial response on the command line (SASL-IR, RFC 4959) or after a `+` continuation,
//! `NO AUTHENTICATE failed.` for any failure; LOGIN and AUTHENTICATE PLAIN refused (basic
//! authentication is disabled in Exchange Online). After authentication: LIST, LSUB, STATUS,
//! NAMESPACE, SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, APPEND, IDLE,
//! CHECK, CLOSE, UNSELECT, EXPUNGE, SEARCH, FETCH, STORE, COPY, MOVE and their UID forms
//! (with UID EXPUNGE of UIDPLUS), on the mailboxes of [`super::mailbox`].

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::net::TcpStream;
use tokio_native_tls::TlsAcceptor;

use crate::mail::auth::{self, MailUser, Protocol};
use crate::mail::imap_parse::{
    self, FetchItem, SequenceSet, SyntaxError, Token, section_bytes, section_name,
};
use crate::mail::mailbox::{Folder, Mailboxes, PERMANENT_FLAGS, UserMailbox, same_folder};
use crate::mail::{Connection, Line, MailState, mime};

const MAX_LINE: usize = 64 * 1024;
/// Exchange Online's largest message is 150 MB; APPEND takes no more.
const MAX_LITERAL: usize = 157_286_400;

pub const AUTHENTICATE_OK: &str = "OK AUTHENTICATE completed.";
pub const AUTHENTICATE_FAILED: &str = "NO AUTHENTICATE failed.";
const BAD_COMMAND: &str = "BAD Command Error. 10";
const BAD_ARGUMENTS: &str = "BAD Command Argument Error. 11";
const BAD_STATE: &str = "BAD Command received in Invalid state.";

const CAPABILITY: &str = "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+";
const CAPABILITY_AUTHENTICATED: &str = "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+";

struct Selected {
    name: String,
    read_only: bool,
    /// The message count the client was last told.
    exists: usize,
}

struct Session {
    state: Arc<MailState>,
    peer: SocketAddr,
    user: Option<MailUser>,
    selected: Option<Selected>,
}

/// A response being built: untagged lines, then the tagged completion.
#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn line(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
        self.0.extend_from_slice(b"\r\n");
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        self.0.extend_from_slice(b"\r\n");
    }
}

enum Outcome {
    Done(String),
    Authenticate(String, Option<Vec<u8>>),
    Idle,
    Logout,
}

enum Read {
    Command(Vec<u8>),
    TooLong,
    Closed,
}

/// Reads a command, answering `+` to synchronising literals and reading them in.
async fn read_command(conn: &mut Connection) -> Read {
    let mut command = Vec::new();
    loop {
        let line = match conn.read_line(MAX_LINE).await {
            Line::Text(line) => line,
            Line::TooLong => return Read::TooLong,
            Line::Closed => return Read::Closed,
        };
        command.extend_from_slice(&line);
        let Some((size, plus)) = imap_parse::trailing_literal(&line) else {
            return Read::Command(command);
        };
        if size > MAX_LITERAL {
            return Read::Closed;
        }
        if !plus
            && !conn
                .write(b"+ Ready for additional command text.\r\n")
                .await
        {
            return Read::Closed;
        }
        let Some(data) = conn.read_exact(size).await else {
            return Read::Closed;
        };
        command.extend_from_slice(b"\r\n");
        command.extend_from_slice(&data);
    }
}

/// Serves one connection: TLS handshake, greeting, commands until LOGOUT or EOF.
pub(crate) async fn serve(
    state: Arc<MailState>,
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let tls = match acceptor.accept(stream).await {
        Ok(tls) => tls,
        Err(error) => {
            tracing::debug!(%peer, %error, "IMAP TLS handshake failed");
            return;
        }
    };
    let mut conn = Connection::new(Box::new(tls));
    let server: Vec<u8> = state
        .server_name
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let greeting = format!(
        "* OK The Microsoft Exchange IMAP4 service is ready. [{}]\r\n",
        STANDARD.encode(server)
    );
    if !conn.write(greeting.as_bytes()).await {
        return;
    }
    let mut session = Session {
        state,
        peer,
        user: None,
        selected: None,
    };
    loop {
        let command = match read_command(&mut conn).await {
            Read::Command(command) => command,
            Read::TooLong => {
                if !conn.write(b"* BAD Command Error. 10\r\n").await {
                    return;
                }
                continue;
            }
            Read::Closed => return,
        };
        let mut out = Out::default();
        let tokens = imap_parse::tokenize(&command);
        let (tag, name, args) = match tokens.as_deref() {
            Ok([Token::Atom(tag), Token::Atom(name), args @ ..]) => {
                (tag.clone(), name.to_ascii_uppercase(), args.to_vec())
            }
            Ok([Token::Atom(tag), ..]) => {
                out.line(&format!("{tag} {BAD_COMMAND}"));
                if !conn.write(&out.0).await {
                    return;
                }
                continue;
            }
            _ => {
                if !conn.write(b"* BAD Command Error. 10\r\n").await {
                    return;
                }
                continue;
            }
        };
        tracing::debug!(peer = %session.peer, command = %name, "IMAP command");
        let outcome = session.execute(&mut out, &name, &args);
        match outcome {
            Outcome::Done(completion) => {
                session.announce(&mut out);
                out.line(&format!("{tag} {completion}"));
            }
            Outcome::Logout => {
                out.line("* BYE Microsoft Exchange Server IMAP4 server signing off.");
                out.line(&format!("{tag} OK LOGOUT completed."));
                let _ = conn.write(&out.0).await;
                return;
            }
            Outcome::Authenticate(mechanism, initial) => {
                if !conn.write(&out.0).await {
                    return;
                }
                out = Out::default();
                let completion = match session.authenticate(&mut conn, &mechanism, initial).await {
                    Some(completion) => completion,
                    None => return,
                };
                out.line(&format!("{tag} {completion}"));
            }
            Outcome::Idle => {
                if !conn
                    .write(b"+ IDLE accepted, awaiting DONE command.\r\n")
                    .await
                {
                    return;
                }
                loop {
                    match conn.read_line(MAX_LINE).await {
                        Line::Text(line) if line.eq_ignore_ascii_case(b"DONE") => break,
                        Line::Text(_) | Line::TooLong => {}
                        Line::Closed => return,
                    }
                }
                session.announce(&mut out);
                out.line(&format!("{tag} OK IDLE completed."));
            }
        }
        if !conn.write(&out.0).await {
            return;
        }
    }
}

fn flag_list(flags: &[String]) -> String {
    format!("({})", flags.join(" "))
}

fn internal_date(at: time::OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let offset = at.offset();
    let minutes = offset.whole_minutes();
    format!(
        "\"{:02}-{}-{:04} {:02}:{:02}:{:02} {}{:02}{:02}\"",
        at.day(),
        MONTHS[usize::from(u8::from(at.month())) - 1],
        at.year(),
        at.hour(),
        at.minute(),
        at.second(),
        if minutes < 0 { '-' } else { '+' },
        minutes.unsigned_abs() / 60,
        minutes.unsigned_abs() % 60
    )
}

/// `d-Mon-yyyy hh:mm:ss +zzzz` (APPEND's date-time).
fn parse_internal_date(text: &str) -> Option<time::OffsetDateTime> {
    let (date, rest) = text.trim().split_once(' ')?;
    let (clock, zone) = rest.trim().split_once(' ')?;
    let date = imap_parse::parse_date(date.trim())?;
    let mut hms = clock.split(':').map(|p| p.parse::<u8>().ok());
    let time = time::Time::from_hms(hms.next()??, hms.next()??, hms.next()??).ok()?;
    let sign: i32 = if zone.starts_with('-') { -1 } else { 1 };
    let digits: i32 = zone.get(1..)?.parse().ok()?;
    let offset =
        time::UtcOffset::from_whole_seconds(sign * ((digits / 100) * 3600 + (digits % 100) * 60))
            .ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_offset(offset))
}

fn text_arg(args: &[Token], index: usize) -> Result<String, SyntaxError> {
    args.get(index).and_then(Token::text).ok_or(SyntaxError)
}

/// The mailbox name as the client means it (`INBOX` in any case is INBOX).
fn folder_name(name: &str) -> String {
    let name = name.trim_end_matches('/');
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_owned()
    } else {
        name.to_owned()
    }
}

/// IMAP LIST wildcards: `*` matches anything, `%` anything but the hierarchy delimiter.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| wildcard(rest, &name[i..])),
        Some((b'%', rest)) => (0..=name.len())
            .take_while(|i| *i == 0 || name[i - 1] != b'/')
            .any(|i| wildcard(rest, &name[i..])),
        Some((c, rest)) => name
            .split_first()
            .is_some_and(|(n, name_rest)| n.eq_ignore_ascii_case(c) && wildcard(rest, name_rest)),
    }
}

impl Session {
    fn user_oid(&self) -> Option<uuid::Uuid> {
        self.user.as_ref().map(|u| u.oid)
    }

    /// Runs `f` on the signed-in user's mailbox.
    fn with_mailbox<R>(&self, f: impl FnOnce(&mut Mailboxes, uuid::Uuid) -> R) -> Option<R> {
        let oid = self.user_oid()?;
        let mut mailboxes = self.state.mailboxes();
        Some(f(&mut mailboxes, oid))
    }

    fn mailbox<'a>(
        &self,
        mailboxes: &'a mut Mailboxes,
        oid: uuid::Uuid,
    ) -> Option<&'a mut UserMailbox> {
        mailboxes.user(&self.state.shared, oid)
    }

    /// Tells the client about messages that arrived in the selected folder.
    fn announce(&mut self, out: &mut Out) {
        let Some(name) = self.selected.as_ref().map(|s| s.name.clone()) else {
            return;
        };
        let count = self
            .with_mailbox(|mailboxes, oid| {
                self.mailbox(mailboxes, oid)
                    .and_then(|m| m.folder(&name).map(|f| f.messages.len()))
            })
            .flatten()
            .unwrap_or(0);
        if let Some(selected) = self.selected.as_mut()
            && count > selected.exists
        {
            selected.exists = count;
            out.line(&format!("* {count} EXISTS"));
        }
    }

    fn execute(&mut self, out: &mut Out, name: &str, args: &[Token]) -> Outcome {
        let done = |text: &str| Outcome::Done(text.to_owned());
        match name {
            "CAPABILITY" => {
                let list = if self.user.is_some() {
                    CAPABILITY_AUTHENTICATED
                } else {
                    CAPABILITY
                };
                out.line(&format!("* CAPABILITY {list}"));
                return done("OK CAPABILITY completed.");
            }
            "NOOP" => return done("OK NOOP completed."),
            "LOGOUT" => return Outcome::Logout,
            "ID" => {
                out.line("* ID NIL");
                return done("OK ID completed.");
            }
            _ => {}
        }
        if self.user.is_none() {
            return match name {
                "AUTHENTICATE" => match args {
                    [Token::Atom(mechanism)] => {
                        Outcome::Authenticate(mechanism.to_ascii_uppercase(), None)
                    }
                    [Token::Atom(mechanism), initial] => match initial.text() {
                        Some(text) => Outcome::Authenticate(
                            mechanism.to_ascii_uppercase(),
                            Some(text.into_bytes()),
                        ),
                        None => done(BAD_ARGUMENTS),
                    },
                    _ => done(BAD_ARGUMENTS),
                },
                "LOGIN" if args.len() == 2 => done("NO LOGIN failed."),
                "LOGIN" => done(BAD_ARGUMENTS),
                "STARTTLS" => done(BAD_STATE),
                _ if is_known(name) => done(BAD_STATE),
                _ => done(BAD_COMMAND),
            };
        }
        let result = match name {
            "AUTHENTICATE" | "LOGIN" | "STARTTLS" => return done(BAD_STATE),
            "SELECT" | "EXAMINE" => self.select(out, name, args),
            "LIST" | "LSUB" => self.list(out, name, args),
            "STATUS" => self.status(out, args),
            "NAMESPACE" => {
                out.line("* NAMESPACE ((\"\" \"/\")) NIL NIL");
                Ok("OK NAMESPACE completed.".to_owned())
            }
            "CREATE" => self.create(args),
            "DELETE" => self.delete(args),
            "RENAME" => self.rename(args),
            "SUBSCRIBE" | "UNSUBSCRIBE" => {
                text_arg(args, 0).map(|_| format!("OK {name} completed."))
            }
            "APPEND" => self.append(args),
            "IDLE" => return Outcome::Idle,
            "CHECK" | "CLOSE" | "UNSELECT" | "EXPUNGE" | "SEARCH" | "FETCH" | "STORE" | "COPY"
            | "MOVE" | "UID" => {
                if self.selected.is_none() {
                    return done(BAD_STATE);
                }
                self.selected_command(out, name, args)
            }
            _ => return done(BAD_COMMAND),
        };
        match result {
            Ok(completion) => Outcome::Done(completion),
            Err(SyntaxError) => done(BAD_ARGUMENTS),
        }
    }

    async fn authenticate(
        &mut self,
        conn: &mut Connection,
        mechanism: &str,
        initial: Option<Vec<u8>>,
    ) -> Option<String> {
        if !matches!(mechanism, "XOAUTH2" | "PLAIN") {
            return Some("NO The specified authentication mechanism is not supported.".to_owned());
        }
        let response = match initial {
            Some(initial) if initial == b"=" => Vec::new(),
            Some(initial) => initial,
            None => {
                if !conn.write(b"+ \r\n").await {
                    return None;
                }
                match conn.read_line(MAX_LINE).await {
                    Line::Text(line) if line == b"*" => {
                        return Some("BAD Command Argument Error. 12".to_owned());
                    }
                    Line::Text(line) => line,
                    Line::TooLong => return Some(AUTHENTICATE_FAILED.to_owned()),
                    Line::Closed => return None,
                }
            }
        };
        if mechanism == "PLAIN" {
            // Basic authentication is disabled in Exchange Online.
            tracing::info!(peer = %self.peer, "IMAP AUTHENTICATE PLAIN refused");
            return Some(AUTHENTICATE_FAILED.to_owned());
        }
        match auth::authenticate(&self.state.shared, &response, Protocol::Imap) {
            Ok(user) => {
                tracing::info!(peer = %self.peer, user = %user.username, "IMAP AUTHENTICATE XOAUTH2 succeeded");
                self.user = Some(user);
                Some(AUTHENTICATE_OK.to_owned())
            }
            Err(failure) => {
                tracing::info!(peer = %self.peer, %failure, "IMAP AUTHENTICATE XOAUTH2 failed");
                Some(AUTHENTICATE_FAILED.to_owned())
            }
        }
    }

    fn select(&mut self, out: &mut Out, name: &str, args: &[Token]) -> Result<String, SyntaxError> {
        if args.len() != 1 {
            return Err(SyntaxError);
        }
        let folder = folder_name(&text_arg(args, 0)?);
        self.selected = None;
        let read_only = name == "EXAMINE";
        let found = self
            .with_mailbox(|mailboxes, oid| {
                let mailbox = self.mailbox(mailboxes, oid)?;
                let f = mailbox.folder(&folder)?;
                Some((
                    f.name.clone(),
                    f.messages.len(),
                    f.uid_validity,
                    f.uid_next,
                    f.messages.iter().position(|m| !m.has_flag("\\Seen")),
                ))
            })
            .flatten();
        let Some((canonical, exists, validity, next, first_unseen)) = found else {
            return Ok(format!("NO {name} failed."));
        };
        let flags = PERMANENT_FLAGS.join(" ");
        out.line(&format!("* {exists} EXISTS"));
        out.line("* 0 RECENT");
        out.line(&format!("* FLAGS ({flags})"));
        if read_only {
            out.line("* OK [PERMANENTFLAGS ()] Permanent flags");
        } else {
            out.line(&format!("* OK [PERMANENTFLAGS ({flags})] Permanent flags"));
        }
        if let Some(index) = first_unseen {
            out.line(&format!(
                "* OK [UNSEEN {}] Is the first unseen message",
                index + 1
            ));
        }
        out.line(&format!("* OK [UIDVALIDITY {validity}] UIDVALIDITY value"));
        out.line(&format!(
            "* OK [UIDNEXT {next}] The next unique identifier value"
        ));
        self.selected = Some(Selected {
            name: canonical,
            read_only,
            exists,
        });
        Ok(if read_only {
            "OK [READ-ONLY] EXAMINE completed.".to_owned()
        } else {
            "OK [READ-WRITE] SELECT completed.".to_owned()
        })
    }

    fn list(&mut self, out: &mut Out, name: &str, args: &[Token]) -> Result<String, SyntaxError> {
        if args.len() != 2 {
            return Err(SyntaxError);
        }
        let reference = text_arg(args, 0)?;
        let pattern = text_arg(args, 1)?;
        if pattern.is_empty() {
            if name == "LIST" {
                out.line("* LIST (\\Noselect) \"/\" \"\"");
            }
            return Ok(format!("OK {name} completed."));
        }
        let full = format!("{reference}{pattern}");
        let folders: Vec<(String, Option<&'static str>, bool)> = self
            .with_mailbox(|mailboxes, oid| {
                let mailbox = self.mailbox(mailboxes, oid)?;
                Some(
                    mailbox
                        .folders
                        .iter()
                        .map(|f| {
                            let prefix = format!("{}/", f.name);
                            let children = mailbox.folders.iter().any(|c| {
                                c.name.len() > prefix.len()
                                    && c.name[..prefix.len()].eq_ignore_ascii_case(&prefix)
                            });
                            (f.name.clone(), f.special_use, children)
                        })
                        .collect(),
                )
            })
            .flatten()
            .unwrap_or_default();
        for (folder, special, children) in folders {
            // Names compare without case (see mailbox::same_folder).
            if !wildcard(full.as_bytes(), folder.as_bytes()) {
                continue;
            }
            let mut attributes = vec![if children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            }];
            if folder == "INBOX" {
                attributes.insert(0, "\\Marked");
            }
            if let Some(special) = special {
                attributes.push(special);
            }
            let mut line = format!("* {name} ({}) \"/\" ", attributes.join(" ")).into_bytes();
            line.extend(mime::string(folder.as_bytes()));
            out.bytes(&line);
        }
        Ok(format!("OK {name} completed."))
    }

    fn status(&mut self, out: &mut Out, args: &[Token]) -> Result<String, SyntaxError> {
        let folder = folder_name(&text_arg(args, 0)?);
        let Some(Token::List(items)) = args.get(1) else {
            return Err(SyntaxError);
        };
        let items: Vec<String> = items
            .iter()
            .map(|t| t.atom().map(str::to_ascii_uppercase).ok_or(SyntaxError))
            .collect::<Result<_, _>>()?;
        let found = self
            .with_mailbox(|mailboxes, oid| {
                let f = self.mailbox(mailboxes, oid)?.folder(&folder)?;
                Some((
                    f.name.clone(),
                    f.messages.len(),
                    f.uid_next,
                    f.uid_validity,
                    f.unseen(),
                ))
            })
            .flatten();
        let Some((canonical, messages, next, validity, unseen)) = found else {
            return Ok("NO STATUS failed.".to_owned());
        };
        let mut values = Vec::new();
        for item in items {
            let value = match item.as_str() {
                "MESSAGES" => messages,
                "RECENT" => 0,
                "UIDNEXT" => next as usize,
                "UIDVALIDITY" => validity as usize,
                "UNSEEN" => unseen,
                _ => return Err(SyntaxError),
            };
            values.push(format!("{item} {value}"));
        }
        let mut line = b"* STATUS ".to_vec();
        line.extend(mime::string(canonical.as_bytes()));
        line.extend(format!(" ({})", values.join(" ")).into_bytes());
        out.bytes(&line);
        Ok("OK STATUS completed.".to_owned())
    }

    fn create(&mut self, args: &[Token]) -> Result<String, SyntaxError> {
        let folder = folder_name(&text_arg(args, 0)?);
        if folder.is_empty() {
            return Err(SyntaxError);
        }
        let created = self
            .with_mailbox(|mailboxes, oid| {
                let new = mailboxes.new_folder(&folder);
                let mailbox = self.mailbox(mailboxes, oid)?;
                if mailbox.folder(&folder).is_some() {
                    return Some(false);
                }
                mailbox.folders.push(new);
                Some(true)
            })
            .flatten();
        Ok(match created {
            Some(true) => "OK CREATE completed.".to_owned(),
            _ => "NO CREATE failed.".to_owned(),
        })
    }

    fn delete(&mut self, args: &[Token]) -> Result<String, SyntaxError> {
        let folder = folder_name(&text_arg(args, 0)?);
        let deleted = self
            .with_mailbox(|mailboxes, oid| {
                let mailbox = self.mailbox(mailboxes, oid)?;
                let index = mailbox
                    .folders
                    .iter()
                    .position(|f| same_folder(&f.name, &folder))?;
                // Exchange's default folders cannot be deleted.
                if mailbox.folders[index].builtin {
                    return None;
                }
                mailbox.folders.remove(index);
                Some(())
            })
            .flatten();
        if deleted.is_some()
            && self
                .selected
                .as_ref()
                .is_some_and(|s| same_folder(&s.name, &folder))
        {
            self.selected = None;
        }
        Ok(match deleted {
            Some(()) => "OK DELETE completed.".to_owned(),
            None => "NO DELETE failed.".to_owned(),
        })
    }

    fn rename(&mut self, args: &[Token]) -> Result<String, SyntaxError> {
        let from = folder_name(&text_arg(args, 0)?);
        let to = folder_name(&text_arg(args, 1)?);
        let renamed = self
            .with_mailbox(|mailboxes, oid| {
                let mailbox = self.mailbox(mailboxes, oid)?;
                if mailbox.folder(&to).is_some() {
                    return None;
                }
                let index = mailbox
                    .folders
                    .iter()
                    .position(|f| same_folder(&f.name, &from))?;
                if mailbox.folders[index].builtin {
                    return None;
                }
                mailbox.folders[index].name = to.clone();
                Some(())
            })
            .flatten();
        Ok(match renamed {
            Some(()) => "OK RENAME completed.".to_owned(),
            None => "NO RENAME failed.".to_owned(),
        })
    }

    fn append(&mut self, args: &[Token]) -> Result<String, SyntaxError> {
        let folder = folder_name(&text_arg(args, 0)?);
        let mut rest = &args[1..];
        let mut flags = Vec::new();
        if let Some(Token::List(list)) = rest.first() {
            flags = list
                .iter()
                .map(|t| t.atom().map(str::to_owned).ok_or(SyntaxError))
                .collect::<Result<_, _>>()?;
            rest = &rest[1..];
        }
        let mut date = self.state.shared.clock.now();
        if rest.len() == 2 {
            date = parse_internal_date(&rest[0].text().ok_or(SyntaxError)?).ok_or(SyntaxError)?;
            rest = &rest[1..];
        }
        let [Token::Str(message)] = rest else {
            return Err(SyntaxError);
        };
        let message = Arc::new(message.clone());
        let appended = self
            .with_mailbox(|mailboxes, oid| {
                let f = self.mailbox(mailboxes, oid)?.folder_mut(&folder)?;
                let uid = f.append(message, &flags, date);
                Some((f.uid_validity, uid))
            })
            .flatten();
        Ok(match appended {
            Some((validity, uid)) => format!("OK [APPENDUID {validity} {uid}] APPEND completed."),
            None => "NO [TRYCREATE] APPEND failed.".to_owned(),
        })
    }

    fn selected_command(
        &mut self,
        out: &mut Out,
        name: &str,
        args: &[Token],
    ) -> Result<String, SyntaxError> {
        let (uid, name, args) = if name == "UID" {
            let sub = args.first().and_then(Token::atom).ok_or(SyntaxError)?;
            (true, sub.to_ascii_uppercase(), &args[1..])
        } else {
            (false, name.to_owned(), args)
        };
        let Some(selected) = self.selected.as_ref() else {
            return Ok(BAD_STATE.to_owned());
        };
        let selected_name = selected.name.clone();
        let read_only = selected.read_only;
        match (uid, name.as_str()) {
            (false, "CHECK") => return Ok("OK CHECK completed.".to_owned()),
            (false, "UNSELECT") => {
                self.selected = None;
                return Ok("OK UNSELECT completed.".to_owned());
            }
            (false, "CLOSE") => {
                if !read_only {
                    self.with_folder(&selected_name, |folder| {
                        folder.messages.retain(|m| !m.has_flag("\\Deleted"))
                    });
                }
                self.selected = None;
                return Ok("OK CLOSE completed.".to_owned());
            }
            _ => {}
        }
        let oid = self.user_oid().ok_or(SyntaxError)?;
        let state = self.state.clone();
        let mut mailboxes = state.mailboxes();
        let Some(folder) = mailboxes
            .user(&state.shared, oid)
            .and_then(|m| m.folder_mut(&selected_name))
        else {
            return Ok("NO Mailbox doesn't exist.".to_owned());
        };
        let set = |index: usize| -> Result<SequenceSet, SyntaxError> {
            SequenceSet::parse(args.get(index).and_then(Token::atom).ok_or(SyntaxError)?)
        };
        let completion = match (uid, name.as_str()) {
            (_, "FETCH") => {
                let set = set(0)?;
                let items = imap_parse::fetch_items(args.get(1).ok_or(SyntaxError)?)?;
                if args.len() > 2 {
                    return Err(SyntaxError);
                }
                fetch(out, folder, &set, uid, &items, read_only);
                "OK FETCH completed."
            }
            (_, "SEARCH") => {
                let mut criteria = args;
                if criteria
                    .first()
                    .and_then(Token::atom)
                    .is_some_and(|a| a.eq_ignore_ascii_case("CHARSET"))
                {
                    let charset = criteria.get(1).and_then(Token::text).ok_or(SyntaxError)?;
                    if !matches!(charset.to_ascii_uppercase().as_str(), "UTF-8" | "US-ASCII") {
                        return Ok("NO [BADCHARSET (UTF-8 US-ASCII)] SEARCH failed.".to_owned());
                    }
                    criteria = &criteria[2..];
                }
                let key = imap_parse::search_keys(criteria)?;
                let largest_seq = folder.messages.len() as u32;
                let largest_uid = folder.messages.last().map(|m| m.uid).unwrap_or(0);
                let found: Vec<String> = folder
                    .messages
                    .iter()
                    .enumerate()
                    .filter(|(i, m)| {
                        imap_parse::matches(&key, m, *i as u32 + 1, largest_seq, largest_uid)
                    })
                    .map(|(i, m)| if uid { m.uid } else { i as u32 + 1 }.to_string())
                    .collect();
                if found.is_empty() {
                    out.line("* SEARCH");
                } else {
                    out.line(&format!("* SEARCH {}", found.join(" ")));
                }
                "OK SEARCH completed."
            }
            (_, "STORE") => {
                let set = set(0)?;
                let action = args
                    .get(1)
                    .and_then(Token::atom)
                    .ok_or(SyntaxError)?
                    .to_ascii_uppercase();
                let flags: Vec<String> = match &args[2..] {
                    [Token::List(list)] => list
                        .iter()
                        .map(|t| t.atom().map(str::to_owned).ok_or(SyntaxError))
                        .collect::<Result<_, _>>()?,
                    list if !list.is_empty() => list
                        .iter()
                        .map(|t| t.atom().map(str::to_owned).ok_or(SyntaxError))
                        .collect::<Result<_, _>>()?,
                    _ => return Err(SyntaxError),
                };
                let silent = action.ends_with(".SILENT");
                let mode = action.trim_end_matches(".SILENT");
                if !matches!(mode, "FLAGS" | "+FLAGS" | "-FLAGS") {
                    return Err(SyntaxError);
                }
                if read_only {
                    return Ok("NO STORE failed.".to_owned());
                }
                let largest = if uid {
                    folder.messages.last().map(|m| m.uid).unwrap_or(0)
                } else {
                    folder.messages.len() as u32
                };
                for (index, message) in folder.messages.iter_mut().enumerate() {
                    let number = if uid { message.uid } else { index as u32 + 1 };
                    if !set.contains(number, largest) {
                        continue;
                    }
                    match mode {
                        "FLAGS" => {
                            for flag in PERMANENT_FLAGS {
                                let on = flags.iter().any(|f| f.eq_ignore_ascii_case(flag));
                                message.set_flag(flag, on);
                            }
                        }
                        _ => {
                            for flag in &flags {
                                message.set_flag(flag, mode == "+FLAGS");
                            }
                        }
                    }
                    if !silent {
                        let uid_item = if uid {
                            format!("UID {} ", message.uid)
                        } else {
                            String::new()
                        };
                        out.line(&format!(
                            "* {} FETCH ({uid_item}FLAGS {})",
                            index + 1,
                            flag_list(&message.flags)
                        ));
                    }
                }
                "OK STORE completed."
            }
            (_, "EXPUNGE") => {
                if read_only {
                    return Ok("NO EXPUNGE failed.".to_owned());
                }
                let only = if uid { Some(set(0)?) } else { None };
                let largest_uid = folder.messages.last().map(|m| m.uid).unwrap_or(0);
                let mut index = folder.messages.len();
                while index > 0 {
                    index -= 1;
                    let message = &folder.messages[index];
                    let chosen = only
                        .as_ref()
                        .is_none_or(|set| set.contains(message.uid, largest_uid));
                    if chosen && message.has_flag("\\Deleted") {
                        folder.messages.remove(index);
                        out.line(&format!("* {} EXPUNGE", index + 1));
                    }
                }
                let count = folder.messages.len();
                drop(mailboxes);
                if let Some(selected) = self.selected.as_mut() {
                    selected.exists = count;
                }
                return Ok("OK EXPUNGE completed.".to_owned());
            }
            (_, "COPY" | "MOVE") => {
                let set = set(0)?;
                let target = folder_name(&text_arg(args, 1)?);
                if args.len() != 2 {
                    return Err(SyntaxError);
                }
                let largest = if uid {
                    folder.messages.last().map(|m| m.uid).unwrap_or(0)
                } else {
                    folder.messages.len() as u32
                };
                let chosen: Vec<usize> = folder
                    .messages
                    .iter()
                    .enumerate()
                    .filter(|(i, m)| set.contains(if uid { m.uid } else { *i as u32 + 1 }, largest))
                    .map(|(i, _)| i)
                    .collect();
                let copies: Vec<_> = chosen.iter().map(|i| folder.messages[*i].clone()).collect();
                if name == "MOVE" && read_only {
                    return Ok("NO MOVE failed.".to_owned());
                }
                let Some(destination) = mailboxes
                    .user(&state.shared, oid)
                    .and_then(|m| m.folder_mut(&target))
                else {
                    return Ok(format!("NO [TRYCREATE] {name} failed."));
                };
                let mut new_uids = Vec::new();
                for message in &copies {
                    new_uids.push(
                        destination
                            .append(message.raw.clone(), &message.flags, message.internal_date)
                            .to_string(),
                    );
                }
                let validity = destination.uid_validity;
                let old_uids: Vec<String> = copies.iter().map(|m| m.uid.to_string()).collect();
                let code = if copies.is_empty() {
                    String::new()
                } else {
                    format!(
                        "[COPYUID {validity} {} {}] ",
                        old_uids.join(","),
                        new_uids.join(",")
                    )
                };
                if name == "COPY" {
                    return Ok(format!("OK {code}COPY completed."));
                }
                let source = mailboxes
                    .user(&state.shared, oid)
                    .and_then(|m| m.folder_mut(&selected_name));
                if let Some(source) = source {
                    if !code.is_empty() {
                        out.line(&format!("* OK {}", code.trim_end()));
                    }
                    for index in chosen.iter().rev() {
                        source.messages.remove(*index);
                        out.line(&format!("* {} EXPUNGE", index + 1));
                    }
                    let count = source.messages.len();
                    drop(mailboxes);
                    if let Some(selected) = self.selected.as_mut() {
                        selected.exists = count;
                    }
                }
                return Ok("OK MOVE completed.".to_owned());
            }
            _ => return Ok(BAD_COMMAND.to_owned()),
        };
        Ok(completion.to_owned())
    }

    fn with_folder(&self, name: &str, f: impl FnOnce(&mut Folder)) {
        self.with_mailbox(|mailboxes, oid| {
            if let Some(folder) = self
                .mailbox(mailboxes, oid)
                .and_then(|m| m.folder_mut(name))
            {
                f(folder);
            }
        });
    }
}

fn is_known(name: &str) -> bool {
    matches!(
        name,
        "SELECT"
            | "EXAMINE"
            | "CREATE"
            | "DELETE"
            | "RENAME"
            | "SUBSCRIBE"
            | "UNSUBSCRIBE"
            | "LIST"
            | "LSUB"
            | "STATUS"
            | "APPEND"
            | "CHECK"
            | "CLOSE"
            | "UNSELECT"
            | "EXPUNGE"
            | "SEARCH"
            | "FETCH"
            | "STORE"
            | "COPY"
            | "MOVE"
            | "UID"
            | "NAMESPACE"
            | "IDLE"
    )
}

/// FETCH responses for the messages of `set`.
fn fetch(
    out: &mut Out,
    folder: &mut Folder,
    set: &SequenceSet,
    uid: bool,
    items: &[FetchItem],
    read_only: bool,
) {
    let largest = if uid {
        folder.messages.last().map(|m| m.uid).unwrap_or(0)
    } else {
        folder.messages.len() as u32
    };
    let sets_seen = !read_only && items.iter().any(FetchItem::sets_seen);
    for (index, message) in folder.messages.iter_mut().enumerate() {
        let number = if uid { message.uid } else { index as u32 + 1 };
        if !set.contains(number, largest) {
            continue;
        }
        let newly_seen = sets_seen && message.set_flag("\\Seen", true);
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut has_uid = false;
        let mut has_flags = false;
        for item in items {
            let part = match item {
                FetchItem::Uid => {
                    has_uid = true;
                    format!("UID {}", message.uid).into_bytes()
                }
                FetchItem::Flags => {
                    has_flags = true;
                    format!("FLAGS {}", flag_list(&message.flags)).into_bytes()
                }
                FetchItem::InternalDate => {
                    format!("INTERNALDATE {}", internal_date(message.internal_date)).into_bytes()
                }
                FetchItem::Rfc822Size => format!("RFC822.SIZE {}", message.raw.len()).into_bytes(),
                FetchItem::Envelope => {
                    [b"ENVELOPE ".to_vec(), mime::envelope(&message.raw)].concat()
                }
                FetchItem::BodyStructure => [
                    b"BODYSTRUCTURE ".to_vec(),
                    mime::body_structure(&message.raw, true),
                ]
                .concat(),
                FetchItem::Body => {
                    [b"BODY ".to_vec(), mime::body_structure(&message.raw, false)].concat()
                }
                FetchItem::Rfc822 => [b"RFC822 ".to_vec(), mime::literal(&message.raw)].concat(),
                FetchItem::Rfc822Header => [
                    b"RFC822.HEADER ".to_vec(),
                    mime::literal(mime::split(&message.raw).0),
                ]
                .concat(),
                FetchItem::Rfc822Text => [
                    b"RFC822.TEXT ".to_vec(),
                    mime::literal(mime::split(&message.raw).1),
                ]
                .concat(),
                FetchItem::Section {
                    section, partial, ..
                } => {
                    let mut bytes = section_bytes(&message.raw, section);
                    let mut name = format!("BODY[{}]", section_name(section));
                    if let Some((start, length)) = partial {
                        let start = (*start).min(bytes.len());
                        let end = start.saturating_add(*length).min(bytes.len());
                        bytes = bytes[start..end].to_vec();
                        name.push_str(&format!("<{start}>"));
                    }
                    [name.into_bytes(), b" ".to_vec(), mime::literal(&bytes)].concat()
                }
            };
            parts.push(part);
        }
        if uid && !has_uid {
            parts.insert(0, format!("UID {}", message.uid).into_bytes());
        }
        if newly_seen && !has_flags {
            parts.push(format!("FLAGS {}", flag_list(&message.flags)).into_bytes());
        }
        let mut line = format!("* {} FETCH (", index + 1).into_bytes();
        line.extend(parts.join(&b' '));
        line.push(b')');
        out.bytes(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_wildcards() {
        assert!(wildcard(b"*", b"Sent Items"));
        assert!(wildcard(b"INBOX*", b"INBOX"));
        assert!(wildcard(b"%", b"Drafts"));
        assert!(!wildcard(b"%", b"Archive/2024"));
        assert!(wildcard(b"Archive/%", b"Archive/2024"));
        assert!(!wildcard(b"Sent", b"Sent Items"));
        assert!(wildcard(b"sent items", b"Sent Items"));
    }

    #[test]
    fn internal_dates_both_ways() {
        let at = time::macros::datetime!(2024-06-03 09:05:07 UTC);
        assert_eq!(internal_date(at), "\"03-Jun-2024 09:05:07 +0000\"");
        assert_eq!(parse_internal_date("3-Jun-2024 11:05:07 +0200"), Some(at));
    }
}
