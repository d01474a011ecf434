"""The job table: job rows, their life cycle (claim, lease, retry with backoff, dead letter) and queries."""
