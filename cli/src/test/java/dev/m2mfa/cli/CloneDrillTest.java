package dev.m2mfa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 3's acceptance for the otp-chain factor, run as the drill runs it: 1,000 clone trials
 * (copy at a random point of the lineage, original and copy in random order, crashes
 * injected) all caught, within one login of the second party when no crash follows the copy,
 * and 10,000 normal logins with crashes injected between issue and persist (or before the
 * acknowledgement) without a single false lock.
 */
class CloneDrillTest {
  @TempDir Path tmp;

  /** tmpfs when the machine has one: the drill is about the chain, not the disk's fsync latency. */
  private Path workDir() throws Exception {
    Path shm = Path.of("/dev/shm");
    return Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "m2mfa-drill") : tmp;
  }

  @Test
  void aThousandClonesAreCaughtAndTenThousandCrashingLoginsNeverLock() throws Exception {
    Path dir = workDir();
    try {
      CloneDrill.Result r = new CloneDrill(dir, 20261204L, 0.2).run(1_000, 10_000);
      System.out.println("clone drill: " + r.json());
      assertThat(r.detected()).isEqualTo(1_000);
      assertThat(r.falseLocks()).isZero();
      assertThat(r.normalLogins()).isGreaterThanOrEqualTo(10_000);
      assertThat(r.detectionLoginsMax()).isLessThanOrEqualTo(1);
      assertThat(r.detectionLoginsMaxWithCrashes()).isGreaterThanOrEqualTo(r.detectionLoginsMax());
    } finally {
      if (!dir.equals(tmp)) {
        try (var s = Files.walk(dir)) {
          s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  @Test
  void theCommandPrintsTheDocumentedJson() throws Exception {
    PrintStream out = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
      code = Main.execute("drill", "clone", "--trials", "5", "--normal-logins", "40", "--seed", "1", "--dir", tmp.resolve("cmd").toString(), "--json");
    } finally {
      System.setOut(out);
    }
    assertThat(code).isZero();
    JsonNode j = new ObjectMapper().readTree(buf.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow());
    assertThat(j.path("trials").asInt()).isEqualTo(5);
    assertThat(j.path("detected").asInt()).isEqualTo(5);
    assertThat(j.path("normal_logins").asInt()).isEqualTo(40);
    assertThat(j.path("false_locks").asInt()).isZero();
    assertThat(j.has("detection_logins_max")).isTrue();
  }
}
