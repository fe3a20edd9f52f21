#!/bin/bash
# InfluxDB 2.x: map the v1 database name to the bucket, so that InfluxQL reads (/query?db=...)
# and v1-style tooling (Grafana's InfluxQL data source) find GridPatrol's measurements.
set -e
influx v1 dbrp create \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
  --rp autogen \
  --default \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --token "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN}"
