package dev.m2mfa.api.posture;

import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

/**
 * The IMA-style hash chain that anchors posture reports in a TPM PCR: before sending a report
 * the agent extends its digest into a PCR ({@code pcr' = SHA-256(pcr || digest)}, what
 * TPM2_PCR_Extend does for a SHA-256 bank) and the authority replays the list of digests
 * extended since the PCR was last reset against the value the TPM quoted. A report once
 * extended cannot be retracted or swapped: the PCR only moves forward, and only a reboot
 * resets it (which the quote's reset counter shows).
 *
 * <p>Pure computation, no TPM: the TPM calls live behind the anchor seams
 * (agent {@code PostureAnchor}, authority {@code QuoteVerifier}).
 */
public final class ReportChain {
  public static final int DIGEST_BYTES = 32;
  /** Reports per boot the authority will replay; a longer log is refused. */
  public static final int MAX_LOG = 4096;

  private ReportChain() {}

  /** A SHA-256 PCR after reset. */
  public static byte[] resetValue() {
    return new byte[DIGEST_BYTES];
  }

  public static byte[] extend(byte[] pcr, byte[] digest) {
    if (pcr.length != DIGEST_BYTES || digest.length != DIGEST_BYTES) throw new IllegalArgumentException("PCR and digest must be 32 bytes");
    MessageDigest md = sha256();
    md.update(pcr);
    md.update(digest);
    return md.digest();
  }

  /** The PCR value after extending every digest of {@code log}, in order, from reset. */
  public static byte[] replay(List<byte[]> log) {
    if (log.size() > MAX_LOG) throw new InvalidReportException("report chain longer than " + MAX_LOG);
    byte[] pcr = resetValue();
    for (byte[] d : log) pcr = extend(pcr, d);
    return pcr;
  }

  /** True if {@code log} replays to {@code quotedPcr} (constant-time comparison). */
  public static boolean replaysTo(List<byte[]> log, byte[] quotedPcr) {
    return MessageDigest.isEqual(replay(log), quotedPcr);
  }

  /** True if {@code prefix} is the start of {@code log} (an append-only log grew, nothing rewritten). */
  public static boolean extendsLog(List<byte[]> prefix, List<byte[]> log) {
    if (prefix.size() > log.size()) return false;
    boolean same = true;
    for (int i = 0; i < prefix.size(); i++) same &= MessageDigest.isEqual(prefix.get(i), log.get(i));
    return same;
  }

  public static byte[] parseDigest(String hex) {
    if (hex == null || hex.length() != DIGEST_BYTES * 2 || !hex.matches("[0-9a-f]+")) throw new InvalidReportException("digest must be 64 lowercase hex characters");
    return HexFormat.of().parseHex(hex);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
