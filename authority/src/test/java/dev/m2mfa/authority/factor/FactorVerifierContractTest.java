package dev.m2mfa.authority.factor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.api.Cidr;
import dev.m2mfa.api.LoginTranscript;
import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.factor.FactorOutcome;
import dev.m2mfa.api.factor.FactorStatus;
import dev.m2mfa.api.factor.FactorVerifier;
import dev.m2mfa.api.factor.VerificationContext;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.factor.hardware.KeyResidence;
import dev.m2mfa.authority.store.JdbcStore;
import dev.m2mfa.authority.store.Store;
import java.net.InetAddress;
import java.security.KeyPair;
import java.security.Signature;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import dev.m2mfa.api.otp.OtpEnvelope;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.factor.otpchain.OtpChainFactor;
import dev.m2mfa.authority.revocation.RevocationHub;
import dev.m2mfa.authority.revocation.RevocationService;
import dev.m2mfa.authority.store.JdbcStore;
import dev.m2mfa.authority.store.MachineRecord;
import dev.m2mfa.authority.store.Store;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract every factor verifier found through ServiceLoader passes: a stable name, a
 * JSON-shaped challenge, never an exception for hostile evidence, a reason with every outcome,
 * and a FAIL for a login that is honest in every respect except this factor's.
 */
class FactorVerifierContractTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final KeyPair KEY = KeyFiles.newP256();
  static final EnrolledMachine MACHINE =
      new EnrolledMachine("m1", "spiffe://t/machine/m1", "default", KEY.getPublic(), List.of(Cidr.parse("192.0.2.0/24")));

  /** A real store and config for verifiers that are {@link AuthorityBound}, with an honest state for machine m1. */
  static final AuthorityConfig CONFIG = AuthorityConfig.defaults().withPluginOptions(Map.of("hardware.trust_pkcs11.default", "true"));
  static Store store;
  static final org.bouncycastle.crypto.AsymmetricCipherKeyPair CHAIN_KEY = OtpEnvelope.newChainKey();

  /** Verifiers that live in the authority get a real SQLite store, as in production. */
  @BeforeAll
  static void realStore() throws Exception {
    if (store != null) return;
    store = JdbcStore.openSqlite(Files.createTempDirectory("contract").resolve("m2mfa.db"));
    long now = System.currentTimeMillis();
    store.machines().insert(new MachineRecord("m1", MACHINE.spiffeId(), "default", java.util.Base64.getEncoder().encodeToString(KEY.getPublic().getEncoded()),
        "jkt", "192.0.2.0/24", MachineRecord.ACTIVE, now, now));
    // m1 enrolled a PKCS#11 key in a class that trusts PKCS#11 claims
    store.factorStates().put("m1", KeyResidence.FACTOR, KeyResidence.assess(Map.of("provider", "pkcs11"), KEY.getPublic(), "default", CONFIG).json(), 0);
    // m2 holds a software key and claims hardware in its login: its enrollment record says software, no proof
    store.factorStates().put("m2", KeyResidence.FACTOR, KeyResidence.assess(Map.of("provider", "software"), KEY.getPublic(), "default", CONFIG).json(), 0);
  }

  private static void realStore0() {
    try {
      realStore();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @AfterAll
  static void closeStore() {
    store.close();
  }

  static Stream<FactorVerifier> verifiers() {
    List<FactorVerifier> all = new ArrayList<>();
    if (store == null) realStore0();
    AuditLog audit = new AuditLog(store);
    var services = new AuthorityBound.Services(store, audit, CONFIG, new RevocationService(store, new RevocationHub(store), audit));
    ServiceLoader.load(FactorVerifier.class).forEach(v -> {
      if (v instanceof AuthorityBound b) b.bind(services);
      all.add(v);
    });
    assertThat(all).extracting(FactorVerifier::name).contains("key", "network");
    assertThat(new HashSet<>(all.stream().map(FactorVerifier::name).toList())).hasSameSizeAs(all);
    return all.stream();
  }

  record Ctx(EnrolledMachine machine, InetAddress sourceAddress, byte[] transcriptDigest, byte[] untrustedTranscriptSignature,
      Map<String, Object> challenge) implements VerificationContext {}

  static Ctx honest(FactorVerifier v) throws Exception {
    byte[] transcript = LoginTranscript.bytes("{}".getBytes(), new byte[32], "{}".getBytes());
    Signature s = Signature.getInstance("SHA256withECDSA");
    s.initSign(KEY.getPrivate());
    s.update(transcript);
    return new Ctx(MACHINE, InetAddress.ofLiteral("192.0.2.10"), LoginTranscript.digest("{}".getBytes(), new byte[32], "{}".getBytes()),
        s.sign(), v.challenge(MACHINE));
  }

  @ParameterizedTest
  @MethodSource("verifiers")
  void nameIsStableAndChallengeIsJson(FactorVerifier v) throws Exception {
    assertThat(v.name()).matches("[a-z][a-z0-9-]{0,31}");
    assertThat(JSON.writeValueAsString(v.challenge(MACHINE))).startsWith("{");
  }

  @ParameterizedTest
  @MethodSource("verifiers")
  void honestLoginPasses(FactorVerifier v) throws Exception {
    Ctx c = honest(v);
    assertThat(v.verify(c, honestEvidence(v, c)).status()).isEqualTo(FactorStatus.PASS);
  }

  /** What an honest agent sends for factor {@code v} (most factors send nothing: the authority observes). */
  static Map<String, Object> honestEvidence(FactorVerifier v, Ctx c) {
    return switch (v.name()) {
      case "otp-chain" -> {
        store.machines().setStatus("m1", MachineRecord.ACTIVE, System.currentTimeMillis());
        yield Map.of("secret", b64(freshChain()));
      }
      case "posture" -> dev.m2mfa.api.posture.PostureEvidence.full((String) c.challenge().get("nonce"),
          dev.m2mfa.api.posture.MeasurementList.of(List.of(dev.m2mfa.api.posture.Measurement.file("/usr/sbin/sshd", "0".repeat(64)))));
      default -> Map.of();
    };
  }

  /** Starts m1's chain over; returns its first secret as the agent would open it. */
  static byte[] freshChain() {
    var sealed = store.transaction(() -> OtpChainFactor.enroll(store, "m1", OtpEnvelope.publicKey(CHAIN_KEY), System.currentTimeMillis()));
    return OtpEnvelope.open(CHAIN_KEY, "m1", sealed);
  }

  static String b64(byte[] b) {
    return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  @ParameterizedTest
  @MethodSource("verifiers")
  void hostileEvidenceNeverThrowsAndAlwaysHasAReason(FactorVerifier v) throws Exception {
    Ctx c = honest(v);
    List<Map<String, Object>> hostile = List.of(Map.of(), Map.of("x", "y".repeat(100_000)), Map.of("nested", Map.of("a", List.of(1, 2, 3))),
        Map.of("signature", "AAAA"), Map.of("", ""));
    for (Map<String, Object> ev : hostile) {
      FactorOutcome o = v.verify(c, ev);
      assertThat(o).isNotNull();
      assertThat(o.reason()).isNotBlank();
    }
    Ctx broken = new Ctx(MACHINE, c.sourceAddress(), c.transcriptDigest(), new byte[] {0x30, 0x00}, c.challenge());
    assertThat(v.verify(broken, Map.of()).reason()).isNotBlank();
    Ctx empty = new Ctx(MACHINE, c.sourceAddress(), c.transcriptDigest(), new byte[0], c.challenge());
    assertThat(v.verify(empty, Map.of()).reason()).isNotBlank();
  }

  @ParameterizedTest
  @MethodSource("verifiers")
  void theAttackThisFactorClaimsToDefeatFails(FactorVerifier v) throws Exception {
    Ctx c = honest(v);
    Ctx attack = switch (v.name()) {
      // a transcript signed by a copied-but-different key, or over another channel's exporter
      case "key" -> new Ctx(MACHINE, c.sourceAddress(), LoginTranscript.digest("{}".getBytes(), new byte[] {1}, "{}".getBytes()),
          c.untrustedTranscriptSignature(), c.challenge());
      // the right key used from another network
      case "network" -> new Ctx(MACHINE, InetAddress.ofLiteral("198.51.100.10"), c.transcriptDigest(), c.untrustedTranscriptSignature(),
          c.challenge());
      // a copy of the machine presents the secret its original has already moved past
      case "otp-chain" -> c;
      // a software key claiming hardware: the signature is right, the enrollment record has no proof
      case "hardware" -> new Ctx(new EnrolledMachine("m2", "spiffe://t/machine/m2", "default", KEY.getPublic(), MACHINE.networks()),
          c.sourceAddress(), c.transcriptDigest(), c.untrustedTranscriptSignature(), c.challenge());
      // the attack is in the evidence below: a report recorded at an earlier login, replayed (its nonce is not this one's)
      case "posture" -> c;
      default -> throw new AssertionError("add the attack for factor " + v.name() + " to this contract test");
    };
    Map<String, Object> evidence = v.name().equals("posture") ? honestEvidence(v, honest(v)) : Map.of();
    if (v.name().equals("otp-chain")) {
      store.machines().setStatus("m1", MachineRecord.ACTIVE, System.currentTimeMillis());
      byte[] s0 = freshChain();
      var m1 = store.machines().find("m1").orElseThrow();
      var tf = (TransactionalFactor) v;
      var j = store.transaction(() -> tf.judge(c, m1, Map.of("secret", b64(s0)), TransactionalFactor.Mode.ADVANCE));
      @SuppressWarnings("unchecked")
      Map<String, Object> next = (Map<String, Object>) j.response().get("otp_next");
      byte[] s1 = OtpEnvelope.open(CHAIN_KEY, "m1", new OtpEnvelope.Sealed((String) next.get("enc"), (String) next.get("ciphertext")));
      assertThat(v.verify(c, Map.of("secret", b64(s1))).status()).isEqualTo(FactorStatus.PASS); // the original moves on
      evidence = Map.of("secret", b64(s0)); // the copy still holds s0
    }
    assertThat(v.verify(attack, evidence).status()).isEqualTo(FactorStatus.FAIL);
    if (v.name().equals("otp-chain")) {
      assertThat(store.machines().find("m1").orElseThrow().status()).isEqualTo(MachineRecord.LOCKED);
      assertThat(store.revocations().latestSeq()).isPositive();
    }
  }
}
