//! Exchange Online's SMTP submission and IMAP with XOAUTH2, over real TLS on loopback:
//! the happy paths and every failure reply.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entra_emulator::{Emulator, MailOptions, MailServers};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::common::*;

const IMAP_ONLY_APP: &str = "aaaaaaaa-0000-4000-8000-000000000007";
const IMAP: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";
const SMTP: &str = "https://outlook.office.com/SMTP.Send";

/// The test directory with IMAP consented for the pre-consented app (which also has SMTP),
/// and an app with only IMAP consented.
async fn start_mail() -> (Emulator, MailServers) {
    let mut config = config();
    let tenant = &mut config.tenants[0];
    let pre = tenant
        .apps
        .iter_mut()
        .find(|a| a.client_id.to_string() == PRECONSENTED_APP)
        .expect("pre-consented app");
    pre.pre_consented_scopes.push(IMAP.to_owned());
    let mut imap_only = pre.clone();
    imap_only.client_id = IMAP_ONLY_APP.parse().expect("uuid");
    imap_only.pre_consented_scopes = vec![IMAP.to_owned(), "offline_access".to_owned()];
    tenant.apps.push(imap_only);
    let emulator = start_with(config).await;
    let mail = emulator
        .start_mail(MailOptions::default())
        .await
        .expect("mail servers start");
    (emulator, mail)
}

