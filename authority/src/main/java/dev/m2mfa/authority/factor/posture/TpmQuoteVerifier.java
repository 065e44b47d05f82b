package dev.m2mfa.authority.factor.posture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.posture.AnchorEvidence;
import dev.m2mfa.api.tpm.MalformedTpmDataException;
import dev.m2mfa.api.tpm.TpmAttest;
import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.api.tpm.TpmReader;
import dev.m2mfa.authority.enroll.tpm.TpmEnrollmentService;
import dev.m2mfa.authority.factor.AuthorityBound;
import dev.m2mfa.authority.store.Store;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

/**
 * The TPM half of posture anchoring on the authority: checks a {@code TPM2_Quote} that the
 * agent made over the posture PCR with the login nonce, using the attestation key (AK) the
 * authority recorded when the machine enrolled with its TPM ({@code factor_state} key
 * {@link TpmEnrollmentService#AK_STATE}), and returns the quoted PCR value. The posture
 * verifier then replays the report chain against that value ({@code ReportChain}).
 *
 * <p>Checks, in order, each refusal an {@link AnchorException} with a short reason:
 * <ol>
 *   <li>shape and size: type {@code tpm2-quote}, the PCR is the one configured
 *       ({@code posture.anchor_pcr} in authority.conf, default {@value AnchorEvidence#DEFAULT_PCR}),
 *       base64url fields within bounds, {@code pcr_value} 64 hex;
 *   <li>an AK is on record for this machine (never a key from the evidence);
 *   <li>the attestation parses strictly ({@link TpmAttest#parse}: {@code TPM_GENERATED_VALUE}
 *       magic, bounded fields, no trailing bytes) and is a quote;
 *   <li>the ECDSA P-256 / SHA-256 signature over the attestation verifies under the AK;
 *   <li>its qualifying data is {@link AnchorEvidence#qualifyingData} of this login's nonce (an
 *       older quote carries an older nonce);
 *   <li>the PCR selection is exactly one SHA-256 selection with exactly the configured PCR;
 *   <li>{@code SHA-256(pcr_value)} equals the signed PCR digest.
 * </ol>
 * The reset counter comes from the signed clock info (an AK in the endorsement hierarchy gets
 * it unobfuscated); a {@code reset_count} in the evidence that disagrees is refused.
 *
 * <p>Why the PCR selection is parsed here rather than by {@link TpmAttest}: that record keeps
 * only the PCR digest, and widening it would touch every caller; this walks the same, already
 * validated bytes once more with {@link TpmReader}.
 */
public final class TpmQuoteVerifier implements QuoteVerifier, AuthorityBound {
  /** authority.conf option naming the SHA-256 PCR that posture reports are extended into. */
  public static final String PCR_OPTION = "posture.anchor_pcr";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_QUOTE_CHARS = 4096;
  private static final int MAX_SIGNATURE_CHARS = 256;
  private static final int MAX_STATE_CHARS = 4096;
  private static final int TPM_ALG_SHA256 = 0x000B;

  private volatile Store store;
  private volatile int pcr = AnchorEvidence.DEFAULT_PCR;

  public TpmQuoteVerifier() {}

  /** For tests and embedding: a verifier reading AKs from {@code store}, quoting {@code pcr}. */
  public TpmQuoteVerifier(Store store, int pcr) {
    if (!AnchorEvidence.validPcr(pcr)) throw new IllegalArgumentException(PCR_OPTION + " must be a PCR index from 0 to 23");
    this.store = store;
    this.pcr = pcr;
  }

  @Override
  public void bind(Services services) {
    String configured = services.config() == null ? String.valueOf(AnchorEvidence.DEFAULT_PCR)
        : services.config().pluginOption(PCR_OPTION, String.valueOf(AnchorEvidence.DEFAULT_PCR)).strip();
    int p;
    try {
      p = Integer.parseInt(configured);
    } catch (NumberFormatException e) {
      p = -1;
    }
    if (!AnchorEvidence.validPcr(p)) throw new IllegalArgumentException(PCR_OPTION + " must be a PCR index from 0 to 23");
    this.pcr = p;
    this.store = services.store();
  }

  /** The PCR this verifier accepts quotes over. */
  public int pcr() {
    return pcr;
  }

