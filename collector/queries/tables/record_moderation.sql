-- Appends a moderation event for submission $1 (action $2, reason $3,
-- actor $4, acting token $5: '' none) and advances the data version, in one statement: the counter's
-- row lock orders versions by commit, as ingest does. Returns the version;
-- no row when the submission does not exist.
WITH target AS (
  SELECT submission_id FROM submissions WHERE submission_id = $1::uuid
), ver AS (
  UPDATE data_version_counter SET version = version + 1
  WHERE EXISTS (SELECT 1 FROM target) RETURNING version
), made AS (
  INSERT INTO data_versions (version, cause) SELECT version, 'moderation' FROM ver RETURNING version
)
INSERT INTO moderation_events (submission_id, action, reason, actor, data_version, actor_token_id)
SELECT t.submission_id, $2::text, $3::text, $4::text, m.version, NULLIF($5::text, '')::uuid
FROM target t, made m
RETURNING data_version
