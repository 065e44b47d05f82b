package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.Authority;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

/**
 * Demo scene for the posture factor (not wired into {@link Demo}: the lead does that). Needs an
 * authority whose configuration has a class requiring posture, e.g.
 * {@code class.posture=key,network,posture}; the scene enrolls its own machine in that class.
 *
 * <p>Story: machine-a's demo root holds a fake {@code usr/sbin/sshd}; its agent measures that
 * root, the processes started from it and the listeners on ports 1-32767 (ephemeral ports are
 * every test's and every JVM's; the demo's authority and service use them). The first login
 * learns the baseline (trust on first use) and passes. Then the attacker replaces the binary,
 * starts a program from the demo root and opens a listener; the next login is refused and the
 * audit log names the three reasons.
 */
public final class DemoPostureScene {
  private static final ObjectMapper JSON = new ObjectMapper();

  private DemoPostureScene() {}

  /**
   * @param policyClass a class of the authority that requires key, network and posture
   * @return the scene's outcome, in the demo's format
   */
  public static Demo.Scene play(Authority authority, AdminClient admin, Path tmp, String name, String address, String policyClass,
      char[] passphrase, String audience, PrintStream say) throws Exception {
    Path root = tmp.resolve(name + "-root");
    Path sbin = Files.createDirectories(root.resolve("usr/sbin"));
    Path tmpDir = Files.createDirectories(root.resolve("tmp"));
    Files.writeString(sbin.resolve("sshd"), "#!/bin/sh\n# the machine's real sshd stands here\n");
    Files.writeString(sbin.resolve("cron"), "#!/bin/sh\n");

    JsonNode t = admin.post("/v1/admin/join-tokens", Map.of("name", name, "class", policyClass, "cidrs", List.of(address + "/32"), "ttl_seconds", 300));
    Path agentDir = tmp.resolve(name);
    Agent.enroll(agentDir, "127.0.0.1", authority.port(), authority.ca().root(), t.path("join_token").asText(), passphrase,
        InetAddress.ofLiteral(address));
    String realRoot = root.toRealPath().toString();
    Files.writeString(agentDir.resolve("agent.conf"), "posture.roots=" + realRoot + "/usr/sbin\n"
        + "posture.processes=" + realRoot + "\n" // executables started from the demo root (the host's own are other workers' too)
        + "posture.listeners=1-32767\n"
        + "posture.packages=false\n" // the host's package set is not the demo's to judge
        + "posture.os=true\n", java.nio.file.StandardOpenOption.APPEND);
    Agent agent = Agent.open(agentDir, passphrase, null);

    Agent.Credential first = agent.login(audience);
    say.printf("  %s logged in with amr=%s; posture baseline learned on first use (TOFU)%n", name, first.amr());

    // the attack: a replaced binary, a program started from the box, a new listener
    Files.writeString(sbin.resolve("sshd"), "#!/bin/sh\n# trojaned: also sends keys to the attacker\n");
    Path x = tmpDir.resolve("x");
    Files.copy(Path.of("/usr/bin/sleep"), x, StandardCopyOption.COPY_ATTRIBUTES);
    Process implant = new ProcessBuilder(x.toString(), "120").start();
    ServerSocket backdoor = openListener();
    try {
      waitUntilExec(implant, x);
      String observed;
      boolean ok;
      try {
        agent.login(audience);
        observed = "login succeeded";
        ok = false;
      } catch (Agent.RefusedException e) {
        String reason = lastPostureReason(authority);
        observed = "refused " + e.status() + "; audit: posture FAIL: " + reason;
        ok = e.status() == 401 && reason.contains("/usr/sbin/sshd: sha256 changed") && reason.contains("new listener tcp/" + backdoor.getLocalPort())
            && reason.contains("unknown process " + x.toRealPath());
      }
      return new Demo.Scene(name + "'s sshd replaced, a program started and a listener opened",
          "next login refused by the posture factor, naming the binary, the process and the listener", observed, ok);
    } finally {
      backdoor.close();
      implant.destroyForcibly().waitFor();
    }
  }

  /** The first free port from 4444: a listener a baseline taken a moment ago cannot contain. */
  private static ServerSocket openListener() throws IOException {
    for (int port = 4444; port < 4544; port++) {
      ServerSocket s = new ServerSocket();
      try {
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        return s;
      } catch (IOException taken) {
        s.close();
      }
    }
    throw new IOException("no free port in 4444-4543 for the demo listener");
  }

  private static void waitUntilExec(Process p, Path exe) throws Exception {
    Path link = Path.of("/proc/" + p.pid() + "/exe");
    String want = exe.toRealPath().toString();
    for (int i = 0; i < 200; i++) {
      try {
        if (Files.readSymbolicLink(link).toString().equals(want)) return;
      } catch (IOException e) {
        // not there yet
      }
      Thread.sleep(10);
    }
  }

  private static String lastPostureReason(Authority authority) {
    String[] reason = {"(none)"};
    authority.store().audit().scan(1, r -> {
      if (!r.event().equals("login.denied")) return;
      try {
        for (JsonNode f : JSON.readTree(r.detail()).path("factors")) {
          if (f.path("factor").asText().equals("posture") && !f.path("status").asText().equals("PASS")) reason[0] = f.path("reason").asText();
        }
      } catch (IOException ignored) {
        // keep the previous reason
      }
    });
    return reason[0];
  }
}
