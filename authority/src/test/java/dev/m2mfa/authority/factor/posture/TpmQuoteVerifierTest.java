package dev.m2mfa.authority.factor.posture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.factor.FactorStatus;
import dev.m2mfa.api.factor.VerificationContext;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.posture.AnchorEvidence;
import dev.m2mfa.api.posture.Measurement;
import dev.m2mfa.api.posture.MeasurementList;
import dev.m2mfa.api.posture.PostureEvidence;
import dev.m2mfa.api.posture.ReportChain;
import dev.m2mfa.api.tpm.TpmAttest;
import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.enroll.tpm.TpmEnrollmentService;
import dev.m2mfa.authority.factor.AuthorityBound;
import dev.m2mfa.authority.store.JdbcStore;
import dev.m2mfa.authority.store.Store;
import dev.m2mfa.testkit.Swtpm;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TpmQuoteVerifier} against quotes made by real software TPMs (swtpm, tpm2-tools): TPM
 * "a" is the machine's, with its AK on record as TPM enrollment leaves it; TPM "b" is another
 * TPM whose AK signs just as well, but is not the one on record. Each test resets PCR 16 first.
 */
class TpmQuoteVerifierTest {
  static final int PCR = 16;
  static final EnrolledMachine MACHINE =
      new EnrolledMachine("machine-a", "spiffe://t/machine/machine-a", "web", KeyFiles.newP256().getPublic(), List.of());
  @TempDir static Path tmp;
  static Swtpm a;
  static Swtpm b;
  static Path akA;
  static Path akB;
  static TpmPublic akPublicA;

  @TempDir Path dir;
  Store store;
  AuditLog audit;
  TpmQuoteVerifier verifier;

  @BeforeAll
  static void tpms() throws Exception {
    a = Swtpm.start(tmp.resolve("tpm-a"), tmp.resolve("ek-ca"));
    b = Swtpm.start(tmp.resolve("tpm-b"), tmp.resolve("ek-ca"));
    akA = createAk(a);
    akB = createAk(b);
    akPublicA = TpmPublic.parse2b(Files.readAllBytes(a.directory().resolve("ak.pub")));
  }

  /** An ECC AK under the ECC EK, as TPM enrollment makes it; returns its saved context. */
  static Path createAk(Swtpm t) throws Exception {
    t.toolOk("tpm2_createek", "-G", "ecc", "-c", "ek.ctx", "-u", "ek.pub", "-f", "tss");
    t.toolOk("tpm2_createak", "-C", "ek.ctx", "-G", "ecc", "-g", "sha256", "-s", "ecdsa", "-c", "ak.ctx", "-u", "ak.pub", "-f", "tss",
        "-n", "ak.name");
    t.toolOk("tpm2_flushcontext", "-t");
    return t.directory().resolve("ak.ctx");
  }

  @AfterAll
  static void stopTpms() {
    for (Swtpm t : new Swtpm[] {a, b}) if (t != null) t.close();
  }

  @BeforeEach
  void open() throws Exception {
    store = JdbcStore.openSqlite(dir.resolve("m2mfa.db"));
    audit = new AuditLog(store);
    // what TpmEnrollmentService.finish records for the machine
    store.factorStates().put(MACHINE.name(), TpmEnrollmentService.AK_STATE,
        "{\"ak_public\":\"" + Base64.getEncoder().encodeToString(akPublicA.wire()) + "\",\"ak_name\":\"x\"}", 1);
    verifier = new TpmQuoteVerifier(store, PCR);
    a.toolOk("tpm2_pcrreset", String.valueOf(PCR));
    b.toolOk("tpm2_pcrreset", String.valueOf(PCR));
  }

  @AfterEach
  void close() {
    audit.close();
    store.close();
  }

  static void extend(Swtpm t, byte[] digest) throws Exception {
    t.toolOk("tpm2_pcrextend", PCR + ":sha256=" + HexFormat.of().formatHex(digest));
  }

  record Quote(byte[] attest, byte[] signature) {}

  static Quote quote(Swtpm t, Path ak, String pcrs, byte[] qualifyingData) throws Exception {
    Path msg = t.directory().resolve("q.msg");
    Path sig = t.directory().resolve("q.sig");
    Files.deleteIfExists(msg);
    Files.deleteIfExists(sig);
    t.toolOk("tpm2_quote", "-c", ak.toString(), "-l", pcrs, "-q", HexFormat.of().formatHex(qualifyingData), "-m", msg.toString(), "-s",
        sig.toString(), "-g", "sha256", "-f", "plain");
    t.toolOk("tpm2_flushcontext", "-t");
    return new Quote(Files.readAllBytes(msg), Files.readAllBytes(sig));
  }

