#!/bin/sh
# `make test-arm64` (issue #22): the unit's production install, on arm64, as a technician runs
# it. A Debian bookworm arm64 root is built once with debootstrap under qemu-user and kept in
# var/arm64-root (reused when present; delete it to start over); each run copies it to
# var/arm64-run, copies this checkout in, runs scripts/install-unit.sh there (no systemd as
# PID 1: the unit file is installed, not started), runs it again (it must change nothing),
# and then, inside the arm64 root: `anpr-agent --version`, the offline checks (the real ONNX
# models read the sample frame), and the on-site self-test's parts that need no broker.
# Downloads come from Debian's mirror and PyPI only. Prints the time of each phase.
# Needs root, network and a few GB in var/; not part of `make test` (tens of minutes).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
base=${ARM64_ROOT:-$here/var/arm64-root}
run=${ARM64_RUN:-$here/var/arm64-run}
pip_cache=${ARM64_PIP_CACHE:-$here/var/arm64-pip-cache}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

die() { echo "test-arm64: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and mounts need it)"

started=$(date +%s)
phase_started=$started
phase_name=""
timings=""
phase() {
    now=$(date +%s)
    if [ -n "$phase_name" ]; then
        timings="$timings$(printf '  %-44s %5d s' "$phase_name" $((now - phase_started)))
"
        printf '=== %s: %d s\n' "$phase_name" $((now - phase_started))
    fi
    phase_name=$1
    phase_started=$now
    [ -z "$phase_name" ] || printf '=== %s\n' "$phase_name"
}

mounted=""
unmount_all() {
    for target in $mounted; do
        umount -l "$target" 2>/dev/null || true
    done
    mounted=""
}
trap unmount_all EXIT
trap 'unmount_all; exit 130' INT TERM

# Refuse to delete a tree that still has anything mounted below it (the host's /dev, /proc).
remove_tree() {
    if [ -e "$1" ]; then
        if awk -v p="$1/" 'index($2 "/", p) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
            die "$1 still has mounts below it; unmount them first"
        fi
        rm -rf "$1"
    fi
}

phase "host tools (debootstrap, qemu-user-static)"
need=""
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
[ -x /usr/bin/qemu-aarch64-static ] || need="$need qemu-user-static"
command -v update-binfmts >/dev/null 2>&1 || need="$need binfmt-support"
if [ -n "$need" ]; then
    echo "installing Debian packages:$need"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need
fi

phase "binfmt_misc: qemu-aarch64 registered"
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64 || update-binfmts --import qemu-aarch64 || true
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] ||
    die "qemu-aarch64 is not registered in binfmt_misc (update-binfmts --enable qemu-aarch64)"
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || echo 1 > /proc/sys/fs/binfmt_misc/qemu-aarch64
sed -n 's/^/  /p' /proc/sys/fs/binfmt_misc/qemu-aarch64 | head -3

# No /sys: onnxruntime's cpuinfo reads the CPU list and registers there, finds the x86
# host's, and crashes the emulated process (SIGSEGV under qemu-user); nothing here needs it.
mount_in() { # mount_in ROOT: what a chroot needs of the host (nothing is written back)
    for dir in proc dev dev/pts; do
        mkdir -p "$1/$dir"
    done
    mount -t proc proc "$1/proc" && mounted="$1/proc $mounted"
    mount --bind /dev "$1/dev" && mounted="$1/dev $mounted"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$1/dev/pts" && mounted="$1/dev/pts $mounted"
    cp /etc/resolv.conf "$1/etc/resolv.conf"
}

# Inside the root: a clean environment, so no host pip setting (local wheel folders,
# extra indexes, constraints) reaches the install: PyPI only.
in_root() { # in_root ROOT COMMAND...
    root=$1
    shift
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"
}

if [ -e "$base/.anpr-arm64-root" ]; then
    phase "arm64 root: reusing $base"
else
    phase "arm64 root: debootstrap --foreign (first stage, host)"
    partial=$base.partial
    remove_tree "$partial"
    mkdir -p "$(dirname "$base")"
    debootstrap --arch=arm64 --foreign --variant=minbase \
        --include=ca-certificates "$suite" "$partial" "$mirror"
    # The kernel's registration has the F flag where the package set it (the interpreter is
    # opened once, on the host); copying it in also serves hosts registered without it.
    cp /usr/bin/qemu-aarch64-static "$partial/usr/bin/"
    phase "arm64 root: debootstrap --second-stage (arm64, under qemu)"
    in_root "$partial" /debootstrap/debootstrap --second-stage
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb http://deb.debian.org/debian-security %s-security main\n' \
        "$mirror" "$suite" "$mirror" "$suite" "$suite" > "$partial/etc/apt/sources.list"
    # Services must not start inside the root (the installer's apt-get runs there).
    printf '#!/bin/sh\nexit 101\n' > "$partial/usr/sbin/policy-rc.d"
    chmod 755 "$partial/usr/sbin/policy-rc.d"
    in_root "$partial" uname -m
    date -u +%FT%TZ > "$partial/.anpr-arm64-root"
    mv "$partial" "$base"
