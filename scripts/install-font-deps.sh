#!/bin/sh
# Installs the Debian fonts the synthetic plate generator draws with (OSP-DIN, DejaVu) when
# missing. Without root it warns and goes on: the generator falls back to Pillow's own font.
set -eu
need=""
[ -f /usr/share/fonts/truetype/opendin/OSP-DIN.ttf ] || need="$need fonts-opendin"
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need="$need fonts-dejavu-core"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "warning: missing fonts:$need (apt-get install$need); using fallbacks" >&2
    exit 0
fi
apt-get install -y --no-install-recommends $need
