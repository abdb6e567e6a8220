-- The id of an existing device model (parameters as device_insert.sql).
SELECT device_id FROM devices
WHERE backend = $1 AND vendor = $2 AND name = $3 AND memory_total_bytes = $4
  AND compute_capability = $5 AND gfx_target = $6 AND multiprocessor_count = $7
