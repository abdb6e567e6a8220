-- The id of an existing machine. $1 fingerprint
SELECT machine_id FROM machines WHERE fingerprint = $1
