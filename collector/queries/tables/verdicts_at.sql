-- Verdicts as they stood at data version $1 (each verdict's latest revision
-- at or before it), on device models $2 (comma-separated; '' all), or the
-- one verdict $3 ('' any). Columns: 0 revision id, 1 verdict id,
-- 2 device model, 3 workload (serialised WorkloadKey; NULL: whole model),
-- 4 text, 5 editor, 6 when (microseconds), 7 cited version.
SELECT revision_id, verdict_id, device_model, workload, body, editor, at_us, cited_version FROM (
  SELECT DISTINCT ON (v.verdict_id) v.revision_id, v.verdict_id::text AS verdict_id, v.device_model, v.workload,
         v.body, v.editor, (extract(epoch FROM v.at) * 1000000)::bigint AS at_us, v.cited_version
  FROM verdicts v
  WHERE v.data_version <= $1::bigint
    AND ($2::text = '' OR v.device_model = ANY (string_to_array($2::text, ',')))
    AND ($3::text = '' OR v.verdict_id = NULLIF($3::text, '')::uuid)
  ORDER BY v.verdict_id, v.data_version DESC, v.revision_id DESC
) latest
ORDER BY device_model, verdict_id
