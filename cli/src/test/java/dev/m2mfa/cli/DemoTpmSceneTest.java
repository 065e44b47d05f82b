package dev.m2mfa.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.testkit.ExternalTool;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The TPM demo scenes pass on a machine with swtpm and tpm2-tools, and are not skipped there. */
class DemoTpmSceneTest {
  @TempDir Path tmp;

  @Test
  void tpmScenesPass() throws Exception {
    ExternalTool.require("swtpm", "/usr/bin/swtpm");
    ExternalTool.require("swtpm-tools", "/usr/bin/swtpm_setup");
    ExternalTool.require("tpm2-tools", "/usr/bin/tpm2_createek");
    char[] pass = "demo passphrase".toCharArray();
    Path dir = tmp.resolve("authority");
    Authority.init(dir, AuthorityConfig.defaults(), pass, "ops");
    try (Authority authority = Authority.open(dir, pass, c -> c.withListen("127.0.0.1", 0))) {
      authority.start();
      try (AdminClient admin = AdminClient.forAuthorityDir(dir, "127.0.0.1", authority.port())) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<Demo.Scene> scenes = DemoTpmScene.play(authority, admin, tmp, new PrintStream(out, true, StandardCharsets.UTF_8),
            "machine-b", "127.0.0.3");
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(2, scenes.size(), text);
        for (Demo.Scene s : scenes) {
          assertTrue(s.ok(), text);
          assertTrue(!s.observed().startsWith("skipped"), text);
        }
        assertTrue(scenes.get(1).observed().contains("cannot load the login key"), text);
        assertTrue(scenes.get(1).observed().contains("refused (401)"), text);
      }
    }
  }
}
