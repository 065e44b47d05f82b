package dev.m2mfa.api;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * Secret bytes (a join token, a one-time secret, a passphrase) that never print themselves.
 *
 * <p>Reading the bytes is explicit ({@link #revealForUse()}), so every place that touches
 * secret material is found with one grep. Equality is constant-time. {@link #destroy()}
 * zeroes the copy held here; the JVM may have made others, which is as far as Java allows.
 */
public final class SecretBytes {
  private static final SecureRandom RANDOM = new SecureRandom();
  private final byte[] bytes;

  private SecretBytes(byte[] bytes) {
    this.bytes = bytes;
  }

  /** Takes a copy of {@code bytes}. */
  public static SecretBytes copyOf(byte[] bytes) {
    return new SecretBytes(bytes.clone());
  }

  /** {@code length} bytes from a {@link SecureRandom}. */
  public static SecretBytes random(int length) {
    byte[] b = new byte[length];
    RANDOM.nextBytes(b);
    return new SecretBytes(b);
  }

  /** A copy of the secret; the caller should zero it after use. */
  public byte[] revealForUse() {
    return bytes.clone();
  }

  public int length() {
    return bytes.length;
  }

  /** Constant-time comparison (for equal lengths). */
  public boolean equalsSecret(SecretBytes other) {
    return other != null && MessageDigest.isEqual(bytes, other.bytes);
  }

  public void destroy() {
    Arrays.fill(bytes, (byte) 0);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SecretBytes s && equalsSecret(s);
  }

  @Override
  public int hashCode() {
    return bytes.length; // never derived from content
  }

  @Override
  public String toString() {
    return "SecretBytes[redacted, " + bytes.length + " bytes]";
  }
}
