"""Jobs: the job table (jobs.store), the worker runtime (dispatcher, runner) and every job kind (jobs.kinds)."""
