package dev.m2mfa.authority.factor.posture;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.factor.FactorStatus;
import dev.m2mfa.api.factor.VerificationContext;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.posture.Measurement;
import dev.m2mfa.api.posture.Measurement.Kind;
import dev.m2mfa.api.posture.MeasurementList;
import dev.m2mfa.api.posture.PostureEvidence;
import dev.m2mfa.api.posture.ReportChain;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.factor.AuthorityBound;
import dev.m2mfa.authority.store.AuditRecord;
import dev.m2mfa.authority.store.JdbcStore;
import dev.m2mfa.authority.store.Store;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The posture verifier against a real SQLite store: TOFU, findings with their named reasons,
 * and hostile evidence refused with nothing stored.
 */
class PostureFactorVerifierTest {
  static final String SSHD = "1".repeat(64);
  static final String SSHD_REPLACED = "9".repeat(64);
  static final String X_HASH = "7".repeat(64);
  static final EnrolledMachine MACHINE =
      new EnrolledMachine("machine-a", "spiffe://t/machine/machine-a", "web", KeyFiles.newP256().getPublic(), List.of());

  @TempDir Path dir;
  Store store;
  AuditLog audit;
  /** The PCR value the fake quote verifier vouches for; null = quote refused (forged). */
  final AtomicReference<byte[]> quotedPcr = new AtomicReference<>();
  /** The reset counter the fake quote verifier reports (a reboot changes it). */
  final java.util.concurrent.atomic.AtomicLong resetCount = new java.util.concurrent.atomic.AtomicLong(1);
  PostureFactorVerifier verifier;

  record Ctx(EnrolledMachine machine, InetAddress sourceAddress, byte[] transcriptDigest, byte[] untrustedTranscriptSignature,
      Map<String, Object> challenge) implements VerificationContext {}

  @BeforeEach
  void open() {
    store = JdbcStore.openSqlite(dir.resolve("m2mfa.db"));
    audit = new AuditLog(store);
    // stands in for the TPM work's verifier: it vouches for a given PCR value, or refuses the quote
    QuoteVerifier quotes = (machine, anchor, nonce) -> {
      byte[] v = quotedPcr.get();
      if (v == null || !"tpm2-quote".equals(anchor.get("type"))) throw new QuoteVerifier.AnchorException("quote signature does not verify");
      return new QuoteVerifier.QuotedPcr(23, v, resetCount.get());
    };
    verifier = new PostureFactorVerifier(quotes);
    verifier.bind(new AuthorityBound.Services(store, audit, AuthorityConfig.defaults()));
  }

  @AfterEach
  void close() {
    audit.close();
    store.close();
  }

  static List<Measurement> healthy() {
    return new ArrayList<>(List.of(Measurement.file("/usr/sbin/sshd", SSHD), Measurement.file("/etc/ssh/sshd_config", "2".repeat(64)),
        new Measurement(Kind.PACKAGE, "openssh-server", "1:9.2p1-2"), new Measurement(Kind.PROCESS, "/usr/sbin/sshd", SSHD),
        new Measurement(Kind.LISTENER, "tcp/0.0.0.0:22", "/usr/sbin/sshd"), new Measurement(Kind.OS, "kernel", "6.1.0-18-amd64")));
  }

  Ctx ctx() {
    return new Ctx(MACHINE, InetAddress.getLoopbackAddress(), new byte[32], new byte[0], verifier.challenge(MACHINE));
  }

  PostureFactorVerifier.Assessment login(List<Measurement> ms) {
    Ctx c = ctx();
    return verifier.assess(c, PostureEvidence.full((String) c.challenge().get("nonce"), MeasurementList.of(ms)));
  }

  Map<String, Optional<String>> storedState() {
    Map<String, Optional<String>> m = new LinkedHashMap<>();
    for (String k : List.of(PostureFactorVerifier.STATE, PostureFactorVerifier.MACHINE_BASELINE)) m.put(k, store.factorStates().get(MACHINE.name(), k));
    return m;
  }

