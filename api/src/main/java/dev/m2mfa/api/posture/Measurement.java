package dev.m2mfa.api.posture;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * One posture measurement: what was measured ({@link Kind}), which item ({@code key}) and what
 * it measured to ({@code value}).
 *
 * <p>Construction validates everything, so a {@code Measurement} that exists is safe to print
 * in a reason or an audit record: keys and values are at most {@link #MAX_FIELD_BYTES} bytes of
 * UTF-8 without control characters, file and process keys are absolute normalized paths (no
 * {@code .} or {@code ..} segments, no {@code //}).
 *
 * <ul>
 *   <li>{@code FILE}: key = absolute path, value = lowercase hex SHA-256 of the content
 *   <li>{@code PACKAGE}: key = package name (with {@code :arch} when several architectures of
 *       one name are installed), value = version
 *   <li>{@code PROCESS}: key = absolute path of a running executable, value = hex SHA-256 of
 *       the executable, {@code deleted} when the file is gone, {@code unreadable} otherwise
 *   <li>{@code LISTENER}: key = {@code tcp/ADDR:PORT} or {@code udp/ADDR:PORT} (IPv6 in
 *       brackets), value = the owning executable's path or {@code unknown}
 *   <li>{@code OS}: key = {@code kernel} or {@code os}, value = release string
 * </ul>
 */
public record Measurement(Kind kind, String key, String value) implements Comparable<Measurement> {
  public static final int MAX_FIELD_BYTES = 4096;

  /** Kinds in canonical order (by their wire name). */
  public enum Kind {
    FILE("file"), LISTENER("listener"), OS("os"), PACKAGE("package"), PROCESS("process");

    private final String wire;

    Kind(String wire) {
      this.wire = wire;
    }

    public String wire() {
      return wire;
    }

    public static Kind ofWire(String s) {
      for (Kind k : values()) if (k.wire.equals(s)) return k;
      throw new IllegalArgumentException("unknown measurement kind");
    }
  }

  public Measurement {
    Objects.requireNonNull(kind);
    checkText(key, "key");
    checkText(value, "value");
    if (key.isEmpty()) throw new IllegalArgumentException("empty key");
    if (kind == Kind.FILE || kind == Kind.PROCESS) checkPath(key);
  }

  public static Measurement file(String path, String sha256Hex) {
    return new Measurement(Kind.FILE, path, sha256Hex);
  }

  /** Identity of the measured item, without its value. */
  public String id() {
    return kind.wire + " " + key;
  }

  @Override
  public int compareTo(Measurement o) {
    int c = compareUtf8(kind.wire, o.kind.wire);
    return c != 0 ? c : compareUtf8(key, o.key);
  }

  /** Unsigned byte order of the UTF-8 encodings (equals code point order). */
  static int compareUtf8(String a, String b) {
    return java.util.Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }

  private static void checkText(String s, String what) {
    Objects.requireNonNull(s, what);
    if (s.length() > MAX_FIELD_BYTES || s.getBytes(StandardCharsets.UTF_8).length > MAX_FIELD_BYTES) {
      throw new IllegalArgumentException(what + " longer than " + MAX_FIELD_BYTES + " bytes");
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) throw new IllegalArgumentException(what + " contains a control character");
      if (Character.isSurrogate(c)) {
        if (!Character.isHighSurrogate(c) || i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
          throw new IllegalArgumentException(what + " is not valid Unicode");
        }
        i++;
      }
    }
  }

  /** An absolute, normalized path: starts with '/', no empty, '.' or '..' segment. */
  public static void checkPath(String p) {
    if (!p.startsWith("/")) throw new IllegalArgumentException("path is not absolute");
    if (p.equals("/")) return;
    if (p.endsWith("/")) throw new IllegalArgumentException("path ends with '/'");
    for (String seg : p.substring(1).split("/", -1)) {
      if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) throw new IllegalArgumentException("path traversal or non-normalized path");
    }
  }

  /** Quotes a key for a human-readable reason (keys are already free of control characters). */
  @Override
  public String toString() {
    return kind.wire + " " + key + " = " + value;
  }
}
