package dev.m2mfa.agent.keys.tpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.m2mfa.api.tpm.TpmPublic;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The EK policy digests the agent recomputes to choose its activation session match the
 * values in the TCG EK Credential Profile (and in swtpm's EKs), and the DER trimming of NV
 * contents keeps exactly the certificate.
 */
class EndorsementKeyPolicyTest {
  private static final HexFormat HEX = HexFormat.of();

  @Test
  void policySecretEndorsementMatchesTheLowRangeTemplatePolicy() {
    assertEquals("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa",
        HEX.formatHex(EndorsementKey.policySecretEndorsement(TpmPublic.ALG_SHA256)));
  }

  @Test
  void policyOrMatchesTheSha384HighRangeTemplatePolicy() {
    byte[] a = EndorsementKey.policySecretEndorsement(TpmPublic.ALG_SHA384);
    assertEquals("8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e143e8bb1133824ccb431053871c6db53", HEX.formatHex(a));
    byte[] b = HEX.parseHex("d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165");
    assertEquals("b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09699646150f9fc000f3f80e12",
        HEX.formatHex(EndorsementKey.policyOr(TpmPublic.ALG_SHA384, a, b)));
  }

  @Test
  void nvPaddingAfterTheCertificateIsTrimmed() {
    byte[] der = {0x30, 0x03, 0x02, 0x01, 0x05};
    byte[] padded = {0x30, 0x03, 0x02, 0x01, 0x05, (byte) 0xff, (byte) 0xff};
    assertArrayEquals(der, EndorsementKey.trimDer(padded));
    byte[] longForm = new byte[300];
    longForm[0] = 0x30;
    longForm[1] = (byte) 0x82;
    longForm[2] = 0x01;
    longForm[3] = 0x00; // 256 bytes of content
    assertEquals(260, EndorsementKey.trimDer(longForm).length);
    byte[] truncated = {0x30, 0x10, 0x00};
    assertArrayEquals(truncated, EndorsementKey.trimDer(truncated)); // left for the certificate parser to refuse
  }
}
