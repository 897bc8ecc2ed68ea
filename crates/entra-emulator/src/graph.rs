//! A slice of Microsoft Graph on the emulator's host: `/me`, `/users`, `/users/{id}` and
//! `/me/messages` (v1.0 and beta), with bearer-token validation and Graph-shaped errors.
//! Sending mail is in `graph_mail`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

use crate::clock::iso;
use crate::config::GRAPH_APP_ID;
use crate::directory::User;
use crate::form::Params;
use crate::state::{AppState, Shared};

/// Who a validated token speaks for.
pub enum Caller {
    User { oid: Uuid, scopes: Vec<String> },
    App { tenant: Uuid, roles: Vec<String> },
}

/// A Graph error response.
pub struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
    authenticate: Option<String>,
}

impl GraphError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code,
            message: message.into(),
            authenticate: None,
        }
    }

    fn unauthorized(state: &Shared, message: &str) -> Self {
        GraphError {
            authenticate: Some(format!(
                "Bearer realm=\"\", authorization_uri=\"{}/common/oauth2/authorize\", client_id=\"{GRAPH_APP_ID}\", error_description=\"{message}\"",
                state.base_url
            )),
            ..GraphError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            )
        }
    }

    pub(crate) fn render(self, state: &Shared, headers: &HeaderMap) -> Response {
        let request_id = Uuid::new_v4().to_string();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| request_id.clone());
        let body = json!({"error": {
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": iso(state.clock.now()),
                "request-id": request_id,
                "client-request-id": client_request_id,
            }
        }});
        let mut response = (self.status, Json(body)).into_response();
        let out = response.headers_mut();
        if let Some(value) = self
            .authenticate
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            out.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            out.insert("request-id", value);
        }
        if let Ok(value) = HeaderValue::from_str(&client_request_id) {
            out.insert("client-request-id", value);
        }
        response
    }
}

/// Validates the bearer token: signature, lifetime on the emulator's clock, audience Graph.
pub fn authenticate(state: &Shared, headers: &HeaderMap) -> Result<Caller, GraphError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| GraphError::unauthorized(state, "Access token is empty."))?;
    if token.split('.').count() != 3 {
        return Err(GraphError::unauthorized(
            state,
            "IDX14100: JWT is not well formed, there are no dots (.).",
        ));
    }
    let claims = state
        .keys
        .verify(token)
        .map_err(|_| GraphError::unauthorized(state, "Access token validation failure."))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let graph = state.dir.graph();
    let aud = text("aud").trim_end_matches('/');
    if !(aud.eq_ignore_ascii_case(graph.uri.trim_end_matches('/'))
        || aud.eq_ignore_ascii_case(&graph.app_id.to_string()))
    {
        return Err(GraphError::unauthorized(
            state,
            "Access token validation failure. Invalid audience.",
        ));
    }
    let now = state.clock.unix();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    if now >= exp {
        return Err(GraphError::unauthorized(
            state,
            "Lifetime validation failed, the token is expired.",
        ));
    }
    if nbf > now + 300 {
        return Err(GraphError::unauthorized(
            state,
            "Lifetime validation failed, the token is not yet valid.",
        ));
    }
    let oid = Uuid::parse_str(text("oid")).unwrap_or_default();
    if text("idtyp") == "app" {
        let roles = claims
            .get("roles")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let tenant = Uuid::parse_str(text("tid")).unwrap_or_default();
        return Ok(Caller::App { tenant, roles });
    }
    let scopes = text("scp").split_whitespace().map(str::to_owned).collect();
    Ok(Caller::User { oid, scopes })
}

pub(crate) fn has_any(granted: &[String], wanted: &[&str]) -> bool {
    granted
        .iter()
        .any(|g| wanted.iter().any(|w| g.eq_ignore_ascii_case(w)))
}

pub(crate) fn version(uri: &Uri) -> &'static str {
    if uri.path().starts_with("/beta/") {
        "beta"
    } else {
        "v1.0"
    }
}

pub(crate) fn user_json(user: &User) -> Value {
    json!({
        "businessPhones": [],
        "displayName": user.config.display_name,
        "givenName": user.config.given_name,
        "jobTitle": user.config.job_title,
        "mail": user.mail(),
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": "en-US",
        "surname": user.config.surname,
        "userPrincipalName": user.username(),
        "id": user.oid.to_string(),
    })
}

pub(crate) fn me_user<'a>(
    state: &'a Shared,
    caller: &Caller,
    wanted: &[&str],
    denied: &'static str,
) -> Result<&'a User, GraphError> {
    match caller {
        Caller::App { .. } => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )),
        Caller::User { oid, scopes } => {
            if !has_any(scopes, wanted) {
                let message = if denied == "ErrorAccessDenied" {
                    "Access is denied. Check credentials and try again."
                } else {
                    "Insufficient privileges to complete the operation."
                };
                return Err(GraphError::new(StatusCode::FORBIDDEN, denied, message));
            }
            state.dir.user(*oid).ok_or_else(|| {
                GraphError::new(
                    StatusCode::NOT_FOUND,
                    "Request_ResourceNotFound",
                    format!("Resource '{oid}' does not exist or one of its queried reference-property objects are not present."),
                )
            })
        }
    }
}

