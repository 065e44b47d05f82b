package dev.m2mfa.authority.factor.hardware;

import dev.m2mfa.api.factor.FactorOutcome;
import dev.m2mfa.api.factor.FactorVerifier;
import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.factor.VerificationContext;
import dev.m2mfa.authority.factor.AuthorityBound;
import java.security.Signature;
import java.util.Map;
import java.util.Optional;

/**
 * Factor {@code hardware}: the login was signed by a key that was proven, at enrollment, to
 * live in hardware it cannot leave. Passes only when both hold:
 * <ol>
 *   <li>the transcript signature verifies under the enrolled key (so the signer holds it now);
 *   <li>the machine's {@link KeyResidence} record has proof {@code tpm-credential-activation}
 *       (residence {@code tpm}), {@code vendor-attestation} (residence {@code pkcs11}), or
 *       {@code operator-trust} (residence {@code pkcs11}) while its class still trusts
 *       PKCS#11 claims (withdrawing {@code hardware.trust_pkcs11.<class>} takes effect at the
 *       next login).
 * </ol>
 * Defeats: a copied key file (the key of a hardware machine is not in its files), a software
 * key that claims to be in an HSM. Does not defeat: an attacker who keeps live access to the
 * machine and asks its token to sign (wiping the machine ends that).
 */
public final class HardwareFactor implements FactorVerifier, AuthorityBound {
  private volatile Services services;

  @Override
  public String name() {
    return KeyResidence.FACTOR;
  }

  @Override
  public void bind(Services services) {
    this.services = services;
  }

  @Override
  public Map<String, Object> challenge(EnrolledMachine machine) {
    return Map.of("alg", "ES256", "proof", "transcript-signature-by-enrolled-hardware-key");
  }

  @Override
  public FactorOutcome verify(VerificationContext context, Map<String, Object> untrustedEvidence) {
    Services s = services;
    if (s == null) return FactorOutcome.fail("hardware factor is not bound to the authority's store");
    byte[] sig = context.untrustedTranscriptSignature();
    if (sig == null || sig.length == 0 || sig.length > 80) return FactorOutcome.fail("no valid transcript signature");
    try {
      Signature v = Signature.getInstance("NONEwithECDSA", dev.m2mfa.authority.token.Crypto.provider());
      v.initVerify(context.machine().identityKey());
      v.update(context.transcriptDigest());
      if (!v.verify(sig)) return FactorOutcome.fail("transcript signature does not verify with the enrolled key");
    } catch (java.security.GeneralSecurityException e) {
      return FactorOutcome.fail("transcript signature malformed");
    }
    Optional<String> stored = s.store().factorStates().get(context.machine().name(), KeyResidence.FACTOR);
    if (stored.isEmpty()) return FactorOutcome.fail("no key residence recorded at enrollment: the key is not proven hardware-resident");
    KeyResidence.Record r;
    try {
      r = KeyResidence.Record.parse(stored.get());
    } catch (IllegalArgumentException e) {
      return FactorOutcome.fail("key residence record unreadable");
    }
    return switch (r.proof()) {
      case "tpm-credential-activation" -> r.residence().equals("tpm")
          ? FactorOutcome.pass("signed by the enrolled TPM-resident key (credential activation at enrollment)")
          : FactorOutcome.fail("credential-activation proof recorded for a " + r.residence() + " key");
      case "vendor-attestation" -> r.residence().equals("pkcs11")
          ? FactorOutcome.pass("signed by the enrolled HSM key (vendor attestation at enrollment: " + r.detail() + ")")
          : FactorOutcome.fail("vendor-attestation proof recorded for a " + r.residence() + " key");
      case "operator-trust" -> {
        if (!r.residence().equals("pkcs11")) yield FactorOutcome.fail("operator trust recorded for a " + r.residence() + " key");
        String cls = context.machine().policyClass();
        yield KeyResidence.classTrustsPkcs11(s.config(), cls)
            ? FactorOutcome.pass("signed by the enrolled PKCS#11 key; class " + cls + " trusts PKCS#11 claims")
            : FactorOutcome.fail("PKCS#11 key trusted by the operator at enrollment, but class " + cls + " no longer trusts PKCS#11 claims");
      }
      default -> FactorOutcome.fail("the enrolled key is " + r.residence() + " with no proof of hardware residence (" + r.detail() + ")");
    };
  }
}
