package dev.m2mfa.authority.enroll.tpm;

import dev.m2mfa.api.tpm.MalformedTpmDataException;
import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.api.tpm.TpmReader;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.interfaces.ECPublicKey;
import java.security.spec.MGF1ParameterSpec;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import javax.crypto.spec.SecretKeySpec;

/**
 * {@code TPM2_MakeCredential} done in Java by the authority, which has no TPM: wraps a secret
 * so that only the TPM holding {@code ek} can unwrap it, and only for the object whose name
 * is {@code objectName} (the AK), with {@code TPM2_ActivateCredential}. TPM 2.0 Part 1 §24
 * (credential protection) and Annex B/C (seeds for RSA and ECC), Part 3 §12.6.
 *
 * <p>Steps: a seed the size of the EK's name-hash digest is shared with the EK (ECC: ECDH with
 * a fresh ephemeral key on the EK's curve, the seed from KDFe over the shared x-coordinate
 * with the label {@code IDENTITY}; RSA: a random seed encrypted with OAEP and the label
 * {@code IDENTITY}). From the seed, KDFa derives a storage key ({@code STORAGE}, context = AK
 * name, as many bits as the EK's symmetric key) and an integrity key ({@code INTEGRITY}).
 * The secret, as a {@code TPM2B_DIGEST}, is AES-CFB encrypted (zero IV) and HMAC'd together
 * with the AK name. The TPM recomputes all of this from its EK private key and refuses an AK
 * whose name differs, which is what binds the AK to the EK's TPM.
 *
 * <p>Why hand-written: the primitives are the JDK's (ECDH, OAEP, AES-CFB, HMAC), but no
 * maintained Java library does the TPM key derivation and marshalling (TSS.Java 1.0.0 is
 * unmaintained since 2020). Interoperability is tested against {@code tpm2_activatecredential}
 * on swtpm ({@code CredentialMakerInteropTest}).
 */
public final class CredentialMaker {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final byte[] IDENTITY = label("IDENTITY");
  private static final byte[] STORAGE = label("STORAGE");
  private static final byte[] INTEGRITY = label("INTEGRITY");

  private CredentialMaker() {}

  /**
   * The two structures {@code TPM2_ActivateCredential} takes.
   *
   * @param idObject a {@code TPM2B_ID_OBJECT}
   * @param encryptedSecret a {@code TPM2B_ENCRYPTED_SECRET}
   */
  public record Credential(byte[] idObject, byte[] encryptedSecret) {
    /** The file format {@code tpm2_makecredential -o} writes and {@code tpm2_activatecredential -i} reads. */
    public byte[] tpm2ToolsFile() {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      out.writeBytes(new byte[] {(byte) 0xBA, (byte) 0xDC, (byte) 0xC0, (byte) 0xDE, 0, 0, 0, 1});
      out.writeBytes(idObject);
      out.writeBytes(encryptedSecret);
      return out.toByteArray();
    }
  }

