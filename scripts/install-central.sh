#!/bin/bash
# Installs the ANPR central on Debian 12 in one go, as root, from this checkout: what
# docs/operations.md lists under "Install (Debian 12)", in the same order, then
# `anpr-central doctor`. Every step first looks whether it is done already and then leaves
# it alone, so running it twice changes nothing (and says so); no key, certificate or
# config that exists is ever replaced. --dry-run prints each step and changes nothing.
#
#   scripts/install-central.sh --server-name central.example [--server-name 10.1.2.3]
#       [--tls-cert FILE --tls-key FILE] [--client-ca FILE [--client-crl FILE]]
#       [--ca /srv/anpr-ca] [--no-start] [--dry-run]
#
# --server-name  the names (and addresses) officers and units use for this host; the first
#                is the certificate's name. Repeat for more.
# --tls-cert/--tls-key  the site's certificate chain and key (e.g. from the police PKI);
#                without them the project's CA issues one (/etc/anpr/web/broker.crt): give
#                officers' browsers /srv/anpr-ca/ca.crt to trust.
# --client-ca    require a workstation certificate from this CA for the officers' pages
#                (deploy/nginx/anpr-client-certificates.conf); --client-crl its CRL.
# --ca           the certificate authority's folder (made here when absent).
# --no-start     install and enable everything, start and reload nothing, leave out the
#                doctor (an image being built, a host without systemd running): start the
#                services, then run `anpr-central doctor`.
set -euo pipefail

CHECKOUT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/anpr
CA=/srv/anpr-ca
CONFIG=/etc/anpr/central.toml
SITE=/etc/nginx/sites-available/anpr-central
SNIPPET=/etc/nginx/snippets/anpr-client-certificates.conf
UNITS_DIR=/etc/systemd/system
UNITS=(anpr-audit-keeper.service anpr-central.service anpr-central-web.service
       anpr-central-maintenance.service anpr-central-maintenance.timer
       anpr-central-backup.service anpr-central-backup.timer
       anpr-crl-renew.service anpr-crl-renew.timer)
ENABLE=(anpr-audit-keeper anpr-central anpr-central-web anpr-central-maintenance.timer
        anpr-central-backup.timer anpr-crl-renew.timer)
PACKAGES=(mosquitto python3-venv nginx openssl)
PROVISION=$PREFIX/bin/anpr-provision

DRY_RUN=no
NO_START=no
NAMES=()
TLS_CERT=""
TLS_KEY=""
CLIENT_CA=""
CLIENT_CRL=""
CHANGED=0
UNITS_CHANGED=no

die() {
    echo "install-central: $*" >&2
    exit 2
}

usage() {
    sed -n '9,22p' "$0" | sed 's/^# \{0,1\}//'
}

# One line per step: "ok" when it is in place already, "do" (or "would") when it is done now.
kept() { printf 'ok     %s\n' "$1"; }

