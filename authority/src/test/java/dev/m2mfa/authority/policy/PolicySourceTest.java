package dev.m2mfa.authority.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hot reload: a good policy replaces the old one atomically; a bad one never does. No timing: reloads are triggered by hand. */
class PolicySourceTest {
  static final Set<String> INSTALLED = Set.of("key", "network", "otp-chain", "hardware", "posture");
  static final Set<String> BASELINE = Set.of("key", "network");

  static final String GOOD = """
      classes:
        web:
          levels:
            - name: baseline
              all_of: [key, network]
            - name: strong
              any_of: {k: 1, of: [otp-chain, hardware]}
          audiences:
            payments: strong
      """;

  @TempDir Path dir;

  private static boolean allowedForPayments(Policy p) {
    return p.evaluate("web", "payments", Optional.empty(), BASELINE, Set.of(), Set.of()).allowed();
  }

  private static void write(Path f, String text) throws Exception {
    FileTime before = Files.exists(f) ? Files.getLastModifiedTime(f) : null;
    Files.writeString(f, text);
    // make the change visible to the mtime poll even on a coarse clock, without sleeping
    if (before != null && Files.getLastModifiedTime(f).equals(before)) Files.setLastModifiedTime(f, FileTime.fromMillis(before.toMillis() + 1000));
  }

  @Test
  void goodThenBadThenFixed() throws Exception {
    Path f = dir.resolve("policy.yaml");
    write(f, GOOD);
    List<PolicyStatus> seen = new ArrayList<>();
    try (PolicySource source = PolicySource.open(List.of(f), INSTALLED)) {
      source.onReload(seen::add);
      Policy first = source.current();
      assertThat(allowedForPayments(first)).as("payments needs strong").isFalse();
      assertThat(source.status().generation()).isEqualTo(1);
      assertThat(source.status().healthy()).isTrue();

      // bad: an audience points at a level that does not exist
      write(f, GOOD.replace("payments: strong", "payments: baseline\n      ledger: gold"));
      PolicyStatus bad = source.reload();
      assertThat(bad.healthy()).isFalse();
      assertThat(bad.errors()).extracting(PolicyError::toString)
          .containsExactly(f + ":10:15: audience 'ledger' requires unknown level 'gold' (levels of class 'web': baseline, strong)");
      assertThat(bad.firstError()).contains(f + ":10:15: audience 'ledger' requires unknown level 'gold' (levels of class 'web': baseline, strong)");
      assertThat(source.current()).as("the old policy stays in force").isSameAs(first);
      assertThat(allowedForPayments(source.current())).isFalse();
      assertThat(bad.generation()).isEqualTo(1);
      assertThat(source.status()).isEqualTo(bad);

      // fixed: payments now needs only baseline
      write(f, GOOD.replace("payments: strong", "payments: baseline"));
      PolicyStatus fixed = source.reload();
      assertThat(fixed.healthy()).isTrue();
      assertThat(fixed.generation()).isEqualTo(2);
      assertThat(fixed.digest()).isNotEqualTo(bad.digest());
      assertThat(source.current()).isNotSameAs(first);
      assertThat(allowedForPayments(source.current())).isTrue();
      assertThat(seen).containsExactly(bad, fixed);
    }
  }

  /**
   * The watcher thread itself (the other tests poll by hand). It waits for an event with a
   * generous bound; it asserts that the reload happens, not how fast.
   */
  @Test
  void theWatcherThreadPicksUpAnEdit() throws Exception {
    Path f = dir.resolve("policy.yaml");
    write(f, GOOD);
    try (PolicySource source = PolicySource.open(List.of(f), INSTALLED)) {
      java.util.concurrent.CountDownLatch reloaded = new java.util.concurrent.CountDownLatch(1);
      source.onReload(st -> reloaded.countDown());
      source.startWatching(java.time.Duration.ofMillis(100));
      write(f, GOOD.replace("payments: strong", "payments: baseline"));
      assertThat(reloaded.await(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      assertThat(allowedForPayments(source.current())).isTrue();
      assertThat(source.status().generation()).isEqualTo(2);
    }
  }

  @Test
  void aFixedSourceHoldsTheLegacyPolicyAndNeverReloads() {
    Policy legacy = Policy.fromLegacyClasses(java.util.Map.of("default", List.of("key", "network")));
    try (PolicySource source = PolicySource.fixed(legacy)) {
      assertThat(source.current()).isSameAs(legacy);
      assertThat(source.reload().generation()).isEqualTo(1);
      assertThat(source.pollOnce()).isFalse();
      assertThat(source.status().digest()).isEqualTo("fixed");
    }
  }

  @Test
  void aBadFileAtStartIsRefused() throws Exception {
    Path f = dir.resolve("policy.yaml");
    write(f, "classes: {}\n");
    assertThatThrownBy(() -> PolicySource.open(List.of(f), INSTALLED)).isInstanceOf(PolicyException.class)
        .hasMessage(f + ":1:1: no classes defined (expected a 'classes' mapping with at least one class)");
  }

  @Test
  void unchangedContentKeepsTheGeneration() throws Exception {
    Path f = dir.resolve("policy.yaml");
    write(f, GOOD);
    try (PolicySource source = PolicySource.open(List.of(f), INSTALLED)) {
      Policy first = source.current();
      PolicyStatus again = source.reload();
      assertThat(again.generation()).isEqualTo(1);
      assertThat(source.current()).isSameAs(first);
    }
  }

  @Test
  void theWatcherReloadsOnlyWhenAFileChanged() throws Exception {
    Path d = Files.createDirectories(dir.resolve("policy.d"));
    write(d.resolve("10-web.yaml"), GOOD);
    try (PolicySource source = PolicySource.open(List.of(d), INSTALLED)) {
      assertThat(source.pollOnce()).as("nothing changed").isFalse();
      write(d.resolve("20-batch.yaml"), GOOD.replace("web:", "batch:"));
      assertThat(source.pollOnce()).as("a new file in the directory").isTrue();
      assertThat(source.current().classNames()).containsExactly("web", "batch");
      assertThat(source.pollOnce()).isFalse();
      // a duplicate class across files: refused, both classes stay
      write(d.resolve("20-batch.yaml"), GOOD);
      assertThat(source.pollOnce()).isTrue();
      assertThat(source.status().errors()).extracting(PolicyError::message)
          .containsExactly("class 'web' is already defined at " + d.resolve("10-web.yaml") + ":2");
      assertThat(source.current().classNames()).containsExactly("web", "batch");
      Files.delete(d.resolve("20-batch.yaml"));
      assertThat(source.pollOnce()).isTrue();
      assertThat(source.status().healthy()).isTrue();
      assertThat(source.current().classNames()).containsExactly("web");
      assertThat(source.status().generation()).isEqualTo(3);
      assertThat(source.status().loadedAt()).isBeforeOrEqualTo(Instant.now());
    }
  }
}
