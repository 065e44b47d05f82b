package dev.m2mfa.authority.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.authority.AuthorityConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An authority.conf with only class.NAME= lines decides exactly as before the policy engine. */
class LegacyPolicyTest {
  static final Optional<String> NONE = Optional.empty();

  private static Policy legacy() {
    Map<String, List<String>> classes = new LinkedHashMap<>();
    classes.put("default", List.of("key", "network"));
    classes.put("solo", List.of("key"));
    classes.put("many", List.of("key", "network", "otp-chain", "posture"));
    return Policy.fromLegacyClasses(classes, Duration.ofSeconds(120), Duration.ofMinutes(30));
  }

  @Test
  void oneLevelAllOfTheListAndTheOldAcr() {
    Policy p = legacy();
    Decision d = p.evaluate("default", "anything", NONE, Set.of("key", "network"), Set.of(), Set.of());
    assertThat(d.allowed()).isTrue();
    assertThat(d.acr()).contains("m2mfa:2fa");
    assertThat(d.amr()).containsExactly("key", "network");
    assertThat(d.tokenLifetime()).isEqualTo(Duration.ofSeconds(120));
    assertThat(d.certificateLifetime()).isEqualTo(Duration.ofMinutes(30));
    assertThat(p.evaluate("solo", "x", NONE, Set.of("key"), Set.of(), Set.of()).acr()).contains("m2mfa:1fa");
    assertThat(p.evaluate("many", "x", NONE, Set.of("key", "network", "otp-chain", "posture"), Set.of(), Set.of()).acr())
        .as("capped at 3 as before").contains("m2mfa:3fa");
  }

  @Test
  void anyMissingFactorDenies() {
    Decision d = legacy().evaluate("default", "x", NONE, Set.of("key"), Set.of("network"), Set.of());
    assertThat(d.allowed()).isFalse();
    assertThat(d.response()).isEqualTo(Response.DENY);
    assertThat(d.reason()).isEqualTo("level 2fa needs all of [key, network]; not passed: network");
  }

  @Test
  void acrOrderIsTheVerifierDefault() {
    assertThat(legacy().acrOrder()).containsExactly("m2mfa:1fa", "m2mfa:2fa", "m2mfa:3fa");
    assertThat(legacy().factorsToChallenge("many", "x", NONE)).containsExactly("key", "network", "otp-chain", "posture");
    assertThat(legacy().evaluate("default", "x", Optional.of("m2mfa:2fa"), Set.of("key", "network"), Set.of(), Set.of()).allowed()).isTrue();
    assertThat(legacy().evaluate("default", "x", Optional.of("m2mfa:3fa"), Set.of("key", "network"), Set.of(), Set.of()).allowed()).isFalse();
  }

  @Test
  void authorityConfDefaultsGiveTheDefaultClass() {
    AuthorityConfig c = AuthorityConfig.defaults();
    Policy p = Policy.fromLegacyClasses(c.policyClasses(), c.tokenLifetime(), c.certificateLifetime());
    assertThat(p.classNames()).containsExactly("default");
    assertThat(c.policyPath()).isEmpty();
  }

  @Test
  void policyKeyInAuthorityConfResolvesAgainstItsDirectory(@TempDir Path dir) throws Exception {
    Path conf = dir.resolve("authority.conf");
    AuthorityConfig.defaults().write(conf);
    assertThat(AuthorityConfig.load(conf).policyPath()).isEmpty();
    Files.writeString(conf, Files.readString(conf) + "policy=policy.d\n");
    AuthorityConfig loaded = AuthorityConfig.load(conf);
    assertThat(loaded.policyPath()).contains(dir.resolve("policy.d"));
    // survives a write/load round trip, and the with* copies keep it
    loaded.withListen("127.0.0.1", 0).write(conf);
    assertThat(AuthorityConfig.load(conf).policyPath()).contains(dir.resolve("policy.d"));
    Files.writeString(conf, "policy=/etc/m2mfa/policy.yaml\n");
    assertThat(AuthorityConfig.load(conf).policyPath()).contains(Path.of("/etc/m2mfa/policy.yaml"));
    Files.writeString(conf, "policy=  \n");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> AuthorityConfig.load(conf))
        .hasMessage("authority.conf: policy must name a policy file or directory");
  }
}
