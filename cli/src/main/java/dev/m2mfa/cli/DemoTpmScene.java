package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.keys.KeyContext;
import dev.m2mfa.agent.keys.tpm.TpmProvider;
import dev.m2mfa.agent.keys.tpm.TpmKeyProvider;
import dev.m2mfa.agent.keys.tpm.TpmTools;
import dev.m2mfa.authority.Authority;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Demo scenes for a TPM-resident key (played by {@link Demo}, which passes the running
 * authority and its admin client): machine-b enrolls with its login key inside a
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
    String missing = SwtpmProcess.missingTool();
    if (missing != null) {
      String why = "skipped: " + missing + " is not installed (Debian packages swtpm, swtpm-tools, tpm2-tools)";
      scenes.add(report(say, name + "'s key lives in a TPM", "enrolled by credential activation, login passes", why, true));
      scenes.add(report(say, "every file of " + name + " copied to a host with another TPM", "the hardware factor fails there", why, true));
      return scenes;
    }
    InetAddress bind = InetAddress.ofLiteral(address);
    try (SwtpmProcess hostB = SwtpmProcess.start(tmp.resolve(name + "-tpm")); SwtpmProcess thief = SwtpmProcess.start(tmp.resolve("thief-tpm"))) {
      JsonNode t = admin.post("/v1/admin/join-tokens", Map.of("name", name, "cidrs", List.of(address + "/32"), "ttl_seconds", 300));
      Path dir = tmp.resolve(name);
      // the generic enrollment: key_provider=tpm goes through credential activation (TpmEnrollment)
      Agent agent = Agent.enroll(dir, "127.0.0.1", authority.port(), authority.ca().root(), t.path("join_token").asText(),
          TpmProvider.config(hostB.tcti(), HANDLE), KeyContext.Secrets.none(), bind);
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
        Agent.open(stolen, KeyContext.Secrets.none(), bind);
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
}
