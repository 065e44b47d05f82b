package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.keys.tpm.TpmEnrollment;
import dev.m2mfa.agent.keys.tpm.TpmKeyProvider;
import dev.m2mfa.agent.keys.tpm.TpmTools;
import dev.m2mfa.authority.Authority;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Demo scenes for a TPM-resident key (not yet wired into {@link Demo}; the caller passes the
 * running authority and its admin client): machine-b enrolls with its login key inside a
 * TPM (a swtpm started here, with its state in the demo's temp directory) and logs in; then
 * every file of machine-b is copied to another host with its own TPM, where the key does not
 * load, and a key of that host's TPM cannot log in as machine-b.
 *
 * <p>Without swtpm and tpm2-tools installed the scene is reported as skipped with the
 * missing program named, never as passed silently.
 */
public final class DemoTpmScene {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int HANDLE = TpmKeyProvider.DEFAULT_HANDLE;
  private static final String[] TOOLS = {"/usr/bin/swtpm", "/usr/bin/swtpm_setup", "/usr/bin/tpm2_createek"};

  private DemoTpmScene() {}

  /**
   * Plays the scenes and returns them (skipped scenes have {@code ok=true} and an observed text
   * starting with {@code skipped:}).
   *
   * @param name the machine's name (e.g. {@code machine-b})
   * @param address the loopback address it enrolls and logs in from (its network binding)
   */
  public static List<Demo.Scene> play(Authority authority, AdminClient admin, Path tmp, PrintStream say, String name, String address)
      throws Exception {
    List<Demo.Scene> scenes = new ArrayList<>();
    for (String tool : TOOLS) {
      if (!Files.isExecutable(Path.of(tool))) {
        String why = "skipped: " + tool + " is not installed (Debian packages swtpm, swtpm-tools, tpm2-tools)";
        scenes.add(report(say, name + "'s key lives in a TPM", "enrolled by credential activation, login passes", why, true));
        return scenes;
      }
    }
    InetAddress bind = InetAddress.ofLiteral(address);
    try (Swtpm hostB = Swtpm.start(tmp.resolve(name + "-tpm")); Swtpm thief = Swtpm.start(tmp.resolve("thief-tpm"))) {
      JsonNode t = admin.post("/v1/admin/join-tokens", Map.of("name", name, "cidrs", List.of(address + "/32"), "ttl_seconds", 300));
      Path dir = tmp.resolve(name);
      Agent agent = TpmEnrollment.enroll(dir, "127.0.0.1", authority.port(), authority.ca().root(), t.path("join_token").asText(),
          TpmTools.of(hostB.tcti()), HANDLE, bind);
      JsonNode state = JSON.readTree(authority.store().factorStates().get(name, "hardware").orElse("{}"));
      Agent.Credential c = agent.login("inventory");
      boolean ok = "tpm".equals(state.path("residence").asText()) && c.amr().contains("key");
      scenes.add(report(say, name + "'s key lives in a TPM (swtpm)", "enrolled by credential activation, recorded TPM-resident, login passes",
          "hardware state " + state.path("residence").asText() + "/" + state.path("proof").asText() + ", login amr=" + c.amr(), ok));

      // every file of the machine, copied to another host with its own TPM
      Path stolen = tmp.resolve(name + "-stolen");
      Files.createDirectories(stolen);
      try (Stream<Path> files = Files.list(dir)) {
        for (Path p : files.toList()) Files.copy(p, stolen.resolve(p.getFileName()));
      }
      String conf = Files.readString(stolen.resolve("agent.conf"));
      Files.writeString(stolen.resolve("agent.conf"), conf.replace(escaped(hostB.tcti()), escaped(thief.tcti())));
      String loadResult;
      boolean loadRefused;
      try {
        TpmEnrollment.open(stolen, bind);
        loadResult = "the copied key loaded";
        loadRefused = false;
      } catch (IOException e) {
        loadResult = "key refused: " + e.getMessage();
        loadRefused = true;
      }
      TpmKeyProvider ownKey = TpmKeyProvider.create(TpmTools.of(thief.tcti()), tmp.resolve("thief-key"), HANDLE);
      String loginResult;
      boolean loginRefused;
      try {
        Agent.openWithSigner(stolen, ownKey, bind).login("inventory");
        loginResult = "logged in";
        loginRefused = false;
      } catch (Agent.RefusedException e) {
        loginResult = "login with the thief's own TPM key refused (" + e.status() + ")";
        loginRefused = e.status() == 401;
      }
      scenes.add(report(say, "every file of " + name + " copied to a host with another TPM",
          "the key blobs do not load there, and no other key logs in as " + name,
          loadResult + "; " + loginResult, loadRefused && loginRefused));
    }
    return scenes;
  }

  private static String escaped(String propertyValue) {
    return propertyValue.replace(":", "\\:").replace("=", "\\=");
  }

  private static Demo.Scene report(PrintStream say, String name, String expected, String observed, boolean ok) {
    say.printf("  [%s] %s%n        expected: %s%n        observed: %s%n%n", ok ? " ok " : "FAIL", name, expected, observed);
    return new Demo.Scene(name, expected, observed, ok);
  }

  /** A manufactured swtpm (EK and EK certificate from its own local CA) on a free loopback port pair. */
  private static final class Swtpm implements AutoCloseable {
    private final Process process;
    private final int port;

    private Swtpm(Process process, int port) {
      this.process = process;
      this.port = port;
    }

    static Swtpm start(Path dir) throws Exception {
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
          return new Swtpm(p, port);
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

    String tcti() {
      return "swtpm:host=127.0.0.1,port=" + port;
    }

    @Override
    public void close() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly();
    }
  }
}
