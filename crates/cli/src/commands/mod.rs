//! One function per command: gather the parameters, make the calls, print the answer.

mod app;
mod login;
mod request;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::autostart;
use crate::cli::{Cli, Command, GitOperation, TokenArgs, TokenFormat};
use crate::display::{self, field, out, out_json};
use crate::error::{Failure, Result};
use crate::format::{self, Issued, SaslTarget};
use crate::git_credential;
use crate::rpc::{self, Client};

/// What every command shares: where the service is, and whether to print JSON.
pub struct Context {
    socket_option: Option<PathBuf>,
    json: bool,
}

impl Context {
    fn socket(&self) -> Result<PathBuf> {
        rpc::socket_path(self.socket_option.as_deref(), |name| std::env::var_os(name))
    }

    /// A connection, starting the daemon when none answers.
    fn client(&self) -> Result<Client> {
        autostart::connect(&self.socket()?)
    }

    /// One call on a fresh connection (starting the daemon when none answers).
    fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.client()?.call(method, params)
    }

    /// A connection to a running service only: for commands that would be pointless
    /// against a service started just for them (`status`, `stop`).
    fn running(&self) -> Result<Client> {
        let socket = self.socket()?;
        Client::connect(&socket).map_err(|error| {
            Failure::Unreachable(format!(
                "no o365-auth service answers on {} ({error})",
                socket.display()
            ))
        })
    }
}

/// Runs the command; the exit status on success (a Graph error status makes `request` 1).
pub fn run(cli: Cli) -> Result<i32> {
    let context = Context {
        socket_option: cli.socket,
        json: cli.json,
    };
    match cli.command {
        Command::Token(args) => token(&context, args),
        Command::Login(args) => login::run(&context, args),
        Command::Accounts => accounts(&context),
        Command::Refresh { account, scopes } => refresh(&context, &account, &scopes),
        Command::Logout { account } => logout(&context, &account),
        Command::Alias {
            account,
            name,
            clear,
        } => alias(&context, &account, if clear { None } else { name }),
        Command::Status => status(&context),
        Command::Stop => stop(&context),
        Command::App(command) => app::run(&context, command),
        Command::Request(args) => request::request(&context, args),
        Command::Import { file } => request::import(&context, &file),
        Command::Export { file, accounts } => request::export(&context, &file, &accounts),
        Command::GitCredential { operation } => git_credential(&context, operation),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "o365-auth", &mut std::io::stdout());
            Ok(0)
        }
        Command::Daemon { args } => {
            let mut all = Vec::new();
            if let Some(socket) = context.socket_option {
                all.push("--socket".into());
                all.push(socket.into_os_string());
            }
            all.extend(args);
            Err(autostart::exec_daemon(all))
        }
        Command::Sandbox { args } => {
            let mut all = vec!["sandbox".into()];
            all.extend(args);
            if context.json {
                all.push("--json".into());
            }
            Err(autostart::exec_daemon(all))
        }
    }
}

/// An account as the user typed it: trimmed, and nothing (the only account) when blank.
pub fn account_name(name: Option<&str>) -> Option<String> {
    name.map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

/// Scopes from repeated, comma- or space-separated options, in order, without repeats.
pub fn scope_list(options: &[String]) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in options
        .iter()
        .flat_map(|option| option.split([',', ' ', '\t', '\n']))
        .map(str::trim)
        .filter(|scope| !scope.is_empty())
    {
        if !scopes.iter().any(|known| known == scope) {
            scopes.push(scope.to_owned());
        }
    }
    scopes
}

/// `token.get`'s parameters.
pub fn token_params(account: Option<String>, scopes: &[String], min_ttl_s: Option<u64>) -> Value {
    let mut params = Map::new();
    if let Some(account) = account {
        params.insert("account".into(), account.into());
    }
    let scopes = scope_list(scopes);
    if !scopes.is_empty() {
        params.insert("scopes".into(), scopes.into());
    }
    if let Some(min_ttl_s) = min_ttl_s {
        params.insert("min_ttl_s".into(), min_ttl_s.into());
    }
    Value::Object(params)
}

/// `o365-auth token`, as the fast reading of the command line found it.
pub fn token_fast(fast: crate::fast::FastToken) -> Result<i32> {
    let context = Context {
        socket_option: fast.socket,
        json: fast.json,
    };
    token(&context, fast.args)
}

