package dev.m2mfa.agent.ssh;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's OpenSSH server on a loopback high port with its whole configuration in one
 * directory, for the demo and the interop tests: certificate login only
 * ({@code TrustedUserCAKeys}, {@code RevokedKeys}, {@code AuthorizedKeysFile none}), a host key
 * with an optional host certificate, PID file and logs in the directory. Not a way to run a
 * production sshd.
 *
 * <p>sshd must be started by its absolute path (it re-executes itself) and needs its
 * privilege-separation directory {@code /run/sshd}, created here when missing.
 */
public final class LocalSshd implements AutoCloseable {
  public static final String SSHD = "/usr/sbin/sshd";
  public static final String SSH = "/usr/bin/ssh";
  public static final String SSH_KEYGEN = "/usr/bin/ssh-keygen";

  private final Process process;
  private final int port;
  private final Path dir;

  private LocalSshd(Process process, int port, Path dir) {
    this.process = process;
    this.port = port;
    this.dir = dir;
  }

  /**
   * Starts sshd on {@code 127.0.0.1:<free port>}.
   *
   * @param hostKey the private host key (its {@code -cert.pub} is used as HostCertificate if present)
   * @param trustDir the directory {@code SshdSync} writes ({@code trusted_user_ca_keys}, {@code revoked_keys.krl})
   */
  public static LocalSshd start(Path dir, Path hostKey, Path trustDir) throws IOException, InterruptedException {
    return start(dir, hostKey, trustDir, null);
  }

  /**
   * Like {@link #start(Path, Path, Path)}; with {@code principalsByUser} the certificate principals each
   * local account accepts go to {@code AuthorizedPrincipalsFile} (one file per user in {@code dir/principals});
   * without, a certificate must name the account itself.
   */
  public static LocalSshd start(Path dir, Path hostKey, Path trustDir, java.util.Map<String, List<String>> principalsByUser)
      throws IOException, InterruptedException {
    Files.createDirectories(dir);
    String principalsFile = "none";
    if (principalsByUser != null) {
      Path pdir = dir.resolve("principals");
      Files.createDirectories(pdir);
      for (var e : principalsByUser.entrySet()) Files.writeString(pdir.resolve(e.getKey()), String.join("\n", e.getValue()) + "\n");
      principalsFile = pdir.toAbsolutePath() + "/%u";
    }
    Path run = Path.of("/run/sshd");
    if (!Files.isDirectory(run)) Files.createDirectories(run);
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    List<String> conf = new ArrayList<>(List.of(
        "Port " + port,
        "ListenAddress 127.0.0.1",
        "HostKey " + hostKey.toAbsolutePath(),
        "TrustedUserCAKeys " + trustDir.resolve(SshdSync.CA_FILE).toAbsolutePath(),
        "RevokedKeys " + trustDir.resolve(SshdSync.KRL_FILE).toAbsolutePath(),
        "AuthorizedKeysFile none",
        "AuthorizedPrincipalsFile " + principalsFile,
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "StrictModes no",
        "PidFile " + dir.resolve("sshd.pid").toAbsolutePath(),
        "LogLevel VERBOSE"));
    Path cert = SshKeys.certificateFile(hostKey);
    if (Files.exists(cert)) conf.add("HostCertificate " + cert.toAbsolutePath());
    Path config = dir.resolve("sshd_config");
    Files.writeString(config, String.join("\n", conf) + "\n");
    Path log = dir.resolve("sshd.log");
    Process p = new ProcessBuilder(SSHD, "-D", "-e", "-f", config.toAbsolutePath().toString())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    p.getOutputStream().close();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      if (!p.isAlive()) throw new IOException("sshd exited at start: " + Files.readString(log, StandardCharsets.UTF_8).strip());
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        break;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) {
          p.destroyForcibly();
          throw new IOException("sshd did not listen within 10 s");
        }
        Thread.sleep(20);
      }
    }
    return new LocalSshd(p, port, dir);
  }

  public int port() {
    return port;
  }

  /** sshd's log so far (useful in assertion messages). */
  public String log() {
    try {
      return Files.readString(dir.resolve("sshd.log"), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  /**
   * The arguments of an {@code ssh} client run against this server: no user or system config,
   * no agent, batch mode, only {@code identity} and {@code certificate}, host keys checked
   * strictly against {@code knownHosts}.
   */
  public List<String> sshCommand(String user, Path identity, Path certificate, Path knownHosts, String bindAddress, String command) {
    return sshCommand(user, identity, certificate, knownHosts, bindAddress, null, command);
  }

  /** With {@code hostAlias}, the host certificate must name that host (ssh's {@code HostKeyAlias}). */
  public List<String> sshCommand(String user, Path identity, Path certificate, Path knownHosts, String bindAddress, String hostAlias,
      String command) {
    List<String> c = new ArrayList<>(List.of(SSH, "-F", "/dev/null", "-p", "" + port, "-i", identity.toAbsolutePath().toString(),
        "-o", "CertificateFile=" + certificate.toAbsolutePath(), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=" + knownHosts.toAbsolutePath(), "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR"));
    if (bindAddress != null) c.addAll(List.of("-b", bindAddress));
    if (hostAlias != null) c.addAll(List.of("-o", "HostKeyAlias=" + hostAlias));
    c.add(user + "@127.0.0.1");
    c.add(command);
    return c;
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly();
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
