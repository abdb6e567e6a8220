-- A verdict revision, advancing the data version (cause 'verdict') in the
-- same statement: $1 verdict id, $2 device model, $3 workload (hex of a
-- serialised WorkloadKey; '' whole model), $4 text, $5 action ('write' or
-- 'confirm'), $6 editor's name, $7 editor's token id ('' none), $8 the
-- version the cited figures were read at. Columns: 0 revision id, 1 version.
WITH ver AS (
  UPDATE data_version_counter SET version = version + 1 RETURNING version
), made AS (
  INSERT INTO data_versions (version, cause) SELECT version, 'verdict' FROM ver RETURNING version
)
INSERT INTO verdicts (verdict_id, device_model, workload, body, action, editor, editor_token_id, cited_version,
                      data_version)
SELECT $1::uuid, $2::text, decode(NULLIF($3::text, ''), 'hex'), $4::text, $5::text, $6::text,
       NULLIF($7::text, '')::uuid, $8::bigint, made.version
FROM made
RETURNING revision_id, data_version
