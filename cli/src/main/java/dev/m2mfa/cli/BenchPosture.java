package dev.m2mfa.cli;

import dev.m2mfa.agent.posture.FileCollector;
import dev.m2mfa.agent.posture.ScanProgress;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code m2mfa bench posture}: the posture file collector against the tools people use for the
 * same job, over the same files, in the same run.
 *
 * <ol>
 *   <li>warm-up: one untimed collector pass, so every tool meets a warm page cache;
 *   <li>m2mfa: {@link FileCollector#scan} with no incremental cache (every file read and hashed);
 *   <li>sha256sum: {@code find DIR -type f -print0 | xargs -0 -n 256 -P<cores> sha256sum}
 *       ({@code -n 256}, or xargs hands all files to one process and -P does nothing);
 *   <li>AIDE ({@code /usr/bin/aide}, when installed): {@code aide --init} with a temporary
 *       config whose only rule is sha256 over DIR and {@code num_workers=<cores>};
 *   <li>the ceiling: the JDK's single-core SHA-256 rate on an in-memory buffer, times cores.
 * </ol>
 * MB/s is file bytes (find -type f) / wall seconds, MB = 10^6 bytes. Keep DIR small enough for
 * each run to stay under a minute on a shared machine; the JSON carries the load average.
 */
@Command(name = "posture", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Hash a tree with the posture collector, sha256sum (xargs -P) and AIDE, in one run.", "",
        "JSON fields: files, bytes, m2mfa_mb_s, sha256sum_mb_s, aide_mb_s (null without /usr/bin/aide), ratio_vs_sha256sum, "
            + "ratio_vs_aide, sha256_limit_mb_s (single-core JDK SHA-256 x cores), m2mfa_vs_limit, cores, load_1m, seconds per tool."},
    footer = {"", "Examples:", "  m2mfa bench posture --root /usr/share --json", "  m2mfa bench posture --root /usr/lib/jvm"})
final class BenchPosture implements Callable<Integer> {
  @Option(names = "--root", required = true, description = "Directory to hash.") Path root;
  @Option(names = "--threads", description = "Worker threads and xargs -P / AIDE workers (default: the cores).") Integer threads;
  @Option(names = "--json", description = "Print one JSON object on stdout.") boolean json;

