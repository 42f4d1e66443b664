#!/usr/bin/env bash
# Spark 4 needs Java 17+. Say exactly what to install when it is missing.
set -euo pipefail
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if ! command -v "$java_bin" >/dev/null 2>&1; then
  echo "segspark needs Java 17 or newer for Spark, and no 'java' was found." >&2
  echo "  Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless" >&2
  echo "  macOS:         brew install openjdk@17" >&2
  echo "  or set JAVA_HOME to an existing JDK 17+." >&2
  exit 1
fi
version=$("$java_bin" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
major=${version%%.*}
[ "$major" = "1" ] && major=$(echo "$version" | cut -d. -f2)
if [ -z "$major" ] || [ "$major" -lt 17 ] 2>/dev/null; then
  echo "Java $version found; Spark 4 needs Java 17 or newer." >&2
  echo "  Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless (then set JAVA_HOME)" >&2
  exit 1
fi
