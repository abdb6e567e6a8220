-- Moderation events at or before data version $4, newest first: one
-- submission ($1; '' all), after the cursor $2 (event ids below it; 0: from
-- the newest), at most $3 rows. Columns: 0 event id, 1 submission id,
-- 2 action, 3 reason, 4 actor's name, 5 data version, 6 when (microseconds).
SELECT e.event_id, e.submission_id::text, e.action, e.reason, e.actor, e.data_version,
       (extract(epoch FROM e.at) * 1000000)::bigint
FROM moderation_events e
WHERE ($1::text = '' OR e.submission_id = NULLIF($1::text, '')::uuid)
  AND ($2::bigint = 0 OR e.event_id < $2::bigint)
  AND e.data_version <= $4::bigint
ORDER BY e.event_id DESC
LIMIT $3::bigint
