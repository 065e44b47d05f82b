package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.ssh.LocalSshd;
import dev.m2mfa.agent.ssh.SshCertificateClient;
import dev.m2mfa.agent.ssh.SshKeys;
import dev.m2mfa.agent.ssh.SshdSync;
import dev.m2mfa.api.pki.TlsContexts;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.testkit.ExternalTool;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SSH certificates decided by a policy file's {@code ssh:} blocks, checked with Debian's
 * ssh-keygen and sshd: the policy's principals ({@code {machine}} filled in) and lifetime are in
 * the certificate and beat authority.conf's {@code ssh.principals.*}; a login with the policy's
 * principal works; {@code min_level} refuses a token that reached only the baseline level and
 * lets a strong one through (with the policy's force-command).
 */
class SshPolicyInteropTest {
  static final String USER = System.getProperty("user.name");
  static final String LEVELS = """
          levels:
            - name: baseline
              all_of: [key, network]
            - name: strong
              any_of: {k: 1, of: [otp-chain]}
      """;
  static final String POLICY = "version: 1\nclasses:\n"
      + "  default:\n" + LEVELS + """
          audiences:
            "*": baseline
          ssh:
            principals: [%1$s, "m2mfa-{machine}"]
            user_certificate_lifetime: 3m
            host_certificate_lifetime: 2h
      """.formatted(USER)
      + "  guarded:\n" + LEVELS + """
          audiences:
            "*": baseline
          ssh:
            principals: [%1$s]
            min_level: strong
      """.formatted(USER)
      + "  guarded-strong:\n" + LEVELS + """
          audiences:
            "m2mfa:ssh": strong
            "*": baseline
          ssh:
            principals: [%1$s]
            min_level: strong
            force_command: "echo forced-by-policy"
      """.formatted(USER);

  @TempDir static Path tmp;
  static Authority authority;
  static LocalSshd sshd;
  static Path knownHosts;

  @BeforeAll
  static void start() throws Exception {
    ExternalTool.require("openssh-server", LocalSshd.SSHD);
    ExternalTool.require("openssh-client", LocalSshd.SSH);
    ExternalTool.require("openssh-client", LocalSshd.SSH_KEYGEN);
    Path dir = tmp.resolve("authority");
    Path policy = Files.writeString(Files.createDirectories(tmp.resolve("policy")).resolve("policy.yaml"), POLICY);
    Authority.init(dir, AuthorityConfig.defaults().withPolicyPath(policy), TestAuthority.PASSPHRASE, "ops");
    // authority.conf says otherwise: the policy's blocks take precedence for their classes
    Files.writeString(dir.resolve("authority.conf"), String.join("\n",
        "ssh.principals.default=not-" + USER,
        "ssh.user_certificate_seconds=1200",
        "ssh.host_principals.pol-host=127.0.0.1,localhost", ""), StandardOpenOption.APPEND);
    authority = Authority.open(dir, TestAuthority.PASSPHRASE, c -> c.withListen("127.0.0.1", 0).withHeartbeat(Duration.ofMillis(200)));
    authority.start();

    Agent host = enroll("pol-host", "default");
    Path hostKey = tmp.resolve("sshd").resolve("ssh_host_ed25519_key");
    Files.createDirectories(hostKey.getParent());
    assertThat(SshInteropTest.keygen("-q", "-t", "ed25519", "-N", "", "-f", hostKey.toString()).exitCode()).isZero();
    SshCertificateClient.Certificate hc = SshCertificateClient.hostCertificates(host, List.of(SshKeys.publicLine(hostKey))).getFirst();
    assertThat(hc.principals()).containsExactly("pol-host", "127.0.0.1", "localhost");
    // host_certificate_lifetime 2h, backdated one minute
    assertThat(hc.validBefore() - hc.validAfter()).isEqualTo(Duration.ofMinutes(121).toSeconds());
    SshKeys.writeCertificate(hostKey, hc.line());

    Path trustDir = tmp.resolve("sshd").resolve("trust");
    try (SshdSync sync = new SshdSync(URI.create("https://127.0.0.1:" + authority.port()),
        TlsContexts.create(authority.ca().root(), null, null), trustDir, Duration.ofMinutes(5))) {
      assertThat(sync.syncOnce().caChanged()).isTrue();
    }
    sshd = LocalSshd.start(tmp.resolve("sshd"), hostKey, trustDir);
    knownHosts = tmp.resolve("known_hosts");
    Files.writeString(knownHosts, "@cert-authority * " + authority.ssh().ca().hostCaLine() + "\n");
  }

  @AfterAll
  static void stop() {
    if (sshd != null) sshd.close();
    if (authority != null) authority.close();
  }

  static Agent enroll(String name, String cls) throws Exception {
    String jt = authority.enrollment().createJoinToken(name, cls, List.of("127.0.0.1/32"), Duration.ofMinutes(5), "test").token();
    return Agent.enroll(tmp.resolve("agents").resolve(name), "127.0.0.1", authority.port(), authority.ca().root(), jt,
        TestAuthority.PASSPHRASE, InetAddress.ofLiteral("127.0.0.1"));
  }

  static Path key(String label) throws Exception {
    Path key = tmp.resolve("keys").resolve(label).resolve("id_ed25519");
    SshKeys.ensureEd25519(key, label);
    return key;
  }

  static ExternalTool.Result ssh(Path key) throws Exception {
    return ExternalTool.run(30, sshd.sshCommand(USER, key, SshKeys.certificateFile(key), knownHosts, null, "echo logged-in"));
  }

  /** The principals block of {@code ssh-keygen -L}: the indented lines after "Principals:". */
  static List<String> principals(String listing) {
    List<String> out = new ArrayList<>();
    boolean in = false;
    for (String line : listing.lines().toList()) {
      if (line.strip().startsWith("Principals:")) {
        in = true;
      } else if (in && line.startsWith("                ")) {
        out.add(line.strip());
      } else if (in) {
        break;
      }
    }
    return out;
  }

  /** The span of "Valid: from X to Y" in {@code ssh-keygen -L} (local times, second precision). */
  static Duration validity(String listing) {
    Matcher m = Pattern.compile("Valid: from (\\S+) to (\\S+)").matcher(listing);
    assertThat(m.find()).as(listing).isTrue();
    return Duration.between(LocalDateTime.parse(m.group(1)), LocalDateTime.parse(m.group(2)));
  }

  @Test
  void theCertificateCarriesThePolicysPrincipalsAndLifetimeAndItsPrincipalLogsIn() throws Exception {
    Agent a = enroll("pol-a", "default");
    Path key = key("a");
    SshKeys.writeCertificate(key, SshCertificateClient.userCertificate(a, SshKeys.publicLine(key)).line());
    ExternalTool.Result shown = SshInteropTest.keygen("-L", "-f", SshKeys.certificateFile(key).toString());
    assertThat(shown.exitCode()).as(shown.output()).isZero();
    // the policy's list, {machine} filled in; not authority.conf's "not-<user>"
    assertThat(principals(shown.output())).containsExactly(USER, "m2mfa-pol-a");
    // user_certificate_lifetime 3m plus the one-minute backdate; not ssh.user_certificate_seconds=1200
    assertThat(validity(shown.output())).isEqualTo(Duration.ofMinutes(4));
    assertThat(shown.output()).contains("source-address 127.0.0.1/32").doesNotContain("force-command");

    ExternalTool.Result r = ssh(key);
    assertThat(r.exitCode()).as(r.output() + sshd.log()).isZero();
    assertThat(r.output()).contains("logged-in");
  }

  @Test
  void minLevelRefusesABaselineTokenAndAuditsWhy() throws Exception {
    Agent g = enroll("pol-g", "guarded");
    Path key = key("g");
    // the class's audience rule asks only baseline for m2mfa:ssh, so the login reaches baseline
    assertThatThrownBy(() -> SshCertificateClient.userCertificate(g, SshKeys.publicLine(key)))
        .isInstanceOfSatisfying(Agent.RefusedException.class, e -> assertThat(e.status()).isEqualTo(401))
        .hasMessageContaining("invalid-token");
    assertThat(authority.store().sshCertificates().forMachine("pol-g", 10)).isEmpty();
    String[] reason = {""};
    authority.store().audit().scan(1, rec -> {
      if (rec.event().equals("ssh.denied") && rec.subject().equals("pol-g")) reason[0] = rec.detail();
    });
    assertThat(reason[0]).contains("token acr m2mfa:baseline is below m2mfa:strong, the ssh min_level of class guarded");
  }

  @Test
  void aStrongTokenPassesMinLevelAndThePolicysForceCommandRuns() throws Exception {
    Agent s = enroll("pol-s", "guarded-strong");
    Path key = key("s");
    // "m2mfa:ssh": strong makes the agent's login challenge otp-chain too
    SshKeys.writeCertificate(key, SshCertificateClient.userCertificate(s, SshKeys.publicLine(key)).line());
    ExternalTool.Result shown = SshInteropTest.keygen("-L", "-f", SshKeys.certificateFile(key).toString());
    assertThat(principals(shown.output())).containsExactly(USER);
    assertThat(validity(shown.output())).isEqualTo(Duration.ofMinutes(11)); // the block's default 10m
    assertThat(shown.output()).contains("force-command echo forced-by-policy");
    ExternalTool.Result r = ssh(key);
    assertThat(r.exitCode()).as(r.output() + sshd.log()).isZero();
    assertThat(r.output()).contains("forced-by-policy").doesNotContain("logged-in");
  }
}
