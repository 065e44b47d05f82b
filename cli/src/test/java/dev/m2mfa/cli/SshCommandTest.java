package dev.m2mfa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.ssh.SshdSync;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.testkit.ExternalTool;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code m2mfa ssh} and {@code m2mfa agent sshd-sync --once} against a real authority. */
class SshCommandTest {
  static final char[] PASS = "cli ssh test passphrase".toCharArray();
  @TempDir static Path tmp;
  static Authority authority;
  static Path agentDir;
  static Path passFile;

  @BeforeAll
  static void start() throws Exception {
    ExternalTool.require("openssh-client", "/usr/bin/ssh-keygen");
    Path dir = tmp.resolve("authority");
    Authority.init(dir, AuthorityConfig.defaults(), PASS, "ops");
    authority = Authority.open(dir, PASS, c -> c.withListen("127.0.0.1", 0));
    authority.start();
    String jt = authority.enrollment().createJoinToken("cli-ssh", "default", List.of("127.0.0.1/32"), Duration.ofMinutes(5), "t").token();
    agentDir = tmp.resolve("agent");
    Agent.enroll(agentDir, "127.0.0.1", authority.port(), authority.ca().root(), jt, PASS, InetAddress.ofLiteral("127.0.0.1"));
    passFile = tmp.resolve("pass");
    Files.writeString(passFile, new String(PASS));
  }

  @AfterAll
  static void stop() {
    authority.close();
  }

  static int main(String... args) {
    PrintStream old = System.out;
    System.setOut(new PrintStream(new ByteArrayOutputStream(), true));
    try {
      return Main.execute(args);
    } finally {
      System.setOut(old);
    }
  }

  @Test
  void sshWritesACertificateBesideAGeneratedKey() throws Exception {
    assertThat(main("ssh", "--dir", agentDir.toString(), "--passphrase-file", passFile.toString())).isZero();
    Path key = agentDir.resolve("ssh").resolve("id_ed25519");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
    assertThat(Files.readString(key)).startsWith("-----BEGIN OPENSSH PRIVATE KEY-----");
    // ssh-keygen can read the private key and derives the same public key
    ExternalTool.Result y = ExternalTool.run(30, List.of("/usr/bin/ssh-keygen", "-y", "-f", key.toString()));
    assertThat(Files.readString(agentDir.resolve("ssh/id_ed25519.pub"))).startsWith(y.output().strip());
    ExternalTool.Result l = ExternalTool.run(30, List.of("/usr/bin/ssh-keygen", "-L", "-f", agentDir.resolve("ssh/id_ed25519-cert.pub").toString()));
    assertThat(l.output()).contains("user certificate").contains("cli-ssh").contains("source-address 127.0.0.1/32");
  }

  @Test
  void sshAgentGetsKeyAndCertificate() throws Exception {
    ExternalTool.require("openssh-client", "/usr/bin/ssh-agent");
    Path sock = tmp.resolve("agent.sock");
    Process agent = new ProcessBuilder("/usr/bin/ssh-agent", "-D", "-a", sock.toString()).redirectErrorStream(true)
        .redirectOutput(tmp.resolve("ssh-agent.log").toFile()).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!Files.exists(sock) && System.nanoTime() < deadline) Thread.sleep(10);
      assertThat(main("ssh", "--dir", agentDir.toString(), "--passphrase-file", passFile.toString(), "--key",
          agentDir.resolve("ssh2").resolve("id_ed25519").toString())).isEqualTo(3); // --key must exist: a missing file is exit 3, not a crash
      assertThat(main("ssh", "--dir", agentDir.toString(), "--passphrase-file", passFile.toString(), "--ssh-agent", "--ssh-auth-sock",
          sock.toString())).isZero();
      ProcessBuilder list = new ProcessBuilder("/usr/bin/ssh-add", "-L").redirectErrorStream(true);
      list.environment().put("SSH_AUTH_SOCK", sock.toString());
      Process p = list.start();
      String out = new String(p.getInputStream().readAllBytes());
      p.waitFor(10, TimeUnit.SECONDS);
      assertThat(out).contains("ssh-ed25519-cert-v01@openssh.com");
    } finally {
      agent.destroy();
    }
  }

  @Test
  void sshdSyncOnceWritesTheTrustFiles() throws Exception {
    Path out = tmp.resolve("etc-ssh-m2mfa");
    assertThat(main("agent", "sshd-sync", "--dir", agentDir.toString(), "--out", out.toString(), "--once")).isZero();
    assertThat(Files.readString(out.resolve(SshdSync.CA_FILE)).strip()).isEqualTo(authority.ssh().ca().userCaLine());
    byte[] written = Files.readAllBytes(out.resolve(SshdSync.KRL_FILE));
    byte[] served = authority.ssh().krl();
    // equal apart from generated_date (bytes 20-27), which may differ if the cache was rebuilt in between
    assertThat(java.util.Arrays.copyOfRange(written, 0, 20)).isEqualTo(java.util.Arrays.copyOfRange(served, 0, 20));
    assertThat(java.util.Arrays.copyOfRange(written, 28, written.length)).isEqualTo(java.util.Arrays.copyOfRange(served, 28, served.length));
    assertThat(main("agent", "sshd-sync", "--dir", agentDir.toString(), "--out", out.toString(), "--once", "--refresh-seconds", "1"))
        .isEqualTo(2);
  }
}
