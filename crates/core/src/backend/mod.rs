//! Where an [`crate::account::Account`] keeps its tokens: memory, an environment variable, or an MSAL cache file.
