//! o365-auth core. Knows nothing of Tauri or any window.
//!
//! Module map (flows, connection and the SQLite store come with their issues):
//! - [`secret`]: [`Secret`], a string that never prints.
//! - [`error`]: [`Error`] with stable machine codes, and the classifier of Microsoft identity
//!   platform error answers.
//! - [`cloud`]: Microsoft clouds and their sign-in and Graph hosts.
//! - [`authority`]: tenants, authority URLs, discovery and endpoint URLs.
//! - [`scopes`]: python-o365's scope helpers, scope expansion and prefixing.
//! - [`resource`]: `me`, `users/…`, and python-o365's resource shorthands.
//! - [`protocol`]: Graph, Business Central and custom APIs: URLs, casing, time zone, keywords.
//! - [`http`]: timeouts, proxy and TLS settings shared by every HTTP call.
//! - [`msal_cache`]: MSAL's unified token-cache JSON (python-o365 ≥ 2.1 and MSAL files).
//! - [`store`]: the SQLite token store (registrations, accounts, tokens, pending sign-ins, audit),
//!   secrets sealed under a key in the OS keyring; [`store::StoreBackend`] is its `TokenBackend`.
//! - [`flows`]: sign-in flows on the `oauth2` crate (auth code + PKCE, client credentials, password, device code, refresh).
//! - [`account`]: python-o365's `Account`: users of one app, tokens kept fresh through a [`backend::TokenBackend`].
//! - [`backend`]: where tokens live between runs (memory, environment, MSAL cache file; the store).
//! - [`token`]: the token model (access, refresh and ID tokens, account identity).
//! - [`sandbox`]: the bundled Entra emulator with a demo tenant, for newcomers.
//!
//! `docs/parity.md` maps python-o365's behaviour to ours, with the test that shows each.

pub mod account;
pub mod authority;
pub mod backend;
pub mod cloud;
pub mod connection;
pub mod console;
pub mod error;
pub mod flows;
pub mod host;
pub mod http;
pub mod ipc;
pub mod msal_cache;
pub mod protocol;
pub mod request_cap;
pub mod resource;
pub mod sandbox;
pub mod scopes;
pub mod secret;
pub mod service;
pub mod store;
pub mod token;
pub mod web;

pub use error::{Error, Result};
pub use secret::Secret;
