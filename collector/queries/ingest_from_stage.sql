-- Moves the staged group into the real tables at data version $1. A
-- submission id that exists already is skipped (ON CONFLICT), and only the
-- sweeps and points of submissions inserted here follow, so each submission
-- is stored whole or not at all. Foreign keys (points -> sweeps ->
-- submissions) are checked at the end of the statement.
--
-- Returns one row per staged id that is stored now: is_new for the rows
-- inserted here, otherwise the row stored before (a repeat, or another
-- agent's id), with who stored it, its payload hash and its reply figures
-- (received_at in microseconds since the epoch). Every ingest transaction
-- took the counter lock (ingest_next_version) before this statement, so all
-- earlier ones have committed and this statement's snapshot sees them.
-- The staging tables are emptied by the same statement (all parts read one
-- snapshot, so the DELETEs do not hide rows from the INSERTs): temporary
-- tables are never autovacuumed, and ON COMMIT DELETE ROWS would give them
-- new files at every commit (~15 ms here) and invalidate prepared plans.
WITH sub AS (
  INSERT INTO submissions (
    submission_id, agent_id, machine_id, device_id, payload, payload_sha256, sweep_count,
    point_count, started_at, finished_at, agent_version, kernel_source_hash, suite_version,
    suite_hash, driver_version, runtime_version, pcie_link, memory_free_at_start_bytes,
    other_processes_hold_memory, memory_used_by_others_bytes, cpu_model, cpu_physical_cores,
    cpu_logical_cores, ram_total_bytes, os_name, os_kernel, data_version)
  SELECT s.submission_id, s.agent_id, m.machine_id, d.device_id, s.payload, s.payload_sha256,
         s.sweep_count, s.point_count, s.started_at, s.finished_at, s.agent_version,
         s.kernel_source_hash, s.suite_version, s.suite_hash, s.driver_version, s.runtime_version,
         s.pcie_link, s.memory_free_at_start_bytes, s.other_processes_hold_memory,
         s.memory_used_by_others_bytes, s.cpu_model, s.cpu_physical_cores, s.cpu_logical_cores,
         s.ram_total_bytes, s.os_name, s.os_kernel, $1::bigint
  FROM lb_stage_submissions s
  JOIN machines m ON m.fingerprint = s.machine_fingerprint
  JOIN devices d ON d.backend = s.backend AND d.vendor = s.vendor AND d.name = s.device_name
                AND d.memory_total_bytes = s.memory_total_bytes
                AND d.compute_capability = s.compute_capability
                AND d.gfx_target = s.gfx_target
                AND d.multiprocessor_count = s.multiprocessor_count
  ORDER BY s.submission_id
  ON CONFLICT (submission_id) DO NOTHING
  RETURNING submission_id, agent_id, payload_sha256, received_at, sweep_count, point_count),
sw AS (
  INSERT INTO sweeps (
    submission_id, sweep_index, model_preset, kind, precision, prompt_tokens, generated_tokens,
    sequence_tokens, lora_rank, largest_ok_batch, smallest_failed_batch, planned_max_batch)
  SELECT x.submission_id, x.sweep_index, x.model_preset, x.kind, x.precision, x.prompt_tokens,
         x.generated_tokens, x.sequence_tokens, x.lora_rank, x.largest_ok_batch,
         x.smallest_failed_batch, x.planned_max_batch
  FROM lb_stage_sweeps x JOIN sub USING (submission_id)),
pt AS (
  INSERT INTO points (
    submission_id, sweep_index, batch_size, status, error_message, repetitions, warmup_steps,
    tokens_per_second_median, tokens_per_second_min, tokens_per_second_max, step_seconds_median,
    step_seconds_min, step_seconds_max, step_seconds_mean, planned_bytes, arena_peak_bytes,
    device_delta_bytes, process_memory_bytes, sm_clock_mhz, throttle_reasons, reproduce_command)
  SELECT y.submission_id, y.sweep_index, y.batch_size, y.status, y.error_message, y.repetitions,
         y.warmup_steps, y.tokens_per_second_median, y.tokens_per_second_min,
         y.tokens_per_second_max, y.step_seconds_median, y.step_seconds_min, y.step_seconds_max,
         y.step_seconds_mean, y.planned_bytes, y.arena_peak_bytes, y.device_delta_bytes,
         y.process_memory_bytes, y.sm_clock_mhz, y.throttle_reasons, y.reproduce_command
  FROM lb_stage_points y JOIN sub USING (submission_id)),
clear_sweeps AS (DELETE FROM lb_stage_sweeps),
clear_points AS (DELETE FROM lb_stage_points),
clear_submissions AS (DELETE FROM lb_stage_submissions)
SELECT submission_id::text, true, agent_id::text, payload_sha256,
       (extract(epoch FROM received_at) * 1000000)::bigint, sweep_count, point_count
FROM sub
UNION ALL
-- LATERAL ... LIMIT 1 keeps this a primary-key probe per staged id: with
-- IN (SELECT ...) the cached generic plan may hash-join a seq scan of all
-- submissions (temporary tables have no statistics).
SELECT s.submission_id::text, false, s.agent_id::text, s.payload_sha256,
       (extract(epoch FROM s.received_at) * 1000000)::bigint, s.sweep_count, s.point_count
FROM lb_stage_submissions st
CROSS JOIN LATERAL (
  SELECT * FROM submissions x WHERE x.submission_id = st.submission_id LIMIT 1) s
