#!/bin/sh
# Lists unread Gmail messages with get-token and curl, handling each of get-token's exit codes.
# Usage: examples/gmail-unread.sh   (GMAIL_API_URL points it at another server)
set -u
api="${GMAIL_API_URL:-https://gmail.googleapis.com}"

# stdout holds only the header line; the link, errors and hints go to stderr, which the user sees.
header=$(get-token --format header gmail)
case $? in
  0) ;;
  3) echo "gmail needs authorization: open the link above, then run this again" >&2; exit 3 ;;
  4) echo "gmail is not configured: get-token config add gmail CONNECTION_NAME" >&2; exit 4 ;;
  5) echo "Scalekit credentials are missing or rejected: run get-token doctor" >&2; exit 5 ;;
  6) echo "Scalekit refused the request: check the connection name with get-token doctor" >&2; exit 6 ;;
  7) echo "Scalekit is unreachable; trying once more in 5 s" >&2
     sleep 5
     header=$(get-token --format header gmail) || exit 7 ;;
  *) echo "get-token failed unexpectedly" >&2; exit 1 ;;
esac

# The header goes to curl on stdin (printf is built into the shell), never in a command line that other users
# could read in /proc.
printf '%s\n' "$header" | curl -fsS -H @- \
  "$api/gmail/v1/users/me/messages?q=is%3Aunread&maxResults=10"
