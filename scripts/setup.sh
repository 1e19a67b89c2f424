#!/usr/bin/env bash
# Set up everything the suite needs on Debian 12 or Ubuntu 22.04/24.04, then optionally
# run the demo or the test suite. Idempotent: a second run only checks and is quick.
#
#   sudo bash scripts/setup.sh          # install only
#   sudo bash scripts/setup.sh demo     # install, then the demo (scripts/demo.py)
#   sudo bash scripts/setup.sh test     # install, then the whole test suite
#   sudo bash scripts/setup.sh test -k ring   # extra words go to pytest
#   sudo bash scripts/setup.sh bench [--quick] # install, then the benchmarks (bench/run.py)
#
# What it does:
#   1. installs the Debian packages (Open vSwitch, Mininet, iperf3, tcpdump, ethtool, ...)
#      that are not installed yet;
#   2. starts Open vSwitch (ovs-ctl copes with a kernel that has no openvswitch module:
#      Mininet then uses the userspace datapath, which is what our topologies ask for);
#   3. builds .venv from the system python3 with --system-site-packages (Debian's mininet
#      lives there), installs this project with its pinned dependencies (setup.cfg), and
#      activates the Ryu 4.34 fix (controller/ryu_compat.py).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"

if [ "$(id -u)" -ne 0 ]; then
    exec sudo -E bash "$0" "$@"
fi

log() { printf '[setup] %s\n' "$*"; }

APT_PACKAGES=(openvswitch-switch mininet iperf3 tcpdump ethtool iproute2 iputils-ping
              net-tools psmisc procps python3-venv python3-dev python3-pip gcc
              shellcheck vagrant python3-networkx)

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

build_python_env() {
    # Re-install only when the declared dependencies change; rebuild a venv that was
    # made elsewhere (a repository synced into the Vagrant VM from the host, say).
    local stamp="$VENV/.setup-stamp" want
    want=$( (cat setup.cfg pyproject.toml; readlink -f /usr/bin/python3; echo "$VENV") \
            | sha256sum | cut -d' ' -f1)
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
            && "$VENV/bin/python" -c 'import mininet.net' 2>/dev/null; then
        log "Python environment: up to date ($VENV)"
    else
        log "Python environment: building $VENV"
        if ! "$VENV/bin/python" -c 'import mininet.net' 2>/dev/null; then
            rm -rf "$VENV"
            /usr/bin/python3 -m venv --system-site-packages "$VENV"
        fi
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]"
        echo "$want" > "$stamp"
    fi
    "$VENV/bin/sdn-ryu-compat" install >/dev/null
    "$VENV/bin/python" -c 'import mininet.net, ryu.cmd.manager, networkx, yaml' \
        || { echo "[setup] ERROR: the Python environment cannot import its dependencies" >&2; exit 1; }
}

install_debian_packages
start_openvswitch
build_python_env

action=${1:-}
[ $# -gt 0 ] && shift
case "$action" in
    "")   log "done. Run the apps with $VENV/bin/ryu-manager apps/<app>.py" ;;
    demo) exec "$VENV/bin/python" scripts/demo.py "$@" ;;
    test) exec "$VENV/bin/python" -m pytest "$@" ;;
    bench)
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,bench]"
        exec "$VENV/bin/python" -m bench.run "$@" ;;
    *)    echo "usage: $0 [demo|test [pytest args...]|bench [--quick]]" >&2; exit 2 ;;
esac
