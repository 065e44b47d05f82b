package dev.m2mfa.api;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The login transcript both sides hash: the exact challenge bytes the authority sent, the
 * TLS exporter of the connection (RFC 9266 style channel binding) and the exact evidence
 * bytes the agent sent, each length-prefixed. The agent signs this digest with its identity
 * key; a transcript therefore cannot be replayed (the challenge is single-use) nor relayed
 * onto another TLS connection (the exporter differs).
 */
public final class LoginTranscript {
  /** TLS exporter label (RFC 5705) for login channel binding. */
  public static final String EXPORTER_LABEL = "EXPORTER-m2mfa-login";
  public static final int EXPORTER_LENGTH = 32;
  private static final byte[] CONTEXT = "m2mfa-login-v1".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  private LoginTranscript() {}

  public static byte[] digest(byte[] challenge, byte[] exporter, byte[] evidence) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(CONTEXT);
      for (byte[] part : new byte[][] {challenge, exporter, evidence}) {
        md.update(ByteBuffer.allocate(4).putInt(part.length).array());
        md.update(part);
      }
      return md.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The bytes whose SHA-256 is {@link #digest}: for signers that hash themselves. */
  public static byte[] bytes(byte[] challenge, byte[] exporter, byte[] evidence) {
    ByteBuffer b = ByteBuffer.allocate(CONTEXT.length + 12 + challenge.length + exporter.length + evidence.length);
    b.put(CONTEXT);
    for (byte[] part : new byte[][] {challenge, exporter, evidence}) b.putInt(part.length).put(part);
    return b.array();
  }
}
