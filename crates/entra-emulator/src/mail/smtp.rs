//! SMTP submission like Exchange Online's `smtp.office365.com:587` (RFC 5321, STARTTLS RFC
//! 3207, AUTH RFC 4954, CHUNKING RFC 3030). The replies are Exchange's: the greeting, EHLO's
//! extensions (AUTH only after STARTTLS: `AUTH LOGIN XOAUTH2`), `235 2.7.0 Authentication
//! successful`, `535 5.7.3 Authentication unsuccessful` for any XOAUTH2 failure, `530 5.7.57`
//! for mail without authentication, `554 5.2.252 SendAsDenied` for another sender. Basic
//! authentication (AUTH LOGIN) is refused, as Exchange Online has it disabled.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_native_tls::TlsAcceptor;

use crate::mail::auth::{self, MailUser, Protocol};
use crate::mail::mailbox::{SENT_ITEMS, rfc2822};
use crate::mail::{Connection, Line, MailState, Submission, find_user, mime};
use crate::store::opaque;

/// Exchange Online's advertised maximum message size.
pub const MAX_SIZE: usize = 157_286_400;
const MAX_LINE: usize = 64 * 1024;
const MAX_RECIPIENTS: usize = 500;

pub const AUTH_OK: &str = "235 2.7.0 Authentication successful";
pub const AUTH_FAILED: &str = "535 5.7.3 Authentication unsuccessful";

struct Session {
    state: Arc<MailState>,
    peer: SocketAddr,
    tls: bool,
    greeted: bool,
    user: Option<MailUser>,
    mail_from: Option<String>,
    recipients: Vec<String>,
    chunks: Option<Vec<u8>>,
}

enum Next {
    Continue,
    StartTls,
    Quit,
}

/// Serves one connection until QUIT, EOF, a failed handshake or shutdown.
pub(crate) async fn serve(
    state: Arc<MailState>,
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let mut conn = Connection::new(Box::new(stream));
    let mut session = Session {
        state,
        peer,
        tls: false,
        greeted: false,
        user: None,
        mail_from: None,
        recipients: Vec::new(),
        chunks: None,
    };
    let greeting = format!(
        "220 {} Microsoft ESMTP MAIL Service ready at {}\r\n",
        session.state.server_name,
        rfc2822(session.state.shared.clock.now())
    );
    if !conn.write(greeting.as_bytes()).await {
        return;
    }
    loop {
        let line = match conn.read_line(MAX_LINE).await {
            Line::Text(line) => line,
            Line::TooLong => {
                if !conn.write(b"500 5.5.2 Line too long\r\n").await {
                    return;
                }
                continue;
            }
            Line::Closed => return,
        };
        match session.command(&mut conn, &line).await {
            Next::Continue => {}
            Next::Quit => return,
            Next::StartTls => {
                let stream = conn.into_stream();
                match acceptor.accept(stream).await {
                    Ok(tls) => {
                        conn = Connection::new(Box::new(tls));
                        session.tls = true;
                        session.greeted = false;
                        session.user = None;
                        session.reset();
                    }
                    Err(error) => {
                        tracing::debug!(%peer, %error, "SMTP TLS handshake failed");
                        return;
                    }
                }
            }
        }
    }
}

/// The address inside `<...>` after `FROM:`/`TO:`, and the parameters after it.
fn path(argument: &str, keyword: &str) -> Option<(String, String)> {
    let upper = argument.to_ascii_uppercase();
    let rest = argument[upper.find(keyword)? + keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let close = rest.find('>')?;
    let address = rest[..close].trim();
    // A source route (@a,@b:user@host) is ignored, as RFC 5321 allows.
    let address = address.rsplit_once(':').map(|(_, a)| a).unwrap_or(address);
    Some((address.to_owned(), rest[close + 1..].trim().to_owned()))
}

fn valid_address(address: &str) -> bool {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !address.contains(char::is_whitespace)
        }
        None => false,
    }
}

impl Session {
    fn reset(&mut self) {
        self.mail_from = None;
        self.recipients.clear();
        self.chunks = None;
    }

    fn ehlo_reply(&self) -> String {
        let mut lines = vec![
            format!("{} Hello [{}]", self.state.server_name, self.peer.ip()),
            format!("SIZE {MAX_SIZE}"),
            "PIPELINING".to_owned(),
            "DSN".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
        ];
        if self.tls {
            lines.push("AUTH LOGIN XOAUTH2".to_owned());
        } else {
            lines.push("STARTTLS".to_owned());
        }
        for extension in ["8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8"] {
            lines.push(extension.to_owned());
        }
        let last = lines.len() - 1;
        lines
            .iter()
            .enumerate()
            .map(|(i, line)| format!("250{}{line}\r\n", if i == last { ' ' } else { '-' }))
            .collect()
    }

