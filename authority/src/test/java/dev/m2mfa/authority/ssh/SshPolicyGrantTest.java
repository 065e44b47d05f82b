package dev.m2mfa.authority.ssh;

import static dev.m2mfa.authority.ssh.SshGrantPolicyTest.config;
import static dev.m2mfa.authority.ssh.SshGrantPolicyTest.machine;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.authority.policy.Policy;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SshGrantPolicy#fromPolicy}: a class's {@code ssh:} block decides principals
 * ({@code {machine}} filled in), lifetimes, force-command and the minimum acr; a class without
 * one, or a machine of a class the policy does not know, gets what authority.conf says.
 */
class SshPolicyGrantTest {
  static final Set<String> INSTALLED = Set.of("key", "network", "otp-chain");
  static final Instant NOW = Instant.parse("2026-12-04T12:00:00Z");
  static final InetAddress FROM = InetAddress.ofLiteral("10.0.0.5");
  static final Optional<String> BASELINE = Optional.of("m2mfa:baseline");
  static final Optional<String> STRONG = Optional.of("m2mfa:strong");

  static final String POLICY = """
      version: 1
      classes:
        deployers:
          levels:
            - name: baseline
              all_of: [key, network]
            - name: strong
              all_of: [otp-chain]
          ssh:
            principals: [deploy, "{machine}", "ci-{machine}"]
            user_certificate_lifetime: 3m
            host_certificate_lifetime: 7d
            force_command: "/usr/local/bin/ship --quiet"
            min_level: strong
        plain:
          levels:
            - name: baseline
              all_of: [key, network]
          ssh: {}
        legacy:
          levels:
            - name: baseline
              all_of: [key, network]
      """;

  @TempDir Path dir;
  final AtomicReference<Policy> current = new AtomicReference<>();
  final SshConfig conf = config("ssh.principals.legacy", "ops,backup", "ssh.force_command.legacy", "/bin/legacy",
      "ssh.principals.deployers", "from-config", "ssh.user_certificate_seconds", "1200", "ssh.host_principals.db-1", "db-1.example.org",
      "ssh.extensions", "permit-pty,permit-port-forwarding");
  SshGrantPolicy policy;

  Policy load(String yaml) throws Exception {
    Path f = dir.resolve("p" + System.nanoTime() + ".yaml");
    Files.writeString(f, yaml);
    return Policy.load(List.of(f), INSTALLED);
  }

  @BeforeEach
  void setUp() throws Exception {
    current.set(load(POLICY));
    policy = SshGrantPolicy.fromPolicy(current::get, conf);
  }

  @Test
  void theBlockDecidesPrincipalsLifetimeAndForceCommandAndTheMachineKeepsItsNetworks() throws Exception {
    var g = policy.decide(SshGrantPolicy.Kind.USER, machine("web-7", "deployers", "10.0.0.0/24"), STRONG, FROM, NOW);
    assertThat(g.principals()).containsExactly("deploy", "web-7", "ci-web-7");
    assertThat(g.validAfter()).isEqualTo(NOW.minus(SshGrantPolicy.BACKDATE));
    assertThat(g.validBefore()).isEqualTo(NOW.plus(Duration.ofMinutes(3)));
    assertThat(g.criticalOptions()).containsExactly(Map.entry("force-command", "/usr/local/bin/ship --quiet"),
        Map.entry("source-address", "10.0.0.0/24"));
    // extensions stay authority.conf's: the block does not name them
    assertThat(g.extensions().keySet()).containsExactly("permit-port-forwarding", "permit-pty");
  }

  @Test
  void anEmptyBlockMeansTheMachineNameTenMinutesAndNoForceCommandNotTheConfig() throws Exception {
    var g = policy.decide(SshGrantPolicy.Kind.USER, machine("box", "plain", ""), Optional.empty(), FROM, NOW);
    assertThat(g.principals()).containsExactly("box");
    assertThat(g.validBefore()).isEqualTo(NOW.plus(Duration.ofMinutes(10))); // not the 20 minutes of ssh.user_certificate_seconds
    assertThat(g.criticalOptions()).containsExactly(Map.entry("source-address", "10.0.0.5/32"));
  }

