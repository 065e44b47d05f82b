package dev.m2mfa.authority.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.api.factor.FactorResult;
import dev.m2mfa.api.factor.FactorStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Evaluation against the example policy (examples/policy.yaml): every combination of passed
 * factors is compared with a direct statement of what the policy means, plus ordering,
 * lifetimes, requested acr, responses to events, reasons and explanations.
 *
 * <p>Exhaustive enumeration instead of random property tests: with five factors there are
 * only 32 combinations, so every one is checked, with a fixed, readable oracle.
 */
class PolicyEvaluationTest {
  static final List<String> FACTORS = List.of("key", "network", "otp-chain", "hardware", "posture");
  static final Optional<String> NONE = Optional.empty();

  static Policy policy;

  @BeforeAll
  static void load() throws Exception {
    policy = Policy.load(List.of(Path.of("../examples/policy.yaml")), Set.copyOf(FACTORS));
  }

  /** Every subset of the five factors. */
  static List<Set<String>> subsets() {
    List<Set<String>> out = new ArrayList<>();
    for (int mask = 0; mask < 1 << FACTORS.size(); mask++) {
      Set<String> s = new LinkedHashSet<>();
      for (int i = 0; i < FACTORS.size(); i++) if ((mask & 1 << i) != 0) s.add(FACTORS.get(i));
      out.add(s);
    }
    return out;
  }

  static Stream<Arguments> webCases() {
    return subsets().stream().flatMap(s -> Stream.of("payments", "ledger", "inventory").map(a -> Arguments.of(s, a)));
  }

  /** The web class, stated directly: baseline = key and network; strong = + otp-chain or hardware; hardware = + hardware. */
  static int webRank(Set<String> p) {
    boolean baseline = p.contains("key") && p.contains("network");
    boolean strong = baseline && (p.contains("otp-chain") || p.contains("hardware"));
    boolean hardware = strong && p.contains("hardware");
    return hardware ? 2 : strong ? 1 : baseline ? 0 : -1;
  }

  @ParameterizedTest(name = "web {1} with {0}")
  @MethodSource("webCases")
  void webClassEveryCombination(Set<String> passed, String audience) {
    Set<String> failed = new HashSet<>(FACTORS);
    failed.removeAll(passed);
    Decision d = policy.evaluate("web", audience, NONE, passed, failed, Set.of());
    int rank = webRank(passed);
    int needed = switch (audience) {
      case "payments" -> 1;
      case "ledger" -> 2;
      default -> 0;
    };
    List<String> names = List.of("baseline", "strong", "hardware");
    assertThat(d.achievedLevel()).isEqualTo(rank < 0 ? Optional.empty() : Optional.of(names.get(rank)));
    assertThat(d.neededLevel()).contains(names.get(needed));
    assertThat(d.allowed()).isEqualTo(rank >= needed);
    assertThat(d.meetsAudience()).isEqualTo(rank >= needed);
    if (d.allowed()) {
      assertThat(d.acr()).contains("m2mfa:" + names.get(rank));
      assertThat(d.response()).isEqualTo(Response.NONE);
      List<Duration> tokens = List.of(Duration.ofMinutes(5), Duration.ofMinutes(2), Duration.ofSeconds(90));
      List<Duration> certs = List.of(Duration.ofHours(1), Duration.ofHours(8), Duration.ofHours(24));
      assertThat(d.tokenLifetime()).isEqualTo(tokens.get(rank));
      assertThat(d.certificateLifetime()).isEqualTo(certs.get(rank));
      // amr: passed factors that count toward the achieved level; posture never does in web
      List<String> expectedAmr = new ArrayList<>(List.of("key", "network"));
      if (rank >= 1) for (String f : List.of("otp-chain", "hardware")) if (passed.contains(f)) expectedAmr.add(f);
      assertThat(d.amr()).containsExactlyElementsOf(expectedAmr);
    } else {
      // web says factor_failure: step-up: come back with the needed level's acr and factors
      assertThat(d.response()).isEqualTo(Response.STEP_UP);
      assertThat(d.stepUpAcr()).contains("m2mfa:" + names.get(needed));
      assertThat(d.tokenLifetime()).isZero();
      assertThat(d.reason()).startsWith("level " + names.get(rank + 1) + " needs ");
    }
  }

