package dev.m2mfa.authority.factor.posture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SignedBaselineTest {
  static final ObjectMapper JSON = new ObjectMapper();

  static byte[] manifest() {
    return new Baseline(1, Baseline.MANIFEST, 1, List.of("/usr/sbin"), Map.of("/usr/sbin/sshd", "a".repeat(64)), null, Map.of("nmap", "*"),
        null, null, List.of("tcp/22"), null).toJson();
  }

  static KeyPair ed25519() throws Exception {
    return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
  }

  static KeyPair p256() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  @Test
  void ed25519AndP256ManifestsVerifyUnderTheTrustedKey() throws Exception {
    for (KeyPair k : List.of(ed25519(), p256())) {
      byte[] env = SignedBaseline.sign(manifest(), k.getPrivate(), k.getPublic());
      SignedBaseline.Verified v = SignedBaseline.verify(env, k.getPublic());
      assertThat(v.baseline().packagesForbidden()).containsKey("nmap");
      assertThat(v.signerFingerprint()).isEqualTo(SignedBaseline.fingerprint(k.getPublic()));
    }
  }

  @Test
  void aTamperedManifestOrAnotherSignerIsRefused() throws Exception {
    KeyPair op = ed25519();
    byte[] env = SignedBaseline.sign(manifest(), op.getPrivate(), op.getPublic());
    ObjectNode n = (ObjectNode) JSON.readTree(env);
    String tampered = new String(manifest(), StandardCharsets.UTF_8).replace("\"nmap\":\"*\"", "\"telnet\":\"*\"");
    n.put("manifest", Base64.getUrlEncoder().withoutPadding().encodeToString(tampered.getBytes(StandardCharsets.UTF_8)));
    assertThatThrownBy(() -> SignedBaseline.verify(JSON.writeValueAsBytes(n), op.getPublic())).hasMessage("manifest signature does not verify");

    KeyPair mallory = ed25519();
    byte[] byMallory = SignedBaseline.sign(manifest(), mallory.getPrivate(), mallory.getPublic());
    assertThatThrownBy(() -> SignedBaseline.verify(byMallory, op.getPublic())).hasMessageContaining("another key than the trusted operator key");
  }

  @Test
  void aManifestWithATraversalPathIsRefusedBeforeSigning() throws Exception {
    KeyPair op = p256();
    byte[] bad = new String(manifest(), StandardCharsets.UTF_8).replace("/usr/sbin/sshd", "/usr/sbin/../../etc/shadow").getBytes(StandardCharsets.UTF_8);
    assertThatThrownBy(() -> SignedBaseline.sign(bad, op.getPrivate(), op.getPublic())).hasMessageContaining("path traversal");
  }
}
