-- Where submission $2 stands at version $1: for each of its ok points, its
-- tokens/s against the machine medians of the same device model, workload
-- key and batch size (its own machine included, one vote each).
-- Columns: 0-11 workload key (0-6 preset, kind, precision, prompt,
-- generated, sequence tokens, LoRA rank; 7-11 training dimensions), 12 batch,
-- 13 its tokens/s, 14 machines, 15 machines slower, 16 machines equal.
-- No rows when it is not visible.
WITH dm AS MATERIALIZED (SELECT * FROM lb_device_model_of($1::bigint)),  -- once per device, not per row
vis AS (SELECT s.submission_id, s.machine_id, dm.slug
        FROM lb_visible_submissions($1::bigint) s JOIN dm ON dm.device_id = s.device_id),
mine AS (
  SELECT w.model_preset, w.kind, w.precision, w.prompt_tokens, w.generated_tokens, w.sequence_tokens,
         w.lora_rank, w.activation_precision, w.gradient_checkpointing, w.accumulation_steps,
         w.full_finetune_accounting, w.loss_chunks, p.batch_size, p.tokens_per_second_median AS tps, v.slug
  FROM vis v
  JOIN sweeps w ON w.submission_id = v.submission_id
  JOIN points p ON p.submission_id = w.submission_id AND p.sweep_index = w.sweep_index
  WHERE v.submission_id = $2::uuid AND p.status = 'ok'
), peers AS (
  SELECT w.model_preset, w.kind, w.precision, w.prompt_tokens, w.generated_tokens, w.sequence_tokens,
         w.lora_rank, w.activation_precision, w.gradient_checkpointing, w.accumulation_steps,
         w.full_finetune_accounting, w.loss_chunks, p.batch_size, v.machine_id,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY p.tokens_per_second_median) AS tps
  FROM vis v
  JOIN sweeps w ON w.submission_id = v.submission_id
  JOIN points p ON p.submission_id = w.submission_id AND p.sweep_index = w.sweep_index
  WHERE p.status = 'ok' AND v.slug = (SELECT min(slug) FROM mine)
    AND (w.model_preset, w.kind, w.precision) IN (SELECT model_preset, kind, precision FROM mine)
  GROUP BY w.model_preset, w.kind, w.precision, w.prompt_tokens, w.generated_tokens, w.sequence_tokens,
           w.lora_rank, w.activation_precision, w.gradient_checkpointing, w.accumulation_steps,
           w.full_finetune_accounting, w.loss_chunks, p.batch_size, v.machine_id
)
SELECT m.model_preset, m.kind, m.precision, m.prompt_tokens, m.generated_tokens, m.sequence_tokens, m.lora_rank,
       m.activation_precision, m.gradient_checkpointing, m.accumulation_steps, m.full_finetune_accounting,
       m.loss_chunks, m.batch_size, m.tps, count(*), count(*) FILTER (WHERE p.tps < m.tps),
       count(*) FILTER (WHERE p.tps = m.tps)
FROM mine m
JOIN peers p USING (model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
                    activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting,
                    loss_chunks, batch_size)
GROUP BY m.model_preset, m.kind, m.precision, m.prompt_tokens, m.generated_tokens, m.sequence_tokens,
         m.lora_rank, m.activation_precision, m.gradient_checkpointing, m.accumulation_steps,
         m.full_finetune_accounting, m.loss_chunks, m.batch_size, m.tps
ORDER BY m.model_preset, m.kind, m.precision, m.prompt_tokens, m.generated_tokens, m.sequence_tokens,
         m.lora_rank, m.activation_precision, m.gradient_checkpointing, m.accumulation_steps,
         m.full_finetune_accounting, m.loss_chunks, m.batch_size, m.tps
