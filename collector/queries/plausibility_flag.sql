-- Flags submission $1 with reason $2 at the storing transaction's version
-- $3: it is hidden from the version that made it on, until restored.
INSERT INTO moderation_events (submission_id, action, reason, actor, data_version)
VALUES ($1::uuid, 'flag', $2::text, 'plausibility', $3::bigint)