  static Map<String, Object> anchor(Quote q, List<byte[]> log, byte[] pcrValue) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("type", AnchorEvidence.TYPE);
    m.put("pcr", PCR);
    m.put("log", log.stream().map(HexFormat.of()::formatHex).toList());
    m.put("pcr_value", HexFormat.of().formatHex(pcrValue));
    m.put("quote", b64(q.attest()));
    m.put("signature", b64(q.signature()));
    m.put("reset_count", Integer.toUnsignedLong(TpmAttest.parse(q.attest()).resetCount()));
    return m;
  }

  static String b64(byte[] x) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(x);
  }

  static byte[] nonce(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  static byte[] sha256(String s) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
  }

  /** Extends {@code log} into TPM a's PCR and quotes it over {@code loginNonce} as the agent does. */
  Map<String, Object> honestAnchor(List<byte[]> log, byte[] loginNonce) throws Exception {
    for (byte[] d : log) extend(a, d);
    return anchor(quote(a, akA, "sha256:" + PCR, AnchorEvidence.qualifyingData(loginNonce)), log, ReportChain.replay(log));
  }

  void assertRefused(Map<String, Object> anchor, byte[] loginNonce, String reasonPart) {
    assertThatThrownBy(() -> verifier.verify(MACHINE, anchor, loginNonce)).isInstanceOf(QuoteVerifier.AnchorException.class)
        .hasMessageContaining(reasonPart);
  }

  @Test
  void anHonestQuoteGivesTheTpmsPcrValueAndResetCounter() throws Exception {
    List<byte[]> log = List.of(sha256("report 1"), sha256("report 2"));
    Map<String, Object> anchor = honestAnchor(log, nonce("login-nonce-1"));
    QuoteVerifier.QuotedPcr q = verifier.verify(MACHINE, anchor, nonce("login-nonce-1"));
    assertThat(q.index()).isEqualTo(PCR);
    assertThat(q.value()).isEqualTo(ReportChain.replay(log));
    // the value the TPM itself holds
    a.toolOk("tpm2_pcrread", "sha256:" + PCR, "-o", "pcr.bin");
    assertThat(q.value()).isEqualTo(Files.readAllBytes(a.directory().resolve("pcr.bin")));
    assertThat(q.resetCount()).isEqualTo(((Number) anchor.get("reset_count")).longValue());
  }

  @Test
  void aQuoteByAnotherTpmsAttestationKeyIsRefused() throws Exception {
    List<byte[]> log = List.of(sha256("report 1"));
    extend(b, log.get(0));
    // a genuine TPM quote with the right PCR, value and nonce, but signed by TPM b's AK
    Map<String, Object> foreign = anchor(quote(b, akB, "sha256:" + PCR, AnchorEvidence.qualifyingData(nonce("n1"))), log, ReportChain.replay(log));
    assertRefused(foreign, nonce("n1"), "not signed by this machine's attestation key");
    // a signature lifted from a genuine quote onto edited bytes fails the same way
    Map<String, Object> honest = honestAnchor(log, nonce("n2"));
    byte[] attest = Base64.getUrlDecoder().decode((String) honest.get("quote"));
    attest[attest.length - 1] ^= 1;
    honest.put("quote", b64(attest));
    assertRefused(honest, nonce("n2"), "not signed by this machine's attestation key");
  }

  @Test
  void aReplayedQuoteOverAnEarlierNonceIsRefused() throws Exception {
    List<byte[]> log = List.of(sha256("report 1"));
    Map<String, Object> earlier = honestAnchor(log, nonce("nonce-of-an-earlier-login"));
    assertThat(verifier.verify(MACHINE, earlier, nonce("nonce-of-an-earlier-login")).value()).isEqualTo(ReportChain.replay(log));
    assertRefused(earlier, nonce("nonce-of-this-login"), "not over this login's nonce (stale or replayed)");
    // qualifying data must be the tagged hash, not the raw nonce (which the enrollment quote uses)
    Map<String, Object> raw = anchor(quote(a, akA, "sha256:" + PCR, nonce("raw")), log, ReportChain.replay(log));
    assertRefused(raw, nonce("raw"), "not over this login's nonce");
  }

  @Test
  void aQuoteOverOtherPcrsThanExactlyTheConfiguredOneIsRefused() throws Exception {
    List<byte[]> log = List.of(sha256("report 1"));
    extend(a, log.get(0));
    byte[] qd = AnchorEvidence.qualifyingData(nonce("n"));
    // PCR 16 plus another: the digest then covers both, and the selection is not exactly 16
    assertRefused(anchor(quote(a, akA, "sha256:15,16", qd), log, ReportChain.replay(log)), nonce("n"), "does not cover exactly PCR 16");
    // a PCR that never moves (0 is all zeros on swtpm), claimed to be 16
    assertRefused(anchor(quote(a, akA, "sha256:0", qd), log, ReportChain.resetValue()), nonce("n"), "does not cover exactly PCR 16");
    // the right quote, presented as another PCR
    Map<String, Object> other = anchor(quote(a, akA, "sha256:" + PCR, qd), log, ReportChain.replay(log));
    other.put("pcr", 23);
    assertRefused(other, nonce("n"), "another PCR than the configured PCR 16");
  }

  @Test
  void aPcrValueOrResetCounterThatTheQuoteDoesNotSignIsRefused() throws Exception {
    List<byte[]> log = List.of(sha256("report 1"));
    Map<String, Object> anchor = honestAnchor(log, nonce("n"));
    Map<String, Object> lie = new LinkedHashMap<>(anchor);
    lie.put("pcr_value", HexFormat.of().formatHex(ReportChain.replay(List.of(sha256("a cleaner report")))));
    assertRefused(lie, nonce("n"), "pcr_value is not the value the TPM quoted");
    Map<String, Object> reset = new LinkedHashMap<>(anchor);
    reset.put("reset_count", ((Number) anchor.get("reset_count")).longValue() + 1);
    assertRefused(reset, nonce("n"), "reset_count disagrees with the quote");
  }

  @Test
  void truncatedOversizedAndMalformedAnchorsAreRefusedWithAReason() throws Exception {
    List<byte[]> log = List.of(sha256("report 1"));
    Map<String, Object> good = honestAnchor(log, nonce("n"));
    byte[] attest = Base64.getUrlDecoder().decode((String) good.get("quote"));
    for (int cut : new int[] {1, 10, 40, attest.length - 1}) {
      Map<String, Object> t = new LinkedHashMap<>(good);
      t.put("quote", b64(Arrays.copyOf(attest, attest.length - cut)));
      assertRefused(t, nonce("n"), "quote is malformed");
    }
    Map<String, Object> trailing = new LinkedHashMap<>(good);
    trailing.put("quote", b64(Arrays.copyOf(attest, attest.length + 1)));
    assertRefused(trailing, nonce("n"), "quote is malformed: trailing bytes");
    Map<String, Object> magic = new LinkedHashMap<>(good);
    byte[] notGenerated = attest.clone();
    notGenerated[0] = 0;
    magic.put("quote", b64(notGenerated));
    assertRefused(magic, nonce("n"), "not a TPM-generated attestation");
    Map<String, Object> huge = new LinkedHashMap<>(good);
    huge.put("quote", "A".repeat(5000));
    assertRefused(huge, nonce("n"), "quote is larger than 4096 characters");
    Map<String, Object> notB64 = new LinkedHashMap<>(good);
    notB64.put("signature", "%%%");
    assertRefused(notB64, nonce("n"), "signature is not base64url");
    Map<String, Object> sig = new LinkedHashMap<>(good);
    sig.put("signature", b64(new byte[70]));
    assertRefused(sig, nonce("n"), "not signed by this machine's attestation key");
    Map<String, Object> type = new LinkedHashMap<>(good);
    type.put("type", "tpm2-certify");
    assertRefused(type, nonce("n"), "anchor type is not tpm2-quote");
    Map<String, Object> value = new LinkedHashMap<>(good);
    value.put("pcr_value", "zz");
    assertRefused(value, nonce("n"), "pcr_value must be 64 lowercase hex characters");
    Map<String, Object> noPcr = new LinkedHashMap<>(good);
    noPcr.put("pcr", "16");
    assertRefused(noPcr, nonce("n"), "another PCR");
  }

  @Test
  void aMachineWithoutARecordedAttestationKeyIsRefused() throws Exception {
    Map<String, Object> anchor = honestAnchor(List.of(sha256("report 1")), nonce("n"));
    EnrolledMachine other = new EnrolledMachine("machine-b", "spiffe://t/machine/machine-b", "web", MACHINE.identityKey(), List.of());
    assertThatThrownBy(() -> verifier.verify(other, anchor, nonce("n"))).isInstanceOf(QuoteVerifier.AnchorException.class)
        .hasMessageContaining("no TPM attestation key on record");
  }

  @Test
  void thePcrComesFromAuthorityConfAndAnInvalidOneStopsTheAuthority() throws Exception {
    TpmQuoteVerifier configured = new TpmQuoteVerifier();
    configured.bind(new AuthorityBound.Services(store, audit,
        AuthorityConfig.defaults().withPluginOptions(Map.of(TpmQuoteVerifier.PCR_OPTION, "13"))));
    assertThat(configured.pcr()).isEqualTo(13);
    Map<String, Object> over16 = honestAnchor(List.of(sha256("report 1")), nonce("n"));
    assertThatThrownBy(() -> configured.verify(MACHINE, over16, nonce("n"))).isInstanceOf(QuoteVerifier.AnchorException.class)
        .hasMessageContaining("another PCR than the configured PCR 13");
    for (String bad : List.of("24", "-1", "sixteen")) {
      assertThatThrownBy(() -> new TpmQuoteVerifier().bind(new AuthorityBound.Services(store, audit,
          AuthorityConfig.defaults().withPluginOptions(Map.of(TpmQuoteVerifier.PCR_OPTION, bad)))))
          .isInstanceOf(IllegalArgumentException.class).hasMessage("posture.anchor_pcr must be a PCR index from 0 to 23");
    }
  }

  record Ctx(EnrolledMachine machine, InetAddress sourceAddress, byte[] transcriptDigest, byte[] untrustedTranscriptSignature,
      Map<String, Object> challenge) implements VerificationContext {}

  /**
   * The whole anchor with the posture verifier as the authority loads it (the quote verifier
   * found through ServiceLoader and bound with the store): a report extended and then swapped
   * for an older one does not replay to what the TPM quoted.
   */
  @Test
  void aReportSwappedAfterItWasExtendedIsRefusedByThePostureVerifier() throws Exception {
    PostureFactorVerifier posture = new PostureFactorVerifier();
    posture.bind(new AuthorityBound.Services(store, audit,
        AuthorityConfig.defaults().withPluginOptions(Map.of(TpmQuoteVerifier.PCR_OPTION, String.valueOf(PCR)))));
    MeasurementList clean = MeasurementList.of(List.of(Measurement.file("/usr/sbin/sshd", "1".repeat(64))));
    MeasurementList replaced = MeasurementList.of(List.of(Measurement.file("/usr/sbin/sshd", "9".repeat(64))));

    Ctx c1 = new Ctx(MACHINE, InetAddress.getLoopbackAddress(), new byte[32], new byte[0], posture.challenge(MACHINE));
    String n1 = (String) c1.challenge().get("nonce");
    Map<String, Object> ev1 = PostureEvidence.full(n1, clean);
    ev1.put("anchor", honestAnchor(List.of(clean.digest()), nonce(n1)));
    PostureFactorVerifier.Assessment first = posture.assess(c1, ev1);
    assertThat(first.status()).as(first.reason()).isEqualTo(FactorStatus.PASS);
    assertThat(first.reason()).contains("anchored");

    // the agent measured the replaced sshd and extended it; now it sends the older, clean report
    extend(a, replaced.digest());
    Ctx c2 = new Ctx(MACHINE, InetAddress.getLoopbackAddress(), new byte[32], new byte[0], posture.challenge(MACHINE));
    String n2 = (String) c2.challenge().get("nonce");
    Quote q = quote(a, akA, "sha256:" + PCR, AnchorEvidence.qualifyingData(nonce(n2)));
    Optional<String> before = store.factorStates().get(MACHINE.name(), PostureFactorVerifier.STATE);
    // with the TPM's true value, the chain it shows does not replay to it
    Map<String, Object> ev2 = PostureEvidence.full(n2, clean);
    ev2.put("anchor", anchor(q, List.of(clean.digest()), ReportChain.replay(List.of(clean.digest(), replaced.digest()))));
    PostureFactorVerifier.Assessment swapped = posture.assess(c2, ev2);
    assertThat(swapped.refused()).isTrue();
    assertThat(swapped.reason()).contains("report chain does not replay to the quoted PCR value");
    // with the value its chain gives, the quote does not sign that value
    Map<String, Object> ev3 = PostureEvidence.full(n2, clean);
    ev3.put("anchor", anchor(q, List.of(clean.digest()), ReportChain.replay(List.of(clean.digest()))));
    assertThat(posture.assess(c2, ev3).reason()).contains("pcr_value is not the value the TPM quoted");
    // extending the clean report once more replays, but the replaced one stands in the chain unseen
    extend(a, clean.digest());
    List<byte[]> full = List.of(clean.digest(), replaced.digest(), clean.digest());
    Ctx c3 = new Ctx(MACHINE, InetAddress.getLoopbackAddress(), new byte[32], new byte[0], posture.challenge(MACHINE));
    String n3 = (String) c3.challenge().get("nonce");
    Map<String, Object> ev4 = PostureEvidence.full(n3, clean);
    ev4.put("anchor", anchor(quote(a, akA, "sha256:" + PCR, AnchorEvidence.qualifyingData(nonce(n3))), full, ReportChain.replay(full)));
    assertThat(posture.assess(c3, ev4).reason()).contains("extended but never shown to the authority (withheld)");
    assertThat(store.factorStates().get(MACHINE.name(), PostureFactorVerifier.STATE)).isEqualTo(before);
  }
}
