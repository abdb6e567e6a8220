-- Training dimensions (issue 13): how a training sweep ran, part of its
-- workload identity (results.proto Workload fields 8-12). The defaults are
-- what agents before suite 2027.01 ran, so every older row keeps its meaning;
-- their full fine-tunes were planned "lean" (12 bytes per parameter) and are
-- labelled so here.
ALTER TABLE sweeps
  ADD COLUMN activation_precision text NOT NULL DEFAULT 'fp32'
    CHECK (activation_precision IN ('fp32', 'fp16', 'bf16')),
  ADD COLUMN gradient_checkpointing boolean NOT NULL DEFAULT false,
  ADD COLUMN accumulation_steps integer NOT NULL DEFAULT 1
    CHECK (accumulation_steps BETWEEN 1 AND 1024),
  ADD COLUMN full_finetune_accounting text NOT NULL DEFAULT ''
    CHECK (full_finetune_accounting IN ('', 'mixed', 'lean')),
  ADD COLUMN loss_chunks integer NOT NULL DEFAULT 0
    CHECK (loss_chunks BETWEEN 0 AND 1024);

UPDATE sweeps SET full_finetune_accounting = 'lean' WHERE kind = 'train_full';

ALTER TABLE sweeps
  -- Inference workloads have no training dimensions.
  ADD CONSTRAINT sweeps_training_dimensions_only_for_training CHECK (
    kind IN ('train_lora', 'train_full')
    OR (activation_precision = 'fp32' AND NOT gradient_checkpointing AND accumulation_steps = 1
        AND loss_chunks = 0)),
  -- Exactly full fine-tunes state their accounting.
  ADD CONSTRAINT sweeps_accounting_exactly_for_full CHECK (
    (kind = 'train_full') = (full_finetune_accounting <> '')),
  -- 16-bit activations only in a run of that precision.
  ADD CONSTRAINT sweeps_activations_fp32_or_the_run_precision CHECK (
    activation_precision = 'fp32' OR activation_precision = precision);
