# The production image: every Airflow service of docker-compose.yml runs in it.
# Runtime dependencies only (requirements-runtime.txt: no test, lint or benchmark package), then the
# DAG, the package, its SQL and the default Variables, in the layout trident1_aiq/paths.py expects
# (/opt/airflow/plugins/trident1_aiq next to /opt/airflow/include/sql and /opt/airflow/config).
# Not in the image: the development sandbox (plugins/trident1_sandbox), tests/ and benchmarks/.
# tests/unit/test_deploy.py checks these lines against the tree (CI has no Docker daemon).
FROM apache/airflow:3.3.2-python3.11
COPY requirements-runtime.txt /requirements-runtime.txt
RUN pip install --no-cache-dir -r /requirements-runtime.txt
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins/.airflowignore /opt/airflow/plugins/.airflowignore
COPY --chown=airflow:root plugins/trident1_aiq /opt/airflow/plugins/trident1_aiq
COPY --chown=airflow:root plugins/trident1_console.py /opt/airflow/plugins/trident1_console.py
COPY --chown=airflow:root include /opt/airflow/include
COPY --chown=airflow:root config /opt/airflow/config
ENV PYTHONPATH=/opt/airflow/plugins \
    GX_ANALYTICS_ENABLED=false
