package dev.m2mfa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.testkit.ExternalTool;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The posture scene end to end, as the demo will play it: real authority, real agent, a real
 * replaced file, a real started process and a real listener; the login is refused with the
 * three named reasons, and the first login's baseline is audited as trust on first use. Then a
 * signed golden manifest goes through the admin API and a tampered one is refused.
 */
class DemoPostureSceneTest {
  @TempDir Path tmp;

  @Test
  void replacedBinaryNewProcessAndListenerAreRefusedByName() throws Exception {
    ExternalTool.require("coreutils", "/usr/bin/sleep");
    char[] pass = "demo-passphrase-for-tests".toCharArray();
    Path authDir = tmp.resolve("authority");
    AuthorityConfig d = AuthorityConfig.defaults();
    AuthorityConfig cfg = new AuthorityConfig(d.trustDomain(), d.listenHost(), d.listenPort(), d.tokenLifetime(), d.certificateLifetime(),
        d.heartbeatInterval(), d.signingKeyRotation(), d.trustedProxies(),
        Map.of("default", List.of("key", "network"), "posture", List.of("key", "network", "posture")));
    Authority.init(authDir, cfg, pass, "ops");
    try (Authority authority = Authority.open(authDir, pass, c -> c.withListen("127.0.0.1", 0).withHeartbeat(Duration.ofMillis(250)))) {
      authority.start();
      try (AdminClient admin = AdminClient.forAuthorityDir(authDir, "127.0.0.1", authority.port())) {
        ByteArrayOutputStream narrative = new ByteArrayOutputStream();
        Demo.Scene s = DemoPostureScene.play(authority, admin, tmp, "machine-a", "127.0.0.2", "posture", pass, "inventory",
            new PrintStream(narrative, true));
        assertThat(s.ok()).as(s.observed()).isTrue();
        assertThat(s.observed()).contains("/usr/sbin/sshd: sha256 changed", "unknown process ", "new listener tcp/");

        JsonNode baseline = admin.get("/v1/admin/posture/baselines/machine/machine-a");
        assertThat(baseline.path("trust_on_first_use").asBoolean()).isTrue();
        assertThat(baseline.path("source").asText()).isEqualTo("tofu");
        boolean[] learned = {false};
        authority.store().audit().scan(1, r -> learned[0] |= r.event().equals("posture.baseline.learned") && r.detail().contains("\"trust_on_first_use\":true"));
        assertThat(learned[0]).isTrue();
      }
    }
  }
}
