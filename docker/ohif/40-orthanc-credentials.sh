#!/bin/sh
# Run by the nginx image's entry point before nginx starts: writes the Authorization header
# that the /dicom-web/ proxy adds to every request it forwards to Orthanc, from
# ORTHANC_VIEWER_USER (default "viewer") and ORTHANC_VIEWER_PASSWORD. The file is readable
# by nginx's user only and lives in /tmp, so the image itself holds no credential.
set -eu

user="${ORTHANC_VIEWER_USER:-viewer}"
password="${ORTHANC_VIEWER_PASSWORD:?ORTHANC_VIEWER_PASSWORD is not set}"

umask 077
mkdir -p /tmp/ohif
token="$(printf '%s:%s' "$user" "$password" | base64 -w 0)"
printf 'proxy_set_header Authorization "Basic %s";\n' "$token" > /tmp/ohif/orthanc-credentials.conf
