//! o365-auth core. Knows nothing of Tauri or any window.
//!
//! Module map (network-free building blocks first; flows, connection and store come later):
//! - [`secret`]: [`Secret`], a string that never prints.
//! - [`error`]: [`Error`] with stable machine codes, and the classifier of Microsoft identity
//!   platform error answers.
//! - [`scopes`]: python-o365's scope helpers, scope expansion and prefixing.

pub mod error;
pub mod scopes;
pub mod secret;

pub use error::{Error, Result};
pub use secret::Secret;
