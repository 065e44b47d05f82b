package dev.m2mfa.api.tpm;

import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.Arrays;

/**
 * A parsed {@code TPMT_PUBLIC} (TPM 2.0 Part 2 §12.2.4): the public area of a TPM object,
 * kept together with its exact wire bytes, because the object's <em>name</em> is the hash of
 * those bytes and every TPM check (credential activation, certify) is made against the name.
 *
 * <p>Only what m2mfa uses is understood: ECC keys (NIST P-256/P-384/P-521) and RSA keys;
 * anything else is refused as malformed rather than half-parsed.
 *
 * <p>Why hand-written: no maintained Java library parses TPM 2.0 structures (TSS.Java is
 * unmaintained since 2020 and pins BouncyCastle 1.60); the format is small and fixed.
 */
public final class TpmPublic {
  public static final int ALG_RSA = 0x0001, ALG_SHA1 = 0x0004, ALG_AES = 0x0006, ALG_SHA256 = 0x000B,
      ALG_SHA384 = 0x000C, ALG_SHA512 = 0x000D, ALG_NULL = 0x0010, ALG_ECDSA = 0x0018, ALG_ECDAA = 0x001A,
      ALG_ECC = 0x0023, ALG_CFB = 0x0043;
  public static final int CURVE_P256 = 0x0003, CURVE_P384 = 0x0004, CURVE_P521 = 0x0005;

  public static final int FIXED_TPM = 1 << 1, ST_CLEAR = 1 << 2, FIXED_PARENT = 1 << 4, SENSITIVE_DATA_ORIGIN = 1 << 5,
      USER_WITH_AUTH = 1 << 6, ADMIN_WITH_POLICY = 1 << 7, NO_DA = 1 << 10, ENCRYPTED_DUPLICATION = 1 << 11,
      RESTRICTED = 1 << 16, DECRYPT = 1 << 17, SIGN = 1 << 18;

  private static final int MAX_PUBLIC = 1024;

  private final byte[] wire;
  private final int type;
  private final int nameAlg;
  private final int attributes;
  private final byte[] authPolicy;
  private final int symmetricAlg;
  private final int symmetricKeyBits;
  private final int scheme;
  private final int schemeHash;
  private final int curve;
  private final PublicKey key;

  private TpmPublic(byte[] wire, int type, int nameAlg, int attributes, byte[] authPolicy, int symmetricAlg,
      int symmetricKeyBits, int scheme, int schemeHash, int curve, PublicKey key) {
    this.wire = wire;
    this.type = type;
    this.nameAlg = nameAlg;
    this.attributes = attributes;
    this.authPolicy = authPolicy;
    this.symmetricAlg = symmetricAlg;
    this.symmetricKeyBits = symmetricKeyBits;
    this.scheme = scheme;
    this.schemeHash = schemeHash;
    this.curve = curve;
    this.key = key;
  }

  /** Parses a {@code TPM2B_PUBLIC} (what {@code tpm2_readpublic -f tss} writes). */
  public static TpmPublic parse2b(byte[] untrusted) {
    return parse(TpmReader.unwrap2b(untrusted, MAX_PUBLIC));
  }

  /** Parses a {@code TPMT_PUBLIC}. */
  public static TpmPublic parse(byte[] untrusted) {
    if (untrusted.length > MAX_PUBLIC) throw new MalformedTpmDataException("a TPM public area is too large");
    TpmReader r = new TpmReader(untrusted);
    int type = r.u16();
    int nameAlg = r.u16();
    digestLength(nameAlg);
    int attributes = r.u32();
    byte[] authPolicy = r.tpm2b(64);
    int symAlg = r.u16();
    int symBits = 0;
    if (symAlg != ALG_NULL) {
      symBits = r.u16();
      int mode = r.u16();
      if (symAlg != ALG_AES || mode != ALG_CFB) throw new MalformedTpmDataException("only AES-CFB parent symmetric definitions are supported");
    }
    int scheme = r.u16();
    int schemeHash = 0;
    if (scheme != ALG_NULL) {
      schemeHash = r.u16();
      if (scheme == ALG_ECDAA) r.u16();
    }
    PublicKey key;
    int curve = 0;
    if (type == ALG_ECC) {
      curve = r.u16();
      int kdf = r.u16();
      if (kdf != ALG_NULL) r.u16();
      byte[] x = r.tpm2b(66);
      byte[] y = r.tpm2b(66);
      key = ecKey(curve, x, y);
    } else if (type == ALG_RSA) {
      int bits = r.u16();
      long exponent = r.u32() & 0xffffffffL;
      byte[] modulus = r.tpm2b(512);
      if (bits < 2048 || modulus.length * 8 != bits) throw new MalformedTpmDataException("RSA keys must be at least 2048 bits");
      key = rsaKey(modulus, exponent == 0 ? 65537 : exponent);
    } else {
      throw new MalformedTpmDataException("only ECC and RSA TPM objects are supported");
    }
    r.expectEnd();
    return new TpmPublic(untrusted.clone(), type, nameAlg, attributes, authPolicy, symAlg, symBits, scheme, schemeHash, curve, key);
  }

