package dev.m2mfa.cli;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.store.MachineRecord;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code m2mfa bench capacity}: resident memory of an authority holding N enrolled machines,
 * and its time to ready.
 *
 * <p>The N machine rows are inserted straight into the store ({@code
 * authority.store().machines().insert}, in transactions of 5,000): enrolling 100,000 machines
 * over TLS (CSR, certificate, two durable writes each) would take far longer than the thing
 * being measured. Each row is what enrollment writes: a distinct P-256 public key, its RFC
 * 7638 thumbprint, a /32 network. Then {@code m2mfa authority serve} runs as a child process
 * with the same JVM options as this one (the launcher's by default), so its RSS is the
 * authority's alone; a few machines enroll and log in over TLS, and VmRSS/VmHWM are read from
 * {@code /proc/<pid>/status}. The child prints {@code READY <port> (<ms> ms)}: the time from
 * {@code Authority.open} to listening; the wall time from process start to that line adds
 * JVM start-up.
 */
final class BenchCapacity {
  private static final Pattern READY = Pattern.compile("READY (\\d+) \\((\\d+) ms\\)");

  private BenchCapacity() {}

  static final class Options {
    int machines = 100_000;
    int agents = 2;
    int logins = 20;
  }

  static Map<String, Object> run(Options o, BenchSupport.Progress progress) throws Exception {
    if (o.machines < 0 || o.machines > 10_000_000) throw new IllegalArgumentException("--machines must be 0-10,000,000");
    if (o.agents < 1 || o.agents > 200) throw new IllegalArgumentException("--agents must be 1-200");
    double loadBefore = BenchSupport.loadAverage();
    Map<String, Object> out = new LinkedHashMap<>();
    Path tmp = Files.createTempDirectory("m2mfa-bench-capacity");
    Process child = null;
    try {
      char[] pass = BenchSupport.randomSecret();
      Path dir = tmp.resolve("authority");
      Path passFile = tmp.resolve("passphrase");
      Files.writeString(passFile, new String(pass), StandardCharsets.UTF_8);
      Files.setPosixFilePermissions(passFile, PosixFilePermissions.fromString("rw-------"));
      Authority.init(dir, AuthorityConfig.defaults().withListen("127.0.0.1", 0), pass, "ops");

      progress.say("inserting %,d machine rows", o.machines);
      long i0 = System.nanoTime();
      long count;
      try (Authority a = Authority.open(dir, pass, c -> c)) {
        insertMachines(a, o.machines, progress);
        count = a.store().machines().count();
      }
      double insertS = (System.nanoTime() - i0) / 1e9;
      if (count != o.machines) throw new IllegalStateException("expected " + o.machines + " machines in the store, found " + count);

      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      List<String> jvm = ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
          .filter(a -> !a.startsWith("-agentlib") && !a.startsWith("-XX:StartFlightRecording") && !a.startsWith("-javaagent")).toList();
      cmd.addAll(jvm);
      cmd.add("-cp");
      cmd.add(System.getProperty("java.class.path"));
      cmd.add(Main.class.getName());
      cmd.addAll(List.of("authority", "serve", "--dir", dir.toString(), "--passphrase-file", passFile.toString(), "--listen", "127.0.0.1:0"));
      progress.say("starting the authority: %s", String.join(" ", cmd.subList(1, cmd.size())));
      long s0 = System.nanoTime();
      child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      BufferedReader childOut = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      int port = -1;
      long readyMs = -1;
      for (String line; (line = childOut.readLine()) != null; ) {
        Matcher m = READY.matcher(line);
        if (m.find()) {
          port = Integer.parseInt(m.group(1));
          readyMs = Long.parseLong(m.group(2));
          break;
        }
      }
      long readyWallMs = (System.nanoTime() - s0) / 1_000_000;
      if (port < 0) throw new IllegalStateException("the authority exited before printing READY (exit " + child.waitFor() + ")");
      Process running = child;
      Thread.ofVirtual().start(() -> drain(childOut)); // keep its stdout from filling
      long rssAtReadyKb = status(running.pid(), "VmRSS");

      progress.say("enrolling %d machine(s) and logging in %d time(s) over TLS", o.agents, o.logins);
      int ok = 0;
      try (AdminClient admin = AdminClient.forAuthorityDir(dir, "127.0.0.1", port)) {
        var root = dev.m2mfa.api.pki.Pem.certificate(Files.readString(dir.resolve("ca/ca.pem")));
        List<Agent> agents = new ArrayList<>();
        for (int i = 0; i < o.agents; i++) {
          String addr = BenchSupport.loopbackAddress(i);
          String name = String.format("live-%03d", i);
          var t = admin.post("/v1/admin/join-tokens", Map.of("name", name, "cidrs", List.of(addr + "/32"), "ttl_seconds", 600));
          agents.add(Agent.enroll(tmp.resolve("agents").resolve(name), "127.0.0.1", port, root, t.path("join_token").asText(), pass,
              InetAddress.ofLiteral(addr)));
        }
        for (int i = 0; i < o.logins; i++) {
          agents.get(i % agents.size()).login(BenchSupport.AUDIENCE);
          ok++;
        }
      }
      long rssKb = status(running.pid(), "VmRSS");
      long hwmKb = status(running.pid(), "VmHWM");
      long dbBytes = 0;
      for (String f : new String[] {"m2mfa.db", "m2mfa.db-wal"}) {
        Path p = dir.resolve(f);
        if (Files.exists(p)) dbBytes += Files.size(p);
      }
      out.put("machines", o.machines);
      out.put("rss_mb", BenchSupport.round(rssKb / 1024.0, 1));
      out.put("ready_ms", readyMs);
      out.put("ready_wall_ms", readyWallMs);
      out.put("rss_mb_at_ready", BenchSupport.round(rssAtReadyKb / 1024.0, 1));
      out.put("rss_peak_mb", BenchSupport.round(hwmKb / 1024.0, 1));
      out.put("logins", ok);
      out.put("insert_s", BenchSupport.round(insertS, 1));
      out.put("db_mb", BenchSupport.round(dbBytes / 1048576.0, 1));
      out.put("jvm_options", String.join(" ", jvm));
    } finally {
      if (child != null) {
        child.destroy();
        if (!child.waitFor(10, TimeUnit.SECONDS)) child.destroyForcibly();
      }
      BenchSupport.deleteTree(tmp);
    }
    out.put("load_avg_1m_before", loadBefore);
    out.put("load_avg_1m_after", BenchSupport.loadAverage());
    return out;
  }

  /** Inserts {@code n} machine rows shaped like enrollment's, in transactions of 5,000. */
  static void insertMachines(Authority a, int n, BenchSupport.Progress progress) throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC", BenchCrypto.BC);
    g.initialize(new ECGenParameterSpec("secp256r1"));
    String policyClass = a.config().policyClasses().keySet().iterator().next();
    long now = System.currentTimeMillis();
    int batch = 5000;
    for (int from = 0; from < n; from += batch) {
      int to = Math.min(n, from + batch);
      List<MachineRecord> rows = new ArrayList<>(to - from);
      for (int i = from; i < to; i++) {
        KeyPair kp = g.generateKeyPair();
        String name = String.format("m-%07d", i);
        String jkt = new ECKey.Builder(Curve.P_256, (ECPublicKey) kp.getPublic()).build().computeThumbprint().toString();
        String net = "10." + ((i >> 16) & 255) + "." + ((i >> 8) & 255) + "." + (i & 255) + "/32";
        rows.add(new MachineRecord(name, a.ca().machineSpiffeId(name), policyClass, Base64.getEncoder().encodeToString(kp.getPublic().getEncoded()),
            jkt, net, MachineRecord.ACTIVE, now, now));
      }
      a.store().transaction(() -> {
        for (MachineRecord r : rows) a.store().machines().insert(r);
        return null;
      });
      if ((to / batch) % 4 == 0 || to == n) progress.say("  %,d / %,d rows", to, n);
    }
  }

  /** A kB field of /proc/PID/status (VmRSS, VmHWM), or -1. */
  static long status(long pid, String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith(field + ":")) return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or the process is gone
    }
    return -1;
  }

  private static void drain(BufferedReader r) {
    try {
      while (r.readLine() != null) {
        // discard
      }
    } catch (IOException ignored) {
      // the child exited
    }
  }

  static void printHuman(Map<String, Object> r, PrintStream p) {
    p.printf("m2mfa bench capacity: %,d machines in the store (%s MB database, rows inserted directly in %s s)%n",
        ((Number) r.get("machines")).intValue(), r.get("db_mb"), r.get("insert_s"));
    p.printf("  ready               %s ms from Authority.open to listening (%s ms from process start); goal <= 2000 ms%n",
        r.get("ready_ms"), r.get("ready_wall_ms"));
    p.printf("  RSS                 %s MB after %s logins (%s MB at ready, peak %s MB); goal <= 300 MB%n", r.get("rss_mb"),
        r.get("logins"), r.get("rss_mb_at_ready"), r.get("rss_peak_mb"));
    p.printf("  JVM options         %s%n", r.get("jvm_options"));
    p.printf("  load average (1 min) %s before, %s after%n", r.get("load_avg_1m_before"), r.get("load_avg_1m_after"));
  }
}
