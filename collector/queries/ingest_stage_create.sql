-- Per-connection staging for the submission writer (run once per new
-- connection, not prepared). Submissions of one group are COPYed here, then
-- moved into the real tables by set-based statements in the same
-- transaction. Temporary (no WAL, invisible to other sessions); emptied by
-- ingest_from_stage.sql in the statement that reads them (a rollback empties them too).
-- No constraints: the real tables check.
-- Column order is the row encoders' order (collector/src/rows.cc).
CREATE TEMPORARY TABLE IF NOT EXISTS lb_stage_submissions (
  submission_id               uuid,
  agent_id                    uuid,
  machine_fingerprint         text,
  backend                     text,
  vendor                      text,
  device_name                 text,
  memory_total_bytes          bigint,
  compute_capability          text,
  gfx_target                  text,
  multiprocessor_count        integer,
  payload                     bytea,
  payload_sha256              text,
  sweep_count                 integer,
  point_count                 integer,
  started_at                  timestamptz,
  finished_at                 timestamptz,
  agent_version               text,
  kernel_source_hash          text,
  suite_version               text,
  suite_hash                  text,
  driver_version              text,
  runtime_version             text,
  pcie_link                   text,
  memory_free_at_start_bytes  bigint,
  other_processes_hold_memory boolean,
  memory_used_by_others_bytes bigint,
  cpu_model                   text,
  cpu_physical_cores          integer,
  cpu_logical_cores           integer,
  ram_total_bytes             bigint,
  os_name                     text,
  os_kernel                   text
) ON COMMIT PRESERVE ROWS;

CREATE TEMPORARY TABLE IF NOT EXISTS lb_stage_sweeps (
  submission_id         uuid,
  sweep_index           integer,
  model_preset          text,
  kind                  text,
  precision             text,
  prompt_tokens         integer,
  generated_tokens      integer,
  sequence_tokens       integer,
  lora_rank             integer,
  largest_ok_batch      integer,
  smallest_failed_batch integer,
  planned_max_batch     integer
) ON COMMIT PRESERVE ROWS;

CREATE TEMPORARY TABLE IF NOT EXISTS lb_stage_points (
  submission_id            uuid,
  sweep_index              integer,
  batch_size               integer,
  status                   text,
  error_message            text,
  repetitions              integer,
  warmup_steps             integer,
  tokens_per_second_median double precision,
  tokens_per_second_min    double precision,
  tokens_per_second_max    double precision,
  step_seconds_median      double precision,
  step_seconds_min         double precision,
  step_seconds_max         double precision,
  step_seconds_mean        double precision,
  planned_bytes            bigint,
  arena_peak_bytes         bigint,
  device_delta_bytes       bigint,
  process_memory_bytes     bigint,
  sm_clock_mhz             integer,
  throttle_reasons         bigint,
  reproduce_command        text
) ON COMMIT PRESERVE ROWS;
