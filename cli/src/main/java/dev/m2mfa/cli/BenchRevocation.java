package dev.m2mfa.cli;

import dev.m2mfa.verifier.TokenVerifier;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * {@code m2mfa bench revocation}: how long a revocation takes to reach every verifier.
 *
 * <p>One in-process authority and N {@link TokenVerifier}s in the same process, each started
 * (so each holds its own long-lived HTTPS connection to {@code /v1/revocations/stream}). Each
 * round enrolls a machine (a real enrollment over TLS, not timed), then revokes it through the
 * admin API ({@link AdminClient}, mutual TLS) and stamps, with {@link System#nanoTime()}, the
 * moment each verifier's {@link TokenVerifier#onRevocation} listener sees that machine. The
 * round's time is from just before the revoke call to the last verifier's stamp. Everything
 * shares one machine's cores: the authority's stream writers, N HTTP clients and N readers.
 */
final class BenchRevocation {
  private BenchRevocation() {}

  static final class Options {
    int verifiers = 100;
    int rounds = 20;
    int warmupRounds = 3;
    int timeoutSeconds = 10;
  }

  static Map<String, Object> run(Options o, BenchSupport.Progress progress) throws Exception {
    if (o.verifiers < 1 || o.verifiers > 5000) throw new IllegalArgumentException("--verifiers must be 1-5000");
    if (o.rounds < 1) throw new IllegalArgumentException("--rounds must be at least 1");
    double loadBefore = BenchSupport.loadAverage();
    Map<String, Object> out = new LinkedHashMap<>();
    AtomicLongArray stamps = new AtomicLongArray(o.verifiers);
    String[] target = {null};
    CountDownLatch[] latch = {new CountDownLatch(0)};
    Object lock = new Object();
    List<TokenVerifier> verifiers = new ArrayList<>();
    try (BenchSupport.TempAuthority ta = new BenchSupport.TempAuthority("m2mfa-bench-revocation", c -> c)) {
      progress.say("starting %d verifiers, each with its own revocation stream", o.verifiers);
      try {
        for (int i = 0; i < o.verifiers; i++) {
          TokenVerifier v = TokenVerifier.builder().issuer(ta.authority.config().issuer()).audience(BenchSupport.AUDIENCE)
              .authority(ta.base).trustAnchors(ta.authority.ca().root()).build();
          int idx = i;
          v.onRevocation(sub -> {
            long now = System.nanoTime();
            String want;
            CountDownLatch l;
            synchronized (lock) {
              want = target[0];
              l = latch[0];
            }
            if (sub.equals(want) && stamps.compareAndSet(idx, 0, now)) l.countDown();
          });
          verifiers.add(v);
          v.start();
        }
        BenchSupport.waitFor(() -> verifiers.stream().allMatch(TokenVerifier::revocationFresh), Duration.ofSeconds(60),
            "every verifier's first revocation snapshot");
        progress.say("all %d verifiers in sync; %d warm-up round(s), then %d round(s)", o.verifiers, o.warmupRounds, o.rounds);
        long[] all = new long[o.rounds];
        long[] acks = new long[o.rounds];
        long[] perVerifier = new long[o.rounds * o.verifiers];
        int timeouts = 0;
        int pv = 0;
        for (int r = -o.warmupRounds; r < o.rounds; r++) {
          String name = String.format("revoke-%04d", r + o.warmupRounds);
          ta.enroll(name, "127.0.0.1");
          CountDownLatch l = new CountDownLatch(o.verifiers);
          for (int i = 0; i < o.verifiers; i++) stamps.set(i, 0);
          synchronized (lock) {
            target[0] = ta.authority.ca().machineSpiffeId(name);
            latch[0] = l;
          }
          long t0 = System.nanoTime();
          ta.admin.post("/v1/admin/machines/" + name + "/revoke", Map.of("reason", "bench"));
          long ack = System.nanoTime();
          boolean complete = l.await(o.timeoutSeconds, TimeUnit.SECONDS);
          if (r < 0) continue;
          if (!complete) timeouts++;
          long last = 0;
          for (int i = 0; i < o.verifiers; i++) {
            long s = stamps.get(i);
            long d = s == 0 ? TimeUnit.SECONDS.toNanos(o.timeoutSeconds) : s - t0;
            perVerifier[pv++] = d;
            last = Math.max(last, d);
          }
          all[r] = last;
          acks[r] = ack - t0;
          progress.say("round %d: all %d verifiers applied it after %.1f ms (admin call returned after %.1f ms)", r + 1, o.verifiers,
              last / 1e6, (ack - t0) / 1e6);
        }
        Arrays.sort(all);
        Arrays.sort(acks);
        Arrays.sort(perVerifier);
        out.put("p50_ms", BenchSupport.round(BenchSupport.percentileMs(all, 50), 2));
        out.put("p99_ms", BenchSupport.round(BenchSupport.percentileMs(all, 99), 2));
        out.put("max_ms", BenchSupport.round(all[all.length - 1] / 1e6, 2));
        out.put("verifiers", o.verifiers);
        out.put("rounds", o.rounds);
        out.put("warmup_rounds", o.warmupRounds);
        out.put("timeouts", timeouts);
        out.put("per_verifier_p50_ms", BenchSupport.round(BenchSupport.percentileMs(perVerifier, 50), 2));
        out.put("per_verifier_p99_ms", BenchSupport.round(BenchSupport.percentileMs(perVerifier, 99), 2));
        out.put("admin_call_p50_ms", BenchSupport.round(BenchSupport.percentileMs(acks, 50), 2));
      } finally {
        for (TokenVerifier v : verifiers) v.close();
      }
    }
    out.put("load_avg_1m_before", loadBefore);
    out.put("load_avg_1m_after", BenchSupport.loadAverage());
    return out;
  }

  static void printHuman(Map<String, Object> r, PrintStream p) {
    p.printf("m2mfa bench revocation: %s verifiers (one revocation stream each), %s rounds after %s warm-up rounds%n",
        r.get("verifiers"), r.get("rounds"), r.get("warmup_rounds"));
    p.printf("  revoke call -> every verifier applied it:  p50 %s ms, p99 %s ms, max %s ms  (goal p99 <= 100 ms at 100 verifiers)%n",
        r.get("p50_ms"), r.get("p99_ms"), r.get("max_ms"));
    p.printf("  revoke call -> one verifier applied it:    p50 %s ms, p99 %s ms%n", r.get("per_verifier_p50_ms"), r.get("per_verifier_p99_ms"));
    p.printf("  admin revoke call returned after:          p50 %s ms (durable: status, event, audit record committed)%n",
        r.get("admin_call_p50_ms"));
    if (((Number) r.get("timeouts")).intValue() > 0) p.printf("  %s round(s) timed out (counted at the timeout)%n", r.get("timeouts"));
    p.printf("  load average (1 min) %s before, %s after%n", r.get("load_avg_1m_before"), r.get("load_avg_1m_after"));
  }
}
