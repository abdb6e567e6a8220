-- The stored rows behind the staged ids (repeats, and ids used twice in one
-- group): who stored each, its payload hash and the reply it got.
SELECT s.submission_id::text, s.agent_id::text, s.payload_sha256,
       (extract(epoch FROM s.received_at) * 1000000)::bigint, s.sweep_count, s.point_count
FROM submissions s
WHERE s.submission_id IN (SELECT submission_id FROM lb_stage_submissions)
