package dev.m2mfa.authority.factor.hardware;

import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;

/**
 * Checks a vendor's key attestation: a statement, signed by a key the vendor put in the device,
 * that a given public key was generated inside that device and cannot leave it (YubiHSM 2
 * attestation certificates, cloud HSM attestation bundles). One implementation per evidence
 * {@link #format()}, found through {@link java.util.ServiceLoader} by
 * {@link KeyAttestationVerifiers}; the agent names the format in its enrollment evidence.
 *
 * <p>Contract: {@link #verify} returns a pass only when the statement chains to one of
 * {@code roots} (the operator's configured vendor roots, never roots from the evidence) and
 * attests exactly {@code enrolledKey} (the key the CSR proved possession of). It never
 * throws for hostile evidence and bounds what it parses. The caller stamps the format on the
 * record, so one verifier cannot speak for another.
 */
public interface KeyAttestationVerifier {
  /** The evidence format this verifier reads, e.g. {@code x509-chain}. */
  String format();

  Verdict verify(Map<String, Object> untrustedEvidence, PublicKey enrolledKey, List<X509Certificate> roots);

  /** The outcome; {@code detail} is a short operator-facing sentence (no secrets). */
  record Verdict(boolean attested, String detail) {
    public static Verdict attested(String detail) {
      return new Verdict(true, detail);
    }

    public static Verdict refused(String detail) {
      return new Verdict(false, detail);
    }
  }
}
