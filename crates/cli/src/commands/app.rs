//! `o365-auth app add|list|show|remove`.

use base64::Engine;
use serde_json::{Map, Value, json};

use super::{Context, scope_list};
use crate::cli::{AppAddArgs, AppCommand};
use crate::display::{field, out, out_json, table};
use crate::error::{Failure, Result};
use crate::secrets;

pub fn run(context: &Context, command: AppCommand) -> Result<i32> {
    match command {
        AppCommand::Add(args) => add(context, *args),
        AppCommand::List => list(context),
        AppCommand::Show { name } => show(context, &name),
        AppCommand::Remove { name } => remove(context, &name),
    }
}

/// `apps.add`'s parameters, secrets read from where the options say (never from argv).
pub fn add_params(args: &AppAddArgs) -> Result<Value> {
    let mut params = Map::new();
    params.insert("name".into(), args.name.trim().into());
    params.insert("client_id".into(), args.client_id.trim().into());
    params.insert("tenant".into(), args.tenant.trim().into());
    let optional = [
        ("flow", &args.flow),
        ("authority", &args.authority),
        ("redirect", &args.redirect),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            params.insert(key.into(), value.trim().into());
        }
    }
    let scopes = scope_list(&args.scopes);
    if !scopes.is_empty() {
        params.insert("default_scopes".into(), scopes.into());
    }
    let secret = if args.client_secret_stdin {
        Some(secrets::from_stdin("client secret")?)
    } else if let Some(file) = &args.client_secret_file {
        Some(secrets::from_file(file, "client secret")?)
    } else if args.client_secret_prompt {
        Some(secrets::ask_hidden("Client secret: ", "client secret")?)
    } else {
        None
    };
    if let Some(secret) = secret {
        params.insert("client_secret".into(), secret.into());
    }
    if let Some(file) = &args.certificate_file {
        params.insert(
            "certificate_pem".into(),
            read_text(file, "certificate")?.into(),
        );
    }
    if let Some(file) = &args.key_file {
        params.insert(
            "private_key_pem".into(),
            read_text(file, "private key")?.into(),
        );
    }
    if let Some(file) = &args.pkcs12_file {
        let der = std::fs::read(file).map_err(|error| {
            Failure::local(format!(
                "cannot read the PKCS#12 file {}: {error}",
                file.display()
            ))
        })?;
        params.insert(
            "pkcs12_base64".into(),
            base64::engine::general_purpose::STANDARD.encode(der).into(),
        );
        let password = if args.pkcs12_password_stdin {
            Some(secrets::from_stdin("PKCS#12 password")?)
        } else if args.pkcs12_password_prompt {
            Some(secrets::ask_hidden(
                "PKCS#12 password: ",
                "PKCS#12 password",
            )?)
        } else {
            None
        };
        if let Some(password) = password {
            params.insert("pkcs12_password".into(), password.into());
        }
    }
    Ok(Value::Object(params))
}

fn read_text(file: &std::path::Path, what: &str) -> Result<String> {
    std::fs::read_to_string(file).map_err(|error| {
        Failure::local(format!(
            "cannot read the {what} file {}: {error}",
            file.display()
        ))
    })
}

fn add(context: &Context, args: AppAddArgs) -> Result<i32> {
    // Secrets are read before the service is reached, so a prompt is never kept waiting
    // behind a daemon start.
    let params = add_params(&args)?;
    let answer = context.call("apps.add", params)?;
    if context.json {
        out_json(&answer)?;
    } else {
        out(&format!(
            "Added the app {} (client id {}, tenant {}, flow {}).\nSign in with `o365-auth login --app {}`.\n",
            field(&answer, "name"),
            field(&answer, "client_id"),
            field(&answer, "tenant"),
            field(&answer, "flow"),
            field(&answer, "name"),
        ))?;
    }
    Ok(0)
}

