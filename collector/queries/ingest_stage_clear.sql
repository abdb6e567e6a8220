-- Empties the staging tables before the group transaction commits (a rolled
-- back one takes its staged rows with it). A DELETE, not ON COMMIT DELETE
-- ROWS or TRUNCATE: those give the tables new files at every commit, which
-- cost ~15 ms per transaction here and invalidated the prepared plans.
-- Dead rows are pruned as pages are reused; the writer truncates once in a
-- while (ingest_stage_truncate.sql) to keep the files small.
WITH a AS (DELETE FROM lb_stage_sweeps), b AS (DELETE FROM lb_stage_points)
DELETE FROM lb_stage_submissions
