package dev.m2mfa.api.tpm;

/**
 * A parsed {@code TPMS_ATTEST} (TPM 2.0 Part 2 §10.12.12): what a TPM signs with a restricted
 * key in {@code TPM2_Certify} and {@code TPM2_Quote}. A restricted signing key only signs
 * data that starts with {@code TPM_GENERATED_VALUE} when the TPM itself produced it, which is
 * why the magic check matters.
 *
 * @param extraData the caller's qualifying data (the verifier's nonce)
 * @param certifiedName for certify: the name of the certified object; otherwise empty
 * @param pcrDigest for quote: the digest of the selected PCRs; otherwise empty
 */
public record TpmAttest(int type, byte[] qualifiedSigner, byte[] extraData, long clock, int resetCount, int restartCount,
    long firmwareVersion, byte[] certifiedName, byte[] pcrDigest) {
  public static final int GENERATED_VALUE = 0xff544347;
  public static final int ST_ATTEST_CERTIFY = 0x8017, ST_ATTEST_QUOTE = 0x8018;
  private static final int MAX_ATTEST = 2048;

  /** Parses a {@code TPMS_ATTEST} (what tpm2-tools writes with {@code -o}/{@code -m}). */
  public static TpmAttest parse(byte[] untrusted) {
    if (untrusted.length > MAX_ATTEST) throw new MalformedTpmDataException("a TPM attestation is too large");
    TpmReader r = new TpmReader(untrusted);
    if (r.u32() != GENERATED_VALUE) throw new MalformedTpmDataException("not a TPM-generated attestation");
    int type = r.u16();
    byte[] signer = r.tpm2b(66);
    byte[] extra = r.tpm2b(64);
    long clock = r.u64();
    int reset = r.u32();
    int restart = r.u32();
    r.u8(); // safe
    long firmware = r.u64();
    byte[] name = new byte[0];
    byte[] pcrDigest = new byte[0];
    switch (type) {
      case ST_ATTEST_CERTIFY -> {
        name = r.tpm2b(66);
        r.tpm2b(66); // qualified name
      }
      case ST_ATTEST_QUOTE -> {
        int count = r.u32();
        if (count > 16) throw new MalformedTpmDataException("too many PCR selections");
        for (int i = 0; i < count; i++) {
          r.u16();
          int size = r.u8();
          if (size > 8) throw new MalformedTpmDataException("a PCR selection is too large");
          r.bytes(size);
        }
        pcrDigest = r.tpm2b(64);
      }
      default -> throw new MalformedTpmDataException("unsupported attestation type (certify and quote only)");
    }
    r.expectEnd();
    return new TpmAttest(type, signer, extra, clock, reset, restart, firmware, name, pcrDigest);
  }
}
