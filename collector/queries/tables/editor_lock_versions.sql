-- Takes the data-version counter's row lock for the rest of the
-- transaction, so a moderation check and its event are not interleaved
-- with another editor's action on the same submission.
SELECT version FROM data_version_counter FOR UPDATE
