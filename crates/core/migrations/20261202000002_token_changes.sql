-- Which accounts' access tokens changed, and in what order: a store whose in-memory token index
-- sees the database move (PRAGMA data_version) forgets only the accounts changed since it last
-- looked, not every account. Kept by triggers, so every writer (another process, an older
-- version, an import) keeps it. One row per account: the revision of its last change. An upsert,
-- not INSERT OR REPLACE: inside a trigger the outer statement's conflict policy overrides an OR.
CREATE TABLE token_changes (
    account_id          TEXT PRIMARY KEY NOT NULL,
    revision            INTEGER NOT NULL
) STRICT;
CREATE INDEX token_changes_by_revision ON token_changes (revision);

CREATE TRIGGER tokens_inserted AFTER INSERT ON tokens BEGIN
    INSERT INTO token_changes (account_id, revision)
    VALUES (NEW.account_id, (SELECT coalesce(max(revision), 0) + 1 FROM token_changes))
        ON CONFLICT (account_id) DO UPDATE SET revision = excluded.revision;
END;
CREATE TRIGGER tokens_updated AFTER UPDATE ON tokens BEGIN
    INSERT INTO token_changes (account_id, revision)
    VALUES (OLD.account_id, (SELECT coalesce(max(revision), 0) + 1 FROM token_changes))
        ON CONFLICT (account_id) DO UPDATE SET revision = excluded.revision;
    INSERT INTO token_changes (account_id, revision)
    VALUES (NEW.account_id, (SELECT coalesce(max(revision), 0) + 1 FROM token_changes))
        ON CONFLICT (account_id) DO UPDATE SET revision = excluded.revision;
END;
CREATE TRIGGER tokens_deleted AFTER DELETE ON tokens BEGIN
    INSERT INTO token_changes (account_id, revision)
    VALUES (OLD.account_id, (SELECT coalesce(max(revision), 0) + 1 FROM token_changes))
        ON CONFLICT (account_id) DO UPDATE SET revision = excluded.revision;
END;
