-- o365-auth token store, first schema.
-- Every secret column holds a sealed blob (store::seal): version || nonce || ciphertext || tag,
-- sealed with "<table>:<row id>:<column>" as associated data (tokens: "tokens:<account id>:
-- <scope key>:access_token"). PRAGMA application_id is set by store::db, not here.

CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE app_registrations (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL UNIQUE,
    client_id           TEXT NOT NULL,
    tenant              TEXT NOT NULL,          -- the authority's tenant segment (MSAL's realm)
    environment         TEXT NOT NULL,          -- the authority's host (MSAL's environment)
    authority           TEXT NOT NULL,          -- cloud / authority URL (JSON)
    flow_type           TEXT NOT NULL CHECK (flow_type IN
                            ('authorization', 'public', 'credentials', 'password', 'device_code')),
    redirect_kind       TEXT NOT NULL CHECK (redirect_kind IN ('deep_link', 'loopback', 'native_client', 'none')),
    protocol            TEXT NOT NULL,          -- Protocol (JSON)
    default_scopes      TEXT NOT NULL,          -- JSON array of helpers and scopes
    client_secret       BLOB,                   -- sealed
    certificate         BLOB,                   -- sealed (PEM key + certificate, or PKCS#12)
    -- 'user': added by a person; 'backend': created by StoreBackend::save for an AppKey it had
    -- not seen; 'import': from a python-o365/MSAL token file.
    source              TEXT NOT NULL DEFAULT 'user' CHECK (source IN ('user', 'backend', 'import')),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    -- One registration per MSAL app key, so a TokenBackend AppKey names at most one row.
    UNIQUE (client_id, environment, tenant)
) STRICT;

-- The refresh token sits on the account: Microsoft binds refresh tokens to user + client, not to
-- a resource, so one refresh token serves every scope set of the account.
CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY NOT NULL,
    app_id              TEXT NOT NULL REFERENCES app_registrations (id) ON DELETE CASCADE,
    home_account_id     TEXT NOT NULL,          -- uid.utid; app-only accounts use "app:<client id>"
    username            TEXT NOT NULL,
    username_folded     TEXT NOT NULL,          -- lower-cased, for case-insensitive lookups
    display_name        TEXT,
    alias               TEXT UNIQUE,
    tenant_id           TEXT NOT NULL,
    local_account_id    TEXT,                   -- oid in tenant_id
    -- 'sign_in': signed in here; 'import': from a python-o365/MSAL token file.
    source              TEXT NOT NULL DEFAULT 'sign_in' CHECK (source IN ('sign_in', 'import')),
    status              TEXT NOT NULL DEFAULT 'fresh' CHECK (status IN
                            ('fresh', 'needs_sign_in', 'interaction_required', 'error')),
    refresh_token       BLOB,                   -- sealed
    id_token            BLOB,                   -- sealed (raw JWT, kept for MSAL export)
    id_token_claims     TEXT,                   -- JSON, no signature, nothing secret
    client_info         TEXT,                   -- JSON {uid, utid}
    last_refresh_at     INTEGER,
    last_used_at        INTEGER,
    last_error_code     TEXT,
    created_at          INTEGER NOT NULL,      -- rowid order is first-saved order
    UNIQUE (app_id, home_account_id)
) STRICT;
CREATE INDEX accounts_by_username ON accounts (app_id, username_folded);

CREATE TABLE tokens (
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scope_key           TEXT NOT NULL,          -- sorted, lower-cased, space-joined scopes
    scopes              TEXT NOT NULL,          -- JSON array as granted
    token_type          TEXT NOT NULL,
    obtained_at         INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    ext_expires_at      INTEGER,
    refresh_on          INTEGER,
    access_token        BLOB NOT NULL,          -- sealed
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (account_id, scope_key)
) STRICT;
CREATE INDEX tokens_by_expiry ON tokens (expires_at);

CREATE TABLE pending_sign_ins (
    state               TEXT PRIMARY KEY NOT NULL,
    app_id              TEXT NOT NULL REFERENCES app_registrations (id) ON DELETE CASCADE,
    flow                TEXT NOT NULL,          -- PendingFlow without its secrets (JSON)
    pkce_verifier       BLOB NOT NULL,          -- sealed
    expires_at          INTEGER NOT NULL,
    created_at          INTEGER NOT NULL
) STRICT;
CREATE INDEX pending_sign_ins_by_expiry ON pending_sign_ins (expires_at);

CREATE TABLE audit_log (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    at                  INTEGER NOT NULL,
    account_id          TEXT,                   -- kept when the account goes: history stays
    username            TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    channel             TEXT NOT NULL CHECK (channel IN ('ipc', 'cli', 'http', 'tray', 'app')),
    peer_pid            INTEGER,
    peer_uid            INTEGER,
    peer_exe            TEXT
) STRICT;
CREATE INDEX audit_log_by_time ON audit_log (at);

-- Cross-process refresh turns (TokenBackend::lock_refresh): one row per account being refreshed.
-- A holder that dies leaves a row that expires by itself.
CREATE TABLE refresh_leases (
    lock_key            TEXT PRIMARY KEY NOT NULL,  -- "<app id>:<account id or folded name>"
    holder              TEXT NOT NULL,              -- the Store instance (random per open)
    lease               TEXT NOT NULL,              -- this turn (random per lock)
    expires_at          INTEGER NOT NULL
) STRICT;
