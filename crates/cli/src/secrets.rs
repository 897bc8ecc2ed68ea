//! Reading secrets (client secrets, passwords, PKCS#12 passwords) from standard input, a file
//! or the terminal with echo off — never from the command line, where every user on the
//! machine could read them in the process list.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::OnceLock;

use crate::error::{Failure, Result};

/// The first line of `input` without its line ending; an empty secret is refused.
pub fn first_line(mut input: impl BufRead, what: &str) -> Result<String> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|error| Failure::local(format!("cannot read the {what}: {error}")))?;
    let secret = line.trim_end_matches(['\n', '\r']).to_owned();
    if secret.is_empty() {
        return Err(Failure::local(format!("the {what} is empty")));
    }
    Ok(secret)
}

/// The first line of standard input.
pub fn from_stdin(what: &str) -> Result<String> {
    first_line(io::stdin().lock(), what)
}

/// The first line of a file.
pub fn from_file(path: &Path, what: &str) -> Result<String> {
    let file = File::open(path).map_err(|error| {
        Failure::local(format!(
            "cannot read the {what} from {}: {error}",
            path.display()
        ))
    })?;
    first_line(BufReader::new(file), what)
}

/// A password: asked on the terminal (not echoed) when standard input is one, else the first
/// line of standard input (for scripts: `... < file`, or a pipe from a password manager).
pub fn password(prompt: &str, what: &str) -> Result<String> {
    if io::stdin().is_terminal() {
        ask_hidden(prompt, what)
    } else {
        from_stdin(what)
    }
}

/// The terminal settings to restore if a signal ends us while echo is off.
static SAVED_TERMINAL: OnceLock<(i32, libc::termios)> = OnceLock::new();

extern "C" fn restore_and_die(signal: libc::c_int) {
    // SAFETY: tcsetattr, signal and raise are async-signal-safe; SAVED_TERMINAL was set
    // before this handler was installed and is never changed afterwards.
    unsafe {
        if let Some((fd, saved)) = SAVED_TERMINAL.get() {
            libc::tcsetattr(*fd, libc::TCSANOW, saved);
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Asks on the controlling terminal (`/dev/tty`, so standard input and output may be
/// redirected) with echo off, and restores the terminal however the read ends.
pub fn ask_hidden(prompt: &str, what: &str) -> Result<String> {
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|error| {
            Failure::local(format!(
                "cannot ask for the {what}: no terminal ({error}); give it on standard input"
            ))
        })?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it or fails.
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut settings) } != 0 {
        return Err(Failure::local(format!(
            "cannot ask for the {what}: the terminal's settings cannot be read ({})",
            io::Error::last_os_error()
        )));
    }
    let saved = settings;
    let _ = SAVED_TERMINAL.set((fd, saved));
    let handler = restore_and_die as extern "C" fn(libc::c_int) as libc::sighandler_t;
    let signals = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];
    // SAFETY: installing a handler that only makes async-signal-safe calls.
    let previous: Vec<libc::sighandler_t> = signals
        .iter()
        .map(|&signal| unsafe { libc::signal(signal, handler) })
        .collect();
    settings.c_lflag &= !libc::ECHO;
    settings.c_lflag |= libc::ECHONL;
    let result = (|| {
        // Echo goes off before the prompt shows, so nothing typed after it is ever shown.
        // SAFETY: settings came from tcgetattr on this descriptor.
        if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &settings) } != 0 {
            return Err(io::Error::last_os_error());
        }
        (&tty)
            .write_all(prompt.as_bytes())
            .and_then(|()| (&tty).flush())?;
        let mut line = String::new();
        BufReader::new((&tty).take(64 * 1024)).read_line(&mut line)?;
        Ok(line)
    })();
    // SAFETY: restoring what tcgetattr returned, and the previous handlers.
    unsafe {
        libc::tcsetattr(fd, libc::TCSANOW, &saved);
        for (signal, previous) in signals.iter().zip(previous) {
            libc::signal(*signal, previous);
        }
    }
    let line =
        result.map_err(|error| Failure::local(format!("cannot read the {what}: {error}")))?;
    first_line(line.as_bytes(), what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_its_first_line_without_the_ending() {
        assert_eq!(first_line(&b"s3cret\r\nmore\n"[..], "x").unwrap(), "s3cret");
        assert_eq!(first_line(&b"no newline"[..], "x").unwrap(), "no newline");
        assert_eq!(
            first_line(&b"  spaces kept  \n"[..], "x").unwrap(),
            "  spaces kept  "
        );
        let empty = first_line(&b"\n"[..], "client secret").unwrap_err();
        assert_eq!(empty.to_string(), "the client secret is empty");
    }

    #[test]
    fn a_file_secret_never_echoes_its_content_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "hunter2\n").unwrap();
        assert_eq!(from_file(&file, "client secret").unwrap(), "hunter2");
        let missing = from_file(&dir.path().join("none"), "client secret").unwrap_err();
        assert!(missing.to_string().contains("none"));
    }
}
