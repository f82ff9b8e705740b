-- Whether status changes and replies are recorded as events: a gateway with callbacks switches it on.
CREATE TABLE event_settings (
    id BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    enabled BIGINT NOT NULL
);

-- Status changes and replies for the application's callback, in the order they happened. Written by
-- triggers, so in the same transaction as the change itself; settled by whoever delivers them.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    message_id TEXT REFERENCES messages (id) ON DELETE CASCADE,
    number TEXT,
    status TEXT,
    provider TEXT,
    provider_message_id TEXT,
    billed_parts BIGINT,
    error_kind TEXT,
    error_code TEXT,
    error_message TEXT,
    receipt_code TEXT,
    inbound_id BIGINT REFERENCES inbound (id) ON DELETE CASCADE,
    occurred_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_status BIGINT,
    last_error TEXT,
    settled_at BIGINT
);
CREATE INDEX events_due ON events (next_attempt_at) WHERE state = 'pending';
CREATE INDEX events_message ON events (message_id, seq) WHERE state = 'pending';

CREATE TRIGGER recipients_event_insert AFTER INSERT ON recipients
WHEN NEW.status NOT IN ('queued', 'sending') AND EXISTS (SELECT 1 FROM event_settings WHERE enabled = 1)
BEGIN
    INSERT INTO events (kind, message_id, number, status, provider, provider_message_id, billed_parts,
        error_kind, error_code, error_message, receipt_code, occurred_at, next_attempt_at)
    VALUES ('status', NEW.message_id, NEW.number, NEW.status, NEW.provider, NEW.provider_message_id,
        NEW.billed_parts, NEW.error_kind, NEW.error_code, NEW.error_message, NEW.receipt_code,
        COALESCE(NEW.final_at, NEW.outcome_at, NEW.created_at),
        COALESCE(NEW.final_at, NEW.outcome_at, NEW.created_at));
END;

CREATE TRIGGER recipients_event_update AFTER UPDATE OF status ON recipients
WHEN NEW.status <> OLD.status AND NEW.status NOT IN ('queued', 'sending')
    AND EXISTS (SELECT 1 FROM event_settings WHERE enabled = 1)
BEGIN
    INSERT INTO events (kind, message_id, number, status, provider, provider_message_id, billed_parts,
        error_kind, error_code, error_message, receipt_code, occurred_at, next_attempt_at)
    VALUES ('status', NEW.message_id, NEW.number, NEW.status, NEW.provider, NEW.provider_message_id,
        NEW.billed_parts, NEW.error_kind, NEW.error_code, NEW.error_message, NEW.receipt_code,
        COALESCE(NEW.final_at, NEW.outcome_at, NEW.created_at),
        COALESCE(NEW.final_at, NEW.outcome_at, NEW.created_at));
END;

CREATE TRIGGER inbound_event AFTER INSERT ON inbound
WHEN EXISTS (SELECT 1 FROM event_settings WHERE enabled = 1)
BEGIN
    INSERT INTO events (kind, number, provider, inbound_id, occurred_at, next_attempt_at)
    VALUES ('reply', NEW.sender, NEW.provider, NEW.id, NEW.stored_at, NEW.stored_at);
END;
