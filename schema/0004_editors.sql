-- 0004: editors. Editor and admin tokens (hashes only), the acting token on
-- each moderation event, and verdicts with the figures they cite. Verdicts
-- are public data served with the tables, so writing one advances the data
-- version (cause 'verdict') and `as_of` reproduces the verdicts served then.

ALTER TABLE data_versions DROP CONSTRAINT data_versions_cause_check;
ALTER TABLE data_versions ADD CONSTRAINT data_versions_cause_check
  CHECK (cause IN ('ingest', 'moderation', 'migration', 'catalogue', 'verdict'));

-- Editor and admin tokens. As with agents, the secret is never stored: only
-- its SHA-256. Revoked tokens stay (their names are in the audit trail).
CREATE TABLE api_tokens (
  token_id     uuid PRIMARY KEY,
  token_sha256 text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  role         text NOT NULL CHECK (role IN ('editor', 'admin')),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz,
  CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);

-- Which token acted (NULL for events recorded by tools and tests). Adding a
-- column updates no row, so the append-only trigger is not involved.
ALTER TABLE moderation_events ADD COLUMN actor_token_id uuid;
CREATE INDEX moderation_events_order_idx ON moderation_events (event_id DESC);

-- Verdicts, append-only: every write, rewrite or confirmation is a new
-- revision; the verdict at version V is its latest revision with
-- data_version <= V. `workload` is a serialised localbench.v1.WorkloadKey
-- (NULL: a verdict on the whole device model); `cited_version` is the data
-- version its cited figures (verdict_cells) were read at.
CREATE TABLE verdicts (
  revision_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  verdict_id      uuid   NOT NULL,
  device_model    text   NOT NULL CHECK (device_model ~ '^[a-z0-9][a-z0-9-]{0,79}$'),
  workload        bytea,
  body            text   NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
  action          text   NOT NULL CHECK (action IN ('write', 'confirm')),
  editor          text   NOT NULL CHECK (length(editor) BETWEEN 1 AND 128),
  editor_token_id uuid,
  cited_version   bigint NOT NULL CHECK (cited_version >= 0),
  data_version    bigint NOT NULL REFERENCES data_versions,
  at              timestamptz NOT NULL DEFAULT now(),
  CHECK (cited_version < data_version)
);
CREATE INDEX verdicts_lookup_idx ON verdicts (verdict_id, data_version DESC, revision_id DESC);
CREATE INDEX verdicts_model_idx ON verdicts (device_model);

-- The figures one revision cites, as they were at its cited_version: one
-- device model x workload key (serialised WorkloadKey) x batch size each.
CREATE TABLE verdict_cells (
  revision_id       bigint NOT NULL REFERENCES verdicts,
  cell_index        integer NOT NULL CHECK (cell_index >= 0),
  workload          bytea  NOT NULL,
  batch_size        integer NOT NULL CHECK (batch_size >= 1),
  tokens_per_second double precision NOT NULL CHECK (tokens_per_second >= 0 AND tokens_per_second < 'Infinity'),
  largest_ok_batch  double precision NOT NULL CHECK (largest_ok_batch >= 0 AND largest_ok_batch < 'Infinity'),
  machine_count     integer NOT NULL CHECK (machine_count >= 0),
  PRIMARY KEY (revision_id, cell_index)
);

CREATE TRIGGER verdicts_append_only BEFORE UPDATE OR DELETE ON verdicts
  FOR EACH ROW EXECUTE FUNCTION lb_refuse_change();
CREATE TRIGGER verdict_cells_append_only BEFORE UPDATE OR DELETE ON verdict_cells
  FOR EACH ROW EXECUTE FUNCTION lb_refuse_change();
