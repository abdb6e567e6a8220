-- Revokes token $1: an editor/admin token by its id, or an agent's by its
-- agent id. Columns: 0 rows revoked now (0 when already revoked), 1 whether
-- the id names any token at all.
WITH t AS (
  UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1::uuid AND revoked_at IS NULL RETURNING 1
), a AS (
  UPDATE agents SET revoked_at = now() WHERE agent_id = $1::uuid AND revoked_at IS NULL RETURNING 1
)
SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM a),
       EXISTS (SELECT 1 FROM api_tokens WHERE token_id = $1::uuid)
         OR EXISTS (SELECT 1 FROM agents WHERE agent_id = $1::uuid)
