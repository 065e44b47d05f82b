package dev.m2mfa.authority.factor.posture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A golden manifest signed by an operator key (Ed25519 or ECDSA P-256):
 *
 * <pre>
 * {"format":"m2mfa-posture-manifest-v1", "alg":"Ed25519"|"ES256",
 *  "key":"base64url SPKI of the signer", "manifest":"base64url baseline JSON", "signature":"base64url"}
 * </pre>
 *
 * The signature covers the ASCII format name, a zero byte and the exact manifest bytes, so a
 * signature cannot be moved to another kind of document. {@link #verify} takes the trusted key
 * from the operator, not from the envelope: the envelope's key must equal it (so a manifest
 * re-signed by someone else is refused), and the signature must hold under it.
 */
public final class SignedBaseline {
  public static final String FORMAT = "m2mfa-posture-manifest-v1";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_ENVELOPE_BYTES = 48 * 1024 * 1024;

  private SignedBaseline() {}

  public static byte[] sign(byte[] manifestJson, PrivateKey key, PublicKey publicKey) throws GeneralSecurityException {
    Baseline b = Baseline.fromJson(manifestJson); // refuse to sign what import would refuse
    if (!Baseline.MANIFEST.equals(b.source())) throw new IllegalArgumentException("only a manifest (source=manifest) is signed");
    String alg = algorithm(publicKey);
    Signature s = Signature.getInstance(alg.equals("Ed25519") ? "Ed25519" : "SHA256withECDSA");
    s.initSign(key);
    s.update(signedBytes(manifestJson));
    Map<String, Object> env = new LinkedHashMap<>();
    env.put("format", FORMAT);
    env.put("alg", alg);
    env.put("key", b64(publicKey.getEncoded()));
    env.put("manifest", b64(manifestJson));
    env.put("signature", b64(s.sign()));
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(env);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A verified manifest and who signed it. */
  public record Verified(Baseline baseline, String signerFingerprint) {}

  /** Verifies against {@code trusted}; throws {@link IllegalArgumentException} with a short reason otherwise. */
  public static Verified verify(byte[] envelope, PublicKey trusted) {
    if (envelope.length > MAX_ENVELOPE_BYTES) throw new IllegalArgumentException("signed manifest too large");
    JsonNode n;
    try {
      n = JSON.readTree(envelope);
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("signed manifest is not JSON");
    }
    if (n == null || !FORMAT.equals(n.path("format").asText())) throw new IllegalArgumentException("not a " + FORMAT + " document");
    String alg = n.path("alg").asText();
    if (!alg.equals("Ed25519") && !alg.equals("ES256")) throw new IllegalArgumentException("unsupported signature algorithm");
    byte[] key = unb64(n.path("key").asText(), "key");
    byte[] manifest = unb64(n.path("manifest").asText(), "manifest");
    byte[] sig = unb64(n.path("signature").asText(), "signature");
    if (!MessageDigest.isEqual(key, trusted.getEncoded())) throw new IllegalArgumentException("manifest signed by another key than the trusted operator key");
    try {
      if (!alg.equals(algorithm(trusted))) throw new IllegalArgumentException("algorithm does not match the trusted key");
      Signature s = Signature.getInstance(alg.equals("Ed25519") ? "Ed25519" : "SHA256withECDSA");
      s.initVerify(trusted);
      s.update(signedBytes(manifest));
      if (!s.verify(sig)) throw new IllegalArgumentException("manifest signature does not verify");
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("manifest signature does not verify");
    }
    Baseline b = Baseline.fromJson(manifest);
    if (!Baseline.MANIFEST.equals(b.source())) throw new IllegalArgumentException("signed document is not a manifest");
    return new Verified(b, fingerprint(trusted));
  }

  /** SHA-256 of the SPKI, hex, first 16 bytes: names the operator key in the audit log. */
  public static String fingerprint(PublicKey key) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(key.getEncoded()), 0, 16);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Reads an SPKI (base64url) into a key of either supported algorithm. */
  public static PublicKey publicKey(byte[] spki) {
    for (String alg : new String[] {"Ed25519", "EC"}) {
      try {
        return KeyFactory.getInstance(alg).generatePublic(new X509EncodedKeySpec(spki));
      } catch (GeneralSecurityException e) {
        // try the next
      }
    }
    throw new IllegalArgumentException("operator key must be an Ed25519 or P-256 public key");
  }

  static String algorithm(PublicKey key) {
    if (key instanceof ECKey ec) {
      if (ec.getParams().getCurve().getField().getFieldSize() != 256) throw new IllegalArgumentException("EC operator key must be P-256");
      return "ES256";
    }
    if (key.getAlgorithm().equals("Ed25519") || key.getAlgorithm().equals("EdDSA")) return "Ed25519";
    throw new IllegalArgumentException("operator key must be Ed25519 or P-256");
  }

  private static byte[] signedBytes(byte[] manifest) {
    byte[] f = FORMAT.getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[f.length + 1 + manifest.length];
    System.arraycopy(f, 0, out, 0, f.length);
    System.arraycopy(manifest, 0, out, f.length + 1, manifest.length);
    return out;
  }

  private static String b64(byte[] b) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static byte[] unb64(String s, String what) {
    try {
      return Base64.getUrlDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(what + " is not base64url");
    }
  }
}
