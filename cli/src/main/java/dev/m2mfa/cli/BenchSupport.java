package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Helpers shared by the {@code m2mfa bench} commands: a throw-away authority in a temp
 * directory, latency statistics, rate measurement on N threads, progress and output.
 */
final class BenchSupport {
  static final ObjectMapper JSON = new ObjectMapper().disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);
  static final String AUDIENCE = "bench";

  private BenchSupport() {}

  // ------------------------------------------------------------------ progress and output

  /** Progress lines go to stderr, and only when stderr is a terminal. */
  static final class Progress {
    private final boolean on = stderrIsTerminal();

    void say(String format, Object... args) {
      if (on) {
        System.err.printf("bench: " + format + "%n", args);
        System.err.flush();
      }
    }

    /** True when file descriptor 2 is a tty (Linux: /proc/self/fd/2 points to /dev/pts/N or /dev/ttyN). */
    static boolean stderrIsTerminal() {
      try {
        String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
        return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
      } catch (IOException | UnsupportedOperationException | SecurityException e) {
        return false;
      }
    }
  }

  /** Prints exactly one JSON object on one line of stdout. */
  static void printJson(Map<String, ?> result) throws IOException {
    PrintStream out = System.out;
    out.println(JSON.writeValueAsString(result));
    out.flush();
  }

  static double round(double v, int digits) {
    if (Double.isNaN(v) || Double.isInfinite(v)) return v;
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  static String fmt(double v) {
    return String.format(Locale.ROOT, v >= 100 ? "%,.0f" : v >= 10 ? "%,.1f" : "%,.2f", v);
  }

  // ------------------------------------------------------------------ statistics

  /** A growable array of longs (one per worker thread; no boxing on the hot path). */
  static final class Longs {
    private long[] a = new long[1024];
    private int n;

    void add(long v) {
      if (n == a.length) a = Arrays.copyOf(a, n * 2);
      a[n++] = v;
    }

    int size() {
      return n;
    }

    long[] toArray() {
      return Arrays.copyOf(a, n);
    }

    static long[] concat(List<Longs> parts) {
      int total = parts.stream().mapToInt(Longs::size).sum();
      long[] out = new long[total];
      int at = 0;
      for (Longs p : parts) {
        System.arraycopy(p.a, 0, out, at, p.n);
        at += p.n;
      }
      return out;
    }
  }

  /** Nearest-rank percentile of {@code sorted} (nanoseconds), in milliseconds; NaN if empty. */
  static double percentileMs(long[] sorted, double p) {
    if (sorted.length == 0) return Double.NaN;
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    int idx = Math.min(sorted.length - 1, Math.max(0, rank - 1));
    return sorted[idx] / 1e6;
  }

  // ------------------------------------------------------------------ rates on N threads

  /** One thread's operation, built per thread so it can hold its own JCA objects. */
  interface Op {
    void run() throws Exception;
  }

  interface OpFactory {
    Op create() throws Exception;
  }

  /**
   * Operations per second (all threads together), process CPU time per operation, and the
   * cores this process kept busy on average while measuring (CPU time / wall time: well below
   * min(threads, nproc) means other processes took CPU).
   */
  record Rate(double perSecond, double cpuMicrosPerOp, double coresUsed, double otherCores) {}

  /**
   * Busy and total jiffies of the whole machine from /proc/stat (all CPUs), to tell how much
   * CPU other processes took during a measurement.
   */
  record MachineCpu(long busy, long total, long processCpuNanos, long wallNanos) {
    static MachineCpu now() {
      long busy = -1;
      long total = -1;
      try {
        String[] f = Files.readAllLines(Path.of("/proc/stat")).getFirst().trim().split("\\s+");
        // cpu user nice system idle iowait irq softirq steal ...
        long[] v = new long[Math.min(f.length - 1, 8)];
        for (int i = 0; i < v.length; i++) v[i] = Long.parseLong(f[i + 1]);
        total = 0;
        for (long x : v) total += x;
        busy = total - v[3] - (v.length > 4 ? v[4] : 0);
      } catch (IOException | RuntimeException e) {
        // not Linux
      }
      return new MachineCpu(busy, total, BenchSupport.processCpuNanos(), System.nanoTime());
    }

    /** Cores other processes kept busy on average since {@code start} (machine busy minus this process); NaN if unknown. */
    double otherCoresSince(MachineCpu start) {
      if (busy < 0 || start.busy < 0 || total == start.total) return Double.NaN;
      int n = Runtime.getRuntime().availableProcessors();
      double machineCores = (double) (busy - start.busy) / (total - start.total) * n;
      double mine = (double) (processCpuNanos - start.processCpuNanos) / (wallNanos - start.wallNanos);
      return Math.max(0, machineCores - mine);
    }
  }

  /** CPU time of this whole process (all threads, GC and JIT included), in nanoseconds; -1 if unknown. */
  static long processCpuNanos() {
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getProcessCpuTime();
    }
    return -1;
  }

  /**
   * Runs an operation on {@code threads} threads: {@code warmupMillis} unmeasured, then
   * {@code measureMillis} counted. Returns completed operations per second, all threads together,
   * and the process CPU time per operation over the same window.
   */
  static Rate rate(int threads, long warmupMillis, long measureMillis, OpFactory factory) throws Exception {
    LongAdder done = new LongAdder();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch ready = new CountDownLatch(threads);
    AtomicInteger phase = new AtomicInteger(); // 0 warm-up, 1 measuring, 2 stop
    Thread[] ts = new Thread[threads];
    for (int i = 0; i < threads; i++) {
      ts[i] = Thread.ofPlatform().name("bench-op-" + i).start(() -> {
        try {
          Op op = factory.create();
          ready.countDown();
          int p;
          while ((p = phase.get()) != 2) {
            op.run();
            if (p == 1) done.increment();
          }
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
          ready.countDown();
        }
      });
    }
    ready.await();
    Thread.sleep(warmupMillis);
    MachineCpu m0 = MachineCpu.now();
    long c0 = m0.processCpuNanos();
    long before = done.sum();
    phase.set(1);
    long t0 = System.nanoTime();
    Thread.sleep(measureMillis);
    long count = done.sum() - before;
    long t1 = System.nanoTime();
    MachineCpu m1 = MachineCpu.now();
    long c1 = m1.processCpuNanos();
    phase.set(2);
    for (Thread t : ts) t.join();
    if (failure.get() != null) throw new IllegalStateException("benchmark operation failed: " + failure.get(), failure.get());
    return new Rate(count / ((t1 - t0) / 1e9), c0 < 0 || count == 0 ? Double.NaN : (c1 - c0) / 1e3 / count,
        c0 < 0 ? Double.NaN : (double) (c1 - c0) / (t1 - t0), m1.otherCoresSince(m0));
  }

  // ------------------------------------------------------------------ a throw-away authority

  /** An authority in a temp directory, serving TLS 1.3 on 127.0.0.1 (ephemeral port). */
  static final class TempAuthority implements AutoCloseable {
    final Path dir;
    final Path authDir;
    final char[] passphrase;
    final Authority authority;
    final AdminClient admin;
    final URI base;

    TempAuthority(String prefix, UnaryOperator<AuthorityConfig> overrides) throws Exception {
      dir = Files.createTempDirectory(prefix);
      passphrase = randomSecret();
      authDir = dir.resolve("authority");
      Authority.init(authDir, AuthorityConfig.defaults(), passphrase, "ops");
      authority = Authority.open(authDir, passphrase, c -> overrides.apply(c.withListen("127.0.0.1", 0)));
      authority.start();
      admin = AdminClient.forAuthorityDir(authDir, "127.0.0.1", authority.port());
      base = URI.create("https://127.0.0.1:" + authority.port());
    }

    /** Enrolls machine {@code name} from {@code address}, bound to {@code address}/32. */
    Agent enroll(String name, String address) throws IOException {
      JsonNode t = admin.post("/v1/admin/join-tokens", Map.of("name", name, "cidrs", List.of(address + "/32"), "ttl_seconds", 600));
      return Agent.enroll(dir.resolve("agents").resolve(name), "127.0.0.1", authority.port(), authority.ca().root(),
          t.path("join_token").asText(), passphrase, InetAddress.ofLiteral(address));
    }

    @Override
    public void close() {
      try {
        admin.close();
      } finally {
        try {
          authority.close();
        } finally {
          deleteTree(dir);
        }
      }
    }
  }

  /**
   * The i-th distinct loopback source address (0-based): 127.0.0.2, 127.0.0.3, ... then
   * 127.0.1.2 and so on; Linux routes all of 127.0.0.0/8 to the loopback interface.
   */
  static String loopbackAddress(int i) {
    return "127.0." + (i / 250) + "." + (2 + i % 250);
  }

  static void deleteTree(Path dir) {
    if (dir == null || !Files.exists(dir)) return;
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort: a temp directory
    }
  }

  static char[] randomSecret() {
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b).toCharArray();
  }

  static void waitFor(BooleanSupplier cond, Duration timeout, String what) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new IllegalStateException("timed out waiting for " + what);
      Thread.sleep(5);
    }
  }

  /** Load average (1 min) from /proc/loadavg, or -1. */
  static double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