pub(crate) const ME_SCOPES: &[&str] = &[
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];

/// `GET /v1.0/me`, `GET /beta/me`.
pub async fn me(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let result = authenticate(&state, &headers)
        .and_then(|caller| me_user(&state, &caller, ME_SCOPES, "Authorization_RequestDenied"));
    match result {
        Ok(user) => {
            let mut body = user_json(user);
            if let Some(map) = body.as_object_mut() {
                map.insert(
                    "@odata.context".to_owned(),
                    json!(format!(
                        "{}/{}/$metadata#users/$entity",
                        state.base_url,
                        version(&uri)
                    )),
                );
            }
            Json(body).into_response()
        }
        Err(error) => error.render(&state, &headers),
    }
}

fn page_size(params: &Params, default: usize, max: usize) -> Result<usize, GraphError> {
    match params.get("$top") {
        None => Ok(default),
        Some(top) => match top.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                format!(
                    "Invalid page size specified: '{top}'. Must be between 1 and {max} inclusive."
                ),
            )),
        },
    }
}

fn skiptoken(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("RFNwdAIAAQAAA:{offset}"))
}

fn parse_skiptoken(token: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    text.rsplit_once(':')?.1.parse().ok()
}

/// `GET /v1.0/users`: delegated User.ReadBasic.All/User.Read.All/Directory.Read.All or the
/// application roles User.Read.All/Directory.Read.All; pages with `$top` and `$skiptoken`.
pub async fn users(
    State(state): State<AppState>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let result = (|| {
        let caller = authenticate(&state, &headers)?;
        let tenant = match &caller {
            Caller::User { oid, scopes } => {
                let wanted = [
                    "User.ReadBasic.All",
                    "User.Read.All",
                    "User.ReadWrite.All",
                    "Directory.Read.All",
                    "Directory.ReadWrite.All",
                    "Directory.AccessAsUser.All",
                ];
                if !has_any(scopes, &wanted) {
                    return Err(GraphError::new(
                        StatusCode::FORBIDDEN,
                        "Authorization_RequestDenied",
                        "Insufficient privileges to complete the operation.",
                    ));
                }
                state
                    .dir
                    .user(*oid)
                    .map(|u| u.tenant_id)
                    .unwrap_or_default()
            }
            Caller::App { tenant, roles } => {
                let wanted = [
                    "User.Read.All",
                    "User.ReadWrite.All",
                    "Directory.Read.All",
                    "Directory.ReadWrite.All",
                ];
                if !has_any(roles, &wanted) {
                    return Err(GraphError::new(
                        StatusCode::FORBIDDEN,
                        "Authorization_RequestDenied",
                        "Insufficient privileges to complete the operation.",
                    ));
                }
                *tenant
            }
        };
        let top = page_size(&params, 100, 999)?;
        let offset = match params.get("$skiptoken") {
            None => 0,
            Some(token) => parse_skiptoken(token).ok_or_else(|| {
                GraphError::new(
                    StatusCode::BAD_REQUEST,
                    "Directory_ExpiredPageToken",
                    "The specified page token value has expired and can no longer be included in your request.",
                )
            })?,
        };
        let all: Vec<&User> = state.dir.users_of(tenant).collect();
        let page: Vec<Value> = all
            .iter()
            .skip(offset)
            .take(top)
            .map(|u| user_json(u))
            .collect();
        let base = format!("{}/{}/users", state.base_url, version(&uri));
        let mut body = json!({
            "@odata.context": format!("{}/{}/$metadata#users", state.base_url, version(&uri)),
            "value": page,
        });
        if offset.saturating_add(top) < all.len()
            && let Some(map) = body.as_object_mut()
        {
            map.insert(
                "@odata.nextLink".to_owned(),
                json!(format!(
                    "{base}?$top={top}&$skiptoken={}",
                    skiptoken(offset.saturating_add(top))
                )),
            );
        }
        Ok::<_, GraphError>(body)
    })();
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.render(&state, &headers),
    }
}

