#!/usr/bin/env bash
# Set up everything the suite needs on Debian 12/13 or Ubuntu 22.04/24.04/26.04, then
# optionally run the demo or the test suite. Idempotent: a second run only checks and is
# quick.
#
#   sudo bash scripts/setup.sh          # install only
#   sudo bash scripts/setup.sh demo     # install, then the demo (scripts/demo.py)
#   sudo bash scripts/setup.sh test     # install, then the whole test suite, and the
#                                       # unit tests on every other Python >= 3.11 found
#   sudo bash scripts/setup.sh test -k ring   # extra words go to pytest (system Python only)
#   sudo bash scripts/setup.sh unit     # the unit tests alone (no Mininet needed)
#   sudo bash scripts/setup.sh bench [--quick] # install, then the benchmarks (bench/run.py)
#
# Another interpreter, into another environment (the system python3 and .venv stay as
# they are); only the system python3 sees Debian's Mininet, so such an environment runs
# the unit tests (`-m "not mininet"`) and the apps, not the Mininet tests:
#
#   sudo PYTHON=/root/.pyenv/versions/3.13.0/bin/python3 VENV=/tmp/v313 bash scripts/setup.sh
#
# What it does:
#   1. installs the Debian packages (Open vSwitch, Mininet, iperf3, tcpdump, ethtool,
#      etcd-server for the replica tests, which start their own etcd, Chromium for the
#      web view's browser test, ...)
#      that are not installed yet;
#   2. starts Open vSwitch (ovs-ctl copes with a kernel that has no openvswitch module:
#      Mininet then uses the userspace datapath, which is what our topologies ask for);
#   3. builds $VENV (default .venv) from $PYTHON (default: the system python3; then with
#      --system-site-packages, where Debian's mininet lives), installs this project with
#      its pinned dependencies (setup.cfg), and activates the Ryu 4.34 fix
#      (controller/ryu_compat.py). Ryu 4.34 is built from its sdist, whose setup hooks need
#      a setuptools older than 68: BUILD_CONSTRAINTS holds pip's build environment to that.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SYSTEM_PYTHON=/usr/bin/python3
PYTHON=${PYTHON:-$SYSTEM_PYTHON}
VENV=$(realpath -m "${VENV:-$ROOT/.venv}")
# Ryu 4.34's setup.py hooks call easy_install's get_script_args, gone in setuptools 68;
# pip would otherwise build the sdist with the newest setuptools. pip < 25 reads the
# build constraint from PIP_CONSTRAINT, newer pip from PIP_BUILD_CONSTRAINT.
BUILD_CONSTRAINTS='setuptools >= 66.1, < 68'

if [ "$(id -u)" -ne 0 ]; then
    exec sudo -E bash "$0" "$@"
fi

log() { printf '[setup] %s\n' "$*"; }

APT_PACKAGES=(openvswitch-switch mininet iperf3 tcpdump ethtool iproute2 iputils-ping
              net-tools psmisc procps python3-venv python3-dev python3-pip gcc
              shellcheck vagrant python3-networkx etcd-server)
# The web view's browser test drives headless Chromium. Debian packages it; Ubuntu's
# chromium-browser is a snap (it needs snapd running, which containers lack).
# shellcheck disable=SC1091
if [ "$(. /etc/os-release && echo "$ID")" = ubuntu ]; then
    APT_PACKAGES+=(chromium-browser chromium-chromedriver)
else
    APT_PACKAGES+=(chromium chromium-driver)
fi

install_debian_packages() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "Debian packages: all present"
        return
    fi
    log "Debian packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_openvswitch() {
    if ovs-vsctl --timeout=3 show >/dev/null 2>&1; then
        log "Open vSwitch: running ($(ovs-vsctl --version | head -1))"
        return
    fi
    log "Open vSwitch: starting"
    if [ -d /run/systemd/system ] && systemctl start openvswitch-switch 2>/dev/null \
            && ovs-vsctl --timeout=5 show >/dev/null 2>&1; then
        :
    else
        # No systemd (containers, CI sandboxes): ovs-ctl starts both daemons directly.
        /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >/dev/null
    fi
    ovs-vsctl --timeout=10 show >/dev/null \
        || { echo "[setup] ERROR: Open vSwitch did not start; see /var/log/openvswitch/" >&2; exit 1; }
    log "Open vSwitch: running"
}

system_python() { [ "$(realpath "$PYTHON")" = "$(realpath "$SYSTEM_PYTHON")" ]; }

pip_install() {
    local constraints="$VENV/.build-constraints.txt"
    echo "$BUILD_CONSTRAINTS" > "$constraints"
    PIP_CONSTRAINT="$constraints" PIP_BUILD_CONSTRAINT="$constraints" \
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@"
}

