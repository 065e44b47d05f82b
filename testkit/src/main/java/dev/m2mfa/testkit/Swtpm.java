package dev.m2mfa.testkit;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real software TPM 2.0 (Debian swtpm) for one test: manufactured by {@code swtpm_setup}
 * in a temp directory with RSA and ECC endorsement keys and their certificates (issued by
 * swtpm's own local CA, whose state also lives in a directory of the test's choosing), then
 * served on a free loopback port with no resource manager. {@link #close} stops it.
 *
 * <p>Two instances given the same {@code caDir} share one EK certificate authority: a
 * second TPM whose EK certificate is just as genuine, which is what an attacker with their
 * own TPM would have.
 */
public final class Swtpm implements AutoCloseable {
  private final Path dir;
  private final Path caDir;
  private final Process process;
  private final int port;

  private Swtpm(Path dir, Path caDir, Process process, int port) {
    this.dir = dir;
    this.caDir = caDir;
    this.process = process;
    this.port = port;
  }

  /** Skips (or fails under {@code M2MFA_REQUIRE_ALL_TOOLS=1}) when swtpm or tpm2-tools is missing. */
  public static void requireTools() {
    ExternalTool.require("swtpm", "/usr/bin/swtpm");
    ExternalTool.require("swtpm-tools", "/usr/bin/swtpm_setup");
    ExternalTool.require("swtpm-tools", "/usr/bin/swtpm_localca");
    ExternalTool.require("tpm2-tools", "/usr/bin/tpm2_createek");
  }

  /** Manufactures and starts a TPM with its state in {@code dir} and EK certificates from the CA in {@code caDir}. */
  public static Swtpm start(Path dir, Path caDir) throws Exception {
    requireTools();
    Path state = dir.resolve("state");
    Files.createDirectories(state);
    Files.createDirectories(caDir);
    Path localCa = dir.resolve("swtpm-localca.conf");
    Files.writeString(localCa, "statedir = " + caDir + "\nsigningkey = " + caDir.resolve("signkey.pem") + "\nissuercert = "
        + caDir.resolve("issuercert.pem") + "\ncertserial = " + caDir.resolve("certserial") + "\n");
    Path setup = dir.resolve("swtpm_setup.conf");
    Files.writeString(setup, "create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = " + localCa
        + "\ncreate_certs_tool_options = /etc/swtpm-localca.options\nactive_pcr_banks = sha256\n");
    ExternalTool.Result r = ExternalTool.run(60, List.of("swtpm_setup", "--tpm2", "--tpmstate", state.toString(),
        "--create-ek-cert", "--create-platform-cert", "--config", setup.toString(), "--overwrite"));
    if (r.exitCode() != 0) throw new IllegalStateException("swtpm_setup failed: " + r.output());
    return launch(dir, caDir);
  }

  private static Swtpm launch(Path dir, Path caDir) throws Exception {
    for (int attempt = 0; attempt < 5; attempt++) {
      int port = freePortPair(); // the swtpm TCTI expects the control channel at port + 1
      int ctrl = port + 1;
      Process p = new ProcessBuilder("swtpm", "socket", "--tpm2", "--server", "type=tcp,port=" + port + ",bindaddr=127.0.0.1",
          "--ctrl", "type=tcp,port=" + ctrl + ",bindaddr=127.0.0.1", "--tpmstate", "dir=" + dir.resolve("state"),
          "--flags", "not-need-init,startup-clear")
          .redirectErrorStream(true).redirectOutput(dir.resolve("swtpm.log").toFile()).start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (System.nanoTime() < deadline && p.isAlive()) {
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", port), 200);
          return new Swtpm(dir, caDir, p, port);
        } catch (IOException notYet) {
          Thread.sleep(20);
        }
      }
      p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
    throw new IllegalStateException("swtpm did not start; see " + dir.resolve("swtpm.log"));
  }

  private static int freePortPair() throws IOException {
    for (int i = 0; i < 50; i++) {
      try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        int port = s.getLocalPort();
        if (port >= 65535) continue;
        try (ServerSocket next = new ServerSocket(port + 1, 1, java.net.InetAddress.getLoopbackAddress())) {
          return port;
        } catch (IOException taken) {
          // try another pair
        }
      }
    }
    throw new IOException("no free pair of loopback ports");
  }

  /**
   * Stops this TPM and serves its state again, as a reboot would: a TPM reset (Startup CLEAR),
   * so PCRs and transient objects are gone and the reset counter moves. The port changes:
   * use the returned instance's {@link #tcti}.
   */
  public Swtpm restart() throws Exception {
    close();
    return launch(dir, caDir);
  }

  /** The TCTI string for tpm2-tools ({@code TPM2TOOLS_TCTI}). */
  public String tcti() {
    return "swtpm:host=127.0.0.1,port=" + port;
  }

  /** swtpm's local root CA certificate (PEM): the EK trust anchor in tests. */
  public Path rootCertificate() {
    return caDir.resolve("swtpm-localca-rootca-cert.pem");
  }

  /** swtpm's local issuing CA certificate (PEM), which signs the EK certificates. */
  public Path issuerCertificate() {
    return caDir.resolve("issuercert.pem");
  }

  public Path directory() {
    return dir;
  }

  /** Runs a tpm2-tools command against this TPM and returns its exit code and output. */
  public ExternalTool.Result tool(String... command) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(List.of(command))).redirectErrorStream(true).directory(dir.toFile());
    pb.environment().putAll(Map.of("TPM2TOOLS_TCTI", tcti()));
    Process p = pb.start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("timed out: " + List.of(command));
    }
    return new ExternalTool.Result(p.exitValue(), new String(out, java.nio.charset.StandardCharsets.UTF_8));
  }

  /** Like {@link #tool} but fails the test when the command fails. */
  public String toolOk(String... command) throws Exception {
    ExternalTool.Result r = tool(command);
    if (r.exitCode() != 0) throw new AssertionError(List.of(command) + " failed: " + r.output());
    return r.output();
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
