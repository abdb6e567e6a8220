-- The plausibility findings of submission $1, in the order found
-- (written once, with the submission). Columns: reason, field, detail.
SELECT reason, field, detail FROM plausibility_findings
WHERE submission_id = $1::uuid ORDER BY finding_index
