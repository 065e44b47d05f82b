package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jwt.SignedJWT;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.AuthorityChannel;
import dev.m2mfa.agent.keys.SoftwareKey;
import dev.m2mfa.agent.keys.SoftwareKeyProvider;
import dev.m2mfa.api.LoginTranscript;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.pki.CertificateAuthority;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a token and a machine are bound to: certificates, networks, classes. */
class LoginBindingTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;

  static JsonNode manualLogin(AuthorityChannel ch, String machine, SoftwareKey key, boolean wantCertificate) throws Exception {
    AuthorityChannel.Response start = ch.postJson("/v1/login/start", JSON.writeValueAsBytes(Map.of("machine", machine, "audience", "inventory")));
    byte[] challenge = start.body();
    byte[] evidence = "{}".getBytes(StandardCharsets.UTF_8);
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("session", JSON.readTree(challenge).path("session").asText());
    body.put("evidence", Base64.getUrlEncoder().withoutPadding().encodeToString(evidence));
    body.put("signature", Base64.getUrlEncoder().withoutPadding().encodeToString(key.sign(LoginTranscript.bytes(challenge, ch.loginExporter(), evidence))));
    body.put("want_certificate", wantCertificate);
    AuthorityChannel.Response r = ch.postJson("/v1/login/finish", JSON.writeValueAsBytes(body));
    assertThat(r.status()).as(r.text()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  static Map<String, Object> cnf(JsonNode login) throws Exception {
    return SignedJWT.parse(login.path("access_token").asText()).getJWTClaimsSet().getJSONObjectClaim("cnf");
  }

  @Test
  void renewingLoginBindsTheTokenToTheNewCertificate() throws Exception {
    try (TestAuthority a = new TestAuthority(tmp, List.of("key", "network"))) {
      Agent agent = a.enroll(tmp, "bind-a", "127.0.0.20/32", "127.0.0.20");
      SoftwareKey key = SoftwareKeyProvider.open(tmp.resolve("bind-a/identity.key"), TestAuthority.PASSPHRASE);
      try (AuthorityChannel ch = agent.channel()) {
        JsonNode plain = manualLogin(ch, "bind-a", key, false);
        assertThat(cnf(plain).get("x5t#S256")).isEqualTo(CertificateAuthority.thumbprint(agent.certificate()));
        assertThat(plain.has("certificate")).isFalse();
        JsonNode renewed = manualLogin(ch, "bind-a", key, true);
        var fresh = Pem.certificates(renewed.path("certificate").asText()).getFirst();
        assertThat(fresh.getSerialNumber()).isNotEqualTo(agent.certificate().getSerialNumber());
        assertThat(cnf(renewed).get("x5t#S256")).isEqualTo(CertificateAuthority.thumbprint(fresh));
        assertThat(cnf(renewed).get("jkt")).isEqualTo(agent.keyThumbprint());
      }
    }
  }

  @Test
  void anotherMachinesCertificateOnTheLoginConnectionIsNotBoundIntoTheToken() throws Exception {
    try (TestAuthority a = new TestAuthority(tmp, List.of("key", "network"))) {
      a.enroll(tmp, "bind-b", "127.0.0.21/32", "127.0.0.21");
      Agent other = a.enroll(tmp, "bind-c", "127.0.0.21/32", "127.0.0.21");
      SoftwareKey keyB = SoftwareKeyProvider.open(tmp.resolve("bind-b/identity.key"), TestAuthority.PASSPHRASE);
      // machine b's key signs the login, but the TLS connection presents machine c's certificate
      try (AuthorityChannel ch = new AuthorityChannel(other.tlsContext(), "127.0.0.1", a.port(), InetAddress.ofLiteral("127.0.0.21"), 10_000)) {
        JsonNode login = manualLogin(ch, "bind-b", keyB, false);
        assertThat(cnf(login)).containsKey("jkt").doesNotContainKey("x5t#S256");
      }
    }
  }

  @Test
  void withoutCidrsTheMachineIsBoundToItsEnrollmentAddress() throws Exception {
    try (TestAuthority a = new TestAuthority(tmp, List.of("key", "network"))) {
      String token = a.authority.enrollment().createJoinToken("bind-d", "default", List.of(), Duration.ofMinutes(5), "test").token();
      Agent agent = Agent.enroll(tmp.resolve("bind-d"), "127.0.0.1", a.port(), a.authority.ca().root(), token, TestAuthority.PASSPHRASE,
          InetAddress.ofLiteral("127.0.0.22"));
      assertThat(a.authority.store().machines().find("bind-d").orElseThrow().networks()).isEqualTo("127.0.0.22/32");
      assertThat(agent.login("inventory").amr()).contains("network");
      Agent moved = Agent.open(tmp.resolve("bind-d"), TestAuthority.PASSPHRASE, InetAddress.ofLiteral("127.0.0.23"));
      assertThatThrownBy(() -> moved.login("inventory")).isInstanceOf(Agent.RefusedException.class);
    }
  }

  @Test
  void aMachineWhoseClassWasRemovedFailsClosed() throws Exception {
    Path dir = tmp.resolve("authority");
    Authority.init(dir, dev.m2mfa.authority.AuthorityConfig.defaults(), TestAuthority.PASSPHRASE, "ops");
    Path conf = dir.resolve("authority.conf");
    Files.writeString(conf, Files.readString(conf) + "class.legacy=key\n");
    try (Authority a = Authority.open(dir, TestAuthority.PASSPHRASE, c -> c.withListen("127.0.0.1", 0))) {
      a.start();
      String token = a.enrollment().createJoinToken("bind-e", "legacy", List.of("127.0.0.24/32"), Duration.ofMinutes(5), "test").token();
      Agent agent = Agent.enroll(tmp.resolve("bind-e"), "127.0.0.1", a.port(), a.ca().root(), token, TestAuthority.PASSPHRASE,
          InetAddress.ofLiteral("127.0.0.24"));
      assertThat(agent.login("inventory").amr()).containsExactly("key");
    }
    Files.writeString(conf, Files.readString(conf).replace("class.legacy=key\n", ""));
    try (Authority a = Authority.open(dir, TestAuthority.PASSPHRASE, c -> c.withListen("127.0.0.1", 0))) {
      a.start();
      Path agentConf = tmp.resolve("bind-e/agent.conf");
      Files.writeString(agentConf, Files.readString(agentConf).replaceAll("authority=.*", "authority=127.0.0.1\\\\:" + a.port()));
      Agent agent = Agent.open(tmp.resolve("bind-e"), TestAuthority.PASSPHRASE, null);
      assertThatThrownBy(() -> agent.login("inventory")).isInstanceOf(Agent.RefusedException.class);
      String[] last = {null};
      a.store().audit().scan(1, r -> {
        if (r.event().equals("login.denied")) last[0] = r.detail();
      });
      assertThat(last[0]).contains("unknown or inactive machine");
    }
  }
}