    async fn reply(&self, conn: &mut Connection, text: &str) -> Next {
        if conn.write(format!("{text}\r\n").as_bytes()).await {
            Next::Continue
        } else {
            Next::Quit
        }
    }

    async fn command(&mut self, conn: &mut Connection, line: &[u8]) -> Next {
        let text = String::from_utf8_lossy(line).into_owned();
        let (verb, argument) = text
            .split_once(' ')
            .map(|(v, a)| (v.to_ascii_uppercase(), a.trim().to_owned()))
            .unwrap_or_else(|| (text.trim().to_ascii_uppercase(), String::new()));
        tracing::debug!(peer = %self.peer, %verb, "SMTP command");
        match verb.as_str() {
            "EHLO" | "HELO" => {
                if argument.is_empty() {
                    return self.reply(conn, "501 5.5.4 Invalid domain name").await;
                }
                self.greeted = true;
                self.reset();
                if verb == "HELO" {
                    let text = format!("250 {} Hello [{}]", self.state.server_name, self.peer.ip());
                    return self.reply(conn, &text).await;
                }
                let reply = self.ehlo_reply();
                if conn.write(reply.as_bytes()).await {
                    Next::Continue
                } else {
                    Next::Quit
                }
            }
            "STARTTLS" => {
                if self.tls {
                    return self.reply(conn, "503 5.5.1 Bad sequence of commands").await;
                }
                if !argument.is_empty() {
                    return self.reply(conn, "501 5.5.4 Syntax error").await;
                }
                match self.reply(conn, "220 2.0.0 SMTP server ready").await {
                    Next::Continue => Next::StartTls,
                    other => other,
                }
            }
            "AUTH" => self.auth(conn, &argument).await,
            "MAIL" => self.mail(conn, &argument).await,
            "RCPT" => self.rcpt(conn, &argument).await,
            "DATA" => self.data(conn).await,
            "BDAT" => self.bdat(conn, &argument).await,
            "RSET" => {
                self.reset();
                self.reply(conn, "250 2.0.0 Resetting").await
            }
            "NOOP" => self.reply(conn, "250 2.0.0 OK").await,
            "VRFY" => self.reply(conn, "252 2.1.5 Cannot VRFY user").await,
            "QUIT" => {
                self.reply(conn, "221 2.0.0 Service closing transmission channel")
                    .await;
                Next::Quit
            }
            _ => self.reply(conn, "500 5.3.3 Unrecognized command").await,
        }
    }

