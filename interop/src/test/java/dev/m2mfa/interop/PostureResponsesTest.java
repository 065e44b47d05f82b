package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.AuthorityConfig;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a posture mismatch does is the policy's decision ({@code on: posture_mismatch}): a
 * replaced binary denies the login (default), steps the token down to the highest level that
 * does not count posture, or is alerted and audited while the login goes on.
 */
class PostureResponsesTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String POLICY = """
      version: 1
      classes:
        strict:
          levels:
            - name: baseline
              all_of: [key, network, posture]
          audiences:
            "*": baseline
        stepdown:
          levels:
            - name: baseline
              all_of: [key, network]
            - name: trusted
              all_of: [posture]
          audiences:
            "*": baseline
            ledger: trusted
          on:
            posture_mismatch: step-down
        alerting:
          levels:
            - name: baseline
              all_of: [key, network]
            - name: trusted
              all_of: [posture]
          audiences:
            "*": trusted
          on:
            posture_mismatch: alert
      """;

  @TempDir static Path tmp;
  static TestAuthority authority;

  @BeforeAll
  static void start() throws Exception {
    Path policy = Files.writeString(tmp.resolve("policy.yaml"), POLICY);
    authority = new TestAuthority(tmp, AuthorityConfig.defaults().withPolicyPath(policy));
  }

  @AfterAll
  static void stop() {
    authority.close();
  }

  /** A machine of {@code cls} whose agent measures one directory holding a fake sshd. */
  record Machine(Agent agent, Path sshd) {}

  static Machine machine(String name, String cls, String address) throws Exception {
    Path root = Files.createDirectories(tmp.resolve(name + "-root/usr/sbin"));
    Path sshd = Files.writeString(root.resolve("sshd"), "#!/bin/sh\n# the real sshd\n");
    String token = authority.authority.enrollment().createJoinToken(name, cls, List.of(address + "/32"), Duration.ofMinutes(5), "test").token();
    Path dir = tmp.resolve(name);
    Agent.enroll(dir, "127.0.0.1", authority.port(), authority.authority.ca().root(), token, TestAuthority.PASSPHRASE,
        InetAddress.ofLiteral(address));
    Files.writeString(dir.resolve("agent.conf"), "posture.roots=" + root.toRealPath() + "\nposture.processes=none\nposture.listeners=none\n"
        + "posture.packages=false\nposture.os=false\n", StandardOpenOption.APPEND);
    return new Machine(Agent.open(dir, TestAuthority.PASSPHRASE, null), sshd);
  }

  static JsonNode lastDecision(String machine) throws Exception {
    String[] detail = {"{}"};
    authority.authority.store().audit().scan(1, r -> {
      if (r.subject().equals(machine) && (r.event().equals("login.allowed") || r.event().equals("login.denied"))) detail[0] = r.detail();
    });
    return JSON.readTree(detail[0]);
  }

  @Test
  void denyIsTheDefault() throws Exception {
    Machine m = machine("pm-strict", "strict", "127.0.0.2");
    assertThat(m.agent().login("svc").amr()).contains("posture"); // baseline learned on first use
    Files.writeString(m.sshd(), "#!/bin/sh\n# trojaned\n");
    assertThatThrownBy(() -> m.agent().login("svc")).isInstanceOf(Agent.RefusedException.class);
    assertThat(lastDecision("pm-strict").toString()).contains("sha256 changed");
  }

  @Test
  void stepDownIssuesTheLevelThatDoesNotCountPosture() throws Exception {
    Machine m = machine("pm-step", "stepdown", "127.0.0.3");
    Agent.Credential first = m.agent().login("svc");
    assertThat(first.acr()).isEqualTo("m2mfa:trusted"); // posture is judged at every login of the class, and held
    Files.writeString(m.sshd(), "#!/bin/sh\n# trojaned\n");
    Agent.Credential after = m.agent().login("svc");
    assertThat(after.acr()).isEqualTo("m2mfa:baseline");
    assertThat(after.amr()).doesNotContain("posture");
    assertThat(lastDecision("pm-step").toString()).contains("sha256 changed");
    // an audience that needs the trusted level is refused while the mismatch lasts
    assertThatThrownBy(() -> m.agent().login("ledger")).isInstanceOf(Agent.RefusedException.class);
  }

  @Test
  void alertLetsTheLoginThroughAndSaysSo() throws Exception {
    Machine m = machine("pm-alert", "alerting", "127.0.0.4");
    assertThat(m.agent().login("svc").acr()).isEqualTo("m2mfa:trusted");
    Files.writeString(m.sshd(), "#!/bin/sh\n# trojaned\n");
    Agent.Credential after = m.agent().login("svc");
    assertThat(after.acr()).isEqualTo("m2mfa:trusted");
    JsonNode d = lastDecision("pm-alert");
    assertThat(d.path("decision").asText()).isEqualTo("allow");
    assertThat(d.path("posture_alert").asText()).contains("sha256 changed");
  }
}
