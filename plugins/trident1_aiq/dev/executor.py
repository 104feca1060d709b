"""The executor of ``make run`` (``dag.test(use_executor=True)``): each task as a worker runs it.

``dag.test()`` on its own runs every task inside its own process and writes no task log, so the
api-server had none to show (issue 19 item 3). Here each task instance goes through Airflow's task
supervisor (``supervise_task``) like a LocalExecutor worker's: a process of its own that parses the
DAG file from the dags folder, its log written to the task log file Airflow's log template names
under ``[logging] base_log_folder`` (the file the api-server's log endpoint reads) and also
copied to this process's output. The difference from a worker is where the Execution API is: served
in this process (Airflow's ``InProcessExecutionAPI``, as the dag-processor and triggerer use it),
so ``make run`` needs no api-server. One task at a time, in the order ``dag.test`` queues them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.executors.base_executor import BaseExecutor


class DemoExecutor(BaseExecutor):
    """Runs each queued task to its end through Airflow's task supervisor, one at a time."""

    is_local = True
    serve_logs = False  # the log file is in this machine's log folder, where the api-server reads it

    def start(self) -> None:
        from airflow.sdk.api.client import Client
        from airflow.sdk.execution_time.supervisor import in_process_api_server

        client = Client(base_url=None, token="", dry_run=True, transport=in_process_api_server().transport)
        client.base_url = "http://in-process.invalid./"  # as Airflow's InProcessTestSupervisor: an http URL, never dialled
        self._client = client

    def _process_workloads(self, workload_items: Sequence[Any]) -> None:
        from airflow.sdk.execution_time.supervisor import supervise_task

        for workload in workload_items:
            self.queued_tasks.pop(workload.key, None)
            self.running.add(workload.key)
            try:
                exit_code = supervise_task(
                    ti=workload.ti, bundle_info=workload.bundle_info, dag_rel_path=workload.dag_rel_path,
                    token=workload.token, log_path=workload.log_path, client=self._client,
                    subprocess_logs_to_stdout=True)
            except Exception:
                self.log.exception("task %s could not be run", workload.key)
                exit_code = 1
            (self.success if exit_code == 0 else self.fail)(workload.key)

    def end(self) -> None:
        """Nothing runs in the background: every task ended in ``_process_workloads``."""

    def terminate(self) -> None:
        """Nothing to stop (see :meth:`end`)."""
