-- Creates a machine on its first submission; returns nothing when it exists.
-- $1 fingerprint
INSERT INTO machines (fingerprint) VALUES ($1)
ON CONFLICT (fingerprint) DO NOTHING
RETURNING machine_id
