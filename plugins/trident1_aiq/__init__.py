"""AIQ × Trident1: the daily integration's logic, importable without Airflow."""

__version__ = "0.1.0"
