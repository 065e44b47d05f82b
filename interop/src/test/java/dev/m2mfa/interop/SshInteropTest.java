package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.ssh.LocalSshd;
import dev.m2mfa.agent.ssh.SshCertificateClient;
import dev.m2mfa.agent.ssh.SshKeys;
import dev.m2mfa.agent.ssh.SshdSync;
import dev.m2mfa.api.pki.TlsContexts;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.ssh.SshGrantPolicy;
import dev.m2mfa.authority.ssh.SshService;
import dev.m2mfa.testkit.ExternalTool;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * OpenSSH certificates from a real authority (real TLS, full login) used against Debian's
 * sshd and ssh: login works; expired, revoked (KRL via sshd-sync), wrong-principal and
 * outside-source-address certificates are refused; host certificates verify through
 * {@code @cert-authority} with strict host key checking, and an unsigned host key does not.
 */
class SshInteropTest {
  @TempDir static Path tmp;
  static Authority authority;
  static Path authorityDir;
  static String user;
  static LocalSshd sshd;
  static Path trustDir;
  static Path knownHosts;
  static SshdSync sync;

  @BeforeAll
  static void start() throws Exception {
    ExternalTool.require("openssh-server", LocalSshd.SSHD);
    ExternalTool.require("openssh-client", LocalSshd.SSH);
    ExternalTool.require("openssh-client", LocalSshd.SSH_KEYGEN);
    user = System.getProperty("user.name");
    authorityDir = tmp.resolve("authority");
    Authority.init(authorityDir, AuthorityConfig.defaults(), TestAuthority.PASSPHRASE, "ops");
    Files.writeString(authorityDir.resolve("authority.conf"), String.join("\n",
        "class.other=key,network",
        "ssh.principals.default=" + user,
        "ssh.principals.other=not-" + user,
        "ssh.host_principals.ssh-host=127.0.0.1,localhost", ""), StandardOpenOption.APPEND);
    authority = Authority.open(authorityDir, TestAuthority.PASSPHRASE, c -> c.withListen("127.0.0.1", 0).withHeartbeat(Duration.ofMillis(200)));
    authority.start();

    // the host: its own machine identity, a host certificate for its sshd host key
    Agent host = enroll("ssh-host", "default", "127.0.0.10/32", "127.0.0.10");
    Path hostKey = tmp.resolve("sshd").resolve("ssh_host_ed25519_key");
    Files.createDirectories(hostKey.getParent());
    ExternalTool.Result kg = ExternalTool.run(30, List.of(LocalSshd.SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", hostKey.toString()));
    assertThat(kg.exitCode()).as(kg.output()).isZero();
    List<SshCertificateClient.Certificate> hc = SshCertificateClient.hostCertificates(host, List.of(SshKeys.publicLine(hostKey)));
    assertThat(hc).hasSize(1);
    assertThat(hc.getFirst().principals()).containsExactly("ssh-host", "127.0.0.1", "localhost");
    SshKeys.writeCertificate(hostKey, hc.getFirst().line());

    trustDir = tmp.resolve("sshd").resolve("trust");
    sync = new SshdSync(URI.create("https://127.0.0.1:" + authority.port()), TlsContexts.create(authority.ca().root(), null, null),
        trustDir, Duration.ofMinutes(5));
    assertThat(sync.syncOnce().caChanged()).isTrue();
    Thread.ofVirtual().start(() -> {
      try {
        sync.run(msg -> System.err.println(msg));
      } catch (InterruptedException ignored) {
        // stopped
      }
    });
    sshd = LocalSshd.start(tmp.resolve("sshd"), hostKey, trustDir);
    knownHosts = tmp.resolve("known_hosts");
    Files.writeString(knownHosts, "@cert-authority * " + authority.ssh().ca().hostCaLine() + "\n");
  }

  @AfterAll
  static void stop() {
    if (sync != null) sync.close();
    if (sshd != null) sshd.close();
    if (authority != null) authority.close();
  }

  static Agent enroll(String name, String cls, String cidr, String source) throws Exception {
    String jt = authority.enrollment().createJoinToken(name, cls, List.of(cidr), Duration.ofMinutes(5), "test").token();
    return Agent.enroll(tmp.resolve("agents").resolve(name), "127.0.0.1", authority.port(), authority.ca().root(), jt,
        TestAuthority.PASSPHRASE, InetAddress.ofLiteral(source));
  }

  /** A fresh dedicated key for {@code label} with a certificate from the authority. */
  static Path certifiedKey(Agent agent, String label) throws Exception {
    Path key = tmp.resolve("keys").resolve(label).resolve("id_ed25519");
    String pub = SshKeys.ensureEd25519(key, label);
    SshCertificateClient.Certificate c = SshCertificateClient.userCertificate(agent, pub);
    SshKeys.writeCertificate(key, c.line());
    return key;
  }

  static ExternalTool.Result ssh(Path key, String bind) throws Exception {
    return ExternalTool.run(30, sshd.sshCommand(user, key, SshKeys.certificateFile(key), knownHosts, bind, "true"));
  }

  static ExternalTool.Result keygen(String... args) throws Exception {
    List<String> c = new java.util.ArrayList<>(List.of(LocalSshd.SSH_KEYGEN));
    c.addAll(List.of(args));
    return ExternalTool.run(30, c);
  }

  @Test
  void certificateLoginWorksAndSaysWhatThePolicyDecided() throws Exception {
    Agent a = enroll("ssh-a", "default", "127.0.0.1/32", "127.0.0.1");
    Path key = certifiedKey(a, "a");
    ExternalTool.Result shown = keygen("-L", "-f", SshKeys.certificateFile(key).toString());
    assertThat(shown.output()).contains("user certificate").contains("Key ID: \"m2mfa:spiffe://m2mfa.local/machine/ssh-a:")
        .contains("source-address 127.0.0.1/32").contains("permit-pty").contains("\n                " + user + "\n");
    ExternalTool.Result r = ssh(key, null);
    assertThat(r.exitCode()).as(r.output() + sshd.log()).isZero();
    // about ten minutes, backdated one minute
    var rec = authority.store().sshCertificates().forMachine("ssh-a", 10).getFirst();
    assertThat(rec.validBefore() - rec.validAfter()).isEqualTo(Duration.ofMinutes(11).toMillis());
  }

  @Test
  void expiredCertificateIsRefused() throws Exception {
    Path key = tmp.resolve("keys").resolve("expired").resolve("id_ed25519");
    String pub = SshKeys.ensureEd25519(key, "expired");
    Instant now = Instant.now();
    var grant = new SshGrantPolicy.Grant(List.of(user), now.minus(Duration.ofMinutes(20)), now.minus(Duration.ofMinutes(10)),
        new TreeMap<>(Map.of("source-address", "127.0.0.1/32")), new TreeMap<>(Map.of("permit-pty", "")));
    var cert = authority.ssh().ca().signUser(SshService.parseSubjectKey(pub), 77, "m2mfa:test:expired", grant);
    SshKeys.writeCertificate(key, org.apache.sshd.common.config.keys.PublicKeyEntry.toString(cert));
    ExternalTool.Result r = ssh(key, null);
    assertThat(r.exitCode()).as(r.output()).isEqualTo(255);
    assertThat(r.output()).contains("Permission denied");

    // the same CA and key with a current validity works: only the time made the difference
    var fresh = new SshGrantPolicy.Grant(List.of(user), now.minus(Duration.ofMinutes(1)), now.plus(Duration.ofMinutes(5)),
        new TreeMap<>(Map.of("source-address", "127.0.0.1/32")), new TreeMap<>(Map.of("permit-pty", "")));
    SshKeys.writeCertificate(key, org.apache.sshd.common.config.keys.PublicKeyEntry.toString(
        authority.ssh().ca().signUser(SshService.parseSubjectKey(pub), 78, "m2mfa:test:fresh", fresh)));
    assertThat(ssh(key, null).exitCode()).isZero();
  }

  @Test
  void revokedMachineCertificateIsRefusedThroughTheKrlAndStaysRevokedAfterReinstate() throws Exception {
    Agent r = enroll("ssh-r", "default", "127.0.0.1/32", "127.0.0.1");
    Path key = certifiedKey(r, "r");
    assertThat(ssh(key, null).exitCode()).isZero();
    Path krl = trustDir.resolve(SshdSync.KRL_FILE);
    ExternalTool.Result before = keygen("-Q", "-f", krl.toString(), SshKeys.certificateFile(key).toString());
    assertThat(before.exitCode()).as(before.output()).isZero();
    assertThat(before.output()).contains(": ok");

    byte[] old = Files.readAllBytes(krl);
    authority.revocations().revoke("ssh-r", "test", "test");
    // sshd-sync follows the revocation stream and replaces the KRL by itself
    Poll.until(() -> {
      try {
        return !java.util.Arrays.equals(Files.readAllBytes(krl), old);
      } catch (java.io.IOException e) {
        return false;
      }
    }, Duration.ofSeconds(10));
    ExternalTool.Result q = keygen("-Q", "-f", krl.toString(), SshKeys.certificateFile(key).toString());
    assertThat(q.output()).as(q.output()).contains("REVOKED");
    assertThat(q.exitCode()).isNotZero();
    ExternalTool.Result refused = ssh(key, null);
    assertThat(refused.exitCode()).as(refused.output()).isEqualTo(255);
    assertThat(sshd.log()).contains("revoked by file " + krl.toAbsolutePath());

    // reinstated: a new certificate works, the old one stays revoked
    authority.revocations().reinstate("ssh-r", "test", "test");
    Path fresh = certifiedKey(r, "r2");
    Poll.until(() -> krlSays(krl, SshKeys.certificateFile(fresh), ": ok"), Duration.ofSeconds(10));
    assertThat(ssh(fresh, null).exitCode()).isZero();
    assertThat(krlSays(krl, SshKeys.certificateFile(key), "REVOKED")).isTrue();
    assertThat(ssh(key, null).exitCode()).isEqualTo(255);
  }

  static boolean krlSays(Path krl, Path cert, String what) {
    try {
      return keygen("-Q", "-f", krl.toString(), cert.toString()).output().contains(what);
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void revokedMachineGetsNoNewCertificate() throws Exception {
    Agent g = enroll("ssh-g", "default", "127.0.0.1/32", "127.0.0.1");
    authority.revocations().revoke("ssh-g", "test", "test");
    Path key = tmp.resolve("keys").resolve("g").resolve("id_ed25519");
    String pub = SshKeys.ensureEd25519(key, "g");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> SshCertificateClient.userCertificate(g, pub))
        .isInstanceOf(Agent.RefusedException.class);
    assertThat(authority.store().sshCertificates().forMachine("ssh-g", 10)).isEmpty();
  }

  @Test
  void wrongPrincipalIsRefused() throws Exception {
    Agent o = enroll("ssh-o", "other", "127.0.0.1/32", "127.0.0.1");
    Path key = certifiedKey(o, "o");
    assertThat(keygen("-L", "-f", SshKeys.certificateFile(key).toString()).output()).contains("not-" + user);
    ExternalTool.Result r = ssh(key, null);
    assertThat(r.exitCode()).as(r.output()).isEqualTo(255);
    assertThat(r.output()).contains("Permission denied");
  }

  @Test
  void connectionFromOutsideSourceAddressIsRefused() throws Exception {
    Agent c = enroll("ssh-c", "default", "127.0.0.2/32", "127.0.0.2");
    Path key = certifiedKey(c, "c");
    assertThat(keygen("-L", "-f", SshKeys.certificateFile(key).toString()).output()).contains("source-address 127.0.0.2/32");
    ExternalTool.Result outside = ssh(key, null); // from 127.0.0.1
    assertThat(outside.exitCode()).as(outside.output()).isEqualTo(255);
    ExternalTool.Result inside = ssh(key, "127.0.0.2");
    assertThat(inside.exitCode()).as(inside.output() + sshd.log()).isZero();
  }

  @Test
  void hostKeyNotSignedByTheHostCaIsRefusedUnderStrictChecking() throws Exception {
    Agent a = enroll("ssh-h", "default", "127.0.0.1/32", "127.0.0.1");
    Path key = certifiedKey(a, "h");
    Path dir = tmp.resolve("sshd-unsigned");
    Path hostKey = dir.resolve("ssh_host_ed25519_key");
    Files.createDirectories(dir);
    assertThat(keygen("-q", "-t", "ed25519", "-N", "", "-f", hostKey.toString()).exitCode()).isZero();
    try (LocalSshd unsigned = LocalSshd.start(dir, hostKey, trustDir)) {
      ExternalTool.Result r = ExternalTool.run(30, unsigned.sshCommand(user, key, SshKeys.certificateFile(key), knownHosts, null, "true"));
      assertThat(r.exitCode()).as(r.output()).isEqualTo(255);
      assertThat(r.output()).contains("Host key verification failed");
    }
    // and the signed one passes with the same known_hosts (the other tests log in through it)
    assertThat(ssh(key, null).exitCode()).isZero();
  }
}
