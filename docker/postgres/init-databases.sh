#!/bin/sh
# Creates the three databases of docker/compose.yml, each owned by its own role:
#
#   jointspace  jointspace's tables and its pg-boss queue (schema jointspace_queue)
#   orthanc     Orthanc's index (the PostgreSQL plugin); the DICOM files stay on Orthanc's volume
#   hapi        the HAPI FHIR server's tables
#
# The postgres image runs this once, when it initialises an empty data volume, as the
# superuser named by POSTGRES_USER. It does nothing on later starts: to change a password
# afterwards, use ALTER ROLE in psql. The passwords come from the environment (compose.yml
# passes them from docker/.env) and reach psql as variables, quoted by psql itself.
set -eu

: "${JOINTSPACE_DB_PASSWORD:?JOINTSPACE_DB_PASSWORD is not set}"
: "${ORTHANC_DB_PASSWORD:?ORTHANC_DB_PASSWORD is not set}"
: "${FHIR_DB_PASSWORD:?FHIR_DB_PASSWORD is not set}"

psql --set ON_ERROR_STOP=1 --no-psqlrc \
  --username "$POSTGRES_USER" --dbname postgres \
  --set jointspace_password="$JOINTSPACE_DB_PASSWORD" \
  --set orthanc_password="$ORTHANC_DB_PASSWORD" \
  --set fhir_password="$FHIR_DB_PASSWORD" <<'SQL'
CREATE ROLE jointspace LOGIN PASSWORD :'jointspace_password';
CREATE DATABASE jointspace OWNER jointspace;
REVOKE ALL ON DATABASE jointspace FROM PUBLIC;

CREATE ROLE orthanc LOGIN PASSWORD :'orthanc_password';
CREATE DATABASE orthanc OWNER orthanc;
REVOKE ALL ON DATABASE orthanc FROM PUBLIC;

CREATE ROLE hapi LOGIN PASSWORD :'fhir_password';
CREATE DATABASE hapi OWNER hapi;
REVOKE ALL ON DATABASE hapi FROM PUBLIC;
SQL