change() {
    local what=$1 shown
    shift
    CHANGED=$((CHANGED + 1))
    shown="$*"
    # A file written whole is named with its mode, not printed.
    [ "$1" != install_text ] || shown="write $2 (mode $3)"
    if [ "$DRY_RUN" = yes ]; then
        printf 'would  %s\n       $ %s\n' "$what" "$shown"
    else
        printf 'do     %s\n       $ %s\n' "$what" "$shown"
        "$@"
    fi
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            --server-name) NAMES+=("${2:?--server-name needs a name}"); shift 2 ;;
            --tls-cert) TLS_CERT=${2:?--tls-cert needs a file}; shift 2 ;;
            --tls-key) TLS_KEY=${2:?--tls-key needs a file}; shift 2 ;;
            --client-ca) CLIENT_CA=${2:?--client-ca needs a file}; shift 2 ;;
            --client-crl) CLIENT_CRL=${2:?--client-crl needs a file}; shift 2 ;;
            --ca) CA=${2:?--ca needs a folder}; shift 2 ;;
            --no-start) NO_START=yes; shift ;;
            --dry-run) DRY_RUN=yes; shift ;;
            -h | --help) usage; exit 0 ;;
            *) die "unknown option $1 (see --help)" ;;
        esac
    done
    [ ${#NAMES[@]} -gt 0 ] || die "--server-name NAME is required: the name officers type for this host"
    if [ -n "$TLS_CERT" ] || [ -n "$TLS_KEY" ]; then
        if [ -z "$TLS_CERT" ] || [ -z "$TLS_KEY" ]; then
            die "give both --tls-cert and --tls-key, or neither"
        fi
        [ -r "$TLS_CERT" ] || die "--tls-cert $TLS_CERT cannot be read"
        [ -r "$TLS_KEY" ] || die "--tls-key $TLS_KEY cannot be read"
    fi
    if [ -n "$CLIENT_CA" ]; then
        [ -r "$CLIENT_CA" ] || die "--client-ca $CLIENT_CA cannot be read"
    fi
    [ -z "$CLIENT_CRL" ] || [ -n "$CLIENT_CA" ] || die "--client-crl needs --client-ca"
    return 0
}

preflight() {
    if [ "$DRY_RUN" = no ] && [ "$(id -u)" != 0 ]; then
        echo "install-central: run as root (or with --dry-run to see the steps)" >&2
        exit 1
    fi
    if ! grep -qs '^VERSION_ID="12"' /etc/os-release; then
        echo "install-central: warning: this is not Debian 12; the steps assume its packages" >&2
    fi
    [ -f "$CHECKOUT/pyproject.toml" ] || die "$CHECKOUT is not the project's checkout"
}

packages() {
    local missing=() package
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$package")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        kept "Debian packages: ${PACKAGES[*]}"
    else
        change "Debian packages: ${missing[*]}" apt-get install -y -q "${missing[@]}"
    fi
}

accounts() {
    if id anpr-central >/dev/null 2>&1; then
        kept "account anpr-central"
    else
        change "account anpr-central (runs the services)" \
            useradd --system --home /var/lib/anpr-central --shell /usr/sbin/nologin anpr-central
    fi
    if id anpr-audit >/dev/null 2>&1; then
        kept "account anpr-audit"
    else
        change "account anpr-audit (the audit anchor's own account)" \
            useradd --system --home /var/lib/anpr-audit-keeper --shell /usr/sbin/nologin anpr-audit
    fi
}

checkout_revision() {
    git -C "$CHECKOUT" rev-parse HEAD 2>/dev/null || echo unknown
    git -C "$CHECKOUT" status --porcelain --untracked-files=no 2>/dev/null | sha256sum | cut -c1-16
}

software() {
    local stamp="$PREFIX/.installed-from"
    local revision
    revision=$(checkout_revision)
    if [ -x "$PREFIX/bin/anpr-central" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$revision" ]; then
        kept "software in $PREFIX from $CHECKOUT"
        return
    fi
    [ -x "$PREFIX/bin/python" ] || change "Python environment $PREFIX" python3 -m venv "$PREFIX"
    change "software from $CHECKOUT into $PREFIX (with gunicorn)" \
        "$PREFIX/bin/pip" install --quiet "${CHECKOUT}[server]"
    change "documentation in $PREFIX/docs (the units' Documentation=)" \
        install -D -m 0644 -t "$PREFIX/docs" "$CHECKOUT"/docs/*.md
    if [ "$DRY_RUN" = no ]; then
        printf '%s\n' "$revision" >"$stamp"
    fi
}

folder() { # folder PATH MODE [OWNER]
    local path=$1 mode=$2 owner=${3:-root}
    if [ -d "$path" ] && [ "$(stat -c '%a %U' "$path")" = "${mode#0} $owner" ]; then
        kept "folder $path ($mode, $owner)"
    else
        change "folder $path ($mode, $owner)" install -d -o "$owner" -g "$owner" -m "$mode" "$path"
    fi
}

keys() {
    folder /etc/anpr 0755
    folder /etc/anpr/credentials 0700
    if [ -e /etc/anpr/credentials/session.key ]; then
        kept "central keys in /etc/anpr/credentials"
    else
        change "central keys: ack, seal, audit, session" \
            "$PROVISION" central-keys --out /etc/anpr/credentials
    fi
}

authority() {
    local hosts=() name
    for name in "${NAMES[@]}"; do hosts+=(--host "$name"); done
    if [ -e "$CA/ca.crt" ]; then
        kept "certificate authority $CA"
    else
        change "certificate authority $CA (keep ca.key offline once set up)" "$PROVISION" ca-init --ca "$CA"
    fi
    if [ -e /etc/anpr/broker/broker.crt ]; then
        kept "broker certificate /etc/anpr/broker/broker.crt"
    else
        change "broker certificate for ${NAMES[*]} and 127.0.0.1 (the ingest's address)" \
            "$PROVISION" broker-cert --ca "$CA" "${hosts[@]}" --host 127.0.0.1 --out /etc/anpr/broker
    fi
    if [ -e /etc/mosquitto/anpr/mosquitto.conf ]; then
        kept "broker configuration /etc/mosquitto/anpr"
    else
        change "broker configuration /etc/mosquitto/anpr (TLS, client certificates, CRL, ACL)" \
            "$PROVISION" broker-config --ca "$CA" --broker-cert /etc/anpr/broker --out /etc/mosquitto/anpr
    fi
    if [ -e /etc/anpr/tls/anpr-central-ingest.crt ]; then
        kept "ingest's MQTT identity /etc/anpr/tls"
    else
        change "ingest's MQTT identity /etc/anpr/tls" "$PROVISION" client-cert --ca "$CA" --out /etc/anpr/tls
    fi
    if cmp -s "$CA/ca.crt" /etc/anpr/tls/ca.crt; then
        kept "CA certificate beside it"
    else
        change "CA certificate beside it" install -m 0644 "$CA/ca.crt" /etc/anpr/tls/ca.crt
    fi
}

# Mosquitto 2 gives up root before it reads its certificate and key, and runs as the
# account mosquitto (Debian's package makes it): the key's folder and the key are the
# group's to read, the persistence folder is its to write.
broker_files() {
    local path mode
    for path in /etc/anpr/broker:750 /etc/anpr/broker/broker.key:640; do
        mode=${path#*:}
        path=${path%:*}
        if [ "$(stat -c '%G %a' "$path" 2>/dev/null)" = "mosquitto $mode" ]; then
            kept "$path readable by Mosquitto (group mosquitto, $mode)"
        else
            change "$path readable by Mosquitto: group mosquitto" chgrp mosquitto "$path"
            change "$path readable by Mosquitto: mode $mode" chmod "$mode" "$path"
        fi
    done
    path=/etc/mosquitto/anpr/data
    if [ "$(stat -c '%U' "$path" 2>/dev/null)" = mosquitto ]; then
        kept "$path Mosquitto's (its persistence)"
    else
        change "$path Mosquitto's (its persistence)" chown mosquitto:mosquitto "$path"
    fi
}

broker_service() {
    local dropin=/etc/systemd/system/mosquitto.service.d/anpr.conf
    local want
    want=$(printf '[Service]\nExecStart=\nExecStart=/usr/sbin/mosquitto -c /etc/mosquitto/anpr/mosquitto.conf\n')
    if [ "$(cat "$dropin" 2>/dev/null)" = "$want" ]; then
        kept "Mosquitto runs /etc/mosquitto/anpr/mosquitto.conf"
    else
        change "Mosquitto runs /etc/mosquitto/anpr/mosquitto.conf ($dropin)" \
            install_text "$dropin" 0644 "$want"
        UNITS_CHANGED=yes
    fi
}

install_text() { # install_text PATH MODE TEXT: written whole, then moved into place
    install -d "$(dirname "$1")"
    printf '%s\n' "$3" >"$1.new"
    chmod "$2" "$1.new"
    mv "$1.new" "$1"
}

backups() { # two different media: mount them before, or move the folders after
    folder /backup/anpr 0700 anpr-central
    folder /backup-keys/anpr 0700 anpr-central
}

site_certificate() {
    if [ -n "$TLS_CERT" ]; then
        SITE_CERT=$TLS_CERT
        SITE_KEY=$TLS_KEY
        kept "site certificate given: $TLS_CERT"
        return
    fi
    SITE_CERT=/etc/anpr/web/broker.crt
    SITE_KEY=/etc/anpr/web/broker.key
    local hosts=() name
    for name in "${NAMES[@]}"; do hosts+=(--host "$name"); done
    if [ -e "$SITE_CERT" ]; then
        kept "site certificate $SITE_CERT"
    else
        change "site certificate for ${NAMES[*]} from the project's CA" \
            "$PROVISION" broker-cert --ca "$CA" "${hosts[@]}" --out /etc/anpr/web
    fi
}

configuration() {
    if [ -e "$CONFIG" ]; then
        kept "configuration $CONFIG (kept as it is)"
        return
    fi
    local text
    text=$(sed "s|@SITE_CERT@|$SITE_CERT|" "$CHECKOUT/deploy/central/central.toml")
    change "configuration $CONFIG (from deploy/central/central.toml)" install_text "$CONFIG" 0644 "$text"
}

units() {
    local unit
    for unit in "${UNITS[@]}"; do
        if cmp -s "$CHECKOUT/systemd/$unit" "$UNITS_DIR/$unit"; then
            kept "unit $unit"
        else
            change "unit $unit" install -m 0644 "$CHECKOUT/systemd/$unit" "$UNITS_DIR/$unit"
            UNITS_CHANGED=yes
        fi
    done
    if [ "$NO_START" = yes ]; then
        for unit in mosquitto "${ENABLE[@]}"; do
            if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
                kept "$unit enabled (--no-start: not started)"
            else
                change "$unit enabled (--no-start: not started)" systemctl enable "$unit"
            fi
        done
        return 0
    fi
    if [ "$UNITS_CHANGED" = yes ]; then
        change "systemd reads the units" systemctl daemon-reload
    fi
    for unit in mosquitto "${ENABLE[@]}"; do
        if systemctl is-enabled --quiet "$unit" 2>/dev/null && systemctl is-active --quiet "$unit" 2>/dev/null; then
            kept "$unit enabled and running"
        else
            change "$unit enabled and running" systemctl enable --now "$unit"
        fi
    done
    if [ "$UNITS_CHANGED" = yes ]; then
        change "services restarted on the new units" systemctl try-restart mosquitto "${ENABLE[@]}"
    fi
}

render_site() {
    local names="${NAMES[*]}" certs="" check=""
    if [ -n "$CLIENT_CA" ]; then
        certs="include $SNIPPET;"
        # shellcheck disable=SC2016 # an nginx variable, written as it is
        check='if ($ssl_client_verify != SUCCESS) { return 403; }'
    fi
    sed -e "s|@SERVER_NAMES@|$names|g" -e "s|@HTTPS_LISTEN@|443|g" -e "s|@HTTP_LISTEN@|80|g" \
        -e "s|@HTTPS_PORT_SUFFIX@||g" -e "s|@TLS_CERT@|$SITE_CERT|g" -e "s|@TLS_KEY@|$SITE_KEY|g" \
        -e "s|@UPSTREAM@|127.0.0.1:8080|g" -e "s|@LOG_DIR@|/var/log/nginx|g" \
        -e "s|@CLIENT_CERTS@|$certs|g" -e "s|@CLIENT_CERT_CHECK@|$check|g" \
        "$CHECKOUT/deploy/nginx/anpr-central.conf"
}

render_snippet() {
    local crl=""
    [ -z "$CLIENT_CRL" ] || crl="ssl_crl $CLIENT_CRL;"
    sed -e "s|@CLIENT_CA@|$CLIENT_CA|g" -e "s|@CLIENT_CRL@|$crl|g" \
        "$CHECKOUT/deploy/nginx/anpr-client-certificates.conf"
}

proxy() {
    local changed=no text
    if [ -n "$CLIENT_CA" ]; then
        text=$(render_snippet)
        if [ "$(cat "$SNIPPET" 2>/dev/null)" = "$text" ]; then
            kept "workstation certificates required ($SNIPPET)"
        else
            change "workstation certificates required ($SNIPPET)" install_text "$SNIPPET" 0644 "$text"
            changed=yes
        fi
    fi
    text=$(render_site)
    if [ "$(cat "$SITE" 2>/dev/null)" = "$text" ]; then
        kept "nginx site $SITE"
    else
        change "nginx site $SITE (from deploy/nginx/anpr-central.conf)" install_text "$SITE" 0644 "$text"
        changed=yes
    fi
    if [ "$(readlink /etc/nginx/sites-enabled/anpr-central 2>/dev/null)" = "$SITE" ]; then
        kept "nginx site enabled"
    else
        change "nginx site enabled" ln -sfn "$SITE" /etc/nginx/sites-enabled/anpr-central
        changed=yes
    fi
    if [ -e /etc/nginx/sites-enabled/default ]; then
        change "Debian's default site disabled (it would take port 80 from ours)" \
            rm /etc/nginx/sites-enabled/default
        changed=yes
    else
        kept "Debian's default site disabled"
    fi
    if [ "$changed" = yes ]; then
        change "nginx checks its configuration" nginx -t
        [ "$NO_START" = yes ] || change "nginx serves the site" systemctl reload-or-restart nginx
    fi
    if systemctl is-enabled --quiet nginx 2>/dev/null; then
        kept "nginx enabled"
    elif [ "$NO_START" = yes ]; then
        change "nginx enabled (--no-start: not started)" systemctl enable nginx
    else
        change "nginx enabled and running" systemctl enable --now nginx
    fi
}

doctor() {
    local command=("$PREFIX/bin/anpr-central" --config "$CONFIG" doctor)
    if [ "$DRY_RUN" = yes ]; then
        printf 'would  check the install\n       $ %s\n' "${command[*]}"
        return 0
    fi
    printf 'check  the install\n       $ %s\n' "${command[*]}"
    "${command[@]}"
}

main() {
    parse_args "$@"
    preflight
    packages
    accounts
    software
    keys
    authority
    broker_files
    broker_service
    backups
    site_certificate
    configuration
    units
    proxy
    if [ "$CHANGED" -eq 0 ]; then
        echo "nothing changed: everything was in place already"
    elif [ "$DRY_RUN" = yes ]; then
        echo "dry run: $CHANGED step(s) would change this host; nothing was changed"
    else
        echo "$CHANGED step(s) changed this host"
    fi
    if [ "$NO_START" = yes ]; then
        echo "--no-start: nothing was started; start the services, then run:"
        echo "  $PREFIX/bin/anpr-central --config $CONFIG doctor"
        return 0
    fi
    local status=0
    doctor || status=$?
    if [ "$DRY_RUN" = no ]; then
        cat <<EOF
next: the first administrator's account (the printed otpauth:// URI goes to them alone):
  $PREFIX/bin/anpr-central --config $CONFIG user-add --username NAME --full-name ... --unit ... --role plan_admin --password-file FILE
EOF
    fi
    # The doctor's WARN (1) leaves a working install; its FAIL (2) is the installer's too.
    [ "$status" -ne 2 ] || exit 2
}

# Sourced (tests/test_install_central.py renders the site with it), it only defines.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
