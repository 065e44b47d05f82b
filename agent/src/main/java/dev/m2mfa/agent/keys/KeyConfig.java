package dev.m2mfa.agent.keys;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Which {@link KeyProvider} holds the identity key, with its options, as stored in
 * agent.conf: {@code key_provider=pkcs11} and {@code key.library=/usr/lib/...}. An agent.conf
 * without {@code key_provider} means {@code software} (agents enrolled before providers).
 */
public record KeyConfig(String provider, Map<String, String> options) {
  public KeyConfig {
    if (provider == null || !provider.matches("[a-z0-9-]{1,32}")) throw new IllegalArgumentException("key_provider must be a short lowercase name");
    options = Map.copyOf(options);
    for (String k : options.keySet()) {
      if (!k.matches("[a-z0-9_]{1,64}")) throw new IllegalArgumentException("key option names are lowercase words: " + k);
    }
  }

  public static KeyConfig software() {
    return new KeyConfig("software", Map.of());
  }

  public static KeyConfig of(String provider, Map<String, String> options) {
    return new KeyConfig(provider, options);
  }

  public static KeyConfig from(Properties p) {
    Map<String, String> o = new LinkedHashMap<>();
    for (String k : p.stringPropertyNames()) if (k.startsWith("key.")) o.put(k.substring(4), p.getProperty(k));
    return new KeyConfig(p.getProperty("key_provider", "software"), o);
  }

  public void writeTo(Properties p) {
    p.setProperty("key_provider", provider);
    options.forEach((k, v) -> p.setProperty("key." + k, v));
  }
}
