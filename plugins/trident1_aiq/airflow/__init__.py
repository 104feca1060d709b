"""Airflow's side: the task bodies (adapter) and the failure notifier; imported only by dags/ and the console."""
