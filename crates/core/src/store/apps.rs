//! App registrations: the Entra apps accounts sign in through. The client secret and the
//! certificate are sealed (`app_registrations:<id>:client_secret` / `:certificate`); removing a
//! registration removes its accounts, tokens and pending sign-ins (foreign-key cascade).

use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use super::db::Store;
use super::seal::Sealer;
use super::sql::{context, new_id, sql_error, unique_or_sql};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token::now_unix;

/// How accounts of the app sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowType {
    Authorization,
    Public,
    Credentials,
    Password,
    DeviceCode,
}

/// Where the authorization answer comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    DeepLink,
    Loopback,
    NativeClient,
    None,
}

/// Who created a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSource {
    /// Added by a person (UI, CLI).
    User,
    /// Created by [`super::StoreBackend`] the first time it saved tokens for an `AppKey`.
    Backend,
    /// Read from a python-o365 or MSAL token file.
    Import,
}

macro_rules! text_enum {
    ($type:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self { $($type::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Result<Self> {
                match text {
                    $($text => Ok($type::$variant),)+
                    other => Err(Error::StoreIo {
                        message: format!(concat!("unknown ", stringify!($type), " `{}` in the store"), other),
                    }),
                }
            }
        }
    };
}

text_enum!(FlowType {
    Authorization => "authorization",
    Public => "public",
    Credentials => "credentials",
    Password => "password",
    DeviceCode => "device_code",
});
text_enum!(RedirectKind {
    DeepLink => "deep_link",
    Loopback => "loopback",
    NativeClient => "native_client",
    None => "none",
});
text_enum!(AppSource {
    User => "user",
    Backend => "backend",
    Import => "import",
});

/// The non-secret settings of a registration.
#[derive(Debug, Clone, PartialEq)]
pub struct AppFields {
    /// Unique among registrations; what people pick an app by.
    pub name: String,
    pub client_id: String,
    /// The authority's tenant segment (`common`, `organizations`, a tenant id or domain).
    pub tenant: String,
    /// The authority's host (`login.microsoftonline.com`).
    pub environment: String,
    /// Cloud / authority settings as JSON text (kept verbatim).
    pub authority: String,
    pub flow_type: FlowType,
    pub redirect_kind: RedirectKind,
    /// The protocol (Graph, Business Central, custom) as JSON.
    pub protocol: Value,
    /// Scope helpers and scopes to ask for by default.
    pub default_scopes: Vec<String>,
}

/// A registration to add, with its secrets.
#[derive(Debug, Clone)]
pub struct NewAppRegistration {
    pub fields: AppFields,
    pub client_secret: Option<Secret>,
    /// PEM private key and certificate (or PKCS#12 as base64).
    pub certificate: Option<Secret>,
    pub source: AppSource,
}

/// A stored registration, without its secrets (ask [`Apps::client_secret`] for those).
#[derive(Debug, Clone, PartialEq)]
pub struct AppRegistration {
    pub id: String,
    pub fields: AppFields,
    pub has_client_secret: bool,
    pub has_certificate: bool,
    pub source: AppSource,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The app registrations of a store: `store.apps()`.
#[derive(Debug, Clone, Copy)]
pub struct Apps<'a> {
    store: &'a Store,
}

pub(crate) const COLUMNS: &str = "id, name, client_id, tenant, environment, authority, flow_type, \
    redirect_kind, protocol, default_scopes, client_secret IS NOT NULL AS has_secret, \
    certificate IS NOT NULL AS has_certificate, source, created_at, updated_at";

impl Store {
    pub fn apps(&self) -> Apps<'_> {
        Apps { store: self }
    }
}

impl<'a> Apps<'a> {
    /// Adds a registration; its name must be new, and so must its (client id, environment,
    /// tenant).
    pub async fn add(&self, new: &NewAppRegistration) -> Result<AppRegistration> {
        let mut connection = self.store.inner.pool.acquire().await.map_err(sql_error)?;
        let id = insert_registration(&mut connection, self.store.sealer(), new).await?;
        drop(connection);
        self.get(&id).await?.ok_or_else(|| Error::StoreIo {
            message: "the registration vanished right after it was added".into(),
        })
    }

