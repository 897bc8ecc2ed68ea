//! `o365-auth request` (an API call the service makes) and `import`/`export` (token files the
//! service reads and writes).

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::{Context, account_name};
use crate::cli::RequestArgs;
use crate::display::{field, out, out_json};
use crate::error::{Failure, Result};

/// `graph.request`'s parameters.
pub fn request_params(args: &RequestArgs) -> Result<Value> {
    let mut params = Map::new();
    if let Some(account) = account_name(args.account.as_deref()) {
        params.insert("account".into(), account.into());
    }
    let method = args.method.trim().to_ascii_uppercase();
    if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(Failure::usage(format!(
            "`{}` is not an HTTP method",
            args.method
        )));
    }
    params.insert("method".into(), method.into());
    params.insert("path".into(), args.path.trim().into());
    if !args.query.is_empty() {
        let mut query = Map::new();
        for pair in &args.query {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| Failure::usage(format!("--query `{pair}` is not KEY=VALUE")))?;
            query.insert(key.to_owned(), value.into());
        }
        params.insert("query".into(), Value::Object(query));
    }
    if !args.header.is_empty() {
        let mut headers = Map::new();
        for header in &args.header {
            let (name, value) = header
                .split_once(':')
                .filter(|(name, _)| !name.trim().is_empty())
                .ok_or_else(|| {
                    Failure::usage(format!("--header `{header}` is not `Name: value`"))
                })?;
            headers.insert(name.trim().to_owned(), value.trim().into());
        }
        params.insert("headers".into(), Value::Object(headers));
    }
    if let Some(data) = &args.data {
        params.insert("body".into(), body(data)?);
    }
    Ok(Value::Object(params))
}

/// `--data`: JSON as given, `@FILE`, or `@-` for standard input.
fn body(data: &str) -> Result<Value> {
    let (text, source) = match data.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| Failure::local(format!("cannot read standard input: {error}")))?;
            (text, "standard input".to_owned())
        }
        Some(file) => (
            std::fs::read_to_string(file)
                .map_err(|error| Failure::local(format!("cannot read {file}: {error}")))?,
            file.to_owned(),
        ),
        None => (data.to_owned(), "--data".to_owned()),
    };
    // serde's message names the line and column, never the content.
    serde_json::from_str(&text)
        .map_err(|error| Failure::usage(format!("the body in {source} is not JSON: {error}")))
}

pub fn request(context: &Context, args: RequestArgs) -> Result<i32> {
    let params = request_params(&args)?;
    let answer = context.call("graph.request", params)?;
    let status = answer.get("status").and_then(Value::as_u64).unwrap_or(0);
    if context.json {
        out_json(&answer)?;
    } else {
        match answer.get("body") {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => {
                let mut text = text.clone();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                out(&text)?;
            }
            Some(body) => out_json(body)?,
        }
    }
    if !(200..300).contains(&status) {
        eprintln!("HTTP {status}");
    }
    Ok(if status >= 400 { 1 } else { 0 })
}

/// The path as the service must see it: absolute, as it may run in another directory.
fn absolute(file: &Path) -> Result<String> {
    let path = std::path::absolute(file)
        .map_err(|error| Failure::local(format!("cannot resolve {}: {error}", file.display())))?;
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::local(format!("{} is not valid UTF-8", path.display())))
}

pub fn import(context: &Context, file: &Path) -> Result<i32> {
    let answer = context.call("import", json!({ "path": absolute(file)? }))?;
    if context.json {
        out_json(&answer)?;
        return Ok(0);
    }
    let mut text = format!(
        "Imported {} app(s) and {} account(s) from {}.\n",
        field(&answer, "apps"),
        field(&answer, "accounts"),
        file.display()
    );
    for skipped in answer
        .get("skipped")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let shown = match skipped {
            Value::String(text) => text.clone(),
            Value::Object(fields) => fields
                .iter()
                .map(|(key, value)| match value {
                    Value::String(text) => format!("{key}: {text}"),
                    other => format!("{key}: {other}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        text.push_str(&format!("  skipped {shown}\n"));
    }
    out(&text)?;
    Ok(0)
}

pub fn export(context: &Context, file: &Path, accounts: &[String]) -> Result<i32> {
    let mut params = Map::new();
    params.insert("path".into(), absolute(file)?.into());
    let accounts: Vec<String> = accounts
        .iter()
        .filter_map(|account| account_name(Some(account)))
        .collect();
    if !accounts.is_empty() {
        params.insert("accounts".into(), accounts.into());
    }
    let answer = context.call("export", Value::Object(params))?;
    if context.json {
        out_json(&answer)?;
    } else {
        out(&format!(
            "Exported {} account(s) to {}.\n",
            field(&answer, "accounts"),
            file.display()
        ))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn args(extra: &[&str]) -> RequestArgs {
        match Cli::parse_from(["o365-auth", "request"].iter().chain(extra)).command {
            Command::Request(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn request_params_follow_the_contract() {
        let params = request_params(&args(&[
            "get",
            "me/messages",
            "--account",
            "work",
            "--query",
            "$top=5",
            "--query",
            "$filter=a eq 'b=c'",
            "--header",
            "Prefer: outlook.body-content-type=\"text\"",
        ]))
        .unwrap();
        assert_eq!(
            params,
            json!({"account": "work", "method": "GET", "path": "me/messages",
                   "query": {"$top": "5", "$filter": "a eq 'b=c'"},
                   "headers": {"Prefer": "outlook.body-content-type=\"text\""}})
        );
    }

    #[test]
    fn bodies_come_inline_or_from_a_file_and_must_be_json() {
        let params =
            request_params(&args(&["POST", "me/sendMail", "--data", r#"{"a":[1]}"#])).unwrap();
        assert_eq!(params["body"], json!({"a": [1]}));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("body.json");
        std::fs::write(&file, "[true]").unwrap();
        let at = format!("@{}", file.display());
        let params = request_params(&args(&["PATCH", "x", "--data", &at])).unwrap();
        assert_eq!(params["body"], json!([true]));
        let bad = request_params(&args(&["POST", "x", "--data", "secret-ish{"])).unwrap_err();
        assert_eq!(bad.exit_code(), 2);
        assert!(!bad.to_string().contains("secret-ish"), "{bad}");
    }

    #[test]
    fn malformed_options_are_usage_errors() {
        assert_eq!(
            request_params(&args(&["GET", "x", "--query", "novalue"]))
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            request_params(&args(&["GET", "x", "--header", "NoColon"]))
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            request_params(&args(&["G T", "x"]))
                .unwrap_err()
                .exit_code(),
            2
        );
    }
}