  /** batch: baseline = key and network; strong = + any 2 of otp-chain, hardware, posture; every audience needs strong. */
  @ParameterizedTest(name = "batch with {0}")
  @MethodSource("subsets")
  void batchClassTwoOfThree(Set<String> passed) {
    Decision d = policy.evaluate("batch", "anything", NONE, passed, Set.of(), Set.of());
    boolean baseline = passed.contains("key") && passed.contains("network");
    int extra = (int) Stream.of("otp-chain", "hardware", "posture").filter(passed::contains).count();
    assertThat(d.allowed()).isEqualTo(baseline && extra >= 2);
    assertThat(d.achievedLevel()).isEqualTo(!baseline ? Optional.empty() : Optional.of(extra >= 2 ? "strong" : "baseline"));
    if (d.allowed()) {
      assertThat(d.tokenLifetime()).isEqualTo(Duration.ofSeconds(30));
      assertThat(d.certificateLifetime()).as("inherited from baseline").isEqualTo(Duration.ofMinutes(15));
    } else {
      assertThat(d.response()).as("batch says factor_failure: deny").isEqualTo(Response.DENY);
      assertThat(d.stepUpAcr()).isEmpty();
    }
  }

  /** A k-of-n group against a brute-force oracle: some k-element subset of its factors all passed. */
  @Test
  void kOfNGroupsMatchBruteForce() {
    for (int n = 1; n <= 5; n++) {
      List<String> of = FACTORS.subList(0, n);
      for (int k = 1; k <= n; k++) {
        FactorGroup g = new FactorGroup(k, of);
        for (Set<String> passed : subsets()) {
          assertThat(g.holds(passed)).as("%s with %s", g.describe(), passed).isEqualTo(someKSubsetPassed(of, k, passed));
        }
      }
    }
  }

  private static boolean someKSubsetPassed(List<String> of, int k, Set<String> passed) {
    if (k == 0) return true;
    for (int i = 0; i <= of.size() - k; i++) {
      if (passed.contains(of.get(i)) && someKSubsetPassed(of.subList(i + 1, of.size()), k - 1, passed)) return true;
    }
    return false;
  }

  @Test
  void levelsAreCumulativeAHigherGroupAloneReachesNothing() throws Exception {
    // hardware passed but network did not: the hardware level's own group holds, baseline does not
    Decision d = policy.evaluate("web", "inventory", NONE, Set.of("key", "hardware", "otp-chain"), Set.of("network"), Set.of());
    assertThat(d.allowed()).isFalse();
    assertThat(d.achievedLevel()).isEmpty();
    assertThat(d.acr()).isEmpty();
    assertThat(d.reason()).isEqualTo("level baseline needs all of [key, network]; not passed: network");
  }

  @Test
  void acrOrderIsWeakestFirstAcrossClasses() {
    assertThat(policy.acrOrder()).containsExactly("m2mfa:baseline", "m2mfa:strong", "m2mfa:hardware");
    MachineClass web = policy.machineClass("web").orElseThrow();
    assertThat(web.levels()).extracting(Level::acr).containsExactly("m2mfa:baseline", "m2mfa:strong", "m2mfa:hardware");
    assertThat(IntStream.range(0, 3).map(i -> web.levels().get(i).rank())).containsExactly(0, 1, 2);
  }

  @Test
  void theReasonNamesWhatIsMissing() {
    assertThat(policy.evaluate("web", "payments", NONE, Set.of("key", "network"), Set.of("otp-chain", "hardware"), Set.of()).reason())
        .isEqualTo("level strong needs 1 of [otp-chain, hardware]; none passed");
    assertThat(policy.evaluate("batch", "x", NONE, Set.of("key", "network", "posture"), Set.of(), Set.of()).reason())
        .isEqualTo("level strong needs 2 of [otp-chain, hardware, posture]; only 1 passed (posture)");
    assertThat(policy.evaluate("web", "x", NONE, Set.of(), Set.of("key", "network"), Set.of()).reason())
        .isEqualTo("level baseline needs all of [key, network]; none passed");
    assertThat(policy.evaluate("web", "payments", NONE, Set.of("key", "network", "otp-chain"), Set.of(), Set.of()).reason())
        .isEqualTo("reached level strong (needed strong: audience 'payments' requires strong)");
  }

