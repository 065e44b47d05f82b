package dev.m2mfa.authority.factor.hardware;

import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The registry of {@link KeyAttestationVerifier}s on the class path, by format. */
public final class KeyAttestationVerifiers {
  private static final Map<String, KeyAttestationVerifier> ALL = load();

  private KeyAttestationVerifiers() {}

  public static Optional<KeyAttestationVerifier> forFormat(String format) {
    return Optional.ofNullable(ALL.get(format));
  }

  public static java.util.Set<String> formats() {
    return ALL.keySet();
  }

  private static Map<String, KeyAttestationVerifier> load() {
    Map<String, KeyAttestationVerifier> m = new TreeMap<>();
    for (KeyAttestationVerifier v : ServiceLoader.load(KeyAttestationVerifier.class)) {
      if (m.putIfAbsent(v.format(), v) != null) throw new IllegalStateException("two key attestation verifiers for format " + v.format());
    }
    return Map.copyOf(m);
  }
}
