-- The cited cells of revisions $1 (a bigint[] literal, e.g. '{3,7}').
-- Columns: 0 revision id, 1 workload (serialised WorkloadKey), 2 batch,
-- 3 tokens/s then, 4 largest ok batch then, 5 machines then.
SELECT revision_id, workload, batch_size, tokens_per_second, largest_ok_batch, machine_count
FROM verdict_cells WHERE revision_id = ANY ($1::bigint[])
ORDER BY revision_id, cell_index
