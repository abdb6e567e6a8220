-- Stored sweeps at version $1 (moderated ones included, with their latest
-- action at $1), newest submission first. Filters ('' = any): $2 preset,
-- $3 kind, $4 precision, $5 device name or model slug, $6 backend,
-- $7 suite hash; then $8 offset, $9 limit.
-- Columns: 0 submission id, 1 sweep index, 2 payload, 3 received_at
-- (microseconds since the epoch), 4 latest action (NULL: none).
WITH dm AS MATERIALIZED (SELECT * FROM lb_device_model_of($1::bigint))  -- once per device
SELECT s.submission_id::text, w.sweep_index, s.payload, (extract(epoch FROM s.received_at) * 1000000)::bigint,
       m.action
FROM submissions s
JOIN devices d ON d.device_id = s.device_id
JOIN dm ON dm.device_id = s.device_id
JOIN sweeps w ON w.submission_id = s.submission_id
LEFT JOIN LATERAL (SELECT e.action FROM moderation_events e
                   WHERE e.submission_id = s.submission_id AND e.data_version <= $1::bigint
                   ORDER BY e.data_version DESC, e.event_id DESC LIMIT 1) m ON true
WHERE s.data_version <= $1::bigint
  AND ($2::text = '' OR w.model_preset = $2::text)
  AND ($3::text = '' OR w.kind = $3::text)
  AND ($4::text = '' OR w.precision = $4::text)
  AND ($5::text = '' OR d.name = $5::text OR dm.slug = $5::text)
  AND ($6::text = '' OR d.backend = $6::text)
  AND ($7::text = '' OR s.suite_hash = $7::text)
ORDER BY s.received_at DESC, s.submission_id, w.sweep_index
OFFSET $8::bigint LIMIT $9::bigint
