package dev.m2mfa.cli;

import com.nimbusds.jose.crypto.impl.ECDSA;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jwt.SignedJWT;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.verifier.TokenRejectedException;
import dev.m2mfa.verifier.TokenRequest;
import dev.m2mfa.verifier.TokenVerifier;
import java.io.PrintStream;
import java.net.URI;
import java.security.PublicKey;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * {@code m2mfa bench verify}: full {@link TokenVerifier#verify} calls per second, each with a
 * fresh DPoP proof, against the bare ES256 signature checks the call contains.
 *
 * <p>The token comes from a real login against an in-process authority; the verifier is a real
 * one, started (JWKS fetched, revocation stream followed) against that authority. Proofs are
 * made before each timed round (the verifier's replay cache refuses a reused {@code jti}, and
 * making proofs is the client's cost, not the verifier's). A proof's {@code iat} must be
 * within the verifier's DPoP window (default +-60 s) when it is checked, so the timed phase is
 * cut into rounds of at most {@value #ROUND_SECONDS} s, each with proofs made just before it.
 * The replay cache holds at most 500,000 {@code jti}s for 60 s each (the builder's defaults):
 * above about 8,000 verifications a second for a minute, it would fill and refuse proofs;
 * those refusals are counted as errors.
 */
final class BenchVerify {
  static final int ROUND_SECONDS = 10;
  static final URI REQUEST_URI = URI.create("https://service.bench.example/inventory");

  private BenchVerify() {}

  static final class Options {
    int seconds = 10;
    int threads = 2;
    int warmup = 3;
    long rawMillis = 3000;
  }

  private record Round(long verified, long errors, double seconds, boolean exhausted, long cpuNanos, double otherCores) {}

  static Map<String, Object> run(Options o, BenchSupport.Progress progress) throws Exception {
    if (o.threads < 1 || o.threads > 256) throw new IllegalArgumentException("--threads must be 1-256");
    if (o.seconds < 1) throw new IllegalArgumentException("--seconds must be at least 1");
    double loadBefore = BenchSupport.loadAverage();
    Map<String, Object> out = new LinkedHashMap<>();
    try (BenchSupport.TempAuthority ta = new BenchSupport.TempAuthority("m2mfa-bench-verify", c -> c)) {
      Agent agent = ta.enroll("bench-verify", "127.0.0.2");
      String token = agent.login(BenchSupport.AUDIENCE).accessToken();
      try (TokenVerifier verifier = TokenVerifier.builder().issuer(ta.authority.config().issuer()).audience(BenchSupport.AUDIENCE)
          .authority(ta.base).trustAnchors(ta.authority.ca().root()).build()) {
        verifier.start();
        BenchSupport.waitFor(verifier::revocationFresh, Duration.ofSeconds(10), "the verifier's first revocation snapshot");
        AtomicReference<String> firstError = new AtomicReference<>();
        // sanity: one verification must pass
        verifier.verify(request(token, agent.dpopProof("GET", REQUEST_URI, token)));

        progress.say("warm-up %d s", o.warmup);
        double perThreadRate = 2000;
        long warmDeadline = System.nanoTime() + o.warmup * 1_000_000_000L;
        double proofRate = 0;
        do {
          long g0 = System.nanoTime();
          TokenRequest[][] pool = proofs(agent, token, o.threads, 500);
          proofRate = o.threads * 500 / ((System.nanoTime() - g0) / 1e9);
          Round r = round(verifier, pool, 30, firstError);
          if (r.verified > 0) perThreadRate = r.verified / r.seconds / o.threads;
        } while (System.nanoTime() < warmDeadline);

        long verified = 0;
        long cpuNanos = 0;
        double otherCoreSeconds = 0;
        long errors = 0;
        double seconds = 0;
        int exhaustedRounds = 0;
        int rounds = 0;
        while (seconds < o.seconds - 0.05) {
          double roundSeconds = Math.min(ROUND_SECONDS, o.seconds - seconds);
          int perThread = (int) Math.min(2_000_000 / o.threads, Math.ceil(perThreadRate * roundSeconds * 1.4) + 200);
          progress.say("round %d: making %,d proofs, then verifying for up to %.1f s", rounds + 1, perThread * o.threads, roundSeconds);
          long g0 = System.nanoTime();
          TokenRequest[][] pool = proofs(agent, token, o.threads, perThread);
          proofRate = (double) perThread * o.threads / ((System.nanoTime() - g0) / 1e9);
          Round r = round(verifier, pool, roundSeconds, firstError);
          verified += r.verified;
          cpuNanos += r.cpuNanos;
          otherCoreSeconds += r.otherCores * r.seconds;
          errors += r.errors;
          seconds += r.seconds;
          rounds++;
          if (r.exhausted) exhaustedRounds++;
          if (r.verified > 0) perThreadRate = Math.max(perThreadRate, r.verified / r.seconds / o.threads);
        }
        if (firstError.get() != null) System.err.println("bench verify: first refusal: " + firstError.get());
        double verifyPerS = verified / seconds;

        progress.say("raw ES256 verifications (token + proof signature, BouncyCastle) on %d thread(s)", o.threads);
        String sampleProof = agent.dpopProof("GET", REQUEST_URI, token);
        BenchSupport.Rate rawRate = rawRate(ta, token, sampleProof, o.threads, o.rawMillis, false);
        double raw = rawRate.perSecond();
        progress.say("raw ES256 verifications with a new BC key object for each proof, on %d thread(s)", o.threads);
        BenchSupport.Rate rawFresh = rawRate(ta, token, sampleProof, o.threads, o.rawMillis, true);
        out.put("verify_per_s", BenchSupport.round(verifyPerS, 1));
        out.put("raw_verify_per_s", BenchSupport.round(raw, 1));
        out.put("ratio", BenchSupport.round(verifyPerS / raw, 3));
        out.put("cpu_us_per_verify", BenchSupport.round(cpuNanos / 1e3 / Math.max(1, verified + errors), 1));
        out.put("cpu_us_per_raw_pair", BenchSupport.round(rawRate.cpuMicrosPerOp(), 1));
        out.put("cores_used", BenchSupport.round(cpuNanos / 1e9 / seconds, 2));
        out.put("raw_cores_used", BenchSupport.round(rawRate.coresUsed(), 2));
        out.put("other_processes_cores", BenchSupport.round(otherCoreSeconds / seconds, 2));
        out.put("raw_other_processes_cores", BenchSupport.round(rawRate.otherCores(), 2));
        out.put("raw_verify_fresh_proof_key_per_s", BenchSupport.round(rawFresh.perSecond(), 1));
        out.put("ratio_fresh_proof_key", BenchSupport.round(verifyPerS / rawFresh.perSecond(), 3));
        out.put("threads", o.threads);
        out.put("seconds", BenchSupport.round(seconds, 2));
        out.put("warmup_s", o.warmup);
        out.put("verified", verified);
        out.put("errors", errors);
        out.put("rounds", rounds);
        out.put("rounds_pool_exhausted", exhaustedRounds);
        out.put("proofs_made_per_s", BenchSupport.round(proofRate, 1));
        out.put("dpop_iat_window_s", 60);
        out.put("verifier_cache", "none");
      }
    }
    out.put("load_avg_1m_before", loadBefore);
    out.put("load_avg_1m_after", BenchSupport.loadAverage());
    return out;
  }

  static TokenRequest request(String token, String proof) {
    return TokenRequest.builder().authorization("DPoP " + token).dpop(proof).method("GET").uri(REQUEST_URI)
        .requiredAmr(Set.of("key", "network")).minimumAcr("m2mfa:2fa").build();
  }

  /**
   * {@code threads} slices of {@code perThread} requests, each with a fresh proof, made on
   * {@code threads} threads (the request objects too: building them is the service's per-request
   * work, not the verifier's).
   */
  static TokenRequest[][] proofs(Agent agent, String token, int threads, int perThread) throws InterruptedException {
    TokenRequest[][] pool = new TokenRequest[threads][perThread];
    Thread[] ts = new Thread[threads];
    for (int t = 0; t < threads; t++) {
      TokenRequest[] slice = pool[t];
      ts[t] = Thread.ofPlatform().start(() -> {
        for (int i = 0; i < slice.length; i++) slice[i] = request(token, agent.dpopProof("GET", REQUEST_URI, token));
      });
    }
    for (Thread t : ts) t.join();
    return pool;
  }

  /** Verifies on one thread per slice until {@code maxSeconds} pass or a slice runs out. */
  private static Round round(TokenVerifier verifier, TokenRequest[][] pool, double maxSeconds,
      AtomicReference<String> firstError) throws InterruptedException {
    int threads = pool.length;
    LongAdder ok = new LongAdder();
    LongAdder bad = new LongAdder();
    long[] times = new long[2];
    boolean[] exhausted = {false};
    Thread[] ts = new Thread[threads];
    long deadline = System.nanoTime() + (long) (maxSeconds * 1e9);
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    for (int t = 0; t < threads; t++) {
      TokenRequest[] slice = pool[t];
      ts[t] = Thread.ofPlatform().start(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          return;
        }
        int i = 0;
        while (true) {
          if ((i & 15) == 0 && System.nanoTime() - deadline >= 0) break;
          if (i == slice.length) {
            exhausted[0] = true;
            break;
          }
          try {
            verifier.verify(slice[i]);
            ok.increment();
          } catch (TokenRejectedException e) {
            bad.increment();
            firstError.compareAndSet(null, e.reason().name());
          }
          slice[i] = null;
          i++;
        }
      });
    }
    BenchSupport.MachineCpu m0 = BenchSupport.MachineCpu.now();
    long c0 = m0.processCpuNanos();
    times[0] = System.nanoTime();
    go.countDown();
    for (Thread t : ts) t.join();
    times[1] = System.nanoTime();
    BenchSupport.MachineCpu m1 = BenchSupport.MachineCpu.now();
    long c1 = m1.processCpuNanos();
    return new Round(ok.sum(), bad.sum(), (times[1] - times[0]) / 1e9, exhausted[0], c1 - c0, m1.otherCoresSince(m0));
  }

  /**
   * Pairs of bare ES256 verifications per second: the token's signature with the authority's
   * key and the proof's signature with the machine's key, BouncyCastle {@code SHA256withECDSA}
   * with BouncyCastle key objects, as the verifier's {@code Es256} sets them up (it converts
   * each key to BC's own key object before verifying; given the JDK's, BC would convert it on
   * every call at about half the speed). Signatures are transcoded to DER once, outside the
   * loop; building the proof key's object from its JWK, which the verifier does per request,
   * is not part of this bare figure.
   */
  static BenchSupport.Rate rawRate(BenchSupport.TempAuthority ta, String token, String proof, int threads, long millis,
      boolean freshProofKey) throws Exception {
    SignedJWT t = SignedJWT.parse(token);
    SignedJWT p = SignedJWT.parse(proof);
    ECKey authorityKey = (ECKey) JWKSet.parse(ta.authority.keyring().jwksJson()).getKeyByKeyId(t.getHeader().getKeyID());
    java.security.KeyFactory bcKeys = java.security.KeyFactory.getInstance("EC", BenchCrypto.BC);
    PublicKey tokenKey = bcKeys.generatePublic(new java.security.spec.X509EncodedKeySpec(authorityKey.toECPublicKey().getEncoded()));
    PublicKey proofKey = bcKeys.generatePublic(
        new java.security.spec.X509EncodedKeySpec(((ECKey) p.getHeader().getJWK()).toECPublicKey().getEncoded()));
    byte[] tokenInput = t.getSigningInput();
    byte[] proofInput = p.getSigningInput();
    byte[] tokenSig = ECDSA.transcodeSignatureToDER(t.getSignature().decode());
    byte[] proofSig = ECDSA.transcodeSignatureToDER(p.getSignature().decode());
    BenchCrypto.check(BenchCrypto.verify("SHA256withECDSA", BenchCrypto.BC, tokenKey, tokenInput, tokenSig));
    BenchCrypto.check(BenchCrypto.verify("SHA256withECDSA", BenchCrypto.BC, proofKey, proofInput, proofSig));
    if (!freshProofKey) {
      return BenchSupport.rate(threads, Math.min(1000, millis / 2), millis, () -> () -> {
        BenchCrypto.check(BenchCrypto.verify("SHA256withECDSA", BenchCrypto.BC, tokenKey, tokenInput, tokenSig));
        BenchCrypto.check(BenchCrypto.verify("SHA256withECDSA", BenchCrypto.BC, proofKey, proofInput, proofSig));
      });
    }
    // A new BC key object for every proof, as the verifier builds one per request: BC then has
    // no cached precomputation for the point and uses its narrower first-use window.
    byte[] proofKeyDer = proofKey.getEncoded();
    int poolSize = 20_000;
    return BenchSupport.rate(threads, Math.min(1000, millis / 2), millis, () -> {
      PublicKey[] pool = new PublicKey[poolSize];
      for (int i = 0; i < poolSize; i++) pool[i] = bcKeys.generatePublic(new java.security.spec.X509EncodedKeySpec(proofKeyDer));
      int[] next = {0};
      return () -> {
        BenchCrypto.check(BenchCrypto.verify("SHA256withECDSA", BenchCrypto.BC, tokenKey, tokenInput, tokenSig));
        PublicKey k = pool[next[0]];
        pool[next[0]] = null;
        if (k == null) k = bcKeys.generatePublic(new java.security.spec.X509EncodedKeySpec(proofKeyDer)); // pool used up
        next[0] = (next[0] + 1) % poolSize;
        BenchCrypto.check(BenchCrypto.verify("SHA256withECDSA", BenchCrypto.BC, k, proofInput, proofSig));
      };
    });
  }

  static void printHuman(Map<String, Object> r, PrintStream p) {
    p.printf("m2mfa bench verify: %s thread(s), %s s measured in %s round(s) after %s s warm-up%n", r.get("threads"), r.get("seconds"),
        r.get("rounds"), r.get("warmup_s"));
    p.printf("  full verify/s       %s  (TokenVerifier.verify with a fresh DPoP proof each; %s verified, %s refused)%n",
        BenchSupport.fmt(((Number) r.get("verify_per_s")).doubleValue()), r.get("verified"), r.get("errors"));
    p.printf("  raw verify/s        %s  (token ES256 + proof ES256 signature checks alone, BouncyCastle, BC key objects)%n",
        BenchSupport.fmt(((Number) r.get("raw_verify_per_s")).doubleValue()));
    p.printf("  ratio               %s  (goal >= 0.8)%n", r.get("ratio"));
    p.printf("  raw, fresh key      %s  (the proof key as a new BC key object each time, as the verifier does it); ratio %s%n",
        BenchSupport.fmt(((Number) r.get("raw_verify_fresh_proof_key_per_s")).doubleValue()), r.get("ratio_fresh_proof_key"));
    p.printf("  CPU per call        %s us full verify, %s us the two bare signature checks%n", r.get("cpu_us_per_verify"),
        r.get("cpu_us_per_raw_pair"));
    p.printf("  cache               none: the verifier caches JWKS keys only, not verification results (no cached_verify_per_s)%n");
    p.printf("  cores used          %s by this process while verifying, %s during the raw checks; other processes %s and %s%n",
        r.get("cores_used"), r.get("raw_cores_used"), r.get("other_processes_cores"), r.get("raw_other_processes_cores"));
    p.printf("  proofs made         %s/s on the same threads, before each round, not timed (the client's cost)%n",
        BenchSupport.fmt(((Number) r.get("proofs_made_per_s")).doubleValue()));
    if (((Number) r.get("rounds_pool_exhausted")).intValue() > 0) {
      p.printf("  note: %s round(s) ran out of proofs before their time; their rate counts only the time used%n", r.get("rounds_pool_exhausted"));
    }
    p.printf("  load average (1 min) %s before, %s after%n", r.get("load_avg_1m_before"), r.get("load_avg_1m_after"));
  }
}
