//! `o365-auth login`: the service runs the sign-in (`login.start` then `login.wait`, or
//! `login.complete` with a pasted address, or `login.password`); this side shows the address
//! or code, opens the browser, and reads what only the person can give.

use std::io::{BufRead, IsTerminal};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use serde_json::{Map, Value, json};

use super::{Context, scope_list};
use crate::cli::LoginArgs;
use crate::display::{field, out, out_json};
use crate::error::{Failure, Result};
use crate::rpc::Client;
use crate::secrets;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Browser,
    DeviceCode,
    Console,
    Password,
    App,
}

impl Method {
    fn wire(self) -> &'static str {
        match self {
            Method::Browser => "browser",
            Method::DeviceCode => "device_code",
            Method::Console => "console",
            Method::Password => "password",
            Method::App => "app",
        }
    }

    /// The natural way to sign in through an app registered with `flow` and `redirect`.
    pub fn for_app(flow: &str, redirect: &str) -> Method {
        match (flow, redirect) {
            ("credentials", _) => Method::App,
            ("password", _) => Method::Password,
            ("device_code", _) => Method::DeviceCode,
            (_, "native_client") => Method::Console,
            _ => Method::Browser,
        }
    }
}

fn chosen(args: &LoginArgs) -> Option<Method> {
    let flags = &args.method;
    [
        (flags.browser, Method::Browser),
        (flags.device_code, Method::DeviceCode),
        (flags.console, Method::Console),
        (flags.password, Method::Password),
        (flags.app_only, Method::App),
    ]
    .into_iter()
    .find_map(|(set, method)| set.then_some(method))
}

/// Without a method flag: what the app's registration suggests (the named app, or the only
/// one), else the browser.
fn default_method(client: &mut Client, app: Option<&str>) -> Method {
    let registration = match app {
        Some(name) => client.call("apps.show", json!({ "name": name })).ok(),
        None => client.call("apps.list", json!({})).ok().and_then(|apps| {
            match apps.as_array().map(Vec::as_slice) {
                Some([only]) => Some(only.clone()),
                _ => None,
            }
        }),
    };
    registration.map_or(Method::Browser, |app| {
        Method::for_app(
            app.get("flow").and_then(Value::as_str).unwrap_or(""),
            app.get("redirect").and_then(Value::as_str).unwrap_or(""),
        )
    })
}

pub fn run(context: &Context, args: LoginArgs) -> Result<i32> {
    let app = args
        .app
        .as_deref()
        .map(str::trim)
        .filter(|app| !app.is_empty());
    let scopes = scope_list(&args.scopes);
    // A password is asked before the service is reached, as a secret must not wait on it.
    let password_login = match chosen(&args) {
        Some(Method::Password) => Some(password_params(&args, app, &scopes)?),
        _ => None,
    };
    let mut client = context.client()?;
    let account = match password_login {
        Some(params) => client.call("login.password", params)?,
        None => {
            let method = match chosen(&args) {
                Some(method) => method,
                None => default_method(&mut client, app),
            };
            if method == Method::Password {
                let params = password_params(&args, app, &scopes)?;
                client.call("login.password", params)?
            } else {
                interactive(&mut client, &args, app, &scopes, method)?
            }
        }
    };
    if context.json {
        out_json(&account)?;
    } else {
        let name = match account.get("display_name").and_then(Value::as_str) {
            Some(display) if !display.is_empty() => {
                format!("{} ({display})", field(&account, "username"))
            }
            _ => field(&account, "username"),
        };
        out(&format!(
            "Signed in as {name} through the app {}.\n",
            field(&account, "app")
        ))?;
    }
    Ok(0)
}

fn password_params(args: &LoginArgs, app: Option<&str>, scopes: &[String]) -> Result<Value> {
    let username = args
        .username
        .as_deref()
        .or(args.login_hint.as_deref())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| Failure::usage("a password sign-in needs --username"))?;
    let password = secrets::password(&format!("Password for {username}: "), "password")?;
    let mut params = Map::new();
    if let Some(app) = app {
        params.insert("app".into(), app.into());
    }
    params.insert("username".into(), username.into());
    params.insert("password".into(), password.into());
    if !scopes.is_empty() {
        params.insert("scopes".into(), scopes.into());
    }
    Ok(Value::Object(params))
}

