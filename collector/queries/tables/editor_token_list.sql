-- Every token without its secret, oldest first; revoked ones too when $1.
-- Agents' tokens are listed by agent id. Columns: 0 id, 1 role, 2 name,
-- 3 created (microseconds since the epoch), 4 revoked (NULL: active).
SELECT id, role, name, created, revoked FROM (
  SELECT token_id::text AS id, role, name, (extract(epoch FROM created_at) * 1000000)::bigint AS created,
         (extract(epoch FROM revoked_at) * 1000000)::bigint AS revoked
  FROM api_tokens WHERE $1::boolean OR revoked_at IS NULL
  UNION ALL
  SELECT agent_id::text, 'agent', 'agent ' || agent_version, (extract(epoch FROM enrolled_at) * 1000000)::bigint,
         (extract(epoch FROM revoked_at) * 1000000)::bigint
  FROM agents WHERE $1::boolean OR revoked_at IS NULL
) t
ORDER BY created, id
