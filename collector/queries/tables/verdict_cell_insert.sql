-- One cited cell of revision $1: $2 index, $3 workload (hex of a serialised
-- WorkloadKey), $4 batch, $5 tokens/s, $6 largest ok batch, $7 machines.
INSERT INTO verdict_cells (revision_id, cell_index, workload, batch_size, tokens_per_second, largest_ok_batch,
                           machine_count)
VALUES ($1::bigint, $2::integer, decode($3::text, 'hex'), $4::integer, $5::double precision,
        $6::double precision, $7::integer)
