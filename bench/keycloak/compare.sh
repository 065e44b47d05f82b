#!/usr/bin/env bash
# Peer comparison: Keycloak's OAuth 2.0 client-credentials grant with private_key_jwt client
# authentication against m2mfa's `./m2mfa bench login`, at the same concurrency, in one run on
# this machine. Prints one JSON object on stdout; everything else goes to stderr.
#
#   bench/keycloak/compare.sh [--seconds S] [--warmup S] [--concurrency C]
#                             [--keycloak-version V] [--alg ES256|RS256] [--keycloak-only]
#                             [--m2mfa-arg ARG]...
#
# --seconds S      measured phase on each side (default 60)
# --warmup S       warm-up load before measuring, on each side (default 60). Keycloak's JIT keeps
#                  warming for minutes (about 2x more grants/s after 3-4 minutes than after 15 s on
#                  a 2-core machine): a fair run warms both sides for minutes, e.g. --warmup 240.
# --concurrency C  concurrent clients on each side (default 16)
# --keycloak-version V   org.keycloak:keycloak-quarkus-dist version (default: the newest of a
#                  short list that resolves from Maven Central; env KEYCLOAK_VERSION works too)
# --alg A          client assertion algorithm, ES256 (default) or RS256
# --keycloak-only  measure Keycloak only (m2mfa fields are null); for testing this half alone
# --m2mfa-arg ARG  one more argument for `m2mfa bench login` (repeatable), e.g. --tls-resumption
# env M2MFA        the m2mfa command to run (default: the repo's ./m2mfa launcher)
#
# See bench/keycloak/README.md for what is compared and the caveats.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="$here/.cache"

seconds=60
warmup=60
concurrency=16
kc_version=${KEYCLOAK_VERSION:-}
alg=ES256
keycloak_only=0
m2mfa_extra=()
m2mfa_cmd=${M2MFA:-}
# Newest first; 26.5.6 is the version the platform notes measured.
kc_candidates="26.7.4 26.7.3 26.5.6"
realm=m2mfa-bench
client_id=bench-client

log() { printf 'compare: %s\n' "$*" >&2; }
die() { printf 'compare: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^# See bench/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a value}; shift 2 ;;
    --keycloak-version) kc_version=${2:?--keycloak-version needs a value}; shift 2 ;;
    --alg) alg=${2:?--alg needs a value}; shift 2 ;;
    --keycloak-only) keycloak_only=1; shift ;;
    --m2mfa-arg) m2mfa_extra+=("${2:?--m2mfa-arg needs a value}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage; die "unknown option: $1" ;;
  esac
done
is_int() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_int "$seconds" && [ "$seconds" -ge 1 ] && [ "$seconds" -le 3600 ] || die "--seconds must be 1..3600"
is_int "$warmup" && [ "$warmup" -le 3600 ] || die "--warmup must be 0..3600"
is_int "$concurrency" && [ "$concurrency" -ge 1 ] && [ "$concurrency" -le 1024 ] || die "--concurrency must be 1..1024"
case "$alg" in ES256|RS256) ;; *) die "--alg must be ES256 or RS256" ;; esac
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"

# A JDK >= 25 (JAVA_HOME, else /usr/lib/jvm/*): the repo's own finder.
. "$root/scripts/find-jdk.sh"
java="$JAVA_HOME/bin/java"
[ -n "$m2mfa_cmd" ] || m2mfa_cmd="$root/m2mfa"

mkdir -p "$cache/dist"
[ -f "$cache/.gitignore" ] || printf '*\n' > "$cache/.gitignore"
# One run at a time: runs share the unpacked distribution and its database directory.
exec 9>"$cache/.lock"
if command -v flock >/dev/null && ! flock -n 9; then die "another compare.sh run holds $cache/.lock"; fi
run_dir=$(mktemp -d "$cache/run.XXXXXX")
kc_pid=
kc_home=
mvnw() { (cd "$root" && ./mvnw -N -q -B "$@"); }