  @Test
  void hostCertificatesTakeTheBlocksLifetimeAndTheConfiguredHostNames() throws Exception {
    var g = policy.decide(SshGrantPolicy.Kind.HOST, machine("db-1", "deployers", "10.0.0.2/32"), Optional.empty(), FROM, NOW);
    assertThat(g.principals()).containsExactly("db-1", "db-1.example.org");
    assertThat(g.validBefore()).isEqualTo(NOW.plus(Duration.ofDays(7)));
    assertThat(g.criticalOptions()).isEmpty();
    assertThat(g.extensions()).isEmpty();
  }

  @Test
  void aClassWithoutABlockFallsBackToAuthorityConf() throws Exception {
    var g = policy.decide(SshGrantPolicy.Kind.USER, machine("l-1", "legacy", "10.0.0.1/32"), BASELINE, FROM, NOW);
    assertThat(g.principals()).containsExactly("ops", "backup");
    assertThat(g.validBefore()).isEqualTo(NOW.plus(Duration.ofMinutes(20)));
    assertThat(g.criticalOptions()).containsEntry("force-command", "/bin/legacy");
    // a class the policy does not know at all: the config too (the login would not let it in anyway)
    assertThat(policy.decide(SshGrantPolicy.Kind.USER, machine("x", "gone", "10.0.0.1/32"), BASELINE, FROM, NOW).principals())
        .containsExactly("x");
    // a legacy policy (authority.conf class.* lines) has no blocks: all from the config
    current.set(Policy.fromLegacyClasses(Map.of("deployers", List.of("key"))));
    assertThat(policy.decide(SshGrantPolicy.Kind.USER, machine("d", "deployers", "10.0.0.1/32"), Optional.empty(), FROM, NOW).principals())
        .containsExactly("from-config");
  }

  @Test
  void minLevelRefusesUserCertificatesToTokensBelowIt() throws Exception {
    var m = machine("web-7", "deployers", "10.0.0.0/24");
    assertThatThrownBy(() -> policy.decide(SshGrantPolicy.Kind.USER, m, BASELINE, FROM, NOW)).isInstanceOf(SshGrantPolicy.NotGranted.class)
        .hasMessage("token acr m2mfa:baseline is below m2mfa:strong, the ssh min_level of class deployers");
    assertThatThrownBy(() -> policy.decide(SshGrantPolicy.Kind.USER, m, Optional.empty(), FROM, NOW))
        .isInstanceOf(SshGrantPolicy.NotGranted.class).hasMessageContaining("token acr (none)");
    // an acr outside the policy's order (a legacy token) is not "above" anything
    assertThatThrownBy(() -> policy.decide(SshGrantPolicy.Kind.USER, m, Optional.of("m2mfa:3fa"), FROM, NOW))
        .isInstanceOf(SshGrantPolicy.NotGranted.class);
    assertThat(policy.decide(SshGrantPolicy.Kind.USER, m, STRONG, FROM, NOW).principals()).contains("deploy");
    // host certificates are for the machine's sshd, not for a person-like login: no minimum
    assertThat(policy.decide(SshGrantPolicy.Kind.HOST, m, BASELINE, FROM, NOW).principals()).containsExactly("web-7");
  }

  @Test
  void theNextDecisionUsesTheReloadedPolicy() throws Exception {
    var m = machine("web-7", "deployers", "10.0.0.0/24");
    assertThatThrownBy(() -> policy.decide(SshGrantPolicy.Kind.USER, m, BASELINE, FROM, NOW)).isInstanceOf(SshGrantPolicy.NotGranted.class);
    current.set(load(POLICY.replace("      min_level: strong\n", "").replace("3m", "1h")));
    var g = policy.decide(SshGrantPolicy.Kind.USER, m, BASELINE, FROM, NOW);
    assertThat(g.validBefore()).isEqualTo(NOW.plus(Duration.ofHours(1)));
  }
}
