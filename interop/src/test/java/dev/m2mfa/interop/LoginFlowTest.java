package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.audit.AuditLog;
import java.net.InetAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoginFlowTest {
  @TempDir static Path tmp;
  static TestAuthority authority;

  @BeforeAll
  static void start() throws Exception {
    authority = new TestAuthority(tmp);
  }

  @AfterAll
  static void stop() {
    authority.close();
  }

  @Test
  void enrolledMachineLogsInWithKeyAndNetwork() throws Exception {
    Agent a = authority.enroll(tmp, "flow-a", "127.0.0.2/32", "127.0.0.2");
    Agent.Credential c = a.login("svc");
    assertThat(c.amr()).containsExactly("key", "network", "otp-chain");
    assertThat(c.acr()).isEqualTo("m2mfa:3fa");
    assertThat(c.accessToken()).contains(".");
    assertThat(AuditLog.verify(authority.authority.store()).ok()).isTrue();
  }

  @Test
  void loginFromOutsideTheBoundNetworkIsRefused() throws Exception {
    authority.enroll(tmp, "flow-b", "127.0.0.3/32", "127.0.0.3");
    Agent elsewhere = Agent.open(tmp.resolve("flow-b"), TestAuthority.PASSPHRASE, InetAddress.ofLiteral("127.0.0.9"));
    assertThatThrownBy(() -> elsewhere.login("svc")).isInstanceOf(Agent.RefusedException.class)
        .hasMessageContaining("401").hasMessageContaining("authentication-failed");
  }
}
