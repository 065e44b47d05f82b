package dev.m2mfa.cli;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A manufactured software TPM (Debian swtpm) for the demo and {@code m2mfa bench login
 * --key-provider tpm}: {@code swtpm_setup} creates its EK and EK certificate from its own local
 * CA in {@code dir}, then swtpm serves it on a free loopback port pair (no resource manager;
 * tpm2-tools reach it with {@link #tcti()}). {@link #close} stops it. The test kit has its own
 * copy ({@code testkit.Swtpm}) because main code must not depend on the test kit.
 */
final class SwtpmProcess implements AutoCloseable {
  static final String[] TOOLS = {"/usr/bin/swtpm", "/usr/bin/swtpm_setup", "/usr/bin/swtpm_localca", "/usr/bin/tpm2_createek"};

  private final Process process;
  private final int port;

  private SwtpmProcess(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /** The first of {@link #TOOLS} that is missing, or null when all are installed. */
  static String missingTool() {
    for (String t : TOOLS) if (!Files.isExecutable(Path.of(t))) return t;
    return null;
  }

  static SwtpmProcess start(Path dir) throws Exception {
    Path state = Files.createDirectories(dir.resolve("state"));
    Path ca = Files.createDirectories(dir.resolve("ca"));
    Path localCa = dir.resolve("swtpm-localca.conf");
    Files.writeString(localCa, "statedir = " + ca + "\nsigningkey = " + ca.resolve("signkey.pem") + "\nissuercert = "
        + ca.resolve("issuercert.pem") + "\ncertserial = " + ca.resolve("certserial") + "\n");
    Path setup = dir.resolve("swtpm_setup.conf");
    Files.writeString(setup, "create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = " + localCa
        + "\ncreate_certs_tool_options = /etc/swtpm-localca.options\nactive_pcr_banks = sha256\n");
    Process s = new ProcessBuilder("swtpm_setup", "--tpm2", "--tpmstate", state.toString(), "--create-ek-cert", "--config",
        setup.toString(), "--overwrite").redirectErrorStream(true).redirectOutput(dir.resolve("setup.log").toFile()).start();
    if (!s.waitFor(60, TimeUnit.SECONDS) || s.exitValue() != 0) throw new IOException("swtpm_setup failed; see " + dir.resolve("setup.log"));
    int port = freePortPair();
    Process p = new ProcessBuilder("swtpm", "socket", "--tpm2", "--server", "type=tcp,port=" + port + ",bindaddr=127.0.0.1",
        "--ctrl", "type=tcp,port=" + (port + 1) + ",bindaddr=127.0.0.1", "--tpmstate", "dir=" + state,
        "--flags", "not-need-init,startup-clear").redirectErrorStream(true).redirectOutput(dir.resolve("swtpm.log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline && p.isAlive()) {
      try (Socket sock = new Socket()) {
        sock.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return new SwtpmProcess(p, port);
      } catch (IOException notYet) {
        Thread.sleep(20);
      }
    }
    p.destroyForcibly();
    throw new IOException("swtpm did not start; see " + dir.resolve("swtpm.log"));
  }

  private static int freePortPair() throws IOException {
    for (int i = 0; i < 50; i++) {
      try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        int port = s.getLocalPort();
        if (port >= 65535) continue;
        try (ServerSocket next = new ServerSocket(port + 1, 1, InetAddress.getLoopbackAddress())) {
          return port;
        } catch (IOException taken) {
          // try another pair
        }
      }
    }
    throw new IOException("no free pair of loopback ports");
  }

  /** The swtpm TCTI string for tpm2-tools. */
  String tcti() {
    return "swtpm:host=127.0.0.1,port=" + port;
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly();
  }
}
