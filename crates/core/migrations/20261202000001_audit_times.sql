-- Identical hand-outs within one audit batch (same account, scopes, channel and peer) are one
-- row: `times` counts them and `at` is the last one's time.
ALTER TABLE audit_log ADD COLUMN times INTEGER NOT NULL DEFAULT 1 CHECK (times >= 1);
