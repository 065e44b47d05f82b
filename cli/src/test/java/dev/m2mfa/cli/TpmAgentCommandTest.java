package dev.m2mfa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.testkit.Swtpm;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code m2mfa agent enroll --key-provider tpm --key-option tcti=...} on a real swtpm: the
 * enrollment goes through credential activation (the authority records the key TPM-resident),
 * agent.conf names the provider and its options, and a plain {@code m2mfa agent login} opens
 * the TPM key with no passphrase asked.
 */
class TpmAgentCommandTest {
  @TempDir Path tmp;

  @Test
  void enrollWithTheTpmProviderThenLogInFromTheCommandLine() throws Exception {
    char[] pass = "tpm cli test passphrase".toCharArray();
    try (Swtpm swtpm = Swtpm.start(tmp.resolve("tpm"), tmp.resolve("ek-ca"))) {
      Authority.init(tmp.resolve("auth"), AuthorityConfig.defaults(), pass, "ops");
      try (Authority authority = Authority.open(tmp.resolve("auth"), pass, c -> c.withListen("127.0.0.1", 0))) {
        authority.start();
        String jt = authority.enrollment().createJoinToken("tpm-cli", "default", List.of("127.0.0.1/32"), Duration.ofMinutes(5), "test").token();
        Path tokenFile = Files.writeString(tmp.resolve("jt"), jt);
        Path ca = Files.writeString(tmp.resolve("ca.pem"), Pem.encode(authority.ca().root()));
        Path agentDir = tmp.resolve("agent");
        String enrolled = captureOut(() -> Main.execute("agent", "enroll", "--dir", agentDir.toString(), "--authority", "127.0.0.1:" + authority.port(),
            "--ca", ca.toString(), "--join-token-file", tokenFile.toString(), "--bind", "127.0.0.1", "--key-provider", "tpm",
            "--key-option", "tcti=" + swtpm.tcti(), "--key-option", "handle=0x81000210"));
        assertThat(enrolled).contains("enrolled as tpm-cli");

        JsonNode state = new ObjectMapper().readTree(authority.store().factorStates().get("tpm-cli", "hardware").orElseThrow());
        assertThat(state.path("residence").asText()).isEqualTo("tpm");
        assertThat(state.path("proof").asText()).isEqualTo("tpm-credential-activation");
        assertThat(Files.readString(agentDir.resolve("agent.conf"))).contains("key_provider=tpm", "key.handle=0x81000210");
        assertThat(swtpm.toolOk("tpm2_getcap", "handles-persistent")).contains("0x81000210");
        assertThat(agentDir.resolve("identity.key")).doesNotExist();

        String login = captureOut(() -> Main.execute("agent", "login", "--dir", agentDir.toString(), "--audience", "inventory"));
        assertThat(login).contains("logged in: amr=").contains("key");
      }
    }
  }

  @Test
  void aRefusedTpmEnrollmentLeavesNoKeyInTheTpm() throws Exception {
    char[] pass = "tpm cli test passphrase".toCharArray();
    try (Swtpm swtpm = Swtpm.start(tmp.resolve("tpm"), tmp.resolve("ek-ca"))) {
      Authority.init(tmp.resolve("auth"), AuthorityConfig.defaults(), pass, "ops");
      try (Authority authority = Authority.open(tmp.resolve("auth"), pass, c -> c.withListen("127.0.0.1", 0))) {
        authority.start();
        Path tokenFile = Files.writeString(tmp.resolve("jt"), "not-a-join-token");
        Path ca = Files.writeString(tmp.resolve("ca.pem"), Pem.encode(authority.ca().root()));
        int rc = Main.execute("agent", "enroll", "--dir", tmp.resolve("agent").toString(), "--authority", "127.0.0.1:" + authority.port(),
            "--ca", ca.toString(), "--join-token-file", tokenFile.toString(), "--bind", "127.0.0.1", "--key-provider", "tpm",
            "--key-option", "tcti=" + swtpm.tcti(), "--key-option", "handle=0x81000211");
        assertThat(rc).isNotZero();
        assertThat(swtpm.toolOk("tpm2_getcap", "handles-persistent")).doesNotContain("0x81000211");
        assertThat(tmp.resolve("agent").resolve("agent.conf")).doesNotExist();
      }
    }
  }

  private static String captureOut(java.util.concurrent.Callable<Integer> call) throws Exception {
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      assertThat(call.call()).as(out.toString(StandardCharsets.UTF_8)).isZero();
    } finally {
      System.setOut(old);
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
