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
import java.net.InetAddress;
import java.security.KeyPair;
import java.security.Signature;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
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

  /** Verifiers that need the authority's state get a real store, as the authority binds them. */
  static final dev.m2mfa.authority.store.Store STORE = dev.m2mfa.authority.store.JdbcStore.openSqlite(tempDb());

  static java.nio.file.Path tempDb() {
    try {
      java.nio.file.Path d = java.nio.file.Files.createTempDirectory("contract");
      d.toFile().deleteOnExit();
      return d.resolve("m2mfa.db");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static Stream<FactorVerifier> verifiers() {
    List<FactorVerifier> all = new ArrayList<>();
    ServiceLoader.load(FactorVerifier.class).forEach(all::add);
    for (FactorVerifier v : all) {
      if (v instanceof AuthorityBound b) b.bind(new AuthorityBound.Services(STORE, null, dev.m2mfa.authority.AuthorityConfig.defaults()));
    }
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
      case "posture" -> dev.m2mfa.api.posture.PostureEvidence.full((String) c.challenge().get("nonce"),
          dev.m2mfa.api.posture.MeasurementList.of(List.of(dev.m2mfa.api.posture.Measurement.file("/usr/sbin/sshd", "0".repeat(64)))));
      default -> Map.of();
    };
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
      // the attack is in the evidence below: a report recorded at an earlier login, replayed (its nonce is not this one's)
      case "posture" -> c;
      default -> throw new AssertionError("add the attack for factor " + v.name() + " to this contract test");
    };
    Map<String, Object> attackEvidence = v.name().equals("posture") ? honestEvidence(v, honest(v)) : Map.of();
    assertThat(v.verify(attack, attackEvidence).status()).isEqualTo(FactorStatus.FAIL);
  }
}
