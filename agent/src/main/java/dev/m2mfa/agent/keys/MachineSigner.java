package dev.m2mfa.agent.keys;

import java.security.PublicKey;

/**
 * A handle to the machine's identity key. The private key never leaves its provider
 * (a software file now; a sealed file, PKCS#11 token or TPM later): callers can only ask
 * for signatures.
 *
 * <p>Security guarantee: {@link #sign} produces ECDSA P-256 with SHA-256, DER-encoded.
 * Warning: anything this handle signs is attributable to the machine; sign only transcripts
 * and proofs whose content you built.
 */
public interface MachineSigner {
  /** ECDSA P-256 over SHA-256({@code data}), DER-encoded. */
  byte[] sign(byte[] data);

  PublicKey publicKey();

  /** Where the key lives, for enrollment records and logs (e.g. {@code software}). */
  String provider();
}
