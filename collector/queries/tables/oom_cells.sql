-- OOM thresholds: one row per device model and workload key. One machine,
-- one vote: each machine's median first, then statistics over machines.
-- Columns: 0 slug, 1-12 workload key (1-7 preset, kind, precision, prompt,
-- generated, sequence tokens, LoRA rank; 8-12 training dimensions:
-- activation precision, checkpointing, accumulation steps, full fine-tune
-- accounting, loss chunks), 13 machines, 14 submissions,
-- 15-19 largest ok batch (median, min, max, p25, p75), 20-24 smallest failed
-- batch (NULL when no machine found one), 25 planned max batch,
-- 26-30 arena peak at batch 1, 31 planned bytes at batch 1, 32 reproduce command.
, per_machine AS (
  SELECT slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
         activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
         machine_id,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY largest_ok_batch) AS ok,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY smallest_failed_batch)
           FILTER (WHERE smallest_failed_batch > 0) AS failed,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY planned_max_batch) AS planned,
         count(DISTINCT submission_id) AS submissions
  FROM sw
  GROUP BY slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
           activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
           machine_id
), cells AS (
  SELECT slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
         activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
         count(*) AS machines, sum(submissions) AS submissions,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY ok) AS ok_median, min(ok) AS ok_min, max(ok) AS ok_max,
         percentile_cont(0.25) WITHIN GROUP (ORDER BY ok) AS ok_p25,
         percentile_cont(0.75) WITHIN GROUP (ORDER BY ok) AS ok_p75,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY failed) AS failed_median, min(failed) AS failed_min,
         max(failed) AS failed_max, percentile_cont(0.25) WITHIN GROUP (ORDER BY failed) AS failed_p25,
         percentile_cont(0.75) WITHIN GROUP (ORDER BY failed) AS failed_p75,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY planned) AS planned
  FROM per_machine
  GROUP BY slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
           activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks
), batch1_machine AS (
  SELECT sw.slug, sw.model_preset, sw.kind, sw.precision, sw.prompt_tokens, sw.generated_tokens,
         sw.sequence_tokens, sw.lora_rank, sw.activation_precision, sw.gradient_checkpointing,
         sw.accumulation_steps, sw.full_finetune_accounting, sw.loss_chunks, sw.machine_id,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY p.arena_peak_bytes) AS peak, min(p.planned_bytes) AS planned
  FROM sw JOIN points p ON p.submission_id = sw.submission_id AND p.sweep_index = sw.sweep_index
  WHERE p.batch_size = 1 AND p.status = 'ok'
  GROUP BY sw.slug, sw.model_preset, sw.kind, sw.precision, sw.prompt_tokens, sw.generated_tokens,
           sw.sequence_tokens, sw.lora_rank, sw.activation_precision, sw.gradient_checkpointing,
           sw.accumulation_steps, sw.full_finetune_accounting, sw.loss_chunks, sw.machine_id
), batch1 AS (
  SELECT slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
         activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY peak) AS peak_median, min(peak) AS peak_min,
         max(peak) AS peak_max, percentile_cont(0.25) WITHIN GROUP (ORDER BY peak) AS peak_p25,
         percentile_cont(0.75) WITHIN GROUP (ORDER BY peak) AS peak_p75, min(planned) AS planned
  FROM batch1_machine
  GROUP BY slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
           activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks
), representative AS (
  -- The earliest visible point at its sweep's largest ok batch: stable
  -- across later versions unless it is itself moderated.
  SELECT r.*, p.reproduce_command
  FROM (SELECT DISTINCT ON (slug, model_preset, kind, precision, prompt_tokens, generated_tokens,
                            sequence_tokens, lora_rank, activation_precision, gradient_checkpointing,
                            accumulation_steps, full_finetune_accounting, loss_chunks)
               slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
               activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting,
               loss_chunks, submission_id, sweep_index, largest_ok_batch
        FROM sw WHERE largest_ok_batch > 0
        ORDER BY slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
                 activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting,
                 loss_chunks, data_version, submission_id, sweep_index) r
  JOIN points p ON p.submission_id = r.submission_id AND p.sweep_index = r.sweep_index
               AND p.batch_size = r.largest_ok_batch
)
SELECT c.slug, c.model_preset, c.kind, c.precision, c.prompt_tokens, c.generated_tokens, c.sequence_tokens,
       c.lora_rank, c.activation_precision, c.gradient_checkpointing, c.accumulation_steps,
       c.full_finetune_accounting, c.loss_chunks, c.machines, c.submissions,
       c.ok_median, c.ok_min, c.ok_max, c.ok_p25, c.ok_p75,
       c.failed_median, c.failed_min, c.failed_max, c.failed_p25, c.failed_p75, c.planned,
       b.peak_median, b.peak_min, b.peak_max, b.peak_p25, b.peak_p75, coalesce(b.planned, 0),
       coalesce(r.reproduce_command, '')
FROM cells c
LEFT JOIN batch1 b USING (slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens,
                          lora_rank, activation_precision, gradient_checkpointing, accumulation_steps,
                          full_finetune_accounting, loss_chunks)
LEFT JOIN representative r USING (slug, model_preset, kind, precision, prompt_tokens, generated_tokens,
                                  sequence_tokens, lora_rank, activation_precision, gradient_checkpointing,
                                  accumulation_steps, full_finetune_accounting, loss_chunks)
ORDER BY c.slug, c.model_preset, c.kind, c.precision, c.prompt_tokens, c.generated_tokens, c.sequence_tokens,
         c.lora_rank, c.activation_precision, c.gradient_checkpointing, c.accumulation_steps,
         c.full_finetune_accounting, c.loss_chunks
