-- 0008: quantized weights (issue 15). A sweep's precision may now name a
-- quantized weight format: q8_0 and q4_0 (blocks of 32 with an f16 scale)
-- and nf4 (QLoRA's NormalFloat with double-quantized scales). Embeddings,
-- norms, KV cache and activations of such a run are bf16 (results.proto).
-- Rows stored before keep their meaning: the old three values stay valid.
ALTER TABLE sweeps DROP CONSTRAINT sweeps_precision_check;
ALTER TABLE sweeps ADD CONSTRAINT sweeps_precision_check
  CHECK (precision IN ('fp32', 'fp16', 'bf16', 'q8_0', 'q4_0', 'nf4'));

-- Quantized weights are frozen: no full fine-tune over them (the collector's
-- validation says so first; this keeps the table honest on its own).
ALTER TABLE sweeps ADD CONSTRAINT sweeps_quantized_not_full_check
  CHECK (kind <> 'train_full' OR precision IN ('fp32', 'fp16', 'bf16'));
