package dev.m2mfa.agent.keys;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.crypto.threshold.ShamirSecretSplitter;
import org.bouncycastle.crypto.threshold.ShamirSplitSecret;
import org.bouncycastle.crypto.threshold.ShamirSplitSecretShare;

/**
 * k-of-n Shamir shares of a 32-byte unlock secret, through BouncyCastle's
 * {@link ShamirSecretSplitter} (GF(2^8), the AES polynomial). This class only adds a text
 * form an operator can copy:
 *
 * <pre>m2mfa-share-v1.&lt;k&gt;of&lt;n&gt;.&lt;index&gt;.&lt;seal id&gt;.&lt;share, base64url&gt;.&lt;checksum&gt;</pre>
 *
 * The seal id (from the sealed file's salt) tells shares of another seal apart; the 4-byte
 * checksum catches a mistyped share. Neither authenticates: fewer than k shares, or shares
 * of different polynomials, rebuild a wrong secret, which the sealed file then refuses.
 */
final class KeyShares {
  static final int SECRET_BYTES = 32;
  private static final SecureRandom RANDOM = new SecureRandom();

  private KeyShares() {}

  /** A parsed share; {@code toString} never prints it. */
  record Share(int threshold, int count, int index, String sealId, byte[] value) {
    @Override
    public String toString() {
      return "Share[" + index + " of " + count + ", " + threshold + " needed, value redacted]";
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Share s && s.index == index && s.sealId.equals(sealId);
    }

    @Override
    public int hashCode() {
      return index;
    }
  }

  /** A fresh random secret and its shares (the caller zeroes {@code secret}). */
  record Split(byte[] secret, List<String> shares) {
    @Override
    public String toString() {
      return "Split[" + shares.size() + " shares, redacted]";
    }
  }

  static Split split(int threshold, int count, String sealId) {
    if (threshold < 2 || count < threshold || count > 16) throw new IllegalArgumentException("shares: need 2 <= threshold <= shares <= 16");
    var split = ShamirSecretSplitter.getInstance(ShamirSecretSplitter.Algorithm.AES, SECRET_BYTES, RANDOM).split(threshold, count);
    try {
      List<String> out = new ArrayList<>();
      var shares = split.getSecretShares();
      for (int i = 0; i < shares.length; i++) out.add(encode(threshold, count, i + 1, sealId, shares[i].getEncoded()));
      return new Split(split.getSecret(), out);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static String encode(int threshold, int count, int index, String sealId, byte[] value) {
    String body = "m2mfa-share-v1." + threshold + "of" + count + "." + index + "." + sealId + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(value);
    return body + "." + checksum(body);
  }

  /** Parses one share; the message says what is wrong without echoing the share. */
  static Share parse(String text) {
    String s = text == null ? "" : text.strip();
    if (s.length() > 200) throw new IllegalArgumentException("not an m2mfa share (too long)");
    String[] parts = s.split("\\.");
    if (parts.length != 6 || !parts[0].equals("m2mfa-share-v1")) throw new IllegalArgumentException("not an m2mfa share (expected m2mfa-share-v1.KofN.I.ID.VALUE.SUM)");
    int dot = s.lastIndexOf('.');
    if (!MessageDigest.isEqual(checksum(s.substring(0, dot)).getBytes(StandardCharsets.US_ASCII), parts[5].getBytes(StandardCharsets.US_ASCII))) {
      throw new IllegalArgumentException("share checksum does not match: the share was mistyped or truncated");
    }
    try {
      String[] kn = parts[1].split("of");
      int k = Integer.parseInt(kn[0]);
      int n = Integer.parseInt(kn[1]);
      int i = Integer.parseInt(parts[2]);
      byte[] v = Base64.getUrlDecoder().decode(parts[4]);
      if (k < 2 || n < k || n > 16 || i < 1 || i > n || v.length != SECRET_BYTES || !parts[3].matches("[0-9a-f]{8}")) {
        throw new IllegalArgumentException("share fields out of range");
      }
      return new Share(k, n, i, parts[3], v);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not an m2mfa share (malformed fields)");
    }
  }

  /** Rebuilds the secret from shares (at least one); the caller checks there are enough. */
  static byte[] combine(List<Share> shares) {
    ShamirSplitSecretShare[] in = new ShamirSplitSecretShare[shares.size()];
    for (int i = 0; i < in.length; i++) in[i] = new ShamirSplitSecretShare(shares.get(i).value(), shares.get(i).index());
    try {
      return ShamirSplitSecret.getInstance(ShamirSecretSplitter.Algorithm.AES, in).getSecret();
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("shares cannot be combined");
    }
  }

  static String sealId(byte[] salt) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(salt), 0, 4);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String checksum(String body) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(body.getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(Arrays.copyOf(d, 4));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

}
