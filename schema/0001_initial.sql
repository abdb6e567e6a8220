-- 0001: the ingest spine. Agents upload submissions; each submission holds
-- sweeps (one workload across batch sizes) and each sweep holds points (one
-- batch size). Devices and machines are normalised out so tables can group by
-- them. Append-only: never edit this file once released; add 0002_... instead
-- (the collector refuses to start when an applied migration's text changed).
--
-- CHECK constraints repeat the collector's validation on purpose: the
-- database is the last line of defence against impossible values, whatever
-- writes to it. `x < 'Infinity'` also rejects NaN (PostgreSQL sorts NaN above
-- every other float8 value).

-- A device model (not a physical card): what the public tables group by.
CREATE TABLE devices (
  device_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  backend              text    NOT NULL CHECK (backend IN ('cpu', 'cuda', 'hip')),
  vendor               text    NOT NULL CHECK (vendor IN ('nvidia', 'amd', 'intel', 'apple', 'other')),
  name                 text    NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
  memory_total_bytes   bigint  NOT NULL CHECK (memory_total_bytes > 0),
  compute_capability   text    NOT NULL CHECK (length(compute_capability) <= 16),
  gfx_target           text    NOT NULL CHECK (length(gfx_target) <= 32),
  multiprocessor_count integer NOT NULL CHECK (multiprocessor_count >= 0),
  first_seen_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (backend <> 'cuda' OR vendor = 'nvidia'),
  CHECK (backend <> 'hip' OR vendor = 'amd'),
  UNIQUE (backend, vendor, name, memory_total_bytes, compute_capability, gfx_target,
          multiprocessor_count)
);

-- A volunteer's machine, known only by a hash of stable properties.
CREATE TABLE machines (
  machine_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  fingerprint   text NOT NULL UNIQUE CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  first_seen_at timestamptz NOT NULL DEFAULT now()
);

-- An enrolled agent installation. The bearer token itself is never stored:
-- only its SHA-256, so a database leak does not leak upload rights.
CREATE TABLE agents (
  agent_id            uuid PRIMARY KEY,
  token_sha256        text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  machine_fingerprint text NOT NULL CHECK (machine_fingerprint ~ '^[0-9a-f]{64}$'),
  agent_version       text NOT NULL CHECK (length(agent_version) BETWEEN 1 AND 128),
  enrolled_at         timestamptz NOT NULL DEFAULT now(),
  revoked_at          timestamptz,
  CHECK (revoked_at IS NULL OR revoked_at >= enrolled_at)
);

-- One upload: the unit of idempotency. `payload` keeps the exact protobuf
-- bytes (deterministic serialisation, unknown fields included) for audit and
-- re-processing; `payload_sha256` decides "same payload" for a repeated id;
-- received_at/sweep_count/point_count are the SubmitResponse, so a repeat
-- gets the identical reply. Host and driver details are per run (they change
-- with upgrades), so they live here rather than on machines/devices.
CREATE TABLE submissions (
  submission_id               uuid PRIMARY KEY,
  agent_id                    uuid   NOT NULL REFERENCES agents,
  machine_id                  bigint NOT NULL REFERENCES machines,
  device_id                   bigint NOT NULL REFERENCES devices,
  payload                     bytea  NOT NULL CHECK (octet_length(payload) > 0),
  payload_sha256              text   NOT NULL CHECK (payload_sha256 ~ '^[0-9a-f]{64}$'),
  received_at                 timestamptz NOT NULL DEFAULT now(),
  sweep_count                 integer NOT NULL CHECK (sweep_count > 0),
  point_count                 integer NOT NULL CHECK (point_count >= sweep_count),
  started_at                  timestamptz NOT NULL,
  finished_at                 timestamptz NOT NULL,
  agent_version               text NOT NULL CHECK (length(agent_version) BETWEEN 1 AND 128),
  kernel_source_hash          text NOT NULL CHECK (kernel_source_hash ~ '^[0-9a-f]{64}$'),
  suite_version               text NOT NULL CHECK (length(suite_version) BETWEEN 1 AND 64),
  suite_hash                  text NOT NULL CHECK (suite_hash ~ '^[0-9a-f]{64}$'),
  driver_version              text NOT NULL CHECK (length(driver_version) <= 64),
  runtime_version             text NOT NULL CHECK (length(runtime_version) <= 64),
  pcie_link                   text NOT NULL CHECK (length(pcie_link) <= 64),
  memory_free_at_start_bytes  bigint  NOT NULL CHECK (memory_free_at_start_bytes >= 0),
  other_processes_hold_memory boolean NOT NULL,
  memory_used_by_others_bytes bigint  NOT NULL CHECK (memory_used_by_others_bytes >= 0),
  cpu_model                   text    NOT NULL CHECK (length(cpu_model) <= 256),
  cpu_physical_cores          integer NOT NULL CHECK (cpu_physical_cores >= 0),
  cpu_logical_cores           integer NOT NULL CHECK (cpu_logical_cores >= cpu_physical_cores),
  ram_total_bytes             bigint  NOT NULL CHECK (ram_total_bytes >= 0),
  os_name                     text    NOT NULL CHECK (length(os_name) <= 256),
  os_kernel                   text    NOT NULL CHECK (length(os_kernel) <= 256),
  CHECK (finished_at >= started_at),
  CHECK (other_processes_hold_memory OR memory_used_by_others_bytes = 0)
);
CREATE INDEX submissions_device_idx ON submissions (device_id);
CREATE INDEX submissions_machine_idx ON submissions (machine_id);
CREATE INDEX submissions_agent_idx ON submissions (agent_id);
CREATE INDEX submissions_received_idx ON submissions (received_at);

-- One workload run across batch sizes, with the OOM bracket it found.
CREATE TABLE sweeps (
  submission_id         uuid    NOT NULL REFERENCES submissions ON DELETE CASCADE,
  sweep_index           integer NOT NULL CHECK (sweep_index >= 0),
  model_preset          text    NOT NULL CHECK (model_preset ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
  kind                  text    NOT NULL CHECK (kind IN ('prefill', 'decode', 'train_lora', 'train_full')),
  precision             text    NOT NULL CHECK (precision IN ('fp32', 'fp16', 'bf16')),
  prompt_tokens         integer NOT NULL CHECK (prompt_tokens >= 0),
  generated_tokens      integer NOT NULL CHECK (generated_tokens >= 0),
  sequence_tokens       integer NOT NULL CHECK (sequence_tokens >= 0),
  lora_rank             integer NOT NULL CHECK (lora_rank >= 0),
  largest_ok_batch      integer NOT NULL CHECK (largest_ok_batch >= 0),
  smallest_failed_batch integer NOT NULL CHECK (smallest_failed_batch >= 0),
  planned_max_batch     integer NOT NULL CHECK (planned_max_batch >= 0),
  PRIMARY KEY (submission_id, sweep_index),
  -- The bracket is ordered: whatever ran is smaller than what failed.
  CHECK (smallest_failed_batch = 0 OR largest_ok_batch < smallest_failed_batch),
  CHECK ((kind = 'train_lora') = (lora_rank > 0)),
  CHECK (kind NOT IN ('prefill', 'decode') OR prompt_tokens > 0),
  CHECK (kind <> 'decode' OR generated_tokens > 0),
  CHECK (kind NOT IN ('train_lora', 'train_full') OR sequence_tokens > 0)
);
-- Public tables select by workload identity, then group by device.
CREATE INDEX sweeps_workload_idx ON sweeps (model_preset, kind, precision);

-- One batch size of a sweep and what it measured. Batch sizes strictly
-- increase within a sweep, so (sweep, batch_size) is the point's identity and
-- its order.
CREATE TABLE points (
  submission_id            uuid    NOT NULL,
  sweep_index              integer NOT NULL,
  batch_size               integer NOT NULL CHECK (batch_size > 0),
  status                   text    NOT NULL CHECK (status IN ('ok', 'oom', 'error', 'skipped_wont_fit')),
  error_message            text    NOT NULL CHECK (length(error_message) <= 4096),
  repetitions              integer NOT NULL CHECK (repetitions >= 0),
  warmup_steps             integer NOT NULL CHECK (warmup_steps >= 0),
  tokens_per_second_median double precision NOT NULL
    CHECK (tokens_per_second_median >= 0 AND tokens_per_second_median < 'Infinity'),
  tokens_per_second_min    double precision NOT NULL
    CHECK (tokens_per_second_min >= 0 AND tokens_per_second_min < 'Infinity'),
  tokens_per_second_max    double precision NOT NULL
    CHECK (tokens_per_second_max >= 0 AND tokens_per_second_max < 'Infinity'),
  step_seconds_median      double precision NOT NULL
    CHECK (step_seconds_median >= 0 AND step_seconds_median < 'Infinity'),
  step_seconds_min         double precision NOT NULL
    CHECK (step_seconds_min >= 0 AND step_seconds_min < 'Infinity'),
  step_seconds_max         double precision NOT NULL
    CHECK (step_seconds_max >= 0 AND step_seconds_max < 'Infinity'),
  step_seconds_mean        double precision NOT NULL
    CHECK (step_seconds_mean >= 0 AND step_seconds_mean < 'Infinity'),
  planned_bytes            bigint  NOT NULL CHECK (planned_bytes >= 0),
  arena_peak_bytes         bigint  NOT NULL CHECK (arena_peak_bytes >= 0),
  device_delta_bytes       bigint  NOT NULL CHECK (device_delta_bytes >= 0),
  process_memory_bytes     bigint  NOT NULL CHECK (process_memory_bytes >= 0),
  sm_clock_mhz             integer NOT NULL CHECK (sm_clock_mhz >= 0),
  throttle_reasons         bigint  NOT NULL CHECK (throttle_reasons >= 0),
  reproduce_command        text    NOT NULL CHECK (length(reproduce_command) <= 4096),
  PRIMARY KEY (submission_id, sweep_index, batch_size),
  FOREIGN KEY (submission_id, sweep_index) REFERENCES sweeps ON DELETE CASCADE,
  -- Status consistency: a point that ran has timings and no error; one that
  -- did not run has no timings.
  CHECK (status <> 'ok' OR (tokens_per_second_median > 0 AND step_seconds_median > 0
                            AND repetitions > 0 AND error_message = ''
                            AND tokens_per_second_min <= tokens_per_second_median
                            AND tokens_per_second_median <= tokens_per_second_max
                            AND step_seconds_min <= step_seconds_median
                            AND step_seconds_median <= step_seconds_max)),
  CHECK (status = 'ok' OR (tokens_per_second_median = 0 AND tokens_per_second_min = 0
                           AND tokens_per_second_max = 0 AND step_seconds_median = 0
                           AND step_seconds_min = 0 AND step_seconds_max = 0
                           AND step_seconds_mean = 0)),
  CHECK (status <> 'error' OR error_message <> '')
);
-- Tables chart throughput and memory against batch size.
CREATE INDEX points_batch_idx ON points (batch_size, status);
