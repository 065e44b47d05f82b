package dev.m2mfa.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * SoftHSM2 tokens for tests, in a temp token directory.
 *
 * <p>SoftHSM reads {@code SOFTHSM2_CONF} from the process environment once, when the JVM's
 * first PKCS#11 provider initializes the library; Java cannot set an environment variable for
 * itself. So the build sets {@code SOFTHSM2_CONF} (surefire {@code environmentVariables}) to a
 * path under {@code target/}, and the first call here writes that file (its
 * {@code directories.tokendir} a fresh directory) and initializes every token of
 * {@link #TOKENS} with {@code softhsm2-util}, before any test opens a provider. Tokens made
 * later would not be seen by the already initialized library.
 */
public final class SoftHsm {
  public static final String LIBRARY = "/usr/lib/softhsm/libsofthsm2.so";
  public static final String USER_PIN = "4711-user-pin";
  private static final String SO_PIN = "0815-so-pin";
  /** The tokens every test JVM gets; {@code m2mfa-empty} is never given a key (the thief's token). */
  public static final List<String> TOKENS = List.of("m2mfa-a", "m2mfa-b", "m2mfa-c", "m2mfa-empty");
  private static Map<String, String> slots;

  private SoftHsm() {}

  /** The slot id of token {@code label}, initializing all tokens on first use; skips (fails in CI) without SoftHSM2. */
  public static synchronized String slot(String label) {
    if (slots == null) slots = initialize();
    String s = slots.get(label);
    if (s == null) throw new IllegalArgumentException("no test token " + label + "; the tokens are " + TOKENS);
    return s;
  }

  /** Agent key options for a token: library, slot, and the user PIN from a 0600 file in {@code dir}. */
  public static Map<String, String> keyOptions(String label, Path dir) throws IOException {
    Path pin = dir.resolve("pin-" + label);
    if (!Files.exists(pin)) {
      Files.createDirectories(dir);
      Files.writeString(pin, USER_PIN, StandardCharsets.UTF_8);
      Files.setPosixFilePermissions(pin, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }
    Map<String, String> o = new LinkedHashMap<>();
    o.put("library", LIBRARY);
    o.put("slot", slot(label));
    o.put("pin_file", pin.toString());
    return o;
  }

  private static Map<String, String> initialize() {
    Path util = ExternalTool.require("softhsm2", "/usr/bin/softhsm2-util");
    ExternalTool.requireFile("softhsm2", LIBRARY);
    String conf = System.getenv("SOFTHSM2_CONF");
    if (conf == null || conf.isBlank()) {
      String reason = "SOFTHSM2_CONF is not set: the build's surefire configuration sets it for PKCS#11 tests";
      if ("1".equals(System.getenv(ExternalTool.REQUIRE_ALL))) Assertions.fail(reason);
      Assumptions.abort(reason);
    }
    try {
      Path confFile = Path.of(conf);
      Path tokens = confFile.resolveSibling("tokens");
      if (Files.exists(tokens)) {
        try (Stream<Path> s = Files.walk(tokens)) {
          s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
      Files.createDirectories(tokens);
      Files.writeString(confFile, "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n");
      Map<String, String> out = new LinkedHashMap<>();
      Pattern slot = Pattern.compile("reassigned to slot (\\d+)");
      for (String label : TOKENS) {
        ExternalTool.Result r = ExternalTool.run(30, List.of(util.toString(), "--init-token", "--free", "--label", label, "--so-pin", SO_PIN,
            "--pin", USER_PIN));
        Matcher m = slot.matcher(r.output());
        if (r.exitCode() != 0 || !m.find()) throw new IllegalStateException("softhsm2-util --init-token failed: " + r.output());
        out.put(label, m.group(1));
      }
      return Map.copyOf(out);
    } catch (Exception e) {
      throw new IllegalStateException("cannot set up SoftHSM2 tokens", e);
    }
  }
}
