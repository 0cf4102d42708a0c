#!/bin/sh
# Run by the postgres image on its first start (/docker-entrypoint-initdb.d): the service roles and
# schemas of roles.psql, with the passwords compose passes from .env. roles.psql itself has no
# .sql suffix, so the image does not run it a second time without its variables.
set -eu
psql --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v auth_password="${AUTH_DB_PASSWORD:?AUTH_DB_PASSWORD is not set}" \
  -v campaign_password="${CAMPAIGN_DB_PASSWORD:?CAMPAIGN_DB_PASSWORD is not set}" \
  -v pledge_password="${PLEDGE_DB_PASSWORD:?PLEDGE_DB_PASSWORD is not set}" \
  -v payment_password="${PAYMENT_DB_PASSWORD:?PAYMENT_DB_PASSWORD is not set}" \
  -v bank_password="${BANK_DB_PASSWORD:?BANK_DB_PASSWORD is not set}" \
  -v notification_password="${NOTIFICATION_DB_PASSWORD:?NOTIFICATION_DB_PASSWORD is not set}" \
  -v chat_password="${CHAT_DB_PASSWORD:?CHAT_DB_PASSWORD is not set}" \
  -f "${ROLES_PSQL:-/docker-entrypoint-initdb.d/roles.psql}"
# The maintenance database is the superuser's alone as well.
psql --no-psqlrc --username "$POSTGRES_USER" --dbname postgres -v ON_ERROR_STOP=1 \
  -c 'REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC'
