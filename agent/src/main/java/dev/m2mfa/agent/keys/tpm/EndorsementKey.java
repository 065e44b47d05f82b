package dev.m2mfa.agent.keys.tpm;

import dev.m2mfa.api.tpm.MalformedTpmDataException;
import dev.m2mfa.api.tpm.TpmPublic;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * The TPM's endorsement key as the agent finds it, and credential activation with it.
 *
 * <p>Finding it: the TCG conventions put EKs at persistent handles 0x81010000-0x810100FF and
 * EK certificates in NV indices 0x01C00000-0x01C07FFF. The agent reads every such EK and
 * certificate and pairs them by public key (the certificate must certify exactly this EK);
 * it prefers an ECC EK with a certificate, then RSA with one, then an uncertified EK. A TPM
 * without a persistent EK gets the standard ECC P-256 EK (template L-2) created on the fly,
 * which is the same key every time (primary keys derive from the endorsement seed).
 *
 * <p>Activating: the EK only allows {@code TPM2_ActivateCredential} through a policy
 * session: low-range templates use PolicySecret(endorsement hierarchy); high-range
 * templates (swtpm's P-384 EK) use PolicyOR over that and PolicyAuthorizeNV. The agent
 * recognises which by recomputing the digests and refuses an EK whose policy it does not know.
 *
 * @param context the tpm2-tools context argument: a persistent handle, or null for a
 *     transient EK created from the default ECC template at each use
 */
record EndorsementKey(String context, TpmPublic ek, byte[] certificate) {
  private static final int CC_POLICY_SECRET = 0x00000151;
  private static final int CC_POLICY_OR = 0x00000171;
  private static final int RH_ENDORSEMENT = 0x4000000B;
  /** PolicyAuthorizeNV branch of the high-range EK templates (TCG EK Credential Profile 2.3+), SHA-384. */
  private static final byte[] POLICY_B_SHA384 = HexFormat.of().parseHex(
      "d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165");

  static EndorsementKey find(TpmTools tpm) throws IOException {
    return tpm.exclusive(work -> {
      List<EndorsementKey> found = new ArrayList<>();
      List<X509Certificate> certs = new ArrayList<>();
      List<byte[]> certBytes = new ArrayList<>();
      for (int index : tpm.handles("handles-nv-index")) {
        if (index < 0x01C00000 || index > 0x01C07FFF) continue;
        Path f = work.resolve("cert");
        TpmTools.Output o = tpm.run(null, "tpm2_nvread", TpmTools.handle(index), "-o", f.toString());
        if (o.exitCode() != 0 || !Files.exists(f)) continue;
        byte[] der = trimDer(Files.readAllBytes(f));
        Files.delete(f);
        try {
          certs.add((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der)));
          certBytes.add(der);
        } catch (Exception notACertificate) {
          // some NV indices in the range hold other data
        }
      }
      for (int h : tpm.handles("handles-persistent")) {
        if (h < 0x81010000 || h > 0x810100FF) continue;
        Path f = work.resolve("ek.pub");
        TpmTools.Output o = tpm.run(null, "tpm2_readpublic", "-c", TpmTools.handle(h), "-f", "tss", "-o", f.toString());
        if (o.exitCode() != 0) continue;
        TpmPublic pub;
        try {
          pub = TpmPublic.parse2b(Files.readAllBytes(f));
        } catch (MalformedTpmDataException unsupported) {
          continue;
        }
        if (!pub.has(TpmPublic.RESTRICTED | TpmPublic.DECRYPT) || pub.has(TpmPublic.SIGN)) continue;
        found.add(new EndorsementKey(TpmTools.handle(h), pub, certificateFor(pub, certs, certBytes)));
      }
      if (found.stream().noneMatch(e -> e.ek().isEcc())) {
        Path f = work.resolve("ek-ecc.pub");
        tpm.runOk("creating the ECC endorsement key", "tpm2_createek", "-G", "ecc", "-c", work.resolve("ek.ctx").toString(),
            "-u", f.toString(), "-f", "tss");
        TpmPublic pub = TpmPublic.parse2b(Files.readAllBytes(f));
        found.add(new EndorsementKey(null, pub, certificateFor(pub, certs, certBytes)));
      }
      found.sort((a, b) -> Integer.compare(rank(a), rank(b)));
      return found.getFirst();
    });
  }

  private static int rank(EndorsementKey k) {
    return (k.certificate() == null ? 2 : 0) + (k.ek().isEcc() ? 0 : 1);
  }

  private static byte[] certificateFor(TpmPublic pub, List<X509Certificate> certs, List<byte[]> bytes) {
    for (int i = 0; i < certs.size(); i++) if (pub.sameKeyAs(certs.get(i).getPublicKey())) return bytes.get(i);
    return null;
  }

  /** NV indices are often larger than the certificate: keep exactly the DER SEQUENCE. */
  static byte[] trimDer(byte[] nv) {
    if (nv.length < 4 || nv[0] != 0x30) return nv;
    int len;
    int header;
    int first = nv[1] & 0xff;
    if (first < 0x80) {
      len = first;
      header = 2;
    } else {
      int n = first & 0x7f;
      if (n < 1 || n > 3 || nv.length < 2 + n) return nv;
      len = 0;
      for (int i = 0; i < n; i++) len = (len << 8) | (nv[2 + i] & 0xff);
      header = 2 + n;
    }
    return header + len <= nv.length ? Arrays.copyOf(nv, header + len) : nv;
  }

  /**
   * Creates an attestation key under this EK: ECC P-256, ECDSA/SHA-256, restricted signing,
   * fixedTPM, fixedParent, sensitiveDataOrigin (tpm2_createak's template). Returns its public
   * area; its context file is written to {@code akContext}. Call inside {@link TpmTools#exclusive}.
   */
  TpmPublic createAk(TpmTools tpm, Path work, Path akContext) throws IOException {
    String ekArg = load(tpm, work);
    Path pub = work.resolve("ak.pub");
    tpm.runOk("creating the attestation key", "tpm2_createak", "-C", ekArg, "-G", "ecc", "-g", "sha256", "-s", "ecdsa",
        "-c", akContext.toString(), "-u", pub.toString(), "-f", "tss", "-n", work.resolve("ak.name").toString());
    tpm.flushTransients();
    return TpmPublic.parse2b(Files.readAllBytes(pub));
  }

  /** The EK's context argument, creating the transient EK when there is no persistent one. */
  private String load(TpmTools tpm, Path work) throws IOException {
    if (context != null) return context;
    Path ctx = work.resolve("ek.ctx");
    Path pub = work.resolve("ek-check.pub");
    tpm.runOk("creating the ECC endorsement key", "tpm2_createek", "-G", "ecc", "-c", ctx.toString(), "-u", pub.toString(), "-f", "tss");
    if (!Arrays.equals(Files.readAllBytes(pub), ek.wire2b())) throw new TpmException("the endorsement key changed");
    return ctx.toString();
  }

  /**
   * {@code TPM2_ActivateCredential}: unwraps the secret the authority made for this EK and the
   * AK in {@code akContext}. Call inside {@link TpmTools#exclusive}; returns the secret.
   */
  byte[] activate(TpmTools tpm, Path work, Path akContext, byte[] tpm2ToolsCredential) throws IOException {
    String ekArg = load(tpm, work);
    int alg = ek.nameAlg();
    String hashName = switch (alg) {
      case TpmPublic.ALG_SHA256 -> "sha256";
      case TpmPublic.ALG_SHA384 -> "sha384";
      case TpmPublic.ALG_SHA512 -> "sha512";
      default -> throw new TpmException("unsupported EK name algorithm");
    };
    byte[] policyA = policySecretEndorsement(alg);
    boolean withOr;
    if (Arrays.equals(ek.authPolicy(), policyA)) {
      withOr = false;
    } else if (alg == TpmPublic.ALG_SHA384 && Arrays.equals(ek.authPolicy(), policyOr(alg, policyA, POLICY_B_SHA384))) {
      withOr = true;
    } else {
      throw new TpmException("the endorsement key's policy is not one of the TCG EK templates m2mfa knows");
    }
    Path blob = work.resolve("credential.blob");
    Files.write(blob, tpm2ToolsCredential);
    Path session = work.resolve("session.ctx");
    tpm.runOk("starting the EK policy session", "tpm2_startauthsession", "--policy-session", "-g", hashName, "-S", session.toString());
    try {
      tpm.runOk("PolicySecret(endorsement)", "tpm2_policysecret", "-S", session.toString(), "-c", "e");
      if (withOr) {
        Path a = work.resolve("policy-a.bin");
        Path b = work.resolve("policy-b.bin");
        Files.write(a, policyA);
        Files.write(b, POLICY_B_SHA384);
        tpm.runOk("PolicyOR", "tpm2_policyor", "-S", session.toString(), "-l", hashName + ":" + a + "," + b);
      }
      Path out = work.resolve("secret.bin");
      tpm.runOk("credential activation", "tpm2_activatecredential", "-c", akContext.toString(), "-C", ekArg, "-i", blob.toString(),
          "-o", out.toString(), "-P", "session:" + session);
      return TpmTools.take(out, 64);
    } finally {
      tpm.run(null, "tpm2_flushcontext", session.toString());
      tpm.flushTransients();
    }
  }

  /** PolicySecret(TPM_RH_ENDORSEMENT) with an empty policyRef, from an all-zero digest. */
  static byte[] policySecretEndorsement(int hashAlg) {
    byte[] zero = new byte[TpmPublic.digestLength(hashAlg)];
    byte[] step = TpmPublic.hash(hashAlg, zero, int32(CC_POLICY_SECRET), int32(RH_ENDORSEMENT));
    return TpmPublic.hash(hashAlg, step);
  }

  static byte[] policyOr(int hashAlg, byte[]... branches) {
    byte[][] parts = new byte[branches.length + 2][];
    parts[0] = new byte[TpmPublic.digestLength(hashAlg)];
    parts[1] = int32(CC_POLICY_OR);
    System.arraycopy(branches, 0, parts, 2, branches.length);
    return TpmPublic.hash(hashAlg, parts);
  }

  private static byte[] int32(int v) {
    return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
  }

  @Override
  public String toString() {
    return "EndorsementKey[" + (context == null ? "transient ECC" : context) + ", " + ek + ", certificate="
        + (certificate != null) + "]";
  }
}
