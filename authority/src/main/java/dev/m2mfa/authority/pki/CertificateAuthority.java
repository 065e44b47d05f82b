package dev.m2mfa.authority.pki;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.Pem;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The authority's X.509 CA: an offline-style root and an issuing key, both P-256, both
 * encrypted at rest under the operator's passphrase. Only the issuing key is loaded to serve.
 *
 * <p>Every certificate it issues names its subject by a SPIFFE-style URI SAN
 * ({@code spiffe://<trust-domain>/machine/<name>} or {@code .../admin/<name>}); relying
 * parties match on that, not on the CN. Machine certificates are short-lived (default 1 h)
 * and slightly backdated for clock skew.
 */
public final class CertificateAuthority {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Duration BACKDATE = Duration.ofMinutes(1);

  private final String trustDomain;
  private final X509Certificate root;
  private final X509Certificate issuing;
  private final PrivateKey issuingKey;

  private CertificateAuthority(String trustDomain, X509Certificate root, X509Certificate issuing, PrivateKey issuingKey) {
    this.trustDomain = trustDomain;
    this.root = root;
    this.issuing = issuing;
    this.issuingKey = issuingKey;
  }

  /** Creates root and issuing CA in {@code caDir}; refuses to overwrite. */
  public static CertificateAuthority create(Path caDir, String trustDomain, char[] passphrase) throws IOException {
    if (Files.exists(caDir.resolve("root.pem"))) throw new IOException("a CA already exists in " + caDir);
    Files.createDirectories(caDir);
    KeyPair rootKeys = KeyFiles.newP256();
    KeyPair issuingKeys = KeyFiles.newP256();
    Instant now = Instant.now();
    X509Certificate root = build(new X500Name("CN=m2mfa root CA, O=" + trustDomain), rootKeys.getPublic(),
        new X500Name("CN=m2mfa root CA, O=" + trustDomain), rootKeys.getPrivate(), null, now, Duration.ofDays(3650), true, 1, null, null);
    X509Certificate issuing = build(new X500Name("CN=m2mfa issuing CA, O=" + trustDomain), issuingKeys.getPublic(),
        X500Name.getInstance(root.getSubjectX500Principal().getEncoded()), rootKeys.getPrivate(), root, now, Duration.ofDays(1825), true, 0, null, null);
    Files.writeString(caDir.resolve("root.pem"), Pem.encode(root));
    Files.writeString(caDir.resolve("issuing.pem"), Pem.encode(issuing));
    KeyFiles.writeEncrypted(caDir.resolve("root.key"), rootKeys.getPrivate(), passphrase);
    KeyFiles.writeEncrypted(caDir.resolve("issuing.key"), issuingKeys.getPrivate(), passphrase);
    return new CertificateAuthority(trustDomain, root, issuing, issuingKeys.getPrivate());
  }

  public static CertificateAuthority open(Path caDir, String trustDomain, char[] passphrase) throws IOException {
    X509Certificate root = Pem.certificate(Files.readString(caDir.resolve("root.pem")));
    X509Certificate issuing = Pem.certificate(Files.readString(caDir.resolve("issuing.pem")));
    PrivateKey key = KeyFiles.readEncrypted(caDir.resolve("issuing.key"), passphrase);
    return new CertificateAuthority(trustDomain, root, issuing, key);
  }

  public X509Certificate root() {
    return root;
  }

  public List<X509Certificate> chainFor(X509Certificate leaf) {
    return List.of(leaf, issuing);
  }

  public String machineSpiffeId(String name) {
    return "spiffe://" + trustDomain + "/machine/" + name;
  }

  public String adminSpiffeId(String name) {
    return "spiffe://" + trustDomain + "/admin/" + name;
  }

  public X509Certificate issueMachine(String name, PublicKey key, Duration lifetime) {
    return issueClient("CN=" + name + ", OU=machine", machineSpiffeId(name), key, lifetime);
  }

  public X509Certificate issueAdmin(String name, PublicKey key, Duration lifetime) {
    return issueClient("CN=" + name + ", OU=admin", adminSpiffeId(name), key, lifetime);
  }

  private X509Certificate issueClient(String subject, String spiffeId, PublicKey key, Duration lifetime) {
    GeneralNames san = new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, spiffeId));
    return build(new X500Name(subject), key, X500Name.getInstance(issuing.getSubjectX500Principal().getEncoded()), issuingKey, issuing,
        Instant.now(), lifetime, false, -1, san, KeyPurposeId.id_kp_clientAuth);
  }

  /** A TLS server certificate for the authority itself, for the given DNS names and IP literals. */
  public X509Certificate issueServer(PublicKey key, List<String> names, Duration lifetime) {
    List<GeneralName> sans = new ArrayList<>();
    for (String n : names) {
      boolean ip = n.matches("[0-9.]+") || n.contains(":");
      sans.add(new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, n));
    }
    return build(new X500Name("CN=m2mfa authority"), key, X500Name.getInstance(issuing.getSubjectX500Principal().getEncoded()), issuingKey, issuing,
        Instant.now(), lifetime, false, -1, new GeneralNames(sans.toArray(GeneralName[]::new)), KeyPurposeId.id_kp_serverAuth);
  }

  /** Base64url SHA-256 of a certificate's DER (RFC 8705 {@code x5t#S256}). */
  public static String thumbprint(X509Certificate cert) {
    try {
      return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** The SPIFFE URI SAN of a certificate, or null. */
  public static String spiffeIdOf(X509Certificate cert) {
    try {
      var sans = cert.getSubjectAlternativeNames();
      if (sans == null) return null;
      for (List<?> san : sans) {
        if (Integer.valueOf(6).equals(san.get(0)) && san.get(1) instanceof String s && s.startsWith("spiffe://")) return s;
      }
    } catch (java.security.cert.CertificateParsingException e) {
      return null;
    }
    return null;
  }

  private static X509Certificate build(X500Name subject, PublicKey key, X500Name issuer, PrivateKey signer, X509Certificate issuerCert,
      Instant now, Duration lifetime, boolean ca, int pathLen, GeneralNames san, KeyPurposeId eku) {
    try {
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, new BigInteger(127, RANDOM).add(BigInteger.ONE),
          Date.from(now.minus(BACKDATE)), Date.from(now.plus(lifetime)), subject, key);
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(key));
      if (issuerCert != null) b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(issuerCert));
      if (ca) {
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(pathLen));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      } else {
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
        b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(eku));
      }
      if (san != null) b.addExtension(Extension.subjectAlternativeName, !subject.toString().isEmpty() ? false : true, san);
      ContentSigner cs = new JcaContentSignerBuilder("SHA256withECDSA").build(signer);
      return new JcaX509CertificateConverter().getCertificate(b.build(cs));
    } catch (Exception e) {
      throw new IllegalStateException("certificate issuance failed", e);
    }
  }

  /** Resolves names for a server certificate: always localhost and the loopback literals. */
  public static List<String> defaultServerNames(String host) {
    List<String> names = new ArrayList<>(List.of("localhost", "127.0.0.1", "::1"));
    if (host != null && !host.isBlank() && !names.contains(host) && !host.equals("0.0.0.0")) names.add(host);
    try {
      String local = InetAddress.getLocalHost().getHostName();
      if (!names.contains(local)) names.add(local);
    } catch (IOException ignored) {
      // no host name: loopback names suffice
    }
    return names;
  }
}
