"""``awsglue.job.Job``: init/commit are bookkeeping in Glue (bookmarks); locally they flush lineage."""

from __future__ import annotations

from typing import Any


class Job:
    def __init__(self, glue_context: Any):
        self._glue_context = glue_context
        self.name: str | None = None

    def init(self, job_name: str, args: dict[str, str] | None = None) -> None:
        from lineagelab.spark_local import glue_io

        self.name = job_name
        option = (args or {}).get("job_bookmark_option") or (args or {}).get("job-bookmark-option") or ""
        if option == "job-bookmark-enable":
            glue_io.say_bookmarks_once(job_name)

    def commit(self) -> None:
        from lineagelab.spark_local import glue_connections

        glue_connections.flush_capture()

    @staticmethod
    def continuation_enabled() -> bool:
        return False
