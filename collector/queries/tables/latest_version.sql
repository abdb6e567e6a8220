-- The newest data version: one row, read without a scan.
SELECT version FROM data_version_counter
