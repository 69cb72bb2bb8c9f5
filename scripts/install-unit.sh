#!/bin/sh
# The roadside unit's production install (issue #22), run as root from a checkout on the
# unit: Raspberry Pi OS bookworm (arm64), Debian 12 and other Debian-based hosts, and a
# Jetson on JetPack 6 (Ubuntu 22.04, its own Python 3.10). docs/operations.md, "An agent
# on a Raspberry Pi 5 or Jetson", lists the same steps; `--dry-run` prints them and changes
# nothing. Idempotent: a second run changes nothing. It never enables or starts the agent:
# the camera id, keys and certificates come later (enrolment, then `systemctl enable`).
#
#   sh scripts/install-unit.sh [--dry-run] [--python PYTHON] [--os-opencv]
#                              [--platform auto|pi|jetson|debian] [--prefix /opt/anpr]
#                              [--onnxruntime-gpu-index URL]
set -eu

usage() {
    cat <<'EOF'
usage: install-unit.sh [--dry-run] [--python PYTHON] [--os-opencv] [--platform P] [--prefix DIR]
                       [--onnxruntime-gpu-index URL]

  --dry-run      print the steps and what each would do; change nothing (any user)
  --python P     the interpreter for the venv (3.10 or newer; default: python3, then
                 python3.13 ... python3.10 on PATH; a Jetson's python3 is JetPack's 3.10)
  --os-opencv    use the OS's OpenCV (python3-opencv, built with GStreamer: `gst:` sources)
                 through the venv's system site packages instead of PyPI's OpenCV
  --platform P   auto (default), pi, jetson or debian: what the host is taken for
  --prefix DIR   the venv (default /opt/anpr; the systemd unit runs
                 /opt/anpr/current/bin/anpr-agent, current -> . until a software update)
  --onnxruntime-gpu-index URL
                 Jetson: install onnxruntime-gpu (TensorRT, CUDA) from this package index,
                 NVIDIA's for JetPack 6, instead of PyPI's onnxruntime (CPU only). Without
                 it, an onnxruntime-gpu in the OS's python3 is used when there is one.
EOF
}

src=$(cd "$(dirname "$0")/.." && pwd)
dry_run=no
python=""
os_opencv=no
platform=auto
prefix=/opt/anpr
ort_index=""
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) dry_run=yes ;;
        --python) [ $# -ge 2 ] || { usage >&2; exit 2; }; python=$2; shift ;;
        --os-opencv) os_opencv=yes ;;
        --platform) [ $# -ge 2 ] || { usage >&2; exit 2; }; platform=$2; shift ;;
        --prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; prefix=$2; shift ;;
        --onnxruntime-gpu-index) [ $# -ge 2 ] || { usage >&2; exit 2; }; ort_index=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-unit: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case $platform in auto|pi|jetson|debian) ;; *) echo "install-unit: --platform auto|pi|jetson|debian" >&2; exit 2 ;; esac
case $ort_index in ""|http://*|https://*|file://*) ;; *) echo "install-unit: --onnxruntime-gpu-index takes a URL (https://...)" >&2; exit 2 ;; esac

etc=/etc/anpr
credentials=$etc/credentials
state=/var/lib/anpr-agent
units=/etc/systemd/system
user=anpr

die() {
    echo "install-unit: $*" >&2
    exit 1
}
note() { echo "  note: $*"; }
# Each step prints its title (docs/operations.md lists the same titles, in this order).
step() { printf '\n[%s] %s\n' "$1" "$2"; }
# Run a command, or only show it with --dry-run.
act() {
    if [ "$dry_run" = yes ]; then
        echo "  would run: $*"
    else
        echo "  + $*"
        "$@"
    fi
}
changed=0
did() { changed=$((changed + 1)); }

if [ "$dry_run" = no ] && [ "$(id -u)" != 0 ]; then
    die "run as root (it creates a service user, /opt/anpr and a systemd unit); --dry-run shows the steps"
fi
if [ ! -f "$src/pyproject.toml" ] || [ ! -f "$src/systemd/anpr-agent@.service" ]; then
    die "$src is not a checkout of this project (pyproject.toml, systemd/anpr-agent@.service)"
fi

# --------------------------------------------------------------------------------------
step 1 "check the host: Debian-based, architecture, Raspberry Pi or Jetson"
[ -r /etc/os-release ] || die "no /etc/os-release: only Debian-based hosts are supported"
os_field() { sed -n "s/^$1=//p" /etc/os-release | tr -d '"' | head -n 1; }
os_id=$(os_field ID)
os_like=$(os_field ID_LIKE)
os_name=$(os_field PRETTY_NAME)
case " $os_id $os_like " in
    *" debian "*|*" ubuntu "*|*" raspbian "*) ;;
    *) die "$os_name is not Debian-based: this installer needs apt-get (Raspberry Pi OS, Debian, Ubuntu/JetPack)" ;;
