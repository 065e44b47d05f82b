package dev.m2mfa.authority.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.authority.factor.hardware.KeyResidence;
import java.util.Map;

/** Reads the enrollment request's optional {@code key_residence} object (untrusted; judged by {@link KeyResidence}). */
final class KeyResidenceClaims {
  private static final ObjectMapper JSON = new ObjectMapper();

  private KeyResidenceClaims() {}

  /** The claim as a JSON-shaped map, or null when absent; a non-object is a bad claim. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> from(JsonNode body) {
    JsonNode n = body.get("key_residence");
    if (n == null || n.isNull()) return null;
    if (!n.isObject()) throw new KeyResidence.BadClaim("key_residence must be an object");
    return JSON.convertValue(n, Map.class);
  }
}
