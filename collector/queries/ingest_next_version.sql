-- Opens a group transaction: takes the next data version, and with it the
-- counter's row lock until commit. So ingest transactions run their writes
-- one at a time, in version order (no reader sees version V while V-1 is
-- still open), and none can deadlock another. Also returns the
-- transaction's now() in microseconds since the epoch: the received_at
-- that every submission written by this transaction gets (the column
-- default). Rolled back, version and all, when the group stores nothing new.
WITH ver AS (
  UPDATE data_version_counter SET version = version + 1 RETURNING version),
vlog AS (
  INSERT INTO data_versions (version, cause) SELECT version, 'ingest' FROM ver RETURNING version)
SELECT version, (extract(epoch FROM now()) * 1000000)::bigint FROM vlog
