-- The live editor or admin token with SHA-256 $1. Columns: 0 token id,
-- 1 role ('editor' or 'admin'), 2 holder's name.
SELECT token_id::text, role, name FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL
