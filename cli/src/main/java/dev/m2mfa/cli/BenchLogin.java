package dev.m2mfa.cli;

import dev.m2mfa.agent.Agent;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code m2mfa bench login}: logins per second against an in-process authority on loopback
 * TLS, compared with the public-key work those logins need, measured alone in the same run.
 *
 * <p>Each worker owns one enrolled machine (bound to its own 127.0.x.y/32, so the network
 * factor passes) and loops {@code agent.login(audience)}: a new TLS 1.3 connection (with
 * the machine certificate: mutual TLS), {@code POST /v1/login/start}, the transcript
 * signature, {@code POST /v1/login/finish}, the token back. Nothing is cached between logins
 * except what the agent itself keeps.
 *
 * <p>TLS session resumption: the agent keeps one {@code SSLContext}, so the JDK client would
 * offer the session ticket from its previous login and the authority would accept it (a
 * PSK-ECDHE handshake without certificates or CertificateVerify). By default this benchmark
 * turns that off for the in-process authority ({@code jdk.tls.server.newSessionTicketCount=0})
 * so that every login is a full handshake, the cost of a fresh agent process or of a login
 * after the ticket expired. {@code --tls-resumption} measures the resumed case instead.
 */
final class BenchLogin {
  private BenchLogin() {}

  static final class Options {
    int seconds = 10;
    int concurrency = 4;
    int warmup = 5;
    boolean tlsResumption;
    long floorMillis = 2000;
    String keyProvider = "software";
  }

  private static final class Worker implements Runnable {
    final Agent agent;
    final BenchSupport.Longs latencies = new BenchSupport.Longs();
    final Shared shared;
    long errors;
    long warmupLogins;

    Worker(Agent agent, Shared shared) {
      this.agent = agent;
      this.shared = shared;
    }

    @Override
    public void run() {
      while (!shared.stop) {
        long s = System.nanoTime();
        boolean ok;
        try {
          agent.login(BenchSupport.AUDIENCE);
          ok = true;
        } catch (Exception e) {
          ok = false;
          shared.firstError.compareAndSet(null, e);
        }
        long e = System.nanoTime();
        long t0 = shared.t0;
        long t1 = shared.t1;
        if (e - t0 >= 0 && t1 - e >= 0 && shared.measuring) {
          if (ok) latencies.add(e - s);
          else errors++;
        } else if (!shared.measuring && ok) {
          warmupLogins++;
        }
        if (!ok) {
          try {
            Thread.sleep(10); // do not spin on a failing authority
          } catch (InterruptedException ie) {
            return;
          }
        }
      }
    }
  }

  private static final class Shared {
    volatile boolean stop;
    volatile boolean measuring;
    volatile long t0;
    volatile long t1 = Long.MAX_VALUE;
    final AtomicReference<Exception> firstError = new AtomicReference<>();
  }

