package dev.m2mfa.bench;

import dev.m2mfa.verifier.TokenRejectedException;
import dev.m2mfa.verifier.TokenRequest;
import dev.m2mfa.verifier.TokenVerifier;
import dev.m2mfa.verifier.VerifiedToken;
import java.net.URI;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Full {@link TokenVerifier#verify} of a real access token (from a real login against an
 * in-process authority; the verifier fetched the JWKS and follows the revocation stream).
 *
 * <ul>
 * <li>{@code verifyDpop}: {@code Authorization: DPoP}, each call with a fresh DPoP proof: token
 *     signature, claims, revocation, proof signature, {@code ath}, {@code htu}, replay cache.
 *     Proofs are made in the per-iteration set-up (not timed), {@code proofsPerIteration} per
 *     thread; a run that uses them all up fails rather than replay one (raise
 *     {@code -p proofsPerIteration=...} if it does).</li>
 * <li>{@code verifyMtls}: the same token as {@code Bearer}, bound by {@code cnf.x5t#S256} to the
 *     machine certificate the service's TLS stack verified: one signature check only.</li>
 * </ul>
 *
 * Run: {@code ./mvnw -q -B -pl bench -am package -DskipTests && java -jar
 * bench/target/m2mfa-benchmarks.jar TokenVerifyBenchmark} (add {@code -t 2} for two threads).
 * The token lives 300 s: it is renewed by a new login between iterations when it is over two
 * minutes old.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC", "-Xss512k", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class TokenVerifyBenchmark {
  static final URI REQUEST_URI = URI.create("https://service.bench.example/inventory");
  static final Set<String> FACTORS = Set.of("key", "network");

  BenchFixture fx;
  TokenVerifier verifier;
  volatile String token;
  volatile long tokenAt;
  volatile TokenRequest mtlsRequest;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    fx = BenchFixture.start();
    verifier = TokenVerifier.builder().issuer(fx.authority.config().issuer()).audience("bench").authority(fx.base)
        .trustAnchors(fx.authority.ca().root()).build();
    verifier.start();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!verifier.revocationFresh()) {
      if (System.nanoTime() > deadline) throw new IllegalStateException("no revocation snapshot");
      Thread.sleep(5);
    }
    freshToken();
    verifier.verify(mtlsRequest); // fails the set-up if anything is wrong
  }

  /** Logs in again if the token is over two minutes old (it lives five). */
  synchronized void freshToken() throws Exception {
    if (token != null && System.nanoTime() - tokenAt < Duration.ofMinutes(2).toNanos()) return;
    String t = fx.agent.login("bench").accessToken();
    mtlsRequest = TokenRequest.builder().authorization("Bearer " + t).method("GET").uri(REQUEST_URI)
        .clientCertificate(fx.agent.certificate()).requiredAmr(FACTORS).minimumAcr("m2mfa:2fa").build();
    token = t;
    tokenAt = System.nanoTime();
  }

  @Setup(Level.Iteration)
  public void renew() throws Exception {
    freshToken();
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    verifier.close();
    fx.close();
  }

  /** Per-thread requests, each with a fresh proof, made before each iteration. */
  @State(Scope.Thread)
  public static class Proofs {
    @Param("30000")
    public int proofsPerIteration;

    TokenRequest[] pool;
    int next;

    @Setup(Level.Iteration)
    public void make(TokenVerifyBenchmark b) throws Exception {
      b.freshToken();
      String t = b.token;
      pool = new TokenRequest[proofsPerIteration];
      for (int i = 0; i < pool.length; i++) {
        pool[i] = TokenRequest.builder().authorization("DPoP " + t).dpop(b.fx.agent.dpopProof("GET", REQUEST_URI, t)).method("GET")
            .uri(REQUEST_URI).requiredAmr(FACTORS).minimumAcr("m2mfa:2fa").build();
      }
      next = 0;
    }

    TokenRequest take() {
      if (next == pool.length) {
        throw new IllegalStateException("all " + pool.length + " proofs of this iteration are used: run with -p proofsPerIteration=<more>");
      }
      TokenRequest r = pool[next];
      pool[next++] = null;
      return r;
    }
  }

  @Benchmark
  public VerifiedToken verifyDpop(Proofs proofs) throws TokenRejectedException {
    return verifier.verify(proofs.take());
  }

  @Benchmark
  public VerifiedToken verifyMtls() throws TokenRejectedException {
    return verifier.verify(mtlsRequest);
  }
}
