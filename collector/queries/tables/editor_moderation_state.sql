-- Submission $1 and its latest moderation action (NULL: none).
-- Columns: 0 submission id, 1 latest action.
SELECT s.submission_id::text,
       (SELECT e.action FROM moderation_events e WHERE e.submission_id = s.submission_id
        ORDER BY e.data_version DESC, e.event_id DESC LIMIT 1)
FROM submissions s WHERE s.submission_id = $1::uuid
