package dev.m2mfa.api.posture;

import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The posture factor's evidence as the agent sends it (JSON-shaped, inside the login
 * evidence, so the agent's transcript signature covers every byte of it):
 *
 * <pre>
 * {"v":1, "nonce":"…challenge nonce…", "digest":"…hex SHA-256 of the full canonical list…",
 *  "full":"…base64url(deflate(list))…"            // first report, or when no usable base
 *  | "base":"…hex digest…", "delta":"…base64url(deflate(delta))…",
 *  "anchor":{…}}                                   // optional: TPM extend + quote (see ReportChain)
 * </pre>
 *
 * The digest always names the full list after any delta is applied, so the authority checks
 * the same value whichever form arrived.
 */
public final class PostureEvidence {
  public static final int VERSION = 1;

  private PostureEvidence() {}

  public static Map<String, Object> full(String nonce, MeasurementList list) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("v", VERSION);
    m.put("nonce", nonce);
    m.put("digest", list.digestHex());
    m.put("full", b64(MeasurementList.deflate(list.encode())));
    return m;
  }

  public static Map<String, Object> delta(String nonce, MeasurementList base, MeasurementList next) {
    MeasurementDelta d = MeasurementDelta.between(base, next);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("v", VERSION);
    m.put("nonce", nonce);
    m.put("digest", next.digestHex());
    m.put("base", HexFormat.of().formatHex(d.baseDigest()));
    m.put("delta", b64(MeasurementList.deflate(d.encode())));
    return m;
  }

  static String b64(byte[] b) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }
}
