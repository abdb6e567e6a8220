-- The device model of device $1 at version $2 and, when catalogued, its
-- figures (plausibility checks). Columns: 0 slug, 1 in catalogue, 2 memory
-- bytes, 3 bandwidth bytes/s, 4 bf16 TFLOP/s, 5 fp32 TFLOP/s, 6 the most
-- memory any catalogued model of the same name has (0: none): a reported
-- memory size makes its own slug ("rtx-4090-80gb"), so a card claiming more
-- memory than it is made with is found by name, not by slug.
SELECT m.slug, c.slug IS NOT NULL, coalesce(c.memory_bytes, 0),
       coalesce(c.memory_bandwidth_bytes_per_second, 0), coalesce(c.bf16_tflops, 0), coalesce(c.fp32_tflops, 0),
       coalesce((SELECT max(f.memory_bytes) FROM lb_catalogue_at($2::bigint) f
                 WHERE f.slug ~ ('^' || d.name_key || '-[0-9]+gb$')
                    OR f.slug IN (SELECT a.slug FROM device_model_aliases a
                                  WHERE a.name_key = d.name_key AND a.data_version <= $2::bigint)), 0)
FROM lb_device_model_of($2::bigint) m
JOIN devices d ON d.device_id = m.device_id
LEFT JOIN lb_catalogue_at($2::bigint) c ON c.slug = m.slug
WHERE m.device_id = $1::bigint