esac
command -v apt-get >/dev/null 2>&1 || die "apt-get not found on $os_name"
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
model=$(tr -d '\000' 2>/dev/null < /proc/device-tree/model || true)
if [ "$platform" = auto ]; then
    platform=debian
    if [ -e /etc/nv_tegra_release ] || case $model in *Jetson*|*NVIDIA*) true ;; *) false ;; esac; then
        platform=jetson
    elif case $model in *"Raspberry Pi"*) true ;; *) false ;; esac ||
        grep -rqs 'archive.raspberrypi' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        platform=pi
    fi
fi
echo "  $os_name, $arch${model:+, $model}: installing as platform '$platform'"
[ -z "$ort_index" ] || [ "$platform" = jetson ] ||
    die "--onnxruntime-gpu-index is for a Jetson (NVIDIA's builds for JetPack); this host is taken for '$platform' (--platform jetson overrides)"
case $arch in
    arm64|aarch64) ;;
    *) note "units run on arm64 (Pi 5, Jetson); $arch works for a USB/RTSP camera but is not what 'make test-arm64' tests" ;;
esac

# --------------------------------------------------------------------------------------
step 2 "find Python 3.10 or newer (JetPack 6's python3 is 3.10; Debian 12 and Raspberry Pi OS bookworm have 3.11)"
version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
new_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; }
if [ -n "$python" ]; then
    command -v "$python" >/dev/null 2>&1 || die "--python $python: not found"
    new_enough "$python" || die "--python $python is Python $(version_of "$python"): the unit needs 3.10 or newer"
else
    for candidate in python3 python3.13 python3.12 python3.11 python3.10; do
        if command -v "$candidate" >/dev/null 2>&1 && new_enough "$candidate"; then
            python=$candidate
            break
        fi
    done
fi
if [ -z "$python" ] && ! command -v python3 >/dev/null 2>&1; then
    # A minimal Debian 12 has no Python at all; its python3 is 3.11 (Ubuntu 22.04's 3.10).
    act apt-get update -q
    act env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-venv
    did
    if [ "$dry_run" = yes ]; then python=python3; elif new_enough python3; then python=python3; fi
fi
if [ -z "$python" ]; then
    die "python3 is $(version_of python3 || echo none); the unit needs Python 3.10 or newer (JetPack 6 ships 3.10, Debian 12 and Raspberry Pi OS bookworm 3.11)"
fi
python=$(command -v "$python" || echo "$python")
pyver=$(version_of "$python" || echo 3.11)
echo "  $python (Python $pyver)"
os_python=no
[ "$(version_of python3 || true)" = "$pyver" ] && os_python=yes
if [ "$os_python" = no ]; then
    note "Python $pyver is not the OS's python3: the OS's Python modules (python3-picamera2, python3-opencv) are built for $(version_of python3 || echo none) and are not usable from the venv"
fi

# --------------------------------------------------------------------------------------
step 3 "install the OS packages: python3-venv, ca-certificates; python3-picamera2 on a Pi; python3-opencv with --os-opencv"
need=""
if [ "$os_python" = yes ]; then venv_pkg=python3-venv; else venv_pkg=python$pyver-venv; fi
"$python" -c 'import ensurepip, venv' >/dev/null 2>&1 || need="$need $venv_pkg"
[ -e /etc/ssl/certs/ca-certificates.crt ] || need="$need ca-certificates"
installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
want_picamera=no
if [ "$platform" = pi ]; then
    want_picamera=yes
    installed python3-picamera2 || need="$need python3-picamera2"
