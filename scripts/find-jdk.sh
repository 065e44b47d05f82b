# Sourced by ./m2mfa and ./test: sets JAVA_HOME to a JDK >= 25 or exits with advice.
# Order: $JAVA_HOME if it is one, then the usual /usr/lib/jvm places.
m2mfa_java_major() { # prints the major version of the JDK at $1, or nothing
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}
m2mfa_find_jdk() {
  local c v
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-2[5-9]* /usr/lib/jvm/java-2[5-9]* /usr/lib/jvm/jdk-2[5-9]* /usr/lib/jvm/*; do
    [ -n "$c" ] && [ -d "$c" ] || continue
    v=$(m2mfa_java_major "$c")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then JAVA_HOME="$c"; export JAVA_HOME; return 0; fi
  done
  echo "m2mfa needs a JDK 25 or newer and found none (JAVA_HOME, /usr/lib/jvm/*)." >&2
  echo "Install one, e.g. Temurin 25 (apt package temurin-25-jdk), or point JAVA_HOME at it." >&2
  exit 3
}
m2mfa_find_jdk
