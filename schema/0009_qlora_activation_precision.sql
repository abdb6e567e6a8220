-- 0009: QLoRA with 16-bit activations (issue 13). A run over quantized
-- weights (q8_0, q4_0, nf4) computes in bf16 (results.proto), so its
-- activations may be bf16, as bitsandbytes QLoRA runs them; 0007 allowed
-- 16-bit activations only when they equal the sweep's precision, which a
-- quantized precision never does. Rows stored before keep their meaning.
ALTER TABLE sweeps DROP CONSTRAINT sweeps_activations_fp32_or_the_run_precision;
ALTER TABLE sweeps ADD CONSTRAINT sweeps_activations_fp32_or_the_run_precision CHECK (
  activation_precision = 'fp32' OR activation_precision = precision
  OR (activation_precision = 'bf16' AND precision IN ('q8_0', 'q4_0', 'nf4')));
