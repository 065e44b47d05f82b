package dev.m2mfa.authority.factor.hardware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.api.LoginTranscript;
import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.factor.FactorOutcome;
import dev.m2mfa.api.factor.FactorStatus;
import dev.m2mfa.api.factor.VerificationContext;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.factor.AuthorityBound;
import dev.m2mfa.authority.store.JdbcStore;
import dev.m2mfa.authority.store.Store;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hardware factor and the residence records behind it: each proof, each refusal, the
 * operator's trust withdrawn, and the vendor attestation hook with a real certificate chain.
 */
class HardwareFactorTest {
  @TempDir Path dir;
  final KeyPair key = KeyFiles.newP256();
  Store store;

  record Ctx(EnrolledMachine machine, InetAddress sourceAddress, byte[] transcriptDigest, byte[] untrustedTranscriptSignature,
      Map<String, Object> challenge) implements VerificationContext {}

  @BeforeEach
  void open() {
    store = JdbcStore.openSqlite(dir.resolve("s.db"));
  }

  @AfterEach
  void close() {
    store.close();
  }

  HardwareFactor bound(AuthorityConfig config) {
    HardwareFactor f = new HardwareFactor();
    f.bind(new AuthorityBound.Services(store, null, config));
    return f;
  }

  Ctx login(String machine, String cls, KeyPair signer) throws Exception {
    byte[] transcript = LoginTranscript.bytes("{}".getBytes(), new byte[32], "{}".getBytes());
    Signature s = Signature.getInstance("SHA256withECDSA");
    s.initSign(signer.getPrivate());
    s.update(transcript);
    return new Ctx(new EnrolledMachine(machine, "spiffe://t/machine/" + machine, cls, key.getPublic(), List.of()), InetAddress.ofLiteral("192.0.2.1"),
        LoginTranscript.digest("{}".getBytes(), new byte[32], "{}".getBytes()), s.sign(), Map.of());
  }

  FactorOutcome run(AuthorityConfig config, Map<String, Object> claim, String cls, KeyPair signer) throws Exception {
    store.factorStates().put("m", KeyResidence.FACTOR, KeyResidence.assess(claim, key.getPublic(), cls, config).json(), 0);
    return bound(config).verify(login("m", cls, signer), Map.of());
  }

  static AuthorityConfig trusting(String cls) {
    return AuthorityConfig.defaults().withPluginOptions(Map.of("hardware.trust_pkcs11." + cls, "true"));
  }

  @Test
  void theRecordHasExactlyTheAgreedShape() {
    KeyResidence.Record r = KeyResidence.assess(Map.of("provider", "pkcs11"), key.getPublic(), "hsm", trusting("hsm"));
    assertThat(r.json()).matches("\\{\"residence\":\"pkcs11\",\"proof\":\"operator-trust\",\"detail\":\"[^\"]+\"\\}");
    assertThat(KeyResidence.Record.parse(r.json())).isEqualTo(r);
  }

  @Test
  void aPkcs11KeyInATrustingClassPassesAndFailsOnceTrustIsWithdrawn() throws Exception {
    assertThat(run(trusting("hsm"), Map.of("provider", "pkcs11"), "hsm", key).status()).isEqualTo(FactorStatus.PASS);
    FactorOutcome withdrawn = bound(AuthorityConfig.defaults()).verify(login("m", "hsm", key), Map.of());
    assertThat(withdrawn.status()).isEqualTo(FactorStatus.FAIL);
    assertThat(withdrawn.reason()).contains("no longer trusts PKCS#11 claims");
  }

  @Test
  void softwareSealedAndUntrustedPkcs11ClaimsFailWithAReason() throws Exception {
    for (String p : List.of("software", "sealed", "tpm")) {
      FactorOutcome o = run(trusting("default"), Map.of("provider", p), "default", key);
      assertThat(o.status()).as(p).isEqualTo(FactorStatus.FAIL);
      assertThat(o.reason()).contains("no proof of hardware residence");
    }
    FactorOutcome untrusted = run(trusting("other"), Map.of("provider", "pkcs11"), "default", key);
    assertThat(untrusted.status()).isEqualTo(FactorStatus.FAIL);
    assertThat(untrusted.reason()).contains("does not trust PKCS#11 claims");
  }

  @Test
  void aSignatureByAnotherKeyFailsEvenWithAProof() throws Exception {
    FactorOutcome o = run(trusting("hsm"), Map.of("provider", "pkcs11"), "hsm", KeyFiles.newP256());
    assertThat(o.status()).isEqualTo(FactorStatus.FAIL);
    assertThat(o.reason()).contains("does not verify");
  }

