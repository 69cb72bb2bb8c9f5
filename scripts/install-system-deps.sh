#!/bin/sh
# Installs the Debian packages the project needs (Mosquitto, nginx, Python venv support,
# Chromium for the browser tests, systemd-analyze for the unit checks, shellcheck) when they are missing. Runs as root on a fresh Debian machine; a no-op when everything is present.
# Mosquitto is installed but not started: the project starts its own broker on loopback
# from a generated config, so the packaged service must not grab port 1883 on install.
set -eu

need=""
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need="$need mosquitto"
command -v mosquitto_pub >/dev/null 2>&1 || need="$need mosquitto-clients"
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need="$need python3-venv"
command -v python3 >/dev/null 2>&1 || need="$need python3"
# Browser tests drive Debian's Chromium (test tools may not download browsers here).
[ -x /usr/bin/chromium ] || need="$need chromium"
# tests/test_systemd_units.py checks the shipped units with systemd-analyze (verify and
# security --offline); a container without systemd as PID 1 still gets the tool this way.
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
# The officers' TLS reverse proxy (deploy/nginx/), run in front of the app by
# tests/test_nginx_proxy.py; installed, not started (policy-rc.d below), like Mosquitto.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$need nginx"
# tests/test_install_central.py lints the installer with shellcheck (in Debian's repos).
# tests/test_install_unit.py lints scripts/install-unit.sh and scripts/test-arm64.sh with it too.
command -v shellcheck >/dev/null 2>&1 || need="$need shellcheck"
# tests/test_crl_renewal.py reads the certificate the broker serves with openssl s_client.
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# tests/test_install_network.py: hosts in network namespaces (ip), pages fetched with curl,
# each host's venv made by Debian's own python3 (its venv module needs python3-venv).
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need="$need iproute2"
command -v curl >/dev/null 2>&1 || need="$need curl"
[ ! -x /usr/bin/python3 ] || /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 ||
    need="$need python3-venv"
# anpr-provision broker-config builds the broker's refusal-reporting plugin from its C source
# (provisioning/mosquitto/anpr_refusals.c) against the installed Mosquitto's headers.
command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
[ -e /usr/include/mosquitto_broker.h ] || need="$need mosquitto-dev libmosquitto-dev"
# tests/soak.py runs Mosquitto under libfaketime, so its TLS checks see the simulated date.
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || \
    [ -e /usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1 ] || need="$need libfaketime"

# The central's PostgreSQL backend (#21): the tests start their own throwaway clusters from
# Debian's server binaries (initdb in a temporary folder, loopback only); the packaged
# cluster is not started (policy-rc.d below).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"

if [ -z "$need" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages:$need; run 'make test' as root or install them with apt-get" >&2
    exit 1
fi

echo "installing Debian packages:$need"
policy=/usr/sbin/policy-rc.d
created_policy=no
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=yes
fi
trap '[ "$created_policy" = yes ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $need
