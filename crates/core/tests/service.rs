//! The token service end to end, on real things only: the in-process entra emulator, a real
//! SQLite store in a temporary directory, `TokenService::start`, and the IPC server on a real
//! Unix socket with the service's handler, talked to by a small JSON-RPC client.
//!
//! Covered: app registrations (and errors naming the field), every sign-in method (password,
//! device code with the test playing the person, loopback browser, console with a replay
//! refused, client credentials), `token.get` from the cache and refreshed for other scopes, a
//! minimum validity and `token.refresh`, one refresh for 1,000 concurrent callers of an
//! expired token, Graph calls (an error status is an answer, another host is refused), errors
//! by class (revoked refresh token → needs sign-in with an event, throttling with
//! `retry_after_s`, one token request however many callers wait on a failing account),
//! account names, the audit log (peer, no token text), hostile input, `shutdown`, the methods
//! the desktop app and web UI add, and the scheduler refreshing before expiry through a 429,
//! a 503 and a timeout at the emulator, then stopping at a revoked grant.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use entra_emulator::sandbox::{DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID, DEMO_USERNAME};
use entra_emulator::{Emulator, EmulatorConfig, Fault};
use o365_auth_core::ipc::{IpcLimits, IpcServer};
use o365_auth_core::sandbox::Sandbox;
use o365_auth_core::service::scheduler::SchedulerConfig;
use o365_auth_core::service::{ServiceHandler, ServiceOptions, TokenService};
use o365_auth_core::store::audit::Channel;
use o365_auth_core::store::key::DataKey;
use o365_auth_core::store::{KeySource, Store, StoreOptions};
use rand::Rng;
use serde_json::{Value, json};
use support::browser::Browser;
use support::certificate::self_signed_certificate;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

const ADELE: &str = "adele@sandbox.onmicrosoft.com";
const IMAP: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";
const APP: &str = "sandbox";

/// The sandbox with the demo app's scopes consented by an admin (so ROPC works), and device
/// codes polled every second.
fn emulator_config() -> EmulatorConfig {
    let mut config = entra_emulator::sandbox::config();
    for app in config
        .tenants
        .iter_mut()
        .flat_map(|tenant| tenant.apps.iter_mut())
    {
        if app.client_id.to_string() == DEMO_CLIENT_ID {
            app.pre_consented_scopes = ["User.Read", "offline_access", IMAP]
                .map(str::to_owned)
                .to_vec();
        }
    }
    config.lifetimes.device_code_interval_seconds = 1;
    config.device_code_slow_down = false;
    config
}

// --- a JSON-RPC client over the socket ----------------------------------------------------

struct Client {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
    next_id: u64,
}

impl Client {
    async fn connect(path: &Path) -> Client {
        let (reader, writer) = UnixStream::connect(path).await.unwrap().into_split();
        Client {
            reader: BufReader::new(reader),
            writer,
            next_id: 0,
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// The next line as JSON, or `None` when the server closed the connection.
    async fn receive(&mut self) -> Option<Value> {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(30), self.reader.read_line(&mut line))
            .await
            .expect("an answer in time")
            .unwrap_or(0);
        (read > 0).then(|| serde_json::from_str(&line).expect("a JSON line"))
    }

    async fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let request =
            json!({ "jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params });
        self.send_raw(format!("{request}\n").as_bytes()).await;
        self.next_id
    }

    /// The whole response.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params).await;
        let response = self.receive().await.expect("a response");
        assert_eq!(response["id"], id, "{response}");
        response
    }

    /// The result; panics with the error otherwise.
    async fn ok(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params).await;
        assert!(
            response.get("error").is_none(),
            "{method} failed: {response}"
        );
        response["result"].clone()
    }

    /// The error; panics if the call succeeded.
    async fn err(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params).await;
        assert!(
            response.get("result").is_none(),
            "{method} should fail: {response}"
        );
        response["error"].clone()
    }
}

// --- the service under test ---------------------------------------------------------------

struct Harness {
    emulator: Emulator,
    _dir: tempfile::TempDir,
    store: Store,
    service: TokenService,
    server: IpcServer,
}

impl Harness {
    async fn start() -> Harness {
        Self::start_with(emulator_config()).await
    }

    async fn start_with(config: EmulatorConfig) -> Harness {
        Self::start_with_options(config, ServiceOptions::default()).await
    }

    async fn start_with_options(config: EmulatorConfig, options: ServiceOptions) -> Harness {
        let emulator = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key: [u8; 32] = rand::thread_rng().r#gen();
        let store = Store::open(
            StoreOptions::at(dir.path().join("store.sqlite3"))
                .with_key(KeySource::Key(DataKey::from_bytes(key))),
        )
        .await
        .unwrap();
        let socket = dir.path().join("run").join("o365-auth").join("ipc.sock");
        let service = TokenService::start(
            store.clone(),
            ServiceOptions {
                socket: Some(socket.clone()),
                sandbox: Some(Arc::new(Sandbox::with_port(0))),
                ..options
            },
        )
        .await
        .unwrap();
        let handler = Arc::new(ServiceHandler::new(service.clone()));
        let server = IpcServer::bind(&socket, handler, IpcLimits::default())
            .await
            .unwrap();
        Harness {
            emulator,
            _dir: dir,
            store,
            service,
            server,
        }
    }

    async fn client(&self) -> Client {
        Client::connect(self.server.path()).await
    }

    fn app_spec(&self) -> Value {
        json!({
            "name": APP,
            "client_id": DEMO_CLIENT_ID,
            "tenant": DEMO_TENANT_ID,
            "flow": "public",
            "authority": self.emulator.base_url(),
        })
    }

    /// The emulator's confidential app as `daemon`, a client-credentials app, with
    /// `credential` (`client_secret`, `certificate_pem`...).
    fn confidential_app_spec(&self, credential: Value) -> Value {
        let mut spec = json!({
            "name": "daemon",
            "client_id": entra_emulator::sandbox::DEMO_CONFIDENTIAL_CLIENT_ID,
            "tenant": DEMO_TENANT_ID,
            "flow": "credentials",
            "authority": self.emulator.base_url(),
        });
        if let (Some(spec), Value::Object(credential)) = (spec.as_object_mut(), credential) {
            spec.extend(credential);
        }
        spec
    }

    /// Registers the sandbox app and signs `users` in with their passwords.
    async fn with_accounts(&self, users: &[&str]) -> Client {
        let mut client = self.client().await;
        client.ok("apps.add", self.app_spec()).await;
        for user in users {
            client
                .ok(
                    "login.password",
                    json!({ "username": user, "password": DEMO_PASSWORD }),
                )
                .await;
        }
        client
    }

    fn refreshes(&self) -> u64 {
        self.emulator
            .control()
            .stats()
            .grant_types
            .get("refresh_token")
            .copied()
            .unwrap_or(0)
    }

