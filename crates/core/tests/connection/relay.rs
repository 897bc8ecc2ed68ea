//! A TCP relay in front of the emulator that records the head of every request it passes on,
//! with the time it arrived: what the server really received (headers, request line) and when.
//! Pointed at as a proxy, it relays absolute-form requests (`GET http://host/path`), which the
//! emulator serves too.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    /// Request line and headers, as sent.
    pub head: String,
}

impl Seen {
    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    /// The value of a header (name in any case), if the request had it.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

#[derive(Clone)]
pub struct Relay {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

const METHODS: [&str; 6] = ["GET ", "POST ", "PUT ", "PATCH ", "DELETE ", "HEAD "];

impl Relay {
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap(),
            seen: Arc::default(),
        };
        let seen = relay.seen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(pass_on(client, target, seen.clone()));
            }
        });
        relay
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

/// One client connection. The client (hyper) sends a request only after the previous answer,
/// so each read that starts with a method starts a request; the heads here are small enough to
/// arrive in one read on loopback.
async fn pass_on(client: TcpStream, target: SocketAddr, seen: Arc<Mutex<Vec<Seen>>>) {
    let Ok(upstream) = TcpStream::connect(target).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_upstream, mut to_upstream) = upstream.into_split();
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_upstream, &mut to_client).await;
        let _ = to_client.shutdown().await;
    });
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from_client.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let chunk = &buffer[..read];
        let text = String::from_utf8_lossy(chunk);
        if METHODS.iter().any(|method| text.starts_with(method)) {
            let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
            seen.lock().unwrap().push(Seen {
                at: Instant::now(),
                head,
            });
        }
        if to_upstream.write_all(chunk).await.is_err() {
            break;
        }
    }
    let _ = to_upstream.shutdown().await;
    let _ = answers.await;
}
