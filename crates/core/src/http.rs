//! HTTP settings shared by every call the core makes: to the identity platform (token,
//! discovery, device code) and to Graph or other APIs. python-o365 applied proxy, TLS and
//! timeouts to Graph calls only until MSAL's client was rebuilt (its audit §11.16); here one
//! [`HttpSettings`] builds every client.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secret::Secret;

/// How to reach the network. Serialisable so it can live in the app's settings; the proxy
/// password is a [`Secret`] and is sealed like every other secret when stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Time allowed to open a connection.
    #[serde(with = "seconds")]
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, from sending to the last byte of the answer.
    #[serde(with = "seconds")]
    pub timeout: Duration,
    pub proxy: Option<ProxySettings>,
    /// Turning this off accepts any certificate: only for a debugging proxy, never by default.
    pub verify_tls: bool,
    /// Extra trusted root certificates (PEM), e.g. a corporate TLS-inspecting proxy's CA.
    pub ca_certificates: Option<PathBuf>,
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            proxy: None,
            verify_tls: true,
            ca_certificates: None,
            user_agent: concat!("o365-auth/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxySettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Send only plain-http traffic through the proxy; https goes direct.
    #[serde(default)]
    pub http_only: bool,
}

/// Whether a client follows HTTP redirects. Token endpoints must not (a redirect there is an
/// attack or a misconfiguration); API calls may (Graph redirects downloads to storage hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    Never,
    Follow,
}

impl HttpSettings {
    pub fn client(&self, redirects: Redirects) -> Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(&self.user_agent)
            .danger_accept_invalid_certs(!self.verify_tls)
            .redirect(match redirects {
                Redirects::Never => reqwest::redirect::Policy::none(),
                Redirects::Follow => reqwest::redirect::Policy::limited(10),
            });
        if let Some(proxy) = &self.proxy {
            for proxy in proxy.to_reqwest()? {
                builder = builder.proxy(proxy);
            }
        }
        if let Some(path) = &self.ca_certificates {
            for certificate in read_ca_bundle(path)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        builder
            .build()
            .map_err(|error| Error::invalid_input("HTTP settings", error.to_string()))
    }
}

impl ProxySettings {
    fn url(&self) -> Result<url::Url> {
        if self.host.trim().is_empty() || self.host.contains(['/', '@', ' ']) {
            return Err(Error::invalid_input(
                "proxy host",
                format!("\"{}\" is not a host name or address", self.host),
            ));
        }
        // The proxy itself is spoken to in plain http (CONNECT for https targets), which is
        // what nearly every corporate proxy expects; python-o365 wrongly used https://.
        url::Url::parse(&format!("http://{}:{}", self.host, self.port)).map_err(|error| {
            Error::invalid_input("proxy host", format!("\"{}\": {error}", self.host))
        })
    }

    fn to_reqwest(&self) -> Result<Vec<reqwest::Proxy>> {
        let url = self.url()?;
        let make = |proxy: reqwest::Result<reqwest::Proxy>| {
            let proxy = proxy.map_err(|error| Error::invalid_input("proxy", error.to_string()))?;
            // basic_auth percent-encodes nothing itself: it sends the pair in a header, so
            // credentials with ':' or '@' work (python-o365 broke on them).
            Ok::<_, Error>(match (&self.username, &self.password) {
                (Some(user), Some(password)) => proxy.basic_auth(user, password.expose()),
                (Some(user), None) => proxy.basic_auth(user, ""),
                _ => proxy,
            })
        };
        if self.http_only {
            Ok(vec![make(reqwest::Proxy::http(url.as_str()))?])
        } else {
            Ok(vec![make(reqwest::Proxy::all(url.as_str()))?])
        }
    }
}

