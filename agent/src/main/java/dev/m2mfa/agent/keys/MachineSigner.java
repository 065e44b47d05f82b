package dev.m2mfa.agent.keys;

import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.Map;
import java.util.Optional;

/**
 * A handle to the machine's identity key, returned by a {@link KeyProvider}. The private key
 * never leaves its provider (a software file, a sealed file, a PKCS#11 token, a TPM): callers
 * can only ask for signatures.
 *
 * <p>Security guarantee: {@link #sign} produces ECDSA P-256 with SHA-256, DER-encoded
 * (the JCA {@code SHA256withECDSA} format). Warning: anything this handle signs is
 * attributable to the machine; sign only transcripts and proofs whose content you built.
 * {@code toString()} never prints key material.
 */
public interface MachineSigner {
  /**
   * ECDSA P-256 over SHA-256({@code data}), DER-encoded.
   *
   * @throws KeyLockedException if the key is sealed and no operator has unlocked it (or it re-locked)
   */
  byte[] sign(byte[] data);

  /** The P-256 public key; always available, even while a sealed key is locked. */
  PublicKey publicKey();

  /** The provider's name ({@code software}, {@code sealed}, {@code pkcs11}, {@code tpm}); the agent reports it at enrollment. */
  String provider();

  /**
   * A key JSSE can use for the TLS client certificate, if this provider can offer one without
   * the key leaving the provider. Software keys (already in this process) and PKCS#11 keys
   * (JSSE signs through SunPKCS11, the key stays in the token) can. A sealed key offers none,
   * so that re-locking really stops its use: a key object handed to an {@code SSLContext}
   * cannot be taken back. Without one the agent logs in without a client certificate and its
   * tokens bind to the key by {@code cnf.jkt} only (DPoP), never {@code x5t#S256}.
   */
  default Optional<PrivateKey> tlsKey() {
    return Optional.empty();
  }

  /**
   * Provider-specific evidence for enrollment (JSON-shaped), sent to the authority as
   * {@code key_residence.evidence}: e.g. a vendor attestation certificate chain
   * ({@code {"format": "x509-chain", "chain": [PEM...]}}) or TPM credential-activation data.
   * The authority trusts none of it until its own verifier checked it. Empty by default.
   */
  default Map<String, Object> enrollmentEvidence() {
    return Map.of();
  }
}