fn list(context: &Context) -> Result<i32> {
    let answer = context.call("apps.list", json!({}))?;
    if context.json {
        out_json(&answer)?;
        return Ok(0);
    }
    let apps = answer.as_array().map(Vec::as_slice).unwrap_or_default();
    if apps.is_empty() {
        eprintln!("No apps yet; register one with `o365-auth app add`.");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|app| {
            vec![
                field(app, "name"),
                field(app, "client_id"),
                field(app, "tenant"),
                field(app, "flow"),
                field(app, "accounts"),
            ]
        })
        .collect();
    out(&table(
        &["NAME", "CLIENT ID", "TENANT", "FLOW", "ACCOUNTS"],
        &rows,
    ))?;
    Ok(0)
}

fn show(context: &Context, name: &str) -> Result<i32> {
    let answer = context.call("apps.show", json!({ "name": name.trim() }))?;
    if context.json {
        out_json(&answer)?;
        return Ok(0);
    }
    let mut text = String::new();
    let rows = [
        ("name", "name"),
        ("client id", "client_id"),
        ("tenant", "tenant"),
        ("authority", "authority"),
        ("flow", "flow"),
        ("redirect", "redirect"),
        ("default scopes", "default_scopes"),
        ("client secret", "has_client_secret"),
        ("certificate", "has_certificate"),
        ("accounts", "accounts"),
        ("source", "source"),
    ];
    for (label, key) in rows {
        let value = match answer.get(key) {
            Some(Value::Bool(true)) => "yes".to_owned(),
            Some(Value::Bool(false)) => "no".to_owned(),
            _ => field(&answer, key),
        };
        text.push_str(&format!("{label:<16}{value}\n"));
    }
    if let Some(protocol) = answer.get("protocol").filter(|value| !value.is_null()) {
        text.push_str(&format!("{:<16}{protocol}\n", "protocol"));
    }
    out(&text)?;
    Ok(0)
}

fn remove(context: &Context, name: &str) -> Result<i32> {
    let answer = context.call("apps.remove", json!({ "name": name.trim() }))?;
    if context.json {
        out_json(&answer)?;
    } else if answer.get("removed").and_then(Value::as_bool) == Some(false) {
        out(&format!("There is no app {name}.\n"))?;
    } else {
        out(&format!("Removed the app {name} and its accounts.\n"))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(extra: &[&str]) -> AppAddArgs {
        let base = [
            "o365-auth",
            "app",
            "add",
            " contoso ",
            "--client-id",
            "3b0e8f4c-6a7d-4c1e-9f2b-7d5a6c8e9f01",
            "--tenant",
            "contoso.onmicrosoft.com",
        ];
        match Cli::parse_from(base.iter().chain(extra.iter())).command {
            Command::App(AppCommand::Add(args)) => *args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn app_add_sends_only_what_was_given() {
        let params = add_params(&parse(&[])).unwrap();
        assert_eq!(
            params,
            json!({"name": "contoso", "client_id": "3b0e8f4c-6a7d-4c1e-9f2b-7d5a6c8e9f01",
                   "tenant": "contoso.onmicrosoft.com"})
        );
        let params = add_params(&parse(&[
            "--flow",
            "device_code",
            "--authority",
            "us_gov",
            "--scopes",
            "basic,mailbox",
        ]))
        .unwrap();
        assert_eq!(params["flow"], "device_code");
        assert_eq!(params["authority"], "us_gov");
        assert_eq!(params["default_scopes"], json!(["basic", "mailbox"]));
    }

    #[test]
    fn credentials_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret\n").unwrap();
        let pfx = dir.path().join("cert.pfx");
        std::fs::write(&pfx, [0u8, 1, 2, 255]).unwrap();
        let params = add_params(&parse(&[
            "--flow",
            "credentials",
            "--client-secret-file",
            secret.to_str().unwrap(),
            "--pkcs12-file",
            pfx.to_str().unwrap(),
        ]))
        .unwrap();
        assert_eq!(params["client_secret"], "s3cret");
        assert_eq!(params["pkcs12_base64"], "AAEC/w==");
        assert!(params.get("pkcs12_password").is_none());
        let missing = add_params(&parse(&[
            "--certificate-file",
            dir.path().join("none.pem").to_str().unwrap(),
        ]))
        .unwrap_err();
        assert!(missing.to_string().contains("none.pem"), "{missing}");
    }
}
