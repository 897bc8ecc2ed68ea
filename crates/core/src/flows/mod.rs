//! Microsoft identity platform flows.
