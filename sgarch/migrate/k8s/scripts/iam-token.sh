#!/usr/bin/env bash
# sgarch k8s iam-token.sh: a sidecar (AWS CLI image) that keeps a libpq password file of RDS IAM tokens
# current while a Job's restore or dump runs. A token is valid for 15 minutes and only when a connection
# opens, and pgdata.sh opens several over a run that can last hours; libpq reads PGPASSFILE again for every
# connection, so a file rewritten every few minutes always holds a valid token.
#
# Environment: SGARCH_IAM_USER (the database user), SGARCH_IAM_HOSTS (space-separated RDS addresses),
# PGPORT, AWS_REGION, PGPASSFILE (where to write; mode 600, as libpq requires). Credentials: Pod Identity.
# Tokens go only into that file: never to stdout, the log or a command line of another process.
set -euo pipefail

: "${SGARCH_IAM_USER:?}" "${SGARCH_IAM_HOSTS:?}" "${PGPORT:?}" "${AWS_REGION:?}" "${PGPASSFILE:?}"
REFRESH_SECONDS="${SGARCH_IAM_REFRESH_SECONDS:-300}"
umask 077
mkdir -p "$(dirname "$PGPASSFILE")"

# A password-file field escapes backslash and colon with a backslash; a token holds colons.
escape() {
    local value="${1//\\/\\\\}"
    printf '%s' "${value//:/\\:}"
}

while true; do
    : >"$PGPASSFILE.partial"
    for host in $SGARCH_IAM_HOSTS; do
        token="$(aws rds generate-db-auth-token --hostname "$host" --port "$PGPORT" \
            --username "$SGARCH_IAM_USER" --region "$AWS_REGION")"
        printf '%s:%s:*:%s:%s\n' "$(escape "$host")" "$PGPORT" "$(escape "$SGARCH_IAM_USER")" \
            "$(escape "$token")" >>"$PGPASSFILE.partial"
    done
    mv -f "$PGPASSFILE.partial" "$PGPASSFILE"
    printf 'iam-token: tokens for %s renewed\n' "$SGARCH_IAM_HOSTS" >&2
    sleep "$REFRESH_SECONDS"
done
