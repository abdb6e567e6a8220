-- One finding of submission $1: index $2, reason $3, field $4, detail $5.
INSERT INTO plausibility_findings (submission_id, finding_index, reason, field, detail)
VALUES ($1::uuid, $2::integer, $3::text, $4::text, $5::text)
