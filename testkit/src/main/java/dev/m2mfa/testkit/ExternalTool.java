package dev.m2mfa.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Tests that need a program from the operating system (sshd, swtpm, softhsm2-util, ...) call
 * {@link #require} first. On a developer's machine without the program the test is skipped
 * with a reason that names the missing file and the Debian package that provides it; with
 * {@code M2MFA_REQUIRE_ALL_TOOLS=1} (set by {@code .ci/run}) the same test fails instead, so CI
 * can never pass by skipping.
 */
public final class ExternalTool {
  /** Set by {@code .ci/run}: a missing tool is a failure, not a skip. */
  public static final String REQUIRE_ALL = "M2MFA_REQUIRE_ALL_TOOLS";

  private ExternalTool() {}

  /**
   * Returns {@code executable} if it exists and is executable; otherwise skips (or fails in
   * CI) the calling test.
   *
   * @param debianPackage the package that installs it, named in the skip reason
   */
  public static Path require(String debianPackage, String executable) {
    Path p = Path.of(executable);
    if (Files.isExecutable(p)) return p;
    missing(debianPackage, executable);
    return p;
  }

  /** Like {@link #require} for a file that must exist but need not be executable (a library). */
  public static Path requireFile(String debianPackage, String file) {
    Path p = Path.of(file);
    if (Files.isRegularFile(p)) return p;
    missing(debianPackage, file);
    return p;
  }

  /** True when the program is present; for code that has a fallback rather than a skip. */
  public static boolean present(String executable) {
    return Files.isExecutable(Path.of(executable));
  }

  private static void missing(String debianPackage, String file) {
    String reason = file + " is missing (install the Debian package " + debianPackage + ")";
    if ("1".equals(System.getenv(REQUIRE_ALL))) {
      Assertions.fail(reason + "; " + REQUIRE_ALL + "=1 forbids skipping");
    }
    System.err.println("SKIPPED: " + reason);
    Assumptions.abort(reason);
  }

  /** Runs a command to completion (bounded by {@code timeoutSeconds}) and returns its output. */
  public static Result run(long timeoutSeconds, List<String> command) throws Exception {
    Process p = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true).start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(timeoutSeconds, java.util.concurrent.TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("timed out: " + command);
    }
    return new Result(p.exitValue(), new String(out, java.nio.charset.StandardCharsets.UTF_8));
  }

  /** Exit code and merged stdout/stderr. */
  public record Result(int exitCode, String output) {}
}