fn interactive(
    client: &mut Client,
    args: &LoginArgs,
    app: Option<&str>,
    scopes: &[String],
    method: Method,
) -> Result<Value> {
    let mut params = Map::new();
    params.insert("method".into(), method.wire().into());
    if let Some(app) = app {
        params.insert("app".into(), app.into());
    }
    if !scopes.is_empty() {
        params.insert("scopes".into(), scopes.into());
    }
    if let Some(hint) = args.login_hint.as_deref().filter(|hint| !hint.is_empty()) {
        params.insert("login_hint".into(), hint.into());
    }
    if args.select_account {
        params.insert("prompt".into(), "select_account".into());
    }
    let challenge = client.call("login.start", Value::Object(params))?;
    let login = challenge
        .get("login")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::local("the service did not name the sign-in it started"))?
        .to_owned();
    let url = challenge.get("url").and_then(Value::as_str).unwrap_or("");
    match method {
        Method::Browser => {
            eprintln!("Sign in at this address:\n  {url}");
            if !args.no_open {
                match open_browser(url) {
                    Ok(program) => eprintln!("(opened with {program})"),
                    Err(error) => eprintln!("(no browser could be opened: {error})"),
                }
            }
            eprintln!("Waiting for the sign-in to finish...");
        }
        Method::DeviceCode => {
            match challenge.get("message").and_then(Value::as_str) {
                Some(message) => eprintln!("{message}"),
                None => eprintln!(
                    "To sign in, open {} and enter the code {}",
                    field(&challenge, "verification_uri"),
                    field(&challenge, "user_code")
                ),
            }
            eprintln!("Waiting for the sign-in to finish...");
        }
        Method::Console => {
            eprintln!(
                "Open this address in a browser and sign in:\n  {url}\n\
                 Then copy the address the browser ends up on (the page itself may be blank or \
                 an error) and paste it here:"
            );
            let redirected = read_pasted_address()?;
            return client.call(
                "login.complete",
                json!({ "login": login, "redirected_url": redirected }),
            );
        }
        Method::App | Method::Password => {}
    }
    // The service bounds the wait (600 s by default); a person may take that long.
    client.set_timeout(None);
    client.call("login.wait", json!({ "login": login }))
}

fn read_pasted_address() -> Result<String> {
    let mut line = String::new();
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("> ");
    }
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|error| Failure::local(format!("cannot read the address: {error}")))?;
    let address = line.trim();
    if address.is_empty() {
        return Err(Failure::local(
            "no address was pasted; the sign-in is abandoned",
        ));
    }
    Ok(address.to_owned())
}

/// `$BROWSER` (the first of its `:`-separated commands; `%s` stands for the address, else it
/// goes last), else `xdg-open`. No shell is involved, so the address is never interpreted.
/// The browser gets its own process group, so a Ctrl-C here does not close it.
fn open_browser(url: &str) -> std::io::Result<String> {
    let browser = std::env::var("BROWSER").ok();
    let (program, args) = browser_command(browser.as_deref(), url);
    Command::new(&program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    Ok(program)
}

pub fn browser_command(browser: Option<&str>, url: &str) -> (String, Vec<String>) {
    let configured = browser
        .and_then(|value| value.split(':').map(str::trim).find(|c| !c.is_empty()))
        .map(|command| command.split_whitespace().collect::<Vec<_>>());
    match configured.as_deref() {
        Some([program, rest @ ..]) => {
            let mut args: Vec<String> = rest.iter().map(|arg| arg.replace("%s", url)).collect();
            if !rest.iter().any(|arg| arg.contains("%s")) {
                args.push(url.to_owned());
            }
            ((*program).to_owned(), args)
        }
        _ => ("xdg-open".to_owned(), vec![url.to_owned()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_comes_from_browser_or_xdg_open() {
        let url = "https://login.example/authorize?a=1&b=$(x)";
        assert_eq!(
            browser_command(None, url),
            ("xdg-open".to_owned(), vec![url.to_owned()])
        );
        assert_eq!(
            browser_command(Some("firefox --new-window:chromium"), url),
            (
                "firefox".to_owned(),
                vec!["--new-window".to_owned(), url.to_owned()]
            )
        );
        assert_eq!(
            browser_command(Some("w3m %s -dump"), url),
            ("w3m".to_owned(), vec![url.to_owned(), "-dump".to_owned()])
        );
        assert_eq!(browser_command(Some(" : "), url).0, "xdg-open");
    }

    #[test]
    fn an_apps_flow_suggests_the_sign_in() {
        assert_eq!(Method::for_app("credentials", "none"), Method::App);
        assert_eq!(Method::for_app("device_code", "none"), Method::DeviceCode);
        assert_eq!(Method::for_app("password", "none"), Method::Password);
        assert_eq!(Method::for_app("public", "loopback"), Method::Browser);
        assert_eq!(
            Method::for_app("authorization", "native_client"),
            Method::Console
        );
    }
}
