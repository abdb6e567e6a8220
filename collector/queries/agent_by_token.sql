-- The live agent holding a token (by its hash) and the machine it enrolled for.
-- $1 token_sha256
SELECT agent_id::text, machine_fingerprint
FROM agents
WHERE token_sha256 = $1 AND revoked_at IS NULL
