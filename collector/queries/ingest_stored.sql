-- The stored rows among a group's ids ($1, uuid[]): who stored each, its
-- payload hash and the reply it got (received_at in microseconds since the
-- epoch). Run after ingest_next_version, so every earlier ingest
-- transaction has committed and is visible; no other writes submissions.
SELECT submission_id::text, agent_id::text, payload_sha256,
       (extract(epoch FROM received_at) * 1000000)::bigint, sweep_count, point_count
FROM submissions
WHERE submission_id = ANY($1::uuid[])