  @Test
  void aFactorReportedBothWaysDoesNotCount() {
    Decision d = policy.evaluate("web", "x", NONE, Set.of("key", "network"), Set.of("network"), Set.of());
    assertThat(d.allowed()).isFalse();
  }

  @Test
  void stampedResultsOnlyPassCounts() {
    List<FactorResult> results = List.of(new FactorResult("key", FactorStatus.PASS, "ok"), new FactorResult("network", FactorStatus.PASS, "ok"),
        new FactorResult("otp-chain", FactorStatus.ABSENT, "no secret"), new FactorResult("hardware", FactorStatus.FAIL, "bad quote"));
    Decision payments = policy.evaluate("web", "payments", NONE, results, Set.of());
    assertThat(payments.allowed()).isFalse();
    assertThat(payments.achievedLevel()).contains("baseline");
    assertThat(payments.acr()).contains("m2mfa:baseline");
    Decision other = policy.evaluate("web", "inventory", NONE, results, Set.of());
    assertThat(other.allowed()).isTrue();
    assertThat(other.amr()).containsExactly("key", "network");
  }

  @Test
  void requestedAcrRaisesTheNeededLevel() {
    Set<String> strong = Set.of("key", "network", "otp-chain");
    Decision d = policy.evaluate("web", "inventory", Optional.of("m2mfa:hardware"), strong, Set.of("hardware"), Set.of());
    assertThat(d.allowed()).isFalse();
    assertThat(d.meetsAudience()).isTrue();
    assertThat(d.meetsRequestedAcr()).isFalse();
    assertThat(d.neededLevel()).contains("hardware");
    assertThat(d.response()).isEqualTo(Response.STEP_UP);
    assertThat(d.stepUpAcr()).contains("m2mfa:hardware");
    assertThat(d.stepUpFactors()).containsExactly("key", "network", "otp-chain", "hardware");
    assertThat(d.reason()).isEqualTo("level hardware needs all of [hardware]; none passed");

    Decision lower = policy.evaluate("web", "payments", Optional.of("m2mfa:baseline"), strong, Set.of(), Set.of());
    assertThat(lower.allowed()).as("a lower requested acr does not lower the audience minimum").isTrue();
    assertThat(lower.neededLevel()).contains("strong");
    assertThat(lower.acr()).contains("m2mfa:strong");
  }

  @Test
  void anAcrTheClassDoesNotOfferIsRefused() {
    Decision d = policy.evaluate("batch", "x", Optional.of("m2mfa:hardware"), Set.copyOf(FACTORS), Set.of(), Set.of());
    assertThat(d.allowed()).isFalse();
    assertThat(d.response()).isEqualTo(Response.DENY);
    assertThat(d.reason()).isEqualTo("requested acr 'm2mfa:hardware' is not offered by class 'batch' (offered: m2mfa:baseline, m2mfa:strong)");
    assertThat(policy.factorsToChallenge("batch", "x", Optional.of("m2mfa:hardware")))
        .as("challenge as for the highest level; the login is refused anyway").containsExactly("key", "network", "otp-chain", "hardware", "posture");
  }

  @Test
  void aMissingAudienceGetsTheDefaultRuleNotAnException() {
    assertThat(policy.evaluate("web", null, NONE, Set.of("key", "network"), Set.of(), Set.of()).neededLevel()).contains("baseline");
    assertThat(policy.factorsToChallenge("batch", null, NONE)).containsExactly("key", "network", "otp-chain", "hardware", "posture");
  }

