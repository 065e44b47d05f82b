package dev.m2mfa.agent.posture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.agent.keys.tpm.TpmAttestor;
import dev.m2mfa.agent.keys.tpm.TpmTools;
import dev.m2mfa.api.posture.AnchorEvidence;
import dev.m2mfa.api.posture.ReportChain;
import dev.m2mfa.api.tpm.TpmAttest;
import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.testkit.Swtpm;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.Signature;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's TPM anchor on a real swtpm: it extends each new report digest into PCR 16, keeps
 * a log that replays to the PCR, quotes with the AK kept at enrollment, and recovers (or
 * refuses) when the PCR and its log disagree.
 */
class TpmPostureAnchorTest {
  @TempDir static Path tmp;
  static Swtpm swtpm;
  static TpmTools tpm;
  static TpmPublic ak;
  static int akHandle;

  @TempDir Path dir;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start(tmp.resolve("tpm"), tmp.resolve("ek-ca"));
    tpm = TpmTools.of(swtpm.tcti());
    try (TpmAttestor attestor = TpmAttestor.begin(tpm)) {
      akHandle = attestor.persistAk();
      ak = attestor.ak();
    }
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) swtpm.close();
  }

  @BeforeEach
  void agentDirectory() throws Exception {
    conf("posture.anchor=tpm\n");
    swtpm.toolOk("tpm2_pcrreset", "16");
  }

  void conf(String lines) throws IOException {
    Files.writeString(dir.resolve("agent.conf"), "tpm_tcti=" + swtpm.tcti().replace(":", "\\:").replace("=", "\\=") + "\n"
        + "tpm_ak_handle=" + String.format("0x%08x", akHandle) + "\n" + lines);
  }

  TpmPostureAnchor attached() {
    TpmPostureAnchor a = new TpmPostureAnchor();
    a.attach(dir);
    return a;
  }

  static byte[] sha256(String s) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
  }

  @SuppressWarnings("unchecked")
  static List<byte[]> log(Map<String, Object> anchor) {
    return ((List<String>) anchor.get("log")).stream().map(HexFormat.of()::parseHex).toList();
  }

  /** The quote verifies under the AK, is over the nonce and the single PCR, and the PCR value is the TPM's. */
  static void assertHonest(Map<String, Object> anchor, byte[] nonce) throws Exception {
    byte[] attestBytes = Base64.getUrlDecoder().decode((String) anchor.get("quote"));
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(ak.publicKey());
    v.update(attestBytes);
    assertThat(v.verify(Base64.getUrlDecoder().decode((String) anchor.get("signature")))).isTrue();
    TpmAttest attest = TpmAttest.parse(attestBytes);
    assertThat(attest.type()).isEqualTo(TpmAttest.ST_ATTEST_QUOTE);
    assertThat(attest.extraData()).isEqualTo(AnchorEvidence.qualifyingData(nonce));
    byte[] value = HexFormat.of().parseHex((String) anchor.get("pcr_value"));
    assertThat(value).isEqualTo(tpm.pcrRead(16)).isEqualTo(ReportChain.replay(log(anchor)));
    assertThat(attest.pcrDigest()).isEqualTo(MessageDigest.getInstance("SHA-256").digest(value));
    assertThat(anchor.get("type")).isEqualTo("tpm2-quote");
    assertThat(anchor.get("pcr")).isEqualTo(16);
    assertThat(anchor.get("reset_count")).isEqualTo(Integer.toUnsignedLong(attest.resetCount()));
  }

  @Test
  void withoutPostureAnchorTpmInAgentConfNothingIsAnchored() throws Exception {
    conf("");
    assertThat(attached().anchor(sha256("r"), "n".getBytes(StandardCharsets.US_ASCII))).isNull();
    conf("posture.anchor=none\n");
    assertThat(attached().anchor(sha256("r"), "n".getBytes(StandardCharsets.US_ASCII))).isNull();
    assertThat(tpm.pcrRead(16)).isEqualTo(ReportChain.resetValue());
    conf("posture.anchor=tmp\n");
    assertThatThrownBy(() -> attached().anchor(sha256("r"), new byte[1])).isInstanceOf(IOException.class)
        .hasMessageContaining("posture.anchor must be tpm or none");
    conf("posture.anchor=tpm\nposture.anchor_pcr=24\n");
    assertThatThrownBy(() -> attached().anchor(sha256("r"), new byte[1])).isInstanceOf(IOException.class)
        .hasMessageContaining("posture.anchor_pcr must be a PCR index from 0 to 23");
  }

  @Test
  void eachNewReportIsExtendedOnceAndEveryLoginGetsAFreshQuote() throws Exception {
    TpmPostureAnchor anchor = attached();
    byte[] r1 = sha256("report 1");
    byte[] r2 = sha256("report 2");
    Map<String, Object> first = anchor.anchor(r1, "nonce-1".getBytes(StandardCharsets.US_ASCII));
    assertHonest(first, "nonce-1".getBytes(StandardCharsets.US_ASCII));
    assertThat(log(first)).containsExactly(r1);

    // the same report again: not extended twice, quoted over the new nonce
    Map<String, Object> again = anchor.anchor(r1, "nonce-2".getBytes(StandardCharsets.US_ASCII));
    assertHonest(again, "nonce-2".getBytes(StandardCharsets.US_ASCII));
    assertThat(log(again)).containsExactly(r1);

    Map<String, Object> second = anchor.anchor(r2, "nonce-3".getBytes(StandardCharsets.US_ASCII));
    assertHonest(second, "nonce-3".getBytes(StandardCharsets.US_ASCII));
    assertThat(log(second)).containsExactly(r1, r2);
    // a new instance (agent restart) continues the same log from disk
    Map<String, Object> restarted = attached().anchor(r2, "nonce-4".getBytes(StandardCharsets.US_ASCII));
    assertThat(log(restarted)).containsExactly(r1, r2);
  }

  @Test
  void aLoggedExtensionThatNeverReachedTheTpmIsDroppedAndAResetStartsANewChain() throws Exception {
    TpmPostureAnchor anchor = attached();
    byte[] r1 = sha256("report 1");
    anchor.anchor(r1, new byte[] {1});
    // a crash after the write-ahead log line, before the extension
    Files.writeString(dir.resolve("posture/anchor-log"), HexFormat.of().formatHex(sha256("never extended")) + "\n",
        java.nio.file.StandardOpenOption.APPEND);
    byte[] r2 = sha256("report 2");
    Map<String, Object> recovered = anchor.anchor(r2, new byte[] {2});
    assertThat(log(recovered)).containsExactly(r1, r2);
    assertHonest(recovered, new byte[] {2});

    // a reboot resets the PCR: a new chain starts
    swtpm.toolOk("tpm2_pcrreset", "16");
    byte[] r3 = sha256("report 3");
    Map<String, Object> afterReset = anchor.anchor(r3, new byte[] {3});
    assertThat(log(afterReset)).containsExactly(r3);
    assertHonest(afterReset, new byte[] {3});
  }

  @Test
  void aPcrExtendedByAnotherProgramIsRefusedNotGuessed() throws Exception {
    TpmPostureAnchor anchor = attached();
    anchor.anchor(sha256("report 1"), new byte[] {1});
    tpm.pcrExtend(16, sha256("someone else's measurement"));
    byte[] before = tpm.pcrRead(16);
    assertThatThrownBy(() -> anchor.anchor(sha256("report 2"), new byte[] {2})).isInstanceOf(IOException.class)
        .hasMessageContaining("PCR 16 holds extensions this agent did not log");
    assertThat(tpm.pcrRead(16)).isEqualTo(before);
  }

  @Test
  void withoutTheEnrolledAttestationKeyAnchoringFails() throws Exception {
    Files.writeString(dir.resolve("agent.conf"), "tpm_tcti=" + swtpm.tcti().replace(":", "\\:").replace("=", "\\=")
        + "\nposture.anchor=tpm\n");
    assertThatThrownBy(() -> attached().anchor(sha256("report 1"), new byte[] {1})).isInstanceOf(IOException.class)
        .hasMessageContaining("names no tpm_ak_handle");
    conf("posture.anchor=tpm\ntpm_ak_handle=0x81000001\n");
    assertThatThrownBy(() -> attached().anchor(sha256("report 1"), new byte[] {1})).isInstanceOf(IOException.class)
        .hasMessageContaining("tpm_ak_handle must be a handle from 0x81018000 to 0x810180ff");
    // checked before anything is extended
    assertThat(tpm.pcrRead(16)).isEqualTo(ReportChain.resetValue());
  }

  /** A reboot: the shared TPM is restarted on its state (the statics follow it to its new port). */
  @Test
  void theAttestationKeyOutlivesATpmResetAndTheChainStartsAgain() throws Exception {
    Map<String, Object> before = attached().anchor(sha256("report 1"), new byte[] {1});
    swtpm = swtpm.restart();
    tpm = TpmTools.of(swtpm.tcti());
    conf("posture.anchor=tpm\n");
    Map<String, Object> after = attached().anchor(sha256("report 2"), new byte[] {2});
    assertHonest(after, new byte[] {2});
    assertThat(log(after)).containsExactly(sha256("report 2"));
    assertThat((Long) after.get("reset_count")).isGreaterThan((Long) before.get("reset_count"));
  }
}
