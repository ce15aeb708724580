#!/bin/sh
# The example repository's Python models and the Python backend's tests need python3 with numpy.
# Installs Debian's python3-numpy when it is missing (needs root and apt-get); otherwise says what to do.
set -e
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-numpy
  exit 0
fi
echo "python3 with numpy is needed (Debian/Ubuntu: sudo apt-get install -y python3-numpy)" >&2
exit 1
