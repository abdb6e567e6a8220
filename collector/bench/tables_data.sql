-- Fills a migrated, empty database with realistic table data for the tables
-- benchmark, deterministically (ids and figures derive from row numbers).
-- Size: set lb.submissions first (SELECT set_config('lb.submissions', 'N', false));
-- each submission holds 24 sweeps (6 presets x 4 kinds) of 7 batch sizes,
-- so 5953 submissions give 1,000,104 points. Machines: one per two
-- submissions; device models: the catalogue's GPUs under two name variants
-- each plus 250 synthetic models; 2% of submissions moderated later.

INSERT INTO agents (agent_id, token_sha256, machine_fingerprint, agent_version)
VALUES ('00000000-0000-4000-8000-000000000001', repeat('a', 64), repeat('b', 64), 'bench');

-- Devices: catalogued GPUs as two drivers spell them, then synthetic ones.
INSERT INTO devices (backend, vendor, name, memory_total_bytes, compute_capability, gfx_target,
                     multiprocessor_count)
SELECT c.backend, c.vendor, v.prefix || c.name, c.memory_bytes,
       CASE WHEN c.backend = 'cuda' THEN '8.9' ELSE '' END,
       CASE WHEN c.backend = 'hip' THEN 'gfx90a' ELSE '' END, 100
FROM device_models c
CROSS JOIN (VALUES (''), ('NVIDIA ')) AS v(prefix)
WHERE c.backend <> 'cpu' AND (c.vendor = 'nvidia' OR v.prefix = '');
INSERT INTO devices (backend, vendor, name, memory_total_bytes, compute_capability, gfx_target,
                     multiprocessor_count)
SELECT 'cuda', 'nvidia', 'NVIDIA Bench GPU ' || g, (8 + (g % 24) * 8)::bigint * 1073741824, '9.0', '', 132
FROM generate_series(1, 250) g;

INSERT INTO machines (fingerprint)
SELECT encode(sha256(('machine ' || g)::bytea), 'hex')
FROM generate_series(1, greatest(1, current_setting('lb.submissions')::int / 2)) g;

INSERT INTO data_versions (version, cause)
SELECT g, 'ingest' FROM generate_series(1, current_setting('lb.submissions')::int) g;

-- Submissions: machine m always has the same device; drivers and agent
-- versions vary so the stack-delta table has something to compare.
WITH n AS (SELECT count(*) AS devices FROM devices),
     m AS (SELECT count(*) AS machines FROM machines)
INSERT INTO submissions (submission_id, agent_id, machine_id, device_id, payload, payload_sha256, received_at,
                         sweep_count, point_count, started_at, finished_at, agent_version, kernel_source_hash,
                         suite_version, suite_hash, driver_version, runtime_version, pcie_link,
                         memory_free_at_start_bytes, other_processes_hold_memory, memory_used_by_others_bytes,
                         cpu_model, cpu_physical_cores, cpu_logical_cores, ram_total_bytes, os_name, os_kernel,
                         data_version)
SELECT md5('submission ' || g)::uuid, '00000000-0000-4000-8000-000000000001',
       1 + (g % m.machines), 1 + ((g % m.machines) % n.devices), '\x0a00'::bytea, repeat('c', 64),
       timestamptz '2026-01-01' + g * interval '1 minute', 24, 168,
       timestamptz '2026-01-01' + g * interval '1 minute', timestamptz '2026-01-01' + g * interval '1 minute',
       (ARRAY['v0.1.0', 'v0.2.0'])[1 + g % 2], repeat('d', 64), '2026.11-gpu', repeat('e', 64),
       (ARRAY['550.54.14', '560.35.03', '580.65.06'])[1 + g % 3], '13.0', 'gen4 x16',
       0, false, 0, 'AMD Ryzen 9 7950X 16-Core Processor', 16, 32, 68719476736, 'Debian GNU/Linux 12', '6.1.0',
       g
FROM generate_series(1, current_setting('lb.submissions')::int) g, n, m;

-- Sweeps: 6 presets x 4 kinds; the OOM bracket follows device memory over
-- preset size, with a little per-machine variation.
INSERT INTO sweeps (submission_id, sweep_index, model_preset, kind, precision, prompt_tokens, generated_tokens,
                    sequence_tokens, lora_rank, largest_ok_batch, smallest_failed_batch, planned_max_batch)
SELECT s.submission_id, p.i * 4 + k.i, p.name, k.kind, 'bf16',
       CASE WHEN k.kind IN ('prefill', 'decode') THEN 512 ELSE 0 END,
       CASE WHEN k.kind = 'decode' THEN 64 ELSE 0 END,
       CASE WHEN k.kind IN ('train_lora', 'train_full') THEN 512 ELSE 0 END,
       CASE WHEN k.kind = 'train_lora' THEN 16 ELSE 0 END,
       b.ok, CASE WHEN b.ok < 64 THEN (SELECT min(x) FROM unnest(ARRAY[1, 2, 4, 8, 16, 32, 64]) x WHERE x > b.ok) ELSE 0 END,
       b.ok
