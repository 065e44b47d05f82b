package dev.m2mfa.agent.keys.tpm;

import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.api.tpm.TpmReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * The agent's side of TPM attestation for one enrollment: finds the endorsement key, creates
 * a fresh attestation key (AK) under it, and then, on the authority's request, activates the
 * credential, quotes over the authority's nonce and certifies the login key with the AK.
 * The AK's context file lives in a private directory that {@link #close} deletes; an
 * enrollment that completes makes the AK persistent ({@link #persistAk}) for later quotes.
 */
public final class TpmAttestor implements AutoCloseable {
  /** PCRs the enrollment quote covers (recorded by the authority for later posture checks). */
  public static final String QUOTE_PCRS = "sha256:0,1,2,3,4,5,6,7";

  private final TpmTools tpm;
  private final Path dir;
  private final Path akContext;
  private final EndorsementKey ek;
  private final TpmPublic ak;

  private TpmAttestor(TpmTools tpm, Path dir, EndorsementKey ek, TpmPublic ak) {
    this.tpm = tpm;
    this.dir = dir;
    this.akContext = dir.resolve("ak.ctx");
    this.ek = ek;
    this.ak = ak;
  }

  /** Finds the EK and creates a new AK under it. */
  public static TpmAttestor begin(TpmTools tpm) throws IOException {
    EndorsementKey ek = EndorsementKey.find(tpm);
    Path dir = Files.createTempDirectory("m2mfa-ak-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    try {
      TpmPublic ak = tpm.exclusive(work -> ek.createAk(tpm, work, dir.resolve("ak.ctx")));
      return new TpmAttestor(tpm, dir, ek, ak);
    } catch (IOException | RuntimeException e) {
      TpmTools.deleteTree(dir);
      throw e;
    }
  }

  /** The EK's public area ({@code TPM2B_PUBLIC}). */
  public byte[] ekPublic() {
    return ek.ek().wire2b();
  }

  /** The EK certificate (DER) when the TPM holds one for this EK, else null. */
  public byte[] ekCertificate() {
    return ek.certificate() == null ? null : ek.certificate().clone();
  }

  /** The AK's public area ({@code TPM2B_PUBLIC}). */
  public byte[] akPublic() {
    return ak.wire2b();
  }

  public TpmPublic ak() {
    return ak;
  }

  /** Unwraps the authority's credential ({@code TPM2B_ID_OBJECT}, {@code TPM2B_ENCRYPTED_SECRET}); returns the secret. */
  public byte[] activate(byte[] idObject, byte[] encryptedSecret) throws IOException {
    TpmReader.unwrap2b(idObject, 1024); // refuse garbage before handing it to the TPM
    TpmReader.unwrap2b(encryptedSecret, 1024);
    ByteArrayOutputStream file = new ByteArrayOutputStream();
    file.writeBytes(new byte[] {(byte) 0xBA, (byte) 0xDC, (byte) 0xC0, (byte) 0xDE, 0, 0, 0, 1});
    file.writeBytes(idObject);
    file.writeBytes(encryptedSecret);
    return tpm.exclusive(work -> ek.activate(tpm, work, akContext, file.toByteArray()));
  }

  /** A {@code TPMS_ATTEST} and the AK's DER ECDSA signature over it. */
  public record Attestation(byte[] attest, byte[] signature) {}

  /** {@code TPM2_Quote} by the AK over {@link #QUOTE_PCRS} with {@code nonce} as qualifying data. */
  public Attestation quote(byte[] nonce) throws IOException {
    if (nonce.length < 1 || nonce.length > 64) throw new IllegalArgumentException("the nonce must be 1-64 bytes");
    return tpm.exclusive(work -> {
      Path msg = work.resolve("quote.msg");
      Path sig = work.resolve("quote.sig");
      tpm.runOk("TPM quote", "tpm2_quote", "-c", akContext.toString(), "-l", QUOTE_PCRS, "-q", TpmTools.hex(nonce),
          "-m", msg.toString(), "-s", sig.toString(), "-g", "sha256", "-f", "plain");
      return new Attestation(Files.readAllBytes(msg), Files.readAllBytes(sig));
    });
  }

  /** {@code TPM2_Certify} of the login key by the AK. */
  public Attestation certify(TpmKeyProvider key) throws IOException {
    return tpm.exclusive(work -> {
      Path attest = work.resolve("certify.attest");
      Path sig = work.resolve("certify.sig");
      tpm.runOk("certifying the login key", "tpm2_certify", "-c", TpmTools.handle(key.handle()), "-C", akContext.toString(),
          "-g", "sha256", "-o", attest.toString(), "-s", sig.toString(), "-f", "plain");
      return new Attestation(Files.readAllBytes(attest), Files.readAllBytes(sig));
    });
  }

  /** Persistent handles the AK may take: in the endorsement range, clear of the EK templates' 0x81010000-0x810100FF. */
  public static final int AK_HANDLE_FIRST = 0x81018000, AK_HANDLE_LAST = 0x810180FF;

  /**
   * Keeps this AK for quotes after enrollment (posture anchoring): makes it persistent at the
   * first free handle in {@link #AK_HANDLE_FIRST}..{@link #AK_HANDLE_LAST} and returns the
   * handle. Persistent, because a saved context of a transient object does not load after a
   * TPM reset (measured with swtpm 0.7.1: {@code TPM_RC 0x1DF}, integrity check failed, after
   * a restart with Startup(CLEAR)), and the AK must outlive reboots.
   */
  public int persistAk() throws IOException {
    return tpm.exclusive(work -> {
      List<Integer> used = tpm.handles("handles-persistent");
      for (int h = AK_HANDLE_FIRST; h <= AK_HANDLE_LAST; h++) {
        if (used.contains(h)) continue;
        tpm.runOk("persisting the attestation key", "tpm2_evictcontrol", "-C", "o", "-c", akContext.toString(), TpmTools.handle(h));
        return h;
      }
      throw new TpmException("no free persistent handle for the attestation key in " + TpmTools.handle(AK_HANDLE_FIRST) + "-"
          + TpmTools.handle(AK_HANDLE_LAST));
    });
  }

  /** Removes a persisted AK (best effort; for an enrollment that did not complete). */
  public static void evictAk(TpmTools tpm, int handle) {
    if (handle < AK_HANDLE_FIRST || handle > AK_HANDLE_LAST) return;
    try {
      tpm.exclusive(work -> tpm.run(null, "tpm2_evictcontrol", "-C", "o", "-c", TpmTools.handle(handle)));
    } catch (IOException e) {
      // nothing more to do: the handle stays taken until an operator evicts it
    }
  }

  /**
   * {@code TPM2_Quote} over the single SHA-256 PCR {@code pcr} with {@code qualifyingData}, by
   * the persistent AK at {@code akHandle} (see {@link #persistAk}).
   */
  public static Attestation quotePcr(TpmTools tpm, int akHandle, int pcr, byte[] qualifyingData) throws IOException {
    if (pcr < 0 || pcr > 23) throw new IllegalArgumentException("PCR index must be 0-23");
    if (qualifyingData.length < 1 || qualifyingData.length > 64) throw new IllegalArgumentException("qualifying data must be 1-64 bytes");
    if (akHandle < AK_HANDLE_FIRST || akHandle > AK_HANDLE_LAST) throw new IllegalArgumentException("not an attestation key handle");
    return tpm.exclusive(work -> {
      Path msg = work.resolve("quote.msg");
      Path sig = work.resolve("quote.sig");
      tpm.runOk("TPM quote of PCR " + pcr, "tpm2_quote", "-c", TpmTools.handle(akHandle), "-l", "sha256:" + pcr, "-q",
          TpmTools.hex(qualifyingData), "-m", msg.toString(), "-s", sig.toString(), "-g", "sha256", "-f", "plain");
      return new Attestation(Files.readAllBytes(msg), Files.readAllBytes(sig));
    });
  }

  @Override
  public void close() {
    TpmTools.deleteTree(dir);
  }

  @Override
  public String toString() {
    return "TpmAttestor[" + ek + "]";
  }
}