  @Override
  public Integer call() throws Exception {
    Path dir = root.toAbsolutePath().normalize();
    if (!Files.isDirectory(dir)) {
      System.err.println("not a directory: " + dir);
      return 2;
    }
    int cores = threads != null ? threads : Runtime.getRuntime().availableProcessors();
    BenchSupport.Progress progress = new BenchSupport.Progress();
    Map<String, Object> out = new LinkedHashMap<>();

    progress.say("warm-up pass over %s", dir);
    FileCollector collector = new FileCollector(cores);
    collector.scan(List.of(dir), List.of(), null, ScanProgress.NONE);

    progress.say("m2mfa collector, %d threads, no incremental cache", cores);
    double[] cpu0 = cpuSeconds();
    long t0 = System.nanoTime();
    FileCollector.Result r = collector.scan(List.of(dir), List.of(), null, BenchSupport.Progress.stderrIsTerminal() ? ScanProgress.auto("m2mfa") : ScanProgress.NONE);
    double m2mfaSec = (System.nanoTime() - t0) / 1e9;
    double[] cpu1 = cpuSeconds();
    double m2mfaCpu = cpu1[0] - cpu0[0];
    long bytes = r.stats().hashedBytes();
    out.put("files", r.stats().hashedFiles());
    out.put("bytes", bytes);
    double m2mfa = bytes / 1e6 / m2mfaSec;
    out.put("m2mfa_mb_s", BenchSupport.round(m2mfa, 1));

    progress.say("sha256sum via xargs -P%d", cores);
    String quoted = "'" + dir.toString().replace("'", "'\\''") + "'";
    double shaSec = time(List.of("bash", "-c", "find " + quoted + " -type f -print0 | xargs -0 -n 256 -P" + cores + " sha256sum > /dev/null"));
    double[] cpu2 = cpuSeconds();
    double shaCpu = cpu2[1] - cpu1[1];
    double sha = bytes / 1e6 / shaSec;
    out.put("sha256sum_mb_s", BenchSupport.round(sha, 1));

    Double aide = null;
    double aideSec = Double.NaN;
    double aideCpu = Double.NaN;
    if (Files.isExecutable(Path.of("/usr/bin/aide"))) {
      progress.say("aide --init, sha256 only, %d workers", cores);
      Path tmp = Files.createTempDirectory("m2mfa-bench-aide");
      try {
        Path conf = tmp.resolve("aide.conf");
        Files.writeString(conf, "database_out=file:" + tmp.resolve("aide.db.new") + "\ngzip_dbout=no\nnum_workers=" + cores
            + "\nlog_level=error\nreport_level=minimal\nSHA = sha256\n" + aideSelection(dir) + " SHA\n", StandardCharsets.UTF_8);
        double[] before = cpuSeconds();
        aideSec = time(List.of("/usr/bin/aide", "--init", "--config=" + conf));
        aideCpu = cpuSeconds()[1] - before[1];
        aide = bytes / 1e6 / aideSec;
      } finally {
        try (var s = Files.walk(tmp)) {
          s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
    out.put("aide_mb_s", aide == null ? null : BenchSupport.round(aide, 1));
    out.put("ratio_vs_sha256sum", BenchSupport.round(m2mfa / sha, 2));
    out.put("ratio_vs_aide", aide == null ? null : BenchSupport.round(m2mfa / aide, 2));
    double[] rates = singleCoreSha256MbS();
    double single = rates[0];
    double singleCpuRate = rates[1];
    double limit = single * cores;
    out.put("sha256_limit_mb_s", BenchSupport.round(limit, 1));
    out.put("m2mfa_vs_limit", BenchSupport.round(m2mfa / limit, 2));
    out.put("sha256_single_core_mb_s", BenchSupport.round(single, 1));
    out.put("cores", cores);
    out.put("m2mfa_seconds", BenchSupport.round(m2mfaSec, 2));
    out.put("sha256sum_seconds", BenchSupport.round(shaSec, 2));
    out.put("aide_seconds", aide == null ? null : BenchSupport.round(aideSec, 2));
    // CPU seconds (user + system; children's from /proc/self/stat cutime/cstime): on a loaded machine the
    // wall-clock rates above mostly measure the share of CPU each tool got; MB per CPU second does not
    out.put("m2mfa_cpu_seconds", BenchSupport.round(m2mfaCpu, 2));
    out.put("sha256sum_cpu_seconds", BenchSupport.round(shaCpu, 2));
    out.put("aide_cpu_seconds", aide == null ? null : BenchSupport.round(aideCpu, 2));
    out.put("m2mfa_mb_per_cpu_s", BenchSupport.round(bytes / 1e6 / m2mfaCpu, 1));
    out.put("sha256sum_mb_per_cpu_s", BenchSupport.round(bytes / 1e6 / shaCpu, 1));
    out.put("aide_mb_per_cpu_s", aide == null ? null : BenchSupport.round(bytes / 1e6 / aideCpu, 1));
    out.put("sha256_single_core_mb_per_cpu_s", BenchSupport.round(singleCpuRate, 1));
    out.put("load_1m", loadAverage());
    out.put("root", dir.toString());
    return BenchCommand.finish(out, json, BenchPosture::printHuman);
  }

  /** AIDE selection lines are regular expressions: escape the metacharacters of a literal path. */
  static String aideSelection(Path dir) {
    return dir.toString().replaceAll("([\\\\.\\[\\]{}()*+?^$|])", "\\\\$1");
  }

  private static double time(List<String> command) throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    Process p = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    if (!p.waitFor(10, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IOException(command.getFirst() + " did not finish in 10 minutes");
    }
    double sec = (System.nanoTime() - t0) / 1e9;
    if (p.exitValue() != 0) throw new IOException(String.join(" ", command) + " failed with exit code " + p.exitValue());
    return sec;
  }

  /** JDK SHA-256 on one thread over a 16 MiB buffer, ~1 s after a short warm-up: {MB per wall second, MB per CPU second}. */
  static double[] singleCoreSha256MbS() throws Exception {
    var threads = java.lang.management.ManagementFactory.getThreadMXBean();
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    byte[] buf = new byte[16 << 20];
    new java.util.Random(1).nextBytes(buf);
    for (int i = 0; i < 5; i++) md.update(buf);
    md.digest();
    long bytes = 0;
    long c0 = threads.getCurrentThreadCpuTime();
    long t0 = System.nanoTime();
    while (System.nanoTime() - t0 < 1_000_000_000L) {
      md.update(buf);
      bytes += buf.length;
    }
    md.digest();
    double wall = (System.nanoTime() - t0) / 1e9;
    double cpu = (threads.getCurrentThreadCpuTime() - c0) / 1e9;
    return new double[] {bytes / 1e6 / wall, bytes / 1e6 / cpu};
  }

  /** {this JVM's user+system CPU seconds, its waited-for children's}, from /proc/self/stat (clock ticks of 1/100 s). */
  static double[] cpuSeconds() {
    try {
      String stat = Files.readString(Path.of("/proc/self/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // after the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
      return new double[] {(Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0, (Long.parseLong(f[13]) + Long.parseLong(f[14])) / 100.0};
    } catch (IOException | RuntimeException e) {
      return new double[] {Double.NaN, Double.NaN};
    }
  }

  private static Double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  static void printHuman(Map<String, Object> r, PrintStream out) {
    out.printf("posture hashing of %s: %s files, %s bytes, %s cores (load %s)%n", r.get("root"), r.get("files"), r.get("bytes"), r.get("cores"), r.get("load_1m"));
    out.printf("  m2mfa collector  %8s MB/s  (%s s)%n", r.get("m2mfa_mb_s"), r.get("m2mfa_seconds"));
    out.printf("  sha256sum xargs  %8s MB/s  (%s s)  ratio %s%n", r.get("sha256sum_mb_s"), r.get("sha256sum_seconds"), r.get("ratio_vs_sha256sum"));
    out.printf("  aide --init      %8s MB/s  (%s s)  ratio %s%n", r.get("aide_mb_s"), r.get("aide_seconds"), r.get("ratio_vs_aide"));
    out.printf("  SHA-256 ceiling  %8s MB/s  (m2mfa at %s of it)%n", r.get("sha256_limit_mb_s"), r.get("m2mfa_vs_limit"));
    out.printf("  per CPU second: m2mfa %s, sha256sum %s, aide %s, bare SHA-256 %s MB%n", r.get("m2mfa_mb_per_cpu_s"),
        r.get("sha256sum_mb_per_cpu_s"), r.get("aide_mb_per_cpu_s"), r.get("sha256_single_core_mb_per_cpu_s"));
  }
}