  List<AuditRecord> auditRecords() {
    audit.close();
    audit = new AuditLog(store);
    verifier.bind(new AuthorityBound.Services(store, audit, AuthorityConfig.defaults()));
    List<AuditRecord> out = new ArrayList<>();
    store.audit().scan(0, out::add);
    return out;
  }

  @Test
  void firstReportIsLearnedAsTrustOnFirstUseAndSaidSo() {
    PostureFactorVerifier.Assessment a = login(healthy());
    assertThat(a.status()).isEqualTo(FactorStatus.PASS);
    assertThat(a.reason()).contains("TOFU").contains("trust on first use");
    Baseline b = PostureFactorVerifier.storedBaseline(store, MACHINE.name(), false).orElseThrow();
    assertThat(b.trustOnFirstUse()).isTrue();
    assertThat(b.files()).containsEntry("/usr/sbin/sshd", SSHD);
    assertThat(auditRecords()).anySatisfy(r -> {
      assertThat(r.event()).isEqualTo("posture.baseline.learned");
      assertThat(r.detail()).contains("\"trust_on_first_use\":true");
    });
    // the next login matches and says the baseline was learned on first use
    PostureFactorVerifier.Assessment again = login(healthy());
    assertThat(again.status()).isEqualTo(FactorStatus.PASS);
    assertThat(again.reason()).contains("match the machine baseline (learned on first use)");
  }

  @Test
  void deltaAgainstTheLastAcceptedReportIsAccepted() {
    assertThat(login(healthy()).status()).isEqualTo(FactorStatus.PASS);
    Ctx c = ctx();
    MeasurementList base = MeasurementList.of(healthy());
    assertThat(c.challenge().get("base")).isEqualTo(base.digestHex());
    List<Measurement> next = healthy();
    next.removeIf(m -> m.key().equals("/etc/ssh/sshd_config"));
    Map<String, Object> ev = PostureEvidence.delta((String) c.challenge().get("nonce"), base, MeasurementList.of(next));
    PostureFactorVerifier.Assessment a = verifier.assess(c, ev);
    assertThat(a.status()).isEqualTo(FactorStatus.FAIL);
    assertThat(a.findings()).containsExactly(new PostureFinding(PostureFinding.FILE_MISSING, "/etc/ssh/sshd_config: missing"));
  }

  @Test
  void aChangedFileIsAFindingNamedByPathAndNothingIsAccepted() {
    login(healthy());
    Map<String, Optional<String>> before = storedState();
    List<Measurement> tampered = healthy();
    tampered.set(0, Measurement.file("/usr/sbin/sshd", SSHD_REPLACED));
    PostureFactorVerifier.Assessment a = login(tampered);
    assertThat(a.status()).isEqualTo(FactorStatus.FAIL);
    assertThat(a.refused()).isFalse();
    assertThat(a.reason()).isEqualTo("/usr/sbin/sshd: sha256 changed");
    assertThat(a.findings()).containsExactly(new PostureFinding(PostureFinding.FILE_CHANGED, "/usr/sbin/sshd: sha256 changed"));
    assertThat(storedState()).isEqualTo(before);
    assertThat(auditRecords()).anySatisfy(r -> assertThat(r.event()).isEqualTo("posture.findings"));
  }

  @Test
  void anUnknownProcessAndAnUnexpectedListenerAreNamed() {
    login(healthy());
    List<Measurement> owned = healthy();
    owned.add(new Measurement(Kind.PROCESS, "/tmp/x", X_HASH));
    owned.add(new Measurement(Kind.LISTENER, "tcp/127.0.0.1:4444", "/tmp/x"));
    PostureFactorVerifier.Assessment a = login(owned);
    assertThat(a.status()).isEqualTo(FactorStatus.FAIL);
    assertThat(a.findings()).containsExactly(new PostureFinding(PostureFinding.LISTENER_NEW, "new listener tcp/4444 on 127.0.0.1 by /tmp/x"),
        new PostureFinding(PostureFinding.PROCESS_UNKNOWN, "unknown process /tmp/x"));
    assertThat(a.reason()).contains("new listener tcp/4444 on 127.0.0.1 by /tmp/x").contains("unknown process /tmp/x");
  }

