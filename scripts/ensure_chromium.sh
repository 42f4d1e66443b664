#!/usr/bin/env bash
# The report check renders in Debian's chromium. Install it when missing and we may (root + apt);
# otherwise say so: the browser tests then skip with that reason.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the report check (about a minute)..."
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/tmp/segspark-chromium.log 2>&1 \
     || { apt-get update -q >>/tmp/segspark-chromium.log 2>&1 \
          && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >>/tmp/segspark-chromium.log 2>&1; }; then
    exit 0
  fi
  echo "warning: could not install chromium (see /tmp/segspark-chromium.log); browser checks will skip" >&2
else
  echo "warning: chromium not found; install Debian's chromium package to run the report's browser check" >&2
fi
exit 0
