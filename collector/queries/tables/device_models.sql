-- Every device model at data version $1: the catalogue as it stood then,
-- full-joined with the models of visible submissions (machines and
-- submissions behind each). Uncatalogued models take their figures from the
-- reports: the lowest name variant, the largest reported memory.
-- Columns: 0 slug, 1 vendor, 2 backend, 3 name, 4 memory bytes,
-- 5 bandwidth, 6 bf16 TFLOP/s, 7 fp32 TFLOP/s, 8 source, 9 in catalogue,
-- 10 machines, 11 submissions.
WITH dm AS MATERIALIZED (SELECT * FROM lb_device_model_of($1::bigint)),  -- once per device, not per row
measured AS (
  SELECT dm.slug, min(d.vendor) AS vendor, min(d.backend) AS backend, min(d.name) AS name,
         max(d.memory_total_bytes) AS memory_bytes, count(DISTINCT s.machine_id) AS machines,
         count(*) AS submissions
  FROM lb_visible_submissions($1::bigint) s
  JOIN devices d ON d.device_id = s.device_id
  JOIN dm ON dm.device_id = s.device_id
  GROUP BY dm.slug
)
SELECT coalesce(c.slug, m.slug), coalesce(c.vendor, m.vendor), coalesce(c.backend, m.backend),
       coalesce(c.name, m.name), coalesce(c.memory_bytes, m.memory_bytes),
       coalesce(c.memory_bandwidth_bytes_per_second, 0), coalesce(c.bf16_tflops, 0), coalesce(c.fp32_tflops, 0),
       coalesce(c.source, ''), c.slug IS NOT NULL, coalesce(m.machines, 0), coalesce(m.submissions, 0)
FROM lb_catalogue_at($1::bigint) c
FULL JOIN measured m ON m.slug = c.slug
ORDER BY 1
