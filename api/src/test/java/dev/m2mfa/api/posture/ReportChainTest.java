package dev.m2mfa.api.posture;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The IMA-style chain against values computed independently: PCR_n = SHA-256(PCR_{n-1} || d_n)
 * from 32 zero bytes, which is what TPM2_PCR_Extend computes for a SHA-256 bank.
 */
class ReportChainTest {
  static byte[] sha(byte[]... parts) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    for (byte[] p : parts) md.update(p);
    return md.digest();
  }

  @Test
  void replayMatchesAnIndependentComputation() throws Exception {
    byte[] d1 = sha("report-1".getBytes());
    byte[] d2 = sha("report-2".getBytes());
    byte[] pcr1 = sha(new byte[32], d1);
    byte[] pcr2 = sha(pcr1, d2);
    assertThat(ReportChain.replay(List.of(d1, d2))).isEqualTo(pcr2);
    assertThat(ReportChain.replaysTo(List.of(d1, d2), pcr2)).isTrue();
    // a fixed vector: extend of the all-zero digest into a reset PCR
    assertThat(HexFormat.of().formatHex(ReportChain.extend(new byte[32], new byte[32])))
        .isEqualTo("f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b");
  }

  @Test
  void aSwappedOrDroppedReportDoesNotReplay() throws Exception {
    byte[] d1 = sha("a".getBytes());
    byte[] d2 = sha("b".getBytes());
    byte[] d3 = sha("c".getBytes());
    byte[] quoted = ReportChain.replay(List.of(d1, d2, d3));
    assertThat(ReportChain.replaysTo(List.of(d1, d3, d2), quoted)).isFalse();
    assertThat(ReportChain.replaysTo(List.of(d1, d3), quoted)).isFalse();
    assertThat(ReportChain.replaysTo(List.of(sha("forged".getBytes()), d2, d3), quoted)).isFalse();
    assertThat(ReportChain.extendsLog(List.of(d1, d2), List.of(d1, d2, d3))).isTrue();
    assertThat(ReportChain.extendsLog(List.of(d1, d3), List.of(d1, d2, d3))).isFalse();
  }
}
