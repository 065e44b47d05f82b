package dev.m2mfa.agent.keys;

import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** Finds a {@link KeyProvider} by name among those on the class path ({@code META-INF/services}). */
public final class KeyProviders {
  private KeyProviders() {}

  public static KeyProvider byName(String name) {
    Map<String, KeyProvider> all = all();
    KeyProvider p = all.get(name);
    if (p == null) throw new IllegalArgumentException("unknown key provider '" + name + "'; available: " + String.join(", ", all.keySet()));
    return p;
  }

  public static Map<String, KeyProvider> all() {
    Map<String, KeyProvider> found = new TreeMap<>();
    for (KeyProvider p : ServiceLoader.load(KeyProvider.class)) {
      if (found.putIfAbsent(p.name(), p) != null) throw new IllegalStateException("two key providers named " + p.name());
    }
    return found;
  }
}
