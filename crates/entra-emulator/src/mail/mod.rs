//! Exchange Online's mail protocols with OAuth, as Microsoft documents them in "Authenticate an
//! IMAP, POP or SMTP connection using OAuth"
//! (https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth):
//!
//! * SMTP submission like `smtp.office365.com:587` ([`smtp`]): EHLO, STARTTLS, then
//!   `AUTH XOAUTH2` (and nothing before TLS), MAIL/RCPT/DATA/BDAT;
//! * IMAP4rev1 like `outlook.office365.com:993` ([`imap`]): TLS from the first byte,
//!   `AUTHENTICATE XOAUTH2` (with or without SASL-IR), then enough IMAP for mail clients to
//!   list, sync and read the mailboxes of [`mailbox`].
//!
//! Tokens are checked as Exchange does ([`auth`]). Both servers listen on addresses the caller
//! picks (port 0 = any free port) with TLS from a certificate authority generated at start
//! ([`tls`]); [`MailServers::ca_certificate_pem`] is what clients must trust.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = entra_emulator::Emulator::start(
//!     entra_emulator::sandbox::config(),
//!     "127.0.0.1:0".parse()?,
//! )
//! .await?;
//! let mail = emulator.start_mail(entra_emulator::MailOptions::default()).await?;
//! println!("SMTP on {}, IMAP on {}", mail.smtp_addr(), mail.imap_addr());
//! std::fs::write("ca.pem", mail.ca_certificate_pem())?;
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod imap;
pub mod imap_parse;
pub mod mailbox;
pub mod mime;
pub mod smtp;
pub mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::Emulator;
use crate::state::AppState;

pub use auth::{AuthFailure, MailUser, Protocol};
pub use mailbox::Message;

/// Where the mail servers listen.
#[derive(Debug, Clone)]
pub struct MailOptions {
    /// SMTP submission with STARTTLS (Exchange: `smtp.office365.com:587`).
    pub smtp: SocketAddr,
    /// IMAP over TLS (Exchange: `outlook.office365.com:993`).
    pub imap: SocketAddr,
}

impl Default for MailOptions {
    /// Both on `127.0.0.1`, any free port.
    fn default() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        MailOptions {
            smtp: any,
            imap: any,
        }
    }
}

/// Why the mail servers could not start.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("certificate generation task failed: {0}")]
    Task(String),
}

/// A message accepted over SMTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The user principal name the connection authenticated as.
    pub user: String,
    /// `MAIL FROM` and `RCPT TO` addresses.
    pub mail_from: String,
    pub recipients: Vec<String>,
    /// The message as received (dot-unstuffed).
    pub data: Vec<u8>,
    /// Recipients in the directory, whose INBOX got the message.
    pub delivered_to: Vec<String>,
}

/// What both servers share: the emulator's state, the mailboxes and what SMTP accepted.
pub(crate) struct MailState {
    pub shared: AppState,
    pub server_name: String,
    mailboxes: Mutex<mailbox::Mailboxes>,
    submissions: Mutex<Vec<Submission>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MailState {
    pub fn mailboxes(&self) -> MutexGuard<'_, mailbox::Mailboxes> {
        lock(&self.mailboxes)
    }

    pub fn submissions(&self) -> MutexGuard<'_, Vec<Submission>> {
        lock(&self.submissions)
    }
}

/// The running SMTP and IMAP servers. Dropping it (or [`MailServers::shutdown`]) stops both
/// and closes their connections.
pub struct MailServers {
    smtp_addr: SocketAddr,
    imap_addr: SocketAddr,
    ca_pem: String,
    state: Arc<MailState>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for MailServers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailServers")
            .field("smtp_addr", &self.smtp_addr)
            .field("imap_addr", &self.imap_addr)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts Exchange Online's SMTP submission and IMAP servers for this emulator's users
    /// and tokens (see [`crate::mail`]).
    pub async fn start_mail(&self, options: MailOptions) -> Result<MailServers, MailError> {
        MailServers::start(self.shared.clone(), options).await
    }
}