fi
if [ "$os_opencv" = yes ]; then
    installed python3-opencv || need="$need python3-opencv"
    [ "$os_python" = yes ] || die "--os-opencv needs the venv on the OS's python3 ($(version_of python3 || echo none)), not $pyver"
fi
if [ -z "$need" ]; then
    echo "  present"
else
    apt_updated=no
    case $need in
        *python3-picamera2*)
            # Only Raspberry Pi's own repository has it (with libcamera, built for this OS).
            act apt-get update -q && apt_updated=yes
            if [ "$dry_run" = no ] && ! apt-cache policy python3-picamera2 | grep -q 'Candidate: [0-9]'; then
                note "python3-picamera2 is not offered by this host's apt sources (it comes from Raspberry Pi's repository, with the OS's libcamera): skipped; source.kind = \"picamera\" will not work, use a USB or RTSP camera (opencv)"
                need=$(echo "$need" | sed 's/ python3-picamera2//')
                want_picamera=no
            fi
            ;;
    esac
    if [ -n "$need" ]; then
        [ "$apt_updated" = yes ] || act apt-get update -q
        # shellcheck disable=SC2086
        act env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need
        did
    fi
fi

# --------------------------------------------------------------------------------------
step 4 "create the service user anpr (system account, no login shell, group video for the camera)"
if id "$user" >/dev/null 2>&1; then
    echo "  present: $(id "$user")"
else
    act useradd --system --user-group --home-dir "$state" --no-create-home \
        --shell /usr/sbin/nologin --comment "ANPR roadside agent" "$user"
    did
fi
if getent group video >/dev/null 2>&1; then
    if id -nG "$user" 2>/dev/null | tr ' ' '\n' | grep -qx video; then :; else
        act usermod -a -G video "$user"
        did
    fi
else
    note "no group 'video' on this host: the unit adds it as a supplementary group (SupplementaryGroups=video); camera devices belong to it on Raspberry Pi OS, Debian and JetPack"
fi

# --------------------------------------------------------------------------------------
step 5 "create the folders: /etc/anpr (root, 0755), /etc/anpr/credentials (root:anpr, 0750), /var/lib/anpr-agent (anpr, 0700)"
# The credentials folder: private keys stay root's (0600; systemd hands them to the service
# as credentials); the agent, as anpr, reads only the public tls.crt and ca.crt in place.
folder() { # folder PATH OWNER GROUP MODE
    if [ -d "$1" ] && [ "$(stat -c '%U:%G %a' "$1")" = "$2:$3 $4" ]; then
        echo "  present: $1 ($2:$3 $4)"
    else
        act install -d -o "$2" -g "$3" -m "$4" "$1"
        did
    fi
}
folder "$etc" root root 755
folder "$credentials" root "$user" 750
if [ "$dry_run" = no ] || id "$user" >/dev/null 2>&1; then
    folder "$state" "$user" "$user" 700
else
    echo "  would run: install -d -o $user -g $user -m 700 $state"
fi

# --------------------------------------------------------------------------------------
step 6 "create the venv /opt/anpr with --system-site-packages (the OS's picamera2, libcamera and OpenCV stay visible)"
cfg=$prefix/pyvenv.cfg
if [ -x "$prefix/bin/python" ] && [ -f "$cfg" ] &&
    grep -q '^include-system-site-packages = true' "$cfg" &&
    [ "$(version_of "$prefix/bin/python")" = "$pyver" ]; then
    echo "  present: $prefix (Python $pyver, system site packages)"
else
    if [ -e "$prefix/bin/python" ] && [ "$(version_of "$prefix/bin/python" || true)" != "$pyver" ]; then
        die "$prefix holds a venv of Python $(version_of "$prefix/bin/python" || echo '?'), not $pyver: move it away (mv $prefix $prefix.old) and rerun"
    fi
    act "$python" -m venv --system-site-packages "$prefix"
    did
fi

