-- Points per device model, workload key and batch size (batch $17, or all):
-- tokens/s and arena peak over machines, one vote each. A machine counts
-- for the figures when it ran the batch, and as OOM when it ran out there.
-- Columns: 0 slug, 1-12 workload key (1-7 preset, kind, precision, prompt,
-- generated, sequence tokens, LoRA rank; 8-12 training dimensions), 13 batch,
-- 14 machines that ran it, 15 submissions, 16-20 tokens/s, 21-25 arena peak
-- bytes, 26 planned bytes, 27 machines out of memory, 28 reproduce command.
, pt AS (
  SELECT sw.*, p.batch_size, p.status, p.tokens_per_second_median AS tps, p.arena_peak_bytes AS peak,
         p.planned_bytes
  FROM sw JOIN points p ON p.submission_id = sw.submission_id AND p.sweep_index = sw.sweep_index
  WHERE ($17::bigint = 0 OR p.batch_size = $17::bigint) AND p.status IN ('ok', 'oom')
), per_machine AS (
  SELECT slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
         activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
         batch_size, machine_id,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) FILTER (WHERE status = 'ok') AS tps,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY peak) FILTER (WHERE status = 'ok') AS peak,
         min(planned_bytes) AS planned,
         bool_and(status = 'oom') AS oom,
         count(DISTINCT submission_id) AS submissions
  FROM pt
  GROUP BY slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
           activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
           batch_size, machine_id
), cells AS (
  SELECT slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
         activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
         batch_size, count(tps) AS machines, sum(submissions) AS submissions,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS tps_median, min(tps) AS tps_min, max(tps) AS tps_max,
         percentile_cont(0.25) WITHIN GROUP (ORDER BY tps) AS tps_p25,
         percentile_cont(0.75) WITHIN GROUP (ORDER BY tps) AS tps_p75,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY peak) AS peak_median, min(peak) AS peak_min,
         max(peak) AS peak_max, percentile_cont(0.25) WITHIN GROUP (ORDER BY peak) AS peak_p25,
         percentile_cont(0.75) WITHIN GROUP (ORDER BY peak) AS peak_p75,
         min(planned) AS planned, count(*) FILTER (WHERE oom) AS oom_machines
  FROM per_machine
  GROUP BY slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
           activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
           batch_size
), representative AS (
  -- The earliest visible point of the cell; its command is read from the
  -- heap for these rows only (the figures above come from a covering index).
  SELECT r.*, p.reproduce_command
  FROM (SELECT DISTINCT ON (slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens,
                            lora_rank, activation_precision, gradient_checkpointing, accumulation_steps,
                            full_finetune_accounting, loss_chunks, batch_size)
               slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
               activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting,
               loss_chunks, batch_size, submission_id, sweep_index
        FROM pt WHERE status = 'ok'
        ORDER BY slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
                 activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting,
                 loss_chunks, batch_size, data_version, submission_id, sweep_index) r
  JOIN points p ON p.submission_id = r.submission_id AND p.sweep_index = r.sweep_index
               AND p.batch_size = r.batch_size
)
SELECT c.slug, c.model_preset, c.kind, c.precision, c.prompt_tokens, c.generated_tokens, c.sequence_tokens,
       c.lora_rank, c.activation_precision, c.gradient_checkpointing, c.accumulation_steps,
       c.full_finetune_accounting, c.loss_chunks, c.batch_size, c.machines, c.submissions,
       c.tps_median, c.tps_min, c.tps_max, c.tps_p25, c.tps_p75,
       c.peak_median, c.peak_min, c.peak_max, c.peak_p25, c.peak_p75, c.planned, c.oom_machines,
       coalesce(r.reproduce_command, '')
FROM cells c
LEFT JOIN representative r USING (slug, model_preset, kind, precision, prompt_tokens, generated_tokens,
                                  sequence_tokens, lora_rank, activation_precision, gradient_checkpointing,
                                  accumulation_steps, full_finetune_accounting, loss_chunks, batch_size)
ORDER BY c.slug, c.model_preset, c.kind, c.precision, c.prompt_tokens, c.generated_tokens, c.sequence_tokens,
         c.lora_rank, c.activation_precision, c.gradient_checkpointing, c.accumulation_steps,
         c.full_finetune_accounting, c.loss_chunks, c.batch_size
