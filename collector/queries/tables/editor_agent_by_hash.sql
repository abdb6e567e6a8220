-- The live agent token with SHA-256 $1 (an agent calling Admin is refused
-- with PERMISSION_DENIED rather than "unknown token"). Column: 0 agent id.
SELECT agent_id::text FROM agents WHERE token_sha256 = $1 AND revoked_at IS NULL
