-- Outlier baseline: per batch size, each other machine's median tokens/s
-- for one device model ($2) and workload ($4..$10), over the submissions
-- public at version $1 (what was stored before this transaction, flagged
-- ones left out), leaving out machine $3 (a machine is never its own
-- baseline). Columns: 0 batch size, 1 the machine's median.
SELECT p.batch_size,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.tokens_per_second_median)
FROM lb_visible_submissions($1::bigint) s
JOIN lb_device_model_of($1::bigint) dm ON dm.device_id = s.device_id AND dm.slug = $2::text
JOIN sweeps w ON w.submission_id = s.submission_id
JOIN points p ON p.submission_id = w.submission_id AND p.sweep_index = w.sweep_index
WHERE s.machine_id <> $3::bigint
  AND w.model_preset = $4::text AND w.kind = $5::text AND w.precision = $6::text
  AND w.prompt_tokens = $7::integer AND w.generated_tokens = $8::integer
  AND w.sequence_tokens = $9::integer AND w.lora_rank = $10::integer
  AND p.status = 'ok'
GROUP BY p.batch_size, s.machine_id
