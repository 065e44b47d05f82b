package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The revocation stream on the wire: snapshot first, resume after a sequence number, heartbeats. */
class RevocationStreamTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path tmp;
  static TestAuthority authority;
  static HttpClient http;

  @BeforeAll
  static void start() throws Exception {
    authority = new TestAuthority(tmp);
    for (String n : new String[] {"rs-a", "rs-b", "rs-c"}) authority.enroll(tmp, n, "127.0.0.12/32", "127.0.0.12");
    SSLContext ctx = dev.m2mfa.api.pki.TlsContexts.create(authority.authority.ca().root(), null, null);
    http = HttpClient.newBuilder().sslContext(ctx).version(HttpClient.Version.HTTP_1_1).build();
  }

  @AfterAll
  static void stop() {
    http.close();
    authority.close();
  }

  static BufferedReader open(String query) throws Exception {
    HttpResponse<java.io.InputStream> r = http.send(HttpRequest.newBuilder(
        URI.create("https://127.0.0.1:" + authority.port() + "/v1/revocations/stream" + query)).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/x-ndjson");
    return new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
  }

  @Test
  void snapshotThenLiveEventsThenResume() throws Exception {
    authority.authority.revocations().revoke("rs-a", "one", "test");
    long seqA;
    try (BufferedReader in = open("")) {
      JsonNode snap = JSON.readTree(in.readLine());
      assertThat(snap.path("type").asText()).isEqualTo("snapshot");
      assertThat(snap.path("revoked").toString()).contains("spiffe://m2mfa.local/machine/rs-a");
      seqA = snap.path("seq").asLong();
      authority.authority.revocations().revoke("rs-b", "two", "test");
      JsonNode next = nextNonHeartbeat(in);
      assertThat(next.path("type").asText()).isEqualTo("revoke");
      assertThat(next.path("sub").asText()).isEqualTo("spiffe://m2mfa.local/machine/rs-b");
      assertThat(next.path("seq").asLong()).isEqualTo(seqA + 1);
    }
    authority.authority.revocations().revoke("rs-c", "three", "test");
    authority.authority.revocations().reinstate("rs-a", "back", "test");
    try (BufferedReader in = open("?after=" + (seqA + 1))) {
      JsonNode c = nextNonHeartbeat(in);
      assertThat(c.path("type").asText()).isEqualTo("revoke");
      assertThat(c.path("seq").asLong()).isEqualTo(seqA + 2);
      JsonNode a = nextNonHeartbeat(in);
      assertThat(a.path("type").asText()).isEqualTo("reinstate");
      assertThat(a.path("sub").asText()).endsWith("/rs-a");
    }
  }

  @Test
  void idleStreamCarriesHeartbeats() throws Exception {
    long latest = authority.authority.revocationHub().latestSeq();
    try (BufferedReader in = open("?after=" + latest)) {
      if (latest == 0) assertThat(JSON.readTree(in.readLine()).path("type").asText()).isEqualTo("snapshot");
      for (int i = 0; i < 3; i++) {
        JsonNode hb = JSON.readTree(in.readLine());
        assertThat(hb.path("type").asText()).isEqualTo("heartbeat");
        assertThat(hb.path("at").asLong()).isPositive();
      }
    }
  }

  @Test
  void badResumePointIsAProblem() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(
        URI.create("https://127.0.0.1:" + authority.port() + "/v1/revocations/stream?after=abc")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/problem+json");
  }

  static JsonNode nextNonHeartbeat(BufferedReader in) throws Exception {
    while (true) {
      JsonNode n = JSON.readTree(in.readLine());
      if (!n.path("type").asText().equals("heartbeat")) return n;
    }
  }
}
