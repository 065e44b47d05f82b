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
import dev.m2mfa.agent.keys.JwsSigners;
import dev.m2mfa.agent.keys.MachineSigner;
import dev.m2mfa.agent.keys.SoftwareKeyProvider;
import dev.m2mfa.api.LoginTranscript;
import dev.m2mfa.api.factor.FactorProver;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.api.pki.TlsContexts;
import java.security.PrivateKey;
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
 * address), {@code identity.key} (encrypted PKCS#8), {@code machine.pem} (current certificate
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
   * Generates an identity key in {@code dir}, enrolls with a join token and stores the first
   * certificate. {@code root} is the authority's trust root, obtained out of band.
   */
  public static Agent enroll(Path dir, String host, int port, X509Certificate root, String joinToken, char[] passphrase,
      InetAddress bind) throws IOException {
    Files.createDirectories(dir);
    SoftwareKeyProvider key = SoftwareKeyProvider.generate(dir.resolve("identity.key"), passphrase);
    String csr;
    try {
      var b = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=m2mfa-agent"), key.publicKey());
      var cs = new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA").build(key.privateKeyForTls());
      csr = Pem.encode(b.build(cs));
    } catch (org.bouncycastle.operator.OperatorCreationException e) {
      throw new IOException("cannot build the CSR", e);
    }
    Files.writeString(dir.resolve("root.pem"), Pem.encode(root));
    Agent bootstrap = new Agent(dir, host, port, null, bind, key, root, null);
    byte[] body = JSON.writeValueAsBytes(Map.of("join_token", joinToken, "csr", csr));
    AuthorityChannel.Response r;
    try (AuthorityChannel ch = bootstrap.channel()) {
      r = ch.postJson("/v1/enroll", body);
    }
    if (r.status() != 200) {
      Files.deleteIfExists(dir.resolve("identity.key"));
      throw refused(r);
    }
    JsonNode n = JSON.readTree(r.body());
    String name = n.path("name").asText();
    List<X509Certificate> chain = Pem.certificates(n.path("certificate").asText());
    KeyFiles.writeAtomically(dir.resolve("machine.pem"), Pem.encodeChain(chain).getBytes(StandardCharsets.US_ASCII), "rw-------");
    Properties p = new Properties();
    p.setProperty("authority", host + ":" + port);
    p.setProperty("name", name);
    if (bind != null) p.setProperty("bind", bind.getHostAddress());
    try (var w = Files.newBufferedWriter(dir.resolve("agent.conf"))) {
      p.store(w, "m2mfa agent");
    }
    return new Agent(dir, host, port, name, bind, key, root, chain);
  }

  /** Opens an enrolled agent's state; {@code bindOverride} replaces the stored source address. */
  public static Agent open(Path dir, char[] passphrase, InetAddress bindOverride) throws IOException {
    Properties p = new Properties();
    try (var r = Files.newBufferedReader(dir.resolve("agent.conf"))) {
      p.load(r);
    }
    String authority = p.getProperty("authority");
    int colon = authority.lastIndexOf(':');
    InetAddress bind = bindOverride;
    if (bind == null && p.getProperty("bind") != null) bind = InetAddress.ofLiteral(p.getProperty("bind"));
    SoftwareKeyProvider key = SoftwareKeyProvider.open(dir.resolve("identity.key"), passphrase);
    X509Certificate root = Pem.certificate(Files.readString(dir.resolve("root.pem")));
    List<X509Certificate> chain = Pem.certificates(Files.readString(dir.resolve("machine.pem")));
    return new Agent(dir, authority.substring(0, colon), Integer.parseInt(authority.substring(colon + 1)), p.getProperty("name"),
        bind, key, root, chain);
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

  /** A TLS context presenting the machine certificate; relying services may use it for mTLS. */
  public SSLContext tlsContext() {
    PrivateKey key = chain != null && signer instanceof SoftwareKeyProvider sk ? sk.privateKeyForTls() : null;
    return TlsContexts.create(root, chain, key);
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

  /** Logs in on an open connection (start and finish must share it: channel binding). */
  public Credential login(AuthorityChannel ch, String audience) throws IOException {
    AuthorityChannel.Response start = ch.postJson("/v1/login/start", JSON.writeValueAsBytes(Map.of("machine", name, "audience", audience)));
    if (start.status() != 200) throw refused(start);
    byte[] challenge = start.body();
    JsonNode c = JSON.readTree(challenge);
    Map<String, Object> evidence = new LinkedHashMap<>();
    var fields = c.path("factors").properties();
    for (var f : fields) {
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
