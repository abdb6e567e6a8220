-- 0003: the read side. Moderation events (what hides a submission, and from
-- which data version), the device-model catalogue with its aliases, and the
-- SQL functions every table reads through, so "visible at version V" and
-- "which device model" are defined once.

-- Catalogue edits are public data too (a page lists catalogued models), so
-- they may advance the data version with their own cause.
ALTER TABLE data_versions DROP CONSTRAINT data_versions_cause_check;
ALTER TABLE data_versions ADD CONSTRAINT data_versions_cause_check
  CHECK (cause IN ('ingest', 'moderation', 'migration', 'catalogue'));

-- Append-only editorial actions. A submission is hidden at version V when
-- its latest event with data_version <= V is a flag or a retraction; a
-- restore makes it visible again. Nothing is ever updated or deleted, so any
-- past version can be rebuilt.
CREATE TABLE moderation_events (
  event_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  submission_id uuid   NOT NULL REFERENCES submissions,
  action        text   NOT NULL CHECK (action IN ('flag', 'retract', 'restore')),
  reason        text   NOT NULL CHECK (length(reason) BETWEEN 1 AND 1024),
  actor         text   NOT NULL CHECK (length(actor) BETWEEN 1 AND 128),
  data_version  bigint NOT NULL REFERENCES data_versions,
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_events_lookup_idx
  ON moderation_events (submission_id, data_version DESC, event_id DESC);

CREATE FUNCTION lb_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER moderation_events_append_only BEFORE UPDATE OR DELETE ON moderation_events
  FOR EACH ROW EXECUTE FUNCTION lb_refuse_change();

-- Submissions visible at version v: stored at or before v, and not hidden by
-- their latest moderation event at or before v. Inlined by the planner.
CREATE FUNCTION lb_visible_submissions(v bigint) RETURNS SETOF submissions
LANGUAGE sql STABLE AS $$
  SELECT s.* FROM submissions s
  WHERE s.data_version <= v
    AND NOT EXISTS (
      SELECT 1 FROM (SELECT DISTINCT ON (m.submission_id) m.submission_id, m.action
                     FROM moderation_events m WHERE m.data_version <= v
                     ORDER BY m.submission_id, m.data_version DESC, m.event_id DESC) latest
      WHERE latest.submission_id = s.submission_id AND latest.action <> 'restore')
$$;

-- The catalogue of device models: figures from public sources, versioned so
-- an edit (a new row for a slug with a higher data_version) never changes
-- what was served at an earlier version. data_version 0: from a migration,
-- visible at every version. Extend with INSERTs, no release needed.
CREATE TABLE device_models (
  slug         text   NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,79}$'),
  data_version bigint NOT NULL DEFAULT 0 CHECK (data_version >= 0),
  vendor       text   NOT NULL CHECK (vendor IN ('nvidia', 'amd', 'intel', 'apple', 'other')),
  backend      text   NOT NULL CHECK (backend IN ('cpu', 'cuda', 'hip')),
  name         text   NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
  -- Device memory as the runtime reports it (CPU models: 0, the host decides).
  memory_bytes bigint NOT NULL CHECK (memory_bytes >= 0),
  -- Peak figures; 0 means not published / not known (never guessed).
  memory_bandwidth_bytes_per_second double precision NOT NULL
    CHECK (memory_bandwidth_bytes_per_second >= 0 AND memory_bandwidth_bytes_per_second < 'Infinity'),
  bf16_tflops  double precision NOT NULL CHECK (bf16_tflops >= 0 AND bf16_tflops < 'Infinity'),
  fp32_tflops  double precision NOT NULL CHECK (fp32_tflops >= 0 AND fp32_tflops < 'Infinity'),
  source       text   NOT NULL CHECK (length(source) BETWEEN 1 AND 1024),
  PRIMARY KEY (slug, data_version)
);

-- Name variants drivers report, mapped to a catalogued slug. name_key is the
-- normalised name (lb_device_name_key); the memory range (GiB, rounded)
-- separates variants that share a name (A100 40 GB and 80 GB).
CREATE TABLE device_model_aliases (
  name_key       text    NOT NULL CHECK (length(name_key) BETWEEN 1 AND 256),
  memory_gib_min integer NOT NULL DEFAULT 0 CHECK (memory_gib_min >= 0),
  memory_gib_max integer NOT NULL DEFAULT 1000000 CHECK (memory_gib_max >= memory_gib_min),
  slug           text    NOT NULL,
  data_version   bigint  NOT NULL DEFAULT 0 CHECK (data_version >= 0),
  PRIMARY KEY (name_key, memory_gib_min, data_version)
);

