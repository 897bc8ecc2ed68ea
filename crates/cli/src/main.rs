//! `o365-auth`: the light client of the o365-auth token service. It speaks JSON-RPC over the
//! service's Unix socket (docs/ipc.md) with std, serde_json and clap only — no async runtime,
//! no store, no keyring, no configuration — so that `o365-auth token` costs little more than
//! starting a process. The service itself is `o365-auth-daemon` (src/bin/), which
//! `o365-auth daemon` and `o365-auth sandbox` run, and which client commands start when no
//! service answers.

// The C `main` below is the entry point, not std's: see there. Tests keep the harness's.
#![cfg_attr(not(test), no_main)]

mod autostart;
mod cli;
mod commands;
mod display;
mod error;
mod fast;
mod format;
mod git_credential;
mod rpc;
mod secrets;

use clap::Parser;

/// The process's entry point, called by the C runtime directly instead of through std's
/// `lang_start`. std's start-up reads `/proc/self/maps` to place a guard under the main
/// thread's stack, installs a stack-overflow handler on an alternate signal stack, checks
/// descriptors 0-2 and ignores SIGPIPE: about 75 µs per process on the benchmark machine
/// (scripts/bench-token.sh), an eighth of a whole `/bin/true`, for things a short-lived
/// client does not need. Consequences: a stack overflow is a plain SIGSEGV, and writing to a
/// closed pipe ends the process with SIGPIPE as it does for C tools (sockets use
/// MSG_NOSIGNAL, so a vanished service is still an error, not a signal). The arguments are
/// taken from `argv` here, not from `std::env::args_os` (which only glibc fills without
/// `lang_start`).
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    use std::os::unix::ffi::OsStrExt;
    let count = usize::try_from(argc).unwrap_or(0);
    let args: Vec<std::ffi::OsString> = (0..count)
        .map(|index| {
            // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
            let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(index)) };
            std::ffi::OsStr::from_bytes(arg.to_bytes()).to_owned()
        })
        .collect();
    // A panic must not unwind into C; it has printed its message, so exit with failure.
    let code = std::panic::catch_unwind(move || run(args)).unwrap_or(error::EXIT_FAILURE);
    // Flushes standard output, then exits without returning into C.
    std::process::exit(code)
}

/// Runs the command line `args` (the program's name first); the exit status.
// Test builds have the harness's entry point, so nothing calls this there.
#[cfg_attr(test, allow(dead_code))]
fn run(args: Vec<std::ffi::OsString>) -> i32 {
    let result = match fast::parse(args.get(1..).unwrap_or_default()) {
        // `o365-auth token ...`, read without clap (see fast.rs for why).
        Some(fast) => commands::token_fast(fast),
        // clap prints usage errors and exits with 2 (0 for --help and --version).
        None => commands::run(cli::Cli::parse_from(args)),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}