fn token(context: &Context, args: TokenArgs) -> Result<i32> {
    let format = args.format.unwrap_or(if context.json {
        TokenFormat::Json
    } else {
        TokenFormat::Raw
    });
    if (args.host.is_some() || args.port.is_some()) && format != TokenFormat::Oauthbearer {
        return Err(Failure::usage(
            "--host and --port go with --format oauthbearer",
        ));
    }
    let account = account_name(args.account.as_deref().or(args.account_option.as_deref()));
    let params = token_params(account, &args.scopes, args.min_ttl);
    let answer = context.call("token.get", params)?;
    let issued = Issued::from_answer(&answer)?;
    let target = SaslTarget {
        host: args.host.as_deref(),
        port: args.port,
    };
    out(&format::render(format, &answer, &issued, &target)?)?;
    Ok(0)
}

fn accounts(context: &Context) -> Result<i32> {
    let answer = context.call("accounts.list", json!({}))?;
    if context.json {
        out_json(&answer)?;
        return Ok(0);
    }
    let accounts = answer.as_array().map(Vec::as_slice).unwrap_or_default();
    if accounts.is_empty() {
        eprintln!("No accounts yet; sign one in with `o365-auth login`.");
        return Ok(0);
    }
    let now = display::now_unix();
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|account| {
            vec![
                field(account, "username"),
                field(account, "alias"),
                field(account, "app"),
                field(account, "status"),
                display::expires_in(account.get("expires_at").and_then(Value::as_i64), now),
            ]
        })
        .collect();
    out(&display::table(
        &["USERNAME", "ALIAS", "APP", "STATUS", "EXPIRES IN"],
        &rows,
    ))?;
    Ok(0)
}

fn refresh(context: &Context, account: &str, scopes: &[String]) -> Result<i32> {
    let params = token_params(account_name(Some(account)), scopes, None);
    let answer = context.call("token.refresh", params)?;
    // The token itself stays out of sight: `o365-auth token` prints it.
    let shown = json!({
        "account": answer.get("account"),
        "expires_at": answer.get("expires_at"),
        "scopes": answer.get("scopes"),
    });
    if context.json {
        out_json(&shown)?;
    } else {
        let expires = display::expires_in(
            answer.get("expires_at").and_then(Value::as_i64),
            display::now_unix(),
        );
        out(&format!(
            "Refreshed {}: the new token is valid for {expires}.\n",
            field(&answer, "account")
        ))?;
    }
    Ok(0)
}

fn logout(context: &Context, account: &str) -> Result<i32> {
    let answer = context.call("accounts.logout", json!({ "account": account.trim() }))?;
    if context.json {
        out_json(&answer)?;
    } else if answer.get("removed").and_then(Value::as_bool) == Some(false) {
        out(&format!("{account} was not signed in.\n"))?;
    } else {
        out(&format!("Signed out {account} and forgot its tokens.\n"))?;
    }
    Ok(0)
}

fn alias(context: &Context, account: &str, alias: Option<String>) -> Result<i32> {
    let answer = context.call(
        "accounts.alias",
        json!({ "account": account.trim(), "alias": alias }),
    )?;
    if context.json {
        out_json(&answer)?;
    } else {
        let username = field(&answer, "username");
        match answer.get("alias").and_then(Value::as_str) {
            Some(alias) => out(&format!("{username} is now also called {alias}.\n"))?,
            None => out(&format!("{username} has no alias now.\n"))?,
        }
    }
    Ok(0)
}

fn status(context: &Context) -> Result<i32> {
    let answer = context.running()?.call("status", json!({}))?;
    if context.json {
        out_json(&answer)?;
        return Ok(0);
    }
    let now = display::now_unix();
    let up = answer
        .get("started_at")
        .and_then(Value::as_i64)
        .map(|started| format!(", up {}", display::span(now - started)))
        .unwrap_or_default();
    let mut text = format!(
        "o365-auth service {} (pid {}{up})\n",
        field(&answer, "version"),
        field(&answer, "pid")
    );
    let mut line = |label: &str, value: String| {
        if value != "-" {
            text.push_str(&format!("  {label:<18}{value}\n"));
        }
    };
    line("socket", field(&answer, "socket"));
    line("store", field(&answer, "store"));
    line("apps", field(&answer, "apps"));
    line("accounts", field(&answer, "accounts"));
    line("kept fresh", field(&answer, "tracked"));
    line("sign-ins pending", field(&answer, "logins_pending"));
    if let Some(next) = answer
        .pointer("/scheduler/next_refresh_at")
        .and_then(Value::as_i64)
    {
        line("next refresh in", display::span(next - now));
    }
    out(&text)?;
    Ok(0)
}

