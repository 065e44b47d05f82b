package dev.m2mfa.agent.keys.tpm;

import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.api.tpm.TpmReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The agent's side of TPM attestation for one enrollment: finds the endorsement key, creates
 * a fresh attestation key (AK) under it, and then, on the authority's request, activates the
 * credential, quotes over the authority's nonce and certifies the login key with the AK.
 * The AK is ephemeral: its context file lives in a private directory that {@link #close}
 * deletes, and the TPM forgets it at the next reset.
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

  /** The file in the agent directory that keeps the AK's saved context after enrollment. */
  public static final String SAVED_AK = "tpm-ak.ctx";

  /**
   * Keeps this AK for later quotes (posture anchoring): copies its saved context into
   * {@code agentDirectory} as {@link #SAVED_AK} (owner-only). The context is a TPM-encrypted,
   * integrity-protected blob that loads only into this TPM; the AK is not stClear, so it
   * survives a restart (not a TPM clear or a change of the endorsement hierarchy's seed).
   */
  public void keepAk(Path agentDirectory) throws IOException {
    Path target = agentDirectory.resolve(SAVED_AK);
    Path tmp = agentDirectory.resolve(SAVED_AK + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.write(tmp, Files.readAllBytes(akContext));
    Files.move(tmp, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * {@code TPM2_Quote} over the single SHA-256 PCR {@code pcr} with {@code qualifyingData}, by
   * the AK whose saved context is {@code savedAk} (see {@link #keepAk}).
   */
  public static Attestation quotePcr(TpmTools tpm, Path savedAk, int pcr, byte[] qualifyingData) throws IOException {
    if (pcr < 0 || pcr > 23) throw new IllegalArgumentException("PCR index must be 0-23");
    if (qualifyingData.length < 1 || qualifyingData.length > 64) throw new IllegalArgumentException("qualifying data must be 1-64 bytes");
    if (!Files.isRegularFile(savedAk)) throw new TpmException("no attestation key kept in " + savedAk.getFileName() + " (enroll with the TPM first)");
    return tpm.exclusive(work -> {
      Path msg = work.resolve("quote.msg");
      Path sig = work.resolve("quote.sig");
      tpm.runOk("TPM quote of PCR " + pcr, "tpm2_quote", "-c", savedAk.toString(), "-l", "sha256:" + pcr, "-q", TpmTools.hex(qualifyingData),
          "-m", msg.toString(), "-s", sig.toString(), "-g", "sha256", "-f", "plain");
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
