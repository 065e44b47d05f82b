package dev.m2mfa.authority.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.api.LoginTranscript;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.enroll.EnrollmentService;
import dev.m2mfa.authority.login.LoginService;
import dev.m2mfa.authority.pki.CertificateAuthority;
import dev.m2mfa.authority.revocation.RevocationHub;
import dev.m2mfa.authority.store.MachineRecord;
import dev.m2mfa.authority.store.RevocationRecord;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSession;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The authority's HTTPS front: TLS 1.3 only, client certificates requested (not required),
 * TCP_NODELAY, handlers on virtual threads. Every response that is not a success is an RFC
 * 9457 problem built from a fixed sentence; exceptions are logged with their detail and never
 * reach the client. Bodies are bounded (64 KiB), headers too (8 KiB), JSON is parsed strictly
 * (duplicate keys and trailing data refused).
 */
public final class AuthorityServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AuthorityServer.class);
  static final int MAX_BODY = 64 * 1024;
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private final Authority authority;
  private final Server server;
  private final ServerConnector connector;

  public AuthorityServer(Authority authority, SSLContext sslContext, String host, int port) {
    this.authority = authority;
    QueuedThreadPool pool = new QueuedThreadPool(200, 8);
    pool.setName("authority");
    pool.setVirtualThreadsExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
    server = new Server(pool);
    SslContextFactory.Server ssl = new SslContextFactory.Server();
    ssl.setSslContext(sslContext);
    ssl.setIncludeProtocols("TLSv1.3");
    ssl.setWantClientAuth(true);
    ssl.setRenegotiationAllowed(false);
    HttpConfiguration http = new HttpConfiguration();
    http.setRequestHeaderSize(8 * 1024);
    http.setResponseHeaderSize(8 * 1024);
    http.setSendServerVersion(false);
    http.setSendDateHeader(false);
    SecureRequestCustomizer src = new SecureRequestCustomizer();
    src.setSniHostCheck(false);
    src.setSniRequired(false);
    src.setStsMaxAge(-1);
    http.addCustomizer(src);
    // Non-pooled buffers. Suspected, not proven: with the pool, rarely, the first request on a
    // new connection right after an oversized-header request was answered 400 "malformed"
    // (BadInputTest). Not seen since; allocation is cheap next to the handshake.
    connector = new ServerConnector(server, null, null, new org.eclipse.jetty.io.ByteBufferPool.NonPooling(), 1, 1,
        new SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(http));
    connector.setHost(host);
    connector.setPort(port);
    connector.setAcceptedTcpNoDelay(true);
    connector.setIdleTimeout(Duration.ofSeconds(60).toMillis());
    server.addConnector(connector);
    server.setHandler(new Router());
    server.setErrorHandler(new ProblemErrorHandler());
  }

  public void start() throws Exception {
    server.start();
  }

  public int port() {
    return connector.getLocalPort();
  }

  @Override
  public void close() {
    try {
      server.stop();
    } catch (Exception e) {
      LOG.warn("stopping the server failed: {}", e.toString());
    }
  }

  /** Writes Jetty's own errors (bad messages, oversized headers) as problems too. */
  private static final class ProblemErrorHandler extends ErrorHandler {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      Object s = request.getAttribute(ERROR_STATUS);
      int status = s instanceof Integer i ? i : response.getStatus();
      if (status < 400) status = 500;
      Problem p = Problem.forStatus(status);
      response.setStatus(p.status());
      writeProblem(response, p, callback);
      return true;
    }
  }

  private static void writeProblem(Response response, Problem p, Callback callback) {
    response.setStatus(p.status());
    byte[] body = p.json();
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/problem+json");
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    if (p.status() == 401) response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "m2mfa");
    response.write(true, ByteBuffer.wrap(body), callback);
  }

  static void writeJson(Response response, int status, Object body, Callback callback) {
    try {
      writeBytes(response, status, "application/json", JSON.writeValueAsBytes(body), callback);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static void writeBytes(Response response, int status, String type, byte[] body, Callback callback) {
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.write(true, ByteBuffer.wrap(body), callback);
  }

  private final class Router extends Handler.Abstract {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      try {
        route(request, response, callback);
      } catch (Problem p) {
        writeProblem(response, p, callback);
      } catch (LoginService.Overloaded e) {
        writeProblem(response, Problem.overloaded(), callback);
      } catch (Throwable t) {
        LOG.error("request {} {} failed: {}", request.getMethod(), request.getHttpURI().getPath(), t.toString(), t);
        if (!response.isCommitted()) writeProblem(response, Problem.internal(), callback);
        else callback.failed(t);
      }
      return true;
    }
  }

  private void route(Request request, Response response, Callback callback) throws Exception {
    String path = request.getHttpURI().getPath();
    String method = request.getMethod();
    if (path == null || path.length() > 256) throw Problem.notFound();
    switch (path) {
      case "/.well-known/jwks.json" -> {
        requireMethod(method, "GET");
        writeBytes(response, 200, "application/jwk-set+json", authority.keyring().jwksJson().getBytes(StandardCharsets.UTF_8), callback);
      }
      case "/v1/health" -> {
        requireMethod(method, "GET");
        // unauthenticated: the policy's health, generation and digest only (no file paths, no errors)
        var policy = authority.policies().status();
        writeJson(response, 200, Map.of("status", "ok", "policy",
            Map.of("healthy", policy.healthy(), "generation", policy.generation(), "digest", policy.digest())), callback);
      }
      case "/v1/ca" -> {
        requireMethod(method, "GET");
        writeJson(response, 200, Map.of("root", Pem.encode(authority.ca().root())), callback);
      }
      case "/v1/revocations" -> {
        requireMethod(method, "GET");
        RevocationHub.Snapshot s = authority.revocationHub().snapshot();
        writeJson(response, 200, Map.of("seq", s.seq(), "revoked", s.revoked().stream().map(AuthorityServer::eventBody).toList(),
            "reinstated", s.reinstated().stream().map(AuthorityServer::eventBody).toList()), callback);
      }
      case "/v1/revocations/stream" -> {
        requireMethod(method, "GET");
        stream(request, response, callback);
      }
      case "/v1/enroll" -> enroll(request, response, callback);
      case TpmEnrollmentRoutes.START, TpmEnrollmentRoutes.FINISH -> writeJson(response, 200, TpmEnrollmentRoutes.handle(authority, path, readJson(request, "POST"), source(request)), callback);
      case "/v1/login/start" -> loginStart(request, response, callback);
      case "/v1/login/finish" -> loginFinish(request, response, callback);
      case "/v1/login/ack" -> loginAck(request, response, callback);
      default -> {
        if (path.startsWith("/v1/admin/")) admin(request, response, callback, path.substring("/v1/admin/".length()), method);
        else if (path.startsWith("/v1/ssh/")) new SshRoutes(authority).handle(request, response, callback, path, source(request));
        else throw Problem.notFound();
      }
    }
  }

  // ---- public machine endpoints

  private void enroll(Request request, Response response, Callback callback) throws IOException {
    JsonNode body = readJson(request, "POST");
    String token = text(body, "join_token", 200, true);
    String csr = text(body, "csr", 16 * 1024, true);
    String otpKeyText = text(body, "otp_chain_key", 100, false);
    byte[] otpKey = null;
    if (otpKeyText != null) {
      try {
        otpKey = java.util.Base64.getUrlDecoder().decode(otpKeyText);
      } catch (IllegalArgumentException bad) {
        throw Problem.badRequest("Field otp_chain_key must be base64url");
      }
      if (!dev.m2mfa.api.otp.OtpEnvelope.validPublicKey(otpKey)) throw Problem.badRequest("Field otp_chain_key must be an uncompressed P-256 point");
    }
    EnrollmentService.Enrolled e;
    try {
      e = authority.enrollment().enroll(token, csr, KeyResidenceClaims.from(body), otpKey, source(request)).orElseThrow(Problem::authenticationFailed);
    } catch (dev.m2mfa.authority.factor.hardware.KeyResidence.BadClaim bad) {
      throw Problem.badRequest("key_residence must be {\"provider\": \"software|sealed|pkcs11|tpm\", \"evidence\": {...}}");
    } catch (IllegalArgumentException bad) {
      throw Problem.badRequest("The CSR is not a valid P-256 PKCS#10 request with a valid signature");
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("machine", e.spiffeId());
    out.put("name", e.name());
    out.put("certificate", e.certificateChainPem());
    out.put("root", Pem.encode(authority.ca().root()));
    if (e.otpFirst() != null) out.put("otp_first", Map.of("enc", e.otpFirst().enc(), "ciphertext", e.otpFirst().ciphertext()));
    writeJson(response, 200, out, callback);
  }

  private void loginStart(Request request, Response response, Callback callback) throws IOException {
    JsonNode body = readJson(request, "POST");
    String machine = text(body, "machine", 100, true);
    String audience = text(body, "audience", 200, true);
    String acr = text(body, "acr", 100, false);
    byte[] challenge;
    try {
      challenge = authority.login().start(machine, audience, acr, exporter(request));
    } catch (LoginService.BadRequest e) {
      throw Problem.badRequest("audience must be 1-200 and acr 1-100 printable ASCII characters");
    }
    writeBytes(response, 200, "application/json", challenge, callback);
  }

  private void loginFinish(Request request, Response response, Callback callback) throws IOException {
    JsonNode body = readJson(request, "POST");
    String session = text(body, "session", 64, true);
    String evidence = text(body, "evidence", 70 * 1024, true);
    String signature = text(body, "signature", 200, true);
    JsonNode want = body.get("want_certificate");
    if (want != null && !want.isNull() && !want.isBoolean()) throw Problem.badRequest("Field want_certificate must be a boolean");
    boolean wantCert = want != null && want.asBoolean();
    LoginService.Success s = authority.login()
        .finish(session, evidence, signature, exporter(request), source(request), clientCertificate(request), wantCert)
        .orElseThrow(Problem::authenticationFailed);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("access_token", s.accessToken());
    out.put("token_type", "DPoP");
    out.put("expires_in", s.expiresIn());
    out.put("amr", s.amr());
    out.put("acr", s.acr());
    if (s.certificateChainPem() != null) out.put("certificate", s.certificateChainPem());
    out.putAll(s.responseExtras());
    writeJson(response, 200, out, callback);
  }

  /** The agent confirms it persisted the one-time secret its last login issued (otp-chain). */
  private void loginAck(Request request, Response response, Callback callback) throws IOException {
    JsonNode body = readJson(request, "POST");
    String machine = text(body, "machine", 100, true);
    String secret = text(body, "secret", 100, true);
    var factor = authority.otpChain().orElseThrow(Problem::notFound);
    var outcome = factor.acknowledge(machine, Map.of("secret", secret), source(request));
    if (outcome.status() != dev.m2mfa.api.factor.FactorStatus.PASS) {
      authority.audit().appendAndWait("otp_chain.ack_denied", dev.m2mfa.api.MachineName.isValid(machine) ? machine : "",
          Map.of("reason", outcome.reason(), "source", source(request).getHostAddress()));
      throw Problem.authenticationFailed();
    }
    writeJson(response, 200, Map.of("acknowledged", true), callback);
  }

  private void stream(Request request, Response response, Callback callback) {
    long after = 0;
    String q = request.getHttpURI().getQuery();
    if (q != null) {
      for (String kv : q.split("&")) {
        if (kv.startsWith("after=")) {
          try {
            after = Long.parseLong(kv.substring(6));
          } catch (NumberFormatException e) {
            throw Problem.badRequest("after must be a sequence number");
          }
          if (after < 0) throw Problem.badRequest("after must be a sequence number");
        }
      }
    }
    RevocationHub hub = authority.revocationHub();
    response.setStatus(200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/x-ndjson");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    long heartbeat = authority.config().heartbeatInterval().toMillis();
    try {
      long seq = after;
      if (after == 0 || after > hub.latestSeq()) {
        RevocationHub.Snapshot snap = hub.snapshot();
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("type", "snapshot");
        line.put("seq", snap.seq());
        line.put("revoked", snap.revoked().stream().map(AuthorityServer::eventBody).toList());
        line.put("reinstated", snap.reinstated().stream().map(AuthorityServer::eventBody).toList());
        writeLine(response, line);
        seq = snap.seq();
      }
      long keys = hub.keysVersion();
      while (authority.running()) {
        List<RevocationRecord> events = hub.awaitAfter(seq, keys, heartbeat);
        if (hub.keysVersion() != keys) {
          keys = hub.keysVersion();
          writeLine(response, Map.of("type", "keys", "seq", seq, "at", System.currentTimeMillis()));
        }
        if (events.isEmpty()) {
          writeLine(response, Map.of("type", "heartbeat", "seq", seq, "at", System.currentTimeMillis()));
          continue;
        }
        StringBuilder batch = new StringBuilder();
        for (RevocationRecord e : events) {
          Map<String, Object> line = new LinkedHashMap<>();
          line.put("type", e.kind());
          line.putAll(eventBody(e));
          batch.append(JSON.writeValueAsString(line)).append('\n');
          seq = e.seq();
        }
        writeRaw(response, batch.toString());
      }
      callback.succeeded();
    } catch (Exception e) {
      // the subscriber went away, or the server is stopping
      callback.failed(e);
    }
  }

  private static Map<String, Object> eventBody(RevocationRecord e) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("seq", e.seq());
    m.put("sub", e.subject());
    m.put("at", e.at());
    return m;
  }

  private static void writeLine(Response response, Object line) throws IOException {
    writeRaw(response, JSON.writeValueAsString(line) + "\n");
  }

  private static void writeRaw(Response response, String text) throws IOException {
    try (Blocker.Callback b = Blocker.callback()) {
      response.write(false, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), b);
      b.block();
    }
  }

  // ---- admin endpoints (admin client certificate required)

  private void admin(Request request, Response response, Callback callback, String rest, String method) throws IOException {
    String admin = adminName(request);
    if (rest.equals("join-tokens")) {
      JsonNode body = readJson(request, "POST");
      String name = text(body, "name", 63, true);
      String cls = text(body, "class", 63, false);
      JsonNode ttlNode = body.get("ttl_seconds");
      if (ttlNode != null && !ttlNode.isNull() && !(ttlNode.isIntegralNumber() && ttlNode.canConvertToLong())) {
        throw Problem.badRequest("Field ttl_seconds must be an integer number of seconds");
      }
      long ttl = ttlNode == null || ttlNode.isNull() ? 600 : ttlNode.asLong();
      List<String> cidrs = new ArrayList<>();
      JsonNode c = body.path("cidrs");
      if (!c.isMissingNode() && !c.isNull()) {
        if (!c.isArray() || c.size() > 32) throw Problem.badRequest("cidrs must be an array of at most 32 CIDR strings");
        for (JsonNode n : c) {
          if (!n.isTextual()) throw Problem.badRequest("cidrs must be an array of at most 32 CIDR strings");
          cidrs.add(n.asText());
        }
      }
      try {
        var t = authority.enrollment().createJoinToken(name, cls, cidrs, Duration.ofSeconds(ttl), admin);
        writeJson(response, 201, Map.of("join_token", t.token(), "expires_at", t.expiresAt()), callback);
      } catch (EnrollmentService.Conflict e) {
        throw Problem.conflict("A machine with this name is already enrolled");
      } catch (IllegalArgumentException e) {
        throw Problem.badRequest("Invalid join token request: name, class, cidrs or ttl_seconds");
      }
      return;
    }
    if (rest.equals("machines")) {
      requireMethod(method, "GET");
      String after = queryParam(request, "after");
      List<Map<String, Object>> out = authority.store().machines().list(after, 500).stream().map(AuthorityServer::machineBody).toList();
      writeJson(response, 200, Map.of("machines", out), callback);
      return;
    }
    if (rest.equals("audit/verify")) {
      requireMethod(method, "GET");
      AuditLog.Verification v = AuditLog.verify(authority.store());
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("ok", v.ok());
      out.put("records", v.records());
      out.put("first_broken", v.firstBroken());
      writeJson(response, 200, out, callback);
      return;
    }
    if (rest.equals("signing-keys/rotate")) {
      requireMethod(method, "POST");
      String kid = authority.keyring().rotate();
      authority.audit().appendAndWait("signing_key.rotated", "", Map.of("kid", kid, "admin", admin));
      writeJson(response, 200, Map.of("kid", kid), callback);
      return;
    }
    if (rest.startsWith("posture/")) { // posture baselines: dev.m2mfa.authority.factor.posture.PostureAdmin
      writeJson(response, 200, dev.m2mfa.authority.factor.posture.PostureAdmin.handle(authority.store(), authority.audit(), method, rest.substring(8), method.equals("POST") ? readJson(request, "POST") : null, admin), callback);
      return;
    }
    if (rest.startsWith("machines/")) {
      String[] parts = rest.substring("machines/".length()).split("/", -1);
      String name = parts[0];
      if (!dev.m2mfa.api.MachineName.isValid(name)) throw Problem.notFound();
      if (parts.length == 1) {
        requireMethod(method, "GET");
        MachineRecord m = authority.store().machines().find(name).orElseThrow(Problem::notFound);
        writeJson(response, 200, machineBody(m), callback);
        return;
      }
      if (parts.length == 2 && (parts[1].equals("revoke") || parts[1].equals("reinstate") || parts[1].equals("unlock"))) {
        JsonNode body = readJson(request, "POST");
        String reason = text(body, "reason", 500, false);
        Optional<RevocationRecord> event;
        try {
          event = switch (parts[1]) {
            case "revoke" -> authority.revocations().revoke(name, reason, admin);
            case "reinstate" -> authority.revocations().reinstate(name, reason, admin);
            default -> authority.revocations().unlock(name, reason, admin);
          };
        } catch (dev.m2mfa.authority.revocation.RevocationService.Locked e) {
          throw Problem.conflict("The machine is locked after a detected clone: unlock or re-enroll it");
        } catch (dev.m2mfa.authority.revocation.RevocationService.NotLocked e) {
          throw Problem.conflict("The machine is not locked");
        }
        RevocationRecord r = event.orElseThrow(Problem::notFound);
        writeJson(response, 200, Map.of("seq", r.seq(), "subject", r.subject(), "kind", r.kind()), callback);
        return;
      }
      if (parts.length == 2 && parts[1].equals("reenroll")) {
        JsonNode body = readJson(request, "POST");
        JsonNode ttlNode = body.get("ttl_seconds");
        if (ttlNode != null && !ttlNode.isNull() && !(ttlNode.isIntegralNumber() && ttlNode.canConvertToLong())) {
          throw Problem.badRequest("Field ttl_seconds must be an integer number of seconds");
        }
        long ttl = ttlNode == null || ttlNode.isNull() ? 600 : ttlNode.asLong();
        try {
          var t = authority.enrollment().createReenrollToken(name, Duration.ofSeconds(ttl), admin);
          writeJson(response, 201, Map.of("join_token", t.token(), "expires_at", t.expiresAt()), callback);
        } catch (EnrollmentService.NotFound e) {
          throw Problem.notFound();
        } catch (EnrollmentService.Conflict e) {
          throw Problem.conflict("The machine is active: revoke it (or let a clone lock it) before re-enrolling");
        } catch (IllegalArgumentException e) {
          throw Problem.badRequest("ttl_seconds must be 1 s to 7 days");
        }
        return;
      }
    }
    throw Problem.notFound();
  }

  private static Map<String, Object> machineBody(MachineRecord m) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("name", m.name());
    out.put("spiffe_id", m.spiffeId());
    out.put("class", m.policyClass());
    out.put("networks", m.networks().isBlank() ? List.of() : List.of(m.networks().split(",")));
    out.put("status", m.status());
    out.put("key_thumbprint", m.keyThumbprint());
    out.put("enrolled_at", m.enrolledAt());
    return out;
  }

  private String adminName(Request request) {
    X509Certificate cert = clientCertificate(request);
    String prefix = "spiffe://" + authority.config().trustDomain() + "/admin/";
    String id = cert == null ? null : CertificateAuthority.spiffeIdOf(cert);
    if (id == null || !id.startsWith(prefix)) throw Problem.forbidden();
    return id.substring(prefix.length());
  }

  // ---- request helpers

  private static void requireMethod(String method, String expected) {
    if (!expected.equals(method)) throw Problem.methodNotAllowed();
  }

  private static String queryParam(Request request, String name) {
    String q = request.getHttpURI().getQuery();
    if (q == null) return null;
    for (String kv : q.split("&")) if (kv.startsWith(name + "=")) return java.net.URLDecoder.decode(kv.substring(name.length() + 1), StandardCharsets.UTF_8);
    return null;
  }

  private static JsonNode readJson(Request request, String method) throws IOException {
    return readJson(request, method, MAX_BODY);
  }

  /** A strict JSON object body (no duplicate keys, no trailing data) of at most {@code maxBody} bytes; shared by the route classes. */
  static JsonNode readJson(Request request, String method, int maxBody) throws IOException {
    requireMethod(request.getMethod(), method);
    String type = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
    if (type == null || !type.toLowerCase(java.util.Locale.ROOT).replace(" ", "").matches("application/json(;charset=utf-8)?")) {
      throw Problem.unsupportedMediaType();
    }
    long declared = request.getLength();
    if (declared > maxBody) throw Problem.tooLarge();
    byte[] bytes;
    try (InputStream in = Content.Source.asInputStream(request)) {
      bytes = in.readNBytes(maxBody + 1);
    }
    if (bytes.length > maxBody) throw Problem.tooLarge();
    try {
      JsonNode n = JSON.readTree(bytes);
      if (n == null || !n.isObject()) throw Problem.badRequest("The body must be a JSON object");
      return n;
    } catch (IOException e) {
      throw Problem.badRequest("The body is not valid JSON");
    }
  }

  /** A string field of at most {@code maxLength} characters; shared by the route classes. */
  static String text(JsonNode body, String field, int maxLength, boolean required) {
    JsonNode n = body.get(field);
    if (n == null || n.isNull()) {
      if (required) throw Problem.badRequest("Missing field: " + field);
      return null;
    }
    if (!n.isTextual() || n.asText().length() > maxLength) throw Problem.badRequest("Field " + field + " must be a string of at most " + maxLength + " characters");
    return n.asText();
  }

  private static SSLSession sslSession(Request request) {
    Object o = request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE);
    if (o instanceof EndPoint.SslSessionData d) return d.sslSession();
    throw Problem.badRequest("TLS required");
  }

  static X509Certificate clientCertificate(Request request) {
    Object o = request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE);
    if (o instanceof EndPoint.SslSessionData d && d.peerCertificates() != null && d.peerCertificates().length > 0) {
      return d.peerCertificates()[0];
    }
    return null;
  }

  private static byte[] exporter(Request request) {
    try {
      return ((ExtendedSSLSession) sslSession(request)).exportKeyingMaterialData(LoginTranscript.EXPORTER_LABEL, null,
          LoginTranscript.EXPORTER_LENGTH);
    } catch (javax.net.ssl.SSLKeyException | ClassCastException | UnsupportedOperationException e) {
      throw Problem.badRequest("TLS channel binding unavailable");
    }
  }

  /** The client address: the TCP peer, or behind trusted proxies the first address they did not add. */
  private InetAddress source(Request request) {
    SocketAddress sa = request.getConnectionMetaData().getRemoteSocketAddress();
    InetAddress peer = ((InetSocketAddress) sa).getAddress();
    // every X-Forwarded-For line, in order: a proxy may add a line instead of appending to one
    List<String> lines = request.getHeaders().getValuesList("X-Forwarded-For");
    return ClientAddress.resolve(peer, lines.isEmpty() ? null : String.join(",", lines), authority.config().trustedProxies());
  }
}
