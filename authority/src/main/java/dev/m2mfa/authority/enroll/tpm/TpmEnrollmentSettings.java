package dev.m2mfa.authority.enroll.tpm;

import dev.m2mfa.api.pki.Pem;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

/**
 * TPM enrollment options, read from the authority directory's {@code tpm/} folder:
 * {@code tpm/ek-ca.pem} (the EK certificate authorities an operator trusts: TPM vendors'
 * roots and intermediates; self-signed ones are the trust anchors) and {@code tpm/tpm.conf}
 * ({@code require_ek_certificate=true} refuses TPMs without a verifiable EK certificate;
 * the default accepts them on trust on first use and records that in the machine's
 * hardware state).
 *
 * @param ekCertificateAuthorities anchors and intermediates for EK certificate paths
 * @param requireEkCertificate refuse an EK without a certificate that chains to an anchor
 * @param sessionLifetime how long a started TPM enrollment waits for its finish
 */
public record TpmEnrollmentSettings(List<X509Certificate> ekCertificateAuthorities, boolean requireEkCertificate,
    Duration sessionLifetime) {
  public static final String DIRECTORY = "tpm";

  public TpmEnrollmentSettings {
    ekCertificateAuthorities = List.copyOf(ekCertificateAuthorities);
    if (sessionLifetime.isNegative() || sessionLifetime.isZero() || sessionLifetime.toMinutes() > 10) {
      throw new IllegalArgumentException("the TPM enrollment session lifetime must be 1 s to 10 min");
    }
    if (requireEkCertificate && ekCertificateAuthorities.isEmpty()) {
      throw new IllegalArgumentException("require_ek_certificate=true needs at least one CA certificate in tpm/ek-ca.pem");
    }
  }

  public static TpmEnrollmentSettings defaults() {
    return new TpmEnrollmentSettings(List.of(), false, Duration.ofMinutes(2));
  }

  /** Reads {@code authorityDir/tpm/}; a missing folder means the defaults. */
  public static TpmEnrollmentSettings load(Path authorityDir) throws IOException {
    Path dir = authorityDir.resolve(DIRECTORY);
    List<X509Certificate> cas = List.of();
    Path pem = dir.resolve("ek-ca.pem");
    if (Files.exists(pem)) {
      try {
        cas = Pem.certificates(Files.readString(pem));
      } catch (RuntimeException e) {
        throw new IOException(pem + " does not hold PEM certificates");
      }
    }
    boolean require = false;
    Path conf = dir.resolve("tpm.conf");
    if (Files.exists(conf)) {
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(conf)) {
        p.load(r);
      }
      String v = p.getProperty("require_ek_certificate", "false").strip();
      if (!v.equals("true") && !v.equals("false")) throw new IOException(conf + ": require_ek_certificate must be true or false");
      require = v.equals("true");
    }
    try {
      return new TpmEnrollmentSettings(cas, require, Duration.ofMinutes(2));
    } catch (IllegalArgumentException e) {
      throw new IOException(conf + ": " + e.getMessage());
    }
  }
}
