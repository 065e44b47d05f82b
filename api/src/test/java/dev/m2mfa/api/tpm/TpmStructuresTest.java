package dev.m2mfa.api.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.interfaces.RSAPublicKey;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * TPM structure parsing against bytes a real TPM (swtpm 0.7.1, tpm2-tools 5.4) produced, and
 * against hostile mutations of them: every truncation and random corruption either parses or
 * fails with {@link MalformedTpmDataException}, never with anything else.
 */
class TpmStructuresTest {
  private static final HexFormat HEX = HexFormat.of();
  /** tpm2_createak -G ecc -g sha256 -s ecdsa under swtpm's P-384 EK. */
  static final byte[] AK = HEX.parseHex("00580023000c00050072000000100018000b00030010002052b20508f272a08fa088735b05139ab7f341b178c53ec57252d2d315e20d7a7d00206d73849db15970a479729ebd0e2c39cae93293d3fa3f64ffcd9a516dc870db62");
  /** swtpm's persistent ECC EK (P-384, high-range template). */
  static final byte[] EK_P384 = HEX.parseHex("00aa0023000c000300f20030b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09699646150f9fc000f3f80e120006010000430010000400100030d37374cac7370911c686f9c1e5488c456723f94c9b37b311e08c5167edbc81be7173d0c3c5a1dc056b6738f7b2ace23500306e1f43df25762347c6d1f2bd301bc32dc2c772fc2030c7731bf46dd4cf9ee6aa76bc04db3f6d9fae7bf294b073459bdd");
  /** swtpm's persistent RSA-2048 EK (low-range template). */
  static final byte[] EK_RSA = HEX.parseHex("013a0001000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa00060080004300100800000000000100fb5552f67f786a3ab47378be22a2d59303d7b33eccfa4462824ca147d4864e61d8400c9a08457757368ec5f1374b6e342a022b2d90bf231ab10370a678b6a0742cf57bbb01454da8a8cbfd0e65c06c5e24045b4ac36b0b81a06a04f8e7fd42f8f06849c7931e28f60a033fb2d9e9c3aec231c90e8119d7f37b073eefcfa47401074056cca994ef8509a9981ca5b935e38aecafa1c98125789c1eb4099b668356931a4425e1d8a37d47dc83113e9108bbc66c8af4311d87cf1016659909a83b7fd2980be5a840553fed29683647c1f3964a813aaeaf0949fa13607232a219432ddae46fe6f96c251e63f3b0ada0cb311601cb03f29ab1f616dab2f49a7fc03301");
  /** A login key as TpmKeyProvider creates it. */
  static final byte[] LOGIN_KEY = HEX.parseHex("00580023000b00040072000000100018000b0003001000201fb67ce2731437f7e9619ebbe9560e8a6547edb026bf8caa44e55290e2052d29002063ad11f43e26ace542fc7f2efac3b5ec2327ff9bfb22d68c6160284e6dcc4bf9");
  /** tpm2_certify of LOGIN_KEY by AK. */
  static final byte[] CERTIFY = HEX.parseHex("ff54434780170032000c90f6adbab0b70f51d02c8c5e6871f7788aa0d990451badd23ff7dfd818b43c21898f0d7cbcce7b8f0e4bd9b4d92186fb000400ff55aa0000000000132f3500000002000000000120191023001636360022000b163b34c020fbd59832c9a1d6ce2a148395c688776778697d54ccb7aa286817fa0022000b7224689a4e8a9bfd608afd573630cc5bb68551213025ea00d81441128212cbc3");
  /** tpm2_quote by AK with -q 00112233 over sha256:0-7. */
  static final byte[] QUOTE = HEX.parseHex("ff54434780180032000c90f6adbab0b70f51d02c8c5e6871f7788aa0d990451badd23ff7dfd818b43c21898f0d7cbcce7b8f0e4bd9b4d92186fb000400112233000000000000724d000000020000000001201910230016363600000001000b03ff000000205341e6b2646979a70e57653007a1f310169421ec9bdd9f1a5648f75ade005af1");

  @Test
  void akHasTheAttestationKeyAttributes() {
    TpmPublic ak = TpmPublic.parse2b(AK);
    assertThat(ak.isEcc()).isTrue();
    assertThat(ak.curve()).isEqualTo(TpmPublic.CURVE_P256);
    assertThat(ak.scheme()).isEqualTo(TpmPublic.ALG_ECDSA);
    assertThat(ak.schemeHash()).isEqualTo(TpmPublic.ALG_SHA256);
    assertThat(ak.has(TpmPublic.RESTRICTED | TpmPublic.SIGN | TpmPublic.FIXED_TPM | TpmPublic.FIXED_PARENT
        | TpmPublic.SENSITIVE_DATA_ORIGIN)).isTrue();
    assertThat(ak.has(TpmPublic.DECRYPT)).isFalse();
    assertThat(ak.wire2b()).isEqualTo(AK);
  }

