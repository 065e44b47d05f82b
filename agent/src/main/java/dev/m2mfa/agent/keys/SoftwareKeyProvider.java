package dev.m2mfa.agent.keys;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Provider {@code software}: the key in {@code identity.key} in the state directory, encrypted
 * PKCS#8 under the agent passphrase (read through {@link KeyContext#secrets()}). Anyone who
 * reads the file and the passphrase copies the key: residence {@code software}, proof
 * {@code none}.
 */
public final class SoftwareKeyProvider implements KeyProvider {
  public static final String FILE = "identity.key";

  @Override
  public String name() {
    return "software";
  }

  @Override
  public MachineSigner generate(KeyContext context) throws IOException {
    Path file = context.stateDir().resolve(FILE);
    if (java.nio.file.Files.exists(file)) throw new KeyExistsException("an identity key already exists at " + FILE);
    char[] pass = context.secrets().read("identity key passphrase");
    try {
      return SoftwareKey.generate(file, pass);
    } finally {
      Arrays.fill(pass, '\0');
    }
  }

  @Override
  public void discard(KeyContext context) throws IOException {
    java.nio.file.Files.deleteIfExists(context.stateDir().resolve(FILE));
  }

  @Override
  public MachineSigner open(KeyContext context) throws IOException {
    char[] pass = context.secrets().read("identity key passphrase");
    try {
      return SoftwareKey.open(context.stateDir().resolve(FILE), pass);
    } finally {
      Arrays.fill(pass, '\0');
    }
  }

  /** Opens a software key file directly (tests and tools). */
  public static SoftwareKey open(Path file, char[] passphrase) throws IOException {
    return SoftwareKey.open(file, passphrase);
  }

  /** Generates a software key file directly (tests and tools); refuses to overwrite. */
  public static SoftwareKey generate(Path file, char[] passphrase) throws IOException {
    return SoftwareKey.generate(file, passphrase);
  }
}
