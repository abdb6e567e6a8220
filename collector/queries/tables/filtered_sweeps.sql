-- Prefix of every table statement: the sweeps visible at data version $1
-- that pass the request's filter, with their device model and submission.
-- Empty strings and zeros match everything. Parameters:
--   $1 version, $2 vendor, $3 device model slugs (comma-separated),
--   $4/$5 device memory min/max (0: no bound), $6 preset, $7 kind,
--   $8 precision, $9 length (prompt tokens for inference, sequence tokens for
--   training), $10 suite version, $11 agent version, $12 backend,
--   $13..$16 exact prompt, generated, sequence tokens and LoRA rank,
--   $17 batch size (point statements; 0: every batch), then the training
--   dimensions (query.proto WorkloadKey fields 8-12), each selecting
--   training rows only when set: $18 activation precision ('' any),
--   $19 gradient checkpointing ('on', 'off'; '' any), $20 accumulation steps
--   (0 any), $21 full fine-tune accounting ('' any), $22 loss chunks (-1 any).
-- The small sides are MATERIALIZED so each is computed once (a slug per
-- device, a visibility verdict per submission) and hash-joined, instead of
-- being re-evaluated per sweep.
WITH args AS (SELECT $17::bigint AS batch_size),
dm AS MATERIALIZED (
  SELECT m.device_id, m.slug, d.vendor, d.backend, d.memory_total_bytes
  FROM lb_device_model_of($1::bigint) m JOIN devices d ON d.device_id = m.device_id
  WHERE ($2::text = '' OR d.vendor = $2::text)
    AND ($3::text = '' OR m.slug = ANY (string_to_array($3::text, ',')))
    AND d.memory_total_bytes >= $4::bigint
    AND ($5::bigint = 0 OR d.memory_total_bytes <= $5::bigint)
    AND ($12::text = '' OR d.backend = $12::text)
),
vis AS MATERIALIZED (
  SELECT s.submission_id, s.machine_id, s.device_id, s.data_version, s.driver_version, s.runtime_version,
         s.agent_version, s.suite_version
  FROM lb_visible_submissions($1::bigint) s
  WHERE s.device_id IN (SELECT device_id FROM dm)
    AND ($10::text = '' OR s.suite_version = $10::text)
    AND ($11::text = '' OR s.agent_version = $11::text)
),
sw AS (
  SELECT dm.slug, s.machine_id, s.submission_id, s.data_version, s.driver_version, s.runtime_version,
         s.agent_version, s.suite_version, w.sweep_index, w.model_preset, w.kind, w.precision,
         w.prompt_tokens, w.generated_tokens, w.sequence_tokens, w.lora_rank,
         w.activation_precision, w.gradient_checkpointing, w.accumulation_steps, w.full_finetune_accounting,
         w.loss_chunks,
         w.largest_ok_batch, w.smallest_failed_batch, w.planned_max_batch
  FROM vis s
  JOIN dm ON dm.device_id = s.device_id
  JOIN sweeps w ON w.submission_id = s.submission_id
  WHERE ($6::text = '' OR w.model_preset = $6::text)
    AND ($7::text = '' OR w.kind = $7::text)
    AND ($8::text = '' OR w.precision = $8::text)
    AND ($9::bigint = 0 OR (CASE WHEN w.kind IN ('prefill', 'decode') THEN w.prompt_tokens
                                 ELSE w.sequence_tokens END) = $9::bigint)
    AND ($13::bigint = 0 OR w.prompt_tokens = $13::bigint)
    AND ($14::bigint = 0 OR w.generated_tokens = $14::bigint)
    AND ($15::bigint = 0 OR w.sequence_tokens = $15::bigint)
    AND ($16::bigint = 0 OR w.lora_rank = $16::bigint)
    AND ($18::text = '' OR (w.kind IN ('train_lora', 'train_full') AND w.activation_precision = $18::text))
    AND ($19::text = '' OR (w.kind IN ('train_lora', 'train_full')
                            AND w.gradient_checkpointing = ($19::text = 'on')))
    AND ($20::bigint = 0 OR (w.kind IN ('train_lora', 'train_full') AND w.accumulation_steps = $20::bigint))
    AND ($21::text = '' OR w.full_finetune_accounting = $21::text)
    AND ($22::bigint < 0 OR (w.kind IN ('train_lora', 'train_full') AND w.loss_chunks = $22::bigint))
)
