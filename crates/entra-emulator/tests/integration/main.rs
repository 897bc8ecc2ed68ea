//! Integration tests: the emulator in-process on a free port, driven over real HTTP.

mod common;

mod authorize;
mod client_credentials;
mod discovery;
mod faults;
mod graph;
mod mail;
mod refresh;
mod ropc_device;
mod spa;
mod token_errors;