fn read_ca_bundle(path: &PathBuf) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).map_err(|error| {
        Error::invalid_input("CA certificates", format!("{}: {error}", path.display()))
    })?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
        Error::invalid_input("CA certificates", format!("{}: {error}", path.display()))
    })?;
    if certificates.is_empty() {
        return Err(Error::invalid_input(
            "CA certificates",
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(certificates)
}

/// Turns a transport failure into [`Error::Network`], keeping the host but never the URL's
/// path or query (they can carry codes and other secrets).
pub fn network_error(error: reqwest::Error) -> Error {
    let host = error
        .url()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the server".to_owned());
    let kind = if error.is_timeout() {
        "the request timed out"
    } else if error.is_connect() {
        "the connection failed"
    } else if error.is_body() || error.is_decode() {
        "the answer was cut off or unreadable"
    } else {
        "the request failed"
    };
    let cause = std::error::Error::source(&error)
        .map(|source| format!(" ({source})"))
        .unwrap_or_default();
    Error::Network {
        host,
        message: format!("{kind}{cause}"),
    }
}

mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let seconds = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(seconds).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-request HTTP proxy on loopback: records what it was sent and answers 200.
    async fn recording_proxy() -> (u16, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buffer = vec![0u8; 8192];
            let read = socket.read(&mut buffer).await.expect("read");
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await
                .expect("write");
            String::from_utf8_lossy(&buffer[..read]).into_owned()
        });
        (port, task)
    }

    #[tokio::test]
    async fn requests_go_through_the_proxy_with_its_credentials() {
        let (port, proxy) = recording_proxy().await;
        let settings = HttpSettings {
            proxy: Some(ProxySettings {
                host: "127.0.0.1".into(),
                port,
                username: Some("ann".into()),
                password: Some(Secret::new("p@ss:word")),
                http_only: false,
            }),
            ..HttpSettings::default()
        };
        let client = settings.client(Redirects::Never).expect("client");
        let answer = client
            .get("http://graph.example.invalid/v1.0/me")
            .send()
            .await
            .expect("through the proxy");
        assert_eq!(answer.status(), 200);
        let request = proxy.await.expect("proxy saw a request");
        assert!(
            request.starts_with("GET http://graph.example.invalid/v1.0/me "),
            "{request}"
        );
        // base64("ann:p@ss:word")
        assert!(request.contains("YW5uOnBAc3M6d29yZA=="), "{request}");
        assert!(
            request.to_lowercase().contains("user-agent: o365-auth/"),
            "{request}"
        );
    }

    #[test]
    fn bad_proxy_and_ca_settings_are_named_in_the_error() {
        let bad_host = HttpSettings {
            proxy: Some(ProxySettings {
                host: "user@host".into(),
                port: 8080,
                username: None,
                password: None,
                http_only: true,
            }),
            ..HttpSettings::default()
        };
        let error = bad_host.client(Redirects::Never).unwrap_err();
        assert_eq!(error.code(), "invalid_input");
        assert!(error.to_string().contains("proxy host"), "{error}");

        let missing_ca = HttpSettings {
            ca_certificates: Some("/nonexistent/ca.pem".into()),
            ..HttpSettings::default()
        };
        let error = missing_ca.client(Redirects::Never).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");

        let not_pem =
            std::env::temp_dir().join(format!("o365-auth-not-pem-{}", std::process::id()));
        std::fs::write(&not_pem, "hello").expect("write");
        let error = HttpSettings {
            ca_certificates: Some(not_pem.clone()),
            ..HttpSettings::default()
        }
        .client(Redirects::Never)
        .unwrap_err();
        std::fs::remove_file(&not_pem).ok();
        assert!(error.to_string().contains("CA certificates"), "{error}");
    }

    #[tokio::test]
    async fn network_errors_name_the_host_but_not_the_query() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let client = HttpSettings::default()
            .client(Redirects::Never)
            .expect("client");
        let error = client
            .get(format!("http://127.0.0.1:{port}/callback?code=SECRET-CODE"))
            .send()
            .await
            .map_err(network_error)
            .unwrap_err();
        assert_eq!(error.code(), "transient");
        assert!(error.is_retryable());
        let text = error.to_string();
        assert!(text.contains("127.0.0.1"), "{text}");
        assert!(!text.contains("SECRET-CODE"), "{text}");
    }

    #[test]
    fn settings_round_trip_through_serde_without_showing_the_password() {
        let settings = HttpSettings {
            proxy: Some(ProxySettings {
                host: "proxy.corp".into(),
                port: 3128,
                username: Some("u".into()),
                password: Some(Secret::new("hunter2")),
                http_only: false,
            }),
            timeout: Duration::from_millis(2500),
            ..HttpSettings::default()
        };
        let json = serde_json::to_string(&settings).expect("json");
        let back: HttpSettings = serde_json::from_str(&json).expect("back");
        assert_eq!(back, settings);
        assert!(!format!("{settings:?}").contains("hunter2"));
        let partial: HttpSettings =
            serde_json::from_str(r#"{"timeout": 5}"#).expect("defaults fill in");
        assert_eq!(partial.timeout, Duration::from_secs(5));
        assert!(partial.verify_tls);
    }
}