  @Test
  void unknownClassIsRefused() {
    Decision d = policy.evaluate("nope", "x", NONE, Set.copyOf(FACTORS), Set.of(), Set.of());
    assertThat(d.allowed()).isFalse();
    assertThat(d.response()).isEqualTo(Response.DENY);
    assertThat(d.reason()).isEqualTo("unknown machine class 'nope'");
    assertThatThrownBy(() -> policy.factorsToChallenge("nope", "x", NONE)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void cloneLocksWhateverPassed() {
    Decision d = policy.evaluate("web", "x", NONE, Set.copyOf(FACTORS), Set.of(), Set.of(PolicyEvent.CLONE));
    assertThat(d.allowed()).isFalse();
    assertThat(d.response()).isEqualTo(Response.LOCK);
    assertThat(d.reason()).isEqualTo("clone detected: lock the identity and revoke its credentials (on.clone: lock)");
  }

  @Test
  void anomalyResponsesPerClass() {
    Set<String> all = Set.copyOf(FACTORS);
    Decision alert = policy.evaluate("web", "x", NONE, all, Set.of(), Set.of(PolicyEvent.ANOMALY));
    assertThat(alert.allowed()).isTrue();
    assertThat(alert.response()).isEqualTo(Response.ALERT);
    Decision quarantine = policy.evaluate("batch", "x", NONE, all, Set.of(), Set.of(PolicyEvent.ANOMALY));
    assertThat(quarantine.allowed()).isFalse();
    assertThat(quarantine.response()).isEqualTo(Response.QUARANTINE);
    assertThat(quarantine.reason()).isEqualTo("anomaly reported: quarantine the identity (on.anomaly: quarantine)");
  }

  @Test
  void anomalyStepUpAsksForTheHighestLevel(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("p.yaml");
    Files.writeString(f, """
        classes:
          db:
            levels:
              - {name: baseline, all_of: [key, network]}
              - {name: strong, all_of: [otp-chain]}
            on: {anomaly: step-up, factor_failure: deny}
        """);
    Policy p = Policy.load(List.of(f), Set.copyOf(FACTORS));
    Decision d = p.evaluate("db", "x", NONE, Set.of("key", "network"), Set.of(), Set.of(PolicyEvent.ANOMALY));
    assertThat(d.allowed()).isFalse();
    assertThat(d.response()).as("the login met its audience; only the anomaly asks for more").isEqualTo(Response.STEP_UP);
    assertThat(d.stepUpAcr()).contains("m2mfa:strong");
    assertThat(d.reason()).isEqualTo("level strong needs all of [otp-chain]; none passed; anomaly reported: step-up to strong (on.anomaly: step-up)");
    Decision already = p.evaluate("db", "x", NONE, Set.of("key", "network", "otp-chain"), Set.of(), Set.of(PolicyEvent.ANOMALY));
    assertThat(already.allowed()).isTrue();
    Decision below = p.evaluate("db", "x", NONE, Set.of("key"), Set.of("network"), Set.of(PolicyEvent.ANOMALY));
    assertThat(below.response()).as("short of its own minimum already: factor_failure: deny, the stronger response").isEqualTo(Response.DENY);
    assertThat(below.stepUpAcr()).isEmpty();
  }

  @Test
  void factorsToChallengeUpToTheNeededLevel() {
    assertThat(policy.factorsToChallenge("web", "inventory", NONE)).containsExactly("key", "network");
    assertThat(policy.factorsToChallenge("web", "payments", NONE)).containsExactly("key", "network", "otp-chain", "hardware");
    assertThat(policy.factorsToChallenge("web", "inventory", Optional.of("m2mfa:strong"))).containsExactly("key", "network", "otp-chain", "hardware");
    assertThat(policy.factorsToChallenge("batch", "inventory", NONE)).containsExactly("key", "network", "otp-chain", "hardware", "posture");
  }

  @Test
  void explainSaysWhatWhichLevelAndWhy() {
    String text = policy.explain("web", "payments");
    assertThat(text).contains("needs level strong (acr m2mfa:strong): audience 'payments' requires strong\n");
    assertThat(text).contains("factors challenged at login: key, network, otp-chain, hardware\n");
    assertThat(text).contains("  baseline (m2mfa:baseline): all of [key, network]; token 5m, certificate 1h\n");
    assertThat(text).contains("  strong (m2mfa:strong): 1 of [otp-chain, hardware]; token 2m, certificate 8h\n");
    assertThat(text).contains("higher levels (reached if their factors also pass; not needed for this audience):\n  hardware (m2mfa:hardware)");
    assertThat(text).contains("on clone: lock; on factor failure: step-up; on anomaly: alert\n");
    assertThat(policy.explain("web", "inventory")).contains("audience 'inventory' is not listed; \"*\" requires baseline");
    assertThat(text).contains("ssh certificates: no ssh block; authority.conf's ssh.* options apply\n");
    assertThat(policy.explain("batch", "m2mfa:ssh")).contains("ssh certificates: principals deploy, {machine}; user 5m, host 168h;"
        + " force-command /usr/local/bin/run-batch; user certificates need at least strong (m2mfa:strong)\n");
    assertThat(policy.explain("ghost", "x")).isEqualTo("class 'ghost' is not in the policy (classes: web, batch): its machines cannot log in.\n");
  }
}
