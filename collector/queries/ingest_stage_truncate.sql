-- Gives the staging tables fresh, empty files (run now and then outside a
-- group transaction): temporary tables are never autovacuumed, so the rows
-- ingest_from_stage deletes would otherwise grow the files for as long as
-- the connection lives. Not prepared (TRUNCATE cannot be).
TRUNCATE lb_stage_submissions, lb_stage_sweeps, lb_stage_points
