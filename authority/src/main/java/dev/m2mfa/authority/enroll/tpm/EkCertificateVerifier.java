package dev.m2mfa.authority.enroll.tpm;

import dev.m2mfa.api.tpm.TpmPublic;
import java.io.ByteArrayInputStream;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertStore;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.PKIXCertPathBuilderResult;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Checks an endorsement key certificate: it certifies exactly the EK the agent presented,
 * and it chains (JDK PKIX path building) to one of the configured anchors, through the
 * configured intermediates. Revocation is not checked: TPM vendors publish CRLs
 * inconsistently and the authority may be offline; a compromised TPM model is handled by
 * removing its CA from {@code tpm/ek-ca.pem}.
 */
final class EkCertificateVerifier {
  private static final int MAX_CERTIFICATE = 8 * 1024;
  private final Set<TrustAnchor> anchors = new HashSet<>();
  private final List<X509Certificate> intermediates = new ArrayList<>();

  EkCertificateVerifier(List<X509Certificate> authorities) {
    for (X509Certificate c : authorities) {
      if (c.getSubjectX500Principal().equals(c.getIssuerX500Principal())) anchors.add(new TrustAnchor(c, null));
      else intermediates.add(c);
    }
  }

  boolean hasAnchors() {
    return !anchors.isEmpty();
  }

  /** The verified certificate's issuer, or empty when the certificate does not verify. */
  Optional<String> verify(byte[] untrustedDer, TpmPublic ek) {
    if (untrustedDer.length > MAX_CERTIFICATE || anchors.isEmpty()) return Optional.empty();
    try {
      X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(untrustedDer));
      if (!ek.sameKeyAs(cert.getPublicKey())) return Optional.empty();
      X509CertSelector target = new X509CertSelector();
      target.setCertificate(cert);
      PKIXBuilderParameters params = new PKIXBuilderParameters(anchors, target);
      params.setRevocationEnabled(false);
      List<X509Certificate> pool = new ArrayList<>(intermediates);
      pool.add(cert);
      params.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(pool)));
      PKIXCertPathBuilderResult r = (PKIXCertPathBuilderResult) CertPathBuilder.getInstance("PKIX").build(params);
      return Optional.of(r.getTrustAnchor().getTrustedCert().getSubjectX500Principal().getName());
    } catch (Exception e) {
      return Optional.empty();
    }
  }
}
