//! The command line, as clap sees it. Every command but `daemon`, `sandbox` and `completions`
//! talks to the token service over its socket (docs/ipc.md).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "o365-auth",
    version,
    about = "Microsoft 365 OAuth tokens for every tool, kept fresh",
    long_about = "Microsoft 365 OAuth tokens for every tool, kept fresh.\n\n\
        Every command talks to the o365-auth token service (the desktop app while it runs, \
        otherwise `o365-auth daemon`) over its Unix socket, and starts the daemon when none \
        answers (O365_AUTH_NO_AUTOSTART=1 turns that off).",
    after_help = "Exit status: 0 ok, 1 the service refused (its message and code are shown), \
        2 usage error, 3 the service cannot be reached or started."
)]
pub struct Cli {
    /// The service's socket [default: $O365_AUTH_SOCKET, else $XDG_RUNTIME_DIR/o365-auth/ipc.sock].
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print JSON instead of text, where a command has something to show.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an access token for an account (default: the only account).
    Token(TokenArgs),
    /// Sign in an account through an app registration.
    Login(LoginArgs),
    /// List the signed-in accounts.
    Accounts,
    /// Refresh an account's access token now.
    Refresh {
        /// Username, alias, home account id, or APP/NAME.
        account: String,
        /// Scope helpers or scopes, comma separated [default: the app's].
        #[arg(long, value_name = "SCOPES")]
        scopes: Vec<String>,
    },
    /// Forget an account and its tokens.
    Logout {
        /// Username, alias, home account id, or APP/NAME.
        account: String,
    },
    /// Give an account a short name, or take it away.
    Alias {
        /// Username, alias, home account id, or APP/NAME.
        account: String,
        /// The alias, e.g. `work`.
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        name: Option<String>,
        /// Remove the account's alias.
        #[arg(long)]
        clear: bool,
    },
    /// Show what the service is doing.
    Status,
    /// Stop the running service (the desktop app or the daemon).
    Stop,
    /// Manage app registrations (client id, tenant, flow, credentials).
    #[command(subcommand)]
    App(AppCommand),
    /// Call Microsoft Graph (or the account's API) through the service; the token never leaves it.
    Request(RequestArgs),
    /// Import accounts from a python-o365 token file or an MSAL token cache.
    Import {
        /// The token file.
        file: PathBuf,
    },
    /// Export accounts to a python-o365 / MSAL token cache file.
    Export {
        /// The token file (merged into when it exists).
        file: PathBuf,
        /// Only these accounts (repeat for several) [default: all].
        #[arg(long = "account", value_name = "ACCOUNT")]
        accounts: Vec<String>,
    },
    /// Git credential helper for Azure DevOps over HTTPS.
    ///
    /// Set it up with `git config --global credential.https://dev.azure.com.helper
    /// '!o365-auth git-credential'` (the `!` makes git run it as a command). Other hosts get no
    /// answer, so git asks its next helper.
    GitCredential {
        /// What git asks: get, store or erase.
        operation: GitOperation,
    },
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
    /// Run the headless token service (o365-auth-daemon) in the foreground.
    ///
    /// `o365-auth daemon --help` shows its options.
    #[command(disable_help_flag = true)]
    Daemon {
        /// Passed to o365-auth-daemon unchanged.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run the sandbox: a local identity platform emulator with a demo tenant, app and user.
    ///
    /// `o365-auth sandbox --help` shows its options.
    #[command(disable_help_flag = true)]
    Sandbox {
        /// Passed to `o365-auth-daemon sandbox` unchanged.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GitOperation {
    Get,
    Store,
    Erase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum TokenFormat {
    /// The access token and a newline.
    #[default]
    Raw,
    /// The service's answer: access_token, token_type, expires_at, scopes, account.
    Json,
    /// `Authorization: Bearer <token>`.
    Header,
    /// The base64 SASL XOAUTH2 string (IMAP/SMTP/POP with Gmail or Microsoft).
    Xoauth2,
    /// The base64 SASL OAUTHBEARER string (RFC 7628).
    Oauthbearer,
    /// `export O365_ACCESS_TOKEN=...` lines for a POSIX shell's eval.
    Env,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Username, alias, home account id, or APP/NAME [default: the only account].
    pub account: Option<String>,
    /// The same as the ACCOUNT argument.
    #[arg(long = "account", value_name = "ACCOUNT", conflicts_with = "account")]
    pub account_option: Option<String>,
    /// Scope helpers (basic, mailbox, ...) or scopes, comma separated [default: the app's].
    #[arg(long, value_name = "SCOPES")]
    pub scopes: Vec<String>,
    /// The token must stay valid this many more seconds [service default: 60].
    #[arg(long, value_name = "SECONDS")]
    pub min_ttl: Option<u64>,
    /// How to print the token.
    #[arg(long, value_enum)]
    pub format: Option<TokenFormat>,
    /// OAUTHBEARER only: the server's host name, sent in the SASL string.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// OAUTHBEARER only: the server's port, sent in the SASL string.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The app registration to sign in through [default: the only one].
    #[arg(long)]
    pub app: Option<String>,
    /// Scope helpers or scopes, comma separated [default: the app's].
    #[arg(long, value_name = "SCOPES")]
    pub scopes: Vec<String>,
    #[command(flatten)]
    pub method: LoginMethodArgs,
    /// Preselect this username on the sign-in page.
    #[arg(long, value_name = "USERNAME")]
    pub login_hint: Option<String>,
    /// Browser sign-in: print the address instead of opening a browser.
    #[arg(long)]
    pub no_open: bool,
    /// Password sign-in: the username (the password is read from a prompt or standard input).
    #[arg(long)]
    pub username: Option<String>,
    /// Ask the person to pick an account even when the browser is signed in already.
    #[arg(long)]
    pub select_account: bool,
}

#[derive(Debug, Args, Default)]
#[group(multiple = false)]
pub struct LoginMethodArgs {
    /// Sign in in a browser; the service receives the answer on a loopback address.
    #[arg(long)]
    pub browser: bool,
    /// Sign in on another device with a code.
    #[arg(long)]
    pub device_code: bool,
    /// Sign in in any browser, then paste the address it lands on here.
    #[arg(long)]
    pub console: bool,
    /// Username and password (accounts without MFA only; not recommended).
    #[arg(long)]
    pub password: bool,
    /// The app signs in as itself (client credentials).
    #[arg(long)]
    pub app_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an app (its secrets are read from stdin, a prompt or a file, never from arguments).
    Add(Box<AppAddArgs>),
    /// List the app registrations.
    List,
    /// Show one app registration.
    Show { name: String },
    /// Remove an app registration and forget its accounts.
    Remove { name: String },
}

#[derive(Debug, Args)]
pub struct AppAddArgs {
    /// A name for the registration, e.g. `contoso`.
    pub name: String,
    /// The Application (client) ID.
    #[arg(long)]
    pub client_id: String,
    /// Tenant id or domain, or common, organizations, consumers.
    #[arg(long)]
    pub tenant: String,
    /// How accounts sign in.
    #[arg(long, value_parser = ["public", "authorization", "credentials", "password", "device_code"])]
    pub flow: Option<String>,
    /// Sign-in host: a URL, or us_gov, us_gov_dod, china [default: Microsoft's public cloud].
    #[arg(long, value_name = "URL|us_gov|china")]
    pub authority: Option<String>,
    /// Where the browser sign-in comes back.
    #[arg(long, value_parser = ["loopback", "deep_link", "native_client"])]
    pub redirect: Option<String>,
    /// Default scope helpers or scopes, comma separated.
    #[arg(long, value_name = "SCOPES")]
    pub scopes: Vec<String>,
    /// Read the client secret from standard input.
    #[arg(long, group = "secret")]
    pub client_secret_stdin: bool,
    /// Read the client secret from a file (its first line).
    #[arg(long, group = "secret", value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Ask for the client secret on the terminal (not echoed).
    #[arg(long, group = "secret")]
    pub client_secret_prompt: bool,
    /// A PEM certificate (it may hold the private key after the certificate).
    #[arg(long, value_name = "PEM", conflicts_with = "pkcs12_file")]
    pub certificate_file: Option<PathBuf>,
    /// The certificate's private key, PEM, when it is not in the certificate file.
    #[arg(long, value_name = "PEM", requires = "certificate_file")]
    pub key_file: Option<PathBuf>,
    /// A PKCS#12 (.pfx) file with the certificate and key.
    #[arg(long, value_name = "FILE")]
    pub pkcs12_file: Option<PathBuf>,
    /// Read the PKCS#12 password from standard input.
    #[arg(long, requires = "pkcs12_file", conflicts_with_all = ["pkcs12_password_prompt", "client_secret_stdin"])]
    pub pkcs12_password_stdin: bool,
    /// Ask for the PKCS#12 password on the terminal (not echoed).
    #[arg(long, requires = "pkcs12_file")]
    pub pkcs12_password_prompt: bool,
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// GET, POST, PATCH, PUT or DELETE.
    pub method: String,
    /// Relative to the account's API, e.g. `me/messages`.
    pub path: String,
    /// Username, alias, home account id, or APP/NAME [default: the only account].
    #[arg(long)]
    pub account: Option<String>,
    /// A JSON body, `@FILE` to read it from a file, or `@-` from standard input.
    #[arg(long, value_name = "JSON|@FILE|@-")]
    pub data: Option<String>,
    /// A query parameter (repeat for several), e.g. `--query '$top=5'`.
    #[arg(long, value_name = "K=V")]
    pub query: Vec<String>,
    /// A request header (repeat for several), e.g. `--header 'Prefer: outlook.body-content-type="text"'`.
    #[arg(long, value_name = "K: V")]
    pub header: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn daemon_and_sandbox_take_any_arguments() {
        let cli = Cli::try_parse_from([
            "o365-auth",
            "daemon",
            "--store",
            "/x",
            "--help",
            "--http",
            "127.0.0.1:0",
        ])
        .unwrap();
        match cli.command {
            Command::Daemon { args } => assert_eq!(
                args,
                ["--store", "/x", "--help", "--http", "127.0.0.1:0"].map(OsString::from)
            ),
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["o365-auth", "sandbox", "--port", "0", "--json"]).unwrap();
        assert!(matches!(cli.command, Command::Sandbox { args } if args.len() == 3));
    }

    #[test]
    fn login_methods_exclude_each_other() {
        assert!(Cli::try_parse_from(["o365-auth", "login", "--browser", "--console"]).is_err());
        let cli = Cli::try_parse_from(["o365-auth", "login", "--device-code"]).unwrap();
        assert!(matches!(cli.command, Command::Login(args) if args.method.device_code));
    }

    #[test]
    fn one_source_per_secret() {
        let base = [
            "o365-auth",
            "app",
            "add",
            "x",
            "--client-id",
            "c",
            "--tenant",
            "t",
        ];
        let with = |extra: &[&str]| {
            Cli::try_parse_from(base.iter().chain(extra.iter()).copied()).map(|_| ())
        };
        assert!(with(&["--client-secret-stdin", "--client-secret-prompt"]).is_err());
        assert!(with(&["--client-secret-stdin", "--client-secret-file", "f"]).is_err());
        assert!(
            with(&["--key-file", "k"]).is_err(),
            "a key needs a certificate"
        );
        assert!(with(&["--pkcs12-file", "p", "--certificate-file", "c"]).is_err());
        assert!(
            with(&[
                "--pkcs12-file",
                "p",
                "--pkcs12-password-stdin",
                "--client-secret-stdin"
            ])
            .is_err(),
            "stdin can carry one secret only"
        );
        assert!(with(&["--client-secret-stdin"]).is_ok());
        // There is no option that takes a secret value on the command line.
        assert!(with(&["--client-secret", "s"]).is_err());
    }

    #[test]
    fn token_takes_the_account_either_way_but_not_both() {
        assert!(Cli::try_parse_from(["o365-auth", "token", "a", "--account", "b"]).is_err());
        let cli = Cli::try_parse_from([
            "o365-auth",
            "token",
            "--account",
            "b",
            "--format",
            "xoauth2",
        ])
        .unwrap();
        match cli.command {
            Command::Token(args) => {
                assert_eq!(args.account_option.as_deref(), Some("b"));
                assert_eq!(args.format, Some(TokenFormat::Xoauth2));
            }
            other => panic!("{other:?}"),
        }
    }
}
