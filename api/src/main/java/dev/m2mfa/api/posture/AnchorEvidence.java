package dev.m2mfa.api.posture;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * What both sides agree on for a TPM-anchored posture report (the {@code anchor} object of the
 * posture evidence):
 *
 * <pre>
 * {"type":"tpm2-quote", "pcr":16, "log":["hex digest", …], "pcr_value":"hex",
 *  "quote":"base64url TPMS_ATTEST", "signature":"base64url DER ECDSA", "reset_count":N}
 * </pre>
 *
 * {@code pcr_value} is the value of the quoted PCR: a quote signs only the digest of the
 * selected PCR values, so the value travels beside it and the authority checks
 * {@code SHA-256(pcr_value)} against the signed digest.
 *
 * <p>The quote's qualifying data is not the login nonce itself but
 * {@link #qualifyingData SHA-256("m2mfa posture anchor v1" 0x00 || nonce)}: the tag keeps a
 * posture quote from being accepted where another protocol (the enrollment quote, which
 * qualifies with a raw nonce) expects one, and the hash keeps the value within the 64 bytes a
 * {@code TPM2B_DATA} may hold whatever the nonce's length.
 */
public final class AnchorEvidence {
  public static final String TYPE = "tpm2-quote";
  /**
   * The PCR used when none is configured: 16, the debug PCR. It is resettable from locality 0
   * (so tests can start clean), which also means root on the machine can reset it; see
   * docs/factors/posture.md for choosing a PCR that only a reboot resets.
   */
  public static final int DEFAULT_PCR = 16;
  private static final byte[] CONTEXT = "m2mfa posture anchor v1\0".getBytes(StandardCharsets.US_ASCII);

  private AnchorEvidence() {}

  /** The qualifying data (TPM2_Quote {@code qualifyingData}) for a login nonce. */
  public static byte[] qualifyingData(byte[] nonce) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(CONTEXT);
      md.update(nonce);
      return md.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** True for a PCR index a SHA-256 bank of a PC Client TPM has (0-23). */
  public static boolean validPcr(int pcr) {
    return pcr >= 0 && pcr <= 23;
  }
}