build_python_env() {
    # Re-install only when the declared dependencies or the interpreter change; rebuild a
    # venv that was made elsewhere (a repository synced into the Vagrant VM, say).
    local stamp="$VENV/.setup-stamp" want venv_args=() imports='ryu.cmd.manager, networkx, yaml'
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null \
        || { echo "[setup] ERROR: $PYTHON is not a Python 3.10 or newer" >&2; exit 1; }
    if system_python; then
        venv_args=(--system-site-packages)    # Debian's mininet lives there
        imports="mininet.net, $imports"
    fi
    want=$( (cat setup.cfg pyproject.toml; echo "$BUILD_CONSTRAINTS"; realpath "$PYTHON";
             "$PYTHON" --version; echo "$VENV") | sha256sum | cut -d' ' -f1)
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
            && "$VENV/bin/python" -c "import $imports" 2>/dev/null; then
        log "Python environment: up to date ($VENV, $("$VENV/bin/python" --version))"
    else
        log "Python environment: building $VENV with $("$PYTHON" --version) ($PYTHON)"
        rm -rf "$VENV"
        "$PYTHON" -m venv "${venv_args[@]}" "$VENV"
        pip_install -e ".[test,lint]"
        echo "$want" > "$stamp"
    fi
    "$VENV/bin/sdn-ryu-compat" install >/dev/null
    "$VENV/bin/python" -c "import $imports" \
        || { echo "[setup] ERROR: the Python environment cannot import its dependencies" >&2; exit 1; }
}

install_debian_packages
start_openvswitch
build_python_env

other_pythons() {
    # One CPython >= 3.11 for each minor version on this machine other than the system
    # python3's (pyenv's, and python3.X beside the system one): the newest patch release
    # of each.
    local seen candidate minor
    seen=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    while read -r candidate; do
        [ -x "$candidate" ] || continue
        minor=$("$candidate" -c 'import platform, sys
if platform.python_implementation() == "CPython" and sys.version_info >= (3, 11):
    print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
        [ -n "$minor" ] || continue
        case " $seen " in *" $minor "*) continue ;; esac
        seen="$seen $minor"
        echo "$candidate"
    done < <(printf '%s\n' "${HOME:-/root}"/.pyenv/versions/*/bin/python3 /usr/bin/python3.[0-9]* \
             | sort -V -r)
}

python_version() { "$1" -c 'import platform; print(platform.python_version())'; }

unit_workers() {
    # The unit tests on every core when pytest-xdist is there (it is in setup.cfg's
    # test extra): most of their time is ryu-manager processes and property tests that
    # do not share state. The Mininet tests stay one at a time (one network at once).
    if "$VENV/bin/python" -c 'import xdist' 2>/dev/null; then
        echo "-n auto"
    fi
}

run_tests() {
    # The whole suite here (with no pytest arguments: the unit tests on every core,
    # then the Mininet tests); with none, also the unit tests (which start every app
    # under ryu-manager against emulated switches) on every other Python.
    # --durations: the slowest tests in every CI log, to keep the run well under 30 min.
    local status=0 failed=() python version workers=()
    if [ $# -eq 0 ]; then
        read -ra workers <<< "$(unit_workers)"
        "$VENV/bin/python" -m pytest -m "not mininet" --durations=25 "${workers[@]}" \
            || { status=$?; failed+=("$("$VENV/bin/python" --version) (unit)"); }
        "$VENV/bin/python" -m pytest -m mininet --durations=25 \
            || { status=$?; failed+=("$("$VENV/bin/python" --version) (Mininet)"); }
    else
        "$VENV/bin/python" -m pytest --durations=25 "$@" \
            || { status=$?; failed+=("$("$VENV/bin/python" --version)"); }
    fi
    if [ $# -eq 0 ]; then
        local others=() builds=() built=() i
        mapfile -t others < <(other_pythons)
        # Their environments are built side by side (pip mostly waits on the network and
        # the disk) while no test runs, so that no test's timing is disturbed.
        for python in "${others[@]}"; do
            PYTHON="$python" VENV="$ROOT/.venv-$(python_version "$python")" bash "$0" &
            builds+=($!)
        done
        for i in "${!others[@]}"; do
            if wait "${builds[$i]}"; then
                built+=("${others[$i]}")
            else
                status=1
                failed+=("Python $(python_version "${others[$i]}") (environment)")
            fi
        done
        for python in "${built[@]}"; do
            version=$(python_version "$python")
            log "unit tests on Python $version ($python)"
            PYTHON="$python" VENV="$ROOT/.venv-$version" bash "$0" unit \
                || { status=1; failed+=("Python $version"); }
        done
    fi
    if [ $status -ne 0 ]; then
        log "FAILED on: ${failed[*]}"
    fi
    return $status
}

action=${1:-}
[ $# -gt 0 ] && shift
case "$action" in
    "")   log "done. Run the apps with $VENV/bin/ryu-manager apps/<app>.py" ;;
    demo) exec "$VENV/bin/python" scripts/demo.py "$@" ;;
    test) run_tests "$@" ;;
    unit) read -ra workers <<< "$(unit_workers)"
          exec "$VENV/bin/python" -m pytest -m "not mininet" "${workers[@]}" "$@" ;;
    bench)
        pip_install -e ".[test,lint,bench]"
        exec "$VENV/bin/python" -m bench.run "$@" ;;
    *)    echo "usage: $0 [demo|test [pytest args...]|unit [pytest args...]|bench [--quick]]" >&2
          exit 2 ;;
esac
