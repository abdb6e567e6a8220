-- One submission as received and its editorial state at version $1
-- (NULL when stored after $1). Columns: 0 payload, 1 received_at
-- (microseconds since the epoch), 2 stored version, 3 latest action at $1
-- (NULL: none), 4 its reason, 5 device model slug.
SELECT s.payload, (extract(epoch FROM s.received_at) * 1000000)::bigint, s.data_version,
       m.action, m.reason, dm.slug
FROM submissions s
JOIN lb_device_model_of($1::bigint) dm ON dm.device_id = s.device_id
LEFT JOIN LATERAL (SELECT e.action, e.reason FROM moderation_events e
                   WHERE e.submission_id = s.submission_id AND e.data_version <= $1::bigint
                   ORDER BY e.data_version DESC, e.event_id DESC LIMIT 1) m ON true
WHERE s.submission_id = $2::uuid