    async fn auth(&mut self, conn: &mut Connection, argument: &str) -> Next {
        if !self.greeted {
            return self.reply(conn, "503 5.5.2 Send hello first").await;
        }
        if self.user.is_some() {
            return self.reply(conn, "503 5.5.2 Already authenticated").await;
        }
        if self.mail_from.is_some() {
            return self.reply(conn, "503 5.5.1 Bad sequence of commands").await;
        }
        let mut words = argument.split_whitespace();
        let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
        let initial = words.next().map(str::to_owned);
        // Before STARTTLS Exchange offers no AUTH at all.
        if !self.tls || !matches!(mechanism.as_str(), "XOAUTH2" | "LOGIN") {
            return self
                .reply(conn, "504 5.7.4 Unrecognized authentication type")
                .await;
        }
        if mechanism == "LOGIN" {
            // Basic authentication is disabled in Exchange Online: the exchange completes and
            // fails.
            for prompt in ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"] {
                if initial.is_some() && prompt.ends_with("VXNlcm5hbWU6") {
                    continue;
                }
                if let Next::Quit = self.reply(conn, prompt).await {
                    return Next::Quit;
                }
                match conn.read_line(MAX_LINE).await {
                    Line::Text(line) if line == b"*" => {
                        return self.reply(conn, "501 5.7.0 Authentication cancelled").await;
                    }
                    Line::Text(_) | Line::TooLong => {}
                    Line::Closed => return Next::Quit,
                }
            }
            return self
                .reply(
                    conn,
                    "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
                )
                .await;
        }
        let response = match initial {
            Some(initial) if initial != "=" => initial.into_bytes(),
            Some(_) => Vec::new(),
            None => {
                if let Next::Quit = self.reply(conn, "334 ").await {
                    return Next::Quit;
                }
                match conn.read_line(MAX_LINE).await {
                    Line::Text(line) if line == b"*" => {
                        return self.reply(conn, "501 5.7.0 Authentication cancelled").await;
                    }
                    Line::Text(line) => line,
                    Line::TooLong => return self.reply(conn, AUTH_FAILED).await,
                    Line::Closed => return Next::Quit,
                }
            }
        };
        match auth::authenticate(&self.state.shared, &response, Protocol::Smtp) {
            Ok(user) => {
                tracing::info!(peer = %self.peer, user = %user.username, "SMTP AUTH XOAUTH2 succeeded");
                self.user = Some(user);
                self.reply(conn, AUTH_OK).await
            }
            Err(failure) => {
                tracing::info!(peer = %self.peer, %failure, "SMTP AUTH XOAUTH2 failed");
                self.reply(conn, AUTH_FAILED).await
            }
        }
    }

    async fn mail(&mut self, conn: &mut Connection, argument: &str) -> Next {
        if !self.greeted {
            return self.reply(conn, "503 5.5.2 Send hello first").await;
        }
        if self.user.is_none() {
            return self
                .reply(conn, "530 5.7.57 Client not authenticated to send mail")
                .await;
        }
        if self.mail_from.is_some() {
            return self.reply(conn, "503 5.5.2 Sender already specified").await;
        }
        let Some((address, parameters)) = path(argument, "FROM:") else {
            return self.reply(conn, "501 5.5.4 Invalid arguments").await;
        };
        if !address.is_empty() && !valid_address(&address) {
            return self.reply(conn, "501 5.1.7 Invalid address").await;
        }
        let size = parameters.split_whitespace().find_map(|p| {
            p.to_ascii_uppercase()
                .strip_prefix("SIZE=")?
                .parse::<usize>()
                .ok()
        });
        if size.is_some_and(|size| size > MAX_SIZE) {
            return self
                .reply(
                    conn,
                    "552 5.3.4 Message size exceeds fixed maximum message size",
                )
                .await;
        }
        self.mail_from = Some(address);
        self.reply(conn, "250 2.1.0 Sender OK").await
    }

    async fn rcpt(&mut self, conn: &mut Connection, argument: &str) -> Next {
        if self.mail_from.is_none() {
            return self.reply(conn, "503 5.5.2 Need mail command").await;
        }
        let Some((address, _)) = path(argument, "TO:") else {
            return self.reply(conn, "501 5.5.4 Invalid arguments").await;
        };
        if !valid_address(&address) {
            return self.reply(conn, "501 5.1.3 Invalid address").await;
        }
        if self.recipients.len() >= MAX_RECIPIENTS {
            return self.reply(conn, "452 4.5.3 Too many recipients").await;
        }
        self.recipients.push(address);
        self.reply(conn, "250 2.1.5 Recipient OK").await
    }

    async fn data(&mut self, conn: &mut Connection) -> Next {
        if self.mail_from.is_none() {
            return self.reply(conn, "503 5.5.2 Need mail command").await;
        }
        if self.recipients.is_empty() {
            return self.reply(conn, "503 5.5.2 Need rcpt command").await;
        }
        if self.chunks.is_some() {
            return self.reply(conn, "503 5.5.1 Bad sequence of commands").await;
        }
        if let Next::Quit = self
            .reply(conn, "354 Start mail input; end with <CRLF>.<CRLF>")
            .await
        {
            return Next::Quit;
        }
        let mut data = Vec::new();
        let mut too_big = false;
        loop {
            match conn.read_line(MAX_SIZE).await {
                Line::Text(line) => {
                    if line == b"." {
                        break;
                    }
                    let line = line.strip_prefix(b".").unwrap_or(&line);
                    if data.len() + line.len() + 2 > MAX_SIZE {
                        too_big = true;
                        data.clear();
                    }
                    if !too_big {
                        data.extend_from_slice(line);
                        data.extend_from_slice(b"\r\n");
                    }
                }
                Line::TooLong => too_big = true,
                Line::Closed => return Next::Quit,
            }
        }
        if too_big {
            self.reset();
            return self
                .reply(
                    conn,
                    "552 5.3.4 Message size exceeds fixed maximum message size",
                )
                .await;
        }
        self.finish(conn, data).await
    }

    async fn bdat(&mut self, conn: &mut Connection, argument: &str) -> Next {
        let mut words = argument.split_whitespace();
        let size = words.next().and_then(|n| n.parse::<usize>().ok());
        let last = words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
        let Some(size) = size else {
            return self.reply(conn, "501 5.5.4 Invalid arguments").await;
        };
        // The chunk is on the wire whatever we answer; read it first.
        if size > MAX_SIZE {
            return Next::Quit;
        }
        let Some(chunk) = conn.read_exact(size).await else {
            return Next::Quit;
        };
        if self.mail_from.is_none() {
            return self.reply(conn, "503 5.5.2 Need mail command").await;
        }
        if self.recipients.is_empty() {
            return self.reply(conn, "503 5.5.2 Need rcpt command").await;
        }
        let mut data = self.chunks.take().unwrap_or_default();
        if data.len() + chunk.len() > MAX_SIZE {
            self.reset();
            return self
                .reply(
                    conn,
                    "552 5.3.4 Message size exceeds fixed maximum message size",
                )
                .await;
        }
        data.extend_from_slice(&chunk);
        if last {
            self.finish(conn, data).await
        } else {
            self.chunks = Some(data);
            self.reply(conn, &format!("250 2.0.0 {size} bytes received"))
                .await
        }
    }

    /// Checks the sender, delivers and records the message.
    async fn finish(&mut self, conn: &mut Connection, data: Vec<u8>) -> Next {
        let Some(user) = self.user.clone() else {
            return self
                .reply(conn, "530 5.7.57 Client not authenticated to send mail")
                .await;
        };
        let mail_from = self.mail_from.clone().unwrap_or_default();
        let recipients = std::mem::take(&mut self.recipients);
        self.reset();
        let own = |address: &str| {
            address.eq_ignore_ascii_case(&user.username) || address.eq_ignore_ascii_case(&user.mail)
        };
        let (header, _) = mime::split(&data);
        let from_header: Vec<String> = mime::value(header, "From")
            .map(|v| {
                mime::addresses(&v)
                    .into_iter()
                    .map(|a| format!("{}@{}", a.mailbox, a.host))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(other) = std::iter::once(mail_from.clone())
            .chain(from_header)
            .find(|address| !own(address))
        {
            let text = format!(
                "554 5.2.252 SendAsDenied; {} not allowed to send as {other}; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied",
                user.username
            );
            return self.reply(conn, &text).await;
        }
        let message_id = format!("<{}@{}>", opaque(12), self.state.server_name);
        let now = self.state.shared.clock.now();
        let mut stored = format!(
            "Received: from [{}] by {} with ESMTPSA; {}\r\n",
            self.peer.ip(),
            self.state.server_name,
            rfc2822(now)
        )
        .into_bytes();
        if mime::value(header, "Message-ID").is_none() {
            stored.extend_from_slice(format!("Message-ID: {message_id}\r\n").as_bytes());
        }
        stored.extend_from_slice(&data);
        let stored = Arc::new(stored);
        let mut delivered_to = Vec::new();
        {
            let shared = &self.state.shared;
            let mut mailboxes = self.state.mailboxes();
            for recipient in &recipients {
                if let Some(found) = find_user(shared, recipient)
                    && let Some(mailbox) = mailboxes.user(shared, found.oid)
                    && let Some(inbox) = mailbox.folder_mut("INBOX")
                {
                    inbox.append(stored.clone(), &[], now);
                    delivered_to.push(recipient.clone());
                }
            }
            if let Some(mailbox) = mailboxes.user(shared, user.oid)
                && let Some(sent) = mailbox.folder_mut(SENT_ITEMS)
            {
                sent.append(stored.clone(), &["\\Seen".to_owned()], now);
            }
        }
        tracing::info!(
            peer = %self.peer,
            user = %user.username,
            recipients = recipients.len(),
            delivered = delivered_to.len(),
            "SMTP message accepted"
        );
        self.state.submissions().push(Submission {
            user: user.username.clone(),
            mail_from,
            recipients,
            data,
            delivered_to,
        });
        let text = format!(
            "250 2.0.0 OK {message_id} [Hostname={}]",
            self.state.server_name
        );
        self.reply(conn, &text).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_parameters_are_read() {
        assert_eq!(
            path("FROM:<a@b.c> SIZE=10 BODY=8BITMIME", "FROM:"),
            Some(("a@b.c".to_owned(), "SIZE=10 BODY=8BITMIME".to_owned()))
        );
        assert_eq!(
            path("to: <@x,@y:d@e.f>", "TO:"),
            Some(("d@e.f".to_owned(), String::new()))
        );
        assert_eq!(path("FROM:a@b.c", "FROM:"), None);
        assert!(valid_address("a@b.c"));
        assert!(!valid_address("ab.c"));
    }
}