  @Test
  void aForbiddenPackageFromTheClassManifestIsNamedWithItsVersion() {
    Baseline manifest = new Baseline(1, Baseline.MANIFEST, 0, List.of("/usr/sbin"), Map.of("/usr/sbin/sshd", SSHD), Map.of("openssh-server", "*"),
        Map.of("nmap", "*"), null, null, List.of("tcp/22"), null);
    PostureFactorVerifier.storeBaseline(store, "web", true, manifest);
    List<Measurement> ms = healthy();
    ms.add(new Measurement(Kind.PACKAGE, "nmap", "7.93"));
    PostureFactorVerifier.Assessment a = login(ms);
    assertThat(a.status()).isEqualTo(FactorStatus.FAIL);
    assertThat(a.findings()).containsExactly(new PostureFinding(PostureFinding.PACKAGE_FORBIDDEN, "forbidden package nmap 7.93"));
    // without nmap the same machine passes against the class manifest (no TOFU: a manifest exists)
    PostureFactorVerifier.Assessment ok = login(healthy());
    assertThat(ok.status()).isEqualTo(FactorStatus.PASS);
    assertThat(ok.reason()).contains("class web baseline");
    assertThat(PostureFactorVerifier.storedBaseline(store, MACHINE.name(), false)).isEmpty();
  }

  // ---- hostile evidence: refused with a clear reason, nothing stored

  void assertRefused(Map<String, Object> ev, Ctx c, String reasonPart) {
    Map<String, Optional<String>> before = storedState();
    PostureFactorVerifier.Assessment a = verifier.assess(c, ev);
    assertThat(a.status()).isEqualTo(FactorStatus.FAIL);
    assertThat(a.refused()).isTrue();
    assertThat(a.reason()).startsWith("posture evidence refused: ").contains(reasonPart);
    assertThat(storedState()).isEqualTo(before);
  }

  Map<String, Object> rawFull(Ctx c, byte[] canonical, String digestHex) {
    Map<String, Object> ev = new LinkedHashMap<>();
    ev.put("v", 1);
    ev.put("nonce", c.challenge().get("nonce"));
    ev.put("digest", digestHex);
    ev.put("full", Base64.getUrlEncoder().withoutPadding().encodeToString(MeasurementList.deflate(canonical)));
    return ev;
  }

