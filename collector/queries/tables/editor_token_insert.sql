-- A new editor or admin token: $1 token id, $2 SHA-256 of the secret,
-- $3 role, $4 holder's name. The secret itself is never stored.
INSERT INTO api_tokens (token_id, token_sha256, role, name) VALUES ($1::uuid, $2, $3, $4)
