package dev.m2mfa.bench;

import dev.m2mfa.api.factor.FactorResult;
import dev.m2mfa.api.factor.FactorStatus;
import dev.m2mfa.authority.policy.Decision;
import dev.m2mfa.authority.policy.Policy;
import dev.m2mfa.authority.policy.PolicyException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The policy engine's cost per login ({@code evaluate}: the example policy's {@code web} class,
 * audience {@code payments}, four stamped factor results) and per reload ({@code load}: the
 * example file, parsed, validated and compiled from disk).
 *
 * <p>Run from the repository root: {@code java -jar bench/target/m2mfa-benchmarks.jar PolicyBenchmark} after
 * {@code ./mvnw -q -B -pl bench -am package -DskipTests}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC"})
public class PolicyBenchmark {
  static final Set<String> FACTORS = Set.of("key", "network", "otp-chain", "hardware", "posture");

  Path file;
  Policy policy;
  List<FactorResult> results;

  @Setup
  public void setUp() throws IOException, PolicyException {
    // the repository's example, read from the working directory (run from the repository root)
    file = Files.createTempFile("policy", ".yaml");
    Files.copy(Path.of("examples/policy.yaml"), file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    policy = Policy.load(List.of(file), FACTORS);
    results = List.of(new FactorResult("key", FactorStatus.PASS, "ok"), new FactorResult("network", FactorStatus.PASS, "ok"),
        new FactorResult("otp-chain", FactorStatus.PASS, "ok"), new FactorResult("hardware", FactorStatus.ABSENT, "none"));
  }

  @TearDown
  public void tearDown() throws IOException {
    Files.deleteIfExists(file);
  }

  @Benchmark
  public Decision evaluate() {
    return policy.evaluate("web", "payments", Optional.empty(), results, Set.of());
  }

  @Benchmark
  public Policy load() throws PolicyException {
    return Policy.load(List.of(file), FACTORS);
  }
}
