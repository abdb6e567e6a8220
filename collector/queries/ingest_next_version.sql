-- Takes the next data version for the group being written, and with it the
-- counter's row lock until commit: writers therefore commit in version
-- order, and every ingest transaction takes this lock before any other row
-- lock, so two of them cannot deadlock. Creates the machines and devices the
-- staged group names (sorted, so concurrent creators meet in one order).
-- Runs only in a transaction that is rolled back unless it stores new rows.
WITH ver AS (
  UPDATE data_version_counter SET version = version + 1 RETURNING version),
vlog AS (
  INSERT INTO data_versions (version, cause) SELECT version, 'ingest' FROM ver RETURNING version),
m AS (
  INSERT INTO machines (fingerprint)
  SELECT DISTINCT machine_fingerprint FROM lb_stage_submissions ORDER BY 1
  ON CONFLICT (fingerprint) DO NOTHING),
d AS (
  INSERT INTO devices (backend, vendor, name, memory_total_bytes, compute_capability, gfx_target,
                       multiprocessor_count)
  SELECT DISTINCT backend, vendor, device_name, memory_total_bytes, compute_capability, gfx_target,
                  multiprocessor_count
  FROM lb_stage_submissions ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (backend, vendor, name, memory_total_bytes, compute_capability, gfx_target,
               multiprocessor_count) DO NOTHING)
SELECT version FROM vlog
