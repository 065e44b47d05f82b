package dev.m2mfa.authority.factor.hardware;

import dev.m2mfa.api.pki.Pem;
import java.security.PublicKey;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Format {@code x509-chain}: {@code {"format": "x509-chain", "chain": ["-----BEGIN CERTIFICATE-----...", ...]}},
 * leaf first. The leaf certifies the attested key itself (its subject public key is the
 * enrolled key) and the chain validates (PKIX, no revocation check) to a configured vendor
 * root. This is the shape of YubiHSM 2 attestation (the device's attestation key, certified
 * by Yubico, signs a certificate for the generated key) and of HSMs that follow it. Vendors
 * with other formats (a signed statement plus chains) get their own verifier.
 */
public final class X509ChainAttestationVerifier implements KeyAttestationVerifier {
  private static final int MAX_CERTS = 6;
  private static final int MAX_PEM = 8 * 1024;

  @Override
  public String format() {
    return "x509-chain";
  }

  @Override
  public Verdict verify(Map<String, Object> untrustedEvidence, PublicKey enrolledKey, List<X509Certificate> roots) {
    if (roots.isEmpty()) return Verdict.refused("no vendor attestation roots are configured (hardware.attestation_roots)");
    if (!(untrustedEvidence.get("chain") instanceof List<?> raw) || raw.isEmpty() || raw.size() > MAX_CERTS) {
      return Verdict.refused("x509-chain evidence needs a chain of 1-" + MAX_CERTS + " PEM certificates");
    }
    try {
      List<X509Certificate> chain = new ArrayList<>();
      for (Object o : raw) {
        if (!(o instanceof String pem) || pem.length() > MAX_PEM) return Verdict.refused("x509-chain evidence holds a malformed certificate");
        chain.add(Pem.certificate(pem));
      }
      X509Certificate leaf = chain.getFirst();
      if (!java.util.Arrays.equals(leaf.getPublicKey().getEncoded(), enrolledKey.getEncoded())) {
        return Verdict.refused("the attestation certifies another key than the enrolled one");
      }
      Set<TrustAnchor> anchors = new HashSet<>();
      for (X509Certificate r : roots) anchors.add(new TrustAnchor(r, null));
      PKIXParameters params = new PKIXParameters(anchors);
      params.setRevocationEnabled(false);
      CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(chain), params);
      return Verdict.attested("attested by " + leaf.getIssuerX500Principal().getName() + " under a configured vendor root");
    } catch (java.security.cert.CertPathValidatorException e) {
      return Verdict.refused("the attestation chain does not validate to a configured vendor root");
    } catch (Exception e) {
      return Verdict.refused("x509-chain evidence cannot be read");
    }
  }
}
