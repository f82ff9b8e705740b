-- Indexes for the dashboard's reports (sms-gateway's dashboard pages).
-- Provider activity (the providers page): outcomes by status and time, with the provider in the index
-- so the aggregation reads the index alone instead of every row it selects.
CREATE INDEX recipients_activity ON recipients (status, outcome_at, provider) WHERE provider IS NOT NULL;
-- Bulk runs: each bulk's first and last creation time from the index alone.
CREATE INDEX messages_batch_created ON messages (batch_id, created_at) WHERE batch_id IS NOT NULL;
