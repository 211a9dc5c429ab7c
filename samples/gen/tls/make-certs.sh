#!/bin/bash
# Test certificates for the TLS samples (samples/tls/), made with openssl (`openssl req` + `openssl ca`
# with explicit -startdate/-enddate).  The results are committed in certs/ so that re-runs of make.sh
# use the same keys and certificates; run this only to make a new set:
#     samples/gen/tls/make-certs.sh [--force]
# These are TEST keys, for loopback captures only.
#
#   ca.pem / ca.key              CN=wsdoctor Test CA, O=wsdoctor          2019-01-01 .. 2045-01-01  RSA 2048
#   broker.pem / broker.key      CN=broker.example, SAN DNS:broker.example 2025-01-01 .. 2035-01-01  RSA 2048, by the CA
#   broker-ec.pem / .key         the same names, ECDSA P-256 key          2025-01-01 .. 2035-01-01  by the CA
#   expired.pem / .key           CN=broker.example (SAN the same)         2020-01-01 .. 2021-01-01  RSA 2048, by the CA
#   future.pem / .key            CN=broker.example (SAN the same)         2040-01-01 .. 2044-01-01  RSA 2048, by the CA
#   other.pem / .key             CN=other.example, SAN DNS:other.example  2025-01-01 .. 2035-01-01  RSA 2048, by the CA
#   selfsigned.pem / .key        CN=broker.example, self-signed (issuer = subject, not the CA)  2025-01-01 .. 2035-01-01
#   *-chain.pem                  leaf + CA (what the servers send)
set -eu
D=$(cd "$(dirname "$0")" && pwd)/certs
if [ -s "$D/ca.pem" ] && [ "${1:-}" != "--force" ]; then echo "certs exist in $D (use --force to remake)"; exit 0; fi
mkdir -p "$D"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/new"; : > "$W/index.txt"; echo 1000 > "$W/serial"
cat > "$W/ca.cnf" <<EOF
[ ca ]
default_ca = testca
[ testca ]
dir = $W
database = $W/index.txt
new_certs_dir = $W/new
serial = $W/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[ anything ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ leaf_broker ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:broker.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ leaf_other ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ self_broker ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:broker.example
subjectKeyIdentifier = hash
EOF
C="openssl ca -batch -notext -config $W/ca.cnf"
# CA (self-signed through `openssl ca -selfsign` so that its dates are explicit)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/ca.key" 2>/dev/null
openssl req -new -key "$D/ca.key" -subj "/O=wsdoctor/CN=wsdoctor Test CA" -config "$W/ca.cnf" -out "$W/ca.csr"
$C -selfsign -keyfile "$D/ca.key" -in "$W/ca.csr" -extensions v3_ca \
   -startdate 20190101000000Z -enddate 20450101000000Z -out "$D/ca.pem" 2>/dev/null
leaf() {  # name keyalg subject ext start end [selfsign]
    local n=$1 alg=$2 subj=$3 ext=$4 start=$5 end=$6
    if [ "$alg" = ec ]; then
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/$n.key" 2>/dev/null
    else
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/$n.key" 2>/dev/null
    fi
    openssl req -new -key "$D/$n.key" -subj "$subj" -config "$W/ca.cnf" -out "$W/$n.csr"
    if [ "${7:-}" = self ]; then
        $C -selfsign -keyfile "$D/$n.key" -in "$W/$n.csr" -extensions "$ext" -startdate "$start" -enddate "$end" -out "$D/$n.pem" 2>/dev/null
        cp "$D/$n.pem" "$D/$n-chain.pem"
    else
        $C -cert "$D/ca.pem" -keyfile "$D/ca.key" -in "$W/$n.csr" -extensions "$ext" -startdate "$start" -enddate "$end" -out "$D/$n.pem" 2>/dev/null
        cat "$D/$n.pem" "$D/ca.pem" > "$D/$n-chain.pem"
    fi
}
leaf broker     rsa "/O=wsdoctor/CN=broker.example" leaf_broker 20250101000000Z 20350101000000Z
leaf broker-ec  ec  "/O=wsdoctor/CN=broker.example" leaf_broker 20250101000000Z 20350101000000Z
leaf expired    rsa "/O=wsdoctor/CN=broker.example" leaf_broker 20200101000000Z 20210101000000Z
leaf future     rsa "/O=wsdoctor/CN=broker.example" leaf_broker 20400101000000Z 20440101000000Z
leaf other      rsa "/O=wsdoctor/CN=other.example"  leaf_other  20250101000000Z 20350101000000Z
leaf selfsigned rsa "/O=wsdoctor/CN=broker.example" self_broker 20250101000000Z 20350101000000Z self
chmod 644 "$D"/*.key
for f in "$D"/*.pem; do
    case "$f" in *-chain.pem) continue;; esac
    printf '%-16s ' "$(basename "$f")"; openssl x509 -in "$f" -noout -subject -issuer -startdate -enddate -serial | tr '\n' ' '; echo
done
