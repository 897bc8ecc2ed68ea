//! A hand-written reading of the `o365-auth token ...` command line, tried before clap.
//!
//! Why: `o365-auth token` is run by mail clients and scripts for every connection, and the
//! issue's target is a whole process within 1.5× of `/bin/true`. Building clap's command tree
//! (every subcommand, every argument and its help) and parsing with it measured about a fifth
//! of the whole `token` process on the benchmark machine (scripts/bench-token.sh); this reader
//! takes microseconds. It understands exactly the forms clap accepts for `token` and gives up
//! (returns `None`) on anything else — help, version, unknown or repeated options, values
//! that look like options, non-UTF-8 — so clap still parses those and prints its usual
//! messages. A unit test checks it against clap on many command lines.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cli::{TokenArgs, TokenFormat};

/// What the fast reading found: the global options and `token`'s arguments.
#[derive(Debug)]
pub struct FastToken {
    pub socket: Option<PathBuf>,
    pub json: bool,
    pub args: TokenArgs,
}

/// `args` without the program name.
pub fn parse(args: &[OsString]) -> Option<FastToken> {
    let mut socket = None;
    let mut json = false;
    let mut seen_token = false;
    let mut args_out = TokenArgs {
        account: None,
        account_option: None,
        scopes: Vec::new(),
        min_ttl: None,
        format: None,
        host: None,
        port: None,
    };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value)),
            _ => (word, None),
        };
        let mut value = || -> Option<&str> {
            let value = match inline {
                Some(value) => value,
                None => {
                    let next = words.next()?.to_str()?;
                    // clap reads `--opt -x` as a missing value; leave that to it.
                    if next.starts_with('-') {
                        return None;
                    }
                    next
                }
            };
            Some(value)
        };
        match name {
            "--socket" if socket.is_none() => socket = Some(PathBuf::from(value()?)),
            "--json" if inline.is_none() && !json => json = true,
            "token" if !seen_token => seen_token = true,
            _ if !seen_token => return None,
            "--scopes" => args_out.scopes.push(value()?.to_owned()),
            "--account" if args_out.account_option.is_none() => {
                args_out.account_option = Some(value()?.to_owned());
            }
            "--min-ttl" if args_out.min_ttl.is_none() => {
                args_out.min_ttl = Some(value()?.parse().ok()?);
            }
            "--format" if args_out.format.is_none() => {
                args_out.format = Some(match value()? {
                    "raw" => TokenFormat::Raw,
                    "json" => TokenFormat::Json,
                    "header" => TokenFormat::Header,
                    "xoauth2" => TokenFormat::Xoauth2,
                    "oauthbearer" => TokenFormat::Oauthbearer,
                    "env" => TokenFormat::Env,
                    _ => return None,
                });
            }
            "--host" if args_out.host.is_none() => args_out.host = Some(value()?.to_owned()),
            "--port" if args_out.port.is_none() => args_out.port = Some(value()?.parse().ok()?),
            _ if inline.is_none() && !word.starts_with('-') && args_out.account.is_none() => {
                args_out.account = Some(word.to_owned());
            }
            _ => return None,
        }
    }
    if !seen_token || (args_out.account.is_some() && args_out.account_option.is_some()) {
        return None;
    }
    Some(FastToken {
        socket,
        json,
        args: args_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn fast(line: &[&str]) -> Option<FastToken> {
        let args: Vec<OsString> = line.iter().map(OsString::from).collect();
        parse(&args)
    }

    fn clap(line: &[&str]) -> Option<FastToken> {
        let cli =
            Cli::try_parse_from(std::iter::once("o365-auth").chain(line.iter().copied())).ok()?;
        match cli.command {
            Command::Token(args) => Some(FastToken {
                socket: cli.socket,
                json: cli.json,
                args,
            }),
            _ => None,
        }
    }

    #[test]
    fn the_fast_reading_agrees_with_clap_or_steps_aside() {
        let lines: &[&[&str]] = &[
            &["token"],
            &["token", "work"],
            &["token", "adele@contoso.com", "--format", "xoauth2"],
            &[
                "token",
                "--format=oauthbearer",
                "--host",
                "imap.example",
                "--port=993",
            ],
            &["--socket", "/s.sock", "token", "--json"],
            &["--json", "token", "--socket=/s.sock", "app/me"],
            &[
                "token",
                "--scopes",
                "basic,mailbox",
                "--scopes",
                "Mail.Read",
                "--min-ttl",
                "300",
            ],
            &["token", "--account", "work"],
            &["token", "--account=work", "--format", "env"],
            &["token", "work", "--account", "other"],
            &["token", "a", "b"],
            &["token", "--format", "nonsense"],
            &["token", "--min-ttl", "-5"],
            &["token", "--min-ttl", "soon"],
            &["token", "--port", "70000"],
            &["token", "--scopes", "--format", "raw"],
            &["token", "--help"],
            &["token", "-h"],
            &["--version"],
            &["token", "--format", "raw", "--format", "json"],
            &["token", "--unknown"],
            &["token", "--json=yes"],
            &["token", "--", "work"],
            &["accounts"],
            &["token", "--scopes"],
            &["token", "--socket", "/a", "--socket", "/b"],
            &["--socket", "/a", "token", "--socket", "/b"],
        ];
        for line in lines {
            let quick = fast(line);
            if let Some(quick) = &quick {
                let slow = clap(line).unwrap_or_else(|| panic!("clap refuses {line:?}"));
                assert_eq!(
                    format!("{quick:?}"),
                    format!("{slow:?}"),
                    "the readings differ for {line:?}"
                );
            }
        }
        // The common forms do take the fast way.
        for line in &lines[..9] {
            assert!(fast(line).is_some(), "{line:?} should be read fast");
        }
    }
}
