package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.AuthorityChannel;
import dev.m2mfa.agent.keys.tpm.TpmAttestor;
import dev.m2mfa.agent.keys.tpm.TpmEnrollment;
import dev.m2mfa.agent.keys.tpm.TpmException;
import dev.m2mfa.agent.keys.tpm.TpmKeyProvider;
import dev.m2mfa.agent.keys.tpm.TpmTools;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.TlsContexts;
import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.testkit.Swtpm;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TPM enrollment by credential activation, end to end: a real authority (EK CAs configured
 * with swtpm's local CA), agents on real swtpm instances, and attacks played against the
 * two-round protocol byte for byte. TPM "a" is the machine's; TPM "b" is the attacker's own
 * TPM, with an EK certificate from the same CA (as genuine as the machine's); TPM "c" has an
 * EK certificate from a CA the authority does not trust.
 */
class TpmEnrollmentTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final char[] PASSPHRASE = "correct horse battery staple".toCharArray();
  private static final AtomicInteger HANDLES = new AtomicInteger(0x81000300);
  @TempDir static Path tmp;
  static Swtpm a;
  static Swtpm b;
  static Swtpm c;
  static TpmTools tpmA;
  static TpmTools tpmB;
  static Authority authority;

  @BeforeAll
  static void start() throws Exception {
    a = Swtpm.start(tmp.resolve("tpm-a"), tmp.resolve("ek-ca"));
    b = Swtpm.start(tmp.resolve("tpm-b"), tmp.resolve("ek-ca"));
    c = Swtpm.start(tmp.resolve("tpm-c"), tmp.resolve("other-ca"));
    tpmA = TpmTools.of(a.tcti());
    tpmB = TpmTools.of(b.tcti());
    Path dir = tmp.resolve("authority");
    Authority.init(dir, AuthorityConfig.defaults(), PASSPHRASE, "ops");
    Files.createDirectories(dir.resolve("tpm"));
    Files.writeString(dir.resolve("tpm/ek-ca.pem"), Files.readString(a.rootCertificate()) + Files.readString(a.issuerCertificate()));
    Files.writeString(dir.resolve("tpm/tpm.conf"), "require_ek_certificate=true\n");
    authority = Authority.open(dir, PASSPHRASE, cfg -> cfg.withListen("127.0.0.1", 0).withHeartbeat(Duration.ofMillis(200)));
    authority.start();
  }

  @AfterAll
  static void stop() {
    if (authority != null) authority.close();
    for (Swtpm t : new Swtpm[] {a, b, c}) if (t != null) t.close();
  }

  static String joinToken(String name) {
    return authority.enrollment().createJoinToken(name, "default", List.of("127.0.0.1/32"), Duration.ofMinutes(5), "test").token();
  }

  static AuthorityChannel channel() throws Exception {
    return new AuthorityChannel(TlsContexts.create(authority.ca().root(), null, null), "127.0.0.1", authority.port(),
        InetAddress.ofLiteral("127.0.0.1"), 30_000);
  }

  static String b64(byte[] x) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(x);
  }

  static byte[] unb64(JsonNode n) {
    return Base64.getUrlDecoder().decode(n.asText());
  }

  static JsonNode start(AuthorityChannel ch, String token, byte[] ekPublic, byte[] ekCert, byte[] akPublic) throws Exception {
    AuthorityChannel.Response r = postStart(ch, token, ekPublic, ekCert, akPublic);
    assertThat(r.status()).as(r.text()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  static AuthorityChannel.Response postStart(AuthorityChannel ch, String token, byte[] ekPublic, byte[] ekCert, byte[] akPublic)
      throws Exception {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("join_token", token);
    body.put("ek_public", b64(ekPublic));
    if (ekCert != null) body.put("ek_certificate", b64(ekCert));
    body.put("ak_public", b64(akPublic));
    return ch.postJson(TpmEnrollment.START, JSON.writeValueAsBytes(body));
  }

  /** The honest finish body for {@code challenge}; tests replace fields to attack. */
  static Map<String, Object> honestFinish(TpmAttestor attestor, TpmKeyProvider key, JsonNode challenge) throws Exception {
    byte[] nonce = unb64(challenge.path("nonce"));
    byte[] secret = attestor.activate(unb64(challenge.path("credential_blob")), unb64(challenge.path("encrypted_secret")));
    TpmAttestor.Attestation quote = attestor.quote(nonce);
    TpmAttestor.Attestation certify = attestor.certify(key);
    Map<String, Object> f = new LinkedHashMap<>();
    f.put("session", challenge.path("session").asText());
    f.put("secret", b64(secret));
    f.put("csr", TpmEnrollment.csr(key));
    f.put("login_public", b64(key.tpmPublic().wire2b()));
    f.put("certify_attest", b64(certify.attest()));
    f.put("certify_signature", b64(certify.signature()));
    f.put("quote_attest", b64(quote.attest()));
    f.put("quote_signature", b64(quote.signature()));
    f.put("possession_signature", b64(key.sign(TpmEnrollment.possessionMessage(nonce))));
    return f;
  }

  static AuthorityChannel.Response finish(AuthorityChannel ch, Map<String, Object> body) throws Exception {
    return ch.postJson(TpmEnrollment.FINISH, JSON.writeValueAsBytes(body));
  }

  static void assertRefused(AuthorityChannel.Response r) throws Exception {
    assertThat(r.status()).as(r.text()).isEqualTo(401);
    assertThat(r.contentType()).startsWith("application/problem+json");
    assertThat(JSON.readTree(r.body()).path("type").asText()).isEqualTo("https://m2mfa.dev/problems/tpm-evidence-refused");
  }

  static TpmKeyProvider newKey(TpmTools tpm, String name) throws Exception {
    return TpmKeyProvider.create(tpm, tmp.resolve("keys").resolve(name), HANDLES.getAndIncrement());
  }

  static void assertNotEnrolled(String name) {
    assertThat(authority.store().machines().find(name)).isEmpty();
    assertThat(authority.store().factorStates().get(name, "hardware")).isEmpty();
  }

  @Test
  void tpmEnrolledMachineIsRecordedTpmResidentAndLogsIn() throws Exception {
    Path dir = tmp.resolve("machine-ok");
    Agent agent = TpmEnrollment.enroll(dir, "127.0.0.1", authority.port(), authority.ca().root(), joinToken("tpm-ok"), tpmA,
        HANDLES.getAndIncrement(), InetAddress.ofLiteral("127.0.0.1"));
    JsonNode state = JSON.readTree(authority.store().factorStates().get("tpm-ok", "hardware").orElseThrow());
    assertThat(state.path("residence").asText()).isEqualTo("tpm");
    assertThat(state.path("proof").asText()).isEqualTo("tpm-credential-activation");
    assertThat(state.path("detail").asText()).contains("certified under CN=swtpm-localca-rootca");
    assertThat(JSON.convertValue(state, Map.class).keySet()).containsExactly("residence", "proof", "detail");
    // the enrolled key is the TPM key
    TpmKeyProvider key = TpmEnrollment.openKey(dir);
    assertThat(authority.store().machines().find("tpm-ok").orElseThrow().keyThumbprint())
        .isEqualTo(dev.m2mfa.authority.enroll.EnrollmentService.jkt(key.publicKey()));
    Agent.Credential cred = agent.login("inventory");
    assertThat(cred.amr()).contains("key");
    // reopening from the state directory works too, and through the generic key provider SPI
    assertThat(TpmEnrollment.open(dir, null).login("inventory").amr()).contains("key");
    assertThat(Files.readString(dir.resolve("agent.conf"))).contains("key_provider=tpm", "key.tcti=", "key.handle=0x").doesNotContain("tpm_tcti");
    Agent reopened = Agent.open(dir, dev.m2mfa.agent.keys.KeyContext.Secrets.none(), null);
    assertThat(reopened.key().provider()).isEqualTo("tpm");
    assertThat(reopened.login("inventory").amr()).contains("key");
    // no secret, blob or key file leaks outside what the agent keeps (its key blobs and its otp-chain state)
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()).sorted().toList())
          .containsExactly("agent.conf", "machine.pem", "otp-chain.key", "otp-chain.pub", "otp-chain.secret", "root.pem", "tpm-login.priv",
              "tpm-login.pub");
    }
  }

  @Test
  void copiedAgentFilesOnAnotherTpmCannotSignOrLogIn() throws Exception {
    Path dir = tmp.resolve("machine-copied");
    TpmEnrollment.enroll(dir, "127.0.0.1", authority.port(), authority.ca().root(), joinToken("tpm-copied"), tpmA,
        0x81000250, InetAddress.ofLiteral("127.0.0.1"));
    // the attacker copies every file of the machine to a host with its own TPM (b)
    Path stolen = tmp.resolve("stolen");
    Files.createDirectories(stolen);
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : files.toList()) Files.copy(p, stolen.resolve(p.getFileName()));
    }
    String conf = Files.readString(stolen.resolve("agent.conf")).replace(a.tcti().replace(":", "\\:").replace("=", "\\="),
        b.tcti().replace(":", "\\:").replace("=", "\\="));
    Files.writeString(stolen.resolve("agent.conf"), conf);
    assertThat(conf).contains(String.valueOf(b.tcti().split("port=")[1]));
    // the key blobs do not load under another TPM's storage key
    assertThatThrownBy(() -> TpmEnrollment.open(stolen, null)).isInstanceOf(TpmException.class)
        .hasMessageContaining("cannot load the login key");
    // the attacker puts a key of their own TPM at that handle: the agent refuses to use it...
    TpmKeyProvider attackerKey = TpmKeyProvider.create(tpmB, tmp.resolve("attacker-key"), 0x81000250);
    assertThatThrownBy(() -> TpmEnrollment.open(stolen, null)).isInstanceOf(TpmException.class)
        .hasMessageContaining("holds a different key");
    // ...and a login signed by it with the stolen files fails at the authority
    Agent impostor = Agent.openWithSigner(stolen, attackerKey, InetAddress.ofLiteral("127.0.0.1"));
    assertThatThrownBy(() -> impostor.login("inventory")).isInstanceOf(Agent.RefusedException.class)
        .satisfies(e -> assertThat(((Agent.RefusedException) e).status()).isEqualTo(401));
  }

  @Test
  void credentialForAnotherTpmsEkCannotBeActivated() throws Exception {
    String token = joinToken("tpm-wrong-ek");
    TpmKeyProvider key = newKey(tpmA, "wrong-ek");
    try (TpmAttestor attestor = TpmAttestor.begin(tpmA); TpmAttestor other = TpmAttestor.begin(tpmB);
        AuthorityChannel ch = channel()) {
      // the AK of TPM a presented with the (genuine, certified) EK of TPM b
      JsonNode challenge = start(ch, token, other.ekPublic(), other.ekCertificate(), attestor.akPublic());
      assertThatThrownBy(() -> attestor.activate(unb64(challenge.path("credential_blob")), unb64(challenge.path("encrypted_secret"))))
          .isInstanceOf(TpmException.class).hasMessageContaining("credential activation failed");
      // TPM b has the EK but not the AK: it cannot activate either
      assertThatThrownBy(() -> other.activate(unb64(challenge.path("credential_blob")), unb64(challenge.path("encrypted_secret"))))
          .isInstanceOf(TpmException.class);
      Map<String, Object> f = new LinkedHashMap<>();
      byte[] guess = new byte[32];
      new SecureRandom().nextBytes(guess);
      f.put("session", challenge.path("session").asText());
      f.put("secret", b64(guess));
      TpmAttestor.Attestation q = attestor.quote(unb64(challenge.path("nonce")));
      TpmAttestor.Attestation cert = attestor.certify(key);
      f.put("csr", TpmEnrollment.csr(key));
      f.put("login_public", b64(key.tpmPublic().wire2b()));
      f.put("certify_attest", b64(cert.attest()));
      f.put("certify_signature", b64(cert.signature()));
      f.put("quote_attest", b64(q.attest()));
      f.put("quote_signature", b64(q.signature()));
      f.put("possession_signature", b64(key.sign(TpmEnrollment.possessionMessage(unb64(challenge.path("nonce"))))));
      assertRefused(finish(ch, f));
    }
    assertNotEnrolled("tpm-wrong-ek");
    // the refused attempt did not consume the join token: the honest enrollment still works
    TpmEnrollment.enroll(tmp.resolve("machine-wrong-ek"), "127.0.0.1", authority.port(), authority.ca().root(), token, tpmA,
        HANDLES.getAndIncrement(), InetAddress.ofLiteral("127.0.0.1"));
    assertThat(authority.store().factorStates().get("tpm-wrong-ek", "hardware")).isPresent();
  }

  /** A TPMT_PUBLIC for a software P-256 key that claims {@code attributes}. */
  static byte[] softwareAkPublic(ECPublicKey key, int attributes) {
    ByteArrayOutputStream t = new ByteArrayOutputStream();
    writeU16(t, TpmPublic.ALG_ECC);
    writeU16(t, TpmPublic.ALG_SHA256);
    writeU32(t, attributes);
    writeU16(t, 0); // authPolicy
    writeU16(t, TpmPublic.ALG_NULL);
    writeU16(t, TpmPublic.ALG_ECDSA);
    writeU16(t, TpmPublic.ALG_SHA256);
    writeU16(t, TpmPublic.CURVE_P256);
    writeU16(t, TpmPublic.ALG_NULL);
    byte[] x = fixed32(key.getW().getAffineX().toByteArray());
    byte[] y = fixed32(key.getW().getAffineY().toByteArray());
    writeU16(t, 32);
    t.writeBytes(x);
    writeU16(t, 32);
    t.writeBytes(y);
    return dev.m2mfa.api.tpm.TpmReader.wrap2b(t.toByteArray());
  }

  static byte[] fixed32(byte[] v) {
    byte[] out = new byte[32];
    int n = Math.min(v.length, 32);
    System.arraycopy(v, v.length - n, out, 32 - n, n);
    return out;
  }

  static void writeU16(ByteArrayOutputStream o, int v) {
    o.write(v >>> 8);
    o.write(v);
  }

  static void writeU32(ByteArrayOutputStream o, int v) {
    writeU16(o, v >>> 16);
    writeU16(o, v & 0xffff);
  }

  static final int HONEST_AK = TpmPublic.FIXED_TPM | TpmPublic.FIXED_PARENT | TpmPublic.SENSITIVE_DATA_ORIGIN
      | TpmPublic.USER_WITH_AUTH | TpmPublic.RESTRICTED | TpmPublic.SIGN;

  @Test
  void akThatIsNotRestrictedOrNotFixedIsRefusedAtStart() throws Exception {
    KeyPair soft = KeyFiles.newP256();
    try (TpmAttestor attestor = TpmAttestor.begin(tpmA); AuthorityChannel ch = channel()) {
      for (int missing : new int[] {TpmPublic.RESTRICTED, TpmPublic.FIXED_TPM, TpmPublic.FIXED_PARENT, TpmPublic.SENSITIVE_DATA_ORIGIN}) {
        byte[] ak = softwareAkPublic((ECPublicKey) soft.getPublic(), HONEST_AK & ~missing);
        assertRefused(postStart(ch, joinToken("tpm-soft-ak-" + Integer.toHexString(missing)), attestor.ekPublic(),
            attestor.ekCertificate(), ak));
      }
    }
  }

  @Test
  void softwareAkClaimingTpmAttributesCannotActivateEvenLoadedIntoTheTpm() throws Exception {
    KeyPair soft = KeyFiles.newP256();
    byte[] fakeAk = softwareAkPublic((ECPublicKey) soft.getPublic(), HONEST_AK);
    String token = joinToken("tpm-fake-ak");
    try (TpmAttestor attestor = TpmAttestor.begin(tpmA); AuthorityChannel ch = channel()) {
      // the claims parse, so the authority makes a credential for the fake AK's name...
      JsonNode challenge = start(ch, token, attestor.ekPublic(), attestor.ekCertificate(), fakeAk);
      // ...and the attacker loads the fake AK's public area into the real TPM and tries to activate
      Path work = Files.createDirectories(tmp.resolve("fake-ak"));
      Files.write(work.resolve("fake.pub"), fakeAk);
      a.toolOk("tpm2_loadexternal", "-C", "n", "-u", work.resolve("fake.pub").toString(), "-c", work.resolve("fake.ctx").toString());
      a.toolOk("tpm2_flushcontext", "-t");
      byte[] blob = tpm2ToolsCredential(unb64(challenge.path("credential_blob")), unb64(challenge.path("encrypted_secret")));
      Files.write(work.resolve("blob"), blob);
      String policyA = work.resolve("a.bin").toString();
      String policyB = work.resolve("b.bin").toString();
      Files.write(Path.of(policyB), java.util.HexFormat.of().parseHex(
          "d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165"));
      a.toolOk("tpm2_startauthsession", "-g", "sha384", "-S", work.resolve("t.ctx").toString());
      a.toolOk("tpm2_policysecret", "-S", work.resolve("t.ctx").toString(), "-c", "e", "-L", policyA);
      a.toolOk("tpm2_flushcontext", work.resolve("t.ctx").toString());
      a.toolOk("tpm2_startauthsession", "--policy-session", "-g", "sha384", "-S", work.resolve("s.ctx").toString());
      a.toolOk("tpm2_policysecret", "-S", work.resolve("s.ctx").toString(), "-c", "e");
      a.toolOk("tpm2_policyor", "-S", work.resolve("s.ctx").toString(), "-l", "sha384:" + policyA + "," + policyB);
      var r = a.tool("tpm2_activatecredential", "-c", work.resolve("fake.ctx").toString(), "-C", "0x81010016", "-i",
          work.resolve("blob").toString(), "-o", work.resolve("out").toString(), "-P", "session:" + work.resolve("s.ctx"));
      a.tool("tpm2_flushcontext", work.resolve("s.ctx").toString());
      a.tool("tpm2_flushcontext", "-t");
      // the TPM refuses: an object loaded without its private part has no authorization to offer
      assertThat(r.exitCode()).as(r.output()).isNotZero();
      assertThat(r.output()).contains("0x12F");
      assertThat(work.resolve("out")).doesNotExist();
    }
    assertNotEnrolled("tpm-fake-ak");
  }

  @Test
  void softwareLoginKeyClaimingTpmAttributesCannotBeCertifiedByTheRealAk() throws Exception {
    // the other half of the chain: the attacker's software login key, described with fixedTPM etc.,
    // loaded into the real TPM next to a real AK, and the AK asked to certify it
    KeyPair soft = KeyFiles.newP256();
    int loginAttributes = TpmPublic.FIXED_TPM | TpmPublic.FIXED_PARENT | TpmPublic.SENSITIVE_DATA_ORIGIN
        | TpmPublic.USER_WITH_AUTH | TpmPublic.SIGN;
    byte[] fakeLogin = softwareAkPublic((ECPublicKey) soft.getPublic(), loginAttributes);
    Path work = Files.createDirectories(tmp.resolve("fake-login"));
    Files.write(work.resolve("login.pub"), fakeLogin);
    a.toolOk("tpm2_createak", "-C", "0x81010016", "-G", "ecc", "-g", "sha256", "-s", "ecdsa", "-c", work.resolve("ak.ctx").toString());
    a.toolOk("tpm2_flushcontext", "-t");
    a.toolOk("tpm2_loadexternal", "-C", "n", "-u", work.resolve("login.pub").toString(), "-c", work.resolve("login.ctx").toString());
    a.toolOk("tpm2_flushcontext", "-t");
    var r = a.tool("tpm2_certify", "-c", work.resolve("login.ctx").toString(), "-C", work.resolve("ak.ctx").toString(), "-g", "sha256",
        "-o", work.resolve("attest").toString(), "-s", work.resolve("sig").toString(), "-f", "plain");
    a.tool("tpm2_flushcontext", "-t");
    assertThat(r.exitCode()).as(r.output()).isNotZero();
    assertThat(r.output()).contains("0x12F");
    assertThat(work.resolve("attest")).doesNotExist();
  }

  static byte[] tpm2ToolsCredential(byte[] idObject, byte[] encryptedSecret) {
    ByteArrayOutputStream file = new ByteArrayOutputStream();
    file.writeBytes(new byte[] {(byte) 0xBA, (byte) 0xDC, (byte) 0xC0, (byte) 0xDE, 0, 0, 0, 1});
    file.writeBytes(idObject);
    file.writeBytes(encryptedSecret);
    return file.toByteArray();
  }

  @Test
  void forgedCertifyAndForgedQuoteAreRefused() throws Exception {
    String token = joinToken("tpm-forged");
    TpmKeyProvider key = newKey(tpmA, "forged");
    TpmKeyProvider otherKey = newKey(tpmA, "forged-other");
    KeyPair forger = KeyFiles.newP256();
    try (TpmAttestor attestor = TpmAttestor.begin(tpmA)) {
      for (String attack : List.of("certify-by-other-key", "certify-of-other-key", "quote-by-other-key", "possession-by-other-key")) {
        try (AuthorityChannel ch = channel()) {
          JsonNode challenge = start(ch, token, attestor.ekPublic(), attestor.ekCertificate(), attestor.akPublic());
          Map<String, Object> f = honestFinish(attestor, key, challenge);
          switch (attack) {
            case "certify-by-other-key" -> f.put("certify_signature", b64(sign(forger, unb64(JSON.valueToTree(f.get("certify_attest"))))));
            case "certify-of-other-key" -> {
              TpmAttestor.Attestation other = attestor.certify(otherKey);
              f.put("certify_attest", b64(other.attest()));
              f.put("certify_signature", b64(other.signature()));
            }
            case "quote-by-other-key" -> f.put("quote_signature", b64(sign(forger, unb64(JSON.valueToTree(f.get("quote_attest"))))));
            default -> f.put("possession_signature", b64(otherKey.sign(TpmEnrollment.possessionMessage(unb64(challenge.path("nonce")))))); 
          }
          assertRefused(finish(ch, f));
        }
      }
    }
    assertNotEnrolled("tpm-forged");
  }

  static byte[] sign(KeyPair k, byte[] data) throws Exception {
    Signature s = Signature.getInstance("SHA256withECDSA");
    s.initSign(k.getPrivate());
    s.update(data);
    return s.sign();
  }

  @Test
  void replayedQuoteAndReusedSessionAreRefused() throws Exception {
    String token = joinToken("tpm-replay");
    TpmKeyProvider key = newKey(tpmA, "replay");
    try (TpmAttestor attestor = TpmAttestor.begin(tpmA); AuthorityChannel ch = channel()) {
      JsonNode first = start(ch, token, attestor.ekPublic(), attestor.ekCertificate(), attestor.akPublic());
      Map<String, Object> old = honestFinish(attestor, key, first);
      // a second session; the finish carries the first session's quote (old nonce) and possession signature
      JsonNode second = start(ch, token, attestor.ekPublic(), attestor.ekCertificate(), attestor.akPublic());
      Map<String, Object> replay = honestFinish(attestor, key, second);
      replay.put("quote_attest", old.get("quote_attest"));
      replay.put("quote_signature", old.get("quote_signature"));
      assertRefused(finish(ch, replay));
      // a third: only the possession signature is old
      JsonNode third = start(ch, token, attestor.ekPublic(), attestor.ekCertificate(), attestor.akPublic());
      Map<String, Object> replay2 = honestFinish(attestor, key, third);
      replay2.put("possession_signature", old.get("possession_signature"));
      assertRefused(finish(ch, replay2));
      // the first session's complete, honest evidence works once...
      AuthorityChannel.Response ok = finish(ch, old);
      assertThat(ok.status()).as(ok.text()).isEqualTo(200);
      // ...and not twice
      assertRefused(finish(ch, old));
    }
    assertThat(authority.store().factorStates().get("tpm-replay", "hardware")).isPresent();
  }

  @Test
  void ekCertificateFromAnUntrustedCaOrNoneIsRefused() throws Exception {
    try (TpmAttestor untrusted = TpmAttestor.begin(TpmTools.of(c.tcti())); TpmAttestor own = TpmAttestor.begin(tpmA);
        AuthorityChannel ch = channel()) {
      assertThat(untrusted.ekCertificate()).isNotNull();
      assertRefused(postStart(ch, joinToken("tpm-untrusted-ca"), untrusted.ekPublic(), untrusted.ekCertificate(), untrusted.akPublic()));
      // policy require_ek_certificate=true: no certificate, no enrollment
      assertRefused(postStart(ch, joinToken("tpm-no-cert"), own.ekPublic(), null, own.akPublic()));
      // a genuine certificate for another EK does not vouch for this one
      try (TpmAttestor other = TpmAttestor.begin(tpmB)) {
        assertRefused(postStart(ch, joinToken("tpm-cert-mismatch"), own.ekPublic(), other.ekCertificate(), own.akPublic()));
      }
    }
  }

  @Test
  void malformedTpmStructuresAreBadRequestsWithoutInternals() throws Exception {
    try (AuthorityChannel ch = channel()) {
      AuthorityChannel.Response r = postStart(ch, joinToken("tpm-bad"), new byte[] {0, 5, 1, 2}, null, new byte[] {0, 0});
      assertThat(r.status()).isEqualTo(400);
      assertThat(r.text()).contains("invalid-request").doesNotContain("Exception").doesNotContain("at dev.");
    }
  }
}
