-- Spend caps (sms-failover's SpendLedger): one counter per cap and period, e.g.
-- `overall:parts:day:2026-11-28`; `used` in parts or thousandths of the currency unit; `expires_at`
-- in Unix seconds by the chain's wall clock (after it the counter reads zero and may be deleted).
CREATE TABLE spend_counters (
    counter TEXT PRIMARY KEY NOT NULL,
    used BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX spend_counters_expires ON spend_counters (expires_at);
