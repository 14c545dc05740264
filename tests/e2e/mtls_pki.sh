#!/usr/bin/env bash
# Client-certificate PKI for the mTLS tests (tests/e2e/e2e_mtls.sh, tests/interop/interop_mtls.sh),
# made with `openssl req` / `openssl ca` in DIR (created):
#   client-ca.pem/.key   the client CA (ECDSA P-256; the trust anchor for client_ca)
#   good.pem/.key        CN=client-good, clientAuth EKU        (also good-rsa, good-ed: RSA, Ed25519)
#   expired.pem/.key     CN=client-expired, valid in 2020 only
#   noeku.pem/.key       CN=client-noeku, extendedKeyUsage serverAuth only
#   revoked.pem/.key     CN=client-revoked, revoked in crl.pem
#   unknown.pem/.key     CN=client-unknown, issued by another CA (other-ca.pem)
#   crl.pem              the client CA's CRL
# Usage: mtls_pki.sh DIR
set -euo pipefail
D=${1:?directory}
mkdir -p "$D/new"
: >"$D/index.txt"
echo 1000 >"$D/serial"
echo 01 >"$D/crlnumber"
cat >"$D/ca.cnf" <<CNF
[ca]
default_ca = cca
[cca]
dir = $D
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_crl_days = 2
policy = any
unique_subject = no
[any]
commonName = supplied
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[serveronly]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
CNF
q() { "$@" >/dev/null 2>"$D/last.err" || { cat "$D/last.err" >&2; exit 1; }; }
ca_root() { # NAME CN
    q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/$1.key" \
        -out "$D/$1.pem" -days 2 -subj "/O=edgetls tests/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() { # NAME KEYOPTS EXT [ca args...]
    local name=$1 ext=$3
    local -a keyopt
    read -r -a keyopt <<<"$2"
    shift 3
    q openssl req "${keyopt[@]}" -nodes -keyout "$D/$name.key" -out "$D/$name.csr" \
        -subj "/O=edgetls tests/CN=client-$name"
    q openssl ca -batch -notext -config "$D/ca.cnf" -cert "$D/client-ca.pem" -keyfile "$D/client-ca.key" \
        -in "$D/$name.csr" -out "$D/$name.pem" -extensions "$ext" "$@"
}
EC="-newkey ec -pkeyopt ec_paramgen_curve:P-256"
ca_root client-ca "edgetls test client CA"
ca_root other-ca "another client CA"
leaf good "$EC" client -days 2
leaf good-rsa "-newkey rsa:2048" client -days 2
leaf good-ed "-newkey ed25519" client -days 2
leaf expired "$EC" client -startdate 20200101000000Z -enddate 20200201000000Z
leaf noeku "$EC" serveronly -days 2
leaf revoked "$EC" client -days 2
q openssl ca -config "$D/ca.cnf" -cert "$D/client-ca.pem" -keyfile "$D/client-ca.key" -revoke "$D/revoked.pem"
q openssl ca -config "$D/ca.cnf" -cert "$D/client-ca.pem" -keyfile "$D/client-ca.key" -gencrl -out "$D/crl.pem"
q openssl req $EC -nodes -keyout "$D/unknown.key" -out "$D/unknown.csr" -subj "/O=edgetls tests/CN=client-unknown"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$D/client.ext"
q openssl x509 -req -in "$D/unknown.csr" -CA "$D/other-ca.pem" -CAkey "$D/other-ca.key" -CAcreateserial \
    -out "$D/unknown.pem" -days 2 -extfile "$D/client.ext"
