#!/bin/sh
# Installs the Debian packages Nereid needs beyond npm, when they are missing (needs root and
# apt-get; otherwise says what to install):
#   python3-numpy  the example repository's Python models and the Python backend's tests
#   chromium       (with --tests) the model analyzer's test opens its HTML report in headless Chromium
set -e
packages=""
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then packages="python3-numpy"; fi
if [ "$1" = "--tests" ] && ! command -v chromium >/dev/null 2>&1; then packages="$packages chromium"; fi
if [ -z "$packages" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y $packages
  exit 0
fi
echo "missing Debian packages:$packages (Debian/Ubuntu: sudo apt-get install -y$packages)" >&2
exit 1
