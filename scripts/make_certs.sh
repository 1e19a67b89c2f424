#!/usr/bin/env bash
# Certificates for an OpenFlow channel over TLS, where the controller and the switches
# authenticate each other: a private CA, one controller certificate and one switch
# certificate (Open vSwitch's SSL settings are per machine, shared by its bridges).
#
#   bash scripts/make_certs.sh DIR [DAYS]      # DAYS: validity, 365 by default
#
# Writes into DIR (created, mode 700; existing files are replaced):
#   ca-cert.pem                         the CA both sides trust (keep ca-key.pem offline)
#   controller-key.pem controller-cert.pem
#   switch-key.pem switch-cert.pem
# and prints how to use them (docs/tls.md has the whole story). Needs openssl.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DIR [DAYS]" >&2
    exit 2
fi
DIR=$1
DAYS=${2:-365}
command -v openssl >/dev/null || { echo "$0: openssl is not installed" >&2; exit 1; }

mkdir -p "$DIR"
chmod 700 "$DIR"
cd "$DIR"

# EC P-256 keys: small and fast, accepted by Open vSwitch and Python's ssl module.
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

new_key ca-key.pem
openssl req -x509 -new -key ca-key.pem -sha256 -days "$DAYS" -subj "/CN=sdn-suite OpenFlow CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca-cert.pem

issue() {   # issue NAME COMMON_NAME EXTENDED_KEY_USAGE
    local extensions
    extensions=$(mktemp)
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' \
        "$3" > "$extensions"
    new_key "$1-key.pem"
    openssl req -new -key "$1-key.pem" -subj "/CN=$2" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
        -sha256 -days "$DAYS" -extfile "$extensions" -out "$1-cert.pem" 2>/dev/null
    rm -f "$1.csr" "$extensions"
}

# Both ends present a certificate and check the other's (mutual TLS): the controller
# acts as a TLS server, the switch as a client.
issue controller "sdn-suite controller" serverAuth,clientAuth
issue switch "sdn-suite switch" clientAuth,serverAuth
rm -f ca-cert.srl
chmod 600 ./*-key.pem

cat <<EOF
Certificates in $(pwd):
  controller: ryu-manager --ofp-ssl-listen-port 6653 --ctl-privkey $(pwd)/controller-key.pem \\
                  --ctl-cert $(pwd)/controller-cert.pem --ca-certs $(pwd)/ca-cert.pem apps/...
  switches:   ovs-vsctl set-ssl $(pwd)/switch-key.pem $(pwd)/switch-cert.pem $(pwd)/ca-cert.pem
              ovs-vsctl set-controller s1 ssl:127.0.0.1:6653
EOF
