-- Creates a device model on its first submission; returns nothing when it
-- exists. $1 backend, $2 vendor, $3 name, $4 memory_total_bytes,
-- $5 compute_capability, $6 gfx_target, $7 multiprocessor_count
INSERT INTO devices (backend, vendor, name, memory_total_bytes, compute_capability, gfx_target,
                     multiprocessor_count)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (backend, vendor, name, memory_total_bytes, compute_capability, gfx_target,
             multiprocessor_count) DO NOTHING
RETURNING device_id
