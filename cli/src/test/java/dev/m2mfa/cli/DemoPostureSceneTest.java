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

  @Test
  void goldenManifestIsCreatedSignedAndImportedThroughTheCliAndATamperedOneIsRefused() throws Exception {
    char[] pass = "demo-passphrase-for-tests".toCharArray();
    Path authDir = tmp.resolve("authority");
    Authority.init(authDir, AuthorityConfig.defaults(), pass, "ops");
    try (Authority authority = Authority.open(authDir, pass, c -> c.withListen("127.0.0.1", 0))) {
      authority.start();
      Path ref = java.nio.file.Files.createDirectories(tmp.resolve("golden/usr/sbin"));
      java.nio.file.Files.writeString(ref.resolve("sshd"), "golden sshd");
      java.security.KeyPair op = java.security.KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
      Path key = tmp.resolve("operator.pem");
      dev.m2mfa.api.pki.KeyFiles.writePlain(key, op.getPrivate());
      Path pub = tmp.resolve("operator.pub.pem");
      java.nio.file.Files.writeString(pub, dev.m2mfa.api.pki.Pem.encode(op.getPublic()));

      Path manifest = tmp.resolve("manifest.json");
      assertThat(run(manifest, "posture", "baseline", "create", "--root", ref.toString(), "--forbid-package", "nmap", "--allow-listener", "tcp/22")).isZero();
      Path signed = tmp.resolve("signed.json");
      assertThat(run(signed, "posture", "baseline", "sign", "--key", key.toString(), "--in", manifest.toString())).isZero();
      Path imported = tmp.resolve("imported.json");
      String target = "127.0.0.1:" + authority.port();
      assertThat(run(imported, "posture", "baseline", "import", "--dir", authDir.toString(), "--authority", target, "--class", "default",
          "--operator-key", pub.toString(), "--in", signed.toString())).isZero();
      JsonNode out = new com.fasterxml.jackson.databind.ObjectMapper().readTree(java.nio.file.Files.readString(imported));
      assertThat(out.path("source").asText()).isEqualTo("manifest");
      assertThat(out.path("trust_on_first_use").asBoolean()).isFalse();
      assertThat(out.path("files").asInt()).isEqualTo(1);
      assertThat(out.path("signed_by").asText()).isEqualTo(dev.m2mfa.authority.factor.posture.SignedBaseline.fingerprint(op.getPublic()));

      // a manifest edited after signing (nmap no longer forbidden) is refused, and the stored one stays
      String tampered = java.nio.file.Files.readString(signed);
      JsonNode env = new com.fasterxml.jackson.databind.ObjectMapper().readTree(tampered);
      String m = new String(java.util.Base64.getUrlDecoder().decode(env.path("manifest").asText()), java.nio.charset.StandardCharsets.UTF_8)
          .replace("\"nmap\"", "\"nano\"");
      Path forged = tmp.resolve("forged.json");
      java.nio.file.Files.writeString(forged, tampered.replace(env.path("manifest").asText(),
          java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(m.getBytes(java.nio.charset.StandardCharsets.UTF_8))));
      assertThat(run(tmp.resolve("forged.out"), "posture", "baseline", "import", "--dir", authDir.toString(), "--authority", target, "--class",
          "default", "--operator-key", pub.toString(), "--in", forged.toString())).isEqualTo(1);
      assertThat(dev.m2mfa.authority.factor.posture.PostureFactorVerifier.storedBaseline(authority.store(), "default", true).orElseThrow()
          .packagesForbidden()).containsKey("nmap");
    }
  }

  private static int run(Path stdout, String... args) throws Exception {
    PrintStream old = System.out;
    try (PrintStream out = new PrintStream(java.nio.file.Files.newOutputStream(stdout), true)) {
      System.setOut(out);
      return Main.execute(args);
    } finally {
      System.setOut(old);
    }
  }
}