fi

phase "copy: base root to $run, checkout to /root/anpr"
remove_tree "$run"
cp -a "$base" "$run"
mkdir -p "$run/root/anpr" "$pip_cache"
# The checkout as git sees it (tracked files, and new ones not ignored): no .venv, no var/.
(cd "$here" && git ls-files -z --cached --others --exclude-standard |
    tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$run/root/anpr" -xf -
# The host's own added trust anchors (a site's TLS-inspecting proxy, say) go in too, as the
# host trusts them; otherwise pip inside the root cannot reach PyPI through such a proxy.
for anchor in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$anchor" ] || continue
    install -D -m 0644 "$anchor" "$run/usr/local/share/ca-certificates/$(basename "$anchor")"
    cat "$anchor" >> "$run/etc/ssl/certs/ca-certificates.crt"
done
mount_in "$run"
mkdir -p "$run/root/.cache/pip"
mount --bind "$pip_cache" "$run/root/.cache/pip" && mounted="$run/root/.cache/pip $mounted"
in_root "$run" uname -m | grep -qx aarch64 || die "the root does not run as aarch64"

# Installed as a Raspberry Pi (Debian's mirror has no python3-picamera2: the installer must
# say so and go on), so the `pi` extra is exercised too.
platform=pi

phase "install-unit.sh (first run)"
in_root "$run" sh /root/anpr/scripts/install-unit.sh --platform "$platform"

phase "install-unit.sh (second run: idempotent)"
in_root "$run" sh /root/anpr/scripts/install-unit.sh --platform "$platform" > "$run/root/second-run.log" 2>&1 ||
    { cat "$run/root/second-run.log"; die "the second run failed"; }
tail -n 3 "$run/root/second-run.log"
grep -q 'nothing to change' "$run/root/second-run.log" || die "the second run changed something"

phase "anpr-agent --version (arm64), also by the path the unit runs (current -> .)"
in_root "$run" /opt/anpr/bin/anpr-agent --version
in_root "$run" /opt/anpr/current/bin/anpr-agent --version
[ "$(readlink "$run/opt/anpr/current")" = . ] || die "/opt/anpr/current is not the install (current -> .)"

phase "offline checks: models read the sample frame (arm64)"
in_root "$run" /opt/anpr/bin/python -m provisioning.unit_check

phase "simplejpeg (the pi extra) encodes under the pinned numpy (arm64)"
in_root "$run" /opt/anpr/bin/python -c '
import importlib.metadata as m, numpy, simplejpeg
jpeg = simplejpeg.encode_jpeg(numpy.zeros((16, 16, 3), numpy.uint8), colorspace="BGR")
assert jpeg[:2] == b"\xff\xd8", jpeg[:2]
print("simplejpeg", m.version("simplejpeg"), "numpy", numpy.__version__, "OK")'

phase "self-test without a broker: keys, agent.toml, anpr-agent check, frames, models"
# As a technician does on site (docs/operations.md), with a central's keys made here to stand
# in for the real central's central-ack.pub, and the sample scenes as the camera.
# shellcheck disable=SC2016  # expanded inside the root, not here
in_root "$run" sh -eux -c '
    camera=a12-hm34-n-1
    anpr-provision unit-init --camera-id $camera --out /etc/anpr/credentials
    anpr-provision central-keys --out /root/stand-in-central
    install -m 0644 /root/stand-in-central/ack-signing.pub /etc/anpr/credentials/central-ack.pub
    install -d -o anpr -g anpr -m 0700 /var/lib/anpr-agent/replay
    install -o anpr -g anpr -m 0600 /root/anpr/samples/replay/* /var/lib/anpr-agent/replay/
    anpr-provision agent-config --camera-id $camera --lat 52.0907 --lon 5.1214 --direction N \
        --broker-host central.example --out /etc/anpr/agent.toml
    export CREDENTIALS_DIRECTORY=/etc/anpr/credentials
    anpr-agent check --config /etc/anpr/agent.toml
    /opt/anpr/bin/python -m provisioning.unit_check --config /etc/anpr/agent.toml
    stat -c "%n %U:%G %a" /etc/anpr/credentials /etc/anpr/credentials/$camera.key /var/lib/anpr-agent
'

phase "install-unit.sh (third run: with agent.toml, runs anpr-agent check)"
in_root "$run" sh /root/anpr/scripts/install-unit.sh --platform "$platform" > "$run/root/third-run.log" 2>&1 ||
    { cat "$run/root/third-run.log"; die "the third run failed"; }
tail -n 4 "$run/root/third-run.log"

phase ""
unmount_all
echo "arm64 install test passed on $(cut -c1-10 "$base/.anpr-arm64-root")'s root; phases:"
printf '%s' "$timings"
printf '  %-44s %5d s\n' "total" $(($(date +%s) - started))
