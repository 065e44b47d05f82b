package dev.m2mfa.bench;

import dev.m2mfa.api.LoginTranscript;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Login transcript hashing ({@link LoginTranscript}): {@code digest} is the authority's side
 * (SHA-256 over context, length-prefixed challenge, TLS exporter and evidence, fed part by
 * part); {@code bytesThenSha256} is the agent's side (the transcript bytes built in one buffer,
 * then hashed, as a hash-then-sign signer does). A challenge like the authority's (about 250
 * bytes), a 32-byte exporter, and {@code evidenceBytes} of evidence (32: the key and network
 * factors' empty objects; 4096: a bulkier factor such as an attestation quote).
 *
 * <p>Run: {@code java -jar bench/target/m2mfa-benchmarks.jar LoginTranscriptBenchmark} after
 * {@code ./mvnw -q -B -pl bench -am package -DskipTests}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC"})
public class LoginTranscriptBenchmark {
  @Param({"32", "4096"})
  public int evidenceBytes;

  byte[] challenge;
  byte[] exporter;
  byte[] evidence;

  @Setup
  public void setUp() {
    SecureRandom r = new SecureRandom();
    byte[] nonce = new byte[32];
    r.nextBytes(nonce);
    challenge = ("{\"session\":\"8hJ3kq0bXv1tGmN2pLx9Aw\",\"nonce\":\"" + java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(nonce)
        + "\",\"machine\":\"web-0001\",\"audience\":\"inventory\",\"factors\":{\"key\":{\"alg\":\"ES256\",\"binding\":\"tls-exporter\"},"
        + "\"network\":{}},\"expires_at\":1796417116000}").getBytes(StandardCharsets.UTF_8);
    exporter = new byte[LoginTranscript.EXPORTER_LENGTH];
    r.nextBytes(exporter);
    evidence = new byte[evidenceBytes];
    Arrays.fill(evidence, (byte) 'x');
  }

  @Benchmark
  public byte[] digest() {
    return LoginTranscript.digest(challenge, exporter, evidence);
  }

  @Benchmark
  public byte[] bytesThenSha256() throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(LoginTranscript.bytes(challenge, exporter, evidence));
  }
}