# --------------------------------------------------------------------------------------
extras=""
[ "$os_opencv" = yes ] || extras="camera"
[ "$platform" != pi ] || extras="${extras:+$extras,}pi"
extra=${extras:+[$extras]}
# Which onnxruntime the venv uses: PyPI's (CPU only) everywhere, except on a Jetson given
# NVIDIA's index (onnxruntime-gpu from there), or whose OS python3 already has an onnxruntime
# with the CUDA or TensorRT provider (NVIDIA's, installed system-wide): the venv sees that one
# through its system site packages once PyPI's, which would shadow it, is removed from the venv.
gpu_in_os() {
    (cd / && python3 -c 'import sys, onnxruntime as o; p = o.get_available_providers(); sys.exit(not ({"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(p)))') >/dev/null 2>&1
}
ort=pypi
if [ -n "$ort_index" ]; then
    ort=index
elif [ "$platform" = jetson ] && [ "$os_python" = yes ] && gpu_in_os; then
    ort=os
fi
step 7 "install the project into /opt/anpr with pip (this checkout, extras camera: PyPI's OpenCV unless --os-opencv, pi: simplejpeg for the OS's picamera2; a Jetson's onnxruntime-gpu)"
# A digest of what pip would install: the same checkout again changes nothing.
digest=$(cd "$src" && find pyproject.toml README.md wire node recognition edge_agent central \
    provisioning models traffic_research -type f ! -name '*.pyc' ! -path '*/__pycache__/*' \
    ! -path 'models/train/*' 2>/dev/null | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
stamp=$prefix/.anpr-installed
wanted="$digest $extra $pyver onnxruntime:$ort${ort_index:+ $ort_index}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -x "$prefix/bin/anpr-agent" ]; then
    echo "  present: $("$prefix/bin/anpr-agent" --version) from this checkout (source digest $digest)"
else
    # pip builds in a copy: the checkout (perhaps read-only, perhaps someone's) stays clean.
    if [ "$dry_run" = yes ]; then
        echo "  would copy $src to a temporary folder (no .git, .venv, var/), then"
        echo "  would run: $prefix/bin/pip install --no-input <that copy>$extra"
        case $ort in
            index)
                echo "  would run: $prefix/bin/pip uninstall -y onnxruntime"
                echo "  would run: $prefix/bin/pip install --no-input --no-deps --force-reinstall --index-url $ort_index onnxruntime-gpu"
                ;;
            os) echo "  would run: $prefix/bin/pip uninstall -y onnxruntime   (the OS python3's onnxruntime-gpu is used)" ;;
            *) [ "$platform" != jetson ] || note "PyPI's onnxruntime runs on the CPU only: --onnxruntime-gpu-index <NVIDIA's index> for TensorRT/CUDA" ;;
        esac
    else
        build=$(mktemp -d)
        (cd "$src" && tar --exclude=./.git --exclude=./.venv --exclude=./var --exclude=./build \
            --exclude='*.egg-info' --exclude=__pycache__ -cf - .) | tar -C "$build" -xf -
        act "$prefix/bin/pip" install --no-input --disable-pip-version-check "$build$extra"
        rm -rf "$build"
        # PyPI's onnxruntime and onnxruntime-gpu install the same module, `onnxruntime`: the
        # project's pin brings PyPI's; it goes, and the GPU build takes its place. pip check
        # then names the pin as missing; the import is what counts (step 9).
        if [ "$ort" != pypi ]; then
            act "$prefix/bin/pip" uninstall -y -q onnxruntime
        fi
        if [ "$ort" = index ]; then
            # Only from that index, and nothing else changes: its dependencies are PyPI
            # onnxruntime's, already installed at the project's pins (numpy among them).
            act "$prefix/bin/pip" install --no-input --disable-pip-version-check --no-deps \
                --force-reinstall --index-url "$ort_index" onnxruntime-gpu ||
                die "no onnxruntime-gpu for Python $pyver at $ort_index (NVIDIA builds JetPack 6's for its python3, 3.10)"
        elif [ "$ort" = os ]; then
            note "the OS python3's onnxruntime-gpu is used: $(cd / && python3 -c 'import onnxruntime as o; print(o.__version__, o.__file__)')"
        elif [ "$platform" = jetson ]; then
            note "PyPI's onnxruntime runs on the CPU only: rerun with --onnxruntime-gpu-index <NVIDIA's index> for TensorRT/CUDA (docs/operations.md, \"A Jetson (JetPack 6)\")"
        fi
        echo "$wanted" > "$stamp"
    fi
    did
