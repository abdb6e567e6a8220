-- The memory a runtime holds beyond the plan, measured on comparable runs:
-- the same workload ($4 preset, $5 kind) on backend $2, visible at version
-- $1, at batch 1 (the overhead barely depends on the batch). Per machine the
-- median of (process memory - planned bytes); statistics over machines, for
-- device model $3 and for the whole backend. Points whose process memory is
-- unknown (NULL) are left out.
-- Columns: 0 scope ('model' or 'backend'), 1 machines, 2 median, 3 p75.
WITH dm AS MATERIALIZED (SELECT * FROM lb_device_model_of($1::bigint)),  -- once per device, not per row
per_machine AS (
  SELECT dm.slug, s.machine_id,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY p.process_memory_bytes - p.planned_bytes) AS residual
  FROM lb_visible_submissions($1::bigint) s
  JOIN devices d ON d.device_id = s.device_id
  JOIN dm ON dm.device_id = s.device_id
  JOIN sweeps w ON w.submission_id = s.submission_id
  -- LATERAL (OFFSET 0 keeps it from being flattened): one primary-key probe
  -- per sweep, not a scan of every batch-1 point.
  CROSS JOIN LATERAL (SELECT * FROM points p WHERE p.submission_id = w.submission_id
                        AND p.sweep_index = w.sweep_index AND p.batch_size = 1 OFFSET 0) p
  WHERE d.backend = $2::text AND w.model_preset = $4::text AND w.kind = $5::text
    AND p.status = 'ok' AND p.process_memory_bytes IS NOT NULL
  GROUP BY dm.slug, s.machine_id
)
SELECT 'model', count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY residual),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY residual)
FROM per_machine WHERE slug = $3::text
UNION ALL
SELECT 'backend', count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY residual),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY residual)
FROM per_machine
