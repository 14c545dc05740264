#!/usr/bin/env bash
# Generates the PKI test_validate checks against, in $1: root -> intermediate -> leaves, plus the
# bad cases. Then runs test_validate ($2) on it.
set -euo pipefail
d=$1
mkdir -p "$d"
cd "$d"
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ec root.key
openssl req -x509 -new -key root.key -days 30 -subj "/CN=Test Root" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out root.pem 2>/dev/null
ec int.key
openssl req -new -key int.key -subj "/CN=Test Intermediate" -out int.csr 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >ca.ext
openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 -extfile ca.ext -out int.pem 2>/dev/null
leaf() { # name keyfile ext
    openssl req -new -key "$2" -subj "/CN=$1" -out "$1.csr" 2>/dev/null
    printf '%b' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA int.pem -CAkey int.key -CAcreateserial -days 10 -extfile "$1.ext" \
        -out "$1.pem" 2>/dev/null
}
ok_ext='subjectAltName=DNS:www.example.test,DNS:*.img.example.test\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n'
ec leaf.key
leaf leaf leaf.key "$ok_ext"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
leaf rsa rsa.key "$ok_ext"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key 2>/dev/null
leaf rsa1024 rsa1024.key "$ok_ext"
ec client.key
leaf client client.key 'subjectAltName=DNS:www.example.test\nextendedKeyUsage=clientAuth\n'
ec kenc.key
leaf kenc kenc.key 'subjectAltName=DNS:www.example.test\nkeyUsage=keyEncipherment\n'
ec nosan.key
leaf nosan nosan.key 'keyUsage=digitalSignature\n'
ec staple.key
leaf staple staple.key 'subjectAltName=DNS:www.example.test\ntlsfeature=status_request\n'
ec other.key
cat leaf.pem int.pem >full.pem        # leaf + intermediate
cat leaf.pem int.pem root.pem >withroot.pem
cat int.pem leaf.pem >reversed.pem
cat rsa.pem int.pem >rsafull.pem
cat rsa1024.pem int.pem >rsa1024full.pem
cat client.pem int.pem >clientfull.pem
cat kenc.pem int.pem >kencfull.pem
cat nosan.pem int.pem >nosanfull.pem
cat staple.pem int.pem >staplefull.pem
printf -- '-----BEGIN CERTIFICATE-----\nMIIB!!!notbase64\n-----END CERTIFICATE-----\n' >garbage.pem
head -c 300 full.pem >truncated.pem
rm -f ./*.csr ./*.ext ./*.srl
exec "$2" "$d"
