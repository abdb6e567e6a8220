-- The memory a runtime holds beyond the plan, measured: per machine the
-- median of (process memory - planned bytes) over its ok points, visible at
-- version $1, on backend $2; statistics over machines, for device model $3
-- and for the whole backend. Points whose process memory is unknown (NULL)
-- are left out.
-- Columns: 0 scope ('model' or 'backend'), 1 machines, 2 median, 3 p75.
WITH dm AS (SELECT * FROM lb_device_model_of($1::bigint)),
per_machine AS (
  SELECT dm.slug, s.machine_id,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY p.process_memory_bytes - p.planned_bytes) AS residual
  FROM lb_visible_submissions($1::bigint) s
  JOIN devices d ON d.device_id = s.device_id
  JOIN dm ON dm.device_id = s.device_id
  JOIN points p ON p.submission_id = s.submission_id
  WHERE d.backend = $2::text AND p.status = 'ok' AND p.process_memory_bytes IS NOT NULL
  GROUP BY dm.slug, s.machine_id
)
SELECT 'model', count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY residual),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY residual)
FROM per_machine WHERE slug = $3::text
UNION ALL
SELECT 'backend', count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY residual),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY residual)
FROM per_machine
