package dev.m2mfa.authority.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.ssh.SshGrantPolicy;
import dev.m2mfa.authority.ssh.SshRequestAuthenticator;
import dev.m2mfa.authority.ssh.SshService;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The {@code /v1/ssh/*} routes. Public: the two CA public keys and the KRL. Authenticated
 * (access token for audience {@code m2mfa:ssh} + DPoP proof, see
 * {@link SshRequestAuthenticator}): user and host certificates.
 *
 * <p>Order for the POST routes: method, content type, body size (16 KiB, declared or read),
 * strict JSON, field shapes; then authentication; then each key is parsed and its type checked;
 * then issuance. So a malformed request is a 400 whoever sends it, an unauthenticated one is the
 * uniform 401 {@code invalid-token}, and nothing is signed or recorded for either. Refusal
 * reasons go to the audit log ({@code ssh.denied}), never to the client.
 */
final class SshRoutes {
  static final int MAX_BODY = 16 * 1024;

  private final Authority authority;

  SshRoutes(Authority authority) {
    this.authority = authority;
  }

  static Problem invalidToken() {
    return new Problem(401, "invalid-token", "The access token or its DPoP proof was not accepted");
  }

  static Problem badKey() {
    return new Problem(400, "unsupported-ssh-key",
        "public_key must be one OpenSSH public key line: ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa (2048 bits or more)");
  }

  void handle(Request request, Response response, Callback callback, String path, InetAddress source) throws IOException {
    String method = request.getMethod();
    switch (path) {
      case "/v1/ssh/user-ca.pub" -> text(method, response, callback, authority.ssh().ca().userCaLine() + "\n");
      case "/v1/ssh/host-ca.pub" -> text(method, response, callback, authority.ssh().ca().hostCaLine() + "\n");
      case "/v1/ssh/krl" -> {
        if (!"GET".equals(method)) throw Problem.methodNotAllowed();
        AuthorityServer.writeBytes(response, 200, "application/octet-stream", authority.ssh().krl(), callback);
      }
      case "/v1/ssh/user-certificate" -> {
        JsonNode body = AuthorityServer.readJson(request, "POST", MAX_BODY);
        String line = keyField(body.get("public_key"));
        SshRequestAuthenticator.Caller caller = authenticate(request, source, path);
        PublicKey key = parseKey(line, caller, source, path);
        SshService.Issued issued = issue(caller, source, path,
            () -> authority.ssh().issueUser(caller.machine(), key, source, caller.tokenJti(), caller.acr()));
        AuthorityServer.writeJson(response, 200, describe(issued), callback);
      }
      case "/v1/ssh/host-certificate" -> {
        JsonNode body = AuthorityServer.readJson(request, "POST", MAX_BODY);
        JsonNode keys = body.get("public_keys");
        if (keys == null || !keys.isArray() || keys.isEmpty() || keys.size() > SshService.MAX_HOST_KEYS) {
          throw Problem.badRequest("public_keys must be an array of 1-" + SshService.MAX_HOST_KEYS + " OpenSSH public key lines");
        }
        List<String> lines = new ArrayList<>();
        for (JsonNode k : keys) lines.add(keyField(k));
        SshRequestAuthenticator.Caller caller = authenticate(request, source, path);
        List<PublicKey> parsed = new ArrayList<>();
        for (String l : lines) parsed.add(parseKey(l, caller, source, path));
        List<Map<String, Object>> out = new ArrayList<>();
        for (PublicKey k : parsed) {
          out.add(describe(issue(caller, source, path,
              () -> authority.ssh().issueHost(caller.machine(), k, source, caller.tokenJti(), caller.acr()))));
        }
        AuthorityServer.writeJson(response, 200, Map.of("certificates", out), callback);
      }
      default -> throw Problem.notFound();
    }
  }

  private interface Issue {
    SshService.Issued run() throws SshService.MachineInactive, SshGrantPolicy.NotGranted;
  }

  /**
   * Runs the issuance; a machine revoked meanwhile or a policy refusal (e.g. the token's acr
   * below the class's ssh min_level) is the same uniform 401 as a bad token, and the policy's
   * reason goes to the audit log only.
   */
  private SshService.Issued issue(SshRequestAuthenticator.Caller caller, InetAddress source, String path, Issue work) {
    try {
      return work.run();
    } catch (SshService.MachineInactive e) {
      throw invalidToken();
    } catch (SshGrantPolicy.NotGranted e) {
      authority.audit().append("ssh.denied", caller.machine().name(),
          Map.of("route", path, "reason", e.getMessage(), "source", source.getHostAddress(),
              "token_jti", String.valueOf(caller.tokenJti())));
      throw invalidToken();
    }
  }

  private static String keyField(JsonNode n) {
    if (n == null || !n.isTextual() || n.asText().isEmpty() || n.asText().length() > 8 * 1024) throw badKey();
    return n.asText();
  }

  private PublicKey parseKey(String line, SshRequestAuthenticator.Caller caller, InetAddress source, String path) {
    try {
      return SshService.parseSubjectKey(line);
    } catch (SshService.BadKey e) {
      authority.audit().append("ssh.denied", caller.machine().name(),
          Map.of("route", path, "reason", "bad key: " + e.getMessage(), "source", source.getHostAddress()));
      throw badKey();
    }
  }

  private SshRequestAuthenticator.Caller authenticate(Request request, InetAddress source, String path) {
    List<String> authz = request.getHeaders().getValuesList(HttpHeader.AUTHORIZATION.asString());
    List<String> dpop = request.getHeaders().getValuesList("DPoP");
    try {
      if (authz.size() > 1 || dpop.size() > 1) throw invalidToken();
      URI uri = request.getHttpURI().toURI();
      return authority.ssh().authenticator().authenticate(authz.isEmpty() ? null : authz.getFirst(),
          dpop.isEmpty() ? null : dpop.getFirst(), request.getMethod(), uri, Instant.now());
    } catch (SshRequestAuthenticator.Refused r) {
      authority.audit().append("ssh.denied", "", Map.of("route", path, "reason", r.reason(), "source", source.getHostAddress()));
      throw invalidToken();
    }
  }

  private static Map<String, Object> describe(SshService.Issued i) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("certificate", i.certificateLine());
    m.put("serial", Long.toUnsignedString(i.serial()));
    m.put("key_id", i.keyId());
    m.put("principals", i.principals());
    m.put("valid_after", i.validAfter().getEpochSecond());
    m.put("valid_before", i.validBefore().getEpochSecond());
    m.put("critical_options", i.criticalOptions());
    return m;
  }

  private static void text(String method, Response response, Callback callback, String body) {
    if (!"GET".equals(method)) throw Problem.methodNotAllowed();
    AuthorityServer.writeBytes(response, 200, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8), callback);
  }
}
