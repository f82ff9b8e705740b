-- Providers' balances as the gateway's balance watcher last read them, and whether each is below its
-- `low_balance` threshold: the stored flag is what makes the low-balance event fire once per crossing,
-- whichever instance reads it and however often it restarts.
CREATE TABLE provider_balances (
    provider TEXT PRIMARY KEY NOT NULL,
    amount BIGINT NOT NULL,
    unit TEXT NOT NULL,
    threshold BIGINT,
    low BIGINT NOT NULL DEFAULT 0,
    checked_at BIGINT NOT NULL,
    changed_at BIGINT
);

-- Events about no message (a low balance, a spend warning): their details as a JSON object, and a key
-- that records each of them at most once.
ALTER TABLE events ADD COLUMN data TEXT;
ALTER TABLE events ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX events_dedupe ON events (dedupe_key) WHERE dedupe_key IS NOT NULL;
