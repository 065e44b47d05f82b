package dev.m2mfa.agent.keys;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;

/**
 * What a {@link KeyProvider} gets: the agent's state directory (0700, owned by the agent),
 * the provider's options from agent.conf ({@code key.<option>}, prefix removed), a source of
 * secrets (PIN, passphrase) that reads files, environment or a prompt but never argv, and a
 * clock (sealed keys re-lock on it; tests inject one).
 */
public record KeyContext(Path stateDir, Map<String, String> options, Secrets secrets, Clock clock) {
  public KeyContext {
    options = Map.copyOf(options);
  }

  public static KeyContext of(Path stateDir, Map<String, String> options, Secrets secrets) {
    return new KeyContext(stateDir, options, secrets, Clock.systemUTC());
  }

  public String option(String name, String defaultValue) {
    return options.getOrDefault(name, defaultValue);
  }

  /** Reads a secret when the provider needs one; the caller zeroes the array after use. */
  @FunctionalInterface
  public interface Secrets {
    /** @param what a short description for a prompt, e.g. {@code "PKCS#11 user PIN"} */
    char[] read(String what) throws IOException;

    static Secrets none() {
      return what -> {
        throw new IOException("no secret source configured for the " + what);
      };
    }

    static Secrets fixed(char[] secret) {
      return what -> secret.clone();
    }
  }
}
