//! The mailboxes behind IMAP and SMTP. Each user's mailbox is made on first use: Exchange's
//! default folders, with INBOX holding the same messages Graph's `/me/messages` lists
//! (`messages_per_user`, or the user's `messages`), as RFC 5322 text. Graph lists newest first,
//! IMAP numbers oldest first: Graph's message `i` (0 = newest) of `n` has UID `n - i`.
//! Messages submitted over SMTP are delivered to recipients in the directory and copied to the
//! sender's Sent Items, as Exchange Online does. Changes made over IMAP (flags, expunges,
//! deliveries) are not seen by Graph, which keeps listing the generated messages.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::directory::User;
use crate::mail::mime;
use crate::state::Shared;

/// The flags Exchange keeps (its PERMANENTFLAGS); other keywords are dropped.
pub const PERMANENT_FLAGS: &[&str] = &[
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "$MDNSent",
];

/// Exchange Online's default mail folders and their special-use attributes.
const DEFAULT_FOLDERS: &[(&str, Option<&str>)] = &[
    ("INBOX", None),
    ("Archive", Some("\\Archive")),
    ("Deleted Items", Some("\\Trash")),
    ("Drafts", Some("\\Drafts")),
    ("Junk Email", Some("\\Junk")),
    ("Outbox", None),
    ("Sent Items", Some("\\Sent")),
];

/// Sent Items, where SMTP submissions are copied.
pub const SENT_ITEMS: &str = "Sent Items";

#[derive(Debug, Clone)]
pub struct Message {
    pub uid: u32,
    pub flags: Vec<String>,
    pub internal_date: OffsetDateTime,
    pub raw: Arc<Vec<u8>>,
}

impl Message {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }

    /// Adds or removes permanent flags; returns whether anything changed.
    pub fn set_flag(&mut self, flag: &str, on: bool) -> bool {
        let Some(canonical) = PERMANENT_FLAGS
            .iter()
            .find(|f| f.eq_ignore_ascii_case(flag))
        else {
            return false;
        };
        match (self.has_flag(flag), on) {
            (false, true) => {
                self.flags.push((*canonical).to_owned());
                true
            }
            (true, false) => {
                self.flags.retain(|f| !f.eq_ignore_ascii_case(flag));
                true
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Folder {
    pub name: String,
    pub special_use: Option<&'static str>,
    pub uid_validity: u32,
    pub uid_next: u32,
    /// One of Exchange's default folders, which cannot be deleted or renamed.
    pub builtin: bool,
    /// Ordered by UID; sequence number = index + 1.
    pub messages: Vec<Message>,
}

impl Folder {
    fn new(name: &str, special_use: Option<&'static str>, uid_validity: u32) -> Folder {
        Folder {
            name: name.to_owned(),
            special_use,
            uid_validity,
            uid_next: 1,
            builtin: false,
            messages: Vec::new(),
        }
    }

    /// Appends a message; returns its UID.
    pub fn append(&mut self, raw: Arc<Vec<u8>>, flags: &[String], date: OffsetDateTime) -> u32 {
        let uid = self.uid_next;
        self.uid_next += 1;
        let mut message = Message {
            uid,
            flags: Vec::new(),
            internal_date: date,
            raw,
        };
        for flag in flags {
            message.set_flag(flag, true);
        }
        self.messages.push(message);
        uid
    }

    pub fn unseen(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| !m.has_flag("\\Seen"))
            .count()
    }
}

/// One user's folders.
#[derive(Debug, Clone)]
pub struct UserMailbox {
    pub folders: Vec<Folder>,
}

/// Folder names compare without case for INBOX (RFC 3501) and, as in Exchange, for the rest.
pub fn same_folder(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl UserMailbox {
    pub fn folder(&self, name: &str) -> Option<&Folder> {
        self.folders.iter().find(|f| same_folder(&f.name, name))
    }

    pub fn folder_mut(&mut self, name: &str) -> Option<&mut Folder> {
        self.folders.iter_mut().find(|f| same_folder(&f.name, name))
    }
}

/// Every user's mailbox, made on first use.
#[derive(Debug, Default)]
pub struct Mailboxes {
    users: HashMap<Uuid, UserMailbox>,
    next_uid_validity: u32,
}

impl Mailboxes {
    /// The user's mailbox, generating it the first time.
    pub fn user(&mut self, state: &Shared, oid: Uuid) -> Option<&mut UserMailbox> {
        let user = state.dir.user(oid)?;
        if !self.users.contains_key(&oid) {
            let mailbox = self.generate(state, user);
            self.users.insert(oid, mailbox);
        }
        self.users.get_mut(&oid)
    }

    fn validity(&mut self) -> u32 {
        self.next_uid_validity += 1;
        self.next_uid_validity
    }

    /// A new folder's UIDVALIDITY (unique among this emulator's folders).
    pub fn new_folder(&mut self, name: &str) -> Folder {
        let validity = self.validity();
        Folder::new(name, None, validity)
    }

    fn generate(&mut self, state: &Shared, user: &User) -> UserMailbox {
        let mut folders: Vec<Folder> = DEFAULT_FOLDERS
            .iter()
            .map(|(name, special)| {
                let validity = self.validity();
                let mut folder = Folder::new(name, *special, validity);
                folder.builtin = true;
                folder
            })
            .collect();
        let count = user
            .config
            .messages
            .unwrap_or(state.config.messages_per_user) as usize;
        let inbox = &mut folders[0];
        for index in (0..count).rev() {
            let (raw, received, seen) = generated_message(user, index);
            let flags = if seen {
                vec!["\\Seen".to_owned()]
            } else {
                Vec::new()
            };
            inbox.append(Arc::new(raw), &flags, received);
        }
        UserMailbox { folders }
    }
}

/// The RFC 2822 date-time of a message header, `Mon, 03 Jun 2024 09:00:00 +0000`.
pub fn rfc2822(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default()
}

/// Graph's generated message `index` (0 = newest) as RFC 5322 text, when it was received and
/// whether it is read: the same subject, preview, sender, recipient, time and read state
/// `GET /me/messages` shows (graph.rs `message_json`).
pub fn generated_message(user: &User, index: usize) -> (Vec<u8>, OffsetDateTime, bool) {
    let received = time::macros::datetime!(2024-06-03 09:00 UTC) - Duration::hours(index as i64);
    let id = URL_SAFE_NO_PAD.encode(format!("AAMk:{}:{index}", user.oid));
    let display = &user.config.display_name;
    let body = format!(
        "This is message {} in {display}'s emulated mailbox.",
        index + 1
    );
    let text = format!(
        "Message-ID: <{id}@emulator.invalid>\r\n\
         Date: {date}\r\n\
         From: \"Emulator\" <noreply@emulator.invalid>\r\n\
         To: {to}\r\n\
         Subject: Emulated message {number}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=\"utf-8\"\r\n\
         Content-Transfer-Encoding: {encoding}\r\n\
         \r\n\
         {body}\r\n",
        date = rfc2822(received),
        to = mime::mailbox(display, user.mail()),
        number = index + 1,
        encoding = if body.is_ascii() { "7bit" } else { "8bit" },
    );
    (text.into_bytes(), received, index.is_multiple_of(3))
}
