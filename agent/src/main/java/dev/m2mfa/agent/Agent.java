package dev.m2mfa.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.m2mfa.agent.keys.ClientTls;
import dev.m2mfa.agent.keys.JwsSigners;
import dev.m2mfa.agent.otp.OtpChainState;
import dev.m2mfa.agent.keys.KeyConfig;
import dev.m2mfa.agent.keys.KeyContext;
import dev.m2mfa.agent.keys.KeyProvider;
import dev.m2mfa.agent.keys.KeyProviders;
import dev.m2mfa.agent.keys.MachineContentSigner;
import dev.m2mfa.agent.keys.MachineSigner;
import dev.m2mfa.api.LoginTranscript;
import dev.m2mfa.api.factor.FactorProver;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.Pem;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * The agent on one machine: its identity key (behind a {@link MachineSigner}), its state
 * directory, and the enrollment and login protocol with the authority.
 *
 * <p>State directory: {@code agent.conf} (authority address, machine name, optional source
 * address, {@code key_provider} and its {@code key.*} options), the key provider's files
 * ({@code identity.key} for software, {@code identity.sealed} for sealed; none for a token
 * key), {@code machine.pem} (current certificate
 * chain), {@code root.pem} (the authority's trust root, obtained out of band).
 *
 * <p>Login runs on one TLS connection: start (challenge), evidence from each factor's
 * {@link FactorProver}, then the signature over the transcript (challenge bytes, TLS
 * exporter, evidence bytes) and finish. The token that comes back is bound to the identity
 * key; every request with it carries a DPoP proof from {@link #dpopProof}.
 */
public final class Agent {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int TIMEOUT_MILLIS = 10_000;

  private final Path dir;
  private final String host;
  private final int port;
  private final String name;
  private final InetAddress bind;
  private final MachineSigner signer;
  private final X509Certificate root;
  private final Map<String, FactorProver> provers;
  private final ECKey publicJwk;
  private volatile List<X509Certificate> chain;
  private volatile SSLContext tls;
  private volatile OtpChainState otp;

  private Agent(Path dir, String host, int port, String name, InetAddress bind, MachineSigner signer, X509Certificate root,
      List<X509Certificate> chain) {
    this.dir = dir;
    this.host = host;
    this.port = port;
    this.name = name;
    this.bind = bind;
    this.signer = signer;
    this.root = root;
    this.chain = chain;
    Map<String, FactorProver> p = new LinkedHashMap<>();
    for (FactorProver f : ServiceLoader.load(FactorProver.class)) {
      if (f instanceof dev.m2mfa.agent.factor.StateDirectoryAware s && name != null) s.attach(dir);
      p.putIfAbsent(f.name(), f);
    }
    this.provers = Map.copyOf(p);
    this.publicJwk = new ECKey.Builder(Curve.P_256, (ECPublicKey) signer.publicKey()).build();
    this.tls = tlsContext();
  }

  /** A fresh short-lived credential. */
  public record Credential(String accessToken, Instant expiresAt, List<String> amr, String acr) {
    @Override
    public String toString() {
      return "Credential[token redacted, expiresAt=" + expiresAt + ", amr=" + amr + ", acr=" + acr + "]";
    }
  }

  /** A refused call: {@code status} and the problem {@code type} the authority answered. */
  public static final class RefusedException extends IOException {
    private final int status;

    public RefusedException(int status, String problemType) {
      super("authority refused (" + status + (problemType == null ? "" : ", " + problemType) + ")");
      this.status = status;
    }

    public int status() {
      return status;
    }
  }

  /**
   * Generates a software identity key in {@code dir}, enrolls with a join token and stores the
   * first certificate. {@code root} is the authority's trust root, obtained out of band.
   */
  public static Agent enroll(Path dir, String host, int port, X509Certificate root, String joinToken, char[] passphrase,
      InetAddress bind) throws IOException {
    return enroll(dir, host, port, root, joinToken, KeyConfig.software(), KeyContext.Secrets.fixed(passphrase), bind);
  }

  /**
   * Generates the identity key with the provider {@code keys} names, enrolls with a join token
   * and stores the first certificate. The enrollment tells the authority where the key lives
   * ({@code key_residence}: provider name and its evidence); the authority decides what it
   * believes. The key configuration goes to agent.conf. {@code key_provider=tpm} enrolls by
   * TPM credential activation instead ({@code TpmEnrollment}).
   */
  public static Agent enroll(Path dir, String host, int port, X509Certificate root, String joinToken, KeyConfig keys,
      KeyContext.Secrets secrets, InetAddress bind) throws IOException {
    if (keys.provider().equals(dev.m2mfa.agent.keys.tpm.TpmProvider.NAME)) {
      // a TPM key is only worth its residence when the authority checked it: credential activation
      return dev.m2mfa.agent.keys.tpm.TpmEnrollment.enroll(dir, host, port, root, joinToken, keys, bind);
    }
    Files.createDirectories(dir);
    KeyProvider provider = KeyProviders.byName(keys.provider());
    KeyContext context = KeyContext.of(dir, keys.options(), secrets);
    MachineSigner key = provider.generate(context);
    String csr;
    try {
      var b = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=m2mfa-agent"), key.publicKey());
      csr = Pem.encode(b.build(new MachineContentSigner(key)));
    } catch (RuntimeException e) {
      provider.discard(context);
      throw new IOException("cannot build the CSR", e);
    }
    Files.writeString(dir.resolve("root.pem"), Pem.encode(root));
    Agent bootstrap = new Agent(dir, host, port, null, bind, key, root, null);
    OtpChainState otp = OtpChainState.create(dir);
    Map<String, Object> residence = new LinkedHashMap<>();
    residence.put("provider", key.provider());
    residence.put("evidence", key.enrollmentEvidence());
    byte[] body = JSON.writeValueAsBytes(Map.of("join_token", joinToken, "csr", csr, "key_residence", residence,
        "otp_chain_key", otp.publicKey()));
    AuthorityChannel.Response r;
    try (AuthorityChannel ch = bootstrap.channel()) {
      r = ch.postJson("/v1/enroll", body);
    } catch (IOException e) {
      provider.discard(context);
      throw e;
    }
    if (r.status() != 200) {
      provider.discard(context);
      OtpChainState.delete(dir);
      throw refused(r);
    }
    JsonNode n = JSON.readTree(r.body());
    String name = n.path("name").asText();
    if (n.hasNonNull("otp_first")) otp.accept(name, n.path("otp_first").path("enc").asText(), n.path("otp_first").path("ciphertext").asText());
    List<X509Certificate> chain = Pem.certificates(n.path("certificate").asText());
    KeyFiles.writeAtomically(dir.resolve("machine.pem"), Pem.encodeChain(chain).getBytes(StandardCharsets.US_ASCII), "rw-------");
    Properties p = new Properties();
    p.setProperty("authority", host + ":" + port);
    p.setProperty("name", name);
    if (bind != null) p.setProperty("bind", bind.getHostAddress());
    keys.writeTo(p);
    try (var w = Files.newBufferedWriter(dir.resolve("agent.conf"))) {
      p.store(w, "m2mfa agent");
    }
    Agent agent = new Agent(dir, host, port, name, bind, key, root, chain);
    agent.otp = otp;
    return agent;
  }

  /** Opens an enrolled agent's state; {@code bindOverride} replaces the stored source address. */
  public static Agent open(Path dir, char[] passphrase, InetAddress bindOverride) throws IOException {
    return open(dir, KeyContext.Secrets.fixed(passphrase), bindOverride);
  }

  /**
   * Opens an enrolled agent with the key provider its agent.conf names; {@code secrets} is
   * asked only for what that provider needs (a software key's passphrase, a PIN). A sealed
   * key opens locked.
   */
  public static Agent open(Path dir, KeyContext.Secrets secrets, InetAddress bindOverride) throws IOException {
    Properties p = conf(dir);
    KeyConfig keys = KeyConfig.from(p);
    return open(dir, p, KeyProviders.byName(keys.provider()).open(KeyContext.of(dir, keys.options(), secrets)), bindOverride);
  }

  /**
   * Opens an enrolled agent whose identity key lives in {@code signer} (a TPM, an HSM) rather
   * than in {@code identity.key}; {@code bindOverride} replaces the stored source address.
   */
  public static Agent openWithSigner(Path dir, MachineSigner signer, InetAddress bindOverride) throws IOException {
    return open(dir, conf(dir), signer, bindOverride);
  }

  private static Properties conf(Path dir) throws IOException {
    Properties p = new Properties();
    try (var r = Files.newBufferedReader(dir.resolve("agent.conf"))) {
      p.load(r);
    }
    return p;
  }

  private static Agent open(Path dir, Properties p, MachineSigner key, InetAddress bindOverride) throws IOException {
    String authority = p.getProperty("authority");
    int colon = authority.lastIndexOf(':');
    InetAddress bind = bindOverride;
    if (bind == null && p.getProperty("bind") != null) bind = InetAddress.ofLiteral(p.getProperty("bind"));
    X509Certificate root = Pem.certificate(Files.readString(dir.resolve("root.pem")));
    List<X509Certificate> chain = Pem.certificates(Files.readString(dir.resolve("machine.pem")));
    Agent agent = new Agent(dir, authority.substring(0, colon), Integer.parseInt(authority.substring(colon + 1)), p.getProperty("name"),
        bind, key, root, chain);
    agent.otp = OtpChainState.open(dir);
    return agent;
  }

  public String name() {
    return name;
  }

  public Path directory() {
    return dir;
  }

  public X509Certificate certificate() {
    return chain == null ? null : chain.getFirst();
  }

  /** RFC 7638 thumbprint of the identity key (the token's {@code cnf.jkt}). */
  public String keyThumbprint() {
    try {
      return publicJwk.computeThumbprint().toString();
    } catch (com.nimbusds.jose.JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A TLS context presenting the machine certificate when the key's provider offers a TLS key
   * (software, PKCS#11); relying services may use it for mTLS. Otherwise (sealed, TPM) it
   * presents no client certificate, and tokens bind to the key through {@code cnf.jkt} only.
   */
  public SSLContext tlsContext() {
    return ClientTls.context(root, chain, signer);
  }

  /** The identity key's handle (signatures only; a sealed key's unlock goes through it). */
  public MachineSigner key() {
    return signer;
  }

  public AuthorityChannel channel() throws IOException {
    return new AuthorityChannel(tls, host, port, bind, TIMEOUT_MILLIS);
  }

  /** Logs in for {@code audience} on a new connection. */
  public Credential login(String audience) throws IOException {
    try (AuthorityChannel ch = channel()) {
      return login(ch, audience);
    }
  }

  /**
   * Logs in for {@code audience} asking for assurance level {@code acr} (a step-up after a
   * relying service answered {@code insufficient_user_authentication} with {@code acr_values}).
   */
  public Credential login(String audience, String acr) throws IOException {
    try (AuthorityChannel ch = channel()) {
      return login(ch, audience, acr, null);
    }
  }

  /** Logs in on an open connection (start and finish must share it: channel binding). */
  public Credential login(AuthorityChannel ch, String audience) throws IOException {
    return login(ch, audience, null, null);
  }

  /** Where a simulated crash stops a login (crash drills and tests only). */
  public enum CrashPoint {
    /** Killed after the authority answered, before the next one-time secret reached the disk. */
    BEFORE_PERSIST,
    /** Killed after the fsync, before the acknowledgement reached the authority. */
    BEFORE_ACK
  }

  /**
   * For crash drills and tests only: logs in and stops where a killed agent would. The
   * returned credential is what the dead agent would have held (it never gets to use it).
   */
  public Credential loginSimulatingCrash(String audience, CrashPoint point) throws IOException {
    try (AuthorityChannel ch = channel()) {
      return login(ch, audience, null, point);
    }
  }

  private Credential login(AuthorityChannel ch, String audience, String acr, CrashPoint crash) throws IOException {
    Map<String, Object> startBody = new LinkedHashMap<>();
    startBody.put("machine", name);
    startBody.put("audience", audience);
    if (acr != null) startBody.put("acr", acr);
    AuthorityChannel.Response start = ch.postJson("/v1/login/start", JSON.writeValueAsBytes(startBody));
    if (start.status() != 200) throw refused(start);
    byte[] challenge = start.body();
    JsonNode c = JSON.readTree(challenge);
    Map<String, Object> evidence = new LinkedHashMap<>();
    var fields = c.path("factors").properties();
    for (var f : fields) {
      if (f.getKey().equals("otp-chain")) {
        if (otp != null) evidence.put("otp-chain", otp.evidence());
        continue;
      }
      FactorProver p = provers.get(f.getKey());
      if (p == null) continue;
      @SuppressWarnings("unchecked")
      Map<String, Object> ch2 = JSON.convertValue(f.getValue(), Map.class);
      try {
        evidence.put(f.getKey(), p.prove(name, ch2));
      } catch (Exception e) {
        throw new IOException("factor " + f.getKey() + " could not produce evidence", e);
      }
    }
    byte[] evidenceBytes = JSON.writeValueAsBytes(evidence);
    byte[] signature = signer.sign(LoginTranscript.bytes(challenge, ch.loginExporter(), evidenceBytes));
    boolean wantCert = certificateNeedsRenewal();
    Map<String, Object> finish = new LinkedHashMap<>();
    finish.put("session", c.path("session").asText());
    finish.put("evidence", Base64.getUrlEncoder().withoutPadding().encodeToString(evidenceBytes));
    finish.put("signature", Base64.getUrlEncoder().withoutPadding().encodeToString(signature));
    finish.put("want_certificate", wantCert);
    AuthorityChannel.Response r = ch.postJson("/v1/login/finish", JSON.writeValueAsBytes(finish));
    if (r.status() != 200) throw refused(r);
    JsonNode n = JSON.readTree(r.body());
    if (n.hasNonNull("otp_next") && otp != null && crash != CrashPoint.BEFORE_PERSIST) {
      // durable before the credential is used: a crash here means the old secret again, which the authority forgives
      otp.accept(name, n.path("otp_next").path("enc").asText(), n.path("otp_next").path("ciphertext").asText());
    }
    if (n.hasNonNull("otp_next") && otp != null && crash == null) {
      // then confirm it: from now on the old secret coming back is a copy, not a crash
      Map<String, Object> ack = new LinkedHashMap<>(otp.evidence());
      ack.put("machine", name);
      AuthorityChannel.Response a = ch.postJson("/v1/login/ack", JSON.writeValueAsBytes(ack));
      if (a.status() != 200) throw refused(a);
    }
    if (n.hasNonNull("certificate")) {
      List<X509Certificate> fresh = Pem.certificates(n.get("certificate").asText());
      KeyFiles.writeAtomically(dir.resolve("machine.pem"), Pem.encodeChain(fresh).getBytes(StandardCharsets.US_ASCII), "rw-------");
      chain = fresh;
      tls = tlsContext();
    }
    List<String> amr = new ArrayList<>();
    n.path("amr").forEach(a -> amr.add(a.asText()));
    return new Credential(n.path("access_token").asText(), Instant.now().plusSeconds(n.path("expires_in").asLong()), amr,
        n.path("acr").asText());
  }

  private boolean certificateNeedsRenewal() {
    X509Certificate cert = certificate();
    if (cert == null) return true;
    long from = cert.getNotBefore().getTime();
    long to = cert.getNotAfter().getTime();
    return System.currentTimeMillis() > from + (to - from) / 2;
  }

  /** An RFC 9449 DPoP proof for one request with {@code accessToken}. */
  public String dpopProof(String method, URI uri, String accessToken) {
    try {
      byte[] jti = new byte[16];
      RANDOM.nextBytes(jti);
      String htu = new URI(uri.getScheme(), uri.getAuthority(), uri.getPath(), null, null).toString();
      String ath = Base64.getUrlEncoder().withoutPadding()
          .encodeToString(MessageDigest.getInstance("SHA-256").digest(accessToken.getBytes(StandardCharsets.US_ASCII)));
      JWTClaimsSet claims = new JWTClaimsSet.Builder().jwtID(Base64.getUrlEncoder().withoutPadding().encodeToString(jti))
          .claim("htm", method).claim("htu", htu).issueTime(Date.from(Instant.now())).claim("ath", ath).build();
      SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).type(new JOSEObjectType("dpop+jwt")).jwk(publicJwk).build(), claims);
      jwt.sign(JwsSigners.es256(signer));
      return jwt.serialize();
    } catch (Exception e) {
      throw new IllegalStateException("cannot build a DPoP proof", e);
    }
  }

  private static RefusedException refused(AuthorityChannel.Response r) {
    String type = null;
    try {
      type = JSON.readTree(r.body()).path("type").asText(null);
    } catch (IOException ignored) {
      // not a problem document
    }
    return new RefusedException(r.status(), type);
  }
}