  @Test
  void noRecordOrAnUnboundFactorFails() throws Exception {
    assertThat(bound(AuthorityConfig.defaults()).verify(login("nobody", "default", key), Map.of()).reason()).contains("no key residence recorded");
    assertThat(new HardwareFactor().verify(login("m", "default", key), Map.of()).status()).isEqualTo(FactorStatus.FAIL);
  }

  @Test
  void aVendorAttestationChainingToAConfiguredRootPasses() throws Exception {
    KeyPair vendor = KeyFiles.newP256();
    X509Certificate root = cert("CN=Vendor Attestation Root", vendor.getPublic(), "CN=Vendor Attestation Root", vendor, true);
    KeyPair device = KeyFiles.newP256();
    X509Certificate deviceCert = cert("CN=HSM 12345 attestation key", device.getPublic(), "CN=Vendor Attestation Root", vendor, true);
    X509Certificate attest = cert("CN=attested key", key.getPublic(), "CN=HSM 12345 attestation key", device, false);
    Path roots = dir.resolve("roots.pem");
    Files.writeString(roots, Pem.encode(root));
    AuthorityConfig cfg = AuthorityConfig.defaults().withPluginOptions(Map.of("hardware.attestation_roots", roots.toString()));
    Map<String, Object> claim = Map.of("provider", "pkcs11", "evidence", Map.of("format", "x509-chain", "chain", List.of(Pem.encode(attest), Pem.encode(deviceCert))));

    KeyResidence.Record r = KeyResidence.assess(claim, key.getPublic(), "default", cfg);
    assertThat(r.proof()).isEqualTo("vendor-attestation");
    assertThat(run(cfg, claim, "default", key).status()).isEqualTo(FactorStatus.PASS);

    // the same chain for another key, a chain to an unconfigured root, and no roots at all: refused
    KeyPair other = KeyFiles.newP256();
    assertThat(KeyResidence.assess(claim, other.getPublic(), "default", cfg).proof()).isEqualTo("none");
    KeyPair rogue = KeyFiles.newP256();
    X509Certificate rogueAttest = cert("CN=attested key", key.getPublic(), "CN=HSM 12345 attestation key", rogue, false);
    Map<String, Object> forged = Map.of("provider", "pkcs11", "evidence", Map.of("format", "x509-chain", "chain", List.of(Pem.encode(rogueAttest), Pem.encode(deviceCert))));
    KeyResidence.Record f = KeyResidence.assess(forged, key.getPublic(), "default", cfg);
    assertThat(f.proof()).isEqualTo("none");
    assertThat(f.detail()).contains("does not validate");
    assertThat(KeyResidence.assess(claim, key.getPublic(), "default", AuthorityConfig.defaults()).detail()).contains("no vendor attestation roots");
  }

  @Test
  void trustAndRootsRoundTripThroughAuthorityConf() throws Exception {
    AuthorityConfig cfg = trusting("hsm").withPluginOptions(Map.of("hardware.trust_pkcs11.hsm", "true", "hardware.attestation_roots", "/etc/roots.pem"));
    Path file = dir.resolve("authority.conf");
    cfg.write(file);
    Files.writeString(file, Files.readString(file) + "Weird.Key=ignored\n");
    AuthorityConfig loaded = AuthorityConfig.load(file);
    assertThat(loaded.pluginOptions()).isEqualTo(cfg.pluginOptions());
    assertThat(KeyResidence.classTrustsPkcs11(loaded, "hsm")).isTrue();
    assertThat(KeyResidence.classTrustsPkcs11(loaded, "default")).isFalse();
  }

  @Test
  void malformedClaimsAreRefusedBeforeAnything() {
    assertThatThrownBy(() -> KeyResidence.checkShape(Map.of("provider", "floppy"))).isInstanceOf(KeyResidence.BadClaim.class);
    assertThatThrownBy(() -> KeyResidence.checkShape(Map.of("provider", "pkcs11", "evidence", "x"))).isInstanceOf(KeyResidence.BadClaim.class);
    Map<String, Object> junk = Map.of("provider", "pkcs11", "evidence", Map.of("format", "x509-chain", "chain", List.of("not a cert")));
    assertThat(KeyResidence.assess(junk, key.getPublic(), "default", AuthorityConfig.defaults()).proof()).isEqualTo("none");
  }

  static X509Certificate cert(String subject, PublicKey pub, String issuer, KeyPair issuerKey, boolean ca) throws Exception {
    long now = System.currentTimeMillis();
    var b = new JcaX509v3CertificateBuilder(new X500Name(issuer), BigInteger.valueOf(now ^ pub.hashCode()), new Date(now - 60_000),
        new Date(now + 3_600_000), new X500Name(subject), pub);
    if (ca) b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey.getPrivate())));
  }
}