/// `GET /v1.0/users/{id | userPrincipalName}` (graph/api/user-get): the caller's own entry with
/// any `/me` scope; anyone in the tenant with User.ReadBasic.All and up (delegated) or the
/// User.Read.All/Directory.Read.All roles; 404 `Request_ResourceNotFound` for nobody there.
pub async fn user(
    State(state): State<AppState>,
    uri: Uri,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = (|| {
        let caller = authenticate(&state, &headers)?;
        let (tenant, own, may_read_others) = match &caller {
            Caller::User { oid, scopes } => {
                if !has_any(scopes, ME_SCOPES) {
                    return Err(GraphError::new(
                        StatusCode::FORBIDDEN,
                        "Authorization_RequestDenied",
                        "Insufficient privileges to complete the operation.",
                    ));
                }
                let tenant = state
                    .dir
                    .user(*oid)
                    .map(|u| u.tenant_id)
                    .unwrap_or_default();
                let others = has_any(
                    scopes,
                    &[
                        "User.ReadBasic.All",
                        "User.Read.All",
                        "User.ReadWrite.All",
                        "Directory.Read.All",
                        "Directory.ReadWrite.All",
                        "Directory.AccessAsUser.All",
                    ],
                );
                (tenant, Some(*oid), others)
            }
            Caller::App { tenant, roles } => {
                let wanted = [
                    "User.Read.All",
                    "User.ReadWrite.All",
                    "Directory.Read.All",
                    "Directory.ReadWrite.All",
                ];
                (*tenant, None, has_any(roles, &wanted))
            }
        };
        let found = state.dir.users_of(tenant).find(|u| {
            u.oid.to_string().eq_ignore_ascii_case(&id) || u.username().eq_ignore_ascii_case(&id)
        });
        match found {
            Some(user) if may_read_others || Some(user.oid) == own => Ok(user),
            Some(_) => Err(GraphError::new(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )),
            None => Err(GraphError::new(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            )),
        }
    })();
    match result {
        Ok(user) => {
            let mut body = user_json(user);
            if let Some(map) = body.as_object_mut() {
                map.insert(
                    "@odata.context".to_owned(),
                    json!(format!(
                        "{}/{}/$metadata#users/$entity",
                        state.base_url,
                        version(&uri)
                    )),
                );
            }
            Json(body).into_response()
        }
        Err(error) => error.render(&state, &headers),
    }
}

fn message_json(state: &Shared, user: &User, index: usize, version: &str) -> Value {
    let received = time::macros::datetime!(2024-06-03 09:00 UTC) - Duration::hours(index as i64);
    let id = URL_SAFE_NO_PAD.encode(format!("AAMk:{}:{index}", user.oid));
    json!({
        "@odata.etag": format!("W/\"CQAAABYAAA{index}\""),
        "id": id,
        "createdDateTime": iso(received),
        "lastModifiedDateTime": iso(received),
        "receivedDateTime": iso(received),
        "sentDateTime": iso(received),
        "hasAttachments": false,
        "subject": format!("Emulated message {}", index + 1),
        "bodyPreview": format!("This is message {} in {}'s emulated mailbox.", index + 1, user.config.display_name),
        "importance": "normal",
        "isRead": index.is_multiple_of(3),
        "isDraft": false,
        "webLink": format!("{}/{version}/owa/?ItemID={id}", state.base_url),
        "from": {"emailAddress": {"name": "Emulator", "address": "noreply@emulator.invalid"}},
        "toRecipients": [{"emailAddress": {"name": user.config.display_name, "address": user.mail()}}],
    })
}

/// `GET /v1.0/me/messages`: Mail.ReadBasic/Mail.Read/Mail.ReadWrite; pages with `$top` and
/// `$skip`, as Outlook's Graph API does.
pub async fn messages(
    State(state): State<AppState>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let result = (|| {
        let caller = authenticate(&state, &headers)?;
        let user = me_user(
            &state,
            &caller,
            &["Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"],
            "ErrorAccessDenied",
        )?;
        let top = page_size(&params, 10, 1000)?;
        let skip = match params.get("$skip") {
            None => 0,
            Some(skip) => skip.parse::<usize>().map_err(|_| {
                GraphError::new(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidUrlQuery",
                    "The value for '$skip' is invalid.",
                )
            })?,
        };
        let count = user
            .config
            .messages
            .unwrap_or(state.config.messages_per_user) as usize;
        let ver = version(&uri);
        let page: Vec<Value> = (skip..count.min(skip.saturating_add(top)))
            .map(|i| message_json(&state, user, i, ver))
            .collect();
        let mut body = json!({
            "@odata.context": format!("{}/{ver}/$metadata#users('{}')/messages", state.base_url, user.oid),
            "value": page,
        });
        if skip.saturating_add(top) < count
            && let Some(map) = body.as_object_mut()
        {
            map.insert(
                "@odata.nextLink".to_owned(),
                json!(format!(
                    "{}/{ver}/me/messages?$top={top}&$skip={}",
                    state.base_url,
                    skip + top
                )),
            );
        }
        Ok::<_, GraphError>(body)
    })();
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.render(&state, &headers),
    }
}

/// `GET /oidc/userinfo`: the OpenID Connect UserInfo endpoint (Graph-hosted at Microsoft).
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = authenticate(&state, &headers).and_then(|caller| match caller {
        Caller::User { oid, .. } => state
            .dir
            .user(oid)
            .ok_or_else(|| GraphError::unauthorized(&state, "Access token validation failure.")),
        Caller::App { .. } => Err(GraphError::unauthorized(
            &state,
            "Access token validation failure.",
        )),
    });
    match result {
        Ok(user) => Json(json!({
            "sub": user.oid.to_string(),
            "name": user.config.display_name,
            "family_name": user.config.surname,
            "given_name": user.config.given_name,
            "email": user.mail(),
        }))
        .into_response(),
        Err(error) => error.render(&state, &headers),
    }
}