impl MailServers {
    async fn start(shared: AppState, options: MailOptions) -> Result<MailServers, MailError> {
        let bind = |addr: SocketAddr| async move {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| MailError::Bind { addr, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| MailError::Bind { addr, source })?;
            Ok::<_, MailError>((listener, local))
        };
        let (smtp_listener, smtp_addr) = bind(options.smtp).await?;
        let (imap_listener, imap_addr) = bind(options.imap).await?;
        let material = tokio::task::spawn_blocking(tls::generate)
            .await
            .map_err(|error| MailError::Task(error.to_string()))??;
        let state = Arc::new(MailState {
            shared,
            server_name: "EMULATOR01.mail.emulator.invalid".to_owned(),
            mailboxes: Mutex::new(mailbox::Mailboxes::default()),
            submissions: Mutex::new(Vec::new()),
        });
        let acceptor = material.acceptor;
        let smtp_state = state.clone();
        let smtp_acceptor = acceptor.clone();
        let smtp = tokio::spawn(accept_loop(smtp_listener, move |stream, peer| {
            smtp::serve(smtp_state.clone(), smtp_acceptor.clone(), stream, peer)
        }));
        let imap_state = state.clone();
        let imap = tokio::spawn(accept_loop(imap_listener, move |stream, peer| {
            imap::serve(imap_state.clone(), acceptor.clone(), stream, peer)
        }));
        tracing::info!(%smtp_addr, %imap_addr, "entra-emulator mail servers started");
        Ok(MailServers {
            smtp_addr,
            imap_addr,
            ca_pem: material.ca_pem,
            state,
            tasks: vec![smtp, imap],
        })
    }

    /// The SMTP submission server (STARTTLS).
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp_addr
    }

    /// The IMAP server (TLS from the start).
    pub fn imap_addr(&self) -> SocketAddr {
        self.imap_addr
    }

    /// PEM of the certificate authority that signed both servers' certificate (valid for
    /// `localhost`, `127.0.0.1` and `::1`).
    pub fn ca_certificate_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Every message SMTP accepted, in order.
    pub fn submissions(&self) -> Vec<Submission> {
        self.state.submissions().clone()
    }

    /// The messages of one of a user's folders (user principal name or mail address), oldest
    /// first; `None` for no such user or folder.
    pub fn messages(&self, username: &str, folder: &str) -> Option<Vec<Message>> {
        let oid = find_user(&self.state.shared, username)?.oid;
        let mut mailboxes = self.state.mailboxes();
        let mailbox = mailboxes.user(&self.state.shared, oid)?;
        mailbox.folder(folder).map(|f| f.messages.clone())
    }

    /// Stops both servers and closes every connection.
    pub async fn shutdown(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A directory user by user principal name or mail address.
pub(crate) fn find_user<'a>(
    state: &'a crate::state::Shared,
    address: &str,
) -> Option<&'a crate::directory::User> {
    state.dir.users.iter().find(|u| {
        u.username().eq_ignore_ascii_case(address) || u.mail().eq_ignore_ascii_case(address)
    })
}

/// Accepts connections until aborted; aborting drops the set, which ends every connection.
async fn accept_loop<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(tokio::net::TcpStream, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                connections.spawn(serve(stream, peer));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// A byte stream a mail session runs on: TCP, or TLS over it.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How long a connection may stay silent before it is closed.
const IDLE: Duration = Duration::from_secs(30 * 60);

/// A line-oriented connection (CRLF, or a bare LF from lenient clients).
pub(crate) struct Connection {
    reader: BufReader<Box<dyn Io>>,
}

/// What reading a line gave.
pub(crate) enum Line {
    Text(Vec<u8>),
    TooLong,
    Closed,
}

impl Connection {
    pub fn new(stream: Box<dyn Io>) -> Connection {
        Connection {
            reader: BufReader::new(stream),
        }
    }

    /// The stream without what was read ahead (a command pipelined after STARTTLS is dropped,
    /// RFC 3207 §4.2).
    pub fn into_stream(self) -> Box<dyn Io> {
        self.reader.into_inner()
    }

    /// One line without its line ending. A line over `limit` bytes is read to its end and
    /// reported as too long.
    pub async fn read_line(&mut self, limit: usize) -> Line {
        let mut line = Vec::new();
        let mut too_long = false;
        loop {
            let available = match tokio::time::timeout(IDLE, self.reader.fill_buf()).await {
                Ok(Ok(buffer)) => buffer,
                _ => return Line::Closed,
            };
            if available.is_empty() {
                return Line::Closed;
            }
            let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
                Some(at) => (&available[..=at], true),
                None => (available, false),
            };
            if !too_long {
                line.extend_from_slice(chunk);
                if line.len() > limit + 2 {
                    too_long = true;
                    line.clear();
                }
            }
            let used = chunk.len();
            self.reader.consume(used);
            if done {
                break;
            }
        }
        if too_long {
            return Line::TooLong;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        Line::Text(line)
    }

    /// Exactly `n` bytes.
    pub async fn read_exact(&mut self, n: usize) -> Option<Vec<u8>> {
        let mut buffer = vec![0u8; n];
        match tokio::time::timeout(IDLE, self.reader.read_exact(&mut buffer)).await {
            Ok(Ok(_)) => Some(buffer),
            _ => None,
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) -> bool {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).await.is_ok() && stream.flush().await.is_ok()
    }
}
