package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.AuthorityConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A running authority and its policy file: a good edit changes what logins need at once; a bad
 * edit keeps the old policy in force, and the audit log says why with file and line. (Reloads
 * are triggered explicitly, as the watcher thread would, so nothing here depends on timing.)
 */
class PolicyReloadTest {
  @TempDir Path tmp;

  static String policy(String baselineFactors) {
    return """
        version: 1
        classes:
          default:
            levels:
              - name: baseline
                all_of: [%s]
            audiences:
              "*": baseline
        """.formatted(baselineFactors);
  }

  @Test
  void aGoodEditTakesEffectAndABadOneKeepsTheOldPolicyAndIsAudited() throws Exception {
    Path file = Files.writeString(tmp.resolve("policy.yaml"), policy("key, network"));
    try (TestAuthority authority = new TestAuthority(tmp, AuthorityConfig.defaults().withPolicyPath(file))) {
      Agent agent = authority.enroll(tmp, "reload-a", "127.0.0.2/32", "127.0.0.2");
      assertThat(agent.login("svc").amr()).containsExactly("key", "network");

      Files.writeString(file, policy("key, network, otp-chain"));
      assertThat(authority.authority.policies().reload().healthy()).isTrue();
      assertThat(agent.login("svc").amr()).containsExactly("key", "network", "otp-chain");

      Files.writeString(file, policy("key, network, no-such-factor"));
      var status = authority.authority.policies().reload();
      assertThat(status.healthy()).isFalse();
      assertThat(status.firstError().orElseThrow()).contains("policy.yaml:6:").contains("no-such-factor");
      assertThat(agent.login("svc").amr()).containsExactly("key", "network", "otp-chain"); // the old policy is still in force
      try (var c = AdminClient.client(AdminClient.trusting(authority.authority.ca().root()))) {
        var health = AdminClient.get(c, authority.port(), "/v1/health");
        assertThat(health.body()).contains("\"healthy\":false").doesNotContain("policy.yaml").doesNotContain(tmp.toString());
      }
      String[] audited = {""};
      authority.authority.store().audit().scan(1, r -> {
        if (r.event().equals("policy.reload_failed")) audited[0] = r.detail();
      });
      assertThat(audited[0]).contains("no-such-factor");

      Files.writeString(file, policy("key, network"));
      assertThat(authority.authority.policies().reload().healthy()).isTrue();
      assertThat(agent.login("svc").amr()).containsExactly("key", "network");
    }
  }

  @Test
  void anAuthorityDoesNotStartOnABadPolicyAndSaysWhere() throws Exception {
    Path file = Files.writeString(tmp.resolve("policy.yaml"), policy("network"));
    assertThatThrownBy(() -> new TestAuthority(tmp, AuthorityConfig.defaults().withPolicyPath(file)))
        .hasMessageContaining("policy.yaml:").hasMessageContaining("key");
  }
}
