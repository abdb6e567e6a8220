-- 0002: unknown telemetry is NULL (not zero), and data versions.
--
-- Telemetry: the agent sends the four figures below only when its source
-- (MemGetInfo, NVML, rocm-smi) could tell; absent is stored as NULL so a
-- table can leave unknowns out instead of averaging in zeros. Rows written
-- before this migration keep their stored values: a stored 0 there may mean
-- either, which readers of old rows must accept.
ALTER TABLE points
  ALTER COLUMN device_delta_bytes   DROP NOT NULL,
  ALTER COLUMN process_memory_bytes DROP NOT NULL,
  ALTER COLUMN sm_clock_mhz         DROP NOT NULL,
  ALTER COLUMN throttle_reasons     DROP NOT NULL;

-- Data versions: one counter that advances, in the same transaction, with
-- every change to public data (an accepted submission; later a moderation
-- action). Rows carry the version that made them visible, so "the table at
-- version V" is a WHERE clause and any past response can be rebuilt exactly.
--
-- The counter is a single row: writers take its row lock by updating it, so
-- versions are handed out in commit order and no reader can see version V
-- while a transaction holding V-1 is still open (a sequence cannot promise
-- that: nextval is not transactional).
CREATE TABLE data_version_counter (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version   bigint  NOT NULL CHECK (version >= 0)
);

-- One row per version ever made: when, and what made it.
CREATE TABLE data_versions (
  version bigint PRIMARY KEY CHECK (version > 0),
  made_at timestamptz NOT NULL DEFAULT now(),
  cause   text NOT NULL CHECK (cause IN ('ingest', 'moderation', 'migration'))
);

ALTER TABLE submissions ADD COLUMN data_version bigint REFERENCES data_versions;

-- Submissions stored before versions existed become visible at version 1.
INSERT INTO data_versions (version, cause)
  SELECT 1, 'migration' WHERE EXISTS (SELECT 1 FROM submissions);
UPDATE submissions SET data_version = 1;
INSERT INTO data_version_counter (version)
  SELECT coalesce(max(version), 0) FROM data_versions;

ALTER TABLE submissions ALTER COLUMN data_version SET NOT NULL;
CREATE INDEX submissions_data_version_idx ON submissions (data_version);
