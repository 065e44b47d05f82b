package dev.m2mfa.authority.ssh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.authority.store.MachineRecord;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** What the configured policy puts in a certificate, and what the configuration refuses. */
class SshGrantPolicyTest {
  static final java.util.Optional<String> NO_ACR = java.util.Optional.empty();

  static MachineRecord machine(String name, String cls, String networks) {
    return new MachineRecord(name, "spiffe://t/machine/" + name, cls, "AAAA", "jkt", networks, MachineRecord.ACTIVE, 1, 1);
  }

  static SshConfig config(String... kv) {
    Properties p = new Properties();
    for (int i = 0; i < kv.length; i += 2) p.setProperty(kv[i], kv[i + 1]);
    return SshConfig.from(p);
  }

  @Test
  void userCertificateDefaults() throws Exception {
    Instant now = Instant.parse("2026-12-04T12:00:00Z");
    var g = SshGrantPolicy.fromConfig(SshConfig.defaults())
        .decide(SshGrantPolicy.Kind.USER, machine("web-1", "default", "10.0.0.0/24,192.0.2.9/32"), NO_ACR, InetAddress.ofLiteral("10.0.0.5"), now);
    assertThat(g.principals()).containsExactly("web-1");
    assertThat(g.validAfter()).isEqualTo(now.minus(Duration.ofMinutes(1)));
    assertThat(g.validBefore()).isEqualTo(now.plus(Duration.ofMinutes(10)));
    assertThat(g.criticalOptions()).containsExactly(java.util.Map.entry("source-address", "10.0.0.0/24,192.0.2.9/32"));
    assertThat(g.extensions().keySet()).containsExactly("permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding",
        "permit-pty", "permit-user-rc");
  }

  @Test
  void noBoundNetworksMeansTheRequestAddressAsAHostRoute() throws Exception {
    var p = SshGrantPolicy.fromConfig(SshConfig.defaults());
    assertThat(p.decide(SshGrantPolicy.Kind.USER, machine("m", "default", ""), NO_ACR, InetAddress.ofLiteral("192.0.2.4"), Instant.now())
        .criticalOptions().get("source-address")).isEqualTo("192.0.2.4/32");
    assertThat(p.decide(SshGrantPolicy.Kind.USER, machine("m", "default", ""), NO_ACR, InetAddress.ofLiteral("2001:db8::7"), Instant.now())
        .criticalOptions().get("source-address")).endsWith("/128");
  }

  @Test
  void configuredPrincipalsForceCommandAndHostNames() throws Exception {
    SshConfig c = config("ssh.principals.batch", "deploy,backup", "ssh.force_command.batch", "/usr/local/bin/sync",
        "ssh.host_principals.db-1", "db-1.example.org,db-1", "ssh.host_certificate_seconds", "3600", "ssh.extensions", "permit-pty");
    Instant now = Instant.now();
    var user = SshGrantPolicy.fromConfig(c).decide(SshGrantPolicy.Kind.USER, machine("b", "batch", "10.0.0.1/32"), NO_ACR, InetAddress.ofLiteral("10.0.0.1"), now);
    assertThat(user.principals()).containsExactly("deploy", "backup");
    assertThat(user.criticalOptions()).containsEntry("force-command", "/usr/local/bin/sync");
    assertThat(user.extensions().keySet()).containsExactly("permit-pty");
    var host = SshGrantPolicy.fromConfig(c).decide(SshGrantPolicy.Kind.HOST, machine("db-1", "default", "10.0.0.2/32"), NO_ACR, InetAddress.ofLiteral("10.0.0.2"), now);
    assertThat(host.principals()).containsExactly("db-1", "db-1.example.org");
    assertThat(host.criticalOptions()).isEmpty();
    assertThat(host.validBefore()).isEqualTo(now.plus(Duration.ofHours(1)));
  }

  @Test
  void badConfigurationIsRefusedWithTheKeyNamed() {
    assertThatThrownBy(() -> config("ssh.ca_algorithm", "rsa")).hasMessageContaining("ssh.ca_algorithm");
    assertThatThrownBy(() -> config("ssh.user_certificate_seconds", "5")).hasMessageContaining("ssh.user_certificate_seconds");
    assertThatThrownBy(() -> config("ssh.principals.default", "root,bad name")).hasMessageContaining("ssh.principals.default");
    assertThatThrownBy(() -> config("ssh.principals.default", "a,b\\,c")).hasMessageContaining("ssh.principals.default");
    assertThatThrownBy(() -> config("ssh.force_command.default", "rm\n-rf")).hasMessageContaining("ssh.force_command.default");
    assertThatThrownBy(() -> config("ssh.extensions", "permit-everything")).hasMessageContaining("ssh.extensions");
    assertThatThrownBy(() -> config("ssh.host_certificate_seconds", "x")).hasMessageContaining("not a number");
    assertThat(List.of(config().caAlgorithm())).containsExactly("ed25519");
  }
}
