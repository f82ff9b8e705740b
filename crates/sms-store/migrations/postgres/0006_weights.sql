-- Adaptive routing: every change of the learned weights (the decider's), with its reason and
-- evidence as JSON; every instance routes by the latest.
CREATE TABLE weight_changes (
    seq BIGSERIAL PRIMARY KEY,
    recorded_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL
);

-- The operator's overrides (pin, drain) by provider name, as JSON: one row, honoured by every
-- instance.
CREATE TABLE weight_overrides (
    name TEXT PRIMARY KEY NOT NULL,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