  @Override
  public QuotedPcr verify(EnrolledMachine machine, Map<String, Object> untrustedAnchor, byte[] nonce) throws AnchorException {
    Store st = store;
    if (st == null) throw new AnchorException("the quote verifier is not bound to the authority store");
    if (!AnchorEvidence.TYPE.equals(untrustedAnchor.get("type"))) throw new AnchorException("anchor type is not " + AnchorEvidence.TYPE);
    if (!(untrustedAnchor.get("pcr") instanceof Integer claimedPcr) || claimedPcr != pcr) {
      throw new AnchorException("anchor names another PCR than the configured PCR " + pcr);
    }
    byte[] attestBytes = base64Field(untrustedAnchor, "quote", MAX_QUOTE_CHARS);
    byte[] signature = base64Field(untrustedAnchor, "signature", MAX_SIGNATURE_CHARS);
    byte[] pcrValue;
    if (!(untrustedAnchor.get("pcr_value") instanceof String hex) || !hex.matches("[0-9a-f]{64}")) {
      throw new AnchorException("pcr_value must be 64 lowercase hex characters");
    }
    pcrValue = HexFormat.of().parseHex(hex);

    PublicKey ak = recordedAk(st, machine.name());
    TpmAttest attest;
    try {
      attest = TpmAttest.parse(attestBytes);
    } catch (MalformedTpmDataException e) {
      throw new AnchorException("quote is malformed: " + e.getMessage());
    }
    if (attest.type() != TpmAttest.ST_ATTEST_QUOTE) throw new AnchorException("attestation is not a quote");
    if (!verifies(ak, attestBytes, signature)) throw new AnchorException("quote is not signed by this machine's attestation key");
    if (!MessageDigest.isEqual(attest.extraData(), AnchorEvidence.qualifyingData(nonce))) {
      throw new AnchorException("quote is not over this login's nonce (stale or replayed)");
    }
    requireSelectionOfExactly(attestBytes, pcr);
    if (!MessageDigest.isEqual(attest.pcrDigest(), sha256(pcrValue))) {
      throw new AnchorException("pcr_value is not the value the TPM quoted");
    }
    long resetCount = Integer.toUnsignedLong(attest.resetCount());
    Object claimedReset = untrustedAnchor.get("reset_count");
    if (claimedReset != null && !(claimedReset instanceof Number n && n.longValue() == resetCount)) {
      throw new AnchorException("reset_count disagrees with the quote");
    }
    return new QuotedPcr(pcr, pcrValue, resetCount);
  }

  private static PublicKey recordedAk(Store st, String machine) throws AnchorException {
    Optional<String> raw = st.factorStates().get(machine, TpmEnrollmentService.AK_STATE);
    if (raw.isEmpty()) throw new AnchorException("no TPM attestation key on record for this machine (enroll it with its TPM)");
    try {
      if (raw.get().length() > MAX_STATE_CHARS) throw new IllegalArgumentException("too large");
      JsonNode n = JSON.readTree(raw.get());
      TpmPublic ak = TpmPublic.parse(Base64.getDecoder().decode(n.path("ak_public").asText()));
      if (!ak.isEcc() || ak.curve() != TpmPublic.CURVE_P256) throw new IllegalArgumentException("not P-256");
      return ak.publicKey();
    } catch (Exception e) {
      throw new AnchorException("the attestation key on record for this machine is unreadable");
    }
  }

  /** Walks the validated TPMS_ATTEST to its TPML_PCR_SELECTION and requires exactly {@code sha256:pcr}. */
  private static void requireSelectionOfExactly(byte[] attestBytes, int pcr) throws AnchorException {
    TpmReader r = new TpmReader(attestBytes);
    r.u32(); // magic
    r.u16(); // type
    r.tpm2b(66); // qualified signer
    r.tpm2b(64); // extra data
    r.u64(); // clock
    r.u32(); // reset count
    r.u32(); // restart count
    r.u8(); // safe
    r.u64(); // firmware version
    int count = r.u32();
    if (count != 1) throw new AnchorException("quote covers " + count + " PCR banks, not exactly the SHA-256 PCR " + pcr);
    int hash = r.u16();
    if (hash != TPM_ALG_SHA256) throw new AnchorException("quote is over another PCR bank than SHA-256");
    int size = r.u8();
    byte[] bitmap = r.bytes(size);
    boolean exact = size > pcr / 8;
    for (int i = 0; i < size; i++) {
      int want = i == pcr / 8 ? 1 << (pcr % 8) : 0;
      if ((bitmap[i] & 0xff) != want) exact = false;
    }
    if (!exact) throw new AnchorException("quote does not cover exactly PCR " + pcr);
  }

  private static byte[] base64Field(Map<String, Object> anchor, String field, int maxChars) throws AnchorException {
    if (!(anchor.get(field) instanceof String s) || s.isEmpty()) throw new AnchorException(field + " is missing");
    if (s.length() > maxChars) throw new AnchorException(field + " is larger than " + maxChars + " characters");
    try {
      return Base64.getUrlDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      throw new AnchorException(field + " is not base64url");
    }
  }

  private static boolean verifies(PublicKey key, byte[] data, byte[] derSignature) {
    try {
      Signature v = Signature.getInstance("SHA256withECDSA");
      v.initVerify(key);
      v.update(data);
      return v.verify(derSignature);
    } catch (Exception e) {
      return false;
    }
  }

  private static byte[] sha256(byte[] b) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(b);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return "TpmQuoteVerifier[pcr " + pcr + "]";
  }
}
