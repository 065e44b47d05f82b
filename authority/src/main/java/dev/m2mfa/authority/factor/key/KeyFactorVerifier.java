package dev.m2mfa.authority.factor.key;

import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.factor.FactorOutcome;
import dev.m2mfa.api.factor.FactorVerifier;
import dev.m2mfa.api.factor.VerificationContext;
import java.security.Signature;
import java.util.Map;

/**
 * Factor {@code key}: the agent signed the whole login transcript (challenge, TLS exporter,
 * evidence) with its enrolled identity key. Defeats replay (fresh nonce, single-use session),
 * relay (the exporter differs on any other TLS connection) and guessing.
 */
public final class KeyFactorVerifier implements FactorVerifier {
  @Override
  public String name() {
    return "key";
  }

  @Override
  public Map<String, Object> challenge(EnrolledMachine machine) {
    return Map.of("alg", "ES256", "binding", "tls-exporter");
  }

  @Override
  public FactorOutcome verify(VerificationContext context, Map<String, Object> untrustedEvidence) {
    byte[] sig = context.untrustedTranscriptSignature();
    if (sig == null || sig.length == 0 || sig.length > 80) return FactorOutcome.fail("no valid transcript signature");
    try {
      Signature v = Signature.getInstance("NONEwithECDSA", dev.m2mfa.authority.token.Crypto.provider());
      v.initVerify(context.machine().identityKey());
      v.update(context.transcriptDigest());
      return v.verify(sig)
          ? FactorOutcome.pass("transcript signed by the enrolled key over this TLS channel")
          : FactorOutcome.fail("transcript signature does not verify with the enrolled key (replayed, relayed or forged)");
    } catch (java.security.GeneralSecurityException e) {
      return FactorOutcome.fail("transcript signature malformed");
    }
  }
}
