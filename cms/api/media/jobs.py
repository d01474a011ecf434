"""Jobs as editors and admins see them: per asset, the dead-letter list, and retryJob."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from cms.api.context import Info
from cms.api.errors import ForbiddenError, NotFoundError, ValidationError, typed_errors
from cms.api.ids import pk_of, to_global_id
from cms.api.node import Node
from cms.api.pagination import Connection, to_connection
from jobs.store import models as m
from jobs.store import service as jobstore

# strawberry.enum registers the GraphQL enum on the class itself and returns it unchanged; binding the class
# (not the call's result) keeps these names usable in annotations.
JobStatus = m.JobStatus
strawberry.enum(JobStatus, name="JobStatus")


@strawberry.type
class Job(Node):
    kind: str
    status: JobStatus
    attempts: int
    max_attempts: int
    last_error: str | None
    run_after: datetime | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    request_id: str | None = strawberry.field(
        description="The X-Request-ID of the request that caused this job (directly, or through the jobs it caused), "
        "to find its log lines; null for jobs no request caused (schedules, commands)."
    )

    @classmethod
    def from_model(cls, j: m.Job) -> Job:
        return cls(
            id=strawberry.ID(to_global_id("Job", j.id)),
            kind=j.kind,
            status=j.status,
            attempts=j.attempts,
            max_attempts=j.max_attempts,
            last_error=j.last_error,
            run_after=j.run_after,
            lease_expires_at=j.lease_expires_at,
            created_at=j.created_at,
            updated_at=j.updated_at,
            finished_at=j.finished_at,
            request_id=(j.context or {}).get("request_id"),
        )


JobResult = Annotated[Job | ValidationError | NotFoundError | ForbiddenError, strawberry.union("JobResult")]


@strawberry.type
class JobQuery:
    @strawberry.field(description="Admins only: jobs by status, newest first (DEAD is the dead-letter list).")
    async def jobs(
        self, info: Info, status: JobStatus | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Job]:
        page = await jobstore.list_jobs(principal=info.context.principal, status=status, first=first, after=after)
        return to_connection(page, Job.from_model)


@strawberry.type
class JobMutation:
    @strawberry.mutation(description="Admins only: run a dead-lettered job again with a fresh set of attempts.")
    @typed_errors
    async def retry_job(self, info: Info, id: strawberry.ID) -> JobResult:
        job = await jobstore.retry_job(principal=info.context.principal, id=pk_of(id, "Job"))
        return Job.from_model(job)