    /// Every registration, by name.
    pub async fn list(&self) -> Result<Vec<AppRegistration>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM app_registrations ORDER BY name"
        ))
        .fetch_all(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        rows.iter().map(read_row).collect()
    }

    pub async fn get(&self, id: &str) -> Result<Option<AppRegistration>> {
        self.one("id = ?", id).await
    }

    pub async fn by_name(&self, name: &str) -> Result<Option<AppRegistration>> {
        self.one("name = ?", name).await
    }

    /// The registration an MSAL app key names.
    pub async fn by_app_key(
        &self,
        client_id: &str,
        environment: &str,
        tenant: &str,
    ) -> Result<Option<AppRegistration>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM app_registrations \
             WHERE client_id = ? AND environment = ? AND tenant = ?"
        ))
        .bind(client_id)
        .bind(environment)
        .bind(tenant)
        .fetch_optional(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        row.as_ref().map(read_row).transpose()
    }

    async fn one(&self, condition: &str, value: &str) -> Result<Option<AppRegistration>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM app_registrations WHERE {condition}"
        ))
        .bind(value)
        .fetch_optional(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        row.as_ref().map(read_row).transpose()
    }

    /// Replaces the non-secret settings. `false` when no registration has this id.
    pub async fn update(&self, id: &str, fields: &AppFields) -> Result<bool> {
        let sql = format!(
            "UPDATE app_registrations SET {FIELD_ASSIGNMENTS}, updated_at = ? WHERE id = ?"
        );
        let done = bind_fields(sqlx::query(&sql), fields)
            .bind(now_unix())
            .bind(id)
            .execute(&self.store.inner.pool)
            .await
            .map_err(duplicate_registration)?;
        self.store.inner.index.clear();
        Ok(done.rows_affected() > 0)
    }

    /// Replaces the registration's fields and both credentials (`None` clears one) in one
    /// statement, so a change never lands half-way (new fields beside the old secret).
    pub async fn replace(
        &self,
        id: &str,
        fields: &AppFields,
        client_secret: Option<&Secret>,
        certificate: Option<&Secret>,
    ) -> Result<bool> {
        let sealer = self.store.sealer();
        let seal = |secret: Option<&Secret>, column: &str| {
            secret.map(|secret| sealer.seal(secret, &context("app_registrations", id, column)))
        };
        let sql = format!(
            "UPDATE app_registrations SET {FIELD_ASSIGNMENTS}, client_secret = ?, certificate = ?, \
             updated_at = ? WHERE id = ?"
        );
        let done = bind_fields(sqlx::query(&sql), fields)
            .bind(seal(client_secret, "client_secret"))
            .bind(seal(certificate, "certificate"))
            .bind(now_unix())
            .bind(id)
            .execute(&self.store.inner.pool)
            .await
            .map_err(duplicate_registration)?;
        self.store.inner.index.clear();
        Ok(done.rows_affected() > 0)
    }

    /// Sets or (with `None`) clears the client secret.
    pub async fn set_client_secret(&self, id: &str, secret: Option<&Secret>) -> Result<bool> {
        self.set_sealed(id, "client_secret", secret).await
    }

    /// Sets or (with `None`) clears the certificate.
    pub async fn set_certificate(&self, id: &str, certificate: Option<&Secret>) -> Result<bool> {
        self.set_sealed(id, "certificate", certificate).await
    }

    async fn set_sealed(&self, id: &str, column: &str, secret: Option<&Secret>) -> Result<bool> {
        let sealed = secret.map(|secret| {
            self.store
                .sealer()
                .seal(secret, &context("app_registrations", id, column))
        });
        let done = sqlx::query(&format!(
            "UPDATE app_registrations SET {column} = ?, updated_at = ? WHERE id = ?"
        ))
        .bind(sealed)
        .bind(now_unix())
        .bind(id)
        .execute(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn client_secret(&self, id: &str) -> Result<Option<Secret>> {
        self.open_sealed(id, "client_secret").await
    }

    pub async fn certificate(&self, id: &str) -> Result<Option<Secret>> {
        self.open_sealed(id, "certificate").await
    }

    async fn open_sealed(&self, id: &str, column: &str) -> Result<Option<Secret>> {
        let sealed: Option<Option<Vec<u8>>> = sqlx::query_scalar(&format!(
            "SELECT {column} FROM app_registrations WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        sealed
            .flatten()
            .map(|sealed| {
                self.store
                    .sealer()
                    .open(&sealed, &context("app_registrations", id, column))
                    .map_err(Error::Sealed)
            })
            .transpose()
    }

    /// Removes the registration with its accounts, tokens and pending sign-ins. `false` when
    /// no registration has this id.
    pub async fn remove(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM app_registrations WHERE id = ?")
            .bind(id)
            .execute(&self.store.inner.pool)
            .await
            .map_err(sql_error)?;
        self.store.inner.index.clear();
        Ok(done.rows_affected() > 0)
    }
}

/// The non-secret columns `update` and `replace` set (and `insert_registration` lists after the
/// id), in the order [`bind_fields`] binds them.
const FIELD_ASSIGNMENTS: &str = "name = ?, client_id = ?, tenant = ?, environment = ?, authority = ?, \
     flow_type = ?, redirect_kind = ?, protocol = ?, default_scopes = ?";

fn bind_fields<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    fields: &'q AppFields,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    query
        .bind(&fields.name)
        .bind(&fields.client_id)
        .bind(&fields.tenant)
        .bind(&fields.environment)
        .bind(&fields.authority)
        .bind(fields.flow_type.as_str())
        .bind(fields.redirect_kind.as_str())
        .bind(fields.protocol.to_string())
        .bind(json_list(&fields.default_scopes))
}

/// Inserts a registration on `connection` (inside the caller's transaction, if any) and
/// returns its id. A clash of name or app key is `invalid_input`.
pub(crate) async fn insert_registration(
    connection: &mut SqliteConnection,
    sealer: &Sealer,
    new: &NewAppRegistration,
) -> Result<String> {
    let id = new_id();
    let now = now_unix();
    let secret = new
        .client_secret
        .as_ref()
        .map(|secret| sealer.seal(secret, &context("app_registrations", &id, "client_secret")));
    let certificate = new
        .certificate
        .as_ref()
        .map(|secret| sealer.seal(secret, &context("app_registrations", &id, "certificate")));
    let fields = &new.fields;
    let insert = sqlx::query(
        "INSERT INTO app_registrations (id, name, client_id, tenant, environment, authority, \
         flow_type, redirect_kind, protocol, default_scopes, client_secret, certificate, \
         source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id);
    bind_fields(insert, fields)
        .bind(secret)
        .bind(certificate)
        .bind(new.source.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *connection)
        .await
        .map_err(duplicate_registration)?;
    Ok(id)
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn read_row(row: &SqliteRow) -> Result<AppRegistration> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(sql_error);
    let protocol: Value = serde_json::from_str(&text("protocol")?).unwrap_or(Value::Null);
    let default_scopes: Vec<String> =
        serde_json::from_str(&text("default_scopes")?).unwrap_or_default();
    Ok(AppRegistration {
        id: text("id")?,
        fields: AppFields {
            name: text("name")?,
            client_id: text("client_id")?,
            tenant: text("tenant")?,
            environment: text("environment")?,
            authority: text("authority")?,
            flow_type: FlowType::parse(&text("flow_type")?)?,
            redirect_kind: RedirectKind::parse(&text("redirect_kind")?)?,
            protocol,
            default_scopes,
        },
        has_client_secret: row.try_get("has_secret").map_err(sql_error)?,
        has_certificate: row.try_get("has_certificate").map_err(sql_error)?,
        source: AppSource::parse(&text("source")?)?,
        created_at: row.try_get("created_at").map_err(sql_error)?,
        updated_at: row.try_get("updated_at").map_err(sql_error)?,
    })
}

/// Which of the two uniqueness rules a registration broke, named as the parameter to fix.
fn duplicate_registration(error: sqlx::Error) -> Error {
    let broke_name = matches!(
        &error,
        sqlx::Error::Database(database) if database.message().contains("app_registrations.name")
    );
    if broke_name {
        unique_or_sql(error, "app name", "another app registration has this name")
    } else {
        unique_or_sql(
            error,
            "client id",
            "another app registration has this client id for the same tenant and cloud; \
             sign in through that one, or register this one for another tenant",
        )
    }
}
