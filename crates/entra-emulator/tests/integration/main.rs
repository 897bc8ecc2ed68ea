//! Integration tests: the emulator in-process on a free port, driven over real HTTP.

mod common;

mod authorize;
