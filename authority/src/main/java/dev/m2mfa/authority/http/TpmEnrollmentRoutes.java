package dev.m2mfa.authority.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.api.tpm.MalformedTpmDataException;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.enroll.EnrollmentService;
import dev.m2mfa.authority.enroll.tpm.TpmEnrollmentService;
import java.net.InetAddress;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * HTTP adapter for TPM enrollment ({@code POST /v1/enroll/tpm/start} and
 * {@code /v1/enroll/tpm/finish}): reads bounded base64url fields, calls
 * {@link TpmEnrollmentService}, and maps its refusals to problems with stable types. The
 * reason for a refusal goes to the audit log, never to the client.
 */
final class TpmEnrollmentRoutes {
  static final String START = "/v1/enroll/tpm/start";
  static final String FINISH = "/v1/enroll/tpm/finish";

  private TpmEnrollmentRoutes() {}

  static Problem refused() {
    return new Problem(401, "tpm-evidence-refused", "The TPM evidence was refused");
  }

  /** Handles one of the two routes; returns the JSON response body. */
  static Map<String, Object> handle(Authority authority, String path, JsonNode body, InetAddress source) {
    TpmEnrollmentService tpm = authority.tpmEnrollment();
    try {
      if (path.equals(START)) {
        TpmEnrollmentService.Challenge c = tpm.start(AuthorityServer.text(body, "join_token", 200, true), bytes(body, "ek_public", 1024, true),
            bytes(body, "ek_certificate", 8192, false), bytes(body, "ak_public", 1024, true), source);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("session", c.session());
        out.put("credential_blob", b64(c.idObject()));
        out.put("encrypted_secret", b64(c.encryptedSecret()));
        out.put("nonce", b64(c.nonce()));
        return out;
      }
      TpmEnrollmentService.Evidence e = new TpmEnrollmentService.Evidence(AuthorityServer.text(body, "session", 64, true),
          bytes(body, "secret", 64, true), AuthorityServer.text(body, "csr", 16 * 1024, true), bytes(body, "login_public", 1024, true),
          bytes(body, "certify_attest", 2048, true), bytes(body, "certify_signature", 160, true),
          bytes(body, "quote_attest", 2048, true), bytes(body, "quote_signature", 160, true),
          bytes(body, "possession_signature", 160, true), bytes(body, "otp_chain_key", 65, false));
      EnrollmentService.Enrolled en = tpm.finish(e, source);
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("machine", en.spiffeId());
      out.put("name", en.name());
      out.put("certificate", en.certificateChainPem());
      out.put("root", Pem.encode(authority.ca().root()));
      if (en.otpFirst() != null) out.put("otp_first", Map.of("enc", en.otpFirst().enc(), "ciphertext", en.otpFirst().ciphertext()));
      return out;
    } catch (TpmEnrollmentService.Refused r) {
      throw refused();
    } catch (TpmEnrollmentService.Busy b) {
      throw Problem.overloaded();
    } catch (MalformedTpmDataException m) {
      throw Problem.badRequest("A TPM structure is malformed: " + m.getMessage());
    } catch (IllegalArgumentException bad) {
      throw Problem.badRequest("The CSR is not a valid P-256 PKCS#10 request with a valid signature");
    }
  }

  private static String b64(byte[] b) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static byte[] bytes(JsonNode body, String field, int maxBytes, boolean required) {
    String s = AuthorityServer.text(body, field, (maxBytes * 4 + 2) / 3 + 4, required);
    if (s == null) return null;
    try {
      return Base64.getUrlDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("Field " + field + " must be base64url");
    }
  }
}
