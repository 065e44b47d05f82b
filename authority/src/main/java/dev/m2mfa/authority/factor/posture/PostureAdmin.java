package dev.m2mfa.authority.factor.posture;

import com.fasterxml.jackson.databind.JsonNode;
import dev.m2mfa.api.MachineName;
import dev.m2mfa.api.posture.InvalidReportException;
import dev.m2mfa.api.posture.MeasurementList;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.http.Problem;
import dev.m2mfa.authority.store.Store;
import java.security.PublicKey;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Admin routes for posture baselines (admin client certificate already checked by the server):
 *
 * <ul>
 *   <li>{@code POST /v1/admin/posture/baselines} with {@code {"scope":"class"|"machine",
 *       "name":…, "operator_key":"base64url SPKI", "envelope":"base64url(deflate(signed manifest))"}}:
 *       verifies the signature under the operator key (again: the CLI checked it too), stores the
 *       manifest as the class's or machine's baseline, audits who imported what signed by whom;
 *   <li>{@code GET /v1/admin/posture/baselines/{class|machine}/NAME}: the baseline's summary,
 *       with {@code trust_on_first_use} so a learned baseline is never mistaken for a golden one.
 * </ul>
 * Errors are problem+json with a fixed title; the detail goes nowhere but the audit log.
 */
public final class PostureAdmin {
  private static final int MAX_ENVELOPE_BYTES = 32 * 1024 * 1024;

  private PostureAdmin() {}

  public static Map<String, Object> handle(Store store, AuditLog audit, String method, String rest, JsonNode body, String admin) {
    if (rest.equals("baselines")) {
      if (!method.equals("POST")) throw Problem.methodNotAllowed();
      return importBaseline(store, audit, body, admin);
    }
    if (rest.startsWith("baselines/")) {
      if (!method.equals("GET")) throw Problem.methodNotAllowed();
      String[] parts = rest.substring("baselines/".length()).split("/", -1);
      if (parts.length != 2) throw Problem.notFound();
      boolean forClass = scope(parts[0]);
      checkName(parts[1], forClass);
      Baseline b = PostureFactorVerifier.storedBaseline(store, parts[1], forClass).orElseThrow(Problem::notFound);
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("scope", parts[0]);
      out.put("name", parts[1]);
      out.putAll(b.summary());
      return out;
    }
    throw Problem.notFound();
  }

  private static Map<String, Object> importBaseline(Store store, AuditLog audit, JsonNode body, String admin) {
    boolean forClass = scope(body.path("scope").asText());
    String name = body.path("name").asText();
    checkName(name, forClass);
    PublicKey key;
    byte[] envelope;
    try {
      key = SignedBaseline.publicKey(Base64.getUrlDecoder().decode(body.path("operator_key").asText()));
      envelope = MeasurementList.inflate(Base64.getUrlDecoder().decode(body.path("envelope").asText()), MAX_ENVELOPE_BYTES);
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("operator_key and envelope must be base64url (envelope deflated)");
    }
    SignedBaseline.Verified v;
    try {
      v = SignedBaseline.verify(envelope, key);
    } catch (InvalidReportException e) {
      throw Problem.badRequest("The envelope is not a valid signed posture manifest");
    } catch (IllegalArgumentException e) {
      audit.appendAndWait("posture.baseline.refused", name, Map.of("scope", forClass ? "class" : "machine", "reason", e.getMessage(), "admin", admin));
      throw Problem.badRequest("The manifest was refused: its signature or content does not hold (see the audit log)");
    }
    PostureFactorVerifier.storeBaseline(store, name, forClass, v.baseline());
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("scope", forClass ? "class" : "machine");
    out.put("name", name);
    out.put("signed_by", v.signerFingerprint());
    out.putAll(v.baseline().summary());
    Map<String, Object> detail = new LinkedHashMap<>(out);
    detail.put("admin", admin);
    audit.appendAndWait("posture.baseline.imported", name, detail);
    return out;
  }

  private static boolean scope(String s) {
    if (s.equals("class")) return true;
    if (s.equals("machine")) return false;
    throw Problem.badRequest("scope must be class or machine");
  }

  private static void checkName(String name, boolean forClass) {
    boolean ok = forClass ? name.matches("[a-z0-9][a-z0-9_-]{0,62}") : MachineName.isValid(name);
    if (!ok) throw Problem.badRequest("Invalid " + (forClass ? "class" : "machine") + " name");
  }
}
