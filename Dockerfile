# The image every Airflow service and the sandbox run in (docker-compose.yml).
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt
ENV PYTHONPATH=/opt/airflow/plugins \
    GX_ANALYTICS_ENABLED=false
