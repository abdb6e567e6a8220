-- A new agent installation: only the token's SHA-256 is kept.
-- $1 agent_id, $2 token_sha256, $3 machine_fingerprint, $4 agent_version
INSERT INTO agents (agent_id, token_sha256, machine_fingerprint, agent_version)
VALUES ($1::uuid, $2, $3, $4)
