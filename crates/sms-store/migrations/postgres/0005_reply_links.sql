-- A reply linked to the send it answers (providers' replies carry no message id).
ALTER TABLE inbound ADD COLUMN message_id TEXT;
