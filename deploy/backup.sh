#!/usr/bin/env bash
# Nightly backup of a MiniGo installation: the database (pg_dump, custom format), the
# uploaded media (product images, detector models, dataset images) and a copy of the
# environment file, which holds MINIGO_FACE_KEY. Without that key the face embeddings in
# the dump cannot be decrypted: keep the copy, and restrict who can read the backups.
#
#   sudo -u minigo deploy/backup.sh /var/backups/minigo        (e.g. from a systemd timer)
set -euo pipefail
DEST="${1:?usage: backup.sh DEST_DIR}"
ENV_FILE="${MINIGO_ENV_FILE:-/etc/minigo/minigo.env}"
KEEP_DAYS="${KEEP_DAYS:-14}"
set -a; . "$ENV_FILE"; set +a
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
umask 077
mkdir -p "$DEST/$STAMP"
pg_dump --format=custom --no-owner --dbname="$DATABASE_URL" --file="$DEST/$STAMP/minigo.dump"
tar -C "$(dirname "$MEDIA_ROOT")" -czf "$DEST/$STAMP/media.tar.gz" "$(basename "$MEDIA_ROOT")"
cp "$ENV_FILE" "$DEST/$STAMP/minigo.env"
find "$DEST" -mindepth 1 -maxdepth 1 -type d -mtime +"$KEEP_DAYS" -exec rm -rf {} +
echo "backed up to $DEST/$STAMP"
