package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.authority.store.MachineRecord;
import dev.m2mfa.interop.AdminClient.Reply;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.InetAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile and malformed input against every endpoint of a real authority over TLS. Every
 * refusal must be a 4xx RFC 9457 problem that leaks nothing, change no state (no machine, no
 * join token created or consumed, no revocation), and leave the server serving.
 */
class BadInputTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PROBLEM_BASE = "https://m2mfa.dev/problems/";
  private static final String VICTIM = "victim";
  private static final AtomicInteger NAMES = new AtomicInteger();

  @TempDir static Path tmp;
  static TestAuthority authority;
  static SSLContext publicTls;
  static SSLContext adminTls;
  static SSLContext machineTls;
  static KeyPair rsa;

  @BeforeAll
  static void start() throws Exception {
    authority = new TestAuthority(tmp);
    publicTls = AdminClient.trusting(authority.authority.ca().root());
    adminTls = AdminClient.admin(authority.dir);
    Agent victim = authority.enroll(tmp, VICTIM, "127.0.0.1/32", "127.0.0.1");
    machineTls = victim.tlsContext();
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    rsa = g.generateKeyPair();
  }

  @AfterAll
  static void stop() {
    if (authority != null) authority.close();
  }

  // ------------------------------------------------------------------ endpoints and cases

  enum Endpoint {
    ENROLL("/v1/enroll", "POST", false),
    LOGIN_START("/v1/login/start", "POST", false),
    LOGIN_FINISH("/v1/login/finish", "POST", false),
    LOGIN_ACK("/v1/login/ack", "POST", false),
    JOIN_TOKENS("/v1/admin/join-tokens", "POST", true),
    REVOKE("/v1/admin/machines/" + VICTIM + "/revoke", "POST", true),
    UNLOCK("/v1/admin/machines/" + VICTIM + "/unlock", "POST", true),
    MACHINES("/v1/admin/machines", "GET", true),
    REVOCATIONS("/v1/revocations", "GET", false),
    JWKS("/.well-known/jwks.json", "GET", false),
    UNKNOWN("/v1/no-such-endpoint", "GET", false);

    final String path;
    final String method;
    final boolean admin;

    Endpoint(String path, String method, boolean admin) {
      this.path = path;
      this.method = method;
      this.admin = admin;
    }

    boolean takesBody() {
      return method.equals("POST");
    }
  }

  /** What a bad request is wrong about; the status a body-taking endpoint must answer. */
  enum Kind {
    MALFORMED(400, "invalid-request"),
    NOT_AN_OBJECT(400, "invalid-request"),
    DUPLICATE_KEYS(400, "invalid-request"),
    TRAILING_DATA(400, "invalid-request"),
    WRONG_TYPE(400, "invalid-request"),
    OVERSIZED(413, "payload-too-large"),
    CONTENT_TYPE(415, "unsupported-media-type"),
    METHOD(405, "method-not-allowed"),
    HEADER(431, "request-header-too-large");

    final int status;
    final String slug;

    Kind(int status, String slug) {
      this.status = status;
      this.slug = slug;
    }
  }

  /** Per-case material: for enroll a fresh, valid join token and CSR, so a lenient server would enroll. */
  record Fixture(String enrollName, String joinToken, String csr, String newName) {
    static Fixture create(Endpoint ep) {
      int n = NAMES.incrementAndGet();
      if (ep == Endpoint.ENROLL) {
        String name = "bi-" + n;
        return new Fixture(name, authority.joinToken(name, "127.0.0.1/32"), BadInputTest.csr(KeyFiles.newP256(), "SHA256withECDSA"), "x-" + n);
      }
      return new Fixture(null, null, null, "jt-" + n);
    }

    /** A body the endpoint would accept (or at least parse) if nothing else were wrong. */
    Map<String, Object> validBody(Endpoint ep) {
      Map<String, Object> m = new LinkedHashMap<>();
      switch (ep) {
        case ENROLL -> {
          m.put("join_token", joinToken);
          m.put("csr", csr);
        }
        case LOGIN_START -> {
          m.put("machine", VICTIM);
          m.put("audience", "svc");
        }
        case LOGIN_FINISH -> {
          m.put("session", "AAAAAAAAAAAAAAAAAAAAAA");
          m.put("evidence", "e30");
          m.put("signature", "AAAA");
        }
        case JOIN_TOKENS -> {
          m.put("name", newName);
          m.put("class", "default");
          m.put("cidrs", List.of("127.0.0.0/30"));
          m.put("ttl_seconds", 600);
        }
        case LOGIN_ACK -> {
          m.put("machine", VICTIM);
          m.put("secret", "A".repeat(43));
        }
        case REVOKE, UNLOCK -> m.put("reason", "bad input test");
        default -> m.put("probe", "x");
      }
      return m;
    }
  }

  /** One bad request: how to build it from the fixture. */
  record Bad(Endpoint ep, Kind kind, String label, String method, String contentType, Function<Fixture, byte[]> body,
      boolean chunked, boolean hugeHeader) {
    @Override
    public String toString() {
      return ep + " " + ep.path + ": " + label;
    }

    int expectedStatus() {
      if (kind == Kind.HEADER) return 431;
      if (ep == Endpoint.UNKNOWN) return 404;
      if (!ep.takesBody()) return 405;
      return kind.status;
    }

    String expectedSlug() {
      return switch (expectedStatus()) {
        case 404 -> "not-found";
        case 405 -> "method-not-allowed";
        default -> kind.slug;
      };
    }
  }

  static Stream<Bad> badRequests() {
    List<Bad> out = new ArrayList<>();
    for (Endpoint ep : Endpoint.values()) {
      // bodies go to POST: for GET-only endpoints a body-carrying POST is itself the wrong method
      String m = "POST";
      Function<Fixture, String> valid = f -> json(f.validBody(ep));
      body(out, ep, Kind.MALFORMED, "truncated JSON", f -> valid.apply(f).substring(0, valid.apply(f).length() - 1));
      body(out, ep, Kind.MALFORMED, "single-quoted JSON", f -> valid.apply(f).replace('"', '\''));
      body(out, ep, Kind.MALFORMED, "not JSON at all", f -> "join_token=" + f.joinToken + "&csr=x");
      body(out, ep, Kind.MALFORMED, "empty body", f -> "");
      out.add(new Bad(ep, Kind.MALFORMED, "invalid UTF-8 in a key", m, "application/json", f -> {
        byte[] v = valid.apply(f).getBytes(StandardCharsets.UTF_8);
        byte[] bad = new byte[v.length + 4];
        System.arraycopy(v, 0, bad, 0, 2); // {"
        bad[2] = (byte) 0xC3;
        bad[3] = (byte) 0x28;
        bad[4] = (byte) 0xFF;
        bad[5] = (byte) 0xFE;
        System.arraycopy(v, 2, bad, 6, v.length - 2);
        return bad;
      }, false, false));
      body(out, ep, Kind.NOT_AN_OBJECT, "JSON array holding the object", f -> "[" + valid.apply(f) + "]");
      body(out, ep, Kind.NOT_AN_OBJECT, "JSON string", f -> "\"" + f.newName + "\"");
      body(out, ep, Kind.NOT_AN_OBJECT, "JSON null", f -> "null");
      body(out, ep, Kind.DUPLICATE_KEYS, "duplicate key, same value", f -> duplicateFirstKey(f.validBody(ep), false));
      body(out, ep, Kind.DUPLICATE_KEYS, "duplicate key, other value", f -> duplicateFirstKey(f.validBody(ep), true));
      body(out, ep, Kind.TRAILING_DATA, "trailing garbage", f -> valid.apply(f) + " garbage");
      body(out, ep, Kind.TRAILING_DATA, "a second JSON object", f -> valid.apply(f) + valid.apply(f));
      body(out, ep, Kind.TRAILING_DATA, "a stray closing brace", f -> valid.apply(f) + "}");
      body(out, ep, Kind.TRAILING_DATA, "a trailing number", f -> valid.apply(f) + " 1");
      for (var wt : wrongTypes(ep).entrySet()) {
        body(out, ep, Kind.WRONG_TYPE, "wrong type: " + wt.getKey(), f -> json(wt.getValue().apply(f.validBody(ep))));
      }
      String pad = "x".repeat(70 * 1024);
      Function<Fixture, byte[]> padded = f -> {
        Map<String, Object> b = f.validBody(ep);
        b.put("pad", pad);
        return json(b).getBytes(StandardCharsets.UTF_8);
      };
      out.add(new Bad(ep, Kind.OVERSIZED, "70 KiB body with Content-Length", m, "application/json", padded, false, false));
      out.add(new Bad(ep, Kind.OVERSIZED, "70 KiB body chunked, no Content-Length", m, "application/json", padded, true, false));
      out.add(new Bad(ep, Kind.OVERSIZED, "valid JSON after 70 KiB of whitespace", m, "application/json",
          f -> (" ".repeat(70 * 1024) + valid.apply(f)).getBytes(StandardCharsets.UTF_8), false, false));
      Function<Fixture, byte[]> validBytes = f -> valid.apply(f).getBytes(StandardCharsets.UTF_8);
      out.add(new Bad(ep, Kind.CONTENT_TYPE, "Content-Type text/plain", m, "text/plain", validBytes, false, false));
      out.add(new Bad(ep, Kind.CONTENT_TYPE, "no Content-Type", m, null, validBytes, false, false));
      out.add(new Bad(ep, Kind.CONTENT_TYPE, "Content-Type form-urlencoded", m, "application/x-www-form-urlencoded", validBytes, false, false));
      List<String> wrongMethods = ep.takesBody() ? List.of("GET", "PUT", "DELETE", "PATCH") : List.of("POST", "PUT", "DELETE");
      for (String wm : wrongMethods) {
        out.add(new Bad(ep, Kind.METHOD, "method " + wm, wm, "application/json", validBytes, false, false));
      }
      out.add(new Bad(ep, Kind.HEADER, "a 20 KiB header value", ep.method, ep.takesBody() ? "application/json" : null,
          ep.takesBody() ? validBytes : null, false, true));
    }
    return out.stream();
  }

  private static void body(List<Bad> out, Endpoint ep, Kind kind, String label, Function<Fixture, String> body) {
    out.add(new Bad(ep, kind, label, "POST", "application/json", f -> body.apply(f).getBytes(StandardCharsets.UTF_8), false, false));
  }

  /** Field-type mutations of the endpoint's valid body. */
  private static Map<String, UnaryOperator<Map<String, Object>>> wrongTypes(Endpoint ep) {
    Map<String, UnaryOperator<Map<String, Object>>> m = new LinkedHashMap<>();
    switch (ep) {
      case ENROLL -> {
        m.put("join_token number", set("join_token", 12345));
        m.put("join_token array", b -> with(b, "join_token", List.of(b.get("join_token"))));
        m.put("join_token object", b -> with(b, "join_token", Map.of("token", b.get("join_token"))));
        m.put("join_token boolean", set("join_token", true));
        m.put("csr number", set("csr", 7));
        m.put("csr object", b -> with(b, "csr", Map.of("pem", b.get("csr"))));
        m.put("csr array", b -> with(b, "csr", List.of(b.get("csr"))));
        m.put("csr missing", b -> without(b, "csr"));
        m.put("join_token null", set("join_token", null));
      }
      case LOGIN_START -> {
        m.put("machine number", set("machine", 42));
        m.put("machine object", set("machine", Map.of("name", VICTIM)));
        m.put("audience array", set("audience", List.of("svc")));
        m.put("audience missing", b -> without(b, "audience"));
      }
      case LOGIN_FINISH -> {
        m.put("session number", set("session", 1));
        m.put("evidence object", set("evidence", Map.of("key", Map.of())));
        m.put("signature array", set("signature", List.of(1, 2)));
        m.put("session missing", b -> without(b, "session"));
      }
      case JOIN_TOKENS -> {
        m.put("name number", set("name", 7));
        m.put("class array", set("class", List.of("default")));
        m.put("cidrs string", set("cidrs", "127.0.0.0/30"));
        m.put("cidrs of numbers", set("cidrs", List.of(1)));
        m.put("cidrs object", set("cidrs", Map.of("net", "127.0.0.0/30")));
        m.put("ttl_seconds text", set("ttl_seconds", "ten minutes"));
        m.put("ttl_seconds boolean", set("ttl_seconds", true));
        m.put("ttl_seconds array", set("ttl_seconds", List.of(600)));
        m.put("ttl_seconds object", set("ttl_seconds", Map.of("s", 600)));
      }
      case LOGIN_ACK -> {
        m.put("machine number", set("machine", 42));
        m.put("secret array", set("secret", List.of("A".repeat(43))));
        m.put("secret object", set("secret", Map.of("s", "x")));
        m.put("secret missing", b -> without(b, "secret"));
      }
      case REVOKE, UNLOCK -> {
        m.put("reason number", set("reason", 5));
        m.put("reason array", set("reason", List.of("x")));
        m.put("reason object", set("reason", Map.of("why", "x")));
      }
      default -> m.put("probe array", set("probe", List.of(1)));
    }
    return m;
  }

  private static UnaryOperator<Map<String, Object>> set(String field, Object value) {
    return b -> with(b, field, value);
  }

  private static Map<String, Object> with(Map<String, Object> b, String field, Object value) {
    b.put(field, value);
    return b;
  }

  private static Map<String, Object> without(Map<String, Object> b, String field) {
    b.remove(field);
    return b;
  }

  private static String duplicateFirstKey(Map<String, Object> body, boolean otherValue) {
    var first = body.entrySet().iterator().next();
    Object dup = otherValue ? "m2mfa-other-value" : first.getValue();
    String inner = json(body);
    return inner.substring(0, inner.length() - 1) + "," + json(Map.of(first.getKey(), dup)).substring(1);
  }

  // ------------------------------------------------------------------ the tests

  @ParameterizedTest(name = "{0}")
  @MethodSource("badRequests")
  void badRequestIsAProblemAndChangesNothing(Bad bad) throws Exception {
    Fixture f = Fixture.create(bad.ep);
    State before = State.now();
    byte[] body = bad.body == null ? null : bad.body.apply(f);
    SSLContext tls = bad.ep.admin ? adminTls : publicTls;
    Reply r;
    if (bad.kind == Kind.OVERSIZED || bad.kind == Kind.HEADER) {
      // the server answers these before it has read the whole request; see rawExchange
      List<String> headers = new ArrayList<>();
      if (bad.contentType != null) headers.add("Content-Type: " + bad.contentType);
      if (bad.hugeHeader) headers.add("X-Filler: " + "a".repeat(20 * 1024));
      r = rawExchange(tls, bad.method, bad.ep.path, headers, body, bad.chunked);
    } else {
      HttpRequest.Builder rb = HttpRequest.newBuilder(AdminClient.uri(authority.port(), bad.ep.path)).timeout(AdminClient.TIMEOUT);
      if (body == null) rb.method(bad.method, HttpRequest.BodyPublishers.noBody());
      else rb.method(bad.method, HttpRequest.BodyPublishers.ofByteArray(body));
      if (bad.contentType != null) rb.header("Content-Type", bad.contentType);
      try (HttpClient c = AdminClient.client(tls)) {
        r = AdminClient.send(c, rb.build());
      }
    }

    try {
      assertProblem(r, bad.expectedStatus(), bad.expectedSlug(), f.joinToken);
      assertNothingChanged(before);
      assertServing();
      if (bad.ep == Endpoint.ENROLL) assertJoinTokenStillWorks(f.enrollName, f.joinToken, before);
    } catch (AssertionError e) {
      throw new AssertionError("[" + bad + "] " + e.getMessage(), e);
    }
  }

  static Stream<Arguments> garbageCsrs() throws Exception {
    Random random = new Random(42);
    List<Arguments> out = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      byte[] junk = new byte[200 + random.nextInt(300)];
      random.nextBytes(junk);
      out.add(Arguments.of("random base64 in CSR armor #" + i, armor("CERTIFICATE REQUEST", junk)));
    }
    String valid = csr(KeyFiles.newP256(), "SHA256withECDSA");
    byte[] der = Pem.csr(valid).getEncoded();
    byte[] truncated = java.util.Arrays.copyOf(der, der.length / 2);
    out.add(Arguments.of("truncated DER in CSR armor", armor("CERTIFICATE REQUEST", truncated)));
    out.add(Arguments.of("a PEM certificate instead of a CSR", Pem.encode(authority.authority.ca().root())));
    out.add(Arguments.of("a CSR with an RSA key", csr(rsa, "SHA256withRSA")));
    KeyPairGenerator g384 = KeyPairGenerator.getInstance("EC");
    g384.initialize(new ECGenParameterSpec("secp384r1"));
    KeyPair p384 = g384.generateKeyPair();
    out.add(Arguments.of("a CSR with a P-384 key", csr(p384, "SHA384withECDSA")));
    byte[] tampered = der.clone();
    tampered[tampered.length - 1] ^= 0x01; // last byte of the ECDSA signature's s
    out.add(Arguments.of("a CSR whose signature was tampered", armor("CERTIFICATE REQUEST", tampered)));
    byte[] subjectTampered = der.clone();
    int cn = indexOf(subjectTampered, "m2mfa-agent".getBytes(StandardCharsets.US_ASCII));
    subjectTampered[cn] = 'M';
    out.add(Arguments.of("a CSR whose signed content was tampered", armor("CERTIFICATE REQUEST", subjectTampered)));
    out.add(Arguments.of("a CSR in PUBLIC KEY armor", armor("PUBLIC KEY", der)));
    out.add(Arguments.of("plain text", "this is not a certificate signing request"));
    out.add(Arguments.of("empty string", ""));
    out.add(Arguments.of("a CSR padded past 16 KiB", valid + "\n".repeat(17 * 1024)));
    return out.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("garbageCsrs")
  void garbageCsrWithAGoodJoinTokenIsRefusedAndDoesNotConsumeIt(String label, String csr) throws Exception {
    String name = "gc-" + NAMES.incrementAndGet();
    String token = authority.joinToken(name, "127.0.0.1/32");
    State before = State.now();
    Reply r = enroll(publicTls, null, token, csr);
    assertProblem(r, 400, "invalid-request", token);
    assertNothingChanged(before);
    assertServing();
    assertJoinTokenStillWorks(name, token, before);
  }

  static Stream<Arguments> garbageJoinTokens() {
    return Stream.of(
        Arguments.of("empty", (Function<String, String>) good -> "", 401),
        Arguments.of("prefix only", (Function<String, String>) good -> "m2mfa-join-", 401),
        Arguments.of("well-formed but unknown", (Function<String, String>) good -> "m2mfa-join-" + "A".repeat(43), 401),
        Arguments.of("good token, last character changed", (Function<String, String>) good -> good.substring(0, good.length() - 1)
            + (good.endsWith("A") ? "B" : "A"), 401),
        Arguments.of("good token plus a space", (Function<String, String>) good -> good + " ", 401),
        Arguments.of("good token upper-cased", (Function<String, String>) good -> good.toUpperCase(Locale.ROOT), 401),
        Arguments.of("good token with a NUL before it", (Function<String, String>) good -> "\u0000" + good, 401),
        Arguments.of("SQL injection", (Function<String, String>) good -> "' OR '1'='1' --", 401),
        Arguments.of("non-ASCII", (Function<String, String>) good -> "m2mfa-join-\u00fc\u2603\uD83D\uDE00", 401),
        Arguments.of("200 characters", (Function<String, String>) good -> "x".repeat(200), 401),
        Arguments.of("201 characters", (Function<String, String>) good -> "x".repeat(201), 400),
        Arguments.of("a 60 KiB token (body under the limit)", (Function<String, String>) good -> "y".repeat(60 * 1024), 400));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("garbageJoinTokens")
  void garbageJoinTokenIsRefusedAndTheRealOneStillWorks(String label, Function<String, String> garble, int status) throws Exception {
    String name = "gt-" + NAMES.incrementAndGet();
    String token = authority.joinToken(name, "127.0.0.1/32");
    String garbage = garble.apply(token);
    State before = State.now();
    Reply r = enroll(publicTls, null, garbage, csr(KeyFiles.newP256(), "SHA256withECDSA"));
    assertProblem(r, status, status == 401 ? "authentication-failed" : "invalid-request", token, garbage.length() >= 8 ? garbage : null);
    assertNothingChanged(before);
    assertServing();
    assertJoinTokenStillWorks(name, token, before);
  }

  @Test
  void reusedJoinTokenIsRefused() throws Exception {
    String name = "reuse-" + NAMES.incrementAndGet();
    String token = authority.joinToken(name, "127.0.0.1/32");
    State before = State.now();
    Reply first = enroll(publicTls, null, token, csr(KeyFiles.newP256(), "SHA256withECDSA"));
    assertThat(first.status()).as(first.body()).isEqualTo(200);
    State afterFirst = State.now();
    assertThat(afterFirst.machines).isEqualTo(before.machines + 1);

    Reply again = enroll(publicTls, null, token, csr(KeyFiles.newP256(), "SHA256withECDSA"));
    assertProblem(again, 401, "authentication-failed", token);
    assertNothingChanged(afterFirst);
    assertServing();
  }

  @Test
  void enrollmentFromOutsideTheTokensNetworkIsRefusedAndDoesNotConsumeIt() throws Exception {
    String name = "cidr-" + NAMES.incrementAndGet();
    String token = authority.joinToken(name, "127.0.0.4/32");
    State before = State.now();
    Reply outside = enroll(publicTls, InetAddress.ofLiteral("127.0.0.5"), token, csr(KeyFiles.newP256(), "SHA256withECDSA"));
    assertProblem(outside, 401, "authentication-failed", token);
    assertNothingChanged(before);
    assertServing();

    Reply inside = enroll(publicTls, InetAddress.ofLiteral("127.0.0.4"), token, csr(KeyFiles.newP256(), "SHA256withECDSA"));
    assertThat(inside.status()).as(inside.body()).isEqualTo(200);
    assertThat(JSON.readTree(inside.body()).path("name").asText()).isEqualTo(name);
    MachineRecord m = authority.authority.store().machines().find(name).orElseThrow();
    assertThat(m.networks()).isEqualTo("127.0.0.4/32");
    assertThat(State.now().machines).isEqualTo(before.machines + 1);
  }

  /** Admin endpoints, each with a request an admin would be granted. */
  static Stream<Arguments> adminRequests() {
    List<Arguments> out = new ArrayList<>();
    for (String who : List.of("no client certificate", "a machine certificate")) {
      out.add(Arguments.of(who, "POST", "/v1/admin/join-tokens", "{\"name\":\"adm-x\",\"class\":\"default\",\"cidrs\":[\"127.0.0.0/30\"],\"ttl_seconds\":600}"));
      out.add(Arguments.of(who, "POST", "/v1/admin/machines/" + VICTIM + "/revoke", "{\"reason\":\"not an admin\"}"));
      out.add(Arguments.of(who, "POST", "/v1/admin/machines/" + VICTIM + "/reinstate", "{\"reason\":\"not an admin\"}"));
      out.add(Arguments.of(who, "GET", "/v1/admin/machines", null));
      out.add(Arguments.of(who, "GET", "/v1/admin/machines/" + VICTIM, null));
      out.add(Arguments.of(who, "GET", "/v1/admin/audit/verify", null));
      out.add(Arguments.of(who, "POST", "/v1/admin/signing-keys/rotate", "{}"));
      out.add(Arguments.of(who, "POST", "/v1/admin/no-such-thing", "{}"));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}: {1} {2}")
  @MethodSource("adminRequests")
  void adminEndpointsRefuseNonAdmins(String who, String method, String path, String body) throws Exception {
    SSLContext tls = who.startsWith("no") ? publicTls : machineTls;
    State before = State.now();
    String jwks = jwks();
    HttpRequest.Builder rb = HttpRequest.newBuilder(AdminClient.uri(authority.port(), path)).timeout(AdminClient.TIMEOUT);
    if (body == null) rb.GET();
    else rb.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
    Reply r;
    try (HttpClient c = AdminClient.client(tls)) {
      r = AdminClient.send(c, rb.build());
    }
    assertProblem(r, 403, "forbidden");
    assertThat(r.body()).doesNotContain(VICTIM).doesNotContain("spiffe://");
    assertNothingChanged(before);
    assertThat(jwks()).as("signing keys unchanged").isEqualTo(jwks);
    assertServing();
  }

  @Test
  void theValidRequestsTheBadCasesAreDerivedFromAreAccepted() throws Exception {
    // positive control: without the defect, each body the bad cases mutate is accepted, so a
    // refusal above is caused by the defect and not by a body that was never valid
    authority.enroll(tmp, "control", "127.0.0.1/32", "127.0.0.1");
    for (Endpoint ep : Endpoint.values()) {
      Fixture f = Fixture.create(ep);
      String path = ep == Endpoint.REVOKE ? "/v1/admin/machines/control/revoke" : ep.path;
      Reply r;
      try (HttpClient c = AdminClient.client(ep.admin ? adminTls : publicTls)) {
        r = ep.takesBody() ? AdminClient.postJson(c, authority.port(), path, json(f.validBody(ep))) : AdminClient.get(c, authority.port(), path);
      }
      switch (ep) {
        case JOIN_TOKENS -> assertThat(r.status()).as(ep + " " + r.body()).isEqualTo(201);
        case LOGIN_FINISH -> assertProblem(r, 401, "authentication-failed"); // well-formed, unknown session
        case LOGIN_ACK -> assertProblem(r, 401, "authentication-failed"); // well-formed, a secret no chain issued
        case UNLOCK -> assertProblem(r, 409, "conflict"); // well-formed, but the machine is not locked
        case UNKNOWN -> assertProblem(r, 404, "not-found");
        default -> assertThat(r.status()).as(ep + " " + r.body()).isEqualTo(200);
      }
    }
    assertThat(authority.authority.store().machines().find("control").orElseThrow().status()).isEqualTo(MachineRecord.REVOKED);
  }

  /**
   * A join token's CIDRs must be numeric. {@code Cidr.parse} only checks that the address part
   * consists of hex digits, ':' and '.', so host names such as {@code cafe} or {@code dead.beef}
   * pass the check and are then resolved by {@code InetAddress.getByName}: an admin typo becomes
   * a DNS lookup and binds the token to whatever the name resolves to. Run against a child
   * authority whose resolver is a hosts file mapping those names, so the lookup would succeed.
   */
  @Test
  void aHostNameInJoinTokenCidrsIsRefusedNotResolved(@TempDir Path dir) throws Exception {
    Path authorityDir = dir.resolve("authority");
    dev.m2mfa.authority.Authority.init(authorityDir, dev.m2mfa.authority.AuthorityConfig.defaults(), TestAuthority.PASSPHRASE, "ops");
    Path hosts = dir.resolve("hosts");
    java.nio.file.Files.writeString(hosts, "127.0.0.1 cafe\n127.0.0.1 dead.beef\n");
    Path log = dir.resolve("authority.log");
    Process child = DurabilityTest.startAuthority(authorityDir, DurabilityTest.passphraseFile(dir), log,
        "-Djdk.net.hosts.file=" + hosts);
    try {
      int port = DurabilityTest.awaitReady(child, log);
      SSLContext admin = AdminClient.admin(authorityDir);
      List<String> refused = new ArrayList<>();
      List<String> accepted = new ArrayList<>();
      for (String cidr : List.of("cafe", "dead.beef", "cafe/32")) {
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("name", "dns-" + NAMES.incrementAndGet());
        b.put("class", "default");
        b.put("cidrs", List.of(cidr));
        b.put("ttl_seconds", 600);
        try (HttpClient c = AdminClient.client(admin)) {
          Reply r = AdminClient.postJson(c, port, "/v1/admin/join-tokens", json(b));
          (r.status() == 400 ? refused : accepted).add(cidr + " -> " + r.status());
        }
      }
      assertThat(accepted).as("host names accepted as join token networks (resolved through DNS)").isEmpty();
      assertThat(refused).hasSize(3);
    } finally {
      child.destroyForcibly();
      child.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  @Test
  void theAdminCredentialItselfIsAccepted() throws Exception {
    // the positive control for the 403s above: the same client code with the admin certificate works
    try (HttpClient c = AdminClient.client(adminTls)) {
      Reply r = AdminClient.get(c, authority.port(), "/v1/admin/machines/" + VICTIM);
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(JSON.readTree(r.body()).path("status").asText()).isEqualTo("active");
    }
  }

  // ------------------------------------------------------------------ helpers

  /** What the tests watch for unwanted change. */
  record State(long machines, long joinTokens, long usedJoinTokens, long revocationSeq, String victimStatus) {
    static State now() throws Exception {
      var store = authority.authority.store();
      long[] jt = joinTokenCounts();
      return new State(store.machines().count(), jt[0], jt[1], store.revocations().latestSeq(),
          store.machines().find(VICTIM).map(MachineRecord::status).orElse(null));
    }
  }

  private static long[] joinTokenCounts() throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + authority.dir.resolve("m2mfa.db").toAbsolutePath());
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT COUNT(*), COUNT(used_at) FROM join_tokens")) {
      rs.next();
      return new long[] {rs.getLong(1), rs.getLong(2)};
    }
  }

  private static void assertNothingChanged(State before) throws Exception {
    State after = State.now();
    assertThat(after.machines).as("machines stored").isEqualTo(before.machines);
    assertThat(after.joinTokens).as("join tokens stored").isEqualTo(before.joinTokens);
    assertThat(after.usedJoinTokens).as("join tokens consumed").isEqualTo(before.usedJoinTokens);
    assertThat(after.revocationSeq).as("revocation sequence").isEqualTo(before.revocationSeq);
    assertThat(after.victimStatus).as("status of machine " + VICTIM).isEqualTo(MachineRecord.ACTIVE);
  }

  private static String jwks() throws Exception {
    try (HttpClient c = AdminClient.client(publicTls)) {
      Reply r = AdminClient.get(c, authority.port(), "/.well-known/jwks.json");
      assertThat(r.status()).isEqualTo(200);
      return r.body();
    }
  }

  private static void assertServing() throws Exception {
    try (HttpClient c = AdminClient.client(publicTls)) {
      Reply h = AdminClient.get(c, authority.port(), "/v1/health");
      assertThat(h.status()).as("health answer: " + h.body()).isEqualTo(200);
      assertThat(JSON.readTree(h.body()).path("status").asText()).isEqualTo("ok");
    }
  }

  private static void assertJoinTokenStillWorks(String name, String token, State before) throws Exception {
    Reply ok = enroll(publicTls, null, token, csr(KeyFiles.newP256(), "SHA256withECDSA"));
    assertThat(ok.status()).as("the good join token still enrolls after the bad request: " + ok.body()).isEqualTo(200);
    assertThat(JSON.readTree(ok.body()).path("name").asText()).isEqualTo(name);
    assertThat(authority.authority.store().machines().count()).isEqualTo(before.machines + 1);
  }

  static void assertProblem(Reply r, int status, String slug, String... secrets) throws Exception {
    assertThat(r.status()).as("status; body: %s", r.body()).isEqualTo(status);
    assertThat(r.status()).isBetween(400, 499);
    assertThat(r.contentType()).as("Content-Type").isNotNull();
    assertThat(r.contentType().toLowerCase(Locale.ROOT)).startsWith("application/problem+json");
    JsonNode p = JSON.readTree(r.body());
    assertThat(p.isObject()).as("problem body is a JSON object: %s", r.body()).isTrue();
    assertThat(p.path("type").asText()).startsWith(PROBLEM_BASE).isEqualTo(PROBLEM_BASE + slug);
    assertThat(p.path("title").isTextual()).as("title").isTrue();
    assertThat(p.path("title").asText()).isNotBlank();
    assertThat(p.path("status").isInt()).as("status member").isTrue();
    assertThat(p.path("status").asInt()).isEqualTo(r.status());
    assertNoLeak(r.body(), secrets);
  }

  static void assertNoLeak(String body, String... secrets) {
    assertThat(body).doesNotContain("Exception", "at dev.", "java.", "SQL", "sqlite", "/tmp", "/work",
        new String(TestAuthority.PASSPHRASE));
    assertThat(body.toLowerCase(Locale.ROOT)).doesNotContain("sql", "jetty", "stack");
    for (String s : secrets) if (s != null && !s.isEmpty()) assertThat(body).doesNotContain(s);
  }

  static Reply enroll(SSLContext tls, InetAddress local, String token, String csr) throws Exception {
    Map<String, Object> b = new LinkedHashMap<>();
    b.put("join_token", token);
    b.put("csr", csr);
    try (HttpClient c = AdminClient.client(tls, local)) {
      return AdminClient.postJson(c, authority.port(), "/v1/enroll", json(b));
    }
  }

  /**
   * One request on a raw TLS connection, written by a second thread while this one reads the
   * answer. For requests the server refuses before reading them whole (oversized body, huge
   * header) the JDK HttpClient cannot be used: it reads the response only after it has sent
   * the whole body, and the server closes the connection right after its early answer, so
   * the client intermittently reports "header parser received no bytes" instead of the
   * problem. A large send buffer lets the whole request leave at once; write errors after the
   * server's close are expected and ignored. {@code body} is sent with an honest
   * Content-Length, or chunked without one.
   */
  static Reply rawExchange(SSLContext tls, String method, String path, List<String> headers, byte[] body, boolean chunked)
      throws Exception {
    ByteArrayOutputStream req = new ByteArrayOutputStream();
    StringBuilder head = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + authority.port() + "\r\n");
    for (String h : headers) head.append(h).append("\r\n");
    if (body != null) head.append(chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: " + body.length + "\r\n");
    head.append("\r\n");
    req.write(head.toString().getBytes(StandardCharsets.US_ASCII));
    if (body != null && !chunked) req.write(body);
    if (body != null && chunked) {
      for (int off = 0; off < body.length; off += 8192) {
        int n = Math.min(8192, body.length - off);
        req.write((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        req.write(body, off, n);
        req.write("\r\n".getBytes(StandardCharsets.US_ASCII));
      }
      req.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    byte[] bytes = req.toByteArray();
    SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket();
    Thread writer = null;
    try (s) {
      s.setSendBufferSize(1 << 20);
      s.setSoTimeout((int) AdminClient.TIMEOUT.toMillis());
      s.connect(new InetSocketAddress("127.0.0.1", authority.port()), (int) AdminClient.TIMEOUT.toMillis());
      SSLParameters p = s.getSSLParameters();
      p.setProtocols(new String[] {"TLSv1.3"});
      p.setEndpointIdentificationAlgorithm("HTTPS");
      s.setSSLParameters(p);
      s.startHandshake();
      OutputStream out = s.getOutputStream();
      writer = Thread.ofVirtual().start(() -> {
        try {
          out.write(bytes);
          out.flush();
        } catch (IOException expected) {
          // the server may close before it has read everything
        }
      });
      return readResponse(new BufferedInputStream(s.getInputStream()));
    } finally {
      if (writer != null) writer.join(AdminClient.TIMEOUT.toMillis());
    }
  }

  private static Reply readResponse(InputStream in) throws IOException {
    String status = line(in);
    assertThat(status).as("status line").matches("HTTP/1\\.1 \\d{3}( .*)?");
    int code = Integer.parseInt(status.substring(9, 12));
    String type = null;
    int length = -1;
    for (String l = line(in); !l.isEmpty(); l = line(in)) {
      int colon = l.indexOf(':');
      String name = l.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = l.substring(colon + 1).trim();
      if (name.equals("content-type")) type = value;
      if (name.equals("content-length")) length = Integer.parseInt(value);
      if (name.equals("transfer-encoding")) throw new IOException("unexpected chunked problem response");
    }
    assertThat(length).as("Content-Length of the problem").isBetween(0, 64 * 1024);
    byte[] body = in.readNBytes(length);
    assertThat(body).as("whole body received").hasSize(length);
    return new Reply(code, type, new String(body, StandardCharsets.UTF_8));
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int b = in.read(); b != '\n'; b = in.read()) {
      if (b < 0) throw new IOException("connection closed mid-response after: " + sb);
      if (b != '\r') sb.append((char) b);
      if (sb.length() > 16 * 1024) throw new IOException("response line too long");
    }
    return sb.toString();
  }

  static String csr(KeyPair key, String algorithm) {
    try {
      var b = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=m2mfa-agent"), key.getPublic());
      return Pem.encode(b.build(new JcaContentSignerBuilder(algorithm).build(key.getPrivate())));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static String armor(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
      return i;
    }
    throw new IllegalStateException("not found");
  }

  static String json(Object o) {
    try {
      return JSON.writeValueAsString(o);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
