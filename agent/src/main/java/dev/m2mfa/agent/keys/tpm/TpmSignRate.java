package dev.m2mfa.agent.keys.tpm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

/**
 * A short benchmark of TPM login-key signatures (one {@code tpm2_sign} process each, plus
 * the JDK check of the signature), for {@code m2mfa bench login --key-provider tpm} and for
 * a quick figure on a given TPM.
 *
 * <p>Run on swtpm (or a real TPM with {@code device:/dev/tpmrm0}):
 * {@code java -cp agent/target/classes:api/target/classes:$(cat cp.txt)
 * dev.m2mfa.agent.keys.tpm.TpmSignRate swtpm:host=127.0.0.1,port=2321 /tmp/tpm-bench 10}
 */
public final class TpmSignRate {
  private TpmSignRate() {}

  /** Signatures per second and latency percentiles in milliseconds. */
  public record Result(long signatures, double perSecond, double p50Millis, double p99Millis) {}

  /** Signs 100-byte messages with {@code key} for {@code duration} (after a warm-up of 5 signatures). */
  public static Result measure(TpmKeyProvider key, Duration duration) {
    byte[] msg = new byte[100];
    for (int i = 0; i < 5; i++) key.sign(msg);
    long[] lat = new long[1 << 16];
    int n = 0;
    long start = System.nanoTime();
    long end = start + duration.toNanos();
    long now = start;
    while (now < end && n < lat.length) {
      msg[0]++;
      long s = System.nanoTime();
      key.sign(msg);
      now = System.nanoTime();
      lat[n++] = now - s;
    }
    long[] sorted = Arrays.copyOf(lat, n);
    Arrays.sort(sorted);
    double seconds = (now - start) / 1e9;
    return new Result(n, n / seconds, sorted[n / 2] / 1e6, sorted[Math.min(n - 1, (int) (n * 0.99))] / 1e6);
  }

  /** {@code TpmSignRate TCTI STATE_DIR SECONDS}: creates (or reopens) a key at the default handle and measures. */
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: TpmSignRate TCTI STATE_DIR SECONDS");
      System.exit(2);
    }
    TpmTools tpm = TpmTools.of(args[0]);
    Path dir = Path.of(args[1]);
    TpmKeyProvider key = Files.exists(dir.resolve(TpmKeyProvider.PUBLIC_FILE))
        ? TpmKeyProvider.open(tpm, dir, TpmKeyProvider.DEFAULT_HANDLE)
        : TpmKeyProvider.create(tpm, dir, TpmKeyProvider.DEFAULT_HANDLE);
    Result r = measure(key, Duration.ofSeconds(Math.min(60, Integer.parseInt(args[2]))));
    System.out.printf("{\"provider\":\"tpm\",\"tcti\":\"%s\",\"signatures\":%d,\"per_second\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f}%n",
        tpm.tcti(), r.signatures(), r.perSecond(), r.p50Millis(), r.p99Millis());
  }
}