  private static PublicKey ecKey(int curve, byte[] x, byte[] y) {
    String name = switch (curve) {
      case CURVE_P256 -> "secp256r1";
      case CURVE_P384 -> "secp384r1";
      case CURVE_P521 -> "secp521r1";
      default -> throw new MalformedTpmDataException("unsupported ECC curve");
    };
    try {
      AlgorithmParameters p = AlgorithmParameters.getInstance("EC");
      p.init(new ECGenParameterSpec(name));
      ECParameterSpec spec = p.getParameterSpec(ECParameterSpec.class);
      ECPoint w = new ECPoint(new BigInteger(1, x), new BigInteger(1, y));
      if (!onCurve(spec, w)) throw new MalformedTpmDataException("the ECC point is not on its curve");
      return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(w, spec));
    } catch (GeneralSecurityException e) {
      throw new MalformedTpmDataException("the ECC point is not on its curve");
    }
  }

  /** y^2 = x^3 + ax + b (mod p), with both coordinates in the field. */
  private static boolean onCurve(ECParameterSpec spec, ECPoint w) {
    BigInteger p = ((java.security.spec.ECFieldFp) spec.getCurve().getField()).getP();
    BigInteger x = w.getAffineX();
    BigInteger y = w.getAffineY();
    if (x.signum() < 0 || y.signum() < 0 || x.compareTo(p) >= 0 || y.compareTo(p) >= 0) return false;
    BigInteger right = x.pow(3).add(spec.getCurve().getA().multiply(x)).add(spec.getCurve().getB()).mod(p);
    return y.modPow(BigInteger.TWO, p).equals(right);
  }

  private static PublicKey rsaKey(byte[] modulus, long exponent) {
    try {
      return KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(new BigInteger(1, modulus), BigInteger.valueOf(exponent)));
    } catch (GeneralSecurityException e) {
      throw new MalformedTpmDataException("the RSA public key is invalid");
    }
  }

  /** Length in bytes of a TPM hash algorithm's digest; refuses algorithms m2mfa does not accept. */
  public static int digestLength(int hashAlg) {
    return switch (hashAlg) {
      case ALG_SHA256 -> 32;
      case ALG_SHA384 -> 48;
      case ALG_SHA512 -> 64;
      default -> throw new MalformedTpmDataException("unsupported TPM hash algorithm (SHA-256/384/512 only)");
    };
  }

  /** The JCA name of a TPM hash algorithm. */
  public static String jcaDigest(int hashAlg) {
    return switch (hashAlg) {
      case ALG_SHA256 -> "SHA-256";
      case ALG_SHA384 -> "SHA-384";
      case ALG_SHA512 -> "SHA-512";
      default -> throw new MalformedTpmDataException("unsupported TPM hash algorithm (SHA-256/384/512 only)");
    };
  }

  public static byte[] hash(int hashAlg, byte[]... parts) {
    try {
      MessageDigest md = MessageDigest.getInstance(jcaDigest(hashAlg));
      for (byte[] p : parts) md.update(p);
      return md.digest();
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The object's name: {@code nameAlg || H_nameAlg(TPMT_PUBLIC)}. */
  public byte[] name() {
    byte[] h = hash(nameAlg, wire);
    byte[] out = new byte[2 + h.length];
    out[0] = (byte) (nameAlg >>> 8);
    out[1] = (byte) nameAlg;
    System.arraycopy(h, 0, out, 2, h.length);
    return out;
  }

  /** The {@code TPMT_PUBLIC} bytes exactly as received. */
  public byte[] wire() {
    return wire.clone();
  }

  /** As a {@code TPM2B_PUBLIC}. */
  public byte[] wire2b() {
    return TpmReader.wrap2b(wire);
  }

  public boolean isEcc() {
    return type == ALG_ECC;
  }

  public boolean isRsa() {
    return type == ALG_RSA;
  }

  public int nameAlg() {
    return nameAlg;
  }

  public int attributes() {
    return attributes;
  }

  public boolean has(int attributeBits) {
    return (attributes & attributeBits) == attributeBits;
  }

  public byte[] authPolicy() {
    return authPolicy.clone();
  }

  /** The parent-protection symmetric algorithm ({@link #ALG_NULL} for non-storage keys). */
  public int symmetricAlg() {
    return symmetricAlg;
  }

  public int symmetricKeyBits() {
    return symmetricKeyBits;
  }

  public int scheme() {
    return scheme;
  }

  public int schemeHash() {
    return schemeHash;
  }

  /** The TPM curve id for ECC keys, 0 for RSA. */
  public int curve() {
    return curve;
  }

  public PublicKey publicKey() {
    return key;
  }

  /** True when {@code other} is the same public key (same algorithm and value). */
  public boolean sameKeyAs(PublicKey other) {
    if (key instanceof ECPublicKey a && other instanceof ECPublicKey b) {
      return a.getW().equals(b.getW()) && a.getParams().getCurve().equals(b.getParams().getCurve());
    }
    if (key instanceof RSAPublicKey a && other instanceof RSAPublicKey b) {
      return a.getModulus().equals(b.getModulus()) && a.getPublicExponent().equals(b.getPublicExponent());
    }
    return false;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TpmPublic p && Arrays.equals(p.wire, wire);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(wire);
  }

  @Override
  public String toString() {
    return "TpmPublic[" + (isEcc() ? "ECC" : "RSA") + ", attributes=0x" + Integer.toHexString(attributes) + "]";
  }
}
