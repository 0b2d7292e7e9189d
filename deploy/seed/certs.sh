#!/usr/bin/env bash
# Certificates for the seed's two-node deployment, made the way WSO2 users make them: with
# the JDK's keytool, as JKS files keygate reads unchanged.
#
#   deploy/seed/certs.sh OUTDIR KM_HOSTS [APIM_HOSTS]
#
# KM_HOSTS and APIM_HOSTS are comma-separated host names (or IP addresses) each node is
# reached by; the first is the certificate's CN, all go into its subjectAltName. With HA key
# managers, KM_HOSTS names the load balancer and every key manager. APIM_HOSTS defaults to
# KM_HOSTS (both roles on one host). Writes:
#
#   OUTDIR/key-manager/wso2carbon.jks           key manager's key, alias wso2carbon
#   OUTDIR/key-manager/wso2carbon.crt           its certificate (PEM)
#   OUTDIR/key-manager/client-truststore.jks    trusts the API-M node's TLS certificate
#   OUTDIR/api-manager/wso2carbon.jks           API-M node's key, alias wso2carbon
#   OUTDIR/api-manager/wso2carbon.crt           its certificate (PEM)
#   OUTDIR/api-manager/client-truststore.jks    the key manager's certificate under
#                                               gateway_certificate_alias (step 6.2, JWT
#                                               signatures) and under its CN (TLS trust)
#
# Every store and key password is `wso2carbon`, WSO2's default; set KEYGATE_STORE_PASSWORD
# to choose another. Existing files in OUTDIR are replaced.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 OUTDIR KM_HOSTS [APIM_HOSTS]   (hosts comma-separated)" >&2
  exit 2
fi
out=$1
km_hosts=$2
apim_hosts=${3:-$2}
pass=${KEYGATE_STORE_PASSWORD:-wso2carbon}
keytool=${JAVA_HOME:+$JAVA_HOME/bin/}keytool
command -v "$keytool" >/dev/null || { echo "$0: keytool not found (install a JDK)" >&2; exit 1; }

# The subjectAltName extension for comma-separated names: dns: or ip: for each.
san() {
  local names=() name
  IFS=, read -ra names <<<"$1"
  local parts=()
  for name in "${names[@]}"; do
    [ -n "$name" ] || continue
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then parts+=("ip:$name"); else parts+=("dns:$name"); fi
  done
  local IFS=,
  echo "SAN=${parts[*]}"
}

# A node's keystore: an RSA 2048 key under alias wso2carbon, self-signed for its names,
# and its certificate exported as PEM beside it.
keystore() { # dir, names
  local dir=$1 names=$2 cn=${2%%,*}
  mkdir -p "$dir"
  rm -f "$dir/wso2carbon.jks" "$dir/wso2carbon.crt" "$dir/client-truststore.jks"
  "$keytool" -genkeypair -noprompt -alias wso2carbon -keyalg RSA -keysize 2048 -validity 3650 \
    -dname "CN=$cn, OU=keygate, O=keygate, L=Mountain View, ST=CA, C=US" -ext "$(san "$names")" \
    -storetype JKS -keystore "$dir/wso2carbon.jks" -storepass "$pass" -keypass "$pass" 2>/dev/null
  "$keytool" -exportcert -rfc -alias wso2carbon -keystore "$dir/wso2carbon.jks" \
    -storepass "$pass" -file "$dir/wso2carbon.crt" 2>/dev/null
}

# Imports a certificate file into a node's client-truststore.jks under an alias.
trust() { # dir, alias, certificate
  "$keytool" -importcert -noprompt -alias "$2" -file "$3" \
    -storetype JKS -keystore "$1/client-truststore.jks" -storepass "$pass" 2>/dev/null
}

km=$out/key-manager
apim=$out/api-manager
keystore "$km" "$km_hosts"
keystore "$apim" "$apim_hosts"
# Step 6.2: the key manager's signing certificate, where the gateway looks for it.
trust "$apim" gateway_certificate_alias "$km/wso2carbon.crt"
# The seed's troubleshooting: each node trusts the other's TLS certificate.
trust "$apim" "${km_hosts%%,*}" "$km/wso2carbon.crt"
trust "$km" "${apim_hosts%%,*}" "$apim/wso2carbon.crt"
echo "key manager: $km/wso2carbon.jks (CN=${km_hosts%%,*}), API-M node: $apim/wso2carbon.jks (CN=${apim_hosts%%,*}), trust stores beside them"
