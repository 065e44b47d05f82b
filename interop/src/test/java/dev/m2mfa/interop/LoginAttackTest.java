package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.AuthorityChannel;
import dev.m2mfa.agent.keys.SoftwareKey;
import dev.m2mfa.agent.keys.SoftwareKeyProvider;
import dev.m2mfa.api.LoginTranscript;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attacks on the login protocol, played byte for byte over real TLS: the attacker here holds
 * the machine's key file (the worst case for these tests), yet a recorded transcript can be
 * neither replayed nor relayed onto another connection, and a copied key alone does not pass
 * from another network.
 */
class LoginAttackTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path tmp;
  static TestAuthority authority;
  static Agent agent;
  static SoftwareKey key;

  @BeforeAll
  static void start() throws Exception {
    authority = new TestAuthority(tmp, List.of("key", "network"));
    agent = authority.enroll(tmp, "atk-a", "127.0.0.7/32", "127.0.0.7");
    key = SoftwareKeyProvider.open(tmp.resolve("atk-a").resolve("identity.key"), TestAuthority.PASSPHRASE);
  }

  @AfterAll
  static void stop() {
    authority.close();
  }

  /** Starts a login on {@code ch}; returns the exact challenge bytes. */
  static byte[] start(AuthorityChannel ch) throws Exception {
    AuthorityChannel.Response r = ch.postJson("/v1/login/start",
        JSON.writeValueAsBytes(Map.of("machine", "atk-a", "audience", "inventory")));
    assertThat(r.status()).isEqualTo(200);
    return r.body();
  }

  /** A finish body signing the transcript with {@code exporter}. */
  static byte[] finish(byte[] challenge, byte[] exporter) throws Exception {
    byte[] evidence = "{\"key\":{},\"network\":{}}".getBytes(StandardCharsets.UTF_8);
    byte[] sig = key.sign(LoginTranscript.bytes(challenge, exporter, evidence));
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("session", JSON.readTree(challenge).path("session").asText());
    body.put("evidence", Base64.getUrlEncoder().withoutPadding().encodeToString(evidence));
    body.put("signature", Base64.getUrlEncoder().withoutPadding().encodeToString(sig));
    return JSON.writeValueAsBytes(body);
  }

  static void assertAuthenticationFailed(AuthorityChannel.Response r) throws Exception {
    assertThat(r.status()).isEqualTo(401);
    assertThat(r.contentType()).startsWith("application/problem+json");
    JsonNode n = JSON.readTree(r.body());
    assertThat(n.path("type").asText()).isEqualTo("https://m2mfa.dev/problems/authentication-failed");
  }

  @Test
  void honestManualLoginSucceeds() throws Exception {
    try (AuthorityChannel ch = agent.channel()) {
      byte[] challenge = start(ch);
      AuthorityChannel.Response r = ch.postJson("/v1/login/finish", finish(challenge, ch.loginExporter()));
      assertThat(r.status()).isEqualTo(200);
      assertThat(JSON.readTree(r.body()).path("amr").toString()).isEqualTo("[\"key\",\"network\"]");
    }
  }

  @Test
  void replayedTranscriptIsRefusedOnTheSameAndOnANewConnection() throws Exception {
    byte[] recorded;
    try (AuthorityChannel ch = agent.channel()) {
      byte[] challenge = start(ch);
      recorded = finish(challenge, ch.loginExporter());
      assertThat(ch.postJson("/v1/login/finish", recorded).status()).isEqualTo(200);
      assertAuthenticationFailed(ch.postJson("/v1/login/finish", recorded));
    }
    try (AuthorityChannel other = agent.channel()) {
      assertAuthenticationFailed(other.postJson("/v1/login/finish", recorded));
    }
  }

  @Test
  void transcriptRelayedOntoAnotherConnectionIsRefused() throws Exception {
    try (AuthorityChannel victim = agent.channel(); AuthorityChannel relay = agent.channel()) {
      byte[] challenge = start(victim);
      // the victim signs over its own channel; the relay presents that on a connection of its own
      assertAuthenticationFailed(relay.postJson("/v1/login/finish", finish(challenge, victim.loginExporter())));
    }
    try (AuthorityChannel victim = agent.channel(); AuthorityChannel relay = agent.channel()) {
      byte[] challenge = start(victim);
      // even a transcript signed for the relay's channel fails: the session belongs to the victim's connection
      assertAuthenticationFailed(relay.postJson("/v1/login/finish", finish(challenge, relay.loginExporter())));
    }
  }

  @Test
  void transcriptWithTamperedEvidenceIsRefused() throws Exception {
    try (AuthorityChannel ch = agent.channel()) {
      byte[] challenge = start(ch);
      JsonNode body = JSON.readTree(finish(challenge, ch.loginExporter()));
      Map<String, Object> tampered = new LinkedHashMap<>();
      tampered.put("session", body.path("session").asText());
      tampered.put("evidence", Base64.getUrlEncoder().withoutPadding().encodeToString("{\"key\":{\"x\":1},\"network\":{}}".getBytes(StandardCharsets.UTF_8)));
      tampered.put("signature", body.path("signature").asText());
      assertAuthenticationFailed(ch.postJson("/v1/login/finish", JSON.writeValueAsBytes(tampered)));
    }
  }

  @Test
  void forgedSignatureByAnotherKeyIsRefused() throws Exception {
    Path other = tmp.resolve("other-key");
    SoftwareKey forger = SoftwareKeyProvider.generate(other, TestAuthority.PASSPHRASE);
    try (AuthorityChannel ch = agent.channel()) {
      byte[] challenge = start(ch);
      byte[] evidence = "{}".getBytes(StandardCharsets.UTF_8);
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("session", JSON.readTree(challenge).path("session").asText());
      body.put("evidence", Base64.getUrlEncoder().withoutPadding().encodeToString(evidence));
      body.put("signature", Base64.getUrlEncoder().withoutPadding()
          .encodeToString(forger.sign(LoginTranscript.bytes(challenge, ch.loginExporter(), evidence))));
      assertAuthenticationFailed(ch.postJson("/v1/login/finish", JSON.writeValueAsBytes(body)));
    }
  }

  @Test
  void unknownMachineGetsADecoyChallengeAndTheSameFailure() throws Exception {
    try (AuthorityChannel ch = agent.channel()) {
      AuthorityChannel.Response r = ch.postJson("/v1/login/start", JSON.writeValueAsBytes(Map.of("machine", "no-such-machine", "audience", "inventory")));
      assertThat(r.status()).isEqualTo(200);
      JsonNode real = JSON.readTree(start(ch));
      JsonNode decoy = JSON.readTree(r.body());
      assertThat(decoy.path("factors")).isEqualTo(real.path("factors"));
      assertThat(decoy.properties().stream().map(Map.Entry::getKey).toList())
          .isEqualTo(real.properties().stream().map(Map.Entry::getKey).toList());
      assertAuthenticationFailed(ch.postJson("/v1/login/finish", finish(r.body(), ch.loginExporter())));
    }
  }

  @Test
  void copiedKeyFromAnotherNetworkIsRefusedAndTheAuditSaysWhy() throws Exception {
    Agent thief = Agent.open(tmp.resolve("atk-a"), TestAuthority.PASSPHRASE, java.net.InetAddress.ofLiteral("127.0.0.99"));
    try (AuthorityChannel ch = thief.channel()) {
      byte[] challenge = start(ch);
      assertAuthenticationFailed(ch.postJson("/v1/login/finish", finish(challenge, ch.loginExporter())));
    }
    String[] last = {null};
    authority.authority.store().audit().scan(1, r -> {
      if (r.event().equals("login.denied")) last[0] = r.detail();
    });
    assertThat(last[0]).contains("127.0.0.99 outside bound networks").contains("\"factor\":\"key\",\"status\":\"PASS\"");
  }
}
