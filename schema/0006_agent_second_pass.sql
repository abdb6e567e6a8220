-- 0006: the agent's second pass (issue 14): points the time budget cut,
-- thresholds planned rather than proven, sampled memory peaks, the runtime's
-- own share, the PCIe link and the other processes on the device.
--
-- Every new column has a default or is NULL, so rows stored before keep
-- their meaning: an old sweep's threshold source is 'unspecified', an old
-- point's peak and runtime share are unknown (NULL), not 0.

-- SKIPPED_FOR_TIME: not run because the suite's time budget was spent. Like
-- skipped_wont_fit it carries no timings (the CHECKs of 0001 still hold).
ALTER TABLE points DROP CONSTRAINT points_status_check;
ALTER TABLE points ADD CONSTRAINT points_status_check
  CHECK (status IN ('ok', 'oom', 'error', 'skipped_wont_fit', 'skipped_for_time'));

-- The process's sampled peak during the steps, and its memory just before
-- the workload was created (context, library workspaces; CPU: the program).
ALTER TABLE points
  ADD COLUMN process_peak_bytes   bigint CHECK (process_peak_bytes >= 0),
  ADD COLUMN runtime_memory_bytes bigint CHECK (runtime_memory_bytes >= 0);

-- Whether (largest_ok_batch, smallest_failed_batch) was measured ('proven')
-- or only planned_max_batch stands for the threshold ('planned'). A proven
-- threshold is a real bracket: both bounds set and adjacent.
ALTER TABLE sweeps
  ADD COLUMN oom_threshold_source text NOT NULL DEFAULT 'unspecified'
    CHECK (oom_threshold_source IN ('unspecified', 'proven', 'planned')),
  ADD CONSTRAINT sweeps_proven_is_a_bracket
    CHECK (oom_threshold_source <> 'proven'
           OR (largest_ok_batch > 0 AND smallest_failed_batch = largest_ok_batch + 1));

-- The PCIe link (generation and width, now and at most; 0 = unknown) and
-- how many other processes held device memory at the start (NVML's list).
ALTER TABLE submissions
  ADD COLUMN pcie_generation_current integer NOT NULL DEFAULT 0 CHECK (pcie_generation_current BETWEEN 0 AND 64),
  ADD COLUMN pcie_generation_max     integer NOT NULL DEFAULT 0 CHECK (pcie_generation_max BETWEEN 0 AND 64),
  ADD COLUMN pcie_width_current      integer NOT NULL DEFAULT 0 CHECK (pcie_width_current BETWEEN 0 AND 64),
  ADD COLUMN pcie_width_max          integer NOT NULL DEFAULT 0 CHECK (pcie_width_max BETWEEN 0 AND 64),
  ADD COLUMN other_process_count     integer NOT NULL DEFAULT 0 CHECK (other_process_count >= 0);
