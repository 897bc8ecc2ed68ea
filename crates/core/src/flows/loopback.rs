//! A one-shot HTTP listener on `127.0.0.1` that receives the sign-in redirect (RFC 8252 §7.3),
//! for desktop and CLI sign-ins without a deep link or copy-and-paste.
//!
//! Microsoft matches a registered `http://127.0.0.1` redirect URI on any port, so the listener
//! takes a free port. It answers only the request that carries the pending flow's `state`;
//! anything else (a browser's favicon request, another local program probing the port, a stale
//! tab) gets a 400 page and the listener keeps waiting, so a local attacker cannot end the
//! sign-in by knocking first.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::PendingFlow;
use crate::error::{Error, Result};
use crate::secret::Secret;

const DONE_PAGE: &str = "<!doctype html><meta charset=utf-8><title>o365-auth</title>\
<body style=\"font-family:sans-serif;margin:3em\"><h1 id=\"signin-complete\">Signed in</h1>\
<p>You can close this tab and return to o365-auth.</p></body>";

/// Microsoft sent the person back with `error=` (consent declined, a policy, ...): o365-auth
/// explains it; the page only says where to look.
fn not_done_page(error: &str) -> String {
    // Only the OAuth error code is shown, limited to its alphabet, so nothing from the
    // address can inject markup.
    let code: String = error
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    format!(
        "<!doctype html><meta charset=utf-8><title>o365-auth</title>\
<body style=\"font-family:sans-serif;margin:3em\"><h1 id=\"signin-not-done\">Not signed in</h1>\
<p>Microsoft answered <code id=\"signin-error\">{code}</code>. o365-auth says what happened and \
what to do; you can close this tab.</p></body>"
    )
}

const REFUSED_PAGE: &str = "<!doctype html><meta charset=utf-8><title>o365-auth</title>\
<body style=\"font-family:sans-serif;margin:3em\"><h1 id=\"signin-refused\">Not this sign-in</h1>\
<p>This address does not belong to the sign-in o365-auth is waiting for. \
Start the sign-in again from o365-auth.</p></body>";

pub struct LoopbackListener {
    listener: TcpListener,
    port: u16,
}

impl LoopbackListener {
    /// Binds `127.0.0.1:port`; port 0 takes any free port.
    pub async fn bind(port: u16) -> Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(|error| {
                Error::invalid_input(
                    "loopback port",
                    format!("127.0.0.1:{port} cannot be used ({error})"),
                )
            })?;
        let port = listener
            .local_addr()
            .map_err(|error| {
                Error::protocol(format!("the loopback listener has no address: {error}"))
            })?
            .port();
        Ok(LoopbackListener { listener, port })
    }

    /// The redirect URI to pass to [`super::IdentityClient::authorization_url`].
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for the redirect of `pending` and returns the URL it arrived on, to pass to
    /// [`super::IdentityClient::complete`]. Dropping the future stops listening (cancel);
    /// callers bound the wait with `tokio::time::timeout`.
    pub async fn wait_for(self, pending: &PendingFlow) -> Result<String> {
        let (found, mut received) = mpsc::channel::<String>(1);
        let base = self.redirect_uri();
        let state = Secret::new(pending.state.as_str());
        loop {
            tokio::select! {
                Some(url) = received.recv() => return Ok(url),
                accepted = self.listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let found = found.clone();
                    let base = base.clone();
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request: Request<Incoming>| {
                            let answer = answer(&request, &base, &state, &found);
                            async move { Ok::<_, Infallible>(answer) }
                        });
                        // Errors here are a client hanging up or speaking garbage; the wait
                        // goes on for the real redirect.
                        let _ = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(10))
                            .keep_alive(false)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        }
    }
}

fn answer(
    request: &Request<Incoming>,
    base: &str,
    state: &Secret,
    found: &mpsc::Sender<String>,
) -> Response<Full<Bytes>> {
    let query = request.uri().query().unwrap_or_default();
    let carries_state = url::form_urlencoded::parse(query.as_bytes())
        .any(|(name, value)| name == "state" && Secret::new(value.as_ref()) == *state);
    let error = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "error")
        .map(|(_, value)| value.into_owned());
    let (status, page) = if request.uri().path() == "/" && carries_state {
        // A full channel means the redirect already arrived; this is a duplicate.
        let _ = found.try_send(format!("{base}/?{query}"));
        match error {
            Some(error) => (StatusCode::OK, not_done_page(&error)),
            None => (StatusCode::OK, DONE_PAGE.to_owned()),
        }
    } else {
        (StatusCode::BAD_REQUEST, REFUSED_PAGE.to_owned())
    };
    let mut response = Response::new(Full::new(Bytes::from(page)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
