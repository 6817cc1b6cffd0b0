#!/bin/sh
# Installs the Debian 12 packages faxd needs to build, run and test. Skips apt-get when
# everything is already installed, so repeated runs are fast and work offline.
set -eu
PACKAGES="build-essential cmake pkg-config ca-certificates curl python3 sqlite3
libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev libtiff-dev libmagic-dev
libcairo2-dev libpango1.0-dev libspandsp-dev libcurl4-openssl-dev libsofia-sip-ua-dev
baresip-core kamailio tshark
ghostscript mupdf-tools qpdf libreoffice-core-nogui libreoffice-writer-nogui
libreoffice-calc-nogui python3-uno
fonts-liberation fonts-liberation2 fonts-dejavu-core fonts-wqy-microhei
tesseract-ocr tesseract-ocr-eng poppler-utils libtiff-tools wrk
chromium nodejs libpq-dev postgresql python3-psycopg2"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "faxd needs these Debian packages:$missing (run as root to install them)" >&2
        exit 1
    fi
    echo "Installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# npm (for the web interface's browser test): Debian ships it apart from nodejs; other
# Node.js builds bring their own.
if ! command -v npm >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { echo "faxd's tests need npm (run as root to install it)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
