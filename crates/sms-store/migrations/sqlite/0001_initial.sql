-- Messages as the application asked for them; content may be redacted (NULL) while the digest stays.
CREATE TABLE messages (
    id TEXT PRIMARY KEY NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    batch_id TEXT,
    kind TEXT NOT NULL,
    content TEXT,
    content_digest TEXT NOT NULL,
    schedule BIGINT,
    policy TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_batch ON messages (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX messages_created ON messages (created_at);

-- One row per recipient: the status machine and the time of each transition.
CREATE TABLE recipients (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    status TEXT NOT NULL,
    provider TEXT,
    provider_message_id TEXT,
    billed_parts BIGINT,
    error_kind TEXT,
    error_code TEXT,
    error_message TEXT,
    receipt_code TEXT,
    created_at BIGINT NOT NULL,
    queued_at BIGINT,
    sending_at BIGINT,
    outcome_at BIGINT,
    final_at BIGINT,
    PRIMARY KEY (message_id, number)
);
CREATE INDEX recipients_number ON recipients (number, created_at);
CREATE INDEX recipients_provider_id ON recipients (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX recipients_status ON recipients (status, outcome_at);

-- Failed attempts before the outcome, as the chain reports them.
CREATE TABLE attempts (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    provider TEXT NOT NULL,
    recipients BIGINT NOT NULL,
    error_kind TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    elapsed_ms BIGINT NOT NULL,
    PRIMARY KEY (message_id, seq)
);

-- Every delivery report received, matched or not; never dropped.
CREATE TABLE receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    number TEXT NOT NULL,
    status TEXT NOT NULL,
    code TEXT NOT NULL,
    description TEXT NOT NULL,
    reported_at BIGINT,
    received_at BIGINT NOT NULL,
    message_id TEXT,
    disposition TEXT NOT NULL
);
CREATE INDEX receipts_provider_id ON receipts (provider, provider_message_id);
CREATE INDEX receipts_message ON receipts (message_id);

-- Handset replies; the id is the cursor.
CREATE TABLE inbound (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    sender TEXT NOT NULL,
    service_number TEXT,
    text TEXT,
    opt_out BIGINT NOT NULL,
    received_at BIGINT,
    stored_at BIGINT NOT NULL
);

CREATE TABLE suppressions (
    number TEXT PRIMARY KEY NOT NULL,
    reason TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Write-ahead idempotency: a row exists from before the first request; outcome NULL means in flight
-- or unknown (never free again until it expires).
CREATE TABLE idempotency (
    reference TEXT PRIMARY KEY NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome TEXT,
    created_at BIGINT NOT NULL,
    completed_at BIGINT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX idempotency_expires ON idempotency (expires_at);

-- Queued messages waiting for a worker. The payload is what the worker needs to send, even when the
-- message's own content is kept only as a digest; it goes when the row goes.
CREATE TABLE outbox (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    available_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    started_at BIGINT,
    claims BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_ready ON outbox (available_at) WHERE lease_owner IS NULL;
