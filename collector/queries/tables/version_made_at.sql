-- When data version $1 was made, in microseconds since the epoch.
SELECT (extract(epoch FROM made_at) * 1000000)::bigint FROM data_versions WHERE version = $1::bigint