-- The catalogue as it stood at version v: the newest row of each slug.
CREATE FUNCTION lb_catalogue_at(v bigint) RETURNS SETOF device_models
LANGUAGE sql STABLE AS $$
  SELECT DISTINCT ON (slug) * FROM device_models WHERE data_version <= v
  ORDER BY slug, data_version DESC
$$;

-- The normalised form of a reported device name: lower case, vendor and
-- marketing words dropped, runs of other characters turned into '-'.
-- GPUs: "NVIDIA GeForce RTX 4090" -> "rtx-4090"; "AMD Instinct MI300X" ->
-- "mi300x"; memory words ("80GB", "HBM3") are dropped because the slug adds
-- the memory itself. CPUs keep their maker: "AMD EPYC 9654 96-Core Processor"
-- -> "amd-epyc-9654", "13th Gen Intel(R) Core(TM) i9-13900K" ->
-- "intel-core-i9-13900k".
CREATE FUNCTION lb_device_name_key(backend text, name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT trim(BOTH '-' FROM regexp_replace(
    CASE WHEN backend = 'cpu' THEN
      regexp_replace(regexp_replace(lower(name), '@.*$', ''),
        '\((r|tm)\)|\m\d+(st|nd|rd|th) gen\M|\m\d+-core\M|\mprocessor\M|\mcpu\M', ' ', 'g')
    ELSE
      regexp_replace(lower(name),
        '\m(nvidia|geforce|amd|ati|radeon|instinct|tesla)\M|\m\d+ ?gb\M|\mhbm\d*e?\M', ' ', 'g')
    END, '[^a-z0-9]+', '-', 'g'))
$$;

-- The slug of a reported device when no alias names one: CPUs "cpu-<key>"
-- (the memory is the host's, not the model's), GPUs "<key>-<GiB>gb" with the
-- memory rounded to whole GiB ("rtx-4090-24gb").
CREATE FUNCTION lb_generic_slug(backend text, name text, memory_bytes bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN backend = 'cpu' THEN 'cpu-' || lb_device_name_key(backend, name)
         ELSE lb_device_name_key(backend, name) || '-' || round(memory_bytes / 1073741824.0)::bigint || 'gb'
         END
$$;

-- Computed once per device when ingest inserts it (generated columns: the
-- ingest statements are unchanged), so tables never run the regular
-- expressions per request.
ALTER TABLE devices
  ADD COLUMN name_key text GENERATED ALWAYS AS (lb_device_name_key(backend, name)) STORED,
  ADD COLUMN memory_gib integer GENERATED ALWAYS AS (round(memory_total_bytes / 1073741824.0)::integer) STORED,
  ADD COLUMN generic_slug text GENERATED ALWAYS AS (lb_generic_slug(backend, name, memory_total_bytes)) STORED;

-- Every stored device with its model slug at version v (aliases first).
CREATE FUNCTION lb_device_model_of(v bigint)
RETURNS TABLE (device_id bigint, slug text)
LANGUAGE sql STABLE AS $$
  SELECT d.device_id,
         coalesce((SELECT a.slug FROM device_model_aliases a
                   WHERE a.data_version <= v AND a.name_key = d.name_key
                     AND d.memory_gib BETWEEN a.memory_gib_min AND a.memory_gib_max
                   ORDER BY a.data_version DESC, a.memory_gib_min DESC LIMIT 1),
                  d.generic_slug)
  FROM devices d
$$;

-- Tables join sweeps and points to their submission; these keep the joins
-- and the per-workload scans indexed. The points index covers the figures
-- the cells aggregate, so a table reads them by index only (no heap visit
-- per point; points of one workload are scattered across the heap).
CREATE INDEX sweeps_submission_workload_idx
  ON sweeps (model_preset, kind, precision, submission_id);
CREATE INDEX points_cells_idx ON points (submission_id, sweep_index, batch_size)
  INCLUDE (status, tokens_per_second_median, arena_peak_bytes, planned_bytes);

-- The catalogue (marketed memory in GiB, which is what drivers report give
-- or take ECC and reserved memory; bandwidth and dense peaks as published;
-- 0 where the source publishes no such figure). bf16_tflops is the dense
-- bf16 tensor/matrix peak, or fp16 where the device has no bf16 (noted).
INSERT INTO device_models (slug, vendor, backend, name, memory_bytes,
    memory_bandwidth_bytes_per_second, bf16_tflops, fp32_tflops, source) VALUES
  ('h100-sxm-80gb', 'nvidia', 'cuda', 'H100 SXM', 85899345920, 3350e9, 989.4, 67,
   'https://www.nvidia.com/en-us/data-center/h100/ (datasheet; bf16 dense = half the sparsity figure)'),
  ('h100-pcie-80gb', 'nvidia', 'cuda', 'H100 PCIe', 85899345920, 2000e9, 756, 51,
   'https://www.nvidia.com/en-us/data-center/h100/ (datasheet, PCIe column)'),
  ('h200-141gb', 'nvidia', 'cuda', 'H200 SXM', 151397597184, 4800e9, 989.4, 67,
   'https://www.nvidia.com/en-us/data-center/h200/ (datasheet, SXM column)'),
  ('a100-sxm4-80gb', 'nvidia', 'cuda', 'A100 SXM4 80GB', 85899345920, 2039e9, 312, 19.5,
   'https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf'),
  ('a100-sxm4-40gb', 'nvidia', 'cuda', 'A100 SXM4 40GB', 42949672960, 1555e9, 312, 19.5,
   'https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf'),
  ('a100-pcie-80gb', 'nvidia', 'cuda', 'A100 PCIe 80GB', 85899345920, 1935e9, 312, 19.5,
   'https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf'),
  ('a100-pcie-40gb', 'nvidia', 'cuda', 'A100 PCIe 40GB', 42949672960, 1555e9, 312, 19.5,
   'https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf'),
  ('l40s-48gb', 'nvidia', 'cuda', 'L40S', 51539607552, 864e9, 362.05, 91.6,
   'https://www.nvidia.com/en-us/data-center/l40s/ (datasheet; bf16 dense)'),
  ('l40-48gb', 'nvidia', 'cuda', 'L40', 51539607552, 864e9, 181.05, 90.5,
   'https://www.nvidia.com/en-us/data-center/l40/ (datasheet; bf16 dense)'),
  ('l4-24gb', 'nvidia', 'cuda', 'L4', 25769803776, 300e9, 121, 30.3,
   'https://www.nvidia.com/en-us/data-center/l4/ (datasheet; bf16 dense)'),
  ('a10-24gb', 'nvidia', 'cuda', 'A10', 25769803776, 600e9, 125, 31.2,
   'https://www.nvidia.com/en-us/data-center/products/a10-gpu/ (datasheet; bf16 dense)'),
  ('v100-sxm2-32gb', 'nvidia', 'cuda', 'V100 SXM2 32GB', 34359738368, 900e9, 125, 15.7,
   'https://images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf (fp16 tensor; no bf16)'),
  ('t4-16gb', 'nvidia', 'cuda', 'T4', 17179869184, 320e9, 65, 8.1,
   'https://www.nvidia.com/en-us/data-center/tesla-t4/ (datasheet; fp16 tensor, no bf16)'),
  ('rtx-a6000-48gb', 'nvidia', 'cuda', 'RTX A6000', 51539607552, 768e9, 0, 38.7,
   'https://www.nvidia.com/content/dam/en-zz/Solutions/design-visualization/quadro-product-literature/proviz-print-nvidia-rtx-a6000-datasheet-us-nvidia-1454980-r9-web%20(1).pdf'),
  ('rtx-6000-ada-generation-48gb', 'nvidia', 'cuda', 'RTX 6000 Ada Generation', 51539607552, 960e9, 0, 91.1,
   'https://www.nvidia.com/en-us/design-visualization/rtx-6000/ (datasheet)'),
  ('rtx-5090-32gb', 'nvidia', 'cuda', 'GeForce RTX 5090', 34359738368, 1792e9, 0, 104.8,
   'https://www.nvidia.com/en-us/geforce/graphics-cards/50-series/rtx-5090/ and the NVIDIA RTX Blackwell GPU architecture whitepaper'),
  ('rtx-5080-16gb', 'nvidia', 'cuda', 'GeForce RTX 5080', 17179869184, 960e9, 0, 56.3,
   'https://www.nvidia.com/en-us/geforce/graphics-cards/50-series/rtx-5080/ and the NVIDIA RTX Blackwell GPU architecture whitepaper'),
  ('rtx-4090-24gb', 'nvidia', 'cuda', 'GeForce RTX 4090', 25769803776, 1008e9, 165.2, 82.6,
   'https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf (fp16/bf16 tensor with fp32 accumulate, dense)'),
  ('rtx-4080-16gb', 'nvidia', 'cuda', 'GeForce RTX 4080', 17179869184, 716.8e9, 97.5, 48.7,
   'https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf (fp16/bf16 tensor with fp32 accumulate, dense)'),
  ('rtx-4070-ti-12gb', 'nvidia', 'cuda', 'GeForce RTX 4070 Ti', 12884901888, 504e9, 80.2, 40.1,
   'https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf (fp16/bf16 tensor with fp32 accumulate, dense)'),
  ('rtx-4060-ti-16gb', 'nvidia', 'cuda', 'GeForce RTX 4060 Ti 16GB', 17179869184, 288e9, 0, 22.1,
   'https://www.nvidia.com/en-us/geforce/graphics-cards/40-series/rtx-4060-4060ti/'),
  ('rtx-3090-ti-24gb', 'nvidia', 'cuda', 'GeForce RTX 3090 Ti', 25769803776, 1008e9, 0, 40,
   'https://www.nvidia.com/en-us/geforce/graphics-cards/30-series/rtx-3090-3090ti/'),
  ('rtx-3090-24gb', 'nvidia', 'cuda', 'GeForce RTX 3090', 25769803776, 936e9, 71, 35.6,
   'https://www.nvidia.com/content/PDF/nvidia-ampere-ga-102-gpu-architecture-whitepaper-v2.pdf (fp16/bf16 tensor with fp32 accumulate, dense)'),
  ('rtx-3080-10gb', 'nvidia', 'cuda', 'GeForce RTX 3080', 10737418240, 760e9, 59.5, 29.8,
   'https://www.nvidia.com/content/PDF/nvidia-ampere-ga-102-gpu-architecture-whitepaper-v2.pdf (fp16/bf16 tensor with fp32 accumulate, dense)'),
  ('rtx-3060-12gb', 'nvidia', 'cuda', 'GeForce RTX 3060', 12884901888, 360e9, 0, 12.7,
   'https://www.nvidia.com/en-us/geforce/graphics-cards/30-series/rtx-3060-3060ti/'),
  ('mi325x-256gb', 'amd', 'hip', 'Instinct MI325X', 274877906944, 6000e9, 1307.4, 81.7,
   'https://www.amd.com/en/products/accelerators/instinct/mi300/mi325x.html (bf16 dense; fp32 vector)'),
  ('mi300x-192gb', 'amd', 'hip', 'Instinct MI300X', 206158430208, 5300e9, 1307.4, 81.7,
   'https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html (bf16 dense; fp32 vector)'),
  ('mi250x-64gb', 'amd', 'hip', 'Instinct MI250X (one GCD)', 68719476736, 1638.4e9, 191.5, 23.95,
   'https://www.amd.com/en/products/accelerators/instinct/mi200/mi250x.html (card figures 128 GB, 3.2768 TB/s, 383 bf16, 47.9 fp32 vector, halved: the runtime sees each of its two GCDs as one device)'),
  ('mi210-64gb', 'amd', 'hip', 'Instinct MI210', 68719476736, 1638.4e9, 181, 22.6,
   'https://www.amd.com/en/products/accelerators/instinct/mi200/mi210.html (bf16; fp32 vector)'),
  ('mi100-32gb', 'amd', 'hip', 'Instinct MI100', 34359738368, 1228.8e9, 92.3, 23.1,
   'https://www.amd.com/en/products/accelerators/instinct/mi100.html (bf16; fp32 vector)'),
  ('rx-7900-xtx-24gb', 'amd', 'hip', 'Radeon RX 7900 XTX', 25769803776, 960e9, 122.8, 61.4,
   'https://www.amd.com/en/products/graphics/desktops/radeon/7000-series/amd-radeon-rx-7900xtx.html (peak half precision; single precision)'),
  ('rx-7900-xt-20gb', 'amd', 'hip', 'Radeon RX 7900 XT', 21474836480, 800e9, 0, 0,
   'https://www.amd.com/en/products/graphics/desktops/radeon/7000-series/amd-radeon-rx-7900xt.html'),
  ('rx-7800-xt-16gb', 'amd', 'hip', 'Radeon RX 7800 XT', 17179869184, 624e9, 74.6, 37.3,
   'https://www.amd.com/en/products/graphics/desktops/radeon/7000-series/amd-radeon-rx-7800-xt.html (peak half precision; single precision)'),
  ('pro-w7900-48gb', 'amd', 'hip', 'Radeon PRO W7900', 51539607552, 864e9, 122.6, 61.3,
   'https://www.amd.com/en/products/graphics/workstations/radeon-pro/w7900.html (peak half precision; single precision)'),
  ('rx-6900-xt-16gb', 'amd', 'hip', 'Radeon RX 6900 XT', 17179869184, 512e9, 46.08, 23.04,
   'https://www.amd.com/en/support/downloads/drivers.html/graphics/radeon-rx/radeon-rx-6000-series/amd-radeon-rx-6900-xt.html (peak half precision; single precision)'),
  ('rx-6800-xt-16gb', 'amd', 'hip', 'Radeon RX 6800 XT', 17179869184, 512e9, 41.47, 20.74,
   'https://www.amd.com/en/support/downloads/drivers.html/graphics/radeon-rx/radeon-rx-6000-series/amd-radeon-rx-6800-xt.html (peak half precision; single precision)'),
  ('cpu-amd-epyc-9654', 'amd', 'cpu', 'AMD EPYC 9654', 0, 460.8e9, 0, 0,
   'https://www.amd.com/en/products/processors/server/epyc/4th-generation-9004-and-8004-series/amd-epyc-9654.html (12 channels DDR5-4800)'),
  ('cpu-amd-epyc-9754', 'amd', 'cpu', 'AMD EPYC 9754', 0, 460.8e9, 0, 0,
   'https://www.amd.com/en/products/processors/server/epyc/4th-generation-9004-and-8004-series/amd-epyc-9754.html (12 channels DDR5-4800)'),
  ('cpu-amd-ryzen-9-7950x', 'amd', 'cpu', 'AMD Ryzen 9 7950X', 0, 83.2e9, 0, 0,
   'https://www.amd.com/en/products/processors/desktops/ryzen/7000-series/amd-ryzen-9-7950x.html (2 channels DDR5-5200)'),
  ('cpu-amd-ryzen-9-9950x', 'amd', 'cpu', 'AMD Ryzen 9 9950X', 0, 89.6e9, 0, 0,
   'https://www.amd.com/en/products/processors/desktops/ryzen/9000-series/amd-ryzen-9-9950x.html (2 channels DDR5-5600)'),
  ('cpu-intel-xeon-platinum-8480', 'intel', 'cpu', 'Intel Xeon Platinum 8480+', 0, 307.2e9, 0, 0,
   'https://ark.intel.com/content/www/us/en/ark/products/231746/intel-xeon-platinum-8480-processor-105m-cache-2-00-ghz.html (8 channels DDR5-4800)'),
  ('cpu-intel-core-i9-13900k', 'intel', 'cpu', 'Intel Core i9-13900K', 0, 89.6e9, 0, 0,
   'https://ark.intel.com/content/www/us/en/ark/products/230496/intel-core-i913900k-processor-36m-cache-up-to-5-80-ghz.html (max memory bandwidth)');

-- Name variants whose memory, rounded, differs from the marketed figure (ECC,
-- reserved memory) or whose name hides the form factor.
INSERT INTO device_model_aliases (name_key, memory_gib_min, memory_gib_max, slug) VALUES
  ('h100', 70, 90, 'h100-sxm-80gb'),
  ('h200', 130, 150, 'h200-141gb'),
  ('l40s', 40, 50, 'l40s-48gb'),
  ('l40', 40, 50, 'l40-48gb'),
  ('l4', 20, 26, 'l4-24gb'),
  ('a10', 20, 26, 'a10-24gb'),
  ('t4', 14, 17, 't4-16gb'),
  ('mi325x', 240, 270, 'mi325x-256gb'),
  ('mi300x', 180, 200, 'mi300x-192gb');
