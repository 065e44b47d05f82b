package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.ssh.SshKeys;
import dev.m2mfa.interop.AdminClient.Reply;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input against {@code /v1/ssh/user-certificate} and {@code /v1/ssh/host-certificate}
 * over real TLS: missing or wrong tokens and proofs, malformed, oversized and unsupported keys.
 * Each is a problem+json refusal with a stable type that leaks nothing, and no certificate is
 * issued or recorded. A correct request on the same setup is issued, so the refusals are the
 * defences and not a broken endpoint.
 */
class SshEndpointBadInputTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String USER_CERT = "/v1/ssh/user-certificate";
  @TempDir static Path tmp;
  static TestAuthority authority;
  static Agent agent;
  static HttpClient http;
  static String sshKey;

  @BeforeAll
  static void start() throws Exception {
    authority = new TestAuthority(tmp);
    agent = authority.enroll(tmp, "ssh-bad", "127.0.0.1/32", "127.0.0.1");
    http = AdminClient.client(AdminClient.trusting(authority.authority.ca().root()));
    sshKey = SshKeys.ensureEd25519(tmp.resolve("key").resolve("id_ed25519"), "bad");
  }

  @AfterAll
  static void stop() {
    authority.close();
  }

  static URI uri(String path) {
    return AdminClient.uri(authority.port(), path);
  }

  static Reply post(String path, String body, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(AdminClient.TIMEOUT).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    headers.forEach(b::header);
    return AdminClient.send(http, b.build());
  }

  static String keyBody(String line) throws Exception {
    return JSON.writeValueAsString(Map.of("public_key", line));
  }

  /** A token for {@code audience} and matching DPoP headers for one POST to {@code path}. */
  static Map<String, String> auth(String audience, String path) throws Exception {
    String token = agent.login(audience).accessToken();
    Map<String, String> h = new LinkedHashMap<>();
    h.put("Authorization", "DPoP " + token);
    h.put("DPoP", agent.dpopProof("POST", uri(path), token));
    return h;
  }

  static int issued() {
    return authority.authority.store().sshCertificates().forMachine("ssh-bad", 1000).size();
  }

  static void assertProblem(Reply r, int status, String slug) throws Exception {
    assertThat(r.status()).as(r.body()).isEqualTo(status);
    assertThat(r.contentType()).isEqualTo("application/problem+json");
    JsonNode n = JSON.readTree(r.body());
    assertThat(n.path("type").asText()).isEqualTo("https://m2mfa.dev/problems/" + slug);
    assertThat(r.body()).doesNotContain("Exception").doesNotContain("at dev.").doesNotContain("/tmp").doesNotContain("SELECT");
  }

  @Test
  void noTokenIsRefused() throws Exception {
    int before = issued();
    assertProblem(post(USER_CERT, keyBody(sshKey), Map.of()), 401, "invalid-token");
    assertThat(issued()).isEqualTo(before);
  }

  @Test
  void tokenForAnotherAudienceIsRefused() throws Exception {
    int before = issued();
    assertProblem(post(USER_CERT, keyBody(sshKey), auth("inventory", USER_CERT)), 401, "invalid-token");
    assertThat(issued()).isEqualTo(before);
  }

  @Test
  void bearerWithoutDpopIsRefused() throws Exception {
    int before = issued();
    String token = agent.login("m2mfa:ssh").accessToken();
    assertProblem(post(USER_CERT, keyBody(sshKey), Map.of("Authorization", "Bearer " + token)), 401, "invalid-token");
    assertProblem(post(USER_CERT, keyBody(sshKey), Map.of("Authorization", "DPoP " + token)), 401, "invalid-token");
    assertThat(issued()).isEqualTo(before);
  }

  @Test
  void proofForAnotherRouteOrReplayedIsRefused() throws Exception {
    int before = issued();
    Map<String, String> forHost = auth("m2mfa:ssh", "/v1/ssh/host-certificate");
    assertProblem(post(USER_CERT, keyBody(sshKey), forHost), 401, "invalid-token");
    Map<String, String> good = auth("m2mfa:ssh", USER_CERT);
    assertThat(post(USER_CERT, keyBody(sshKey), good).status()).isEqualTo(200);
    assertThat(issued()).isEqualTo(before + 1);
    assertProblem(post(USER_CERT, keyBody(sshKey), good), 401, "invalid-token");
    assertThat(issued()).isEqualTo(before + 1);
  }

  @Test
  void malformedOversizedAndUnsupportedKeysAreRefused() throws Exception {
    int before = issued();
    String[] bad = {
        "",
        "not a key",
        "ssh-ed25519 !!!notbase64!!!",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBadLength",
        // declared ed25519, inner blob says ecdsa
        "ssh-ed25519 " + sshKeyOfType("ecdsa-sha2-nistp256"),
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP" + "A".repeat(40),
        "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIA==",
        sshKey + "\nssh-ed25519 second-line",
        "ssh-ed25519 " + "A".repeat(9000),
        rsaKeyLine(1024), // RSA below 2048 bits
    };
    for (String line : bad) {
      assertProblem(post(USER_CERT, keyBody(line), auth("m2mfa:ssh", USER_CERT)), 400, "unsupported-ssh-key");
    }
    // a certificate is not a key to certify
    String cert = certificateLine();
    assertProblem(post(USER_CERT, keyBody(cert), auth("m2mfa:ssh", USER_CERT)), 400, "unsupported-ssh-key");
    // wrong shapes and sizes, before any authentication
    assertProblem(post(USER_CERT, "{\"public_key\": 5}", Map.of()), 400, "unsupported-ssh-key");
    // the server answers before it read the body: sent raw (see BadInputTest.rawExchange)
    byte[] huge = ("{\"public_key\": \"" + "A".repeat(20_000) + "\"}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    assertProblem(rawPost(USER_CERT, huge), 413, "payload-too-large");
    assertProblem(post(USER_CERT, "[1,2]", Map.of()), 400, "invalid-request");
    assertProblem(post("/v1/ssh/host-certificate", "{\"public_keys\": []}", auth("m2mfa:ssh", "/v1/ssh/host-certificate")), 400,
        "invalid-request");
    assertThat(issued()).isEqualTo(before + 1); // only the certificateLine() call above
  }

  /**
   * POSTs {@code body} over a raw TLS socket and reads the early answer while a separate thread
   * writes (the JDK client reads only after sending everything, and the server closes after its
   * 413; see BadInputTest.rawExchange for the same approach).
   */
  static Reply rawPost(String path, byte[] body) throws Exception {
    byte[] head = ("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + authority.port() + "\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    var tls = AdminClient.trusting(authority.authority.ca().root());
    try (var s = (javax.net.ssl.SSLSocket) tls.getSocketFactory().createSocket()) {
      s.setSendBufferSize(1 << 20);
      s.setSoTimeout((int) AdminClient.TIMEOUT.toMillis());
      s.connect(new java.net.InetSocketAddress("127.0.0.1", authority.port()), (int) AdminClient.TIMEOUT.toMillis());
      var p = s.getSSLParameters();
      p.setProtocols(new String[] {"TLSv1.3"});
      s.setSSLParameters(p);
      s.startHandshake();
      var out = s.getOutputStream();
      Thread writer = Thread.ofVirtual().start(() -> {
        try {
          out.write(head);
          out.write(body);
          out.flush();
        } catch (java.io.IOException expected) {
          // the server may close before reading it all
        }
      });
      byte[] all = s.getInputStream().readNBytes(64 * 1024);
      writer.join(AdminClient.TIMEOUT.toMillis());
      String text = new String(all, java.nio.charset.StandardCharsets.UTF_8);
      int split = text.indexOf("\r\n\r\n");
      String type = null;
      for (String l : text.substring(0, split).split("\r\n")) {
        if (l.toLowerCase(java.util.Locale.ROOT).startsWith("content-type:")) type = l.substring(13).strip();
      }
      return new Reply(Integer.parseInt(text.substring(9, 12)), type, text.substring(split + 4));
    }
  }

  static String rsaKeyLine(int bits) throws Exception {
    var g = java.security.KeyPairGenerator.getInstance("RSA");
    g.initialize(bits);
    return org.apache.sshd.common.config.keys.PublicKeyEntry.toString(g.generateKeyPair().getPublic());
  }

  static String sshKeyOfType(String type) throws Exception {
    var g = java.security.KeyPairGenerator.getInstance("EC");
    g.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));
    String line = org.apache.sshd.common.config.keys.PublicKeyEntry.toString(g.generateKeyPair().getPublic());
    assertThat(line).startsWith(type + " ");
    return line.split(" ")[1];
  }

  static String certificateLine() throws Exception {
    Reply r = post(USER_CERT, keyBody(sshKey), auth("m2mfa:ssh", USER_CERT));
    assertThat(r.status()).isEqualTo(200);
    return JSON.readTree(r.body()).path("certificate").asText();
  }

  @Test
  void validTokenOfAMachineRevokedSinceIsRefused() throws Exception {
    Agent r = authority.enroll(tmp, "ssh-bad-r", "127.0.0.1/32", "127.0.0.1");
    String token = r.login("m2mfa:ssh").accessToken();
    authority.authority.revocations().revoke("ssh-bad-r", "test", "test");
    Reply reply = post(USER_CERT, keyBody(sshKey), Map.of("Authorization", "DPoP " + token, "DPoP", r.dpopProof("POST", uri(USER_CERT), token)));
    assertProblem(reply, 401, "invalid-token");
    assertThat(authority.authority.store().sshCertificates().forMachine("ssh-bad-r", 10)).isEmpty();
  }

  @Test
  void publicRoutesServeTheCaKeysAndAKrl() throws Exception {
    Reply user = AdminClient.get(http, authority.port(), "/v1/ssh/user-ca.pub");
    assertThat(user.status()).isEqualTo(200);
    assertThat(user.body()).startsWith("ssh-ed25519 ");
    Reply host = AdminClient.get(http, authority.port(), "/v1/ssh/host-ca.pub");
    assertThat(host.body()).startsWith("ssh-ed25519 ").isNotEqualTo(user.body());
    Reply krl = AdminClient.get(http, authority.port(), "/v1/ssh/krl");
    assertThat(krl.status()).isEqualTo(200);
    assertThat(krl.body()).startsWith("SSHKRL\n");
    assertProblem(post("/v1/ssh/krl", "{}", Map.of()), 405, "method-not-allowed");
    assertProblem(AdminClient.get(http, authority.port(), "/v1/ssh/nothing"), 404, "not-found");
  }
}