  @Test
  void endorsementKeysParseWithTheirPolicyAndSymmetricDefinition() {
    TpmPublic p384 = TpmPublic.parse2b(EK_P384);
    assertThat(p384.curve()).isEqualTo(TpmPublic.CURVE_P384);
    assertThat(p384.nameAlg()).isEqualTo(TpmPublic.ALG_SHA384);
    assertThat(p384.symmetricAlg()).isEqualTo(TpmPublic.ALG_AES);
    assertThat(p384.symmetricKeyBits()).isEqualTo(256);
    assertThat(HEX.formatHex(p384.authPolicy())).startsWith("b26e7d28");
    TpmPublic rsa = TpmPublic.parse2b(EK_RSA);
    assertThat(rsa.isRsa()).isTrue();
    assertThat(((RSAPublicKey) rsa.publicKey()).getModulus().bitLength()).isEqualTo(2048);
    assertThat(rsa.symmetricKeyBits()).isEqualTo(128);
    // the classic EK policy: PolicySecret(TPM_RH_ENDORSEMENT)
    assertThat(HEX.formatHex(rsa.authPolicy())).isEqualTo("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa");
  }

  @Test
  void theNameWeComputeIsTheNameTheTpmCertified() {
    TpmAttest certify = TpmAttest.parse(CERTIFY);
    assertThat(certify.type()).isEqualTo(TpmAttest.ST_ATTEST_CERTIFY);
    assertThat(certify.certifiedName()).isEqualTo(TpmPublic.parse2b(LOGIN_KEY).name());
    assertThat(certify.qualifiedSigner()).hasSize(50); // SHA-384 qualified name of the AK
  }

  @Test
  void quoteCarriesTheQualifyingData() {
    TpmAttest quote = TpmAttest.parse(QUOTE);
    assertThat(quote.type()).isEqualTo(TpmAttest.ST_ATTEST_QUOTE);
    assertThat(quote.extraData()).isEqualTo(HEX.parseHex("00112233"));
    assertThat(quote.pcrDigest()).hasSize(32);
  }

  @Test
  void attestationNotGeneratedByATpmIsRefused() {
    byte[] forged = QUOTE.clone();
    forged[0] = 0x00;
    assertThatThrownBy(() -> TpmAttest.parse(forged)).isInstanceOf(MalformedTpmDataException.class)
        .hasMessage("not a TPM-generated attestation");
  }

  @Test
  void everyTruncationFailsCleanly() {
    for (byte[] fixture : List.of(AK, EK_P384, EK_RSA, LOGIN_KEY)) {
      for (int n = 0; n < fixture.length; n++) {
        byte[] cut = Arrays.copyOf(fixture, n);
        assertThatThrownBy(() -> TpmPublic.parse2b(cut)).isInstanceOf(MalformedTpmDataException.class);
      }
      byte[] longer = Arrays.copyOf(fixture, fixture.length + 1);
      assertThatThrownBy(() -> TpmPublic.parse2b(longer)).isInstanceOf(MalformedTpmDataException.class);
    }
    for (byte[] fixture : List.of(CERTIFY, QUOTE)) {
      for (int n = 0; n < fixture.length; n++) {
        byte[] cut = Arrays.copyOf(fixture, n);
        assertThatThrownBy(() -> TpmAttest.parse(cut)).isInstanceOf(MalformedTpmDataException.class);
      }
    }
  }

  @Test
  void randomCorruptionEitherParsesOrFailsCleanly() {
    Random random = new Random(20261204);
    check(random, List.of(AK, EK_P384, EK_RSA, LOGIN_KEY), TpmPublic::parse2b);
    check(random, List.of(CERTIFY, QUOTE), TpmAttest::parse);
  }

  private static void check(Random random, List<byte[]> fixtures, Consumer<byte[]> parser) {
    for (byte[] fixture : fixtures) {
      for (int i = 0; i < 3000; i++) {
        byte[] m = fixture.clone();
        int flips = 1 + random.nextInt(3);
        for (int f = 0; f < flips; f++) m[random.nextInt(m.length)] = (byte) random.nextInt(256);
        try {
          parser.accept(m);
        } catch (MalformedTpmDataException expected) {
          // a clean refusal
        }
      }
    }
  }

  @Test
  void pointOffTheCurveIsRefused() {
    byte[] bad = LOGIN_KEY.clone();
    bad[bad.length - 1] ^= 0x01; // last byte of y
    assertThatThrownBy(() -> TpmPublic.parse2b(bad)).isInstanceOf(MalformedTpmDataException.class)
        .hasMessage("the ECC point is not on its curve");
  }

  @Test
  void oversizedInputIsRefusedBeforeParsing() {
    assertThatThrownBy(() -> TpmPublic.parse(new byte[4096])).isInstanceOf(MalformedTpmDataException.class);
    assertThatThrownBy(() -> TpmAttest.parse(new byte[4096])).isInstanceOf(MalformedTpmDataException.class);
  }
}