FROM submissions s
JOIN devices d ON d.device_id = s.device_id
CROSS JOIN (VALUES (0, 'qwen2.5-0.5b', 1), (1, 'llama-3.2-1b', 2), (2, 'llama-3.2-3b', 6), (3, 'llama-3.1-8b', 16),
                   (4, 'qwen2.5-7b', 15), (5, 'mistral-7b-v0.3', 14)) AS p(i, name, gb)
CROSS JOIN (VALUES (0, 'prefill', 1), (1, 'decode', 1), (2, 'train_lora', 2), (3, 'train_full', 4)) AS k(i, kind, factor)
CROSS JOIN LATERAL (
  SELECT (ARRAY[0, 1, 2, 4, 8, 16, 32, 64])[1 + least(7, greatest(0,
           floor(log(2, greatest(1, d.memory_total_bytes / 1073741824.0 / (p.gb * k.factor))))::int
           + 1 + (s.machine_id % 2)::int))] AS ok
) b;

-- Points: batches 1..64; ok up to the bracket, then one OOM, then skipped.
INSERT INTO points (submission_id, sweep_index, batch_size, status, error_message, repetitions, warmup_steps,
                    tokens_per_second_median, tokens_per_second_min, tokens_per_second_max, step_seconds_median,
                    step_seconds_min, step_seconds_max, step_seconds_mean, planned_bytes, arena_peak_bytes,
                    device_delta_bytes, process_memory_bytes, sm_clock_mhz, throttle_reasons, reproduce_command)
SELECT w.submission_id, w.sweep_index, x.b,
       CASE WHEN x.b <= w.largest_ok_batch THEN 'ok' WHEN x.b = w.smallest_failed_batch THEN 'oom'
            ELSE 'skipped_wont_fit' END,
       '', CASE WHEN x.b <= w.largest_ok_batch THEN 3 ELSE 0 END, 1,
       CASE WHEN x.b <= w.largest_ok_batch THEN t.tps ELSE 0 END,
       CASE WHEN x.b <= w.largest_ok_batch THEN t.tps * 0.97 ELSE 0 END,
       CASE WHEN x.b <= w.largest_ok_batch THEN t.tps * 1.02 ELSE 0 END,
       CASE WHEN x.b <= w.largest_ok_batch THEN x.b / t.tps ELSE 0 END,
       CASE WHEN x.b <= w.largest_ok_batch THEN x.b / t.tps * 0.98 ELSE 0 END,
       CASE WHEN x.b <= w.largest_ok_batch THEN x.b / t.tps * 1.03 ELSE 0 END,
       CASE WHEN x.b <= w.largest_ok_batch THEN x.b / t.tps * 1.01 ELSE 0 END,
       (1 + x.b) * 268435456::bigint, (1 + x.b) * 268435456::bigint,
       CASE WHEN x.b <= w.largest_ok_batch THEN (1 + x.b) * 268435456::bigint + 419430400 END,
       CASE WHEN x.b <= w.largest_ok_batch THEN (1 + x.b) * 268435456::bigint + 524288000 END,
       2520, 0,
       'localbench-agent run --device cuda --presets ' || w.model_preset || ' --batches ' || x.b
FROM sweeps w
CROSS JOIN unnest(ARRAY[1, 2, 4, 8, 16, 32, 64]) AS x(b)
CROSS JOIN LATERAL (
  SELECT 100.0 * x.b / (1 + 0.02 * x.b) * (0.9 + ((hashtext(w.submission_id::text) & 255) / 1275.0))
         * (1 + w.sweep_index % 4) AS tps
) t;

-- 2% of submissions moderated afterwards, each at its own version.
WITH picked AS (
  SELECT submission_id, row_number() OVER (ORDER BY submission_id) AS r
  FROM submissions WHERE hashtext(submission_id::text) % 50 = 0
), versions AS (
  INSERT INTO data_versions (version, cause)
  SELECT current_setting('lb.submissions')::int + r, 'moderation' FROM picked RETURNING version
)
INSERT INTO moderation_events (submission_id, action, reason, actor, data_version)
SELECT submission_id, CASE WHEN r % 3 = 0 THEN 'retract' ELSE 'flag' END, 'benchmark', 'bench',
       current_setting('lb.submissions')::int + r
FROM picked;

UPDATE data_version_counter SET version = (SELECT max(version) FROM data_versions);
ANALYZE;
