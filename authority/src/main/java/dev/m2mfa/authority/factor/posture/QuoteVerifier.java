package dev.m2mfa.authority.factor.posture;

import dev.m2mfa.api.factor.EnrolledMachine;
import java.util.Map;

/**
 * The seam for TPM-anchored posture on the authority (implemented by the TPM work, found
 * through {@link java.util.ServiceLoader}). It checks what only a TPM can vouch for; the
 * posture verifier does the rest (replaying the report chain against the returned PCR value).
 *
 * <p>Contract: verify the quote's signature with the attestation key the authority recorded
 * for {@code machine} (never a key from the evidence), that its qualifying data is
 * {@code nonce}, that it covers exactly the named SHA-256 PCR, and return that PCR's quoted
 * value with the TPM's reset counter (a new boot resets the PCR and starts a new chain).
 * Throw {@link AnchorException} with a short reason for anything else (forged or foreign
 * quote, wrong nonce, no AK on record).
 */
public interface QuoteVerifier {
  QuotedPcr verify(EnrolledMachine machine, Map<String, Object> untrustedAnchor, byte[] nonce) throws AnchorException;

  /** A PCR value the TPM signed. */
  record QuotedPcr(int index, byte[] value, long resetCount) {
    public QuotedPcr {
      value = value.clone();
    }

    @Override
    public byte[] value() {
      return value.clone();
    }
  }

  /** The quote does not hold; the message is a short reason for the audit log. */
  final class AnchorException extends Exception {
    public AnchorException(String reason) {
      super(reason);
    }
  }
}
