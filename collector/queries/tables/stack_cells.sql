-- Tokens/s at batch $17 per device model, workload key and software stack
-- (driver, runtime, agent version), one vote per machine.
-- Columns: 0 slug, 1-12 workload key (1-7 preset, kind, precision, prompt,
-- generated, sequence tokens, LoRA rank; 8-12 training dimensions),
-- 13 driver, 14 runtime, 15 agent version, 16 machines, 17 submissions,
-- 18-22 tokens/s.
, per_machine AS (
  SELECT sw.slug, sw.model_preset, sw.kind, sw.precision, sw.prompt_tokens, sw.generated_tokens,
         sw.sequence_tokens, sw.lora_rank, sw.activation_precision, sw.gradient_checkpointing,
         sw.accumulation_steps, sw.full_finetune_accounting, sw.loss_chunks,
         sw.driver_version, sw.runtime_version, sw.agent_version, sw.machine_id,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY p.tokens_per_second_median) AS tps,
         count(DISTINCT sw.submission_id) AS submissions
  FROM sw JOIN points p ON p.submission_id = sw.submission_id AND p.sweep_index = sw.sweep_index
  WHERE p.batch_size = $17::bigint AND p.status = 'ok'
  GROUP BY sw.slug, sw.model_preset, sw.kind, sw.precision, sw.prompt_tokens, sw.generated_tokens,
           sw.sequence_tokens, sw.lora_rank, sw.activation_precision, sw.gradient_checkpointing,
           sw.accumulation_steps, sw.full_finetune_accounting, sw.loss_chunks,
           sw.driver_version, sw.runtime_version, sw.agent_version, sw.machine_id
)
SELECT slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
       activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
       driver_version, runtime_version, agent_version, count(*), sum(submissions),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY tps), min(tps), max(tps),
       percentile_cont(0.25) WITHIN GROUP (ORDER BY tps), percentile_cont(0.75) WITHIN GROUP (ORDER BY tps)
FROM per_machine
GROUP BY slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
         activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
         driver_version, runtime_version, agent_version
ORDER BY slug, model_preset, kind, precision, prompt_tokens, generated_tokens, sequence_tokens, lora_rank,
         activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, loss_chunks,
         driver_version, runtime_version, agent_version