  static Map<String, Object> run(Options o, BenchSupport.Progress progress) throws Exception {
    if (o.concurrency < 1 || o.concurrency > 1000) throw new IllegalArgumentException("--concurrency must be 1-1000");
    if (o.seconds < 1) throw new IllegalArgumentException("--seconds must be at least 1");
    if (o.warmup < 0) throw new IllegalArgumentException("--warmup must be 0 or more");
    if (!o.tlsResumption) {
      // Read once when JSSE initializes, which has not happened yet in this process.
      System.setProperty("jdk.tls.server.newSessionTicketCount", "0");
    }
    double loadBefore = BenchSupport.loadAverage();
    Map<String, Object> out = new LinkedHashMap<>();
    long[] sorted;
    double elapsedS;
    long errors;
    long warmupLogins;
    Exception firstError;
    Double keySignPerS = null;
    long cpu0;
    long cpu1;
    BenchSupport.MachineCpu m0;
    BenchSupport.MachineCpu m1;
    try (BenchSupport.TempAuthority ta = new BenchSupport.TempAuthority("m2mfa-bench-login", c -> c);
        BenchKeys.BenchTpm tpm = BenchKeys.BenchTpm.forProvider(o.keyProvider, ta.dir)) {
      progress.say("authority on 127.0.0.1:%d; enrolling %d machine(s)", ta.authority.port(), o.concurrency);
      List<Worker> workers = new ArrayList<>();
      Shared shared = new Shared();
      for (int i = 0; i < o.concurrency; i++) {
        String addr = BenchSupport.loopbackAddress(i);
        workers.add(new Worker(BenchKeys.enroll(ta, String.format("bench-%04d", i), addr, o.keyProvider, i, tpm), shared));
      }
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < workers.size(); i++) threads.add(Thread.ofPlatform().name("bench-login-" + i).start(workers.get(i)));
      progress.say("warm-up %d s", o.warmup);
      Thread.sleep(o.warmup * 1000L);
      m0 = BenchSupport.MachineCpu.now();
      cpu0 = m0.processCpuNanos();
      shared.t0 = System.nanoTime();
      shared.measuring = true;
      progress.say("measuring %d s", o.seconds);
      Thread.sleep(o.seconds * 1000L);
      long t1 = System.nanoTime();
      shared.t1 = t1;
      m1 = BenchSupport.MachineCpu.now();
      cpu1 = m1.processCpuNanos();
      shared.stop = true;
      for (Thread t : threads) t.join();
      elapsedS = (t1 - shared.t0) / 1e9;
      List<BenchSupport.Longs> parts = workers.stream().map(w -> w.latencies).toList();
      sorted = BenchSupport.Longs.concat(parts);
      Arrays.sort(sorted);
      errors = workers.stream().mapToLong(w -> w.errors).sum();
      warmupLogins = workers.stream().mapToLong(w -> w.warmupLogins).sum();
      firstError = shared.firstError.get();
      if (o.keyProvider.equals("tpm")) {
        // the TPM signs outside this process: the crypto floor cannot see it, so measure it alone
        progress.say("TPM signatures alone for %d ms", o.floorMillis);
        keySignPerS = dev.m2mfa.agent.keys.tpm.TpmSignRate.measure((dev.m2mfa.agent.keys.tpm.TpmKeyProvider) workers.getFirst().agent.key(),
            java.time.Duration.ofMillis(o.floorMillis)).perSecond();
      }
    }
    if (firstError != null) System.err.println("bench login: first error: " + firstError);
    progress.say("crypto floor: each operation alone on %d thread(s)", o.concurrency);
    Map<String, BenchSupport.Rate> rates = BenchCrypto.loginOpRates(o.concurrency, Math.min(1000, o.floorMillis / 2), o.floorMillis, progress);
    Map<String, Integer> counts = BenchCrypto.loginCounts(!o.tlsResumption);
    double floor = BenchCrypto.floor(rates, counts);
    double loginsPerS = sorted.length / elapsedS;
    out.put("logins_per_s", BenchSupport.round(loginsPerS, 1));
    out.put("p50_ms", BenchSupport.round(BenchSupport.percentileMs(sorted, 50), 2));
    out.put("p99_ms", BenchSupport.round(BenchSupport.percentileMs(sorted, 99), 2));
    out.put("crypto_floor_per_s", BenchSupport.round(floor, 1));
    out.put("ratio", BenchSupport.round(loginsPerS / floor, 3));
    out.put("machines", o.concurrency);
    out.put("concurrency", o.concurrency);
    out.put("seconds", o.seconds);
    out.put("warmup_s", o.warmup);
    out.put("errors", errors);
    out.put("logins", sorted.length);
    out.put("warmup_logins", warmupLogins);
    out.put("tls_handshake", o.tlsResumption ? "resumed" : "full");
    out.put("key_provider", o.keyProvider);
    if (keySignPerS != null) out.put("tpm_sign_per_s", BenchSupport.round(keySignPerS, 1));
    out.put("cpu_ms_per_login", BenchSupport.round((cpu1 - cpu0) / 1e6 / Math.max(1, sorted.length + errors), 2));
    out.put("cores_used", BenchSupport.round((cpu1 - cpu0) / 1e9 / elapsedS, 2));
    out.put("other_processes_cores", BenchSupport.round(m1.otherCoresSince(m0), 2));
    out.put("crypto_cpu_ms_per_login", BenchSupport.round(BenchCrypto.cpuMillis(rates, counts), 2));
    out.put("crypto_ops_per_login", counts);
    Map<String, Object> r = new LinkedHashMap<>();
    rates.forEach((k, v) -> r.put(k, BenchSupport.round(v.perSecond(), 0)));
    out.put("crypto_op_rates_per_s", r);
    Map<String, Object> cpu = new LinkedHashMap<>();
    rates.forEach((k, v) -> cpu.put(k, BenchSupport.round(v.cpuMicrosPerOp(), 1)));
    out.put("crypto_op_cpu_us", cpu);
    Map<String, Object> cores = new LinkedHashMap<>();
    rates.forEach((k, v) -> cores.put(k, BenchSupport.round(v.coresUsed(), 2)));
    out.put("crypto_op_cores_used", cores);
    out.put("crypto_floor_other_processes_cores", BenchSupport.round(rates.values().stream()
        .mapToDouble(BenchSupport.Rate::otherCores).average().orElse(Double.NaN), 2));
    if (!o.tlsResumption) {
      out.put("crypto_floor_uncached_chains_per_s", BenchSupport.round(BenchCrypto.floor(rates, BenchCrypto.chainCounts()), 1));
      out.put("crypto_floor_brief_list_per_s", BenchSupport.round(BenchCrypto.floor(rates, BenchCrypto.briefCounts()), 1));
    }
    out.put("load_avg_1m_before", loadBefore);
    out.put("load_avg_1m_after", BenchSupport.loadAverage());
    return out;
  }

  static void printHuman(Map<String, Object> r, PrintStream p) {
    p.printf("m2mfa bench login: %s machines (%s keys), %s concurrent workers, %s s measured after %s s warm-up, TLS 1.3 %s handshakes%n",
        r.get("machines"), r.get("key_provider"), r.get("concurrency"), r.get("seconds"), r.get("warmup_s"), r.get("tls_handshake"));
    p.printf("  logins/s            %s  (%s logins, %s errors)%n", BenchSupport.fmt(((Number) r.get("logins_per_s")).doubleValue()),
        r.get("logins"), r.get("errors"));
    p.printf("  latency p50 / p99   %s / %s ms%n", r.get("p50_ms"), r.get("p99_ms"));
    p.printf("  crypto floor        %s logins/s  (the public-key operations of one login, alone, on %s threads)%n",
        BenchSupport.fmt(((Number) r.get("crypto_floor_per_s")).doubleValue()), r.get("concurrency"));
    @SuppressWarnings("unchecked")
    Map<String, Integer> counts = (Map<String, Integer>) r.get("crypto_ops_per_login");
    @SuppressWarnings("unchecked")
    Map<String, Object> rates = (Map<String, Object>) r.get("crypto_op_rates_per_s");
    for (var e : rates.entrySet()) {
      p.printf("      %-34s %8s ops/s  x %d per login  (%s us CPU each, %s cores busy)%n", e.getKey(),
          BenchSupport.fmt(((Number) e.getValue()).doubleValue()), counts.get(e.getKey()),
          ((Map<?, ?>) r.get("crypto_op_cpu_us")).get(e.getKey()), ((Map<?, ?>) r.get("crypto_op_cores_used")).get(e.getKey()));
    }
    if (r.containsKey("crypto_floor_uncached_chains_per_s")) {
      p.printf("      (if the certificate chains were verified on every handshake: %s logins/s; the brief's list: %s)%n",
          r.get("crypto_floor_uncached_chains_per_s"), r.get("crypto_floor_brief_list_per_s"));
    }
    p.printf("  ratio               %s  (logins/s / crypto floor; goal >= 0.5)%n", r.get("ratio"));
    p.printf("  CPU per login       %s ms for everything in this process (agents, authority, GC, JIT), of which %s ms the public-key operations%n",
        r.get("cpu_ms_per_login"), r.get("crypto_cpu_ms_per_login"));
    p.printf("  cores used          %s by this process while logging in (%d available); other processes %s cores then, %s during the floor%n",
        r.get("cores_used"), Runtime.getRuntime().availableProcessors(), r.get("other_processes_cores"),
        r.get("crypto_floor_other_processes_cores"));
    p.printf("  load average (1 min) %s before, %s after%n", r.get("load_avg_1m_before"), r.get("load_avg_1m_after"));
  }
}
