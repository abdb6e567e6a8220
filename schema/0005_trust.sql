-- 0005: trust. Why a submission was judged implausible at ingest.
--
-- A submission that fails a plausibility check (collector/src/plausibility.cc:
-- memory, roofline, OOM bracket, plan, timings, clocks, outliers among its
-- device model's machines) is still stored, with one row here per finding,
-- and a 'flag' moderation event (actor 'plausibility') is appended in the
-- same transaction, so lb_visible_submissions hides it from every version
-- on and an editor's restore brings it back. Append-only, like the events.
CREATE TABLE plausibility_findings (
  submission_id uuid    NOT NULL REFERENCES submissions,
  finding_index integer NOT NULL CHECK (finding_index >= 0),
  reason        text    NOT NULL CHECK (reason ~ '^[a-z_]{1,64}$'),
  field         text    NOT NULL CHECK (length(field) BETWEEN 1 AND 256),
  detail        text    NOT NULL CHECK (length(detail) BETWEEN 1 AND 1024),
  PRIMARY KEY (submission_id, finding_index)
);
CREATE TRIGGER plausibility_findings_append_only BEFORE UPDATE OR DELETE ON plausibility_findings
  FOR EACH ROW EXECUTE FUNCTION lb_refuse_change();