stop_keycloak() {
  [ -n "$kc_pid" ] || return 0
  if kill -0 "$kc_pid" 2>/dev/null; then
    log "stopping Keycloak (process group $kc_pid)"
    kill -TERM -- "-$kc_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 -- "-$kc_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$kc_pid" 2>/dev/null || true
  fi
  wait "$kc_pid" 2>/dev/null || true
  kc_pid=
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_keycloak
  if [ -f "$run_dir/keycloak.log" ]; then cp "$run_dir/keycloak.log" "$cache/keycloak-last.log" 2>/dev/null || true; fi
  rm -rf "$run_dir"
  # The dev-file database is per run (fresh realm, fresh admin): drop it.
  if [ -n "$kc_home" ]; then rm -rf "$kc_home/data"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ 0. preflight: m2mfa's side
m2mfa_help=
if [ "$keycloak_only" = 0 ]; then
  log "checking that '$m2mfa_cmd bench login' exists (the launcher builds the CLI on first use)"
  if ! m2mfa_help=$("$m2mfa_cmd" bench login --help 2>&1) || ! printf '%s' "$m2mfa_help" | grep -q 'm2mfa bench login'; then
    printf '%s\n' "$m2mfa_help" | grep -v '^WARNING' | tail -n 15 >&2
    die "'$m2mfa_cmd bench login' is not available (see above): the m2mfa half cannot run. Use --keycloak-only to measure Keycloak alone."
  fi
fi

# ------------------------------------------------------------------ 1. load generator classes
# (built before Keycloak starts: a build failure costs no Keycloak time, and mvn does not share the CPU with it)
cp_load=
build_log="$run_dir/mvn-bench.log"
log "building the bench module (./mvnw -q -B -DskipTests -pl bench -am package)"
if (cd "$root" && ./mvnw -q -B -DskipTests -pl bench -am package) >"$build_log" 2>&1 \
   && [ -f "$root/bench/target/classes/dev/m2mfa/bench/keycloak/KeycloakGrantLoad.class" ]; then
  cp_load="$root/bench/target/classes:$root/cli/target/lib/*:$root/cli/target/m2mfa-cli.jar"
else
  { grep -E '^\[ERROR\]' "$build_log" || tail -n 5 "$build_log"; } | grep -v '^WARNING' | head -n 5 >&2 || true
  log "the reactor build failed (above; other modules may be mid-change); compiling KeycloakGrantLoad alone against Nimbus and BouncyCastle"
  nimbus_v=$(sed -n 's:.*<nimbus.version>\(.*\)</nimbus.version>.*:\1:p' "$root/pom.xml")
  bc_v=$(sed -n 's:.*<bc.version>\(.*\)</bc.version>.*:\1:p' "$root/pom.xml")
  mkdir -p "$cache/lib" "$cache/classes"
  for a in "com.nimbusds:nimbus-jose-jwt:$nimbus_v" "org.bouncycastle:bcprov-jdk18on:$bc_v"; do
    f="$cache/lib/$(echo "$a" | cut -d: -f2)-$(echo "$a" | cut -d: -f3).jar"
    [ -f "$f" ] || mvnw dependency:copy "-Dartifact=$a" "-DoutputDirectory=$cache/lib" >>"$build_log" 2>&1 \
      || { tail -n 20 "$build_log" >&2; die "could not fetch $a"; }
  done
  "$JAVA_HOME/bin/javac" --release 25 -nowarn -d "$cache/classes" -cp "$cache/lib/*" \
    "$root/bench/src/main/java/dev/m2mfa/bench/keycloak/KeycloakGrantLoad.java" \
    || die "javac KeycloakGrantLoad failed"
  cp_load="$cache/classes:$cache/lib/*"
fi
# Same client JVM flags as the ./m2mfa launcher's default, so both clients run alike.
load() { "$java" ${M2MFA_JAVA_OPTS:--XX:+UseSerialGC -Xss512k} -cp "$cp_load" dev.m2mfa.bench.keycloak.KeycloakGrantLoad "$@"; }

# ------------------------------------------------------------------ 2. Keycloak: fetch, build, start
fetch_keycloak() { # $1 = version; leaves $cache/dist/keycloak-$1 unpacked
  local v=$1 tgz="$cache/keycloak-quarkus-dist-$1.tar.gz"
  [ -x "$cache/dist/keycloak-$v/bin/kc.sh" ] && return 0
  if [ ! -f "$tgz" ]; then
    log "fetching org.keycloak:keycloak-quarkus-dist:$v:tar.gz from Maven Central"
    mvnw dependency:copy "-Dartifact=org.keycloak:keycloak-quarkus-dist:$v:tar.gz" \
      "-DoutputDirectory=$cache" >"$run_dir/fetch.log" 2>&1 || return 1
  fi
  log "unpacking $(basename "$tgz")"
  tar -xzf "$tgz" -C "$cache/dist" || { rm -rf "$cache/dist/keycloak-$v"; return 1; }
  rm -f "$tgz" # Maven keeps its own copy in ~/.m2
  [ -x "$cache/dist/keycloak-$v/bin/kc.sh" ]
}
found=
for v in ${kc_version:-$kc_candidates}; do
  if fetch_keycloak "$v"; then found=$v; break; fi
  log "keycloak-quarkus-dist $v did not resolve"
done
[ -n "$found" ] || { tail -n 20 "$run_dir/fetch.log" >&2 2>/dev/null || true; die "no Keycloak distribution could be fetched (tried: ${kc_version:-$kc_candidates})"; }
kc_home="$cache/dist/keycloak-$found"
kc_version=$(sed -n 's/.*Version *\([^ ]*\).*/\1/p' "$kc_home/version.txt" | head -n 1)
[ -n "$kc_version" ] || kc_version=$found
log "Keycloak $kc_version at $kc_home"

built_marker="$kc_home/.m2mfa-built"
if [ ! -f "$built_marker" ]; then
  log "kc.sh build --db=dev-file --cache=local (about 30 s)"
  "$kc_home/bin/kc.sh" build --db=dev-file --cache=local >"$run_dir/build.log" 2>&1 \
    || { tail -n 30 "$run_dir/build.log" >&2; die "kc.sh build failed"; }
  # Since 26.7 the cache is a run-time option (the build ignores it): then give it at start too.
  if grep -q 'ignored during build time: .*kc.cache' "$run_dir/build.log"; then echo start-cache > "$built_marker"; else : > "$built_marker"; fi
fi
start_opts=()
if grep -q start-cache "$built_marker"; then start_opts+=(--cache=local); fi

# A free loopback port: one nobody answers on.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 40000))
  if port_free "$p"; then port=$p; break; fi
done
[ -n "$port" ] || die "no free loopback port found"
base="http://127.0.0.1:$port"

rm -rf "$kc_home/data"
admin_user=admin
admin_password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
log "starting Keycloak on $base (log: $run_dir/keycloak.log, kept as $cache/keycloak-last.log)"
KC_BOOTSTRAP_ADMIN_USERNAME=$admin_user KC_BOOTSTRAP_ADMIN_PASSWORD=$admin_password \
  setsid "$kc_home/bin/kc.sh" start --optimized --http-enabled=true --http-host=127.0.0.1 \
  --http-port="$port" --hostname-strict=false "${start_opts[@]}" \
  </dev/null >"$run_dir/keycloak.log" 2>&1 &
kc_pid=$!
t0=$SECONDS
until curl -fsS -o /dev/null --max-time 2 "$base/realms/master" 2>/dev/null; do
  if ! kill -0 "$kc_pid" 2>/dev/null; then tail -n 30 "$run_dir/keycloak.log" >&2; die "Keycloak exited during start-up"; fi
  if [ $((SECONDS - t0)) -gt 240 ]; then tail -n 30 "$run_dir/keycloak.log" >&2; die "Keycloak not ready after 240 s"; fi
  sleep 1
done
log "Keycloak ready after $((SECONDS - t0)) s"

# ------------------------------------------------------------------ 3. Keycloak: realm, client, key
admin_token() {
  curl -fsS --max-time 30 -d grant_type=password -d client_id=admin-cli \
    --data-urlencode "username=$admin_user" --data-urlencode "password=$admin_password" \
    "$base/realms/master/protocol/openid-connect/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
admin_post() { # $1 = path, $2 = JSON file; expects 201
  local code
  code=$(curl -sS --max-time 30 -o "$run_dir/admin-resp" -w '%{http_code}' -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' --data-binary "@$2" "$base$1")
  [ "$code" = 201 ] || { cat "$run_dir/admin-resp" >&2; echo >&2; die "admin POST $1: HTTP $code"; }
}
token=$(admin_token)
[ -n "$token" ] || die "could not get an admin token from the master realm"

printf '{"realm":"%s","enabled":true}\n' "$realm" >"$run_dir/realm.json"
admin_post /admin/realms "$run_dir/realm.json"

load keygen --alg "$alg" --out "$run_dir/client-key.jwk" >"$run_dir/client-jwks.json"
jwks_escaped=$(sed 's/\\/\\\\/g; s/"/\\"/g' "$run_dir/client-jwks.json" | tr -d '\n')
cat >"$run_dir/client.json" <<EOF
{"clientId":"$client_id","protocol":"openid-connect","enabled":true,"publicClient":false,"bearerOnly":false,
 "serviceAccountsEnabled":true,"standardFlowEnabled":false,"implicitFlowEnabled":false,
 "directAccessGrantsEnabled":false,"clientAuthenticatorType":"client-jwt",
 "attributes":{"use.jwks.url":"false","use.jwks.string":"true","jwks.string":"$jwks_escaped",
               "token.endpoint.auth.signing.alg":"$alg"}}
EOF
admin_post "/admin/realms/$realm/clients" "$run_dir/client.json"
token_endpoint="$base/realms/$realm/protocol/openid-connect/token"
log "realm $realm, confidential client $client_id (service account, client-jwt with a $alg public JWK), token endpoint $token_endpoint"
load check --token-endpoint "$token_endpoint" --client-id "$client_id" --key "$run_dir/client-key.jwk" \
  || die "a single client-credentials grant with private_key_jwt failed (see above)"

# ------------------------------------------------------------------ 4. measure Keycloak
kc_java_pid=$(ps -o pid= --ppid "$kc_pid" 2>/dev/null | head -n 1 | tr -d ' ' || true)
server_pid_args=()
if [ -n "$kc_java_pid" ]; then server_pid_args=(--server-pid "$kc_java_pid"); fi
log "Keycloak: warm-up ${warmup} s, then measure ${seconds} s at concurrency $concurrency"
load run --token-endpoint "$token_endpoint" --client-id "$client_id" --key "$run_dir/client-key.jwk" \
  --concurrency "$concurrency" --warmup "$warmup" --seconds "$seconds" "${server_pid_args[@]}" >"$run_dir/keycloak.json" \
  || { cat "$run_dir/keycloak.json" >&2; die "the Keycloak load run failed"; }
kc_json=$(tail -n 1 "$run_dir/keycloak.json")
log "Keycloak result: $kc_json"
json_num() { # $1 = key, stdin = JSON; prints the number or nothing
  tr -d '\n' | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\([-0-9.eE+]*\).*/\1/p" | head -n 1
}
kc_rate=$(printf '%s' "$kc_json" | json_num grants_per_s)
kc_p50=$(printf '%s' "$kc_json" | json_num p50_ms)
kc_p99=$(printf '%s' "$kc_json" | json_num p99_ms)
kc_errors=$(printf '%s' "$kc_json" | json_num errors)
kc_cpu=$(printf '%s' "$kc_json" | json_num server_cpu_ms_per_grant)
kc_client_cpu=$(printf '%s' "$kc_json" | json_num client_cpu_ms_per_grant)
kc_loadavg=$(printf '%s' "$kc_json" | json_num loadavg_1m)
[ -n "$kc_rate" ] || die "no grants_per_s in the load generator's output"
if [ -n "$kc_java_pid" ]; then
  kc_rss_kb=$(ps -o rss= -p "$kc_java_pid" 2>/dev/null | tr -d ' ' || true)
  if [ -n "$kc_rss_kb" ]; then log "Keycloak RSS after the run: $((kc_rss_kb / 1024)) MiB"; fi
fi
load_note=$(awk -v l="${kc_loadavg:-0}" -v c="$(nproc)" 'BEGIN { if (l > c + 1) print "yes" }')
if [ -n "$load_note" ]; then log "WARNING: load average $kc_loadavg on $(nproc) cores during the Keycloak run: something else is using the CPU; rates are depressed and noisy (CPU ms per grant is the steadier figure)"; fi

# Keycloak must not compete for the CPU with the m2mfa run.
stop_keycloak

# ------------------------------------------------------------------ 5. measure m2mfa
m2mfa_rate=null
ratio=null
m2mfa_p50=
m2mfa_p99=
m2mfa_errors=
if [ "$keycloak_only" = 0 ]; then
  m2mfa_args=(bench login --seconds "$seconds" --concurrency "$concurrency" --json)
  if printf '%s' "$m2mfa_help" | grep -q -- '--warmup'; then m2mfa_args+=(--warmup "$warmup"); fi
  m2mfa_args+=("${m2mfa_extra[@]}")
  log "m2mfa: $m2mfa_cmd ${m2mfa_args[*]} (its stderr: $cache/m2mfa-last.log)"
  if ! "$m2mfa_cmd" "${m2mfa_args[@]}" >"$run_dir/m2mfa.json" 2>"$cache/m2mfa-last.log"; then
    grep -v '^WARNING' "$cache/m2mfa-last.log" | grep -v '^\[ERROR\] *\(symbol\|location\):' | head -n 25 >&2 || true
    tail -n 5 "$run_dir/m2mfa.json" >&2 || true
    die "'$m2mfa_cmd ${m2mfa_args[*]}' failed: the m2mfa half did not run (full stderr in $cache/m2mfa-last.log)"
  fi
  m2mfa_json=$(grep '{' "$run_dir/m2mfa.json" | tail -n 1 || true)
  log "m2mfa result: $m2mfa_json"
  m2mfa_rate=$(printf '%s' "$m2mfa_json" | json_num logins_per_s)
  [ -n "$m2mfa_rate" ] || die "'$m2mfa_cmd ${m2mfa_args[*]}' printed no \"logins_per_s\": $(head -c 500 "$run_dir/m2mfa.json")"
  m2mfa_p50=$(printf '%s' "$m2mfa_json" | json_num p50_ms)
  m2mfa_p99=$(printf '%s' "$m2mfa_json" | json_num p99_ms)
  m2mfa_errors=$(printf '%s' "$m2mfa_json" | json_num errors)
  ratio=$(awk -v m="$m2mfa_rate" -v k="$kc_rate" 'BEGIN { if (k > 0) printf "%.3f", m / k; else print "null" }')
fi

printf '{"keycloak_grants_per_s":%s,"m2mfa_logins_per_s":%s,"ratio":%s,"concurrency":%d,"seconds":%d,"keycloak_version":"%s","warmup":%d,"keycloak_client_auth":"private_key_jwt %s","keycloak_p50_ms":%s,"keycloak_p99_ms":%s,"keycloak_errors":%s,"keycloak_cpu_ms_per_grant":%s,"keycloak_loadgen_cpu_ms_per_grant":%s,"keycloak_loadavg_1m":%s,"m2mfa_p50_ms":%s,"m2mfa_p99_ms":%s,"m2mfa_errors":%s}\n' \
  "$kc_rate" "$m2mfa_rate" "$ratio" "$concurrency" "$seconds" "$kc_version" "$warmup" "$alg" \
  "${kc_p50:-null}" "${kc_p99:-null}" "${kc_errors:-null}" "${kc_cpu:-null}" "${kc_client_cpu:-null}" "${kc_loadavg:-null}" \
  "${m2mfa_p50:-null}" "${m2mfa_p99:-null}" "${m2mfa_errors:-null}"
