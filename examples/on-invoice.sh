#!/bin/sh
# An example exec handler (config/hookd.example.yaml routes Altoviz invoice.* events to it).
# hookd runs it with the event's CloudEvents JSON on stdin and HOOKD_* variables set; exit 0
# means done, anything else is retried with backoff and, after the last attempt, parked as dead.
#
# It keeps each invoice event as $INVOICE_DIR/<event id>.json. Writing by event id makes it
# idempotent: a delivery repeated after a crash or a replay rewrites the same file.
set -eu
dir=${INVOICE_DIR:?INVOICE_DIR is not set}
mkdir -p "$dir"
tmp="$dir/.$HOOKD_EVENT_ID.tmp"
cat >"$tmp"
mv "$tmp" "$dir/$HOOKD_EVENT_ID.json"
echo "stored $HOOKD_EVENT_TYPE $HOOKD_EVENT_ID (attempt $HOOKD_ATTEMPT)"