fn stop(context: &Context) -> Result<i32> {
    let mut client = context.running()?;
    let pid = client
        .call("status", json!({}))
        .ok()
        .and_then(|status| status.get("pid").and_then(Value::as_u64));
    client.call("shutdown", json!({}))?;
    drop(client);
    // Wait until it no longer answers, so that a script can start another one right away.
    let socket = context.socket()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match Client::connect(&socket) {
            Ok(mut probe) => {
                probe.set_timeout(Some(Duration::from_millis(500)));
                if probe.call("status", json!({})).is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let who = pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default();
    if !context.json {
        eprintln!("The o365-auth service{who} stopped.");
    }
    Ok(0)
}

fn git_credential(context: &Context, operation: GitOperation) -> Result<i32> {
    let request = git_credential::parse(std::io::stdin().lock())
        .map_err(|error| Failure::local(format!("cannot read git's request: {error}")))?;
    if operation == GitOperation::Store || !request.is_azure_devops() {
        // Not ours (git asks its next helper), or nothing to keep: the service keeps tokens.
        return Ok(0);
    }
    let configured = std::env::var("O365_AUTH_GIT_ACCOUNT").ok();
    let choices = request.account_choices(configured.as_deref());
    let method = match operation {
        GitOperation::Erase => "token.refresh",
        _ => "token.get",
    };
    let mut client = context.client()?;
    let mut last = None;
    for (index, account) in choices.iter().enumerate() {
        let params = token_params(
            account.clone(),
            &[git_credential::AZURE_DEVOPS_SCOPE.to_owned()],
            None,
        );
        match client.call(method, params) {
            Ok(answer) => {
                if operation == GitOperation::Get {
                    let issued = Issued::from_answer(&answer)?;
                    out(&git_credential::answer(
                        issued.account,
                        issued.access_token,
                        issued.expires_at,
                    ))?;
                }
                return Ok(0);
            }
            // git's user name is often the organisation, which names no account.
            Err(failure)
                if failure.service_code() == Some("no_account") && index + 1 < choices.len() =>
            {
                last = Some(failure);
            }
            Err(failure) => {
                if operation == GitOperation::Erase {
                    // git ignores a failed erase; a refresh that cannot happen is no news.
                    return Ok(0);
                }
                return Err(failure);
            }
        }
    }
    Err(last.unwrap_or_else(|| Failure::local("no account to ask for")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_arguments_are_trimmed_and_blank_means_the_only_one() {
        assert_eq!(account_name(None), None);
        assert_eq!(account_name(Some("  ")), None);
        assert_eq!(
            account_name(Some(" adele@contoso.com ")).as_deref(),
            Some("adele@contoso.com")
        );
        assert_eq!(
            account_name(Some("contoso/adele@contoso.com")).as_deref(),
            Some("contoso/adele@contoso.com")
        );
    }

    #[test]
    fn scopes_split_on_commas_and_spaces_without_repeats() {
        let options = vec![
            "basic, mailbox".to_owned(),
            "Mail.Read,basic".to_owned(),
            "https://outlook.office.com/IMAP.AccessAsUser.All".to_owned(),
        ];
        assert_eq!(
            scope_list(&options),
            [
                "basic",
                "mailbox",
                "Mail.Read",
                "https://outlook.office.com/IMAP.AccessAsUser.All"
            ]
        );
        assert!(scope_list(&[",,".to_owned()]).is_empty());
    }

    #[test]
    fn token_params_leave_out_what_was_not_given() {
        assert_eq!(token_params(None, &[], None), json!({}));
        assert_eq!(
            token_params(Some("work".into()), &["a,b".into()], Some(300)),
            json!({"account": "work", "scopes": ["a", "b"], "min_ttl_s": 300})
        );
    }
}