  /**
   * Wraps {@code secret} (1 to 32 bytes) for the TPM of {@code ek}, bound to {@code objectName}.
   *
   * @throws MalformedTpmDataException if {@code ek} is not a restricted decryption key with an
   *     AES-CFB symmetric definition (what an endorsement key is)
   */
  public static Credential make(TpmPublic ek, byte[] objectName, byte[] secret) {
    if (secret.length < 1 || secret.length > 32) throw new IllegalArgumentException("the secret must be 1-32 bytes");
    if (!ek.has(TpmPublic.RESTRICTED | TpmPublic.DECRYPT) || ek.has(TpmPublic.SIGN)) {
      throw new MalformedTpmDataException("the endorsement key must be a restricted decryption key");
    }
    if (ek.symmetricAlg() != TpmPublic.ALG_AES || (ek.symmetricKeyBits() != 128 && ek.symmetricKeyBits() != 256)) {
      throw new MalformedTpmDataException("the endorsement key must use AES-128 or AES-256 CFB");
    }
    int hashAlg = ek.nameAlg();
    int seedBytes = TpmPublic.digestLength(hashAlg);
    byte[] seed;
    byte[] encryptedSecret;
    try {
      if (ek.isEcc()) {
        ECPublicKey ekKey = (ECPublicKey) ek.publicKey();
        int fieldBytes = (ekKey.getParams().getCurve().getField().getFieldSize() + 7) / 8;
        KeyPairGenerator kpg = KeyPairGenerator.getInstance("EC");
        kpg.initialize(ekKey.getParams(), RANDOM);
        KeyPair ephemeral = kpg.generateKeyPair();
        KeyAgreement ka = KeyAgreement.getInstance("ECDH");
        ka.init(ephemeral.getPrivate());
        ka.doPhase(ekKey, true);
        byte[] z = ka.generateSecret();
        ECPublicKey ephemeralPublic = (ECPublicKey) ephemeral.getPublic();
        byte[] ex = fixed(ephemeralPublic.getW().getAffineX().toByteArray(), fieldBytes);
        byte[] ey = fixed(ephemeralPublic.getW().getAffineY().toByteArray(), fieldBytes);
        byte[] kx = fixed(ekKey.getW().getAffineX().toByteArray(), fieldBytes);
        seed = kdfe(hashAlg, z, IDENTITY, ex, kx, seedBytes * 8);
        Arrays.fill(z, (byte) 0);
        encryptedSecret = concat(TpmReader.wrap2b(ex), TpmReader.wrap2b(ey));
      } else {
        seed = new byte[seedBytes];
        RANDOM.nextBytes(seed);
        String md = TpmPublic.jcaDigest(hashAlg);
        Cipher oaep = Cipher.getInstance("RSA/ECB/OAEPPadding");
        oaep.init(Cipher.ENCRYPT_MODE, ek.publicKey(),
            new OAEPParameterSpec(md, "MGF1", new MGF1ParameterSpec(md), new PSource.PSpecified(IDENTITY)), RANDOM);
        encryptedSecret = oaep.doFinal(seed);
      }
      byte[] symKey = kdfa(hashAlg, seed, STORAGE, objectName, new byte[0], ek.symmetricKeyBits());
      Cipher aes = Cipher.getInstance("AES/CFB/NoPadding");
      aes.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(symKey, "AES"), new IvParameterSpec(new byte[16]));
      byte[] encIdentity = aes.doFinal(TpmReader.wrap2b(secret));
      byte[] hmacKey = kdfa(hashAlg, seed, INTEGRITY, new byte[0], new byte[0], seedBytes * 8);
      Mac mac = Mac.getInstance(hmacName(hashAlg));
      mac.init(new SecretKeySpec(hmacKey, mac.getAlgorithm()));
      mac.update(encIdentity);
      mac.update(objectName);
      byte[] outerHmac = mac.doFinal();
      Arrays.fill(seed, (byte) 0);
      Arrays.fill(symKey, (byte) 0);
      Arrays.fill(hmacKey, (byte) 0);
      byte[] idObject = TpmReader.wrap2b(concat(TpmReader.wrap2b(outerHmac), encIdentity));
      return new Credential(idObject, TpmReader.wrap2b(encryptedSecret));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("credential wrapping failed", e);
    }
  }

  /** KDFa (Part 1 §11.4.10.2): SP 800-108 counter mode with HMAC. */
  static byte[] kdfa(int hashAlg, byte[] key, byte[] label, byte[] contextU, byte[] contextV, int bits) throws GeneralSecurityException {
    Mac mac = Mac.getInstance(hmacName(hashAlg));
    mac.init(new SecretKeySpec(key, mac.getAlgorithm()));
    int bytes = (bits + 7) / 8;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int counter = 1; out.size() < bytes; counter++) {
      mac.update(int32(counter));
      mac.update(label);
      mac.update(contextU);
      mac.update(contextV);
      mac.update(int32(bits));
      out.writeBytes(mac.doFinal());
    }
    return Arrays.copyOf(out.toByteArray(), bytes);
  }

  /** KDFe (Part 1 §11.4.10.3): the SP 800-56A concatenation KDF with the TPM's argument order. */
  static byte[] kdfe(int hashAlg, byte[] z, byte[] use, byte[] partyU, byte[] partyV, int bits) {
    int bytes = (bits + 7) / 8;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int counter = 1; out.size() < bytes; counter++) {
      out.writeBytes(TpmPublic.hash(hashAlg, int32(counter), z, use, partyU, partyV));
    }
    return Arrays.copyOf(out.toByteArray(), bytes);
  }

  private static String hmacName(int hashAlg) {
    return "Hmac" + TpmPublic.jcaDigest(hashAlg).replace("-", "");
  }

  private static byte[] label(String s) {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    return Arrays.copyOf(b, b.length + 1); // the TPM includes the terminating zero octet
  }

  private static byte[] int32(int v) {
    return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
  }

  /** Unsigned big-endian, left-padded to {@code length}. */
  static byte[] fixed(byte[] twosComplement, int length) {
    int start = 0;
    while (start < twosComplement.length - 1 && twosComplement[start] == 0) start++;
    int n = twosComplement.length - start;
    if (n > length) throw new IllegalArgumentException("value longer than the field");
    byte[] out = new byte[length];
    System.arraycopy(twosComplement, start, out, length - n, n);
    return out;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