async fn access_token(base: &str, app: &str, user: &str, scope: &str) -> String {
    let (status, body) = token(
        base,
        TENANT,
        &[
            ("grant_type", "password"),
            ("client_id", app),
            ("username", user),
            ("password", PASSWORD),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

fn xoauth2(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A line-at-a-time client that can switch to TLS.
struct Client {
    stream: Option<BufReader<Box<dyn Stream>>>,
    ca: String,
}

impl Client {
    async fn plain(addr: std::net::SocketAddr, ca: &str) -> Client {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        Client {
            stream: Some(BufReader::new(Box::new(tcp))),
            ca: ca.to_owned(),
        }
    }

    async fn tls(addr: std::net::SocketAddr, ca: &str) -> Client {
        let mut client = Client::plain(addr, ca).await;
        client.start_tls().await;
        client
    }

    /// TLS on the connection, verifying the emulator's certificate for `localhost`.
    async fn start_tls(&mut self) {
        let connector = native_tls::TlsConnector::builder()
            .add_root_certificate(
                native_tls::Certificate::from_pem(self.ca.as_bytes()).expect("ca pem"),
            )
            .disable_built_in_roots(true)
            .build()
            .expect("connector");
        let connector = tokio_native_tls::TlsConnector::from(connector);
        let inner = self.stream.take().expect("stream").into_inner();
        let tls = connector
            .connect("localhost", inner)
            .await
            .expect("the certificate verifies for localhost");
        self.stream = Some(BufReader::new(Box::new(tls)));
    }

    async fn send(&mut self, line: &str) {
        let stream = self.stream.as_mut().expect("stream").get_mut();
        stream
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        stream.flush().await.expect("flush");
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        let read = self
            .stream
            .as_mut()
            .expect("stream")
            .read_line(&mut line)
            .await
            .expect("read");
        assert!(read > 0, "the server closed the connection");
        line.trim_end_matches(['\r', '\n']).to_owned()
    }

    /// An SMTP reply: every line up to the one with a space after the code.
    async fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    async fn smtp(&mut self, command: &str) -> Vec<String> {
        self.send(command).await;
        self.reply().await
    }

    /// An IMAP command's response: untagged lines (literals included as text) and the tagged
    /// completion.
    async fn imap(&mut self, tag: &str, command: &str) -> (Vec<String>, String) {
        self.send(&format!("{tag} {command}")).await;
        self.until_tagged(tag).await
    }

    async fn until_tagged(&mut self, tag: &str) -> (Vec<String>, String) {
        let mut untagged = Vec::new();
        loop {
            let mut line = self.line().await;
            // Literals: read the announced bytes and the rest of the line.
            while let Some(size) = literal_size(&line) {
                let mut data = vec![0u8; size];
                tokio::io::AsyncReadExt::read_exact(
                    self.stream.as_mut().expect("stream"),
                    &mut data,
                )
                .await
                .expect("literal");
                line.push_str("\r\n");
                line.push_str(&String::from_utf8_lossy(&data));
                line.push_str(&self.line().await);
            }
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return (untagged, rest.to_owned());
            }
            untagged.push(line);
        }
    }
}

fn literal_size(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].parse().ok()
}

/// EHLO, STARTTLS and EHLO again; returns the second EHLO's lines.
async fn smtp_ready(mail: &MailServers) -> (Client, Vec<String>) {
    let mut client = Client::plain(mail.smtp_addr(), mail.ca_certificate_pem()).await;
    let greeting = client.reply().await;
    assert!(
        greeting[0].starts_with("220 ")
            && greeting[0].contains("Microsoft ESMTP MAIL Service ready at"),
        "{greeting:?}"
    );
    let ehlo = client.smtp("EHLO client.example").await;
    assert!(ehlo.iter().any(|l| l == "250-STARTTLS"), "{ehlo:?}");
    assert!(
        !ehlo.iter().any(|l| l.contains("AUTH")),
        "no AUTH before TLS: {ehlo:?}"
    );
    assert_eq!(
        client.smtp("STARTTLS").await,
        ["220 2.0.0 SMTP server ready"]
    );
    client.start_tls().await;
    let ehlo = client.smtp("EHLO client.example").await;
    (client, ehlo)
}

#[tokio::test]
async fn smtp_starttls_auth_xoauth2_and_a_message_delivered() {
    let (emulator, mail) = start_mail().await;
    let base = emulator.base_url();
    let smtp_token = access_token(&base, PRECONSENTED_APP, ALICE, SMTP).await;

    // Before TLS: no AUTH, and no mail without it.
    let mut plain = Client::plain(mail.smtp_addr(), mail.ca_certificate_pem()).await;
    plain.reply().await;
    plain.smtp("EHLO client.example").await;
    assert_eq!(
        plain
            .smtp(&format!("AUTH XOAUTH2 {}", xoauth2(ALICE, &smtp_token)))
            .await,
        ["504 5.7.4 Unrecognized authentication type"]
    );
    assert_eq!(
        plain.smtp(&format!("MAIL FROM:<{ALICE}>")).await,
        ["530 5.7.57 Client not authenticated to send mail"]
    );

    let (mut client, ehlo) = smtp_ready(&mail).await;
    assert!(
        ehlo.iter().any(|l| l == "250-AUTH LOGIN XOAUTH2"),
        "{ehlo:?}"
    );
    assert!(ehlo.iter().any(|l| l == "250-SIZE 157286400"), "{ehlo:?}");
    assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    assert_eq!(
        client.smtp(&format!("MAIL FROM:<{ALICE}>")).await,
        ["530 5.7.57 Client not authenticated to send mail"]
    );
    assert_eq!(
        client
            .smtp(&format!("AUTH XOAUTH2 {}", xoauth2(ALICE, &smtp_token)))
            .await,
        ["235 2.7.0 Authentication successful"]
    );
    assert_eq!(
        client.smtp(&format!("MAIL FROM:<{ALICE}> SIZE=300")).await,
        ["250 2.1.0 Sender OK"]
    );
    assert_eq!(
        client.smtp(&format!("RCPT TO:<{ALICE}>")).await,
        ["250 2.1.5 Recipient OK"]
    );
    assert_eq!(
        client.smtp("RCPT TO:<someone@example.com>").await,
        ["250 2.1.5 Recipient OK"]
    );
    assert_eq!(
        client.smtp("DATA").await,
        ["354 Start mail input; end with <CRLF>.<CRLF>"]
    );
    client.send(&format!("From: Alice <{ALICE}>\r\nTo: {ALICE}\r\nSubject: over SMTP\r\n\r\nhello\r\n..dot-stuffed\r\n.")).await;
    let accepted = client.reply().await;
    assert!(accepted[0].starts_with("250 2.0.0 OK <"), "{accepted:?}");
    assert_eq!(
        client.smtp("QUIT").await,
        ["221 2.0.0 Service closing transmission channel"]
    );

    let submissions = mail.submissions();
    assert_eq!(submissions.len(), 1);
    let sent = &submissions[0];
    assert_eq!(sent.user, ALICE);
    assert_eq!(sent.mail_from, ALICE);
    assert_eq!(sent.recipients, [ALICE, "someone@example.com"]);
    assert_eq!(sent.delivered_to, [ALICE]);
    assert!(String::from_utf8_lossy(&sent.data).ends_with("hello\r\n.dot-stuffed\r\n"));
    // Delivered to the recipient in the directory, copied to the sender's Sent Items.
    let inbox = mail.messages(ALICE, "INBOX").expect("inbox");
    assert_eq!(inbox.len(), 24, "23 generated + 1 delivered");
    let newest = String::from_utf8_lossy(&inbox[23].raw).into_owned();
    assert!(newest.contains("Subject: over SMTP"), "{newest}");
    assert!(newest.starts_with("Received: from [127.0.0.1]"), "{newest}");
    let sent_items = mail.messages(ALICE, "Sent Items").expect("sent items");
    assert_eq!(sent_items.len(), 1);
    assert!(sent_items[0].has_flag("\\Seen"));

    // The continuation form: AUTH XOAUTH2, an empty 334 challenge, then the response.
    let (mut client, _) = smtp_ready(&mail).await;
    assert_eq!(client.smtp("AUTH XOAUTH2").await, ["334 "]);
    assert_eq!(
        client.smtp(&xoauth2(ALICE, &smtp_token)).await,
        ["235 2.7.0 Authentication successful"]
    );
    // Sending as someone else is refused after DATA, as Exchange does.
    client.smtp(&format!("MAIL FROM:<{ALICE}>")).await;
    client.smtp(&format!("RCPT TO:<{ALICE}>")).await;
    client.smtp("DATA").await;
    client
        .send(&format!("From: {BOB_MFA}\r\nSubject: spoof\r\n\r\nx\r\n."))
        .await;
    let denied = client.reply().await;
    assert!(
        denied[0].starts_with(&format!(
            "554 5.2.252 SendAsDenied; {ALICE} not allowed to send as {BOB_MFA}"
        )),
        "{denied:?}"
    );
    assert_eq!(mail.submissions().len(), 1);
}

#[tokio::test]
async fn smtp_refuses_bad_expired_wrong_audience_and_other_tokens_with_535() {
    let (emulator, mail) = start_mail().await;
    let base = emulator.base_url();
    let smtp_token = access_token(&base, PRECONSENTED_APP, ALICE, SMTP).await;
    let graph_token = access_token(&base, PRECONSENTED_APP, ALICE, "User.Read").await;
    let imap_only = access_token(&base, IMAP_ONLY_APP, ALICE, IMAP).await;
    let failed = ["535 5.7.3 Authentication unsuccessful"];
    let cases = [
        ("Graph audience", xoauth2(ALICE, &graph_token)),
        ("no SMTP.Send scope", xoauth2(ALICE, &imap_only)),
        ("another user's mailbox", xoauth2(BOB_MFA, &smtp_token)),
        ("not a token", xoauth2(ALICE, "not.a.token")),
        ("not base64", "%%%".to_owned()),
        (
            "not XOAUTH2",
            STANDARD.encode(format!("user={ALICE}\x01auth=Bearer {smtp_token}")),
        ),
    ];
    for (what, response) in cases {
        let (mut client, _) = smtp_ready(&mail).await;
        assert_eq!(
            client.smtp(&format!("AUTH XOAUTH2 {response}")).await,
            failed,
            "{what}"
        );
        // Still unauthenticated.
        assert_eq!(
            client.smtp(&format!("MAIL FROM:<{ALICE}>")).await,
            ["530 5.7.57 Client not authenticated to send mail"],
            "{what}"
        );
    }
    // A foreign signature: the same claims signed by another emulator.
    let (other, _other_mail) = start_mail().await;
    let foreign = access_token(&other.base_url(), PRECONSENTED_APP, ALICE, SMTP).await;
    let (mut client, _) = smtp_ready(&mail).await;
    assert_eq!(
        client
            .smtp(&format!("AUTH XOAUTH2 {}", xoauth2(ALICE, &foreign)))
            .await,
        failed
    );

    // Basic authentication is disabled.
    let (mut client, _) = smtp_ready(&mail).await;
    assert_eq!(client.smtp("AUTH LOGIN").await, ["334 VXNlcm5hbWU6"]);
    assert_eq!(
        client.smtp(&STANDARD.encode(ALICE)).await,
        ["334 UGFzc3dvcmQ6"]
    );
    assert_eq!(
        client.smtp(&STANDARD.encode(PASSWORD)).await,
        ["535 5.7.139 Authentication unsuccessful, basic authentication is disabled."]
    );
    assert_eq!(
        client.smtp("AUTH CRAM-MD5").await,
        ["504 5.7.4 Unrecognized authentication type"]
    );

    // Expired on the emulator's clock.
    emulator.control().advance_clock(3601);
    let (mut client, _) = smtp_ready(&mail).await;
    assert_eq!(
        client
            .smtp(&format!("AUTH XOAUTH2 {}", xoauth2(ALICE, &smtp_token)))
            .await,
        failed
    );
    assert!(mail.submissions().is_empty());
}

fn count_fetches(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.contains(" FETCH (")).count()
}

#[tokio::test]
async fn imap_authenticate_xoauth2_then_list_select_fetch_search_store_and_logout() {
    let (emulator, mail) = start_mail().await;
    let base = emulator.base_url();
    let imap_token = access_token(&base, PRECONSENTED_APP, ALICE, IMAP).await;
    let mut client = Client::tls(mail.imap_addr(), mail.ca_certificate_pem()).await;
    let greeting = client.line().await;
    assert!(
        greeting.starts_with("* OK The Microsoft Exchange IMAP4 service is ready. ["),
        "{greeting}"
    );
    let (caps, done) = client.imap("C01", "CAPABILITY").await;
    assert_eq!(done, "OK CAPABILITY completed.");
    assert!(
        caps[0].contains(" AUTH=XOAUTH2 ") && caps[0].contains(" SASL-IR "),
        "{caps:?}"
    );
    assert_eq!(
        client.imap("C02", "SELECT INBOX").await.1,
        "BAD Command received in Invalid state."
    );
    assert_eq!(
        client
            .imap("C03", &format!("LOGIN {ALICE} \"{PASSWORD}\""))
            .await
            .1,
        "NO LOGIN failed."
    );
    assert_eq!(
        client
            .imap(
                "A01",
                &format!("AUTHENTICATE XOAUTH2 {}", xoauth2(ALICE, &imap_token))
            )
            .await
            .1,
        "OK AUTHENTICATE completed."
    );
    let (caps, _) = client.imap("A02", "CAPABILITY").await;
    assert!(caps[0].contains(" MOVE "), "{caps:?}");
    let (namespace, _) = client.imap("A03", "NAMESPACE").await;
    assert_eq!(namespace, ["* NAMESPACE ((\"\" \"/\")) NIL NIL"]);

    let (delimiter, done) = client.imap("A04", "LIST \"\" \"\"").await;
    assert_eq!(
        (delimiter[0].as_str(), done.as_str()),
        ("* LIST (\\Noselect) \"/\" \"\"", "OK LIST completed.")
    );
    let (folders, _) = client.imap("A05", "LIST \"\" \"*\"").await;
    assert!(
        folders.contains(&"* LIST (\\Marked \\HasNoChildren) \"/\" \"INBOX\"".to_owned()),
        "{folders:?}"
    );
    assert!(
        folders.contains(&"* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"".to_owned()),
        "{folders:?}"
    );
    let (inbox_only, _) = client.imap("A06", "LIST \"\" INBOX").await;
    assert_eq!(inbox_only.len(), 1, "{inbox_only:?}");

    let (status, done) = client
        .imap("A07", "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)")
        .await;
    assert_eq!(done, "OK STATUS completed.");
    // 23 messages; Graph's read ones are every third from the newest: 8 read, 15 unread.
    assert_eq!(
        status,
        ["* STATUS \"INBOX\" (MESSAGES 23 UNSEEN 15 UIDNEXT 24)"]
    );

    let (selected, done) = client.imap("A08", "SELECT INBOX").await;
    assert_eq!(done, "OK [READ-WRITE] SELECT completed.");
    assert!(selected.contains(&"* 23 EXISTS".to_owned()), "{selected:?}");
    assert!(
        selected.iter().any(|l| l.starts_with("* OK [UIDVALIDITY ")),
        "{selected:?}"
    );
    assert!(
        selected.contains(&"* OK [UIDNEXT 24] The next unique identifier value".to_owned()),
        "{selected:?}"
    );

    // What mbsync asks first.
    let (fetched, done) = client
        .imap(
            "A09",
            "UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (X-TUID MESSAGE-ID)])",
        )
        .await;
    assert_eq!(done, "OK FETCH completed.");
    assert_eq!(count_fetches(&fetched), 23);
    assert_eq!(
        fetched
            .iter()
            .filter(|l| l.contains("FLAGS (\\Seen)"))
            .count(),
        8
    );
    assert!(
        fetched[22].starts_with("* 23 FETCH (UID 23 FLAGS (\\Seen) RFC822.SIZE "),
        "{}",
        fetched[22]
    );
    assert!(
        fetched[22].contains("BODY[HEADER.FIELDS (X-TUID MESSAGE-ID)] {"),
        "{}",
        fetched[22]
    );
    assert!(fetched[22].contains("\r\nMessage-ID: <"), "{}", fetched[22]);

    // The newest message (UID 23) is Graph's first message.
    let (whole, _) = client.imap("A10", "UID FETCH 23 (BODY.PEEK[])").await;
    assert!(
        whole[0].contains("Subject: Emulated message 1\r\n"),
        "{whole:?}"
    );
    let graph = client_get_messages(
        &base,
        &access_token(&base, PRECONSENTED_APP, ALICE, "Mail.Read").await,
    )
    .await;
    assert_eq!(graph["value"][0]["subject"], "Emulated message 1");
    assert!(
        whole[0].contains(graph["value"][0]["bodyPreview"].as_str().expect("preview")),
        "{whole:?}"
    );

    // What neomutt asks for its index.
    let (index, _) = client
        .imap("A11", "FETCH 1:23 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT TO)])")
        .await;
    assert_eq!(count_fetches(&index), 23);
    assert!(index[0].contains("INTERNALDATE \""), "{}", index[0]);

    let (unseen, _) = client.imap("A12", "UID SEARCH UNSEEN").await;
    assert_eq!(unseen[0].split(' ').count(), 2 + 15, "{unseen:?}");
    let (found, _) = client
        .imap("A13", "SEARCH SUBJECT \"message 23\" SINCE 1-Jun-2024")
        .await;
    assert_eq!(found, ["* SEARCH 1"]);

    // A non-peek fetch marks the message read and says so.
    let (read, _) = client
        .imap("A14", "FETCH 3 (BODY[HEADER.FIELDS (SUBJECT)])")
        .await;
    assert!(read[0].ends_with("FLAGS (\\Seen))"), "{read:?}");
    let (stored, done) = client
        .imap("A15", "UID STORE 1 +FLAGS (\\Deleted \\Flagged)")
        .await;
    assert_eq!(done, "OK STORE completed.");
    assert_eq!(stored, ["* 1 FETCH (UID 1 FLAGS (\\Deleted \\Flagged))"]);
    let (expunged, _) = client.imap("A16", "EXPUNGE").await;
    assert_eq!(expunged, ["* 1 EXPUNGE"]);
    let (structure, _) = client.imap("A17", "FETCH 1 (ENVELOPE BODYSTRUCTURE)").await;
    assert!(
        structure[0].contains("BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\")"),
        "{structure:?}"
    );
    assert!(
        structure[0].contains("((\"Emulator\" NIL \"noreply\" \"emulator.invalid\"))"),
        "{structure:?}"
    );

    // A message delivered meanwhile is announced.
    let smtp_token = access_token(&base, PRECONSENTED_APP, ALICE, SMTP).await;
    let (mut smtp, _) = smtp_ready(&mail).await;
    smtp.smtp(&format!("AUTH XOAUTH2 {}", xoauth2(ALICE, &smtp_token)))
        .await;
    smtp.smtp(&format!("MAIL FROM:<{ALICE}>")).await;
    smtp.smtp(&format!("RCPT TO:<{ALICE}>")).await;
    smtp.smtp("DATA").await;
    smtp.send("Subject: new\r\n\r\nnew\r\n.").await;
    smtp.reply().await;
    assert_eq!(
        client.imap("A18", "NOOP").await,
        (
            vec!["* 23 EXISTS".to_owned()],
            "OK NOOP completed.".to_owned()
        )
    );

    assert_eq!(
        client.imap("A19", "FROBNICATE").await.1,
        "BAD Command Error. 10"
    );
    assert_eq!(
        client.imap("A20", "UID FETCH x FLAGS").await.1,
        "BAD Command Argument Error. 11"
    );
    assert_eq!(
        client.imap("A21", "EXAMINE \"Sent Items\"").await.1,
        "OK [READ-ONLY] EXAMINE completed."
    );
    assert_eq!(
        client.imap("A22", "SELECT Nowhere").await.1,
        "NO SELECT failed."
    );
    let (bye, done) = client.imap("A23", "LOGOUT").await;
    assert_eq!(
        bye,
        ["* BYE Microsoft Exchange Server IMAP4 server signing off."]
    );
    assert_eq!(done, "OK LOGOUT completed.");
}

async fn client_get_messages(base: &str, token: &str) -> serde_json::Value {
    client()
        .get(format!("{base}/v1.0/me/messages?$top=1"))
        .bearer_auth(token)
        .send()
        .await
        .expect("graph")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn imap_refuses_bad_expired_wrong_audience_and_other_tokens_with_authenticate_failed() {
    let (emulator, mail) = start_mail().await;
    let base = emulator.base_url();
    let imap_token = access_token(&base, PRECONSENTED_APP, ALICE, IMAP).await;
    let graph_token = access_token(&base, PRECONSENTED_APP, ALICE, "User.Read").await;
    // The common directory's pre-consented app without IMAP: an Exchange token with SMTP only.
    let smtp_only_emulator = start_with(config()).await;
    let smtp_only_mail = smtp_only_emulator
        .start_mail(MailOptions::default())
        .await
        .expect("mail");
    let smtp_only = access_token(
        &smtp_only_emulator.base_url(),
        PRECONSENTED_APP,
        ALICE,
        SMTP,
    )
    .await;
    let failed = "NO AUTHENTICATE failed.";
    let cases = [
        ("Graph audience", xoauth2(ALICE, &graph_token)),
        ("another user's mailbox", xoauth2(BOB_MFA, &imap_token)),
        ("not a token", xoauth2(ALICE, "eyJ.eyJ.sig")),
        ("not base64", "%%%".to_owned()),
    ];
    for (what, response) in cases {
        let mut client = Client::tls(mail.imap_addr(), mail.ca_certificate_pem()).await;
        client.line().await;
        let (_, done) = client
            .imap("A1", &format!("AUTHENTICATE XOAUTH2 {response}"))
            .await;
        assert_eq!(done, failed, "{what}");
        assert_eq!(
            client.imap("A2", "SELECT INBOX").await.1,
            "BAD Command received in Invalid state.",
            "{what}"
        );
    }
    let mut client = Client::tls(
        smtp_only_mail.imap_addr(),
        smtp_only_mail.ca_certificate_pem(),
    )
    .await;
    client.line().await;
    let (_, done) = client
        .imap(
            "A1",
            &format!("AUTHENTICATE XOAUTH2 {}", xoauth2(ALICE, &smtp_only)),
        )
        .await;
    assert_eq!(done, failed, "no IMAP.AccessAsUser.All scope");

    // The continuation form (no SASL-IR), as Python's imaplib sends it.
    let mut client = Client::tls(mail.imap_addr(), mail.ca_certificate_pem()).await;
    client.line().await;
    client.send("B1 AUTHENTICATE XOAUTH2").await;
    assert_eq!(client.line().await, "+ ");
    client.send(&xoauth2(ALICE, &imap_token)).await;
    assert_eq!(
        client.until_tagged("B1").await.1,
        "OK AUTHENTICATE completed."
    );
    assert_eq!(
        client
            .imap(
                "B2",
                &format!("AUTHENTICATE XOAUTH2 {}", xoauth2(ALICE, &imap_token))
            )
            .await
            .1,
        "BAD Command received in Invalid state."
    );
    // Cancelled.
    let mut client = Client::tls(mail.imap_addr(), mail.ca_certificate_pem()).await;
    client.line().await;
    client.send("B1 AUTHENTICATE XOAUTH2").await;
    client.line().await;
    client.send("*").await;
    assert_eq!(
        client.until_tagged("B1").await.1,
        "BAD Command Argument Error. 12"
    );
    // Basic authentication is disabled.
    let plain = STANDARD.encode(format!("\0{ALICE}\0{PASSWORD}"));
    assert_eq!(
        client
            .imap("B2", &format!("AUTHENTICATE PLAIN {plain}"))
            .await
            .1,
        failed
    );

    // Expired on the emulator's clock.
    emulator.control().advance_clock(3601);
    let mut client = Client::tls(mail.imap_addr(), mail.ca_certificate_pem()).await;
    client.line().await;
    let (_, done) = client
        .imap(
            "A1",
            &format!("AUTHENTICATE XOAUTH2 {}", xoauth2(ALICE, &imap_token)),
        )
        .await;
    assert_eq!(done, failed, "expired");
}

#[tokio::test]
async fn the_certificate_is_for_loopback_names_only_and_servers_stop() {
    let (_emulator, mail) = start_mail().await;
    let connector = tokio_native_tls::TlsConnector::from(
        native_tls::TlsConnector::builder()
            .add_root_certificate(
                native_tls::Certificate::from_pem(mail.ca_certificate_pem().as_bytes())
                    .expect("pem"),
            )
            .disable_built_in_roots(true)
            .build()
            .expect("connector"),
    );
    let tcp = TcpStream::connect(mail.imap_addr()).await.expect("connect");
    assert!(
        connector
            .connect("outlook.office365.com", tcp)
            .await
            .is_err(),
        "the emulator's certificate does not claim Microsoft's names"
    );
    let addr = mail.imap_addr();
    mail.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err(), "stopped");
}

/// The standalone binary, as a mail client's tests would run it: `--smtp-port`, `--imap-port`
/// and `--mail-ca` start both servers and write the certificate authority they trust.
#[tokio::test]
async fn the_standalone_binary_serves_smtp_and_imap_with_the_ca_it_writes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ca_path = dir.path().join("mail-ca.pem");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
        .args([
            "--sandbox",
            "--smtp-port",
            "0",
            "--imap-port",
            "0",
            "--mail-ca",
        ])
        .arg(&ca_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the emulator binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut addresses = Vec::new();
    for prefix in [
        "entra-emulator listening on http://",
        "entra-emulator SMTP (STARTTLS) on ",
        "entra-emulator IMAP (TLS) on ",
    ] {
        let line = stdout.next_line().await.expect("stdout").expect("a line");
        let rest = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line}"));
        let address: std::net::SocketAddr = rest
            .parse()
            .unwrap_or_else(|_| panic!("an address in {line}"));
        addresses.push(address);
    }
    let (smtp, imap) = (addresses[1], addresses[2]);
    let ca = std::fs::read_to_string(&ca_path).expect("the CA file was written");

    let mut client = Client::plain(smtp, &ca).await;
    assert!(client.reply().await[0].starts_with("220 "));
    client.smtp("EHLO client.example").await;
    assert_eq!(
        client.smtp("STARTTLS").await,
        ["220 2.0.0 SMTP server ready"]
    );
    client.start_tls().await;
    let ehlo = client.smtp("EHLO client.example").await;
    assert!(
        ehlo.iter()
            .any(|l| l.contains("AUTH") && l.contains("XOAUTH2")),
        "{ehlo:?}"
    );

    let mut client = Client::tls(imap, &ca).await;
    let greeting = client.line().await;
    assert!(greeting.starts_with("* OK"), "{greeting}");
    child.kill().await.expect("the emulator stops");
}