fi
for program in anpr-agent anpr-provision; do
    if [ "$(readlink "/usr/local/bin/$program" 2>/dev/null)" != "$prefix/bin/$program" ]; then
        act ln -sfn "$prefix/bin/$program" "/usr/local/bin/$program"
        did
    fi
done

# --------------------------------------------------------------------------------------
step 8 "install the systemd unit anpr-agent@.service (not enabled: that follows enrolment)"
place() { # place SOURCE TARGET MODE
    if [ -f "$2" ] && cmp -s "$1" "$2"; then
        echo "  present: $2"
    else
        act install -D -m "$3" "$1" "$2"
        did
    fi
}
# The unit runs /opt/anpr/current/bin/anpr-agent: `current` names the release slot in use. A
# fresh install is its own slot (`current -> .`); a signed software update (`anpr-agent
# update`) points it at /opt/anpr/releases/<version>, and a rerun of this script leaves that.
if [ -L "$prefix/current" ]; then
    echo "  present: $prefix/current -> $(readlink "$prefix/current")"
else
    act ln -sfn . "$prefix/current"
    did
fi
place "$src/systemd/anpr-agent@.service" "$units/anpr-agent@.service" 644
# The unit's Documentation= line, and the drop-ins a technician may add later.
place "$src/docs/operations.md" "$prefix/docs/operations.md" 644
for dropin in "$src"/systemd/anpr-agent@.service.d/*.conf; do
    place "$dropin" "$prefix/share/systemd/anpr-agent@.service.d/$(basename "$dropin")" 644
done
if [ "$platform" = jetson ]; then
    place "$src/systemd/anpr-agent@.service.d/jetson.conf" "$units/anpr-agent@.service.d/jetson.conf" 644
fi
if [ -d /run/systemd/system ]; then
    act systemctl daemon-reload
else
    note "systemd is not running here (a chroot or container): the unit is installed, not loaded"
fi

# --------------------------------------------------------------------------------------
step 9 "check: anpr-agent --version, the offline checks (the models read the sample frame), anpr-agent check if /etc/anpr/agent.toml exists"
require=""
[ "$want_picamera" = yes ] && require="$require --require picamera2"
[ "$os_opencv" = yes ] && require="$require --require gstreamer"
[ "$ort" = pypi ] || require="$require --require gpu"
if [ "$dry_run" = yes ]; then
    echo "  would run: $prefix/bin/anpr-agent --version"
    echo "  would run: $prefix/bin/python -m provisioning.unit_check$require"
    echo "  would run: CREDENTIALS_DIRECTORY=$credentials $prefix/bin/anpr-agent check --config $etc/agent.toml (when it exists)"
    echo
    echo "dry run: nothing was changed"
    exit 0
fi
"$prefix/bin/anpr-agent" --version
# shellcheck disable=SC2086
"$prefix/bin/python" -m provisioning.unit_check $require ||
    die "the offline checks failed (above); the install is not usable as it is"
if [ -f "$etc/agent.toml" ]; then
    CREDENTIALS_DIRECTORY=$credentials "$prefix/bin/anpr-agent" check --config "$etc/agent.toml" ||
        die "anpr-agent check refused $etc/agent.toml (above)"
else
    echo "  no $etc/agent.toml yet: next, as in docs/operations.md:"
    echo "    anpr-provision unit-init --camera-id <camera-id> --out $credentials"
    echo "    (enrol, copy back tls.crt, ca.crt, central-ack.pub; anpr-provision agent-config ...)"
    echo "    systemctl enable --now anpr-agent@<camera-id>"
fi
if [ "$changed" = 0 ]; then
    echo "install-unit: done; nothing to change"
else
    echo "install-unit: done; $changed change(s)"
fi
