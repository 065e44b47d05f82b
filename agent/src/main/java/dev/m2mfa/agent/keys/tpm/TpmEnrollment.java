package dev.m2mfa.agent.keys.tpm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.AuthorityChannel;
import dev.m2mfa.agent.keys.KeyConfig;
import dev.m2mfa.agent.keys.KeyContext;
import dev.m2mfa.agent.keys.KeyProvider;
import dev.m2mfa.agent.keys.MachineSigner;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.api.pki.TlsContexts;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.DefaultSignatureAlgorithmIdentifierFinder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * Agent-side enrollment of a machine whose login key lives in the TPM (the two-round
 * protocol of the authority's {@code TpmEnrollmentService}): creates the login key in the
 * TPM through the {@code tpm} {@link KeyProvider} ({@link TpmProvider}), proves with an AK
 * under the EK that the key is TPM-resident, and stores the agent's state with
 * {@code key_provider=tpm}, {@code key.tcti} and {@code key.handle} in {@code agent.conf}
 * ({@link KeyConfig}), so that {@code Agent.open} opens it like any other agent.
 * {@code Agent.enroll} sends every {@code key_provider=tpm} enrollment here: a TPM key never
 * enrolls without credential activation.
 *
 * <p>Round one ({@code /v1/enroll/tpm/start}): join token, EK public (and certificate), AK
 * public; back come the wrapped credential and a nonce. Round two
 * ({@code /v1/enroll/tpm/finish}): the activated secret, a quote over the nonce, the certify
 * of the login key, the login key's signature over the nonce, and the CSR signed by the
 * login key in the TPM.
 */
public final class TpmEnrollment {
  public static final String START = "/v1/enroll/tpm/start";
  public static final String FINISH = "/v1/enroll/tpm/finish";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final byte[] POSSESSION_CONTEXT = "m2mfa tpm enrollment v1\0".getBytes(StandardCharsets.US_ASCII);

  private TpmEnrollment() {}

  /**
   * Enrolls with {@code joinToken}; the login key is created in the TPM reached by {@code tpm}
   * and persisted at {@code handle}. On refusal the key is removed again and the authority's
   * answer is thrown as {@link Agent.RefusedException}.
   */
  public static Agent enroll(Path dir, String host, int port, X509Certificate root, String joinToken, TpmTools tpm, int handle,
      InetAddress bind) throws IOException {
    return enroll(dir, host, port, root, joinToken, TpmProvider.config(tpm.tcti(), handle), bind);
  }

  /**
   * Enrolls with {@code joinToken}, the login key made by the {@code tpm} {@link KeyProvider}
   * with the options in {@code keys} ({@code tcti}, {@code handle}); {@code keys} goes to
   * agent.conf, so {@code Agent.open} opens the agent again. On refusal the key is discarded
   * and the authority's answer is thrown as {@link Agent.RefusedException}.
   */
  public static Agent enroll(Path dir, String host, int port, X509Certificate root, String joinToken, KeyConfig keys,
      InetAddress bind) throws IOException {
    if (!TpmProvider.NAME.equals(keys.provider())) throw new IllegalArgumentException("TPM enrollment needs key_provider=tpm");
    Files.createDirectories(dir);
    KeyProvider provider = new TpmProvider();
    KeyContext context = KeyContext.of(dir, keys.options(), KeyContext.Secrets.none());
    TpmKeyProvider key = (TpmKeyProvider) provider.generate(context);
    TpmTools tpm = key.tools();
    boolean done = false;
    int akHandle = 0;
    try (TpmAttestor attestor = TpmAttestor.begin(tpm);
        AuthorityChannel ch = new AuthorityChannel(TlsContexts.create(root, null, null), host, port, bind, 30_000)) {
      Map<String, Object> start = new LinkedHashMap<>();
      start.put("join_token", joinToken);
      start.put("ek_public", b64(attestor.ekPublic()));
      if (attestor.ekCertificate() != null) start.put("ek_certificate", b64(attestor.ekCertificate()));
      start.put("ak_public", b64(attestor.akPublic()));
      AuthorityChannel.Response r = ch.postJson(START, JSON.writeValueAsBytes(start));
      if (r.status() != 200) throw refused(r);
      JsonNode c = JSON.readTree(r.body());
      byte[] nonce = unb64(c.path("nonce").asText());
      byte[] secret = attestor.activate(unb64(c.path("credential_blob").asText()), unb64(c.path("encrypted_secret").asText()));
      TpmAttestor.Attestation quote = attestor.quote(nonce);
      TpmAttestor.Attestation certify = attestor.certify(key);
      Map<String, Object> finish = new LinkedHashMap<>();
      finish.put("session", c.path("session").asText());
      finish.put("secret", b64(secret));
      java.util.Arrays.fill(secret, (byte) 0);
      finish.put("csr", csr(key));
      finish.put("login_public", b64(key.tpmPublic().wire2b()));
      finish.put("certify_attest", b64(certify.attest()));
      finish.put("certify_signature", b64(certify.signature()));
      finish.put("quote_attest", b64(quote.attest()));
      finish.put("quote_signature", b64(quote.signature()));
      finish.put("possession_signature", b64(key.sign(possessionMessage(nonce))));
      dev.m2mfa.agent.otp.OtpChainState.delete(dir);
      dev.m2mfa.agent.otp.OtpChainState otp = dev.m2mfa.agent.otp.OtpChainState.create(dir);
      finish.put("otp_chain_key", otp.publicKey());
      r = ch.postJson(FINISH, JSON.writeValueAsBytes(finish));
      if (r.status() != 200) throw refused(r);
      JsonNode n = JSON.readTree(r.body());
      if (n.hasNonNull("otp_first")) {
        otp.accept(n.path("name").asText(), n.path("otp_first").path("enc").asText(), n.path("otp_first").path("ciphertext").asText());
      }
      List<X509Certificate> chain = Pem.certificates(n.path("certificate").asText());
      Files.writeString(dir.resolve("root.pem"), Pem.encode(root));
      KeyFiles.writeAtomically(dir.resolve("machine.pem"), Pem.encodeChain(chain).getBytes(StandardCharsets.US_ASCII), "rw-------");
      Properties p = new Properties();
      p.setProperty("authority", host + ":" + port);
      p.setProperty("name", n.path("name").asText());
      if (bind != null) p.setProperty("bind", bind.getHostAddress());
      keys.writeTo(p);
      akHandle = attestor.persistAk(); // for quotes after enrollment (posture anchoring)
      p.setProperty("tpm_ak_handle", TpmTools.handle(akHandle));
      try (var w = Files.newBufferedWriter(dir.resolve("agent.conf"))) {
        p.store(w, "m2mfa agent");
      }
      done = true;
      return Agent.open(dir, KeyContext.Secrets.none(), bind);
    } finally {
      if (!done) provider.discard(context);
      if (!done && akHandle != 0) TpmAttestor.evictAk(tpm, akHandle);
    }
  }

  /** Opens a TPM-enrolled agent from its state directory: {@code Agent.open}, which finds the {@code tpm} provider in agent.conf. */
  public static Agent open(Path dir, InetAddress bindOverride) throws IOException {
    openKey(dir); // a plain "not a TPM agent" or "this TPM cannot load the key" before anything else
    return Agent.open(dir, KeyContext.Secrets.none(), bindOverride);
  }

  /** The TPM login key of the agent in {@code dir}, from its {@code agent.conf} ({@code key.tcti}, {@code key.handle}). */
  public static TpmKeyProvider openKey(Path dir) throws IOException {
    Properties p = new Properties();
    try (var r = Files.newBufferedReader(dir.resolve("agent.conf"))) {
      p.load(r);
    }
    KeyConfig keys = KeyConfig.from(p);
    if (!TpmProvider.NAME.equals(keys.provider())) throw new IOException("the agent in " + dir + " does not keep its key in a TPM");
    return new TpmProvider().open(KeyContext.of(dir, keys.options(), KeyContext.Secrets.none()));
  }

  /** What the login key signs in round two; equal to the authority's {@code possessionMessage}. */
  public static byte[] possessionMessage(byte[] nonce) {
    byte[] out = java.util.Arrays.copyOf(POSSESSION_CONTEXT, POSSESSION_CONTEXT.length + nonce.length);
    System.arraycopy(nonce, 0, out, POSSESSION_CONTEXT.length, nonce.length);
    return out;
  }

  /** A PKCS#10 request for the key, signed inside the TPM. */
  public static String csr(MachineSigner key) throws IOException {
    AlgorithmIdentifier alg = new DefaultSignatureAlgorithmIdentifierFinder().find("SHA256withECDSA");
    ContentSigner signer = new ContentSigner() {
      private final java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();

      @Override
      public AlgorithmIdentifier getAlgorithmIdentifier() {
        return alg;
      }

      @Override
      public OutputStream getOutputStream() {
        return buffer;
      }

      @Override
      public byte[] getSignature() {
        return key.sign(buffer.toByteArray());
      }
    };
    return Pem.encode(new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=m2mfa-agent"), key.publicKey()).build(signer));
  }

  static String b64(byte[] b) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  static byte[] unb64(String s) throws IOException {
    try {
      return Base64.getUrlDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      throw new IOException("the authority sent malformed base64");
    }
  }

  private static Agent.RefusedException refused(AuthorityChannel.Response r) {
    String type = null;
    try {
      type = JSON.readTree(r.body()).path("type").asText(null);
    } catch (IOException ignored) {
      // not a problem document
    }
    return new Agent.RefusedException(r.status(), type);
  }
}