  static byte[] raw(byte[][]... entries) {
    try {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(b);
      out.write("M2PL1".getBytes(StandardCharsets.US_ASCII));
      out.writeInt(entries.length);
      for (byte[][] e : entries) {
        for (byte[] f : e) {
          out.writeInt(f.length);
          out.write(f);
        }
      }
      return b.toByteArray();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static byte[][] entry(String kind, String key, String value) {
    return new byte[][] {kind.getBytes(StandardCharsets.UTF_8), key.getBytes(StandardCharsets.UTF_8), value.getBytes(StandardCharsets.UTF_8)};
  }

  static String sha(byte[] b) throws Exception {
    return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
  }

  @Test
  void hostileListsAreRefusedAndNothingIsStored() throws Exception {
    login(healthy()); // a baseline and a last report exist: none of the below may touch them
    Ctx c = ctx();
    byte[] traversal = raw(entry("file", "/usr/sbin/../../etc/shadow", SSHD));
    assertRefused(rawFull(c, traversal, sha(traversal)), c, "path traversal");
    byte[] control = raw(entry("file", "/tmp/x\r\nfile /usr/sbin/sshd", SSHD));
    assertRefused(rawFull(c, control, sha(control)), c, "control character");
    byte[][] badUtf8 = {"file".getBytes(), new byte[] {'/', 't', (byte) 0xff, 'x'}, SSHD.getBytes()};
    byte[] invalid = raw(badUtf8);
    assertRefused(rawFull(c, invalid, sha(invalid)), c, "not valid UTF-8");
    byte[] dup = raw(entry("file", "/a", SSHD), entry("file", "/a", SSHD));
    assertRefused(rawFull(c, dup, sha(dup)), c, "duplicate entry: file /a");
    byte[] good = MeasurementList.of(healthy()).encode();
    assertRefused(rawFull(c, good, "0".repeat(64)), c, "digest does not match the measurement list");
    Map<String, Object> oversized = rawFull(c, good, sha(good));
    oversized.put("full", "A".repeat(70_000));
    assertRefused(oversized, c, "report larger than");
    byte[] bomb = new byte[MeasurementList.MAX_ENCODED_BYTES + 1];
    assertRefused(rawFull(c, bomb, sha(bomb)), c, "inflates beyond");
  }

  @Test
  void aStaleNonceIsRefused() {
    Ctx earlier = ctx();
    Map<String, Object> recorded = PostureEvidence.full((String) earlier.challenge().get("nonce"), MeasurementList.of(healthy()));
    assertRefused(recorded, ctx(), "stale or foreign nonce");
    assertThat(storedState().values()).allMatch(Optional::isEmpty);
  }

  @Test
  void anAnchoredReportMustReplayToTheQuotedPcr() {
    MeasurementList r1 = MeasurementList.of(healthy());
    List<byte[]> log = List.of(r1.digest());
    quotedPcr.set(ReportChain.replay(log));

    Ctx c = ctx();
    Map<String, Object> ev = PostureEvidence.full((String) c.challenge().get("nonce"), r1);
    ev.put("anchor", anchor(log));
    PostureFactorVerifier.Assessment ok = verifier.assess(c, ev);
    assertThat(ok.status()).isEqualTo(FactorStatus.PASS);
    assertThat(ok.reason()).contains("anchored");

    // the agent extended a report it now hides (it shows an older, cleaner log)
    List<Measurement> clean = healthy();
    clean.add(new Measurement(Kind.OS, "os", "Debian GNU/Linux 12 (bookworm)"));
    MeasurementList r2 = MeasurementList.of(clean);
    byte[] hidden = sha256("the report the agent would rather not show");
    quotedPcr.set(ReportChain.replay(List.of(log.get(0), hidden, r2.digest())));
    Ctx c2 = ctx();
    Map<String, Object> swapped = PostureEvidence.full((String) c2.challenge().get("nonce"), r2);
    swapped.put("anchor", anchor(List.of(log.get(0), r2.digest())));
    assertRefused(swapped, c2, "report chain does not replay to the quoted PCR value");

    // the full log replays, but the hidden report in it was never shown to the authority
    Ctx c2b = ctx();
    Map<String, Object> withheld = PostureEvidence.full((String) c2b.challenge().get("nonce"), r2);
    withheld.put("anchor", anchor(List.of(log.get(0), hidden, r2.digest())));
    assertRefused(withheld, c2b, "extended but never shown to the authority (withheld)");

    // a log that replays but rewrites what was accepted before
    List<byte[]> rewritten = List.of(sha256("another boot-time report"), r2.digest());
    quotedPcr.set(ReportChain.replay(rewritten));
    Ctx c3 = ctx();
    Map<String, Object> rw = PostureEvidence.full((String) c3.challenge().get("nonce"), r2);
    rw.put("anchor", anchor(rewritten));
    assertRefused(rw, c3, "rewrites reports accepted before");

    // a forged quote
    quotedPcr.set(null);
    Ctx c4 = ctx();
    Map<String, Object> forged = PostureEvidence.full((String) c4.challenge().get("nonce"), r2);
    forged.put("anchor", anchor(List.of(log.get(0), r2.digest())));
    assertRefused(forged, c4, "TPM quote does not hold");

    // dropping the anchor once it was used is a downgrade
    Ctx c5 = ctx();
    assertRefused(PostureEvidence.full((String) c5.challenge().get("nonce"), r2), c5, "unanchored report from a machine whose reports were anchored");
  }

  @Test
  void aReportShownWithFindingsMayStandInTheChainButAWithheldOneMayNot() {
    MeasurementList r1 = MeasurementList.of(healthy());
    quotedPcr.set(ReportChain.replay(List.of(r1.digest())));
    Ctx c = ctx();
    Map<String, Object> ev = PostureEvidence.full((String) c.challenge().get("nonce"), r1);
    ev.put("anchor", anchor(List.of(r1.digest())));
    assertThat(verifier.assess(c, ev).status()).isEqualTo(FactorStatus.PASS);

    // a replaced sshd: extended, shown, judged with findings
    List<Measurement> bad = healthy();
    bad.set(0, Measurement.file("/usr/sbin/sshd", SSHD_REPLACED));
    MeasurementList r2 = MeasurementList.of(bad);
    quotedPcr.set(ReportChain.replay(List.of(r1.digest(), r2.digest())));
    Ctx c2 = ctx();
    Map<String, Object> ev2 = PostureEvidence.full((String) c2.challenge().get("nonce"), r2);
    ev2.put("anchor", anchor(List.of(r1.digest(), r2.digest())));
    PostureFactorVerifier.Assessment a2 = verifier.assess(c2, ev2);
    assertThat(a2.status()).isEqualTo(FactorStatus.FAIL);
    assertThat(a2.refused()).isFalse();
    assertThat(a2.reason()).contains("/usr/sbin/sshd: sha256 changed");

    // the file is put back: the judged report may stand in the chain, and the clean one passes
    quotedPcr.set(ReportChain.replay(List.of(r1.digest(), r2.digest(), r1.digest())));
    Ctx c3 = ctx();
    Map<String, Object> ev3 = PostureEvidence.full((String) c3.challenge().get("nonce"), r1);
    ev3.put("anchor", anchor(List.of(r1.digest(), r2.digest(), r1.digest())));
    assertThat(verifier.assess(c3, ev3).status()).isEqualTo(FactorStatus.PASS);

    // after a reboot (new reset counter) the seen list of the old boot no longer counts
    quotedPcr.set(ReportChain.replay(List.of(r2.digest(), r1.digest())));
    resetCount.set(2);
    Ctx c4 = ctx();
    Map<String, Object> ev4 = PostureEvidence.full((String) c4.challenge().get("nonce"), r1);
    ev4.put("anchor", anchor(List.of(r2.digest(), r1.digest())));
    assertRefused(ev4, c4, "never shown to the authority (withheld)");
  }

  @Test
  void withoutAQuoteVerifierAnAnchoredReportIsRefused() {
    PostureFactorVerifier plain = new PostureFactorVerifier((QuoteVerifier) null);
    plain.bind(new AuthorityBound.Services(store, audit, AuthorityConfig.defaults()));
    Ctx c = new Ctx(MACHINE, InetAddress.getLoopbackAddress(), new byte[32], new byte[0], plain.challenge(MACHINE));
    Map<String, Object> ev = PostureEvidence.full((String) c.challenge().get("nonce"), MeasurementList.of(healthy()));
    ev.put("anchor", anchor(List.of(MeasurementList.of(healthy()).digest())));
    PostureFactorVerifier.Assessment a = plain.assess(c, ev);
    assertThat(a.refused()).isTrue();
    assertThat(a.reason()).contains("no TPM quote verifier");
    assertThat(storedState().values()).allMatch(Optional::isEmpty);
  }

  @Test
  void theChallengeBaseDoesNotRevealWhetherAMachineHasHistory() {
    String unknown = (String) verifier.challenge(new EnrolledMachine("nobody", "spiffe://t/machine/nobody", "web", MACHINE.identityKey(), List.of())).get("base");
    assertThat(unknown).matches("[0-9a-f]{64}");
    assertThat(verifier.challenge(new EnrolledMachine("nobody", "spiffe://t/machine/nobody", "web", MACHINE.identityKey(), List.of())).get("base"))
        .isEqualTo(unknown);
  }

  static Map<String, Object> anchor(List<byte[]> log) {
    Map<String, Object> a = new LinkedHashMap<>();
    a.put("type", "tpm2-quote");
    a.put("pcr", 23);
    a.put("log", log.stream().map(HexFormat.of()::formatHex).toList());
    a.put("quote", "AAAA");
    a.put("signature", "AAAA");
    return a;
  }

  static byte[] sha256(String s) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