    /// Makes every stored access token of `username` expired by the local clock (the store
    /// and the service judge expiry by it), keeping its refresh token.
    async fn expire(&self, username: &str) {
        let record = self
            .store
            .accounts()
            .list(None)
            .await
            .unwrap()
            .into_iter()
            .find(|record| record.identity.username == username)
            .expect("the account is stored");
        let now = o365_auth_core::token::now_unix();
        for mut tokens in self.store.tokens().for_account(&record.id).await.unwrap() {
            tokens.obtained_at = now - 4000;
            tokens.expires_at = now - 400;
            self.store
                .tokens()
                .save(&record.app_id, &record.identity, &tokens, record.source)
                .await
                .unwrap();
        }
    }
}

fn code_of(error: &Value) -> &str {
    error["data"]["code"].as_str().unwrap_or_default()
}

// --- tests --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apps_are_added_listed_shown_and_removed_and_bad_ones_name_the_field() {
    let harness = Harness::start().await;
    let mut client = harness.client().await;
    let spec = harness.app_spec();

    let mut bad_client = spec.clone();
    bad_client["client_id"] = json!("not-a-guid");
    let error = client.err("apps.add", bad_client).await;
    assert_eq!(error["code"], -32602, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("client id"),
        "{error}"
    );
    assert_eq!(error["data"]["field"], "client_id", "{error}");

    let mut bad_flow = spec.clone();
    bad_flow["flow"] = json!("telepathy");
    let error = client.err("apps.add", bad_flow).await;
    assert_eq!(error["code"], -32602, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("flow"),
        "{error}"
    );
    assert_eq!(error["data"]["field"], "flow", "{error}");

    let mut unknown = spec.clone();
    unknown["colour"] = json!("blue");
    let error = client.err("apps.add", unknown).await;
    assert_eq!(error["code"], -32602, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("colour"),
        "{error}"
    );

    let mut missing = spec.clone();
    missing.as_object_mut().unwrap().remove("client_id");
    let error = client.err("apps.add", missing).await;
    assert_eq!(error["code"], -32602, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("client_id"),
        "{error}"
    );

    // A secret never comes back, only whether there is one.
    let added = client.ok("apps.add", spec.clone()).await;
    assert_eq!(added["name"], APP);
    assert_eq!(added["client_id"], DEMO_CLIENT_ID);
    assert_eq!(added["flow"], "public");
    assert_eq!(added["redirect"], "loopback");
    assert_eq!(added["has_client_secret"], false);
    assert_eq!(added["accounts"], 0);

    let listed = client.ok("apps.list", json!({})).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], APP);
    let shown = client.ok("apps.show", json!({ "name": "SANDBOX" })).await;
    assert_eq!(shown["client_id"], DEMO_CLIENT_ID);
    let error = client.err("apps.show", json!({ "name": "nope" })).await;
    assert_eq!(code_of(&error), "invalid_input", "{error}");

    // Removing an app forgets its accounts.
    client
        .ok(
            "login.password",
            json!({ "username": DEMO_USERNAME, "password": DEMO_PASSWORD }),
        )
        .await;
    let shown = client.ok("apps.show", json!({ "name": APP })).await;
    assert_eq!(shown["accounts"], 1, "{shown}");
    let removed = client.ok("apps.remove", json!({ "name": APP })).await;
    assert_eq!(removed, json!({ "removed": true }));
    assert_eq!(client.ok("apps.list", json!({})).await, json!([]));
    assert_eq!(client.ok("accounts.list", json!({})).await, json!([]));
    let error = client.err("token.get", json!({})).await;
    assert_eq!(code_of(&error), "no_account", "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_come_from_the_cache_or_one_refresh() {
    let harness = Harness::start().await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME]).await;

    let accounts = client.ok("accounts.list", json!({})).await;
    let accounts = accounts.as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["username"], DEMO_USERNAME);
    assert_eq!(accounts[0]["app"], APP);
    assert_eq!(accounts[0]["status"], "fresh");
    assert!(accounts[0]["expires_at"].as_i64().unwrap() > 0);
    assert!(
        accounts[0]["id"]
            .as_str()
            .unwrap()
            .ends_with(&format!(".{DEMO_TENANT_ID}")),
        "{accounts:?}"
    );

    let before = harness.refreshes();
    let token = client.ok("token.get", json!({})).await;
    let mut keys: Vec<&str> = token
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token",
            "account",
            "expires_at",
            "scopes",
            "token_type"
        ]
    );
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["account"], DEMO_USERNAME);
    assert!(token["expires_at"].as_i64().unwrap() > o365_auth_core::token::now_unix() + 3000);
    let scopes: Vec<&str> = token["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|scope| scope.as_str().unwrap())
        .collect();
    assert!(scopes.contains(&"User.Read"), "{scopes:?}");
    assert!(!scopes.contains(&"openid"), "{scopes:?}");
    let first = token["access_token"].as_str().unwrap().to_owned();
    assert!(first.starts_with("eyJ"), "a JWT");

    // Served from the cache: no refresh reached the emulator.
    let again = client
        .ok("token.get", json!({ "account": DEMO_USERNAME }))
        .await;
    assert_eq!(again["access_token"], first.as_str());
    assert_eq!(harness.refreshes(), before);

    // Scopes the token does not hold: the refresh token is redeemed for them (consented),
    // and that token is cached beside the first.
    let imap = client.ok("token.get", json!({ "scopes": [IMAP] })).await;
    assert_eq!(harness.refreshes(), before + 1);
    assert_ne!(imap["access_token"], first.as_str());
    assert!(
        imap["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|scope| scope == IMAP),
        "{imap}"
    );
    let imap_again = client.ok("token.get", json!({ "scopes": [IMAP] })).await;
    assert_eq!(imap_again["access_token"], imap["access_token"]);
    let graph_again = client.ok("token.get", json!({})).await;
    assert_eq!(graph_again["access_token"], first.as_str());
    assert_eq!(harness.refreshes(), before + 1);

    // A minimum validity beyond what the cached token has left refreshes first.
    let longer = client.ok("token.get", json!({ "min_ttl_s": 4000 })).await;
    assert_eq!(harness.refreshes(), before + 2);
    assert_ne!(longer["access_token"], first.as_str());

    // token.refresh always refreshes, with the same answer shape.
    let refreshed = client.ok("token.refresh", json!({})).await;
    assert_eq!(harness.refreshes(), before + 3);
    assert_ne!(refreshed["access_token"], longer["access_token"]);
    assert_eq!(refreshed["account"], DEMO_USERNAME);
    let cached = client.ok("token.get", json!({})).await;
    assert_eq!(cached["access_token"], refreshed["access_token"]);
    assert_eq!(harness.refreshes(), before + 3);

    // Bad parameters name the field.
    let error = client.err("token.get", json!({ "min_ttl": 5 })).await;
    assert_eq!(error["code"], -32602, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("min_ttl"),
        "{error}"
    );
    let error = client
        .err("token.get", json!({ "min_ttl_s": "soon" }))
        .await;
    assert_eq!(error["code"], -32602, "{error}");

    // status counts what there is.
    let status = client.ok("status", json!({})).await;
    assert_eq!(status["pid"], std::process::id());
    assert_eq!(status["accounts"], 1);
    assert_eq!(status["apps"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_callers_of_an_expired_token_cause_one_refresh() {
    const CONNECTIONS: usize = 50;
    const PER_CONNECTION: usize = 20;
    let harness = Harness::start().await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME]).await;
    let old = client.ok("token.get", json!({})).await["access_token"].clone();
    harness.expire(DEMO_USERNAME).await;
    let before = harness.refreshes();

    let mut connections = Vec::new();
    for _ in 0..CONNECTIONS {
        connections.push(harness.client().await);
    }
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                // Every request is on the wire before the first answer is read.
                for _ in 0..PER_CONNECTION {
                    client.send("token.get", json!({})).await;
                }
                let mut tokens = Vec::new();
                for _ in 0..PER_CONNECTION {
                    let response = client.receive().await.expect("an answer");
                    assert!(response.get("error").is_none(), "{response}");
                    tokens.push(response["result"]["access_token"].clone());
                }
                tokens
            })
        })
        .collect();
    let mut handed_out = Vec::new();
    for task in tasks {
        handed_out.extend(task.await.unwrap());
    }
    assert_eq!(handed_out.len(), CONNECTIONS * PER_CONNECTION);
    assert_eq!(harness.refreshes(), before + 1, "exactly one refresh");
    let new = &handed_out[0];
    assert_ne!(*new, old, "the expired token is never handed out");
    assert!(handed_out.iter().all(|token| token == new));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graph_requests_return_statuses_and_stay_on_the_api_host() {
    let harness = Harness::start().await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME]).await;

    let me = client
        .ok("graph.request", json!({ "method": "GET", "path": "me" }))
        .await;
    assert_eq!(me["status"], 200, "{me}");
    assert_eq!(me["body"]["userPrincipalName"], DEMO_USERNAME, "{me}");
    assert!(
        me["headers"]["content-type"]
            .as_str()
            .unwrap_or_default()
            .contains("json"),
        "{me}"
    );

    // Error statuses are answers, not errors.
    let missing = client
        .ok(
            "graph.request",
            json!({ "account": DEMO_USERNAME, "method": "GET", "path": "me/no-such-thing" }),
        )
        .await;
    assert_eq!(missing["status"], 404, "{missing}");
    let denied = client
        .ok(
            "graph.request",
            json!({ "method": "GET", "path": "me/messages", "query": { "$top": "5" } }),
        )
        .await;
    assert_eq!(denied["status"], 403, "{denied}");
    assert_eq!(
        denied["body"]["error"]["code"], "ErrorAccessDenied",
        "{denied}"
    );

    let elsewhere = client
        .err(
            "graph.request",
            json!({ "method": "GET", "path": "https://example.com/v1.0/me" }),
        )
        .await;
    assert_eq!(elsewhere["data"]["field"], "path", "{elsewhere}");
    assert_eq!(code_of(&elsewhere), "invalid_input", "{elsewhere}");
    let bad_method = client
        .err("graph.request", json!({ "method": "FETCH", "path": "me" }))
        .await;
    assert_eq!(code_of(&bad_method), "invalid_input", "{bad_method}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn device_code_browser_and_console_sign_ins() {
    let harness = Harness::start().await;
    let mut client = harness.client().await;
    client.ok("apps.add", harness.app_spec()).await;

    // Device code: the person enters the code on the emulator's device page.
    let challenge = client
        .ok("login.start", json!({ "method": "device_code" }))
        .await;
    let user_code = challenge["user_code"].as_str().expect("a user code");
    let verification_uri = challenge["verification_uri"].as_str().expect("a URI");
    assert!(challenge["message"].as_str().unwrap().contains(user_code));
    let error = client
        .err(
            "login.wait",
            json!({ "login": challenge["login"], "timeout_s": 0 }),
        )
        .await;
    assert_eq!(code_of(&error), "login_pending", "{error}");
    let done = Browser::new()
        .enter_device_code(
            verification_uri,
            user_code,
            DEMO_USERNAME,
            DEMO_PASSWORD,
            true,
        )
        .await;
    assert!(done.has("device-done"), "{}", done.body);
    let account = client
        .ok(
            "login.wait",
            json!({ "login": challenge["login"], "timeout_s": 30 }),
        )
        .await;
    assert_eq!(account["username"], DEMO_USERNAME, "{account}");
    assert_eq!(account["status"], "fresh");

    // Browser: the service listens on a loopback redirect.
    let challenge = client
        .ok(
            "login.start",
            json!({ "method": "browser", "login_hint": ADELE }),
        )
        .await;
    let url = challenge["url"].as_str().expect("a URL");
    let redirect_uri = url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "redirect_uri")
        .map(|(_, value)| value.into_owned())
        .expect("a redirect URI");
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:"),
        "{redirect_uri}"
    );
    let landed = Browser::new()
        .sign_in(url, ADELE, DEMO_PASSWORD, true)
        .await;
    let location = landed.location.expect("a redirect to the service");
    assert!(location.starts_with(&redirect_uri), "{location}");
    let page = reqwest::get(&location).await.unwrap();
    assert!(page.status().is_success(), "{}", page.status());
    let account = client
        .ok(
            "login.wait",
            json!({ "login": challenge["login"], "timeout_s": 30 }),
        )
        .await;
    assert_eq!(account["username"], ADELE, "{account}");

    // Console: the person pastes the nativeclient address they landed on.
    let challenge = client
        .ok(
            "login.start",
            json!({ "method": "console", "prompt": "login" }),
        )
        .await;
    let url = challenge["url"].as_str().expect("a URL");
    let error = client
        .err(
            "login.wait",
            json!({ "login": challenge["login"], "timeout_s": 0 }),
        )
        .await;
    assert_eq!(code_of(&error), "login_pending", "{error}");
    let landed = Browser::new()
        .sign_in(url, "alex@sandbox.onmicrosoft.com", DEMO_PASSWORD, true)
        .await;
    let location = landed.location.expect("a redirect");
    assert!(location.contains("/oauth2/nativeclient?"), "{location}");
    let account = client
        .ok(
            "login.complete",
            json!({ "login": challenge["login"], "redirected_url": location }),
        )
        .await;
    assert_eq!(account["username"], "alex@sandbox.onmicrosoft.com");
    let replay = client
        .err("login.complete", json!({ "redirected_url": location }))
        .await;
    assert_eq!(code_of(&replay), "state_mismatch", "{replay}");
    let replay = client
        .err(
            "login.complete",
            json!({ "login": challenge["login"], "redirected_url": location }),
        )
        .await;
    assert!(
        matches!(code_of(&replay), "state_mismatch" | "invalid_input"),
        "{replay}"
    );

    // Every account works.
    let accounts = client.ok("accounts.list", json!({})).await;
    assert_eq!(accounts.as_array().unwrap().len(), 3, "{accounts}");
    for user in [DEMO_USERNAME, ADELE, "alex@sandbox.onmicrosoft.com"] {
        let token = client.ok("token.get", json!({ "account": user })).await;
        assert_eq!(token["account"], user);
    }
    let error = client
        .err("login.wait", json!({ "login": "no-such-login" }))
        .await;
    assert_eq!(code_of(&error), "invalid_input", "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_sign_in_marks_the_account_and_throttling_says_when_to_retry() {
    let harness = Harness::start().await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME, ADELE]).await;
    let mut events = harness.client().await;
    let subscribed = events.ok("events.subscribe", json!({})).await;
    assert_eq!(subscribed, json!({ "subscribed": true }));

    // Throttled: a class of its own with the wait, and the account stays as it was.
    harness.emulator.control().throttle(
        5,
        42,
        Some(&format!("/{DEMO_TENANT_ID}/oauth2/v2.0/token")),
    );
    let error = client
        .err("token.refresh", json!({ "account": ADELE }))
        .await;
    assert_eq!(error["code"], -32000);
    assert_eq!(code_of(&error), "throttled", "{error}");
    assert_eq!(error["data"]["retry_after_s"], 42, "{error}");
    harness.emulator.control().clear_faults();
    let accounts = client.ok("accounts.list", json!({})).await;
    assert!(
        accounts
            .as_array()
            .unwrap()
            .iter()
            .all(|account| account["status"] == "fresh"),
        "{accounts}"
    );

    // Revoked: sign in again; the account is marked and an event says so.
    harness
        .emulator
        .control()
        .revoke_refresh_tokens(DEMO_USERNAME)
        .unwrap();
    let error = client
        .err("token.refresh", json!({ "account": DEMO_USERNAME }))
        .await;
    assert_eq!(error["code"], -32000);
    assert_eq!(code_of(&error), "needs_sign_in", "{error}");
    assert!(
        error["data"]["aadsts"]
            .as_str()
            .is_some_and(|code| code.starts_with("AADSTS")),
        "{error}"
    );
    let accounts = client.ok("accounts.list", json!({})).await;
    let demo = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|account| account["username"] == DEMO_USERNAME)
        .unwrap();
    assert_eq!(demo["status"], "needs_sign_in", "{accounts}");
    assert_eq!(demo["last_error_code"], "needs_sign_in", "{accounts}");
    let adele = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|account| account["username"] == ADELE)
        .unwrap();
    assert_eq!(
        adele["status"], "fresh",
        "one account never holds up another"
    );
    let event = loop {
        let event = events.receive().await.expect("an event");
        assert_eq!(event["method"], "event", "{event}");
        if event["params"]["event"] == "needs_attention" {
            break event;
        }
    };
    assert_eq!(
        event["params"]["account"],
        format!("{APP}/{DEMO_USERNAME}"),
        "{event}"
    );
    assert_eq!(event["params"]["code"], "needs_sign_in", "{event}");

    // The other account still gets tokens (its cached one: Microsoft said to wait); the
    // marked one asks for a sign-in.
    client.ok("token.get", json!({ "account": ADELE })).await;
    let error = client
        .err("token.refresh", json!({ "account": ADELE }))
        .await;
    assert_eq!(code_of(&error), "throttled", "{error}");
    assert!(
        error["data"]["retry_after_s"].as_u64().unwrap() <= 42,
        "{error}"
    );
    let error = client
        .err(
            "token.get",
            json!({ "account": DEMO_USERNAME, "min_ttl_s": 4000 }),
        )
        .await;
    assert_eq!(code_of(&error), "needs_sign_in", "{error}");

    // Signing in again makes it fresh.
    client
        .ok(
            "login.password",
            json!({ "username": DEMO_USERNAME, "password": DEMO_PASSWORD }),
        )
        .await;
    let accounts = client.ok("accounts.list", json!({})).await;
    assert!(
        accounts
            .as_array()
            .unwrap()
            .iter()
            .all(|account| account["status"] == "fresh"),
        "{accounts}"
    );
    client
        .ok("token.refresh", json!({ "account": DEMO_USERNAME }))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_are_named_by_username_alias_app_and_id() {
    let harness = Harness::start().await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME, ADELE]).await;

    let error = client.err("token.get", json!({})).await;
    assert_eq!(code_of(&error), "account_ambiguous", "{error}");
    let candidates = error["data"]["candidates"].as_array().expect("candidates");
    let mut candidates: Vec<&str> = candidates.iter().map(|c| c.as_str().unwrap()).collect();
    candidates.sort_unstable();
    assert_eq!(
        candidates,
        [format!("{APP}/{ADELE}"), format!("{APP}/{DEMO_USERNAME}")]
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(ADELE) && message.contains(DEMO_USERNAME),
        "{message}"
    );

    let by_case = client
        .ok("token.get", json!({ "account": ADELE.to_uppercase() }))
        .await;
    assert_eq!(by_case["account"], ADELE);

    let aliased = client
        .ok(
            "accounts.alias",
            json!({ "account": ADELE, "alias": "work" }),
        )
        .await;
    assert_eq!(aliased["alias"], "work");
    let by_alias = client.ok("token.get", json!({ "account": "work" })).await;
    assert_eq!(by_alias["account"], ADELE);
    let error = client
        .err(
            "accounts.alias",
            json!({ "account": ADELE, "alias": "a/b" }),
        )
        .await;
    assert_eq!(code_of(&error), "invalid_input", "{error}");

    let qualified = client
        .ok(
            "token.get",
            json!({ "account": format!("{APP}/{DEMO_USERNAME}") }),
        )
        .await;
    assert_eq!(qualified["account"], DEMO_USERNAME);
    let id = aliased["id"].as_str().unwrap();
    let by_id = client.ok("token.get", json!({ "account": id })).await;
    assert_eq!(by_id["account"], ADELE);

    let error = client
        .err("token.get", json!({ "account": "nobody@example.com" }))
        .await;
    assert_eq!(error["code"], -32000);
    assert_eq!(code_of(&error), "no_account", "{error}");
    let error = client
        .err("token.get", json!({ "account": "other-app/work" }))
        .await;
    assert_eq!(code_of(&error), "no_account", "{error}");

    // Unaliased and logged out.
    let cleared = client
        .ok(
            "accounts.alias",
            json!({ "account": "work", "alias": null }),
        )
        .await;
    assert_eq!(cleared["alias"], Value::Null);
    let error = client.err("token.get", json!({ "account": "work" })).await;
    assert_eq!(code_of(&error), "no_account", "{error}");
    let removed = client
        .ok("accounts.logout", json!({ "account": ADELE }))
        .await;
    assert_eq!(removed, json!({ "removed": true }));
    let only = client.ok("token.get", json!({})).await;
    assert_eq!(only["account"], DEMO_USERNAME);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_handed_out_over_the_socket_are_audited_without_the_token() {
    let harness = Harness::start().await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME]).await;
    let token = client.ok("token.get", json!({})).await;
    let access_token = token["access_token"].as_str().unwrap().to_owned();
    let refreshed = client
        .ok("token.refresh", json!({ "scopes": ["basic"] }))
        .await;
    let second_token = refreshed["access_token"].as_str().unwrap().to_owned();

    let record = harness.store.accounts().list(None).await.unwrap().remove(0);
    let refresh_token = harness
        .store
        .tokens()
        .best(&record.id, None)
        .await
        .unwrap()
        .and_then(|tokens| tokens.refresh_token)
        .expect("a refresh token")
        .expose()
        .to_owned();

    // The audit writer batches (and counts identical hand-outs in one row); wait for both.
    let mut rows = Vec::new();
    let counted = |rows: &[o365_auth_core::store::audit::AuditRecord]| {
        rows.iter().map(|row| row.times).sum::<i64>()
    };
    for _ in 0..100 {
        rows = harness.store.audit().recent(50).await.unwrap();
        if counted(&rows) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counted(&rows), 2, "{rows:?}");
    let uid = std::fs::metadata(harness.server.path()).unwrap().uid();
    let exe = std::env::current_exe().unwrap().display().to_string();
    for row in &rows {
        let event = &row.event;
        assert_eq!(event.channel, Channel::Ipc);
        assert_eq!(event.peer.pid, Some(std::process::id() as i32));
        assert_eq!(event.peer.uid, Some(uid));
        assert_eq!(event.peer.exe.as_deref(), Some(exe.as_str()));
        assert_eq!(event.username, DEMO_USERNAME);
        assert_eq!(event.account_id.as_deref(), Some(record.id.as_str()));
        assert!(event.scopes.contains("User.Read"), "{event:?}");
        let text = format!("{row:?}");
        for secret in [&access_token, &second_token, &refresh_token] {
            assert!(!text.contains(secret.as_str()), "a token in the audit log");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_input_is_answered_and_the_server_stays_up() {
    let harness = Harness::start().await;
    let mut client = harness.client().await;

    client.send_raw(b"this is not json\n").await;
    let answer = client.receive().await.expect("an answer");
    assert_eq!(answer["error"]["code"], -32700, "{answer}");
    client
        .send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":")
        .await;
    client.send_raw(b"\n").await;
    let answer = client.receive().await.expect("an answer");
    assert_eq!(answer["error"]["code"], -32700, "{answer}");
    let error = client.err("no.such.method", json!({})).await;
    assert_eq!(error["code"], -32601, "{error}");
    let error = client.err("status", json!({ "verbose": true })).await;
    assert_eq!(error["code"], -32602, "{error}");
    client
        .send_raw(b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}]\n")
        .await;
    let answer = client.receive().await.expect("an answer");
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    // Still the same connection, still served.
    client.ok("status", json!({})).await;

    // More than 1 MiB in one message: an error, then the connection closes.
    let Client {
        mut reader,
        mut writer,
        ..
    } = harness.client().await;
    let sender = tokio::spawn(async move {
        let mut huge = br#"{"jsonrpc":"2.0","id":1,"method":"status","params":{"x":""#.to_vec();
        huge.resize(huge.len() + 2 * 1024 * 1024, b'a');
        huge.extend_from_slice(b"\"}}\n");
        // The server may close before it has read everything: a failed write is expected.
        let _ = writer.write_all(&huge).await;
    });
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(30), reader.read_line(&mut line))
        .await
        .expect("an answer in time")
        .unwrap();
    let answer: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    let _ = sender.await;
    line.clear();
    let rest = tokio::time::timeout(Duration::from_secs(30), reader.read_line(&mut line))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(rest, 0, "the connection is closed: {line}");

    // The server answers the next connection, and the first one too.
    let mut next = harness.client().await;
    next.ok("status", json!({})).await;
    client.ok("apps.list", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_stops_the_service() {
    let harness = Harness::start().await;
    let mut client = harness.client().await;
    let stopping = client.ok("shutdown", json!({})).await;
    assert_eq!(stopping, json!({ "stopping": true }));
    tokio::time::timeout(Duration::from_secs(10), harness.service.stopped())
        .await
        .expect("stopped() resolves");
    // Once stopped, it stays stopped.
    tokio::time::timeout(Duration::from_secs(10), harness.service.stopped())
        .await
        .expect("stopped() resolves again");
    harness.server.shutdown().await;
}

/// Sends `count` copies of one request over `connections` connections at once; every answer.
async fn storm(harness: &Harness, connections: usize, count: usize, params: Value) -> Vec<Value> {
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let mut client = harness.client().await;
        let params = params.clone();
        tasks.push(tokio::spawn(async move {
            let per = count / connections;
            for _ in 0..per {
                client.send("token.get", params.clone()).await;
            }
            let mut answers = Vec::new();
            for _ in 0..per {
                answers.push(client.receive().await.expect("an answer"));
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    assert_eq!(answers.len(), count);
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_callers_of_a_throttled_account_cause_one_token_request() {
    let harness = Harness::start().await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME]).await;
    harness.expire(DEMO_USERNAME).await;
    let token_endpoint = format!("/{DEMO_TENANT_ID}/oauth2/v2.0/token");
    let token_requests = || {
        harness
            .emulator
            .control()
            .stats()
            .endpoints
            .get("/{tenant}/oauth2/v2.0/token")
            .copied()
            .unwrap_or(0)
    };

    // Throttled: one request; everyone gets `throttled` with the wait that is left, and
    // nobody asks again before it is over (the fault would answer 429 a hundred times).
    harness
        .emulator
        .control()
        .throttle(100, 600, Some(&token_endpoint));
    let before = token_requests();
    let answers = storm(&harness, 20, 200, json!({})).await;
    assert_eq!(token_requests(), before + 1, "one request while throttled");
    for answer in &answers {
        assert_eq!(code_of(&answer["error"]), "throttled", "{answer}");
        let wait = answer["error"]["data"]["retry_after_s"].as_u64().unwrap();
        assert!((1..=600).contains(&wait), "{answer}");
    }
    let error = client.err("token.refresh", json!({})).await;
    assert_eq!(code_of(&error), "throttled", "{error}");
    assert_eq!(token_requests(), before + 1, "token.refresh waits too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_callers_of_a_revoked_account_cause_one_token_request() {
    let harness = Harness::start().await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME]).await;
    harness.expire(DEMO_USERNAME).await;
    harness
        .emulator
        .control()
        .revoke_refresh_tokens(DEMO_USERNAME)
        .unwrap();
    let before = harness.refreshes();
    let answers = storm(&harness, 20, 200, json!({})).await;
    assert_eq!(harness.refreshes(), before + 1, "one refresh for everyone");
    for answer in &answers {
        assert_eq!(code_of(&answer["error"]), "needs_sign_in", "{answer}");
    }
    // Until the person signs in again, token.get does not ask Microsoft again...
    let error = client.err("token.get", json!({})).await;
    assert_eq!(code_of(&error), "needs_sign_in", "{error}");
    assert_eq!(harness.refreshes(), before + 1);
    // ...an explicit token.refresh does, once...
    let error = client.err("token.refresh", json!({})).await;
    assert_eq!(code_of(&error), "needs_sign_in", "{error}");
    assert_eq!(harness.refreshes(), before + 2);
    // ...and a new sign-in ends it.
    client
        .ok(
            "login.password",
            json!({ "username": DEMO_USERNAME, "password": DEMO_PASSWORD }),
        )
        .await;
    harness.expire(DEMO_USERNAME).await;
    let token = client.ok("token.get", json!({})).await;
    assert_eq!(token["account"], DEMO_USERNAME);
    assert_eq!(harness.refreshes(), before + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_signs_in_as_itself_with_client_credentials() {
    use entra_emulator::sandbox::{DEMO_CLIENT_SECRET, DEMO_CONFIDENTIAL_CLIENT_ID};
    let harness = Harness::start().await;
    let mut client = harness.client().await;
    let added = client
        .ok(
            "apps.add",
            harness.confidential_app_spec(json!({ "client_secret": DEMO_CLIENT_SECRET })),
        )
        .await;
    assert_eq!(added["has_client_secret"], true, "{added}");
    assert!(!added.to_string().contains(DEMO_CLIENT_SECRET));
    let challenge = client.ok("login.start", json!({ "method": "app" })).await;
    let account = client
        .ok("login.wait", json!({ "login": challenge["login"] }))
        .await;
    let app_only = format!("{DEMO_CONFIDENTIAL_CLIENT_ID}@{DEMO_TENANT_ID}");
    assert_eq!(account["id"], format!("app:{app_only}"), "{account}");
    assert_eq!(account["app"], "daemon");
    let token = client.ok("token.get", json!({})).await;
    assert_eq!(token["account"], app_only.as_str());
    assert_eq!(token["scopes"], json!([".default"]), "{token}");
    let again = client
        .ok(
            "token.get",
            json!({ "account": format!("daemon/{app_only}") }),
        )
        .await;
    assert_eq!(again["access_token"], token["access_token"]);
    let users = client
        .ok("graph.request", json!({ "method": "GET", "path": "users" }))
        .await;
    assert_eq!(users["status"], 200, "{users}");
    assert!(
        users["body"]["value"].as_array().unwrap().len() > 1,
        "{users}"
    );
    // An app-only token is acquired again, not refreshed (there is no refresh token).
    let before = harness
        .emulator
        .control()
        .stats()
        .grant_types
        .get("client_credentials")
        .copied();
    let renewed = client.ok("token.refresh", json!({})).await;
    assert_ne!(renewed["access_token"], token["access_token"]);
    let after = harness
        .emulator
        .control()
        .stats()
        .grant_types
        .get("client_credentials")
        .copied();
    assert_eq!(after, before.map(|count| count + 1));
}

// --- what the desktop app and the web UI use ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_scope_helpers_previews_granted_scopes_and_the_activity_log() {
    let harness = Harness::start().await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME]).await;

    let defaults = client.ok("settings.get", json!({})).await;
    assert_eq!(defaults["refresh_margin_s"], 300, "{defaults}");
    assert_eq!(defaults["keep_alive_days"], 14, "{defaults}");
    let changed = client
        .ok(
            "settings.set",
            json!({ "refresh_margin_s": 600, "proxy_url": null }),
        )
        .await;
    assert_eq!(changed["refresh_margin_s"], 600, "{changed}");
    let refused = client
        .err(
            "settings.set",
            json!({ "keep_alive_days": 0, "notifications": false }),
        )
        .await;
    assert_eq!(code_of(&refused), "invalid_input", "{refused}");
    assert_eq!(refused["data"]["field"], "keep_alive_days", "{refused}");
    let kept = client.ok("settings.get", json!({})).await;
    assert_eq!(
        kept["refresh_margin_s"], 600,
        "a refused change loses nothing: {kept}"
    );
    assert_eq!(
        kept["notifications"], true,
        "a refused change applies nothing: {kept}"
    );
    let unknown = client.err("settings.set", json!({ "margin": 1 })).await;
    assert_eq!(unknown["code"], -32602, "{unknown}");

    let helpers = client.ok("scopes.helpers", json!({})).await;
    let helpers = helpers.as_array().unwrap();
    assert_eq!(helpers.len(), 25);
    assert_eq!(helpers[0]["name"], "basic");
    assert_eq!(helpers[0]["scopes"], json!(["User.Read"]));
    assert!(
        helpers
            .iter()
            .all(|helper| !helper["description"].as_str().unwrap().is_empty())
    );
    let business_central = client
        .ok(
            "scopes.helpers",
            json!({ "protocol": { "kind": "business_central", "environment": "production" } }),
        )
        .await;
    assert_eq!(
        business_central[0]["scopes"],
        json!(["Financials.ReadWrite.All"]),
        "{business_central}"
    );
    let preview = client
        .ok(
            "scopes.preview",
            json!({ "scopes": ["basic", "mailbx", "Mail.Read", "User.Read", IMAP] }),
        )
        .await;
    assert_eq!(
        preview["scopes"],
        json!([
            "https://graph.microsoft.com/User.Read",
            "https://graph.microsoft.com/Mail.Read",
            IMAP,
            "offline_access",
            "openid",
            "profile"
        ]),
        "{preview}"
    );
    assert_eq!(preview["unknown"][0]["entry"], "mailbx", "{preview}");

    let accounts = client.ok("accounts.list", json!({})).await;
    assert_eq!(accounts[0]["scopes"], json!(["User.Read"]), "{accounts}");
    // Refresh times are whole seconds: the refresh must come in a later one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client
        .ok("token.refresh", json!({ "account": DEMO_USERNAME }))
        .await;
    let refreshed = client.ok("accounts.list", json!({})).await;
    assert!(
        refreshed[0]["last_refresh_at"].as_i64() > accounts[0]["last_refresh_at"].as_i64(),
        "the list shows the refresh: {accounts} then {refreshed}"
    );

    let token = client
        .ok("token.get", json!({ "account": DEMO_USERNAME }))
        .await;
    let mut activity = json!([]);
    for _ in 0..50 {
        activity = client.ok("audit.recent", json!({ "limit": 10 })).await;
        if !activity.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let entry = &activity[0];
    assert_eq!(entry["account"], DEMO_USERNAME, "{activity}");
    assert_eq!(entry["channel"], "ipc", "{activity}");
    assert_eq!(entry["pid"], std::process::id(), "{activity}");
    assert_eq!(entry["scopes"], json!(["User.Read"]), "{activity}");
    assert_eq!(entry["app"], APP, "{activity}");
    assert!(
        !activity
            .to_string()
            .contains(token["access_token"].as_str().unwrap()),
        "no token in the activity log"
    );
    let filtered = client
        .ok(
            "audit.recent",
            json!({ "account": DEMO_USERNAME, "limit": 1 }),
        )
        .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1, "{filtered}");
    let nobody = client
        .err("audit.recent", json!({ "account": ADELE }))
        .await;
    assert_eq!(code_of(&nobody), "no_account", "{nobody}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_is_changed_field_by_field_and_keeps_its_secret_and_its_accounts() {
    let harness = Harness::start().await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME]).await;

    let renamed = client
        .ok(
            "apps.update",
            json!({ "name": APP, "new_name": "demo", "default_scopes": ["basic"] }),
        )
        .await;
    assert_eq!(renamed["name"], "demo", "{renamed}");
    assert_eq!(renamed["default_scopes"], json!(["basic"]));
    assert_eq!(renamed["accounts"], 1);
    let token = client
        .ok(
            "token.get",
            json!({ "account": format!("demo/{DEMO_USERNAME}") }),
        )
        .await;
    assert_eq!(token["account"], DEMO_USERNAME, "{token}");

    for (change, field) in [
        (json!({ "client_id": "not a guid" }), "client_id"),
        (
            json!({ "client_id": "00000000-0000-0000-0000-000000000001" }),
            "client_id",
        ),
        (json!({ "tenant": "organizations" }), "tenant"),
        (json!({ "flow": "sideways" }), "flow"),
        (json!({ "new_name": "a/b" }), "name"),
    ] {
        let mut params = change.clone();
        params["name"] = json!("demo");
        let error = client.err("apps.update", params).await;
        assert_eq!(code_of(&error), "invalid_input", "{change}: {error}");
        assert_eq!(error["data"]["field"], field, "{change}: {error}");
    }
    let mut same_name = harness.app_spec();
    same_name["name"] = json!("demo");
    same_name["tenant"] = json!("organizations");
    let error = client.err("apps.add", same_name).await;
    assert_eq!(error["data"]["field"], "name", "{error}");
    let mut same_client = harness.app_spec();
    same_client["name"] = json!("twin");
    let error = client.err("apps.add", same_client).await;
    assert_eq!(error["data"]["field"], "client_id", "{error}");
    let unchanged = client.ok("apps.show", json!({ "name": "demo" })).await;
    assert_eq!(
        unchanged["client_id"], DEMO_CLIENT_ID,
        "nothing stored: {unchanged}"
    );

    let confidential = client
        .ok(
            "apps.add",
            harness.confidential_app_spec(json!({ "client_secret": "first-secret" })),
        )
        .await;
    assert_eq!(confidential["has_client_secret"], true);
    let kept = client
        .ok(
            "apps.update",
            json!({ "name": "daemon", "default_scopes": [] }),
        )
        .await;
    assert_eq!(
        kept["has_client_secret"], true,
        "a secret left out stays: {kept}"
    );
    let refused = client
        .err(
            "apps.update",
            json!({ "name": "daemon", "client_secret": null }),
        )
        .await;
    assert_eq!(code_of(&refused), "invalid_input", "{refused}");
    assert_eq!(refused["data"]["field"], "client_secret", "{refused}");
    let still = client.ok("apps.show", json!({ "name": "daemon" })).await;
    assert_eq!(still["has_client_secret"], true, "{still}");
    let secret_text = serde_json::to_string(&still).unwrap();
    assert!(!secret_text.contains("first-secret"));
    assert_eq!(
        still["cloud"], still["authority"],
        "a custom cloud is its URL: {still}"
    );
    let public = client
        .ok("apps.update", json!({ "name": "daemon", "flow": "public" }))
        .await;
    assert_eq!(public["flow"], "public", "{public}");
    assert_eq!(
        public["has_client_secret"], false,
        "a public client keeps no secret: {public}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_apps_certificate_is_replaced_by_a_secret_only_when_asked_to_go() {
    use entra_emulator::sandbox::DEMO_CLIENT_SECRET;
    let harness = Harness::start().await;
    let mut client = harness.client().await;
    // A certificate the emulator's app does not know: signing in with it fails.
    let (certificate, key, _) = self_signed_certificate();
    let pem = format!(
        "{}{}",
        String::from_utf8(certificate).unwrap(),
        key.expose()
    );
    let added = client
        .ok(
            "apps.add",
            harness.confidential_app_spec(json!({ "certificate_pem": pem })),
        )
        .await;
    assert_eq!(added["has_certificate"], true, "{added}");
    async fn sign_in(client: &mut Client) -> Value {
        let challenge = client.ok("login.start", json!({ "method": "app" })).await;
        client
            .call("login.wait", json!({ "login": challenge["login"] }))
            .await
    }
    let refused = sign_in(&mut client).await;
    assert_eq!(
        refused["error"]["data"]["code"], "app_misconfigured",
        "{refused}"
    );

    let both = client
        .err(
            "apps.update",
            json!({ "name": "daemon", "certificate_pem": pem, "remove_certificate": true }),
        )
        .await;
    assert_eq!(code_of(&both), "invalid_input", "{both}");
    assert_eq!(both["data"]["field"], "remove_certificate", "{both}");
    let nothing_left = client
        .err(
            "apps.update",
            json!({ "name": "daemon", "remove_certificate": true }),
        )
        .await;
    assert_eq!(
        code_of(&nothing_left),
        "invalid_input",
        "a credentials app needs a credential: {nothing_left}"
    );
    // A secret beside the certificate: the certificate, used first, stays.
    let beside = client
        .ok(
            "apps.update",
            json!({ "name": "daemon", "client_secret": DEMO_CLIENT_SECRET }),
        )
        .await;
    assert_eq!(beside["has_certificate"], true, "{beside}");
    assert_eq!(beside["has_client_secret"], true, "{beside}");

    let switched = client
        .ok(
            "apps.update",
            json!({ "name": "daemon", "remove_certificate": true }),
        )
        .await;
    assert_eq!(switched["has_certificate"], false, "{switched}");
    assert_eq!(switched["has_client_secret"], true, "{switched}");
    let signed_in = sign_in(&mut client).await;
    assert_eq!(
        signed_in["result"]["app"], "daemon",
        "the secret now signs the app in: {signed_in}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_ins_are_cancelled_and_redirect_sign_ins_are_waited_for() {
    let harness = Harness::start().await;
    let mut client = harness.client().await;
    client.ok("apps.add", harness.app_spec()).await;

    // A browser sign-in cancelled while someone waits for it.
    let challenge = client
        .ok("login.start", json!({ "method": "browser" }))
        .await;
    let login = challenge["login"].clone();
    let mut waiter = harness.client().await;
    let waiting = tokio::spawn(async move {
        waiter
            .call("login.wait", json!({ "login": login, "timeout_s": 30 }))
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cancelled = client
        .ok("login.cancel", json!({ "login": challenge["login"] }))
        .await;
    assert_eq!(cancelled, json!({ "cancelled": true }));
    let answer = waiting.await.unwrap();
    assert_eq!(answer["error"]["data"]["code"], "cancelled", "{answer}");
    let again = client
        .ok("login.cancel", json!({ "login": challenge["login"] }))
        .await;
    assert_eq!(again, json!({ "cancelled": false }));

    // A console sign-in: `login.wait` on one connection, the address pasted on another.
    let challenge = client
        .ok("login.start", json!({ "method": "console" }))
        .await;
    let login = challenge["login"].clone();
    let mut waiter = harness.client().await;
    let waiting = tokio::spawn(async move {
        waiter
            .ok("login.wait", json!({ "login": login, "timeout_s": 30 }))
            .await
    });
    let landed = Browser::new()
        .sign_in(
            challenge["url"].as_str().unwrap(),
            ADELE,
            DEMO_PASSWORD,
            true,
        )
        .await;
    let location = landed.location.expect("a redirect");
    let account = client
        .ok("login.complete", json!({ "redirected_url": location }))
        .await;
    assert_eq!(account["username"], ADELE);
    let waited = waiting.await.unwrap();
    assert_eq!(waited["username"], ADELE, "{waited}");

    // Cancelled, the pending sign-in is gone: its address no longer completes anything.
    let challenge = client
        .ok("login.start", json!({ "method": "console" }))
        .await;
    let landed = Browser::new()
        .sign_in(
            challenge["url"].as_str().unwrap(),
            DEMO_USERNAME,
            DEMO_PASSWORD,
            true,
        )
        .await;
    client
        .ok("login.cancel", json!({ "login": challenge["login"] }))
        .await;
    let late = client
        .err(
            "login.complete",
            json!({ "redirected_url": landed.location.expect("a redirect") }),
        )
        .await;
    assert_eq!(code_of(&late), "state_mismatch", "{late}");

    // An app registered with the deep-link redirect gets its browser sign-ins back that way.
    client
        .ok(
            "apps.update",
            json!({ "name": APP, "redirect": "deep_link" }),
        )
        .await;
    let challenge = client
        .ok("login.start", json!({ "method": "browser" }))
        .await;
    let url = url::Url::parse(challenge["url"].as_str().unwrap()).unwrap();
    let redirect = url
        .query_pairs()
        .find(|(name, _)| name == "redirect_uri")
        .map(|(_, value)| value.into_owned());
    assert_eq!(redirect.as_deref(), Some("o365auth://auth"));
    let landed = Browser::new()
        .sign_in(
            url.as_str(),
            "megan@sandbox.onmicrosoft.com",
            DEMO_PASSWORD,
            true,
        )
        .await;
    let deep_link = landed.location.expect("a redirect");
    assert!(deep_link.starts_with("o365auth://auth?"), "{deep_link}");
    let account = client
        .ok("login.complete", json!({ "redirected_url": deep_link }))
        .await;
    assert_eq!(account["username"], "megan@sandbox.onmicrosoft.com");
    let waited = client
        .ok(
            "login.wait",
            json!({ "login": challenge["login"], "timeout_s": 5 }),
        )
        .await;
    assert_eq!(
        waited["username"], "megan@sandbox.onmicrosoft.com",
        "{waited}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sandbox_registers_its_app_and_stopping_it_removes_the_app() {
    let harness = Harness::start().await;
    let mut client = harness.client().await;
    let mut events = harness.client().await;
    events.ok("events.subscribe", json!({})).await;

    let stopped = client.ok("sandbox.status", json!({})).await;
    assert_eq!(stopped["running"], false, "{stopped}");
    let started = client.ok("sandbox.start", json!({})).await;
    assert_eq!(started["running"], true, "{started}");
    assert_eq!(started["app"], "sandbox", "{started}");
    assert_eq!(started["demo_username"], DEMO_USERNAME);
    let base_url = started["base_url"].as_str().unwrap().to_owned();
    let app = client.ok("apps.show", json!({ "name": "sandbox" })).await;
    assert_eq!(app["client_id"], DEMO_CLIENT_ID, "{app}");
    assert!(
        app["authority"].as_str().unwrap().starts_with(&base_url),
        "{app} against {base_url}"
    );
    let discovery = reqwest::get(format!(
        "{base_url}/{DEMO_TENANT_ID}/v2.0/.well-known/openid-configuration"
    ))
    .await
    .unwrap();
    assert!(discovery.status().is_success());
    let event = loop {
        let event = events.receive().await.expect("an event");
        if event["params"]["event"] == "sandbox_changed" {
            break event;
        }
    };
    assert_eq!(event["params"]["status"]["running"], true, "{event}");

    let again = client.ok("sandbox.start", json!({})).await;
    assert_eq!(
        again["base_url"],
        json!(base_url),
        "starting twice keeps one emulator"
    );
    let stopped = client.ok("sandbox.stop", json!({})).await;
    assert_eq!(stopped["running"], false, "{stopped}");
    let apps = client.ok("apps.list", json!({})).await;
    assert_eq!(apps, json!([]), "{apps}");
}

// --- the scheduler against the emulator ---------------------------------------------------

/// The next event named `name` for `account` (others are skipped), within `seconds`.
async fn next_event(events: &mut Client, name: &str, seconds: u64) -> Value {
    tokio::time::timeout(Duration::from_secs(seconds), async {
        loop {
            let event = events.receive().await.expect("the event stream stays open");
            if event["params"]["event"] == name {
                return event["params"].clone();
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {name} event within {seconds} s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_scheduler_refreshes_before_expiry_through_throttling_outages_and_timeouts() {
    // Tokens live eight seconds, less than twice the default margin: each is refreshed
    // halfway through its life.
    let mut config = emulator_config();
    config.lifetimes.access_token_seconds = 8;
    let mut options = ServiceOptions {
        scheduler: SchedulerConfig {
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(2),
            ..SchedulerConfig::default()
        },
        ..ServiceOptions::default()
    };
    options.connection.http.timeout = Duration::from_secs(2);
    options.connection.request_retries = 0;
    let harness = Harness::start_with_options(config, options).await;
    let mut client = harness.with_accounts(&[DEMO_USERNAME]).await;
    let signed_in = client.ok("accounts.list", json!({})).await[0]["expires_at"]
        .as_i64()
        .unwrap();
    let mut events = harness.client().await;
    events.ok("events.subscribe", json!({})).await;

    // The next refreshes meet a 429, a 503 and an answer slower than the timeout, in turn.
    let token_path = format!("/{DEMO_TENANT_ID}/oauth2/v2.0/token");
    let control = harness.emulator.control();
    for mut fault in [
        Fault::throttle(1, 1),
        Fault::status(1, 503),
        Fault::latency(1, Duration::from_secs(4)),
    ] {
        fault.path_prefix = Some(token_path.clone());
        control.inject(fault);
    }
    let mut codes = Vec::new();
    for _ in 0..3 {
        let retry = next_event(&mut events, "retry_scheduled", 30).await;
        assert_eq!(
            retry["account"],
            format!("{APP}/{DEMO_USERNAME}"),
            "{retry}"
        );
        codes.push(retry["code"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(codes, ["throttled", "transient", "transient"], "{codes:?}");
    let refreshed = next_event(&mut events, "refreshed", 30).await;
    assert!(
        refreshed["expires_at"].as_i64() >= Some(signed_in),
        "{refreshed}"
    );
    let account = &client.ok("accounts.list", json!({})).await[0];
    assert_eq!(account["status"], "fresh", "{account}");

    // A revoked grant: the person is told once, and the scheduler stops asking.
    control.revoke_refresh_tokens(DEMO_USERNAME).unwrap();
    let attention = next_event(&mut events, "needs_attention", 30).await;
    assert_eq!(attention["code"], "needs_sign_in", "{attention}");
    let account = &client.ok("accounts.list", json!({})).await[0];
    assert_eq!(account["status"], "needs_sign_in", "{account}");
    let refreshes = harness.refreshes();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        harness.refreshes(),
        refreshes,
        "no refresh after the grant died"
    );
}
