-- o365-auth token store, first schema.
-- Every secret column holds a sealed blob (store::seal): version || nonce || ciphertext || tag,
-- sealed with "<table>:<row id>:<column>" as associated data.

CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE app_registrations (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL UNIQUE,
    client_id           TEXT NOT NULL,
    tenant              TEXT NOT NULL,
    authority           TEXT NOT NULL,          -- cloud / authority URL (JSON)
    flow_type           TEXT NOT NULL CHECK (flow_type IN
                            ('authorization', 'public', 'credentials', 'password', 'device_code')),
    redirect_kind       TEXT NOT NULL CHECK (redirect_kind IN ('deep_link', 'loopback', 'native_client', 'none')),
    protocol            TEXT NOT NULL,          -- Protocol (JSON)
    default_scopes      TEXT NOT NULL,          -- JSON array of helpers and scopes
    client_secret       BLOB,                   -- sealed
    certificate         BLOB,                   -- sealed (PEM key + certificate, or PKCS#12)
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
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
    status              TEXT NOT NULL DEFAULT 'fresh' CHECK (status IN
                            ('fresh', 'needs_sign_in', 'interaction_required', 'error')),
    refresh_token       BLOB,                   -- sealed
    last_refresh_at     INTEGER,
    last_used_at        INTEGER,
    last_error_code     TEXT,
    created_at          INTEGER NOT NULL,
    UNIQUE (app_id, home_account_id)
) STRICT;
CREATE INDEX accounts_by_username ON accounts (username_folded);

CREATE TABLE tokens (
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scope_key           TEXT NOT NULL,          -- sorted, lower-cased, space-joined scopes
    scopes              TEXT NOT NULL,          -- JSON array as granted
    expires_at          INTEGER NOT NULL,
    access_token        BLOB NOT NULL,          -- sealed
    id_token_claims     TEXT,                   -- JSON, no signature, nothing secret
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
