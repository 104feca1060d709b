"""Development tools (make run, make airflow): not part of the product; not in the wheel or image."""
