package dev.m2mfa.api.tpm;

import java.util.Arrays;

/**
 * Reads TPM 2.0 wire structures (big-endian integers, {@code TPM2B} size-prefixed buffers)
 * from untrusted bytes. Every read is bounded by what is left; a structure that is short,
 * long or oversized throws {@link MalformedTpmDataException} with a fixed sentence.
 */
public final class TpmReader {
  private final byte[] data;
  private int at;

  public TpmReader(byte[] data) {
    this.data = data;
  }

  public int u8() {
    need(1);
    return data[at++] & 0xff;
  }

  public int u16() {
    need(2);
    int v = ((data[at] & 0xff) << 8) | (data[at + 1] & 0xff);
    at += 2;
    return v;
  }

  public int u32() {
    need(4);
    int v = ((data[at] & 0xff) << 24) | ((data[at + 1] & 0xff) << 16) | ((data[at + 2] & 0xff) << 8) | (data[at + 3] & 0xff);
    at += 4;
    return v;
  }

  public long u64() {
    long hi = u32() & 0xffffffffL;
    long lo = u32() & 0xffffffffL;
    return (hi << 32) | lo;
  }

  /** A {@code TPM2B}: a 16-bit size, then that many bytes (at most {@code max}). */
  public byte[] tpm2b(int max) {
    int size = u16();
    if (size > max) throw new MalformedTpmDataException("a TPM2B field is larger than allowed");
    return bytes(size);
  }

  public byte[] bytes(int n) {
    need(n);
    byte[] out = Arrays.copyOfRange(data, at, at + n);
    at += n;
    return out;
  }

  public int position() {
    return at;
  }

  public void expectEnd() {
    if (at != data.length) throw new MalformedTpmDataException("trailing bytes after a TPM structure");
  }

  private void need(int n) {
    if (n < 0 || data.length - at < n) throw new MalformedTpmDataException("a TPM structure is truncated");
  }

  /** Unwraps a {@code TPM2B_*} whose content is one structure: returns the inner bytes. */
  public static byte[] unwrap2b(byte[] tpm2b, int max) {
    TpmReader r = new TpmReader(tpm2b);
    byte[] inner = r.tpm2b(max);
    r.expectEnd();
    return inner;
  }

  /** Wraps bytes as a {@code TPM2B}. */
  public static byte[] wrap2b(byte[] content) {
    if (content.length > 0xffff) throw new IllegalArgumentException("too large for a TPM2B");
    byte[] out = new byte[content.length + 2];
    out[0] = (byte) (content.length >>> 8);
    out[1] = (byte) content.length;
    System.arraycopy(content, 0, out, 2, content.length);
    return out;
  }
}
