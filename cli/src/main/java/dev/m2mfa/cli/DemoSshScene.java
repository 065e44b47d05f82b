package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.ssh.LocalSshd;
import dev.m2mfa.agent.ssh.SshCertificateClient;
import dev.m2mfa.agent.ssh.SshKeys;
import dev.m2mfa.agent.ssh.SshdSync;
import dev.m2mfa.api.pki.TlsContexts;
import dev.m2mfa.authority.Authority;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The demo's SSH scene: machine-b runs Debian's sshd (loopback high port, config in the demo
 * directory) with a host certificate from the authority, trusting the user CA through files
 * that {@code sshd-sync} keeps current; machine-a logs in to the authority, gets a 10-minute
 * user certificate for a dedicated key and opens a session with {@code @cert-authority} host
 * checking. The admin revokes machine-a; sshd-sync, following the revocation stream, replaces
 * the KRL, and machine-a's next attempt is refused by sshd, although its certificate has not
 * expired. Without openssh-server/openssh-client installed the scene says so and is skipped.
 */
final class DemoSshScene {
  private DemoSshScene() {}

  static List<Demo.Scene> play(Authority authority, AdminClient admin, Agent machineA, Agent machineB, Path tmp) {
    List<Demo.Scene> out = new ArrayList<>();
    String name = "machine-a opens an SSH session to machine-b with a certificate; after revocation sshd refuses it";
    for (String tool : List.of(LocalSshd.SSHD, LocalSshd.SSH)) {
      if (!Files.isExecutable(Path.of(tool))) {
        out.add(new Demo.Scene(name, "skipped without OpenSSH", "skipped: " + tool + " is not installed (Debian packages openssh-server, "
            + "openssh-client)", true));
        return out;
      }
    }
    if (!Files.isDirectory(Path.of("/run/sshd")) && !Files.isWritable(Path.of("/run"))) {
      out.add(new Demo.Scene(name, "skipped without /run/sshd", "skipped: sshd needs /run/sshd and this user cannot create it", true));
      return out;
    }
    try {
      return run(authority, admin, machineA, machineB, tmp);
    } catch (Exception e) {
      out.add(new Demo.Scene(name, "session before, refusal after", "failed: " + e.getMessage(), false));
      return out;
    }
  }

  private static List<Demo.Scene> run(Authority authority, AdminClient admin, Agent a, Agent b, Path tmp) throws Exception {
    List<Demo.Scene> out = new ArrayList<>();
    String user = System.getProperty("user.name");
    Path hostDir = tmp.resolve("machine-b-sshd");
    Path hostKey = hostDir.resolve("ssh_host_ed25519_key");
    SshKeys.ensureEd25519(hostKey, "machine-b host key");
    var hostCert = SshCertificateClient.hostCertificates(b, List.of(SshKeys.publicLine(hostKey))).getFirst();
    SshKeys.writeCertificate(hostKey, hostCert.line());
    Path trust = hostDir.resolve("trust");
    try (SshdSync sync = new SshdSync(URI.create("https://127.0.0.1:" + authority.port()), TlsContexts.create(authority.ca().root(), null, null),
        trust, Duration.ofMinutes(5))) {
      sync.syncOnce();
      Thread follower = Thread.ofVirtual().start(() -> {
        try {
          sync.run(msg -> { });
        } catch (InterruptedException ignored) {
          // closed
        }
      });
      // the host lets certificates naming machine-a log in as this account
      try (LocalSshd sshd = LocalSshd.start(hostDir, hostKey, trust, Map.of(user, List.of("machine-a")))) {
        Path knownHosts = tmp.resolve("machine-a-known_hosts");
        Files.writeString(knownHosts, "@cert-authority * " + authority.ssh().ca().hostCaLine() + "\n");
        Path key = a.directory().resolve("ssh").resolve("id_ed25519");
        String pub = SshKeys.ensureEd25519(key, "m2mfa:machine-a");
        long c0 = System.nanoTime();
        var cert = SshCertificateClient.userCertificate(a, pub);
        long certMs = (System.nanoTime() - c0) / 1_000_000;
        SshKeys.writeCertificate(key, cert.line());
        List<String> cmd = sshd.sshCommand(user, key, SshKeys.certificateFile(key), knownHosts, "127.0.0.2", "machine-b", "echo hello from machine-b");
        Result first = run(cmd);
        out.add(new Demo.Scene("machine-a opens an SSH session to machine-b (Debian sshd on 127.0.0.1:" + sshd.port() + ")",
            "login + certificate (principal machine-a, source-address 127.0.0.2/32, 10 min), host certificate checked via @cert-authority, session runs",
            "certificate serial " + cert.serial() + " in " + certMs + " ms (login included); ssh exit " + first.exit + ": " + first.output.strip(),
            first.exit == 0 && first.output.contains("hello from machine-b")));

        Path krl = trust.resolve(SshdSync.KRL_FILE);
        byte[] old = Files.readAllBytes(krl);
        long r0 = System.nanoTime();
        JsonNode rev = admin.post("/v1/admin/machines/machine-a/revoke", Map.of("reason", "demo: machine-a compromised"));
        long deadline = r0 + TimeUnit.SECONDS.toNanos(5);
        while (Arrays.equals(Files.readAllBytes(krl), old) && System.nanoTime() < deadline) Thread.sleep(5);
        long krlMs = (System.nanoTime() - r0) / 1_000_000;
        Result second = run(cmd);
        boolean stillValid = cert.validBefore() > System.currentTimeMillis() / 1000;
        out.add(new Demo.Scene("admin revokes machine-a; it tries SSH again with its unexpired certificate",
            "sshd-sync replaces machine-b's KRL within 5 s; sshd refuses the certificate",
            "revoke seq " + rev.path("seq").asLong() + "; KRL on machine-b replaced " + krlMs + " ms after the call; certificate "
                + (stillValid ? "still within its validity" : "expired") + "; ssh exit " + second.exit
                + (sshd.log().contains("revoked by file") ? " (sshd: key revoked by the KRL)" : ""),
            second.exit == 255 && stillValid && sshd.log().contains("revoked by file")));
      } finally {
        follower.interrupt();
      }
    }
    return out;
  }

  private record Result(int exit, String output) {}

  private static Result run(List<String> cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getOutputStream().close();
    byte[] b = p.getInputStream().readNBytes(64 * 1024);
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return new Result(-1, "timed out");
    }
    return new Result(p.exitValue(), new String(b, StandardCharsets.UTF_8));
  }
}
