package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.keys.tpm.TpmAttestor;
import dev.m2mfa.agent.keys.tpm.TpmEnrollment;
import dev.m2mfa.agent.keys.tpm.TpmTools;
import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.testkit.Swtpm;
import java.net.InetAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TPM enrollment on an authority with the default TPM settings (no EK CA configured, no
 * certificate required), through the agent's other EK paths: a TPM whose only persistent EK
 * is RSA (certificate present but unverifiable here), and a TPM with no persistent EK and no
 * EK certificate, where the agent creates the default ECC P-256 EK itself. Both enroll on
 * trust on first use, and the record says so.
 */
class TpmEnrollmentTofuTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path tmp;
  static TestAuthority authority;
  static Swtpm rsaOnly;
  static Swtpm bare;

  @BeforeAll
  static void start() throws Exception {
    rsaOnly = Swtpm.start(tmp.resolve("tpm-rsa"), tmp.resolve("ca"));
    rsaOnly.toolOk("tpm2_evictcontrol", "-C", "o", "-c", "0x81010016");
    bare = Swtpm.start(tmp.resolve("tpm-bare"), tmp.resolve("ca"));
    bare.toolOk("tpm2_evictcontrol", "-C", "o", "-c", "0x81010016");
    bare.toolOk("tpm2_evictcontrol", "-C", "o", "-c", "0x81010001");
    bare.toolOk("tpm2_nvundefine", "-C", "p", "0x1c00016");
    bare.toolOk("tpm2_nvundefine", "-C", "p", "0x1c00002");
    authority = new TestAuthority(tmp);
  }

  @AfterAll
  static void stop() {
    if (authority != null) authority.close();
    if (rsaOnly != null) rsaOnly.close();
    if (bare != null) bare.close();
  }

  private static JsonNode enroll(String name, Swtpm tpm) throws Exception {
    Agent agent = TpmEnrollment.enroll(tmp.resolve(name), "127.0.0.1", authority.port(), authority.authority.ca().root(),
        authority.joinToken(name, "127.0.0.1/32"), TpmTools.of(tpm.tcti()), 0x81000201, InetAddress.ofLiteral("127.0.0.1"));
    assertThat(agent.login("inventory").amr()).contains("key");
    return JSON.readTree(authority.authority.store().factorStates().get(name, "hardware").orElseThrow());
  }

  @Test
  void rsaEndorsementKeyWithAnUnverifiableCertificate() throws Exception {
    try (TpmAttestor a = TpmAttestor.begin(TpmTools.of(rsaOnly.tcti()))) {
      assertThat(TpmPublic.parse2b(a.ekPublic()).isRsa()).isTrue();
      assertThat(a.ekCertificate()).isNotNull();
    }
    JsonNode state = enroll("tofu-rsa", rsaOnly);
    assertThat(state.path("residence").asText()).isEqualTo("tpm");
    assertThat(state.path("detail").asText()).contains("under EK RSA with an unverified certificate");
  }

  @Test
  void defaultEccEndorsementKeyCreatedByTheAgentWithoutCertificate() throws Exception {
    try (TpmAttestor a = TpmAttestor.begin(TpmTools.of(bare.tcti()))) {
      TpmPublic ek = TpmPublic.parse2b(a.ekPublic());
      assertThat(ek.curve()).isEqualTo(TpmPublic.CURVE_P256);
      assertThat(a.ekCertificate()).isNull();
    }
    JsonNode state = enroll("tofu-ecc", bare);
    assertThat(state.path("detail").asText()).contains("under EK ECC P-256 without certificate (trust on first use)");
    assertThat(bare.toolOk("tpm2_getcap", "handles-transient").strip()).isEmpty();
  }
}
